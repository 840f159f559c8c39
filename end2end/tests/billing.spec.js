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
  await form.getByLabel('Storage ($/GB-month)').fill('0.25');
  await form.getByLabel('Monthly budget ($)').fill('250');
  await form.getByLabel('Budget kind').selectOption('soft');
  await form.getByRole('button', { name: 'Create plan' }).click();
  await expect(page.getByText(`Created plan ${name}.`)).toBeVisible();
  const row = page.getByTestId('plan-list').getByRole('row', { name: new RegExp(name) });
  await expect(row).toContainText('$49.000000');
  await expect(row).toContainText('* +12%');
  await expect(row).toContainText('$0.250000');
  await expect(row).toContainText('$250.000000 soft');
});

test.describe('without JavaScript', () => {
  // The form is a plain post the server answers, before any wasm.
  test.use({ javaScriptEnabled: false });

  test('price flag evaluations', async ({ page }) => {
    await signIn(page, ADMIN);
    await expect(page).toHaveURL(/\/$/);
    await page.goto('/billing');
    const form = page.getByTestId('evaluation-price-set');
    await form.getByLabel('Per evaluation ($)').fill('0.000021');
    await form.getByRole('button', { name: 'Set evaluation price' }).click();
    await expect(page.getByTestId('evaluation-price-list')).toContainText('$0.000021');
  });

  test('archive a plan: it stays listed, marked archived', async ({ page }) => {
    const name = `Old ${unique()}`;
    await signIn(page, ADMIN);
    await expect(page).toHaveURL(/\/$/);
    await page.goto('/billing');
    const create = page.getByTestId('plan-create');
    await create.getByLabel('Name').fill(name);
    await create.getByRole('button', { name: 'Create plan' }).click();
    const row = page.getByTestId('plan-list').getByRole('row', { name: new RegExp(name) });
    await expect(row).toContainText('open');
    const archive = page.getByTestId('plan-archive');
    await archive.getByLabel('Plan').fill(name);
    await archive.getByRole('button', { name: 'Archive plan' }).click();
    await expect(page.getByTestId('plan-list').getByRole('row', { name: new RegExp(name) }))
      .toContainText('archived');
  });
});
