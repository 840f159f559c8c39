// Billing as a platform admin uses it: create a plan, schedule a price,
// see both listed (the page is server-rendered; forms are plain posts).
const { test, expect } = require('@playwright/test');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn } = require('./support');

failOnBrowserErrors();

test('create a plan and see it listed', async ({ page }) => {
  const name = `Plan ${unique()}`;
  await signIn(page, ADMIN);
  await page.locator('.sidebar').getByRole('link', { name: 'Usage & billing' }).click();
  await expect(page.getByRole('heading', { name: 'Usage & billing' })).toBeVisible();
  await hydrated(page);
  const form = page.getByTestId('plan-create');
  await form.getByLabel('Name').fill(name);
  await form.getByLabel('Base fee ($/month)').fill('49');
  await form.getByLabel('Markups').fill('*=12');
  await form.getByRole('button', { name: 'Create plan' }).click();
  await expect(page.getByText(`Created plan ${name}.`)).toBeVisible();
  const row = page.getByTestId('plan-list').getByRole('row', { name: new RegExp(name) });
  await expect(row).toContainText('$49.000000');
  await expect(row).toContainText('* +12%');
});
