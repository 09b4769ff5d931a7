import { startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '1', TOKEN_TTL_SECONDS: '60' });
});
afterAll(() => api.close());

it('moves waiting users up the line as the ones ahead are admitted and their passes run out', async () => {
  const tokens: string[] = [];
  for (const userId of ['first', 'second', 'third']) {
    tokens.push(
      (await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } })).json<{
        token: string;
      }>().token,
    );
  }
  const look = async () =>
    Promise.all(
      tokens.map(async (token) =>
        (
          await api.inject({
            method: 'GET',
            url: '/queue/tokens/current',
            headers: { 'x-queue-token': token },
          })
        ).json<{ status: string; position: number }>(),
      ),
    );
  // Asked twice: the second answers may come from the leader's cache and must agree.
  for (let i = 0; i < 2; i++)
    expect((await look()).map((token) => token.position)).toEqual([1, 2, 3]);

  await api.admit();
  expect((await look()).map(({ status, position }) => [status, position])).toEqual([
    ['pass', 0],
    ['hold', 1],
    ['hold', 2],
  ]);

  // One slot: the next in line gets in only when the first pass runs out.
  api.system.testClock.advance(61);
  await api.admit();
  expect((await look()).map(({ status, position }) => [status, position])).toEqual([
    ['expired', 0],
    ['pass', 0],
    ['hold', 1],
  ]);
});

it('gives each of many concurrent joiners their own token and place, and looks them all up alike', async () => {
  // Joins and first lookups that arrive together share their database reads: each caller
  // must still get exactly their own row.
  const users = Array.from({ length: 30 }, (_, i) => `crowd-${i}`);
  const joined = await Promise.all(
    users.map(async (userId) => {
      const response = await api.inject({
        method: 'POST',
        url: '/queue/tokens',
        payload: { userId },
      });
      expect(response.statusCode).toBe(201);
      return response.json<{ token: string; userId: string; position: number }>();
    }),
  );
  expect(joined.map((token) => token.userId)).toEqual(users);
  const positions = joined.map((token) => token.position).sort((a, b) => a - b);
  // 'third' waits at 1; the crowd takes the next 30 places, one each.
  expect(positions).toEqual(Array.from({ length: 30 }, (_, i) => i + 2));
  const looked = await Promise.all(
    joined.map(async ({ token }) =>
      (
        await api.inject({
          method: 'GET',
          url: '/queue/tokens/current',
          headers: { 'x-queue-token': token },
        })
      ).json<{ token: string; userId: string; position: number }>(),
    ),
  );
  expect(looked.map(({ token, userId, position }) => ({ token, userId, position }))).toEqual(
    joined.map(({ token, userId, position }) => ({ token, userId, position })),
  );
});
