import { createPool } from '../infrastructure/pool.js';
import {
  START,
  comparePositions,
  type EventStore,
  type Position,
  type RecordedEvent,
} from '../events/store/port.js';
import { parseRecorded, type ParsedEvent } from '../events/domain-event.js';
import { createDb, type Db } from './database.js';
import type { Projection } from './projection.js';
import { prepareReplayTarget, finishReplayTarget, saveReplayProgress } from './replay-tables.js';

/** Where one projection replays to: its own side schema (rebuild) or a shared scratch one (verify). */
export interface ReplayTarget {
  readonly projection: Projection;
  readonly schema: string;
  /** This target stops here (inclusive); otherwise at the log's end at the time of the last read. */
  readonly until?: Position;
}

export interface ReplayOptions {
  /** After each batch has committed for every target: events applied per projection so far. */
  readonly onBatch?: (applied: ReadonlyMap<string, number>) => void;
  readonly batchSize?: number;
  /** Build what the replay deferred (see finishReplayTarget) once every target is at the end. */
  readonly finish?: boolean;
}

export interface ReplayResult {
  /** Per projection: the position its tables reflect and how many of its events it applied. */
  readonly targets: ReadonlyMap<string, { position: Position; applied: number }>;
}

/**
 * Events per read and per transaction. Large on purpose: each projection's `apply` folds
 * its batch per row (one statement per kind of change), so a bigger batch means fewer
 * statements, fewer commits and rows written once per batch instead of once per event.
 */
const replayBatchSize = 20_000;

/** A rebuild on a busy database waits for its connections rather than failing. */
const connectTimeoutMs = 60_000;

interface Writer {
  readonly target: ReplayTarget;
  readonly handles: ReadonlySet<string>;
  readonly db: Db;
  position: Position;
  applied: number;
}

/**
 * Replays the log into each target's tables, resuming from the progress stored beside
 * them. The log is read once for all targets, parsed once, and each target applies its
 * events on its own connection, in parallel with the others and with the read of the
 * next batch. Each target's batch and its progress commit together. Fresh tables are
 * UNLOGGED and without their secondary indexes while they fill; `finish` builds the
 * indexes and makes them LOGGED.
 */
export async function replay(
  deps: { store: EventStore; databaseUrl: string },
  targets: readonly ReplayTarget[],
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  const size = options.batchSize ?? replayBatchSize;
  const writers: Writer[] = [];
  try {
    for (const target of targets) {
      const db = createDb(createPool(deps.databaseUrl, 1, target.schema, connectTimeoutMs));
      const handles = new Set<string>(target.projection.handles);
      writers.push({ target, handles, db, position: START, applied: 0 });
      Object.assign(writers[writers.length - 1]!, await prepareReplayTarget(db, target));
    }
    const types = [...new Set(targets.flatMap((target) => target.projection.handles))];
    const from = writers.reduce<Position | undefined>(
      (earliest, writer) =>
        earliest && comparePositions(earliest, writer.position) <= 0 ? earliest : writer.position,
      undefined,
    );
    // The log is read as far as the furthest target goes (to its end if one has no limit).
    const readUntil = targets.every((target) => target.until)
      ? targets.reduce<Position | undefined>(
          (furthest, { until }) =>
            furthest && comparePositions(furthest, until!) >= 0 ? furthest : until,
          undefined,
        )
      : undefined;
    const read = (position: Position) => {
      const reading = readBatch(deps.store, position, types, size, readUntil);
      // A read still in flight when a write fails must not become an unhandled rejection.
      reading.catch(() => undefined);
      return reading;
    };
    let next = read(from ?? START);
    for (;;) {
      const batch = await next;
      // The next read overlaps this batch's writes (the database has more than one core).
      if (batch.more) next = read(batch.events[batch.events.length - 1]!.position);
      const parsed = batch.events.map(parseRecorded);
      await Promise.all(writers.map((writer) => applyToTarget(writer, parsed)));
      if (batch.events.length > 0)
        options.onBatch?.(new Map(writers.map((w) => [w.target.projection.name, w.applied])));
      if (!batch.more) break;
    }
    if (options.finish)
      await Promise.all(writers.map((writer) => finishReplayTarget(writer.db, writer.target)));
    return {
      targets: new Map(
        writers.map((w) => [
          w.target.projection.name,
          { position: w.position, applied: w.applied },
        ]),
      ),
    };
  } finally {
    await Promise.all(writers.map((writer) => writer.db.destroy()));
  }
}

/** Applies the events after the target's progress that its projection handles. */
async function applyToTarget(writer: Writer, events: readonly ParsedEvent[]): Promise<void> {
  const { projection, until } = writer.target;
  const mine = events.filter(
    (event) =>
      writer.handles.has(event.type) &&
      comparePositions(event.position, writer.position) > 0 &&
      (!until || comparePositions(event.position, until) <= 0),
  );
  if (mine.length === 0) return;
  const last = mine[mine.length - 1]!.position;
  await writer.db.transaction().execute(async (trx) => {
    // Only events of the projection's types reach it (filtered just above).
    await projection.apply(mine, trx);
    await saveReplayProgress(trx, projection.name, last, writer.applied + mine.length);
  });
  writer.position = last;
  writer.applied += mine.length;
}

async function readBatch(
  store: EventStore,
  from: Position,
  eventTypes: readonly string[],
  maxCount: number,
  until: Position | undefined,
): Promise<{ events: readonly RecordedEvent[]; more: boolean }> {
  const read = await store.readAll({ fromPosition: from, filter: { eventTypes }, maxCount });
  const events = until
    ? read.filter((event) => comparePositions(event.position, until) <= 0)
    : read;
  return { events, more: read.length === maxCount && events.length === read.length };
}
