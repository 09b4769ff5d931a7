import { formatPosition } from '../events/store/port.js';
import { projections } from '../projections/index.js';
import type { System } from '../system.js';

const lagCap = 10_000;

/** Each projection's checkpoint, status and how many of its events are still ahead of it. */
export async function projectionStatuses(system: Pick<System, 'runner' | 'store'>) {
  const statuses = await system.runner.statuses();
  return Promise.all(
    statuses.map(async (status) => {
      const handles =
        projections.find((projection) => projection.name === status.name)?.handles ?? [];
      const lag = await system.store.countEvents({
        fromPosition: status.checkpoint,
        filter: { eventTypes: handles },
        limit: lagCap,
      });
      return {
        name: status.name,
        version: status.version,
        checkpoint: formatPosition(status.checkpoint),
        lag,
        eventsApplied: status.eventsApplied,
        status: status.status,
        ...(status.lastError ? { lastError: status.lastError } : {}),
      };
    }),
  );
}
