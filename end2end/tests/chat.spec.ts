// AI chat in a generated app: the reading list of the development set (it asks for a chat bot)
// is generated and deployed; on its Assistant page an end user's question streams an answer
// from the model. The model is the local stand-in `end2end/fake-llm.mjs`, which speaks the real
// streaming chat-completions wire format; the test command starts it and points
// KILN_APPS_CHAT_BASE_URL at it (KILN_E2E_CHAT_URL tells this test where it is).

import { devDescription } from './devset';
import { expect, signUpByApi, test } from './fixtures';
import { uniqueEmail, waitForLink } from './mail';

const model = process.env.KILN_E2E_CHAT_URL;

test('a generated app with a chat bot streams the answer on its Assistant page', async ({
  page,
  browser,
}) => {
  expect(model, 'KILN_E2E_CHAT_URL: the stand-in model the test command starts').toBeTruthy();
  test.setTimeout(120_000);
  const owner = uniqueEmail('chat');
  await signUpByApi(page.request, owner);
  await page.goto(await waitForLink(owner));
  const res = await page.request.post('/api/createApp', {
    data: { description: devDescription('reading-ai') },
  });
  expect(res.status(), await res.text()).toBe(201);
  const { job_id: jobId } = await res.json();
  let status: { state: string; url?: string; error?: string } = { state: 'queued' };
  await expect
    .poll(
      async () => {
        status = await (await page.request.get(`/api/status?job_id=${jobId}`)).json();
        return status.state;
      },
      { timeout: 90_000, intervals: [300] },
    )
    .toMatch(/^(live|failed|cancelled|awaiting_confirmation)$/);
  expect(status.state, status.error).toBe('live');

  const app = await (await browser.newContext()).newPage();
  const problems: string[] = [];
  app.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  app.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  app.on('response', (r) => {
    if (r.status() >= 400) problems.push(`${r.request().method()} ${r.url()} → ${r.status()}`);
  });
  await app.goto(`${status.url}#/chat`);
  await expect(app.getByRole('heading', { name: 'Assistant' })).toBeVisible();
  await app.getByLabel('Message').fill('What should I read next?');
  await app.getByRole('button', { name: 'Send' }).click();

  // While it streams: the button waits, and the answer grows piece by piece.
  await expect(app.getByRole('button', { name: 'Send' })).toBeDisabled();
  const log = app.getByRole('log', { name: 'Conversation' });
  await expect(log).toContainText('You asked: What should I read next?');
  await expect(log).toContainText('Book records: Title, Author, Status');
  await expect(app.getByRole('button', { name: 'Send' })).toBeEnabled();
  await expect(app.getByLabel('Message')).toBeFocused();

  // The model was asked with a system prompt built from the app's plan.
  const asked = await (await page.request.get(`${model}/requests`)).json();
  const last = asked.at(-1);
  expect(last.stream).toBe(true);
  expect(last.messages[0].role).toBe('system');
  expect(last.messages[0].content).toContain('Reading list');
  expect(last.messages.at(-1)).toEqual({ role: 'user', content: 'What should I read next?' });
  expect(problems).toEqual([]);
});
