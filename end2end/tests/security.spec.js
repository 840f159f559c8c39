// The page's script policy: the hydrated app runs under it, and a script
// injected into the page does not.
const { test, expect } = require('@playwright/test');

const { ADMIN, hydrated, signIn } = require('./support');

test('scripts run only with the response nonce', async ({ page }) => {
  const refused = [];
  page.on('console', (m) => { if (m.text().includes('Content Security Policy')) refused.push(m.text()); });
  await signIn(page, ADMIN);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await hydrated(page);
  expect(refused, 'the app itself is never refused').toEqual([]);

  const policy = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  expect(policy).toMatch(/script-src 'nonce-[A-Za-z0-9+/=_-]+' 'strict-dynamic' 'wasm-unsafe-eval'/);
  const nonce = policy.match(/'nonce-([^']+)'/)[1];
  const second = await (await page.request.get('/')).text();
  expect(second, 'a fresh nonce per response').not.toContain(nonce);

  // What an HTML injection would add: an inline script in the page, without
  // the nonce. The response is rewritten on its way to the browser.
  await page.route('**/tenants', async (route) => {
    const res = await route.fetch();
    const html = (await res.text()).replace('<body>', '<body><script>window.__injected = true</script>');
    await route.fulfill({ response: res, body: html });
  });
  await page.goto('/tenants');
  await hydrated(page);
  expect(await page.evaluate(() => window.__injected === true), 'the injected script did not run').toBe(false);
  await expect.poll(() => refused.length).toBeGreaterThan(0);
  await page.unroute('**/tenants');
  await page.goto('/');
  await hydrated(page);

  // The hydrated app still works under the policy: client-side navigation.
  await page.getByRole('link', { name: 'Tenants' }).first().click();
  await expect(page.getByRole('heading', { name: 'Tenants' })).toBeVisible();
});
