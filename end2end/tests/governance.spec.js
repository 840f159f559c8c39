// Tenant data stores and data governance as an administrator uses them:
// move a tenant's data, write a policy, try it, see a blocked request in the
// audit search, and export the audit log as CSV.
const { test, expect } = require('@playwright/test');
const fs = require('fs');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage } = require('./support');

failOnBrowserErrors();

async function signInAsAdmin(page) {
  await signIn(page, ADMIN);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
}

test('move a tenant\'s data to its own schema', async ({ page }) => {
  await signInAsAdmin(page);
  await tenantPage(page, `Stores ${unique()}`);
  const data = page.getByTestId('tenant-data');
  await expect(data.getByTestId('data-level')).toHaveText('Row level (shared tables)');
  await expect(data.getByTestId('data-location')).toContainText('usage_events');

  await data.locator('select[name=level]').selectOption('schema_per_tenant');
  await data.getByLabel(/Copy the data/).check();
  await data.getByRole('button', { name: 'Move data' }).click();
  await expect(data.getByText(/Moved 0 rows .* counts verified/)).toBeVisible();
  await expect(data.getByTestId('data-level')).toHaveText('Schema per tenant');
  await expect(data.getByTestId('data-location')).toContainText('t_');
});

test('a policy blocks a card number: try it, see it in the audit log, export CSV', async ({ page, request }) => {
  const name = `Governed ${unique()}`;
  await signInAsAdmin(page);
  const tenantId = await tenantPage(page, name);
  const keys = page.locator('section', { hasText: 'API keys' });
  await keys.getByRole('button', { name: 'Create key' }).click();
  const key = (await page.getByTestId('new-key').textContent()).trim();

  await page.goto(`/policies?tenant=${tenantId}`);
  await hydrated(page);
  const add = page.getByTestId('policy-add');
  await add.locator('select[name=target]').selectOption('CREDIT_CARD');
  await add.locator('select[name=action]').selectOption('block');
  await add.getByRole('button', { name: 'Add rule' }).click();
  await expect(page.getByText('Added: CREDIT_CARD → block.')).toBeVisible();
  await expect(page.getByTestId('policy-rules')).toContainText('CREDIT_CARD');

  const tryIt = page.getByTestId('policy-try');
  await tryIt.locator('textarea').fill('Please charge card 4111 1111 1111 1111 and mail bob@example.com');
  await tryIt.getByRole('button', { name: 'Check' }).click();
  await expect(page.getByTestId('trial-action')).toHaveText('block');
  await expect(page.getByTestId('policy-trial')).toContainText('EMAIL_ADDRESS');

  const res = await request.post('/v1/messages', {
    headers: { 'x-api-key': key, 'anthropic-version': '2023-06-01' },
    data: { model: 'any-model', max_tokens: 16,
            messages: [{ role: 'user', content: 'my card is 4111 1111 1111 1111' }] },
  });
  expect(res.status()).toBe(403);
  const err = await res.json();
  expect(err.error.type).toBe('permission_error');
  expect(err.error.message).toContain('CREDIT_CARD');

  // The decision is audited just after the response; reload until it shows.
  const search = `/audit?tenant=${tenantId}&action=policy.block`;
  // Each look waits for hydration, so a reload never cuts one short.
  await expect(async () => {
    await page.goto(search);
    await hydrated(page);
    await expect(page.getByTestId('audit-results')).toContainText('policy.block', { timeout: 1000 });
  }).toPass({ timeout: 10_000 });
  await expect(page.getByTestId('audit-results')).not.toContainText('4111');

  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByTestId('audit-export').getByRole('button', { name: 'Export' }).click(),
  ]);
  const csv = fs.readFileSync(await download.path(), 'utf8');
  expect(csv.split('\n')[0]).toBe('id,at,actor,action,resource_type,resource_id,tenant_id,status,client_ip,details,chain,chain_seq,hash');
  expect(csv).toContain('policy.block');
  expect(csv).toContain('policy.add');
  expect(csv).not.toContain('4111');

  // The export itself is in the audit log.
  await page.goto(`/audit?tenant=${tenantId}&action=audit.export`);
  await expect(page.getByTestId('audit-results')).toContainText('audit.export');
});
