import { startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

// Found by a black-box tester: top-ups sent at once with one Idempotency-Key and two
// amounts were answered 200 with either amount's balance, while the wallet kept one charge.
describe('top-ups sent at once with one Idempotency-Key and different amounts', () => {
  it('charge once; only requests for the charged amount get 200, with its answer', async () => {
    const token = await api.admittedUser('same-key-racer');
    for (const key of ['race-1', 'race-2', 'race-3']) {
      const before = (
        await api.inject({ method: 'GET', url: '/wallet', headers: { 'x-queue-token': token } })
      ).json<{ balance: number }>().balance;
      const responses = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          api.inject({
            method: 'POST',
            url: '/wallet/charges',
            headers: { 'x-queue-token': token, 'idempotency-key': key },
            payload: { amount: 100 + (i % 2) },
          }),
        ),
      );
      const after = (
        await api.inject({ method: 'GET', url: '/wallet', headers: { 'x-queue-token': token } })
      ).json<{ balance: number }>().balance;
      const charged = after - before;
      expect([100, 101]).toContain(charged);
      responses.forEach((response, i) => {
        const amount = 100 + (i % 2);
        if (amount === charged) {
          expect(response.statusCode).toBe(200);
          expect(response.json()).toMatchObject({ balance: after });
        } else {
          expect(response.statusCode).toBe(409);
          expect(response.json()).toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
        }
      });
    }
  });
});
