// Runs against the server `make test` builds for its tests (ATRIUM_BIN), in Debian's chromium:
// Playwright's own browser downloads are not reachable from these machines.
const { defineConfig } = require('@playwright/test');
const path = require('path');
const os = require('os');
const fs = require('fs');

const port = Number(process.env.ATRIUM_E2E_PORT || 3917);
// Set once in the runner and inherited by its workers (which load this
// file again), so specs can run the CLI against the server's database.
const dataDir = process.env.ATRIUM_E2E_DATA_DIR
  || (process.env.ATRIUM_E2E_DATA_DIR = fs.mkdtempSync(path.join(os.tmpdir(), 'atrium-e2e-')));
const bin = process.env.ATRIUM_BIN || '../target/release/atrium';
// Three vLLM-compatible engines for the custom-model specs (one pool).
const engines = [2, 3, 4].map((i) => ({
  command: `${bin} mock-upstream --kind vllm --base-model tiny-llama --forget-on-restart --addr 127.0.0.1:${port + i}`,
  port: port + i,
  timeout: 30_000,
  reuseExistingServer: false,
  env: { RUST_LOG: 'warn' },
}));

module.exports = defineConfig({
  testDir: './tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-dev-shm-usage'],
    },
  },
  // The mock provider first: the server registers it as the demo catalog
  // (demo-claude, demo-gpt), so specs can make real completions.
  webServer: [...engines, {
    command: `${process.env.ATRIUM_BIN || '../target/release/atrium'} mock-upstream --addr 127.0.0.1:${port + 1}`,
    port: port + 1,
    timeout: 30_000,
    reuseExistingServer: false,
    env: { RUST_LOG: 'warn' },
  }, {
    command: `${process.env.ATRIUM_BIN || '../target/release/atrium'} serve`,
    url: `http://127.0.0.1:${port}/readyz`,
    timeout: 60_000,
    reuseExistingServer: false,
    stdout: 'pipe',
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: process.env.LEPTOS_SITE_ROOT || '../target/site',
      ATRIUM_DATA_DIR: dataDir,
      DATABASE_URL: '',
      ATRIUM_ADMIN_EMAIL: 'admin@e2e.test',
      ATRIUM_ADMIN_PASSWORD: 'e2e-admin-password-1',
      ATRIUM_DEMO_UPSTREAM: `127.0.0.1:${port + 1}`,
      // Last month's invoices may be issued at once (no grace period).
      ATRIUM_INVOICE_GRACE_SECS: '0',
      // Local LoRA adapters: each tenant's from its own folder under here.
      ATRIUM_ADAPTER_ROOTS: path.join(dataDir, 'adapters'),
      RUST_LOG: 'warn',
    },
  }],
});
