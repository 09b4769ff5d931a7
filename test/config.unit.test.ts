import { EventStoreDBClient } from '@eventstore/db-client';
import { ConfigError, loadConfig } from '../src/config.js';

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
