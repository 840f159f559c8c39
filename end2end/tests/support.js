// What every portal spec shares: the e2e admin, sign-in, waiting for
// hydration, and failing a test on any error in the browser.
const { test, expect } = require('@playwright/test');

const ADMIN = { email: 'admin@e2e.test', password: 'e2e-admin-password-1' };
const unique = () => `${Date.now().toString(36)}${Math.floor(Math.random() * 1e4)}`;

// Any uncaught error in the page (a wasm panic, a hydration mismatch) fails
// the test, and so does anything the Content-Security-Policy refused: the
// app must run whole under its own policy.
function failOnBrowserErrors() {
  let pageErrors = [];
  test.beforeEach(async ({ page }) => {
    pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    page.on('console', (m) => {
      const text = m.text();
      if (text.includes('panicked') || text.includes('Content Security Policy')) pageErrors.push(text);
    });
  });
  test.afterEach(() => {
    expect(pageErrors, 'errors in the browser').toEqual([]);
  });
}

async function hydrated(page) {
  await page.waitForSelector('body[data-hydrated="true"]');
}

async function signIn(page, { email, password }) {
  await page.goto('/login');
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** Creates a tenant from the tenants page and opens its page; returns its id. */
async function tenantPage(page, name) {
  await page.goto('/tenants');
  await hydrated(page);
  const form = page.locator('section', { hasText: 'New tenant' });
  await form.getByLabel('Name').fill(name);
  await form.getByRole('button', { name: 'Create tenant' }).click();
  await page.getByRole('link', { name }).click();
  await expect(page.getByRole('heading', { name })).toBeVisible();
  await hydrated(page);
  return page.url().split('/tenants/')[1];
}

/** Creates a user from the users page, bound to `tenant` (its name). */
async function createUser(page, { email, password }, role, tenant) {
  await page.goto('/users');
  await hydrated(page);
  const form = page.locator('section', { hasText: 'New user' });
  await form.getByLabel('Email').fill(email);
  await form.getByLabel('Password').fill(password);
  await form.locator('select[name=role]').selectOption(role);
  await form.locator('select[name=tenant_id]').selectOption({ label: tenant });
  await form.getByRole('button', { name: 'Create user' }).click();
  await expect(page.getByText(`Created ${email}.`)).toBeVisible();
}

module.exports = { ADMIN, unique, failOnBrowserErrors, hydrated, signIn, tenantPage, createUser };
