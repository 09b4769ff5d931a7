import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { scheduleConcert, type ConcertPlan } from './schedule-concert.js';

const day = 86_400_000;

/**
 * A concert a newcomer can try at once: reservations already open, three prices. The
 * same on every call of one UTC day, so processes that seed at once plan the same concert.
 */
export function demoConcertPlan(now: Date): ConcertPlan {
  const at = (days: number, hour: number) => {
    const date = new Date(now.getTime() + days * day);
    date.setUTCHours(hour, 0, 0, 0);
    return date.toISOString();
  };
  // An hour before the day began: open, and the same all day.
  const opened = new Date(Date.parse(at(0, 0)) - 3_600_000).toISOString();
  const seats = Array.from({ length: 300 }, (_, i) => {
    const seatNumber = i + 1;
    const price = seatNumber <= 50 ? 150_000 : seatNumber <= 150 ? 110_000 : 70_000;
    return { seatNumber, price };
  });
  return {
    title: 'Demo: Seoul Philharmonic — Mahler 2',
    dates: [7, 14, 21].map((days) => ({
      concertTime: at(days, 10),
      reservationStartTime: opened,
      seats,
    })),
  };
}

/**
 * Seeds the demo concert into an empty store; a store with any concert is left alone.
 * Its ids derive from the day's plan, so two processes starting on one empty store at
 * once write one concert between them, not two.
 */
export async function seedDemoCatalog(deps: { store: EventStore; clock: Clock }) {
  const existing = await deps.store.readAll({
    filter: { eventTypes: ['ConcertScheduled'] },
    maxCount: 1,
  });
  if (existing.length > 0) return undefined;
  const now = deps.clock();
  return scheduleConcert(deps, demoConcertPlan(now), {
    commandId: `demo-catalog-${now.toISOString().slice(0, 10)}`,
  });
}
