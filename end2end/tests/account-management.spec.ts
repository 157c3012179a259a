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
import { uniqueEmail, waitForLink } from './mail';

test('forgot password, reset by the emailed link, log in with the new password; the old session is gone', async ({
  page,
  newPage,
  request,
}) => {
  const email = uniqueEmail('reset');
  const newPassword = 'a completely new passphrase';
  await signUpByApi(request, email);

  // A browser that was signed in before the reset.
  const before = await newPage();
  await logInByUi(before, email);

  await test.step('ask for a reset link', async () => {
    await gotoHydrated(page, '/login');
    await page.getByRole('link', { name: 'Forgot your password?' }).click();
    await expectPath(page, '/forgot-password');
    await waitHydrated(page);
    await page.getByLabel('Email', { exact: true }).fill(email);
    await page.getByRole('button', { name: 'Send reset link', exact: true }).click();
    await expect(page.getByRole('status').filter({ hasText: 'Check your email' })).toBeVisible();
  });

  await test.step('set a new password by the emailed link', async () => {
    const link = await waitForLink(email, '/reset-password?token=');
    await page.goto(link);
    await waitHydrated(page);
    await expect(page.getByRole('heading', { name: 'Choose a new password' })).toBeVisible();
    await page.getByLabel('New password', { exact: true }).fill(newPassword);
    await page.getByRole('button', { name: 'Set new password', exact: true }).click();
    await expectPath(page, '/login');
    await expect(page.getByRole('status').filter({ hasText: 'Your password was changed' })).toBeVisible();
  });

  await test.step('the old password no longer works, the new one does', async () => {
    await waitHydrated(page);
    await submitLogin(page, email, PASSWORD);
    await expect(page.getByRole('alert').filter({ hasText: 'Wrong email or password' })).toBeVisible();
    await submitLogin(page, email, newPassword);
    await expectPath(page, '/apps');
  });

  await test.step('the session from before the reset is gone', async () => {
    await before.goto('/settings');
    await expectPath(before, '/login');
  });

  await test.step('the link worked once', async () => {
    const link = await waitForLink(email, '/reset-password?token=');
    await page.goto(link);
    await waitHydrated(page);
    await page.getByLabel('New password', { exact: true }).fill('yet another passphrase');
    await page.getByRole('button', { name: 'Set new password', exact: true }).click();
    await expect(page.getByRole('alert').filter({ hasText: 'already used' })).toBeVisible();
  });
});

test('change the email address, verify the new one, log in with it', async ({ page, request }) => {
  const oldEmail = uniqueEmail('old');
  const newEmail = uniqueEmail('new');
  await signUpByApi(request, oldEmail);
  await logInByUi(page, oldEmail);

  await gotoHydrated(page, '/settings');
  await expect(page.getByTestId('current-email')).toHaveText(oldEmail);
  await page.getByLabel('New email address', { exact: true }).fill(newEmail);
  await page.getByRole('button', { name: 'Change email', exact: true }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Check your new inbox' })).toBeVisible();
  // Nothing changes until the new address is verified; the old one got a way to undo.
  await expect(page.getByTestId('current-email')).toHaveText(oldEmail);
  await waitForLink(oldEmail, '/email/undo?token=');

  const confirm = await waitForLink(newEmail, '/email/confirm?token=');
  await page.goto(confirm);
  await expectPath(page, '/email-changed');
  await expect(page.getByRole('heading', { name: 'Email address changed' })).toBeVisible();

  await gotoHydrated(page, '/settings');
  await expect(page.getByTestId('current-email')).toHaveText(newEmail);
  await page.getByRole('button', { name: 'Log out', exact: true }).click();
  await expectPath(page, '/');

  await gotoHydrated(page, '/login');
  await submitLogin(page, oldEmail, PASSWORD);
  await expect(page.getByRole('alert').filter({ hasText: 'Wrong email or password' })).toBeVisible();
  await submitLogin(page, newEmail, PASSWORD);
  await expectPath(page, '/apps');
});

test('undo an email change from the old address', async ({ page, request }) => {
  const oldEmail = uniqueEmail('keep');
  const newEmail = uniqueEmail('intruder');
  await signUpByApi(request, oldEmail);
  const res = await request.post('/api/email/change', { data: { email: newEmail } });
  expect(res.status()).toBe(202);
  const undo = await waitForLink(oldEmail, '/email/undo?token=');
  await gotoHydrated(page, new URL(undo).pathname + new URL(undo).search);
  await page.getByRole('button', { name: 'Keep my old address', exact: true }).click();
  await expectPath(page, '/email-changed');
  await expect(page.getByRole('heading', { name: 'Change undone' })).toBeVisible();
  // The pending change was cancelled: its link no longer works.
  const confirm = await waitForLink(newEmail, '/email/confirm?token=');
  await page.goto(confirm);
  await expect(page.getByRole('heading', { name: 'Link not valid' })).toBeVisible();
  await logInByUi(page, oldEmail);
});

test('sessions: see them, revoke another, log out everywhere', async ({ page, newPage, request }) => {
  const email = uniqueEmail('sessions');
  await signUpByApi(request, email);
  const other = await newPage();
  await logInByUi(other, email);
  await logInByUi(page, email);

  await gotoHydrated(page, '/settings');
  const list = page.getByRole('list', { name: 'Sessions' });
  await expect(list.getByRole('listitem')).toHaveCount(3); // API sign-up, the other browser, this one
  await expect(list.getByText('This browser')).toHaveCount(1);
  const others = list.getByRole('listitem').filter({ hasNotText: 'This browser' });
  await others.first().getByRole('button', { name: /^Revoke session/ }).click();
  await expect(list.getByRole('listitem')).toHaveCount(2);

  await page.getByRole('button', { name: 'Log out everywhere', exact: true }).click();
  await expectPath(page, '/login');
  await other.goto('/apps');
  await expectPath(other, '/login');
});

test('delete the account', async ({ page, request }) => {
  const email = uniqueEmail('delete');
  await signUpByApi(request, email);
  await logInByUi(page, email);
  await gotoHydrated(page, '/settings');
  await page.getByLabel('Password to confirm', { exact: true }).fill('not my password at all');
  await page.getByRole('button', { name: 'Delete my account', exact: true }).click();
  await expect(page.getByRole('alert').filter({ hasText: 'not your current password' })).toBeVisible();
  await page.getByLabel('Password to confirm', { exact: true }).fill(PASSWORD);
  await page.getByRole('button', { name: 'Delete my account', exact: true }).click();
  await expectPath(page, '/');
  await gotoHydrated(page, '/login');
  await submitLogin(page, email, PASSWORD);
  await expect(page.getByRole('alert').filter({ hasText: 'Wrong email or password' })).toBeVisible();
});
