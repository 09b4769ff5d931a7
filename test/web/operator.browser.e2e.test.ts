import type { Browser, Page } from 'playwright-core';
import { adminKey, createConcert, startTestApi, type TestApi } from '../support/api.js';
import {
  describeInBrowser,
  launchBrowser,
  saveScreenshot,
  withScreenshotOnFailure,
} from '../support/browser.js';
import { expectAccessible } from '../support/axe.js';

/** A datetime-local value (the browser's local time) for `ms` from now. */
function localInput(msFromNow: number) {
  const date = new Date(Date.now() + msFromNow);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

describeInBrowser('operator pages in a real browser', () => {
  let api: TestApi;
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  let page: Page;
  beforeAll(async () => {
    api = await startTestApi();
    ({ browser, close: closeBrowser } = await launchBrowser());
    page = await (await browser.newContext({ viewport: { width: 1100, height: 700 } })).newPage();
  });
  afterAll(async () => {
    await closeBrowser?.();
    await api?.close();
  });

  async function enterKey(key: string) {
    await page.goto(api.baseUrl + '/admin');
    // A key entered before is kept for the tab's session: forget it to see the key form.
    await page.evaluate('sessionStorage.clear()');
    await page.goto(api.baseUrl + '/admin');
    await page.getByLabel('X-Admin-Key').fill(key);
    await page.getByRole('button', { name: 'Enter' }).click();
  }

  it('refuses a wrong admin key with a sentence', async () => {
    await withScreenshotOnFailure('operator-key', [page], async () => {
      await enterKey('not-the-key');
      await page.getByRole('alert').getByText('The admin key was not accepted.').waitFor();
      await expectAccessible(page, 'the admin key page with an error');
    });
  });

  it('rebuilds a projection and shows its progress to the swap at the end', async () => {
    // Enough seats that the replay has something to show.
    for (let i = 0; i < 4; i++) await createConcert(api, 250);
    await withScreenshotOnFailure('operator-rebuild', [page], async () => {
      await enterKey(adminKey);
      await page.getByRole('heading', { name: 'Projections' }).waitFor();
      const row = page.locator('tr[data-projection="available-seats"]');
      await row.getByRole('button', { name: 'Rebuild available-seats' }).click();
      await page.getByRole('alert').getByText('Rebuild of available-seats started.').waitFor();
      const progress = row.locator('.rebuild-progress');
      await progress.getByText(/^ ?done: \d+ of \d+ events replayed and swapped in$/).waitFor();
      const [, applied, total] = /done: (\d+) of (\d+)/.exec((await progress.textContent())!)!;
      expect(Number(applied)).toBe(Number(total));
      expect(Number(total)).toBeGreaterThanOrEqual(1000);
      await saveScreenshot(page, 'operator-projections');
      await expectAccessible(page, 'the projections page');
    });
  });

  it('shows waiting and active counts and the admission rate live, and pauses from the page', async () => {
    await withScreenshotOnFailure('operator-queue', [page], async () => {
      await enterKey(adminKey);
      await page.getByRole('button', { name: 'Queue', exact: true }).click();
      await page.getByRole('heading', { name: 'Queue' }).waitFor();
      const cell = (name: string) => page.locator(`#queue-${name}`);
      const shows = (name: string, text: string) =>
        page.locator(`#queue-${name}`, { hasText: new RegExp(`^${text}$`) }).waitFor();
      await shows('mode', 'open');
      const before = Number(await cell('waiting').textContent());

      // Joins through the API while the page stays open: the counts move without a reload.
      await page.getByRole('button', { name: 'Pause admission' }).click();
      await shows('mode', 'paused');
      for (const userId of ['queue-page-1', 'queue-page-2', 'queue-page-3']) {
        const joined = await api.inject({
          method: 'POST',
          url: '/queue/tokens',
          payload: { userId },
        });
        expect(joined.statusCode).toBe(201);
      }
      await shows('waiting', String(before + 3));
      const activeBefore = Number(await cell('active').textContent());
      const rateBefore = Number(await cell('admittedLastMinute').textContent());

      // Resume from the page; one admission round lets the three in.
      await page.getByRole('button', { name: 'Resume (open)' }).click();
      await shows('mode', 'open');
      await api.admit();
      await shows('waiting', String(before));
      await shows('active', String(activeBefore + 3));
      await shows('admittedLastMinute', String(rateBefore + 3));

      // A change through the API (another operator) shows up on the open page as well.
      const patched = await api.inject({
        method: 'PATCH',
        url: '/admin/queue',
        headers: { 'x-admin-key': adminKey },
        payload: { admissionsPerMinute: 30, maxActive: 7 },
      });
      expect(patched.statusCode).toBe(200);
      await shows('admissionsPerMinute', '30');
      await shows('maxActive', '7');

      // And the page's own limits form, with a problem shown as a sentence.
      await page.getByLabel('New max active').fill('9');
      await page.getByRole('checkbox', { name: 'No rate limit' }).check();
      await page.getByRole('button', { name: 'Apply limits' }).click();
      await shows('maxActive', '9');
      await shows('admissionsPerMinute', 'none');
      await expectAccessible(page, 'the queue page');
    });
  });

  it('creates a concert with validation messages, then finds its stream in the audit', async () => {
    await withScreenshotOnFailure('operator-concert', [page], async () => {
      // The key entered before is kept for this browser tab's session.
      await page.goto(api.baseUrl + '/admin');
      await page.getByRole('button', { name: 'Create concert' }).click();
      await page.getByLabel('Title').fill('Operator concert');
      await page.getByLabel('Concert time').fill(localInput(7 * 86_400_000));
      await page.getByLabel('Reservations open at').fill(localInput(8 * 86_400_000));
      await page.getByRole('button', { name: 'Create concert' }).last().click();
      await page.getByText('Date 1: reservations must open before the concert.').waitFor();
      await expectAccessible(page, 'the create concert page with validation messages');

      await page.getByLabel('Reservations open at').fill(localInput(-3_600_000));
      await page.getByLabel('Number of seats').fill('3');
      await page.getByRole('button', { name: 'Create concert' }).last().click();
      const created = page.getByRole('alert').getByText(/^Created "Operator concert" \(/);
      await created.waitFor();
      const concertId = /\(([^)]+)\)/.exec((await created.textContent())!)![1]!;

      await page.getByRole('button', { name: 'Audit' }).click();
      await page.getByLabel(/^Stream name/).fill(`concert-${concertId}`);
      await page.getByRole('button', { name: 'Look up stream' }).click();
      await page.getByRole('heading', { name: `concert-${concertId}: 1 events` }).waitFor();
      await page.getByRole('rowheader', { name: 'ConcertScheduled' }).waitFor();
      expect(await page.locator('#stream-state').textContent()).toContain('Operator concert');
      await expectAccessible(page, 'the audit page with a stream');
      await page.getByLabel(/^Trace a user/).fill('queue-page-1');
      await page.getByRole('button', { name: 'Trace user' }).click();
      await page
        .getByRole('heading', { name: /^Everything about queue-page-1: \d+ events$/ })
        .waitFor();
      await expectAccessible(page, 'the audit page with a user trace');
    });
  });
});
