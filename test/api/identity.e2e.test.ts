import { adminKey, startTestApi, type TestApi } from '../support/api.js';
import {
  audience,
  hs256Token,
  issuer,
  TestIdentityProvider,
  unsignedToken,
} from '../support/identity-provider.js';

/** Identity from a JWT (api.md "Identity"), against a JWKS served by a test provider. */
let provider: TestIdentityProvider;
let api: TestApi;
beforeAll(async () => {
  provider = await TestIdentityProvider.start();
  // Cooldown 0: a token with a new kid refetches the key set at once (rotation test).
  api = await startTestApi(provider.env({ AUTH_JWKS_COOLDOWN_SECONDS: '0' }));
});
afterAll(async () => {
  await api.close();
  await provider.stop();
});

const join = (authorization?: string, payload?: unknown) =>
  api.inject({
    method: 'POST',
    url: '/queue/tokens',
    headers: authorization === undefined ? {} : { authorization },
    ...(payload === undefined ? {} : { payload }),
  });

const now = () => Math.floor(Date.now() / 1000);

it('joins as the token sub, and only that user gets the live token back', async () => {
  const alice = await provider.token('auth0|alice-1');
  const first = await join(`Bearer ${alice}`);
  expect(first.statusCode).toBe(201);
  const token = first.json<{ token: string; userId: string }>();
  expect(token.userId).toBe('auth0|alice-1');

  // The same user again (body userId equal to sub is fine): the same live token.
  const again = await join(`Bearer ${alice}`, { userId: 'auth0|alice-1' });
  expect(again.statusCode).toBe(200);
  expect(again.json<{ token: string }>().token).toBe(token.token);

  // Nobody else can get it: not without a token, not by naming alice with their own.
  const anonymous = await join(undefined, { userId: 'auth0|alice-1' });
  expect(anonymous.statusCode).toBe(401);
  expect(anonymous.json()).toMatchObject({ code: 'AUTH_INVALID' });
  expect(anonymous.headers.get('www-authenticate')).toBe('Bearer');
  const bob = await provider.token('auth0|bob-1');
  const impostor = await join(`Bearer ${bob}`, { userId: 'auth0|alice-1' });
  expect(impostor.statusCode).toBe(403);
  expect(impostor.json()).toMatchObject({ code: 'USER_MISMATCH' });
  expect(impostor.body).not.toContain(token.token);

  // Bob joining as himself gets his own token.
  const own = await join(`Bearer ${bob}`);
  expect(own.statusCode).toBe(201);
  expect(own.json<{ token: string; userId: string }>()).toMatchObject({ userId: 'auth0|bob-1' });
  expect(own.json<{ token: string }>().token).not.toBe(token.token);
});

describe('refuses with 401 AUTH_INVALID, and issues nothing', () => {
  const sub = 'refused-user';
  const bearer = (token: string) => `Bearer ${token}`;
  const signed = async (claims: Record<string, unknown>, subject = sub) =>
    bearer(await provider.token(subject, { claims }));
  /** [case, Authorization header (none if empty), reason the detail gives]. */
  const refusedCases: [string, () => Promise<string>, string][] = [
    ['no Authorization header', async () => '', 'Bearer <JWT> header is required'],
    ['a non-Bearer scheme', async () => 'Basic YTpi', 'Bearer <JWT> header is required'],
    ['a malformed bearer value', async () => 'Bearer not-a-jwt', 'header is required'],
    ['a bearer with garbage segments', async () => 'Bearer abc.def.ghi', 'malformed'],
    [
      'alg: none',
      async () => bearer(unsignedToken({ iss: issuer, aud: audience, sub, exp: now() + 300 })),
      'algorithm is not accepted',
    ],
    [
      'HS256 signed with the provider public key (algorithm confusion)',
      async () => bearer(await hs256Token(await provider.publicKeyPem(), sub)),
      'algorithm is not accepted',
    ],
    ['an expired token', () => signed({ exp: now() - 120 }), 'expired'],
    ['nbf beyond the clock tolerance', () => signed({ nbf: now() + 600 }), 'not valid yet'],
    ['the wrong issuer', () => signed({ iss: 'https://evil.example/' }), 'wrong iss'],
    ['the wrong audience', () => signed({ aud: 'another-api' }), 'wrong aud'],
    ['no exp', () => signed({ exp: undefined }), 'exp is missing'],
    ['no sub', async () => bearer(await provider.token(undefined)), 'sub is missing'],
    ['a sub over 255 characters', () => signed({}, 'x'.repeat(256)), '1 to 255 printable'],
    ['a sub with a control character', () => signed({}, 'a\u0000b'), '1 to 255 printable'],
    [
      'a tampered payload',
      async () => {
        const [header, , signature] = (await provider.token(sub)).split('.');
        const payload = Buffer.from(
          JSON.stringify({ iss: issuer, aud: audience, sub: 'admin', exp: now() + 300 }),
        ).toString('base64url');
        return `Bearer ${header}.${payload}.${signature}`;
      },
      'bad signature',
    ],
  ];

  it.each(refusedCases)('%s', async (_name, authorization, reason) => {
    const value = await authorization();
    const response = await join(value === '' ? undefined : value);
    expect(response.statusCode).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(response.json()).toMatchObject({ code: 'AUTH_INVALID', status: 401 });
    expect(response.json<{ detail: string }>().detail).toContain(reason);
  });

  it('accepts a token within the clock tolerance', async () => {
    const response = await join(
      `Bearer ${await provider.token('skewed-user', { claims: { nbf: now() + 10 } })}`,
    );
    expect(response.statusCode).toBe(201);
  });

  it('never issued a token to the refused user', async () => {
    // The first good join for that sub creates the token: nothing before it did.
    const response = await join(`Bearer ${await provider.token(sub)}`);
    expect(response.statusCode).toBe(201);
  });
});

it('lets operators audit and revoke a user whose id is a JWT sub such as auth0|abc', async () => {
  const carol = await provider.token('auth0|carol 1');
  const joined = await join(`Bearer ${carol}`);
  expect(joined.statusCode).toBe(201);
  const admin = { 'x-admin-key': adminKey };
  const history = await api.inject({
    method: 'GET',
    url: `/admin/streams/${encodeURIComponent('token-auth0|carol 1')}/events`,
    headers: admin,
  });
  expect(history.statusCode).toBe(200);
  expect(history.json<{ type: string }[]>()[0]).toMatchObject({ type: 'TokenIssued' });
  const trace = await api.inject({
    method: 'GET',
    url: `/admin/users/${encodeURIComponent('auth0|carol 1')}/trace`,
    headers: admin,
  });
  expect(trace.statusCode).toBe(200);
  const revoked = await api.inject({
    method: 'POST',
    url: '/admin/queue/revocations',
    headers: admin,
    payload: { userId: 'auth0|carol 1' },
  });
  expect(revoked.statusCode).toBe(200);
  expect(revoked.json()).toMatchObject({ userId: 'auth0|carol 1', status: 'expired' });
});

it('picks up a rotated key by its new kid, and keeps the old one while it is published', async () => {
  await provider.rotate('key-2');
  const rotated = await join(`Bearer ${await provider.token('rotated-user')}`);
  expect(rotated.statusCode).toBe(201);
  // A token signed by the new key but claiming the old kid fails its signature check.
  const wrongKid = await join(`Bearer ${await provider.token('rotated-user', { kid: 'key-1' })}`);
  expect(wrongKid.statusCode).toBe(401);
});

it('verifies with cached keys without refetching them', async () => {
  const before = provider.fetches;
  for (const user of ['cached-1', 'cached-2', 'cached-3'])
    expect((await join(`Bearer ${await provider.token(user)}`)).statusCode).toBe(201);
  expect(provider.fetches).toBe(before);
});

it('shows the bearer scheme on the join in the OpenAPI document', async () => {
  const document = (await api.inject({ method: 'GET', url: '/docs/json' })).json<{
    paths: Record<
      string,
      Record<string, { security?: unknown; responses: Record<string, { content: unknown }> }>
    >;
    components: { securitySchemes: Record<string, unknown> };
  }>();
  expect(document.components.securitySchemes.bearerJwt).toEqual({
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
  });
  const joinOperation = document.paths['/queue/tokens']!.post!;
  expect(joinOperation.security).toEqual([{ bearerJwt: [] }]);
  // The identity refusals are documented with their codes (demo mode has none of them).
  const codes = (status: string) =>
    (
      joinOperation.responses[status]!.content as Record<
        string,
        { schema: { properties: { code: { enum: string[] } } } }
      >
    )['application/problem+json']!.schema.properties.code.enum;
  expect(codes('401')).toEqual(['AUTH_INVALID']);
  expect(codes('403')).toEqual(['USER_MISMATCH']);
  expect(codes('503')).toEqual(['AUTH_UNAVAILABLE', 'SERVICE_UNAVAILABLE']);
});

describe('when the key set cannot be fetched', () => {
  it('answers 503 AUTH_UNAVAILABLE with no cached key, then recovers once it can', async () => {
    const down = await TestIdentityProvider.start();
    const url = down.jwksUrl;
    const token = await down.token('early-user');
    await down.stop();
    const unavailable = await startTestApi({
      AUTH_JWKS_URL: url,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
    });
    const call = () =>
      unavailable.inject({
        method: 'POST',
        url: '/queue/tokens',
        headers: { authorization: `Bearer ${token}` },
      });
    try {
      const response = await call();
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 'AUTH_UNAVAILABLE' });
      expect(response.headers.get('retry-after')).toBe('5');
      await down.restart();
      expect((await call()).statusCode).toBe(201);
    } finally {
      await unavailable.close();
      await down.stop();
    }
  });

  it('keeps verifying with the keys it has, and a new kid it cannot fetch is 503, not 401', async () => {
    const flaky = await TestIdentityProvider.start();
    const flakyApi = await startTestApi(flaky.env({ AUTH_JWKS_COOLDOWN_SECONDS: '0' }));
    try {
      const call = async (sub: string, kid?: string) =>
        flakyApi.inject({
          method: 'POST',
          url: '/queue/tokens',
          headers: { authorization: `Bearer ${await flaky.token(sub, kid ? { kid } : {})}` },
        });
      expect((await call('before-outage')).statusCode).toBe(201);
      await flaky.stop();
      expect((await call('during-outage')).statusCode).toBe(201);
      const unknownKid = await call('during-outage-2', 'key-unknown');
      expect(unknownKid.statusCode).toBe(503);
      expect(unknownKid.json()).toMatchObject({ code: 'AUTH_UNAVAILABLE' });
    } finally {
      await flakyApi.close();
    }
  });
});

describe('with a shared secret (HS256)', () => {
  const secret = 'a-shared-secret-of-at-least-32-characters';
  let secretApi: TestApi;
  beforeAll(async () => {
    secretApi = await startTestApi({
      AUTH_JWT_SECRET: secret,
      AUTH_ISSUER: issuer,
      AUTH_AUDIENCE: audience,
    });
  });
  afterAll(() => secretApi.close());
  const joinWith = (token: string) =>
    secretApi.inject({
      method: 'POST',
      url: '/queue/tokens',
      headers: { authorization: `Bearer ${token}` },
    });

  it('joins with a token signed by the secret', async () => {
    const response = await joinWith(await hs256Token(secret, 'user@example.com'));
    expect(response.statusCode).toBe(201);
    expect(response.json()).toMatchObject({ userId: 'user@example.com' });
  });

  it('refuses another secret, another algorithm and alg none', async () => {
    for (const token of [
      await hs256Token('another-secret-of-at-least-32-characters', 'user@example.com'),
      await provider.token('user@example.com'),
      unsignedToken({ iss: issuer, aud: audience, sub: 'user@example.com', exp: now() + 300 }),
    ]) {
      const response = await joinWith(token);
      expect(response.statusCode).toBe(401);
      expect(response.json()).toMatchObject({ code: 'AUTH_INVALID' });
    }
  });
});
