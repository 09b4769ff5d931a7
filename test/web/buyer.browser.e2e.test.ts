import type { Browser, Page } from 'playwright-core';
import { adminKey, startTestApi, type TestApi } from '../support/api.js';
import {
  describeInBrowser,
  launchBrowser,
  saveScreenshot,
  withScreenshotOnFailure,
} from '../support/browser.js';
import { expectAccessible } from '../support/axe.js';

async function scheduleConcert(api: TestApi, title: string, seats: number) {
  const now = Date.now();
  const response = await api.inject({
    method: 'POST',
    url: '/admin/concerts',
    headers: { 'x-admin-key': adminKey },
    payload: {
      title,
      dates: [
        {
          // A fixed evening next year, so the README's seat-map screenshot stays the same.
          concertTime: new Date(
            Date.UTC(new Date(now).getUTCFullYear() + 1, 5, 12, 19),
          ).toISOString(),
          reservationStartTime: new Date(now - 3_600_000).toISOString(),
          seats: Array.from({ length: seats }, (_, i) => ({ seatNumber: i + 1, price: 10_000 })),
        },
      ],
    },
  });
  expect(response.statusCode).toBe(201);
}

/** Through the API: another buyer pays for the first seat number and holds the second. */
async function otherBuyerTakes(api: TestApi, title: string, [paid, held]: [number, number]) {
  const token = await api.admittedUser(`other-${title.replace(/\W/g, '')}`);
  const as = { 'x-queue-token': token };
  const concerts = (await api.inject({ method: 'GET', url: '/concerts' })).json<
    { concertId: string; title: string }[]
  >();
  const concertId = concerts.find((concert) => concert.title === title)!.concertId;
  const dates = (
    await api.inject({ method: 'GET', url: `/concerts/${concertId}/dates`, headers: as })
  ).json<{ concertTimeId: string }[]>();
  const concertTimeId = dates[0]!.concertTimeId;
  const map = (
    await api.inject({
      method: 'GET',
      url: `/concert-times/${concertTimeId}/seat-map`,
      headers: as,
    })
  ).json<{ seats: { seatId: string; seatNumber: number }[] }>();
  const seatIdOf = (number: number) => map.seats.find((seat) => seat.seatNumber === number)!.seatId;
  const hold = async (number: number) =>
    (
      await api.inject({
        method: 'POST',
        url: '/reservations',
        headers: as,
        payload: { concertTimeId, seatId: seatIdOf(number) },
      })
    ).json<{ reservationId: string; price: number }>();
  const toPay = await hold(paid);
  await hold(held);
  await api.inject({
    method: 'POST',
    url: '/wallet/charges',
    headers: as,
    payload: { amount: toPay.price },
  });
  const payment = await api.inject({
    method: 'POST',
    url: '/payments',
    headers: as,
    payload: { reservationId: toPay.reservationId },
  });
  expect(payment.statusCode).toBe(201);
}

/** Joins through the page and waits in the waiting room. */
async function join(page: Page, api: TestApi, userId: string, check = false) {
  await page.goto(api.baseUrl + '/');
  await page.getByLabel('User name').waitFor();
  if (check) await expectAccessible(page, 'the join page');
  await page.getByLabel('User name').fill(userId);
  await page.getByRole('button', { name: 'Join the queue' }).click();
  await page.getByRole('heading', { name: 'Waiting room' }).waitFor();
}

async function openSeatMap(page: Page, title: string, check = false) {
  await page.getByRole('heading', { name: 'Concerts' }).waitFor();
  if (check) await expectAccessible(page, 'the concerts page');
  await page.getByRole('button', { name: title }).click();
  await page.getByRole('button', { name: /seats free/ }).waitFor();
  if (check) await expectAccessible(page, 'the dates page');
  await page.getByRole('button', { name: /seats free/ }).click();
  await page.getByRole('group', { name: 'Seats' }).waitFor();
}

const seat = (page: Page, number: number) =>
  page.getByRole('button', { name: new RegExp(`^Seat ${number},`) });

describeInBrowser('buyer pages in a real browser', () => {
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

  it('walks a buyer from joining the queue to a receipt', async () => {
    await scheduleConcert(api, 'Walk concert', 12);
    const context = await browser.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await withScreenshotOnFailure('buyer-walk', [page], async () => {
      await join(page, api, 'browser-walker', true);
      await page.locator('#position').getByText('1').waitFor();
      await expectAccessible(page, 'the waiting room');
      await api.admit();
      await openSeatMap(page, 'Walk concert', true);
      // Another buyer holds one seat and buys another: the open map shows both live.
      await otherBuyerTakes(api, 'Walk concert', [5, 8]);
      await page.getByRole('button', { name: 'Seat 5, ₩10,000, sold' }).waitFor();
      await page.getByRole('button', { name: 'Seat 8, ₩10,000, held' }).waitFor();
      await saveScreenshot(page, 'seat-map');
      await expectAccessible(page, 'the seat map');
      await seat(page, 3).click();
      await page.getByRole('heading', { name: 'Seat 3 is held for you' }).waitFor();
      await expectAccessible(page, 'the hold and wallet page');
      expect(await page.locator('#countdown').textContent()).toMatch(/^\d+:\d\d$/);

      // Paying with an empty wallet is refused with a sentence, not raw JSON.
      await page.getByRole('button', { name: /^Pay/ }).click();
      await page.getByRole('alert').getByText('does not hold enough money').waitFor();
      await expectAccessible(page, 'the wallet page with an error');

      // A double click on the top-up charges once (one Idempotency-Key per top-up).
      await page.getByRole('button', { name: 'Top up' }).dblclick();
      await page.getByRole('alert').getByText('Added ₩10,000').waitFor();
      expect(await page.locator('#balance').textContent()).toBe('₩10,000');

      await page.getByRole('button', { name: /^Pay/ }).click();
      await page.getByRole('heading', { name: 'Receipt' }).waitFor();
      expect(await page.locator('#paid-amount').textContent()).toBe('₩10,000');
      await expectAccessible(page, 'the receipt');
    });
    await context.close();
  });

  it('lets exactly one of two buyers racing for a seat get it; the other sees it taken', async () => {
    await scheduleConcert(api, 'Race concert', 4);
    const contexts = await Promise.all([browser.newContext(), browser.newContext()]);
    const pages = await Promise.all(contexts.map((context) => context.newPage()));
    await withScreenshotOnFailure('seat-race', pages, async () => {
      await join(pages[0]!, api, 'racer-one');
      await join(pages[1]!, api, 'racer-two');
      await api.admit();
      await Promise.all(pages.map((page) => openSeatMap(page, 'Race concert')));
      await Promise.all(pages.map((page) => seat(page, 2).click()));

      const outcomes = await Promise.all(
        pages.map((page) =>
          Promise.race([
            page
              .getByRole('heading', { name: 'Seat 2 is held for you' })
              .waitFor()
              .then(() => 'won' as const),
            page
              .getByRole('alert')
              .getByText('someone else took that seat')
              .waitFor()
              .then(() => 'lost' as const),
          ]),
        ),
      );
      expect([...outcomes].sort()).toEqual(['lost', 'won']);
      const loser = pages[outcomes.indexOf('lost')]!;
      await loser.getByRole('button', { name: 'Seat 2, ₩10,000, held' }).waitFor();
      expect(await seat(loser, 2).isDisabled()).toBe(true);
    });
    await Promise.all(contexts.map((context) => context.close()));
  });
});

describeInBrowser('the waiting room in a real browser', () => {
  let api: TestApi;
  let browser: Browser;
  let closeBrowser: () => Promise<void>;
  beforeAll(async () => {
    api = await startTestApi({ MAX_ACTIVE_TOKENS: '1' });
    ({ browser, close: closeBrowser } = await launchBrowser());
  });
  afterAll(async () => {
    await closeBrowser?.();
    await api?.close();
  });

  it("updates a waiting buyer's position live when capacity frees", async () => {
    await api.admittedUser('first-in');
    await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId: 'second-in' } });
    const context = await browser.newContext({ viewport: { width: 390, height: 700 } });
    const page = await context.newPage();
    await withScreenshotOnFailure('waiting-room', [page], async () => {
      await join(page, api, 'third-in');
      await page.locator('#position').getByText('2', { exact: true }).waitFor();
      await saveScreenshot(page, 'waiting-room');

      // The pass of the first buyer runs out: the second is admitted, the third moves up.
      api.system.testClock.advance(api.system.config.TOKEN_TTL_SECONDS + 1);
      await api.admit();
      await page.locator('#position').getByText('1', { exact: true }).waitFor();
    });
    await context.close();
  });
});
