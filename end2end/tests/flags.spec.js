// Feature toggles as an administrator uses them: create a tenant's flag,
// roll it out to half, pull the kill switch, and read its history.
const { test, expect } = require('@playwright/test');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage } = require('./support');

failOnBrowserErrors();

test('create a flag, roll it out to 50%, kill it, see the history', async ({ page }) => {
  await signIn(page, ADMIN);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  const tenantId = await tenantPage(page, `Flags ${unique()}`);
  await page.goto(`/flags?tenant=${tenantId}`);
  await hydrated(page);
  const key = `checkout.e2e-${unique()}`;
  const create = page.getByTestId('flag-create');
  await create.getByLabel('Key').fill(key);
  await create.getByLabel('Description').fill('the new checkout');
  await create.getByRole('button', { name: 'Create flag' }).click();
  await expect(page.getByText(`Created flag ${key}.`)).toBeVisible();

  const row = page.getByTestId(`flag-${key}`);
  await row.getByLabel('rollout percent').fill('50');
  await row.getByRole('button', { name: 'Set rollout' }).click();
  await expect(row.getByTestId('flag-rollout')).toHaveText('50%');

  await row.getByRole('button', { name: 'Kill switch: disable' }).click();
  await expect(row.getByText('disabled')).toBeVisible();
  await expect(row.getByRole('button', { name: 'Enable' })).toBeVisible();

  await row.getByRole('link', { name: 'History' }).click();
  const results = page.getByTestId('audit-results');
  await expect(results).toContainText('flag.create');
  await expect(results).toContainText('flag.rollout');
  await expect(results).toContainText('flag.disable');
});
