import { randomUUID } from 'node:crypto';
import { admissionIsQuiet, admitWaitingTokens, type Quiet } from '../../src/commands/admission.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { changeQueueSettings, firstQueueSettings } from '../../src/commands/queue-settings.js';
import type { QueueSettings } from '../../src/events/queue.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

/**
 * A round that changes nothing says until when the next would change nothing either: no
 * new tokens event in the log and the clock before the next pass expiry, rate-window
 * release or opening. The admission loop skips such rounds; each of those triggers must
 * end the quiet.
 */
let system: TestSystem;
const capacity = 2;
const ttlSeconds = 60;
beforeEach(async () => {
  system = await startTestSystem({
    MAX_ACTIVE_TOKENS: String(capacity),
    TOKEN_TTL_SECONDS: String(ttlSeconds),
  });
});
afterEach(() => system.drop());

const deps = () => ({
  ...system,
  maxActiveTokens: capacity,
  tokenTtlSeconds: ttlSeconds,
  firstQueueSettings: firstQueueSettings({ MAX_ACTIVE_TOKENS: capacity }),
});
const change = (changes: Partial<QueueSettings>) => changeQueueSettings(deps(), changes);
const join = (name: string) => issueToken(system, `${name}-${randomUUID().slice(0, 6)}`);

/** A round that did nothing, and the quiet it reported. */
async function idleRound(): Promise<Quiet> {
  const round = await admitWaitingTokens(deps());
  expect(round).toMatchObject({ admitted: 0, expired: 0 });
  return round!.quiet!;
}

it('a round that admits is not quiet; the next, with the line full, is quiet until the first pass expires', async () => {
  for (let i = 0; i < capacity + 1; i++) await join('full');
  const first = await admitWaitingTokens(deps());
  expect(first).toMatchObject({ admitted: capacity });
  expect(first?.quiet).toBeUndefined();

  const quiet = await idleRound();
  expect(quiet.until.getTime()).toBe(system.clock().getTime() + ttlSeconds * 1000);
  expect(await admissionIsQuiet(deps(), quiet)).toBe(true);

  // The first pass expires: the quiet ends, and the round expires it and admits the next.
  system.testClock.advance(ttlSeconds);
  expect(await admissionIsQuiet(deps(), quiet)).toBe(false);
  expect(await admitWaitingTokens(deps())).toMatchObject({ admitted: 1, expired: capacity });
});

it('a join ends the quiet of an empty line, and the next round admits it', async () => {
  const quiet = await idleRound();
  expect(quiet.until.getTime()).toBeGreaterThan(system.clock().getTime() + 1e12);
  expect(await admissionIsQuiet(deps(), quiet)).toBe(true);
  await join('late');
  expect(await admissionIsQuiet(deps(), quiet)).toBe(false);
  expect(await admitWaitingTokens(deps())).toMatchObject({ admitted: 1 });
});

it("an operator's change ends the quiet (a paused line resumed)", async () => {
  await change({ mode: 'paused' });
  await join('paused');
  const quiet = await idleRound();
  await change({ mode: 'open' });
  expect(await admissionIsQuiet(deps(), quiet)).toBe(false);
  expect(await admitWaitingTokens(deps())).toMatchObject({ admitted: 1 });
});

it('a rate-limited line is quiet until its oldest admission leaves the minute', async () => {
  await change({ maxActive: 100, admissionsPerMinute: 1 });
  await join('rated-1');
  await join('rated-2');
  expect(await admitWaitingTokens(deps())).toMatchObject({ admitted: 1 });
  system.testClock.advance(10);
  const quiet = await idleRound();
  expect(quiet.until.getTime()).toBe(system.clock().getTime() + 50_000);
  system.testClock.advance(49);
  expect(await admissionIsQuiet(deps(), quiet)).toBe(true);
  // The window counts an admission of exactly a minute ago: one moment later it is out.
  system.testClock.advance(2);
  expect(await admissionIsQuiet(deps(), quiet)).toBe(false);
  expect(await admitWaitingTokens(deps())).toMatchObject({ admitted: 1 });
});

it('a pre-queue is quiet until its opening, then the round opens and draws', async () => {
  const opensAt = new Date(system.clock().getTime() + 30_000).toISOString();
  await change({ opensAt });
  await join('early');
  const quiet = await idleRound();
  expect(quiet.until.toISOString()).toBe(opensAt);
  system.testClock.advance(30);
  expect(await admissionIsQuiet(deps(), quiet)).toBe(false);
  const opened = await admitWaitingTokens(deps());
  expect(opened?.quiet).toBeUndefined();
});
