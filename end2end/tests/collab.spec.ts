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
