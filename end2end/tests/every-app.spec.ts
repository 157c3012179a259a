// Every generated app works in a browser: each description of the development set is generated
// and deployed, its live URL opened, an end user signs up where the app has accounts, and a
// record of each collection is created, edited and deleted through the app's own pages. Any
// console error or failed request fails the test (a signed-out visitor of an app with accounts
// is asked to log in, without a refused request).

import type { Page } from '@playwright/test';
import { devSet } from './devset';
import { expect, signUpByApi, test } from './fixtures';
import { uniqueEmail, waitForLink } from './mail';

type Field = {
  name: string;
  label: string;
  type: string;
  required?: boolean;
  values?: string[];
  min?: number;
  max?: number;
  entity?: string;
};
type Entity = { name: string; label: string; collection: string; fields: Field[]; access?: string };
type Spec = { features: string[]; entities: Entity[] };


/** Entities with the ones they refer to first (so a ref has something to point at). */
function ordered(spec: Spec): Entity[] {
  const out: Entity[] = [];
  const visit = (e: Entity, seen: Set<string>) => {
    if (out.includes(e) || seen.has(e.name)) return;
    seen.add(e.name);
    for (const f of e.fields.filter((f) => f.type === 'ref')) {
      const target = spec.entities.find((t) => t.name === f.entity);
      if (target) visit(target, seen);
    }
    out.push(e);
  };
  for (const e of spec.entities) visit(e, new Set());
  return out;
}

/** A label as the form shows it: the field's label, with ` *` when it is required. */
const labelled = (label: string) =>
  new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( \\*)?$`);

async function fill(page: Page, f: Field, round: number) {
  const control = page.getByLabel(labelled(f.label));
  switch (f.type) {
    case 'int': {
      const n = Math.min(Math.max(3, f.min ?? 3), f.max ?? 3);
      return control.fill(String(n));
    }
    case 'decimal':
      return control.fill('12.5');
    case 'bool':
      return control.selectOption('true');
    case 'date':
      return control.fill('2026-12-01');
    case 'datetime':
      return control.fill('2026-12-01T18:30');
    case 'time':
      return control.fill('18:30');
    case 'email':
      return control.fill('someone@example.com');
    case 'url':
      return control.fill('https://example.com/page');
    case 'enum':
      return control.selectOption(f.values![round % f.values!.length]);
    case 'ref':
      return control.selectOption({ index: 1 });
    default:
      return control.fill(`${f.label} ${round === 0 ? 'one' : 'edited'}`);
  }
}

// A control that is not there fails the step quickly instead of waiting for the test's timeout.
test.use({ actionTimeout: 15_000, navigationTimeout: 30_000 });

test('every dev-set app: generate, open, sign up, create / edit / delete a record of each collection', async ({
  page,
  browser,
}) => {
  const cases = devSet();
  test.setTimeout(cases.length * 90_000);
  const owner = uniqueEmail('every');
  await signUpByApi(page.request, owner);
  await page.goto(await waitForLink(owner));

  for (const c of cases) {
    await test.step(c.id, async () => {
      const res = await page.request.post('/api/createApp', { data: { description: c.description } });
      expect(res.status(), await res.text()).toBe(201);
      const { job_id: jobId } = await res.json();
      let status: { state: string; url?: string; error?: string } = { state: 'queued' };
      await expect
        .poll(
          async () => {
            status = await (await page.request.get(`/api/status?job_id=${jobId}`)).json();
            return status.state;
          },
          { timeout: 120_000, intervals: [300] },
        )
        .toMatch(/^(live|failed|cancelled|awaiting_confirmation)$/);
      expect(status.state, `${c.id}: ${status.error}`).toBe('live');
      const url = status.url!;

      const context = await browser.newContext();
      const app = await context.newPage();
      const problems: string[] = [];
      app.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      app.on('console', (m) => {
        if (m.type() === 'error') problems.push(`console: ${m.text()}`);
      });
      app.on('response', (r) => {
        if (r.status() >= 400) problems.push(`${r.request().method()} ${r.url()} → ${r.status()}`);
      });
      app.on('requestfailed', (r) => problems.push(`${r.method()} ${r.url()} failed: ${r.failure()?.errorText}`));

      // The plan first (as a document of the app's origin), then the app's home page signed
      // out: where it has accounts and its records are not public, it asks for a log-in.
      await app.goto(`${url}app.json`);
      const spec = JSON.parse(await app.locator('body').innerText()) as Spec;
      await app.goto(url);
      const home = spec.entities[0];
      const auth = spec.features.includes('auth');
      if (auth && home.access && home.access !== 'public') {
        await expect(app.getByRole('heading', { name: 'Log in to continue' })).toBeVisible();
        await app.getByRole('main').getByRole('link', { name: 'sign up' }).click();
      } else {
        await expect(app.getByRole('heading', { level: 1 })).toBeVisible();
      }
      if (auth) {
        await app.goto(`${url}#/auth/signup`);
        await app.getByLabel(labelled('Email')).fill('end@example.com');
        await app.getByLabel(labelled('Password')).fill('long enough password');
        await app.getByRole('button', { name: 'Create account' }).click();
        await expect(app.getByRole('button', { name: 'Log out' })).toBeVisible();
      }

      const created: { e: Entity; href: string }[] = [];
      for (const e of ordered(spec)) {
        const one = e.label.toLowerCase();
        await app.goto(`${url}#/${e.collection}/new`);
        for (const f of e.fields) await fill(app, f, 0);
        await app.getByRole('button', { name: `Save ${one}` }).click();
        const edit = app.getByRole('link', { name: `Edit ${one}` });
        await expect(edit, `${c.id}: ${e.name} saved`).toBeVisible();
        const href = app.url();
        created.push({ e, href });
        // Edit: every text field and enum takes a new value, shown on the detail page.
        await edit.click();
        const texts = e.fields.filter((f) => ['text', 'long_text'].includes(f.type));
        for (const f of e.fields.filter((f) => ['text', 'long_text', 'enum'].includes(f.type))) {
          await fill(app, f, 1);
        }
        await app.getByRole('button', { name: `Save ${one}` }).click();
        await expect(app.getByRole('link', { name: `Edit ${one}` })).toBeVisible();
        for (const f of texts) await expect(app.locator('main')).toContainText(`${f.label} edited`);
      }
      // Delete them, the ones that others refer to last.
      for (const { e, href } of created.reverse()) {
        const one = e.label.toLowerCase();
        await app.goto(href);
        await app.getByRole('button', { name: `Delete ${one}` }).click();
        await app.getByRole('dialog').getByRole('button', { name: 'Delete', exact: true }).click();
        await expect(app).toHaveURL(new RegExp(`#/${e.collection}$`));
      }
      await app.goto(`${url}#/${spec.entities[0].collection}`);
      await expect(app.locator('main')).toContainText(/No .+ yet\./);
      expect(problems, c.id).toEqual([]);
      await context.close();
    });
  }
});
