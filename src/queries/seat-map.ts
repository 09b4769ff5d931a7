import { sql } from 'kysely';
import { formatPosition, type Position } from '../events/store/port.js';
import type { Db } from '../projections/database.js';
import { seatMapProjection, type SeatMapStatus } from '../projections/seat-map.js';

export interface SeatMap {
  readonly concertTimeId: string;
  /** The log position the map reflects: the seat-map projection's checkpoint. */
  readonly asOf: string;
  readonly seats: { seatId: string; seatNumber: number; price: number; status: SeatMapStatus }[];
}

export interface SeatChange {
  /** Log position of the change, "commit/prepare". */
  readonly position: string;
  readonly seatId: string;
  readonly status: SeatMapStatus;
}

/**
 * Every seat of a concert time and the checkpoint they reflect, read in one snapshot:
 * the rows and the checkpoint commit together, so the pair is consistent.
 * Undefined for an unknown concert time.
 */
export async function seatMapOf(db: Db, concertTimeId: string): Promise<SeatMap | undefined> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (trx) => {
      const checkpoint = await trx
        .selectFrom('projection_checkpoints')
        .select(['commit_position', 'prepare_position'])
        .where('name', '=', seatMapProjection.name)
        .executeTakeFirst();
      const seats = await trx
        .selectFrom('seat_map_seats')
        .select(['seat_id', 'seat_number', 'price', 'status'])
        .where('concert_time_id', '=', concertTimeId)
        .orderBy('seat_number')
        .execute();
      if (seats.length === 0 || !checkpoint) return undefined;
      return {
        concertTimeId,
        asOf: `${checkpoint.commit_position}/${checkpoint.prepare_position}`,
        seats: seats.map((seat) => ({
          seatId: seat.seat_id,
          seatNumber: seat.seat_number,
          price: seat.price,
          status: seat.status,
        })),
      };
    });
}

/** Status changes of a concert time's seats after `after`, in log order. */
export async function seatChangesAfter(
  db: Db,
  concertTimeId: string,
  after: Position,
  limit = 1000,
): Promise<SeatChange[]> {
  const rows = await db
    .selectFrom('seat_map_changes')
    .select(['commit_position', 'prepare_position', 'seat_id', 'status'])
    .where('concert_time_id', '=', concertTimeId)
    .where(
      sql<boolean>`(commit_position, prepare_position) > (${String(after.commit)}::bigint, ${String(after.prepare)}::bigint)`,
    )
    .orderBy('commit_position')
    .orderBy('prepare_position')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    position: formatPosition({
      commit: BigInt(row.commit_position),
      prepare: BigInt(row.prepare_position),
    }),
    seatId: row.seat_id,
    status: row.status,
  }));
}

/** The position a stream without `after` starts from: whatever the map shows now. */
export async function seatMapCheckpoint(db: Db): Promise<Position | undefined> {
  const row = await db
    .selectFrom('projection_checkpoints')
    .select(['commit_position', 'prepare_position'])
    .where('name', '=', seatMapProjection.name)
    .executeTakeFirst();
  return row
    ? { commit: BigInt(row.commit_position), prepare: BigInt(row.prepare_position) }
    : undefined;
}
