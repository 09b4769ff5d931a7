import { formatPosition, type LogFilter, type Position, type RecordedEvent } from '../port.js';

export const filterKey = (
  filter: LogFilter | undefined,
  from: Position | undefined,
  maxCount: number,
) =>
  JSON.stringify([
    filter?.eventTypes ?? null,
    filter?.streamPrefixes ?? null,
    from ? formatPosition(from) : null,
    maxCount,
  ]);

interface Scan {
  /** The last position read: everything up to it has been looked at. */
  readonly scanned: Position;
  /** The matches found up to `scanned`. */
  readonly events: readonly RecordedEvent[];
}

/**
 * Remembers how far a filtered scan of $all got, so the same scan asked again (payment
 * recovery every 10 s from its last payment event, the lag count from a checkpoint)
 * resumes there: the log is append-only, so nothing new can appear before `scanned`.
 * Bounded: few keys, and only scans with few matches are kept.
 */
export class ScanMemo {
  private readonly scans = new Map<string, Scan>();

  constructor(
    private readonly maxKeys = 64,
    private readonly maxEvents = 100,
  ) {}

  get(key: string): Scan | undefined {
    const scan = this.scans.get(key);
    if (scan) {
      // Most recently used last, so the oldest key is evicted first.
      this.scans.delete(key);
      this.scans.set(key, scan);
    }
    return scan;
  }

  set(key: string, scan: Scan): void {
    this.scans.delete(key);
    if (scan.events.length > this.maxEvents) return;
    this.scans.set(key, { scanned: scan.scanned, events: [...scan.events] });
    if (this.scans.size > this.maxKeys) this.scans.delete(this.scans.keys().next().value!);
  }
}
