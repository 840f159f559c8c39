// Issue 23: a platform admin makes an admin token in the portal, sees it
// once, calls the admin API with it from the page, and revokes it.
const { test, expect } = require('@playwright/test');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn } = require('./support');

failOnBrowserErrors();

test('an admin token is made, shown once, works on /admin/v1, and is revoked', async ({ page, request }) => {
  const name = `pipeline ${unique()}`;
  await signIn(page, ADMIN);
  await page.getByRole('link', { name: 'Admin API' }).click();
  await expect(page.getByRole('heading', { name: 'Admin API' })).toBeVisible();
  await hydrated(page);

  const form = page.locator('section', { hasText: 'New admin token' });
  await form.getByLabel('Name').fill(name);
  await form.locator('select[name=scope]').selectOption('platform:read');
  await form.getByRole('button', { name: 'Create token' }).click();
  const shown = page.getByTestId('new-key');
  await expect(shown).toBeVisible();
  const token = await shown.textContent();
  expect(token).toMatch(/^atr_adm_[0-9a-f]{16}_[0-9a-f]{48}$/);
  const row = page.locator('tbody tr', { hasText: name });
  await expect(row).toContainText('active');

  const listed = await request.get('/admin/v1/tenants?limit=5', { headers: { authorization: `Bearer ${token}` } });
  expect(listed.status()).toBe(200);
  expect(Array.isArray((await listed.json()).data)).toBe(true);
  const refused = await request.post('/admin/v1/tenants', {
    headers: { authorization: `Bearer ${token}` }, data: { name: 'Nope' },
  });
  expect(refused.status()).toBe(403);
  expect(refused.headers()['content-type']).toBe('application/problem+json');

  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('new-key')).toHaveCount(0);
  expect(await page.content()).not.toContain(token.slice(25));

  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  const after = await request.get('/admin/v1/tenants', { headers: { authorization: `Bearer ${token}` } });
  expect(after.status()).toBe(401);
});

test('the interactive reference renders the generated document, with no CDN', async ({ page }) => {
  const foreign = [];
  page.on('request', (r) => { if (!r.url().startsWith('http://127.0.0.1')) foreign.push(r.url()); });
  await page.goto('/admin/v1/docs');
  await expect(page.getByText('Atrium admin API').first()).toBeVisible();
  await expect(page.locator('.opblock-tag', { hasText: 'tenants' })).toBeVisible();
  await expect(page.getByText('/tenants/{id}/api-keys').first()).toBeVisible();
  expect(foreign).toEqual([]);
});
