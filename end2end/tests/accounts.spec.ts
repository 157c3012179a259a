import type { APIRequestContext, Locator, Page } from '@playwright/test';
import {
  PASSWORD,
  expect,
  expectPath,
  gotoHydrated,
  logInByUi,
  signUpByApi,
  submitLogin,
  test,
  waitHydrated,
} from './fixtures';
import { countMails, uniqueEmail, waitForLink } from './mail';

function emailInput(page: Page): Locator {
  return page.getByLabel('Email', { exact: true });
}

function passwordInput(page: Page): Locator {
  return page.getByLabel('Password', { exact: true });
}

async function submitSignup(page: Page, email: string, password: string): Promise<void> {
  await emailInput(page).fill(email);
  await passwordInput(page).fill(password);
  await page.getByRole('button', { name: 'Create account', exact: true }).click();
}

/** Opens an emailed verification link the way a mail client would: a plain GET. */
async function openLink(page: Page, link: string): Promise<void> {
  await page.goto(link);
}

/** Status of GET /api/tokens with a bearer token (and no cookies). */
async function tokensStatus(request: APIRequestContext, token: string): Promise<number> {
  const res = await request.get('/api/tokens', { headers: { Authorization: `Bearer ${token}` } });
  return res.status();
}

/** Vertical gap in CSS pixels between two elements' boxes (0 if they overlap vertically). */
async function verticalGap(a: Locator, b: Locator): Promise<number> {
  const [ba, bb] = [await a.boundingBox(), await b.boundingBox()];
  if (!ba || !bb) throw new Error('element has no box');
  return Math.max(0, ba.y - (bb.y + bb.height), bb.y - (ba.y + ba.height));
}

async function me(request: APIRequestContext): Promise<{ id: number; email: string; verified: boolean }> {
  const res = await request.get('/api/me');
  expect(res.status(), `GET /api/me: ${await res.text()}`).toBe(200);
  return res.json();
}

test('sign up, verify by the emailed link, log in, create and revoke a token, log out, log in again', async ({
  page,
  request,
}) => {
  const email = uniqueEmail('journey');
  const tokenName = `laptop-${Date.now()}`;

  await test.step('landing page leads to sign up', async () => {
    await gotoHydrated(page, '/');
    await expect(page.getByRole('heading', { level: 1, name: /Kiln/ }).first()).toBeVisible();
    await expect(page.getByRole('link', { name: 'Log in', exact: true }).first()).toBeVisible();
    await page.getByRole('link', { name: 'Sign up', exact: true }).first().click();
    await expectPath(page, '/signup');
    await waitHydrated(page);
  });

  await test.step('sign up', async () => {
    await submitSignup(page, email, PASSWORD);
    await expectPath(page, '/check-email');
    await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
  });

  await test.step('verify by the emailed link', async () => {
    const link = await waitForLink(email);
    await openLink(page, link);
    await expectPath(page, '/verified');
    await expect(page.getByRole('heading', { name: 'Email verified' })).toBeVisible();
  });

  await test.step('log in', async () => {
    // A fresh session, as if the link had been opened on another device.
    await page.context().clearCookies();
    await logInByUi(page, email);
    await expect(page.getByText('No apps yet')).toBeVisible();
    await expect(page.getByText('Verify your email')).toHaveCount(0);
    const user = await me(page.request);
    expect(user.email).toBe(email);
    expect(user.verified).toBe(true);
  });

  let token = '';
  const tokenList = page.getByRole('list', { name: 'API tokens' });
  const tokenItem = tokenList.getByRole('listitem').filter({ hasText: tokenName });

  await test.step('create a token in settings', async () => {
    await page.getByRole('link', { name: 'Settings', exact: true }).click();
    await expectPath(page, '/settings');
    await waitHydrated(page);
    await expect(page.getByRole('heading', { name: 'Account settings' })).toBeVisible();
    await expect(page.getByRole('heading', { name: 'API tokens' })).toBeVisible();

    await page.getByLabel('Token name', { exact: true }).fill(tokenName);
    await page.getByRole('button', { name: 'Create token', exact: true }).click();
    const shown = page.getByTestId('new-token');
    await expect(shown).toContainText('kiln_');
    const match = ((await shown.textContent()) ?? '').match(/kiln_[A-Za-z0-9_-]+/);
    expect(match, 'new-token holds a kiln_ token').not.toBeNull();
    token = match![0];
    await expect(tokenItem).toHaveCount(1);
  });

  await test.step('the token works against the JSON API', async () => {
    const res = await request.get('/api/tokens', { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status(), await res.text()).toBe(200);
    const body: unknown = await res.json();
    expect(Array.isArray(body)).toBe(true);
    const names = (body as Array<{ name?: string } | string>).map((t) =>
      typeof t === 'string' ? t : t.name,
    );
    expect(names).toContain(tokenName);
  });

  await test.step('the token is shown only once', async () => {
    await gotoHydrated(page, '/settings');
    await expect(tokenItem).toHaveCount(1);
    await expect(page.getByTestId('new-token')).toHaveCount(0);
    await expect(page.locator('body')).not.toContainText(token);
  });

  await test.step('revoke the token', async () => {
    await tokenItem.getByRole('button', { name: `Revoke ${tokenName}`, exact: true }).click();
    await expect(tokenItem).toHaveCount(0);
    await expect.poll(() => tokensStatus(request, token)).toBe(401);
  });

  await test.step('log out', async () => {
    await page.getByRole('button', { name: 'Log out', exact: true }).click();
    await expectPath(page, '/');
    await page.goto('/apps');
    await expectPath(page, '/login');
  });

  await test.step('log in again', async () => {
    await logInByUi(page, email);
  });
});

test('signup form shows field errors', async ({ page, request }) => {
  await test.step('a short password', async () => {
    await gotoHydrated(page, '/signup');
    await submitSignup(page, uniqueEmail('short'), 'short-pw');
    const error = page.getByRole('alert').filter({ hasText: 'at least 12 characters' });
    await expect(error).toBeVisible();
    await expect(passwordInput(page)).toHaveAttribute('aria-invalid', 'true');
    await expect(emailInput(page)).not.toHaveAttribute('aria-invalid', 'true');
    await expectPath(page, '/signup');
    // Next to the password field: nearer to it than to the email field, and close by.
    const toPassword = await verticalGap(error, passwordInput(page));
    const toEmail = await verticalGap(error, emailInput(page));
    expect(toPassword).toBeLessThan(toEmail);
    expect(toPassword).toBeLessThanOrEqual(100);
  });

  await test.step('an email that already has an account', async () => {
    const email = uniqueEmail('dup');
    await signUpByApi(request, email);
    await gotoHydrated(page, '/signup');
    await submitSignup(page, email, PASSWORD);
    await expect(page.getByRole('alert').filter({ hasText: 'already exists' })).toBeVisible();
    await expectPath(page, '/signup');
  });
});

test('wrong password is refused', async ({ page, request }) => {
  const email = uniqueEmail('wrongpw');
  await signUpByApi(request, email);

  await gotoHydrated(page, '/login');
  await submitLogin(page, email, `${PASSWORD}-nope`);
  await expect(page.getByRole('alert').filter({ hasText: 'Wrong email or password' })).toBeVisible();
  await expectPath(page, '/login');

  await submitLogin(page, email, PASSWORD);
  await expectPath(page, '/apps');
  await expect(page.getByRole('heading', { name: 'My apps' })).toBeVisible();
});

test('a verification link works once', async ({ page, request }) => {
  const email = uniqueEmail('once');
  await signUpByApi(request, email);
  const login = await request.post('/api/login', { data: { email, password: PASSWORD } });
  expect(login.status()).toBe(200);
  expect((await me(request)).verified).toBe(false);

  const link = await waitForLink(email);
  await openLink(page, link);
  await expectPath(page, '/verified');
  await expect(page.getByRole('heading', { name: 'Email verified' })).toBeVisible();
  expect((await me(request)).verified).toBe(true);

  await openLink(page, link);
  await expect(page.getByRole('heading', { name: 'Link not valid' })).toBeVisible();
  await expect(page.getByText(/already used/).first()).toBeVisible();
});

test('resend verification', async ({ page, request }) => {
  const email = uniqueEmail('resend');
  await signUpByApi(request, email);
  const firstLink = await waitForLink(email);
  expect(await countMails(email)).toBe(1);

  await logInByUi(page, email);
  await expect(page.getByText('Verify your email').first()).toBeVisible();
  await page.getByRole('button', { name: 'Send a new link', exact: true }).click();
  await expect(page.getByText('We sent a new link').first()).toBeVisible();

  await expect.poll(() => countMails(email), { timeout: 15_000 }).toBe(2);
  const newLink = await waitForLink(email);
  expect(newLink).not.toBe(firstLink);

  // The older link stopped working when the new one was sent (the account is still unverified).
  await openLink(page, firstLink);
  await expect(page.getByRole('heading', { name: 'Link not valid' })).toBeVisible();

  await openLink(page, newLink);
  await expectPath(page, '/verified');
  await expect(page.getByRole('heading', { name: 'Email verified' })).toBeVisible();

  await gotoHydrated(page, '/apps');
  await expect(page.getByRole('heading', { name: 'My apps' })).toBeVisible();
  await expect(page.getByText('Verify your email')).toHaveCount(0);
});

test('forms work without JavaScript', async ({ newPage }) => {
  const email = uniqueEmail('nojs');

  await test.step('sign up', async () => {
    const page = await newPage({ javaScriptEnabled: false });
    await page.goto('/signup');
    await submitSignup(page, email, PASSWORD);
    await expectPath(page, '/check-email');
    await expect(page.getByRole('heading', { name: 'Check your email' })).toBeVisible();
  });

  await test.step('log in', async () => {
    const page = await newPage({ javaScriptEnabled: false });
    await page.goto('/login');
    await submitLogin(page, email, `${PASSWORD}-nope`);
    await expect(
      page.getByRole('alert').filter({ hasText: 'Wrong email or password' }),
    ).toBeVisible();

    await submitLogin(page, email, PASSWORD);
    await expectPath(page, '/apps');
    await expect(page.getByRole('heading', { name: 'My apps' })).toBeVisible();

    // A token created by a plain form post is shown once on the page the form returns to.
    await page.goto('/settings');
    await page.getByLabel('Token name', { exact: true }).fill('no-script');
    await page.getByRole('button', { name: 'Create token', exact: true }).click();
    await expectPath(page, '/settings');
    await expect(page.getByTestId('new-token')).toContainText('kiln_');
    const list = page.getByRole('list', { name: 'API tokens' });
    await expect(list.getByRole('listitem').filter({ hasText: 'no-script' })).toHaveCount(1);
    await page.reload();
    await expect(page.getByTestId('new-token')).toHaveCount(0);

    // Revoking works without script too.
    await list.getByRole('button', { name: 'Revoke no-script', exact: true }).click();
    await expectPath(page, '/settings');
    await expect(list.getByRole('listitem').filter({ hasText: 'no-script' })).toHaveCount(0);
  });
});

test('pages are readable at 375px', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 800 });
  for (const path of ['/', '/signup', '/login']) {
    await gotoHydrated(page, path);
    const scrollWidth = await page.evaluate(() => document.documentElement.scrollWidth);
    expect(scrollWidth, `horizontal overflow on ${path}`).toBeLessThanOrEqual(375);

    if (path === '/') continue;
    const inputs = await page.evaluate(() =>
      Array.from(document.querySelectorAll('input'))
        .filter((input) => input.type !== 'hidden')
        .map((input) => ({ html: input.outerHTML, labelled: (input.labels?.length ?? 0) > 0 })),
    );
    expect(inputs.length, `inputs on ${path}`).toBeGreaterThan(0);
    expect(
      inputs.filter((i) => !i.labelled).map((i) => i.html),
      `inputs without a label on ${path}`,
    ).toEqual([]);
  }
});
