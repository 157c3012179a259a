// The shared test object: every page a test opens is watched for console errors and uncaught
// exceptions, and the test fails if any were seen. Also small helpers used by the specs.

import {
  test as base,
  expect,
  type APIRequestContext,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test';

/**
 * Console errors that are not the app's fault: a missing favicon, and the browser's own
 * "Failed to load resource" line for a 4xx answer of a portal server function (`/sfn/…`), which
 * is how an expected refusal (wrong password, taken email) arrives. 5xx answers still fail.
 */
function ignored(text: string, url: string): boolean {
  if (/favicon/i.test(url) || /favicon/i.test(text)) return true;
  return (
    /\/sfn\//.test(url) &&
    /Failed to load resource: the server responded with a status of 4\d\d/.test(text)
  );
}

function watch(page: Page, errors: string[]): void {
  page.on('console', (msg) => {
    if (msg.type() !== 'error') return;
    const { url } = msg.location();
    if (ignored(msg.text(), url)) return;
    errors.push(`console error on ${page.url()}: ${msg.text()}${url ? ` (${url})` : ''}`);
  });
  page.on('pageerror', (err) => {
    errors.push(`uncaught exception on ${page.url()}: ${err.stack ?? err.message}`);
  });
}

type Fixtures = {
  /** Console errors and page errors seen so far in this test. */
  pageErrors: string[];
  /** Opens a page in a new browser context (e.g. with JavaScript off), watched like `page`. */
  newPage: (options?: BrowserContextOptions) => Promise<Page>;
};

export const test = base.extend<Fixtures>({
  pageErrors: [
    async ({}, use) => {
      const errors: string[] = [];
      await use(errors);
      expect(errors, 'console errors / uncaught exceptions during the test').toEqual([]);
    },
    { auto: true },
  ],

  page: async ({ page, pageErrors }, use) => {
    watch(page, pageErrors);
    await use(page);
  },

  newPage: async ({ browser, baseURL, pageErrors }, use) => {
    const contexts: Awaited<ReturnType<typeof browser.newContext>>[] = [];
    await use(async (options = {}) => {
      const context = await browser.newContext({ baseURL, ...options });
      contexts.push(context);
      const page = await context.newPage();
      watch(page, pageErrors);
      return page;
    });
    for (const context of contexts) await context.close();
  },
});

export { expect };

export const PASSWORD = 'correct-horse-battery-staple';

/** Waits until the app has hydrated the current document (its Effect marks `<body>`). */
export async function waitHydrated(page: Page): Promise<void> {
  await expect(page.locator('body')).toHaveAttribute('data-hydrated', 'true');
}

/** Navigates to `path` and waits for hydration, so clicks are handled by the app. */
export async function gotoHydrated(page: Page, path: string): Promise<void> {
  await page.goto(path);
  await waitHydrated(page);
}

/** Asserts the page is at `pathname` (any query string). */
export async function expectPath(page: Page, pathname: string): Promise<void> {
  await expect(page).toHaveURL((url) => url.pathname === pathname);
}

/** Creates an account through the JSON API. */
export async function signUpByApi(
  request: APIRequestContext,
  email: string,
  password = PASSWORD,
): Promise<void> {
  const res = await request.post('/api/signup', { data: { email, password } });
  expect(res.status(), `POST /api/signup: ${await res.text()}`).toBe(201);
}

/** Fills and submits the login form on the current page. */
export async function submitLogin(page: Page, email: string, password: string): Promise<void> {
  await page.getByLabel('Email', { exact: true }).fill(email);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByRole('button', { name: 'Log in', exact: true }).click();
}

/** Logs in through the UI and waits for "My apps". */
export async function logInByUi(page: Page, email: string, password = PASSWORD): Promise<void> {
  await gotoHydrated(page, '/login');
  await submitLogin(page, email, password);
  await expectPath(page, '/apps');
  await expect(page.getByRole('heading', { name: 'My apps' })).toBeVisible();
  await waitHydrated(page);
}
