// Compliance as a tenant's DPO and as the operator use it: turn the request
// log on, generate the record of processing, open its page and download
// its JSON, attest an access review; record a breach and see its deadline.
const { test, expect } = require('@playwright/test');
const fs = require('fs');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage, createUser } = require('./support');

failOnBrowserErrors();

test('a tenant admin keeps a request log, issues a record of processing and attests access', async ({ page }) => {
  const tenant = `Controller ${unique()}`;
  const dpo = { email: `dpo-${unique()}@e2e.test`, password: 'dpo-password-long-1' };
  await signIn(page, ADMIN);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await tenantPage(page, tenant);
  await createUser(page, dpo, 'tenant_admin', tenant);
  await page.getByRole('button', { name: 'Sign out' }).click();

  await signIn(page, dpo);
  await page.getByRole('link', { name: 'Compliance' }).click();
  await expect(page.getByRole('heading', { name: tenant })).toBeVisible();
  await hydrated(page);

  const log = page.locator('#request-log');
  await log.getByTestId('request-log-mode').selectOption('full');
  await log.getByLabel(/Retention/).fill('90');
  await log.getByRole('button', { name: 'Save request log' }).click();
  await expect(page.getByText('Request log: Full text, after redaction.')).toBeVisible();

  const generate = page.locator('#generate');
  await generate.getByTestId('report-kind').selectOption('ropa');
  await generate.getByRole('button', { name: 'Generate and sign' }).click();
  await expect(page.getByText(/Report rpt_\w+ generated/)).toBeVisible();

  const reports = page.getByTestId('compliance-reports');
  const download = page.waitForEvent('download');
  await reports.getByTestId('report-json').first().click();
  const file = await (await download).path();
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  expect(doc.kind).toBe('ropa');
  expect(doc.body.controller.name).toBe(tenant);
  expect(doc.signature.algorithm).toBe('Ed25519');

  const reviews = page.locator('#access-reviews');
  await reviews.getByRole('button', { name: 'Start an access review' }).click();
  await expect(page.getByText(/Review rev_\w+ started/)).toBeVisible();
  await reviews.getByRole('button', { name: 'Still needed' }).first().click();
  await expect(page.getByText(/Attested\./)).toBeVisible();

  const href = await page.getByTestId('report-page').first().getAttribute('href');
  await page.goto(href);
  await expect(page.getByRole('heading', { name: /ROPA rpt_/ })).toBeVisible();
  await expect(page.getByText('GDPR Art. 30(1)')).toBeVisible();
});

test('a platform admin records a breach and sees its 72-hour deadline', async ({ page }) => {
  await signIn(page, ADMIN);
  await expect(page.getByRole('heading', { name: 'Dashboard' })).toBeVisible();
  await page.goto('/compliance');
  await hydrated(page);
  const form = page.getByTestId('record-breach');
  const nature = `Misdirected export ${unique()}`;
  await form.getByLabel(/Detected at/).fill(new Date(Date.now() - 2 * 3600 * 1000).toISOString());
  await form.getByLabel('Nature').fill(nature);
  await form.getByLabel(/Categories/).fill('EMAIL_ADDRESS, usage records');
  await form.getByLabel(/People concerned/).fill('12');
  await form.getByLabel(/Records concerned/).fill('120');
  await form.getByLabel(/consequences/).fill('addresses seen by another customer');
  await form.getByLabel(/Measures/).fill('export recalled');
  await form.getByLabel('DPO').fill('dpo@operator.example');
  await form.getByRole('button', { name: 'Record breach' }).click();
  const row = page.getByTestId('breaches').locator('tr', { hasText: nature });
  await expect(row.getByTestId('breach-deadline')).toHaveText(/^(69|70)h \d+m left$/);
  await row.getByRole('button', { name: 'Authority notified' }).click();
  await expect(row.getByTestId('breach-deadline')).toHaveText('notified on time');
});
