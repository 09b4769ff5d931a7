import { firstQueueSettings, overriddenFirstValues } from '../../src/commands/queue-settings.js';

describe('the environment gives the queue first values only', () => {
  const recorded = firstQueueSettings({ MAX_ACTIVE_TOKENS: 100 });

  it('names nothing when the environment matches what the stream recorded', () => {
    expect(overriddenFirstValues(recorded, firstQueueSettings({ MAX_ACTIVE_TOKENS: 100 }))).toEqual(
      [],
    );
  });

  it('names each variable the recorded settings override, with both values', () => {
    const first = firstQueueSettings({
      MAX_ACTIVE_TOKENS: 2000,
      QUEUE_ADMISSIONS_PER_MINUTE: 60,
      QUEUE_OPENS_AT: '2026-12-01T09:00:00.000Z',
    });
    expect(overriddenFirstValues(recorded, first)).toEqual([
      'MAX_ACTIVE_TOKENS=2000 (recorded: 100)',
      'QUEUE_ADMISSIONS_PER_MINUTE=60 (recorded: none)',
      'QUEUE_OPENS_AT=2026-12-01T09:00:00.000Z (recorded: none)',
    ]);
  });
});
