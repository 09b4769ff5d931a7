import { defineProjection } from '../../src/projections/projection.js';

describe('a projection definition', () => {
  it('does not compile with an event type that does not exist, and types the events it handles', () => {
    const seen: string[] = [];
    const projection = defineProjection({
      name: 'typed',
      version: 1,
      handles: ['SeatHeld', 'WalletCharged'],
      tables: [],
      init: async () => undefined,
      apply: async (events) => {
        for (const event of events)
          seen.push(event.type === 'SeatHeld' ? event.data.reservationId : event.data.chargeId);
      },
    });
    defineProjection({
      ...projection,
      // @ts-expect-error a typo in an event type is a compile error, not a silent no-op
      handles: ['SeatHled'],
    });
    expect(projection.handles).toEqual(['SeatHeld', 'WalletCharged']);
  });
});
