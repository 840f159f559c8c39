// Feature toggles as their users work with them: a tenant's own admin
// creates a flag for the tenant's apps, rolls it out to half, pulls the
// kill switch and reads the history on the flag's page; a platform admin
// sees who gets a platform flag and where a tenant's bucket falls.
const { test, expect } = require('@playwright/test');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage, createUser } = require('./support');

failOnBrowserErrors();

test('a tenant admin creates a flag, rolls it out to 50%, kills it, sees the history', async ({ page }) => {
  const tenant = `Flags ${unique()}`;
  const owner = { email: `owner-${unique()}@e2e.test`, password: 'owner-password-12' };
  await signIn(page, ADMIN);
  await tenantPage(page, tenant);
  await createUser(page, owner, 'tenant_admin', tenant);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, owner);
  await hydrated(page);
  await page.locator('.sidebar').getByRole('link', { name: 'Feature toggles' }).click();
  await expect(page).toHaveURL(/\/flags\?tenant=/);
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

  await row.getByRole('link', { name: key }).click();
  await expect(page.getByRole('heading', { name: `Flag ${key}` })).toBeVisible();
  const history = page.getByTestId('flag-history');
  await expect(history).toContainText('flag.create');
  await expect(history).toContainText('rollout none → 50%');
  await expect(history).toContainText('disabled (kill switch)');
  await expect(page.getByTestId('flag-rules')).toContainText('rollout 50% → on');

  // A bucket check for one of the tenant's users: the kill switch wins.
  await hydrated(page);
  const check = page.getByTestId('bucket-check');
  await check.getByLabel('Targeting key').fill('user-42');
  await check.getByRole('button', { name: 'Check' }).click();
  await expect(page.getByTestId('bucket-result')).toContainText('user-42 gets off');
  await expect(page.getByTestId('bucket-result')).toContainText('kill switch');
  await expect(page.getByTestId('bucket-result')).toContainText('of 100');
});

test('a platform admin sees who gets a platform flag', async ({ page }) => {
  const tenant = `Preview ${unique()}`;
  await signIn(page, ADMIN);
  await tenantPage(page, tenant);
  await page.goto('/flags');
  await hydrated(page);
  await page.getByTestId('flag-gateway.streaming').getByRole('link', { name: 'gateway.streaming' }).click();
  await expect(page.getByTestId('preview-counts')).toContainText('on:');
  await expect(page.getByTestId('flag-preview')).toContainText(tenant);
  await hydrated(page);
  const check = page.getByTestId('bucket-check');
  await check.getByRole('textbox').fill(tenant);
  await check.getByRole('button', { name: 'Check' }).click();
  await expect(page.getByTestId('bucket-result')).toContainText(`${tenant} gets on`);
});
