// Usage and invoices as their users see them: a tenant viewer opens Usage,
// sees a chart with data, changes the period in the URL and downloads the
// CSV; a platform admin issues last month's invoice and opens its
// printable page. Completions go to the demo catalog (the mock provider).
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage, createUser } = require('./support');

failOnBrowserErrors();

test('a tenant viewer reads their usage, filters by URL, downloads the CSV', async ({ page, request }) => {
  const tenant = `Usage ${unique()}`;
  const viewer = { email: `viewer-${unique()}@e2e.test`, password: 'viewer-password-12' };
  await signIn(page, ADMIN);
  await tenantPage(page, tenant);
  const keys = page.locator('section', { hasText: 'API keys' });
  await keys.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-key').textContent()).trim();
  for (let i = 0; i < 3; i++) {
    const res = await request.post('/v1/messages', {
      headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
      data: { model: 'demo-claude', max_tokens: 32, messages: [{ role: 'user', content: `hello number ${i}` }] },
    });
    expect(res.status(), await res.text()).toBe(200);
  }
  await createUser(page, viewer, 'tenant_viewer', tenant);
  await page.getByRole('button', { name: 'Sign out' }).click();
  await expect(page).toHaveURL(/\/login$/);

  await signIn(page, viewer);
  await page.locator('.sidebar').getByRole('link', { name: 'Usage' }).click();
  await expect(page.getByRole('heading', { name: `Usage · ${tenant}` })).toBeVisible();
  await hydrated(page);
  // The ledger is written just after each response: reload until it shows.
  await expect(async () => {
    await page.reload();
    await expect(page.locator('table.usage-days')).toContainText('demo-claude', { timeout: 1000 });
  }).toPass({ timeout: 15_000 });
  const chart = page.getByRole('img', { name: 'Spend per day, stacked by model' });
  await expect(chart).toBeVisible();
  expect(await chart.locator('rect').count()).toBeGreaterThan(0);
  await expect(page.getByRole('img', { name: 'Requests per hour, errors on top' })).toBeVisible();

  await page.goto(page.url().split('?')[0] + '?period=7d');
  await hydrated(page);
  await expect(page.locator('select[name=period]')).toHaveValue('7d');
  await expect(page.getByText(/spent in the last 7d/)).toBeVisible();

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('usage-csv').click(),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  expect(csv.split('\n')[0]).toBe('day,model,tokens,cost_usd');
  expect(csv).toContain(',demo-claude,');
});

test('an admin issues last month\'s invoice and opens the printable page', async ({ page }) => {
  await signIn(page, ADMIN);
  const tenantId = await tenantPage(page, `Invoiced ${unique()}`);
  // A tenant made today has no last month to bill: this one is backdated
  // 40 days in the server's database, as if it had signed up then. First
  // the invoice issuer's lease is taken for five minutes (and a run under
  // way given a second to end): the job would otherwise issue the draft
  // itself if its run fell between the backdating and the click.
  execFileSync('python3', ['-c', [
    'import sqlite3, sys, time',
    'db = sqlite3.connect(sys.argv[1], timeout=10)',
    'until = int(time.time() * 1000) + 300000',
    'db.execute("INSERT INTO job_leases (name, holder, until_ms, runs, last_run_at) VALUES (\'invoice_issuer\', \'e2e\', ?, 0, 0) ON CONFLICT (name) DO UPDATE SET holder = \'e2e\', until_ms = excluded.until_ms", (until,))',
    'db.commit()',
    'time.sleep(1)',
    'db.execute("UPDATE tenants SET created_at = created_at - 40 * 86400000 WHERE id = ?", (sys.argv[2],))',
    'db.commit()',
  ].join('\n'), path.join(process.env.ATRIUM_E2E_DATA_DIR, 'atrium.db'), tenantId]);
  await page.reload();
  const invoices = page.locator('section#invoices');
  const drafts = invoices.getByRole('row', { name: /draft/ });
  await expect(drafts).toHaveCount(2);
  // This month first, then last month: open last month's draft.
  await drafts.nth(1).getByRole('link').click();
  await expect(page.getByRole('heading', { name: /Draft invoice/ })).toBeVisible();
  await hydrated(page);
  await page.getByRole('button', { name: 'Issue invoice' }).click();
  await expect(page.getByText(/Issued ATR-\d{4}-\d{2}-\d{4}\./)).toBeVisible();
  await expect(page.getByRole('heading', { name: /ATR-\d{4}-\d{2}-\d{4}/ })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Issue invoice' })).toHaveCount(0);
  await expect(page.getByTestId('invoice-total')).toContainText('$0.00');

  // Printed, the portal's navigation is left out.
  await page.emulateMedia({ media: 'print' });
  await expect(page.locator('.sidebar')).toBeHidden();
  await expect(page.getByTestId('invoice-total')).toBeVisible();
  await page.emulateMedia({ media: 'screen' });
  await page.goto(`/tenants/${tenantId}`);
  await expect(page.locator('section#invoices').getByRole('row', { name: /issued/ })).toHaveCount(1);
});
