import type { Browser, Page } from 'playwright-core';
import { createConcert, startTestApi, type TestApi } from '../support/api.js';
import { describeInBrowser, launchBrowser, withScreenshotOnFailure } from '../support/browser.js';

/** What a screen reader would call the focused element: its label or its text. */
// (A string: the browser evaluates it; the tests compile without the DOM types.)
const focusedName = (page: Page) =>
  page.evaluate<string>(`(() => {
    const element = document.activeElement;
    if (!element || element === document.body) return '';
    const label = element.labels && element.labels[0] ? element.labels[0].textContent : null;
    return (element.getAttribute('aria-label') ?? label ?? element.textContent ?? '').trim();
  })()`);

/**
 * Presses Tab (nothing else: no mouse, no locator clicks) until the focused element's name
 * matches, so the test proves the control is reachable in the tab order.
 */
async function tabTo(page: Page, name: RegExp, limit = 40): Promise<void> {
  const seen: string[] = [];
  for (let presses = 0; presses < limit; presses++) {
    await page.keyboard.press('Tab');
    const focused = await focusedName(page);
    if (name.test(focused)) return;
    seen.push(focused);
  }
  throw new Error(`Tab never reached ${String(name)}; focus went through: ${seen.join(' | ')}`);
}

describeInBrowser('a buyer using only the keyboard', () => {
  let api: TestApi;
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  beforeAll(async () => {
    api = await startTestApi();
    ({ browser, close: closeBrowser } = await launchBrowser());
  });
  afterAll(async () => {
    await closeBrowser?.();
    await api?.close();
  });

  it('joins, opens the seat map, holds a seat, tops up and pays with Tab, Enter and Space', async () => {
    await createConcert(api, 4);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await withScreenshotOnFailure('keyboard-walk', [page], async () => {
      await page.goto(api.baseUrl + '/');
      await page.getByRole('heading', { name: 'Join the queue' }).waitFor();
      await tabTo(page, /^User name$/);
      await page.keyboard.type('keyboard-walker');
      await page.keyboard.press('Enter'); // submits the join form
      await page.getByRole('heading', { name: 'Waiting room' }).waitFor();
      await api.admit();

      await page.getByRole('heading', { name: 'Concerts' }).waitFor();
      await tabTo(page, /^API test concert$/);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'API test concert' }).waitFor();
      await tabTo(page, /seats free/);
      await page.keyboard.press('Space');
      await page.getByRole('group', { name: 'Seats' }).waitFor();
      await tabTo(page, /^Seat 1, ₩10,000, free$/);
      await page.keyboard.press('Enter');

      await page.getByRole('heading', { name: 'Seat 1 is held for you' }).waitFor();
      // The top-up amount is filled in with the price: Tab past it to the button.
      await tabTo(page, /^Top up$/);
      await page.keyboard.press('Enter');
      await page.getByRole('alert').getByText('Added ₩10,000').waitFor();
      await tabTo(page, /^Pay ₩10,000$/);
      await page.keyboard.press('Space');
      await page.getByRole('heading', { name: 'Receipt' }).waitFor();
      expect(await page.locator('#paid-amount').textContent()).toBe('₩10,000');
    });
    await context.close();
  });
});
