import { expect, expectPath, gotoHydrated, logInByUi, signUpByApi, test } from './fixtures';
import { uniqueEmail, waitForLink } from './mail';

test('an app generated through the API shows up in My apps', async ({ page, request }) => {
  const email = uniqueEmail('maker');
  await signUpByApi(request, email);
  await page.goto(await waitForLink(email));
  await expectPath(page, '/verified');
  await logInByUi(page, email);
  await expect(page.getByText('No apps yet')).toBeVisible();

  const res = await page.request.post('/api/createApp', {
    data: { description: 'A reading list (title, author, status: want to read / reading / finished).' },
  });
  expect(res.status(), await res.text()).toBe(201);
  const { job_id: jobId, slug } = (await res.json()) as { job_id: number; slug: string };
  await expect
    .poll(
      async () => {
        const s = await page.request.get(`/api/status?job_id=${jobId}`);
        return ((await s.json()) as { state: string }).state;
      },
      { timeout: 90_000, intervals: [500] },
    )
    .toBe('live');

  await gotoHydrated(page, '/apps');
  const list = page.getByRole('list', { name: 'My apps' });
  const item = list.getByRole('listitem').filter({ hasText: slug });
  await expect(item).toHaveCount(1);
  await expect(item).toContainText('live');
  await expect(item).toContainText('1 version(s)');
});
