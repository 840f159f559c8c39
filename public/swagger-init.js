// The admin API's interactive reference: Swagger UI over the document the
// server generates. A file, not an inline script, so the page needs no
// script exceptions in its policy.
window.addEventListener('load', function () {
  window.ui = SwaggerUIBundle({ url: '/admin/v1/openapi.json', dom_id: '#reference', deepLinking: true });
});
