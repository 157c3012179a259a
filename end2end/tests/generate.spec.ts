// The create-app wizard, as a new user goes through it: describe the todo app of the
// development set, review and edit the plan, generate, follow the live status, download the zip
// and check it with Prettier, ESLint and node --test outside Kiln (a plain npm install).

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devDescription } from './devset';
import { expect, expectPath, gotoHydrated, logInByUi, signUpByApi, test } from './fixtures';
import { uniqueEmail, waitForLink } from './mail';


function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: 'pipe', timeout: 240_000 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${cmd} ${args.join(' ')} failed:\n${err.stdout ?? ''}\n${err.stderr ?? ''}\n${err.message}`);
  }
}

test('describe, review and edit the plan, generate, watch it live, download a zip that passes its checks', async ({
  page,
}) => {
  test.setTimeout(420_000);
  const email = uniqueEmail('wizard');
  await signUpByApi(page.request, email);
  await page.goto(await waitForLink(email));
  await expectPath(page, '/verified');
  await logInByUi(page, email);

  // 1. Describe.
  await page.getByRole('link', { name: 'Create new app' }).first().click();
  await expectPath(page, '/apps/new');
  await gotoHydrated(page, '/apps/new');
  const describe = page.getByLabel('Describe your app');
  // An example fills the editor; then the person writes their own.
  await page.getByRole('button', { name: 'Book club' }).click();
  await expect(describe).toHaveValue(/book club/);
  await describe.fill(devDescription('todo'));
  await page.getByRole('button', { name: 'Plan the app' }).click();

  // 2. Review: the planner found tasks with a due date and a priority enum, with accounts.
  const task = page.getByRole('region', { name: 'Task', exact: true });
  await expect(task).toBeVisible();
  await expect(page.getByRole('checkbox', { name: /Accounts/ })).toBeChecked();
  await expect(task.getByLabel('Type of Due date')).toHaveValue('date');
  await expect(task.getByLabel('Type of Priority')).toHaveValue('enum');
  await expect(task.getByLabel('Values of Priority')).toHaveValue('low, medium, high');
  await expect(task.getByLabel('Who sees it')).toHaveValue('private');

  // Edit: rename the app, add a field with a type, change a type, drop a value, then an
  // invalid edit is refused in place until fixed.
  await page.getByLabel('App name').fill('My Todos');
  await task.getByRole('button', { name: 'Add a field to Task' }).click();
  const newField = task.locator('tbody tr').last();
  await newField.getByLabel('Field name').fill('Estimate');
  await task.getByLabel('Type of Estimate').selectOption('int');
  await task.getByLabel('Smallest Estimate').fill('1');
  await task.getByLabel('Largest Estimate').fill('8');
  await task.getByLabel('Values of Priority').fill('low, high');
  await newField.getByLabel('Field name').fill('id');
  await expect(page.getByRole('alert').filter({ hasText: 'Fix these before generating' })).toContainText(
    'reserved',
  );
  await expect(page.getByRole('button', { name: 'Generate' })).toBeDisabled();
  await newField.getByLabel('Field name').fill('Estimate');
  await expect(page.getByRole('button', { name: 'Generate' })).toBeEnabled();

  // 3. Generate → the app's page follows the job live to the end.
  await page.getByRole('button', { name: 'Generate' }).click();
  await expect(page).toHaveURL(/\/apps\/\d+$/);
  const appId = Number(new URL(page.url()).pathname.split('/').pop());
  await expect(page.getByRole('heading', { name: 'My Todos', level: 1 })).toBeVisible();
  const status = page.getByRole('region', { name: 'Generation status' });
  await expect(status.locator('[data-state]')).toHaveAttribute('data-state', 'live', {
    timeout: 300_000,
  });
  const log = status.getByRole('list', { name: 'Build log' });
  await expect(log).toContainText('[checking]');
  await expect(log).toContainText('prettier: passed');
  await expect(log).toContainText('eslint: passed');
  await expect(log).toContainText('node --test: passed');
  await expect(status.locator('.elapsed')).toContainText(/took \d+\.\d s/);
  await expect(status.getByRole('progressbar')).toHaveAttribute('value', '100');
  // The page reloaded its data when the job ended: version 1 is listed.
  const versions = page.getByRole('table', { name: 'Versions' });
  await expect(versions.getByRole('row')).toHaveCount(2);
  await expect(versions).toContainText('v1');

  // Generating again while nothing changed is allowed; asking twice at once is a 409.
  const [a, b] = await Promise.all([
    page.request.post(`/api/apps/${appId}/generate`, { data: {} }),
    page.request.post(`/api/apps/${appId}/generate`, { data: {} }),
  ]);
  const codes = [a.status(), b.status()].sort();
  expect(codes, `${await a.text()} ${await b.text()}`).toEqual([202, 409]);
  const refused = a.status() === 409 ? a : b;
  expect(((await refused.json()) as { message: string }).message).toMatch(/Job \d+ is already/);

  // Download version 1 and check it on this machine, outside the sandbox.
  const downloadPromise = page.waitForEvent('download');
  await versions.getByRole('link', { name: 'Download v1' }).click();
  const download = await downloadPromise;
  const dir = mkdtempSync(join(tmpdir(), 'kiln-zip-'));
  const zip = join(dir, 'app.zip');
  await download.saveAs(zip);
  run('python3', ['-m', 'zipfile', '-e', zip, dir], dir);
  const tree = join(dir, (await (await page.request.get(`/api/apps/${appId}`)).json()).slug as string);
  const spec = JSON.parse(readFileSync(join(tree, 'app.json'), 'utf8'));
  expect(spec.name).toBe('My Todos');
  const fields = spec.entities[0].fields as { name: string; type: string; min?: number; max?: number; values?: string[] }[];
  expect(fields.find((f) => f.name === 'estimate')).toMatchObject({ type: 'int', min: 1, max: 8 });
  expect(fields.find((f) => f.name === 'priority')?.values).toEqual(['low', 'high']);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], tree);
  run('npx', ['prettier', '--check', '.'], tree);
  run('npx', ['eslint', '--max-warnings=0', '.'], tree);
  run('node', ['--test', 'tests/'], tree);
});
