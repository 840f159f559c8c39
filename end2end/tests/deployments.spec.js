// Model deployments as a tenant admin works with them: a platform admin
// adds a pool of three vLLM engines (CLI), the tenant's admin registers a
// real PEFT adapter on the page, deploys it and sees it loaded on every
// engine; the platform admin sees each engine holding it.
const { test, expect } = require('@playwright/test');
const { execFileSync } = require('child_process');
const fs = require('fs');
const path = require('path');

const { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage, createUser } = require('./support');

failOnBrowserErrors();

const port = Number(process.env.ATRIUM_E2E_PORT || 3917);
const atrium = (args) => execFileSync(process.env.ATRIUM_BIN || '../target/release/atrium', args, {
  env: { ...process.env, DATABASE_URL: '', ATRIUM_DATA_DIR: process.env.ATRIUM_E2E_DATA_DIR, RUST_LOG: 'warn' },
}).toString();

test('a tenant admin registers and deploys an adapter, loaded on all three engines', async ({ page }) => {
  const endpoints = [2, 3, 4].flatMap((i) => ['--endpoint', `http://127.0.0.1:${port + i}/v1`]);
  atrium(['pool', 'add', '--name', `lora-${unique()}`, '--base-model', 'tiny-llama', '--region', 'any', ...endpoints]);
  const tenant = `Lora ${unique()}`;
  const owner = { email: `lora-${unique()}@e2e.test`, password: 'owner-password-12' };
  await signIn(page, ADMIN);
  const tenantId = await tenantPage(page, tenant);
  atrium(['flag', 'target', 'models.custom', '--tenants', tenant]);
  // The adapter goes into the tenant's own folder of the adapter roots.
  const adapter = path.join(process.env.ATRIUM_E2E_DATA_DIR, 'adapters', tenantId, 'lora-tiny');
  fs.cpSync(path.resolve(__dirname, '../../tests/fixtures/lora-tiny'), adapter, { recursive: true });
  await createUser(page, owner, 'tenant_admin', tenant);
  await page.getByRole('button', { name: 'Sign out' }).click();

  await signIn(page, owner);
  await hydrated(page);
  await page.locator('.sidebar').getByRole('link', { name: 'Model deployments' }).click();
  await expect(page).toHaveURL(/\/deployments\?tenant=/);
  await hydrated(page);
  const form = page.getByTestId('register-custom-model');
  await form.getByLabel('Name').fill('support-bot');
  await form.getByLabel('Base model').selectOption('tiny-llama');
  await form.getByLabel('Adapter').fill(adapter);
  await form.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByText('Registered support-bot:1 (ready).')).toBeVisible();

  const row = page.getByTestId('custom-model-support-bot:1');
  await expect(row).toContainText('ready');
  await row.getByRole('button', { name: 'deploy' }).click();
  await expect(page.getByText('support-bot:1 is deployed.')).toBeVisible();
  await expect(row).toContainText('deployed');
  await expect(row.getByTestId('engines')).toHaveText('3 of 3 loaded');
  await expect(row).toContainText('serves its name');
  await page.getByRole('button', { name: 'Sign out' }).click();

  // The platform admin sees every engine holding it, in sync.
  await signIn(page, ADMIN);
  await page.goto('/deployments');
  const engines = page.getByTestId('endpoints');
  await expect(engines.locator('tr', { hasText: 'synced' })).toHaveCount(3);
  await expect(engines).toContainText('atrium-');
});
