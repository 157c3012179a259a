// Collaboration with one peer in Chromium (the portal's own editor, a yrs document in wasm) and
// one Node peer (npm yjs + y-websocket, end2end/collab/peer.mjs): each sees the other's edits
// and presence, a remote edit does not move the browser's caret, and Generate reads the
// shared text.

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { expect, gotoHydrated, signUpByApi, test } from './fixtures';
import { uniqueEmail, waitForLink } from './mail';

test('the description is co-edited live by the portal editor and a Yjs peer', async ({ page }) => {
  test.setTimeout(90_000);
  const owner = uniqueEmail('collab');
  await signUpByApi(page.request, owner);
  await page.goto(await waitForLink(owner));
  const res = await page.request.post('/api/createApp', {
    data: { description: 'A recipe box with ingredients.' },
  });
  expect(res.status(), await res.text()).toBe(201);
  const { app_id: appId } = await res.json();
  const tokenRes = await page.request.post('/api/tokens', { data: { name: 'node peer' } });
  expect(tokenRes.status()).toBe(201);
  const { token } = await tokenRes.json();

  // The Node peer waits for the browser's words, then adds its own.
  const ws = new URL(page.url()).origin.replace(/^http/, 'ws');
  const node = spawn('node', [
    join(__dirname, '../collab/peer.mjs'),
    'companion', ws, String(appId), token, 'Typed in Chromium.', ' From Node.',
  ]);
  let nodeOut = '';
  node.stdout.on('data', (d) => (nodeOut += d));
  node.stderr.on('data', (d) => (nodeOut += d));
  const nodeDone = new Promise<number>((resolve) => node.on('exit', (code) => resolve(code ?? 1)));

  await gotoHydrated(page, `/apps/${appId}`);
  const status = page.locator('.presence [role=status]');
  await expect(status).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  // Presence: the Node peer is listed, in its colour.
  await expect(page.getByRole('list', { name: 'Who else is here' })).toContainText('node-peer');

  const editor = page.locator('#description');
  await editor.click();
  await editor.press('End');
  await page.keyboard.press('Control+End');
  await page.keyboard.type(' Typed in Chromium.');
  await expect(editor).toHaveValue('A recipe box with ingredients. Typed in Chromium. From Node.', {
    timeout: 15_000,
  });
  expect(await nodeDone, nodeOut).toBe(0);
  expect(JSON.parse(nodeOut.trim().split('\n').at(-1)!).text).toBe(
    'A recipe box with ingredients. Typed in Chromium. From Node.',
  );

  // A remote edit at the end does not move a caret at the start.
  await page.keyboard.press('Control+Home');
  const again = spawn('node', [
    join(__dirname, '../collab/peer.mjs'),
    'edit', ws, String(appId), token, ' Remote.',
  ]);
  await new Promise((r) => again.on('exit', r));
  await expect(editor).toHaveValue(/ Remote\.$/);
  await page.keyboard.type('My ');
  await expect(editor).toHaveValue(
    'My A recipe box with ingredients. Typed in Chromium. From Node. Remote.',
  );

  // Generate reads the shared document (the API shows the description it recorded).
  await expect
    .poll(async () => (await (await page.request.get(`/api/apps/${appId}`)).json()).job?.state, {
      timeout: 60_000,
    })
    .toMatch(/^(live|failed|cancelled)$/);
  await page.reload();
  await expect(status).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await page.getByRole('button', { name: 'Generate again' }).click();
  await expect
    .poll(async () => (await (await page.request.get(`/api/apps/${appId}`)).json()).description, {
      timeout: 15_000,
    })
    .toBe('My A recipe box with ingredients. Typed in Chromium. From Node. Remote.');
});

test('the owner invites, changes roles and removes people from the app page', async ({
  page,
  newPage,
}) => {
  test.setTimeout(90_000);
  const owner = uniqueEmail('owner');
  const guest = uniqueEmail('guest');
  await signUpByApi(page.request, owner);
  await page.goto(await waitForLink(owner));
  const res = await page.request.post('/api/apps', {
    data: { description: 'A shared packing list for trips.' },
  });
  expect(res.status(), await res.text()).toBe(201);
  const { app_id: appId } = await res.json();

  // The owner invites by email from the app page.
  await gotoHydrated(page, `/apps/${appId}`);
  const people = page.getByRole('region', { name: 'People' });
  await expect(people.getByRole('list', { name: 'People with access' })).toContainText(owner);
  await people.getByLabel('Invite by email').fill(guest);
  await people.getByLabel('as').selectOption('editor');
  await people.getByRole('button', { name: 'Send invitation' }).click();
  await expect(people.getByRole('status')).toContainText(`Invitation sent to ${guest}`);
  await expect(people.getByRole('list', { name: 'Open invitations' })).toContainText(guest);

  // The guest signs up with that address and follows the emailed link to the app.
  const other = await newPage();
  await signUpByApi(other.request, guest);
  await other.goto(await waitForLink(guest));
  const link = await waitForLink(guest, '/invites/');
  await other.goto(link);
  await expect(other).toHaveURL(new RegExp(`/apps/${appId}$`));
  await expect(other.getByText('You are an editor of this app')).toBeVisible();
  await gotoHydrated(other, `/apps/${appId}`);

  // Both are live and see each other; the guest's words reach the owner.
  const ownerStatus = page.locator('.presence [role=status]');
  const guestStatus = other.locator('.presence [role=status]');
  await expect(guestStatus).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await expect(ownerStatus).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await expect(page.getByRole('list', { name: 'Who else is here' })).toContainText(guest);
  await expect(other.getByRole('list', { name: 'Who else is here' })).toContainText(owner);
  const guestEditor = other.locator('#description');
  await guestEditor.click();
  await other.keyboard.press('Control+End');
  await other.keyboard.type(' Tents too.');
  await expect(page.locator('#description')).toHaveValue(
    'A shared packing list for trips. Tents too.',
    { timeout: 15_000 },
  );
  await expect(people.getByRole('list', { name: 'People with access' })).toContainText(guest);
  await expect(people.getByRole('list', { name: 'Open invitations' })).toHaveCount(0);

  // "My apps" lists the app for the guest, marked as shared.
  const mine = await newPage();
  await mine.context().addCookies(await other.context().cookies());
  await gotoHydrated(mine, '/apps');
  await expect(mine.getByRole('list', { name: 'My apps' })).toContainText('shared with you · editor');
  await mine.close();

  // The owner makes the guest a viewer: the guest's page comes back view only.
  await people.getByLabel(`Role of ${guest}`).selectOption('viewer');
  await expect(other.getByText('You are a viewer of this app')).toBeVisible({ timeout: 15_000 });
  await expect(guestStatus).toHaveAttribute('data-live', 'true', { timeout: 15_000 });
  await expect(guestStatus).toContainText('view only');
  await expect(other.locator('#description')).toHaveJSProperty('readOnly', true);

  // The owner removes the guest: the guest's connection closes and the app is gone for them.
  await people.getByRole('button', { name: `Remove ${guest}` }).click();
  await expect(people.getByRole('list', { name: 'People with access' })).not.toContainText(guest);
  await expect(other.getByRole('heading', { name: 'App not found' })).toBeVisible({
    timeout: 15_000,
  });
  await expect(other.getByRole('status').filter({ hasText: 'access to this app was removed' })).toBeVisible();
  const denied = await other.request.get(`/api/apps/${appId}`);
  expect(denied.status()).toBe(404);
});
