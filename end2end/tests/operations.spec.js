// Issue 24: a platform admin sees the replicas serving this database and
// the replica running each periodic job, hydrated and before any wasm.
const { test, expect } = require('@playwright/test');

const { ADMIN, failOnBrowserErrors, hydrated, signIn } = require('./support');

failOnBrowserErrors();

test('the Operations page lists this replica as live and who runs each job', async ({ page }) => {
  await signIn(page, ADMIN);
  await page.getByRole('link', { name: 'Operations' }).click();
  await expect(page.getByRole('heading', { name: 'Operations' })).toBeVisible();
  await hydrated(page);
  const fleet = page.getByTestId('replicas');
  await expect(fleet.getByRole('heading')).toHaveText(/^\d+ live replicas?$/);
  await expect(fleet.locator('tbody tr').first()).toContainText('live');
  const jobs = page.getByTestId('jobs');
  await expect(jobs).toContainText('custom_model_reconciler');
});

test.describe('without JavaScript', () => {
  test.use({ javaScriptEnabled: false });

  test('the Operations page renders on the server', async ({ page }) => {
    await signIn(page, ADMIN);
    await expect(page).toHaveURL(/\/$/);
    await page.goto('/operations');
    await expect(page.getByTestId('replicas').locator('tbody tr').first()).toContainText('live');
    await expect(page.getByTestId('jobs')).toContainText('custom_model_reconciler');
  });
});
