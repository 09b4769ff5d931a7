import { EventStoreDBClient } from '@eventstore/db-client';
import { ConfigError, identitySource, loadConfig } from '../src/config.js';

describe('EVENTSTORE_URL', () => {
  const accepted = [
    'esdb://localhost:2113?tls=false',
    'esdb+discover://cluster.example.com:2113',
    'esdb://admin:changeit@a:2113,b:2113,c:2113?tls=true&nodePreference=leader',
  ];

  it.each(accepted)('accepts %s, which the installed v6 client parses', async (url) => {
    expect(loadConfig({ EVENTSTORE_URL: url }).EVENTSTORE_URL).toBe(url);
    // The same string the store connects with: parsing must not throw at start-up.
    await EventStoreDBClient.connectionString(url).dispose();
  });

  it.each(['kurrentdb://localhost:2113', 'kdb://localhost:2113', 'http://localhost:2113'])(
    'refuses %s with a clear error (the v6 client cannot parse it)',
    (url) => {
      expect(() => loadConfig({ EVENTSTORE_URL: url })).toThrow(ConfigError);
      expect(() => loadConfig({ EVENTSTORE_URL: url })).toThrow(/EVENTSTORE_URL.*esdb/);
    },
  );

  it('refuses an esdb URL the client cannot parse', () => {
    expect(() => loadConfig({ EVENTSTORE_URL: 'esdb://localhost:2113?tls=maybe' })).toThrow(
      /EVENTSTORE_URL.*client accepts/,
    );
  });

  it('leaves the log in PostgreSQL when unset or empty', () => {
    expect(loadConfig({}).EVENTSTORE_URL).toBeUndefined();
    expect(loadConfig({ EVENTSTORE_URL: '' }).EVENTSTORE_URL).toBeUndefined();
  });
});

describe('DEMO_SEED', () => {
  it('is unset by default (seed the embedded store only) and takes true or false', () => {
    expect(loadConfig({}).DEMO_SEED).toBeUndefined();
    expect(loadConfig({ DEMO_SEED: 'true' }).DEMO_SEED).toBe(true);
    expect(loadConfig({ DEMO_SEED: '0' }).DEMO_SEED).toBe(false);
    expect(() => loadConfig({ DEMO_SEED: 'yes' })).toThrow(/DEMO_SEED/);
  });
});

const jwks = {
  AUTH_JWKS_URL: 'https://id.example/.well-known/jwks.json',
  AUTH_ISSUER: 'https://id.example/',
  AUTH_AUDIENCE: 'concert-api',
};
const secret = 'a-shared-secret-of-at-least-32-characters';

describe('identity configuration', () => {
  it('is demo mode when no key source is set', () => {
    expect(identitySource(loadConfig({}))).toEqual({ kind: 'demo' });
  });

  it('uses the JWKS, or the shared secret, with issuer and audience', () => {
    expect(identitySource(loadConfig(jwks))).toMatchObject({
      kind: 'jwks',
      jwksUrl: jwks.AUTH_JWKS_URL,
      issuer: jwks.AUTH_ISSUER,
      audience: jwks.AUTH_AUDIENCE,
      cooldownSeconds: 30,
    });
    const { AUTH_JWKS_URL: _url, ...rest } = jwks;
    expect(identitySource(loadConfig({ ...rest, AUTH_JWT_SECRET: secret }))).toMatchObject({
      kind: 'secret',
      secret,
    });
  });

  it.each([
    ['both key sources', { ...jwks, AUTH_JWT_SECRET: secret }, 'set one key source, not both'],
    ['a key source without issuer', { ...jwks, AUTH_ISSUER: '' }, 'AUTH_ISSUER: required'],
    ['a key source without audience', { ...jwks, AUTH_AUDIENCE: '' }, 'AUTH_AUDIENCE: required'],
    [
      'issuer and audience without a key source',
      { AUTH_ISSUER: 'https://id.example/', AUTH_AUDIENCE: 'x' },
      'neither AUTH_JWKS_URL nor AUTH_JWT_SECRET is',
    ],
    ['a short secret', { ...jwks, AUTH_JWKS_URL: '', AUTH_JWT_SECRET: 'short' }, 'at least 32'],
    [
      'a JWKS URL that is not http(s)',
      { ...jwks, AUTH_JWKS_URL: 'ftp://id.example/' },
      'AUTH_JWKS_URL',
    ],
    [
      'demo mode in production',
      { NODE_ENV: 'production', ADMIN_API_KEY: 'a-production-admin-key' },
      'required when NODE_ENV=production (or AUTH_MODE=insecure-demo',
    ],
    [
      'insecure-demo together with a key source',
      { ...jwks, AUTH_MODE: 'insecure-demo' },
      'AUTH_MODE=insecure-demo: contradicts',
    ],
    ['an unknown AUTH_MODE', { AUTH_MODE: 'secure' }, 'must be insecure-demo or unset'],
  ])('refuses %s', (_name, env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('runs demo mode in production only when AUTH_MODE=insecure-demo says so', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      ADMIN_API_KEY: 'a-production-admin-key',
      AUTH_MODE: 'insecure-demo',
    });
    expect(identitySource(config)).toEqual({ kind: 'demo' });
    expect(() =>
      loadConfig({ NODE_ENV: 'production', ADMIN_API_KEY: 'a-production-admin-key', ...jwks }),
    ).not.toThrow();
  });
});

describe('abuse limits and CORS configuration', () => {
  it('limits joins to 30 a minute per user unless told otherwise', () => {
    expect(loadConfig({}).JOIN_RATE_LIMIT_PER_MINUTE).toBe(30);
    expect(loadConfig({ JOIN_RATE_LIMIT_PER_MINUTE: '5' }).JOIN_RATE_LIMIT_PER_MINUTE).toBe(5);
    expect(() => loadConfig({ JOIN_RATE_LIMIT_PER_MINUTE: '0' })).toThrow('at least 1');
  });

  it('keeps CORS closed by default and takes a list of exact origins', () => {
    expect(loadConfig({}).CORS_ORIGINS).toEqual([]);
    expect(
      loadConfig({ CORS_ORIGINS: 'https://app.example.com, http://localhost:5173' }).CORS_ORIGINS,
    ).toEqual(['https://app.example.com', 'http://localhost:5173']);
    for (const bad of ['*', 'app.example.com', 'https://app.example.com/path'])
      expect(() => loadConfig({ CORS_ORIGINS: bad })).toThrow('CORS_ORIGINS');
  });
});
