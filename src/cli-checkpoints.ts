import { START, comparePositions, formatPosition, type Position } from './events/store/port.js';
import { projections } from './projections/index.js';
import type { System } from './system.js';

/** Counting stops here: "10000+ events behind" says enough. */
const lagCap = 10_000;

const wholeCommit = 2n ** 63n - 1n;

/** `commit/prepare`; a checkpoint past every event of a commit shows as `commit/*`. */
const readable = (position: Position) =>
  position.prepare === wholeCommit ? `${position.commit}/*` : formatPosition(position);

/** "42 s ago", "3 min ago", "2 h ago", "5 days ago": how long a person waits, roughly. */
export function ago(then: Date, now: Date): string {
  const seconds = Math.max(0, Math.round((now.getTime() - then.getTime()) / 1000));
  if (seconds < 120) return `${seconds} s ago`;
  if (seconds < 2 * 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 2 * 86_400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86_400)} days ago`;
}

/**
 * Each projection's checkpoint as a person reads it: the position, how many of its events
 * lie beyond it, and since when (the time the oldest event it has not applied was written),
 * under the head of the log.
 */
export async function checkpointLines(system: Pick<System, 'runner' | 'store'>, now: Date) {
  const head = await system.store.headPosition();
  const rows = [['projection', 'checkpoint', 'applied', 'behind the head']];
  for (const status of await system.runner.statuses()) {
    const handles = projections.find((candidate) => candidate.name === status.name)?.handles ?? [];
    const filter = { eventTypes: handles };
    const lag = await system.store.countEvents({
      fromPosition: status.checkpoint,
      filter,
      limit: lagCap,
    });
    let behind = 'up to date';
    if (lag > 0) {
      const [oldest] = await system.store.readAll({
        fromPosition: status.checkpoint,
        filter,
        maxCount: 1,
      });
      const count = lag >= lagCap ? `${lagCap}+` : String(lag);
      behind = `${count} event${lag === 1 ? '' : 's'} behind${oldest ? `, the oldest written ${ago(oldest.createdAt, now)}` : ''}`;
    }
    const never = comparePositions(status.checkpoint, START) === 0;
    rows.push([
      status.name,
      never ? 'start (nothing applied yet)' : readable(status.checkpoint),
      `${status.eventsApplied} event${status.eventsApplied === 1 ? '' : 's'}`,
      behind,
    ]);
  }
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return [
    comparePositions(head, START) === 0
      ? 'log head: the log is empty'
      : `log head: ${readable(head)}   (positions are "commit/prepare"; "n/*": all of commit n)`,
    '',
    ...rows.map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
    ),
  ];
}
