// The portal as a person uses it: sign in, tenants, keys, roles, sign out.
const { test, expect } = require('@playwright/test');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn } = require('./support');

failOnBrowserErrors();

async function createTenant(page, name) {
  await page.goto('/tenants');
  await hydrated(page);
  const form = page.locator('section', { hasText: 'New tenant' });
  await form.getByLabel('Name').fill(name);
  await form.getByRole('button', { name: 'Create tenant' }).click();
  await expect(page.getByText(`Created tenant ${name}.`)).toBeVisible();
  await expect(page.getByRole('link', { name })).toBeVisible();
}

test('a wrong password is refused, the right one signs in', async ({ page }) => {
  await signIn(page, { email: ADMIN.email, password: 'not-the-password' });
  await expect(page).toHaveURL(/\/login\?error=invalid/);
  await expect(page.getByRole('alert')).toHaveText('Wrong email or password.');

  await signIn(page, ADMIN);
  await expect(page).toHaveURL(/\/$/);
  await expect(page).toHaveTitle('Dashboard · Atrium');
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.locator('.whoami')).toContainText(ADMIN.email);
});

test('pages need a session', async ({ page }) => {
  await page.goto('/tenants');
  await expect(page).toHaveURL(/\/login$/);
});

test('create a tenant, create a key shown once, revoke it', async ({ page }) => {
  const name = `Acme ${unique()}`;
  await signIn(page, ADMIN);
  await createTenant(page, name);

  await page.getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  await expect(page).toHaveTitle(`${name} · Atrium`);
  await hydrated(page);

  const keys = page.locator('section', { hasText: 'API keys' });
  await keys.getByLabel('Name').fill('ci');
  await keys.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByTestId('new-key');
  await expect(shown).toBeVisible();
  const key = await shown.textContent();
  expect(key).toMatch(/^atr_[0-9a-f]{12}_[0-9a-f]{48}$/);
  const row = keys.locator('tbody tr', { hasText: 'ci' });
  await expect(row).toContainText('active');

  // Shown once: after a reload the secret is nowhere on the page.
  await page.reload();
  await hydrated(page);
  await expect(page.getByTestId('new-key')).toHaveCount(0);
  expect(await page.content()).not.toContain(key.slice(17));
  await expect(row).toContainText(key.slice(0, 16));

  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  await expect(row.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
});

test('invalid tenant input gets a clear message', async ({ page }) => {
  await signIn(page, ADMIN);
  await page.goto('/tenants');
  await hydrated(page);
  const form = page.locator('section', { hasText: 'New tenant' });
  await form.getByLabel('Name').fill('<bad name>');
  await form.getByRole('button', { name: 'Create tenant' }).click();
  await expect(form.getByRole('alert')).toContainText('name: must start with a letter or digit');
});

test('a tenant viewer is refused the tenants page, then signs out', async ({ page }) => {
  const tenant = `Viewers ${unique()}`;
  const viewer = { email: `viewer-${unique()}@e2e.test`, password: 'viewer-password-1' };
  await signIn(page, ADMIN);
  await createTenant(page, tenant);

  await page.goto('/users');
  await hydrated(page);
  const form = page.locator('section', { hasText: 'New user' });
  await form.getByLabel('Email').fill(viewer.email);
  await form.getByLabel('Password').fill(viewer.password);
  await form.locator('select[name=role]').selectOption('tenant_viewer');
  await form.locator('select[name=tenant_id]').selectOption({ label: tenant });
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByText(`Created ${viewer.email}.`)).toBeVisible();

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  // The viewer's dashboard and own tenant page ask for nothing the viewer
  // is refused, and nothing they load is missing (the favicon included).
  const refused = [];
  page.on('response', (r) => { if (r.status() >= 400) refused.push(`${r.status()} ${r.url()}`); });
  await signIn(page, viewer);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await expect(page.locator('.sidebar')).not.toContainText('Tenants');
  await expect(page.locator('.sidebar')).toContainText('My tenant');
  await hydrated(page);
  await page.locator('.sidebar').getByRole('link', { name: 'My tenant' }).click();
  await expect(page.getByRole('heading', { name: tenant })).toBeVisible();
  await hydrated(page);
  await page.reload();
  await hydrated(page);
  await expect(page.getByRole('heading', { name: 'API keys' })).toHaveCount(0);
  expect(refused).toEqual([]);
  page.removeAllListeners('response');

  const response = await page.goto('/tenants');
  expect(response.status()).toBe(403);
  await expect(page.getByRole('alert')).toContainText('403 Forbidden');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto('/');
  await expect(page).toHaveURL(/\/login$/);
});

test('add a provider and a priced model', async ({ page }) => {
  const name = `prov-${unique()}`;
  await signIn(page, ADMIN);
  await page.goto('/models');
  await expect(page).toHaveTitle('Providers & models · Atrium');
  await hydrated(page);
  const pform = page.locator('section', { hasText: 'Add provider' });
  await pform.getByLabel('Name').fill(name);
  await pform.locator('select[name=kind]').selectOption('openai');
  await pform.getByLabel('Base URL').fill('http://127.0.0.1:9/v1');
  await pform.getByLabel('API key').fill('sk-never-shown');
  await pform.getByRole('button', { name: 'Add provider' }).click();
  await expect(page.getByText(`Added provider ${name}.`)).toBeVisible();
  await expect(page.locator('table').first()).toContainText(name);
  await expect(page.locator('table').first()).toContainText('stored');
  expect(await page.content()).not.toContain('sk-never-shown');

  const mform = page.locator('section', { hasText: 'Add model or deployment' });
  await mform.getByLabel('Model name').fill(`${name}-model`);
  await mform.locator('select[name=provider]').selectOption(name);
  await mform.getByLabel('Input $/MTok').fill('2.5');
  await mform.getByLabel('Output $/MTok').fill('10');
  await mform.getByRole('button', { name: 'Save model' }).click();
  await expect(page.getByText(`${name}-model is served by 1 provider.`)).toBeVisible();
  await expect(page.locator('table').nth(1)).toContainText('$2.500000');
});

test.describe('before the wasm loads', () => {
  test.use({ javaScriptEnabled: false });

  test('forms work: a new key and a validation error are shown after the post', async ({ page }) => {
    const name = `NoScript ${unique()}`;
    await signIn(page, ADMIN);
    await expect(page).toHaveURL(/\/$/);
    await page.goto('/tenants');
    const form = page.locator('section', { hasText: 'New tenant' });
    await form.getByLabel('Name').fill(name);
    await form.getByRole('button', { name: 'Create tenant' }).click();
    await page.goto('/tenants');
    await page.getByRole('link', { name }).click();
    await expect(page.getByRole('heading', { name })).toBeVisible();

    const keys = page.locator('section', { hasText: 'API keys' });
    await keys.getByLabel('Name').fill('plain');
    await keys.getByRole('button', { name: 'Create key' }).click();
    await expect(page.getByRole('heading', { name })).toBeVisible();
    const shown = page.getByTestId('new-key');
    await expect(shown).toHaveText(/^atr_[0-9a-f]{12}_[0-9a-f]{48}$/);
    await page.reload();
    await expect(page.getByTestId('new-key')).toHaveCount(0);

    const again = page.locator('section', { hasText: 'API keys' });
    await again.getByLabel('Name').fill('x'.repeat(65));
    await again.getByRole('button', { name: 'Create key' }).click();
    await expect(page.getByTestId('flash')).toContainText('name: must be at most 64 printable characters');
  });
});
