import { randomUUID } from 'node:crypto';
import { admitWaitingTokens } from '../../src/commands/admission.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { changeQueueSettings, firstQueueSettings } from '../../src/commands/queue-settings.js';
import type { QueueSettings } from '../../src/events/queue.js';
import { isInfrastructureError } from '../../src/events/store/infrastructure-errors.js';
import { advisoryLocks, withAdvisoryLock } from '../../src/infrastructure/advisory-locks.js';
import type { EventStore, EventToAppend, StreamAppend } from '../../src/events/store/port.js';
import { checkQueueInvariants } from '../../sim/queue-invariants.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

/**
 * Found by the fault simulation (seeds 5020, 5042, 5072 of a long run): an admission round
 * read the queue settings once, so an operator's change committed while the round was
 * admitting was obeyed only from the next round (a token admitted after a pause, during a
 * pre-queue, or over a lowered rate). Here the change is made at the worst moment: while
 * the round's first admission is about to be appended.
 */
let system: TestSystem;
const capacity = 10;
const first = firstQueueSettings({ MAX_ACTIVE_TOKENS: capacity });
beforeEach(async () => {
  system = await startTestSystem({ MAX_ACTIVE_TOKENS: String(capacity) });
});
afterEach(async () => {
  await system.drop();
});

/** The store, except that the first admission's append first lets `meanwhile` run (up to 1 s). */
function storeChangingSettingsMidRound(
  store: EventStore,
  meanwhile: () => Promise<unknown>,
): { store: EventStore; change: Promise<unknown> } {
  let started: ((value: Promise<unknown>) => void) | undefined;
  const change = new Promise<unknown>((resolve) => (started = resolve));
  let fired = false;
  const proxy = new Proxy(store, {
    get(target, property, receiver) {
      const beforeAdmission = async (events: readonly EventToAppend[]) => {
        if (!fired && events.some((event) => event.type === 'TokenAdmitted')) {
          fired = true;
          const running = meanwhile();
          started?.(running);
          // Give the change its chance to commit before this admission does.
          await Promise.race([running, new Promise((resolve) => setTimeout(resolve, 1000))]);
        }
      };
      if (property === 'appendToStream')
        return async (stream: string, events: readonly EventToAppend[], options: unknown) => {
          await beforeAdmission(events);
          return target.appendToStream(stream, events, options as never);
        };
      if (property === 'appendToStreams')
        return async (appends: readonly StreamAppend[]) => {
          await beforeAdmission(appends.flatMap((append) => append.events));
          return target.appendToStreams(appends);
        };
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
  return { store: proxy, change: change.then((running) => running) };
}

async function raceSettingsChange(changes: Partial<QueueSettings>) {
  const users = Array.from({ length: 6 }, (_, i) => `race-${i}-${randomUUID().slice(0, 6)}`);
  for (const userId of users) await issueToken(system, userId);
  const deps = { ...system, firstQueueSettings: first };
  const { store, change } = storeChangingSettingsMidRound(system.store, () =>
    changeQueueSettings(deps, changes),
  );
  const round = await admitWaitingTokens({
    ...system,
    store,
    maxActiveTokens: capacity,
    tokenTtlSeconds: 60,
    firstQueueSettings: first,
  });
  await change;
  return { round, log: await system.store.readAll() };
}

describe('a settings change during an admission round', () => {
  it.each<[string, Partial<QueueSettings>]>([
    ['a pause', { mode: 'paused' }],
    ['a scheduled opening (pre-queue)', { opensAt: '2030-01-02T01:00:00.000Z' }],
    ['a lowered rate', { admissionsPerMinute: 1 }],
    ['a lowered cap', { maxActive: 1 }],
  ])('never lets the round admit against %s committed before it', async (_, changes) => {
    const { round, log } = await raceSettingsChange(changes);
    expect(checkQueueInvariants(log)).toEqual([]);
    // The round still admitted under the settings it read: the change waited for it.
    expect(round?.admitted).toBe(6);
    const changed = log.filter((event) => event.type === 'QueueSettingsChanged');
    expect(changed).toHaveLength(1);
    const lastAdmission = log.filter((event) => event.type === 'TokenAdmitted').at(-1)!;
    expect(lastAdmission.position.commit).toBeLessThan(changed[0]!.position.commit);
  });
});

describe('the admission lock as a settings change waits for it', () => {
  it('gives up after its wait with a retryable infrastructure error, doing nothing', async () => {
    const holder = await system.pool.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [advisoryLocks.admission]);
      let ran = false;
      const waited = withAdvisoryLock(system.pool, advisoryLocks.admission, 200, async () => {
        ran = true;
      });
      const error: unknown = await waited.then(
        () => undefined,
        (reason: unknown) => reason,
      );
      expect(isInfrastructureError(error)).toBe(true);
      expect(ran).toBe(false);
      // Released, the lock is taken at once.
      await holder.query('SELECT pg_advisory_unlock($1)', [advisoryLocks.admission]);
      await expect(
        withAdvisoryLock(system.pool, advisoryLocks.admission, 200, async () => 'ran'),
      ).resolves.toBe('ran');
    } finally {
      holder.release();
    }
  });
});
