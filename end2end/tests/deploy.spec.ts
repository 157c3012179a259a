// Deploy, as a new user meets it: generate the dev set's todo app, follow it to "live", open it on
// its own origin, sign up as its end users, add / edit / complete / delete tasks through its own
// pages, then change the description (one more field) and regenerate: version 2 is live, the
// tasks are kept, the new field is in the form, and the owner was emailed each time.

import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from '@playwright/test';
import { devDescription } from './devset';
import { expect, expectPath, gotoHydrated, logInByUi, signUpByApi, test } from './fixtures';
import { mailsTo, uniqueEmail, waitForLink } from './mail';


/** A fresh browser context on the app (its own cookies), failing on console errors. */
async function endUser(browser: Browser, url: string, email: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  (page as Page & { problems?: string[] }).problems = problems;
  await page.goto(`${url}#/auth/signup`);
  await page.getByLabel(/^Email/).fill(email);
  await page.getByLabel(/^Password/).fill('correct horse battery');
  await page.getByRole('button', { name: 'Create account' }).click();
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();
  await expect(page.locator('header')).toContainText(email);
  return page;
}

async function addTask(page: Page, url: string, title: string, priority: string) {
  await page.goto(`${url}#/tasks/new`);
  await page.getByLabel(/^Title/).fill(title);
  await page.getByLabel(/^Priority/).selectOption(priority);
  await page.getByRole('button', { name: 'Save task' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toContainText(title);
}

async function taskTitles(page: Page, url: string): Promise<string[]> {
  await page.goto(`${url}#/tasks`);
  await expect(page.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
  await expect(page.getByRole('status').filter({ hasText: 'Loading' })).toHaveCount(0);
  return (await page.locator('#results li a').allTextContents()).map((t) => t.trim());
}

test('generate the todo app, use it on its own origin as two end users, redeploy with a new field', async ({
  page,
  browser,
}) => {
  test.setTimeout(600_000);
  const owner = uniqueEmail('deploy');
  await signUpByApi(page.request, owner);
  await page.goto(await waitForLink(owner));
  await expectPath(page, '/verified');
  await logInByUi(page, owner);

  // Describe the todo app and generate it as planned.
  await gotoHydrated(page, '/apps/new');
  await page.getByLabel('Describe your app').fill(devDescription('todo'));
  await page.getByRole('button', { name: 'Plan the app' }).click();
  await expect(page.getByRole('region', { name: 'Task', exact: true })).toBeVisible();
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page).toHaveURL(/\/apps\/\d+$/);
  const appId = Number(new URL(page.url()).pathname.split('/').pop());
  const status = page.getByRole('region', { name: 'Generation status' });
  await expect(status.locator('[data-state]')).toHaveAttribute('data-state', 'live', { timeout: 300_000 });
  await expect(status.getByRole('list', { name: 'Build log' })).toContainText('[deploying]');
  await expect(status.getByRole('list', { name: 'Build log' })).toContainText('smoke check passed');
  // The page shows where it lives: its own origin, not the portal's.
  const link = page.locator('a.app-url');
  await expect(link).toBeVisible();
  const url = (await link.getAttribute('href')) ?? '';
  expect(url).toMatch(/^http:\/\/todo-list(-\d+)?\.localhost:\d+\/$/);
  await expect(page.locator('.live-at')).toContainText('Live (version 1)');

  // Ada signs up on the app itself and works with her tasks.
  const ada = await endUser(browser, url, 'ada@example.com');
  await addTask(ada, url, 'Buy milk', 'high');
  await addTask(ada, url, 'Walk the dog', 'low');
  await addTask(ada, url, 'Call the bank', 'medium');
  // Edit one and complete it.
  await ada.goto(`${url}#/tasks`);
  await ada.getByRole('link', { name: 'Walk the dog' }).click();
  await ada.getByRole('link', { name: 'Edit task' }).click();
  await ada.getByLabel(/^Title/).fill('Walk the dog twice');
  await ada.getByLabel(/^Done/).selectOption('true');
  await ada.getByRole('button', { name: 'Save task' }).click();
  await expect(ada.getByRole('heading', { level: 1 })).toContainText('Walk the dog twice');
  await expect(ada.locator('main')).toContainText('Yes');
  // Delete one, after the confirmation.
  await ada.goto(`${url}#/tasks`);
  await ada.getByRole('link', { name: 'Call the bank' }).click();
  await ada.getByRole('button', { name: 'Delete task' }).click();
  await ada.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(ada.getByRole('heading', { name: 'Tasks', level: 1 })).toBeVisible();
  // A reload keeps them (stored on the server, under Ada's session).
  await ada.reload();
  expect((await taskTitles(ada, url)).sort()).toEqual(['Buy milk', 'Walk the dog twice']);

  // Bob sees none of Ada's tasks.
  const bob = await endUser(browser, url, 'bob@example.com');
  expect(await taskTitles(bob, url)).toEqual([]);

  // Through the API: a bad enum value is a 422 with the field named; an anonymous read of a
  // private collection is a 401. (Run inside the app's origin, as its own pages would.)
  const bad = await ada.evaluate(async () => {
    const r = await fetch('/api/tasks', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ title: 'x', priority: 'urgent' }),
    });
    return { status: r.status, body: await r.json() };
  });
  expect(bad.status).toBe(422);
  expect(bad.body.fields[0].field).toBe('priority');
  const anonymous = await ada.evaluate(async () => (await fetch('/api/tasks', { credentials: 'omit' })).status);
  expect(anonymous).toBe(401);
  // Those two refusals were asked for: they are not the app's own errors.
  const adaProblems = (ada as Page & { problems?: string[] }).problems ?? [];
  expect(adaProblems.filter((p) => /422|401/.test(p)).length).toBeLessThanOrEqual(2);
  adaProblems.splice(0, adaProblems.length, ...adaProblems.filter((p) => !/422|401/.test(p)));

  // The owner edits the description (one more field) and generates again.
  await gotoHydrated(page, `/apps/${appId}`);
  const described = devDescription('todo').replace(
    'a due date and a priority (low, medium, high)',
    'a due date, a priority (low, medium, high) and notes',
  );
  expect(described).toContain('and notes');
  await page.getByLabel('Description').fill(described);
  await page.getByRole('button', { name: 'Generate again' }).click();
  await expect(page.locator('.live-at')).toContainText('Live (version 2)', { timeout: 300_000 });
  await expect(page.getByRole('table', { name: 'Versions' })).toContainText('v2');

  // Version 2: Ada's tasks are still there and the form has the new field.
  await ada.reload();
  expect((await taskTitles(ada, url)).sort()).toEqual(['Buy milk', 'Walk the dog twice']);
  await ada.goto(`${url}#/tasks/new`);
  await expect(ada.getByLabel(/^Notes/)).toBeVisible();
  await ada.getByLabel(/^Title/).fill('Plan the trip');
  await ada.getByLabel(/^Notes/).fill('Train, not plane.');
  await ada.getByRole('button', { name: 'Save task' }).click();
  await expect(ada.locator('main')).toContainText('Train, not plane.');
  expect((ada as Page & { problems?: string[] }).problems).toEqual([]);
  expect((bob as Page & { problems?: string[] }).problems).toEqual([]);

  // A plan that drops `priority` (which holds Ada's values) waits for the owner; the page says
  // what would be lost, and deploying anyway takes one click.
  const detail = await (await page.request.get(`/api/apps/${appId}`)).json();
  for (const e of detail.spec.entities) e.fields = e.fields.filter((f: { name: string }) => f.name !== 'priority');
  const queued = await page.request.post(`/api/apps/${appId}/generate`, { data: { spec: detail.spec } });
  expect(queued.status()).toBe(202);
  await gotoHydrated(page, `/apps/${appId}`);
  await expect(status.locator('[data-state]')).toHaveAttribute('data-state', 'awaiting_confirmation', {
    timeout: 120_000,
  });
  await expect(page.getByRole('alert').filter({ hasText: 'Not deployed yet' })).toContainText(
    'have a value in Priority, which the new plan drops',
  );
  await expect(page.locator('.live-at')).toContainText('Live (version 2)');
  await page.getByRole('button', { name: 'Deploy anyway and lose this data' }).click();
  await expect(page.locator('.live-at')).toContainText('Live (version 3)', { timeout: 120_000 });
  await ada.reload();
  expect((await taskTitles(ada, url)).sort()).toEqual(['Buy milk', 'Plan the trip', 'Walk the dog twice']);

  // Roll back to version 2 in one click: the priorities come back (they were kept, hidden);
  // then forward to 3 again. Ada's tasks are intact throughout.
  const versions = page.getByRole('table', { name: 'Versions' });
  await versions.getByRole('button', { name: 'Roll back to v2' }).click();
  await expect(page.locator('.live-at')).toContainText('Live (version 2)', { timeout: 120_000 });
  // The app's pages are loaded once: a reload picks up the version now live.
  await ada.goto(`${url}#/tasks`);
  await ada.reload();
  await ada.getByRole('link', { name: 'Buy milk' }).click();
  await expect(ada.locator('main')).toContainText('high');
  expect((await taskTitles(ada, url)).sort()).toEqual(['Buy milk', 'Plan the trip', 'Walk the dog twice']);
  await versions.getByRole('button', { name: 'Roll back to v3' }).click();
  await expect(page.locator('.live-at')).toContainText('Live (version 3)', { timeout: 120_000 });
  await ada.reload();
  expect((await taskTitles(ada, url)).sort()).toEqual(['Buy milk', 'Plan the trip', 'Walk the dog twice']);

  // Self-healing: a file of the live version disappears from disk; within a healing pass (every
  // 15 s) it is written again from the version's archive, and the app page lists the repair.
  const index = join(process.env.KILN_E2E_DATA_DIR!, 'apps', String(appId), 'versions', '3', 'index.html');
  rmSync(index);
  const home = () => ada.evaluate(async () => (await fetch('/', { cache: 'no-store' })).status);
  expect(await home()).toBe(404);
  await expect.poll(home, { timeout: 40_000, intervals: [500] }).toBe(200);
  expect(existsSync(index)).toBe(true);
  await gotoHydrated(page, `/apps/${appId}`);
  await expect(page.locator('main')).toContainText("version 3's files were restored from its archive");
  await expect
    .poll(async () => (await mailsTo(owner)).some((m) => m.includes('index.html')), { timeout: 15_000 })
    .toBe(true);

  // The owner's outbox: a "live" email for each version, with the app's URL.
  const isLive = (m: string) => /^Subject: Your app .* is live/m.test(m);
  await expect.poll(async () => (await mailsTo(owner)).filter(isLive).length, { timeout: 15_000 }).toBe(5);
  const live = (await mailsTo(owner)).find(isLive) ?? '';
  expect(live.replace(/=\r?\n/g, '')).toContain(new URL(url).host);

  // Deleting the app takes typing its slug; then it is gone, from the portal and its origin.
  await gotoHydrated(page, `/apps/${appId}`);
  const slug = new URL(url).hostname.split('.')[0];
  const del = page.getByRole('region', { name: 'Delete this app' });
  await expect(del.getByRole('button', { name: 'Delete app' })).toBeDisabled();
  await del.getByLabel(`Type ${slug} to confirm`).fill(slug);
  await del.getByRole('button', { name: 'Delete app' }).click();
  await expectPath(page, '/apps');
  await expect(page.getByRole('link', { name: 'Todo list', exact: true })).toHaveCount(0);
  // (Asked from the app's page: Node's own resolver may not know *.localhost.)
  expect(await ada.evaluate(async () => (await fetch('/api/health')).status)).toBe(404);
});
