import { Kysely, PostgresDialect, type Generated } from 'kysely';
import type pg from 'pg';

/** Read-model tables. Each is written by exactly one projection (named beside it). */

/** projections/runner.ts */
export interface ProjectionCheckpointTable {
  name: string;
  version: number;
  commit_position: string;
  prepare_position: string;
  events_applied: number;
  updated_at: Generated<Date>;
}

/** projections/tokens.ts */
export interface TokenTable {
  token_id: string;
  user_id: string;
  status: 'hold' | 'pass' | 'expired';
  /** Null while the token waits for a pre-queue draw. */
  queue_number: number | null;
  /** The opening whose draw places this token (pre-queued tokens only). */
  draw_round: number | null;
  issued_at: Date;
  updated_at: Date;
  admitted_at: Date | null;
  expires_at: Date | null;
  expired_reason: 'ttl' | 'payment' | 'revoked' | null;
}

/**
 * projections/tokens.ts: one row; a waiting token's position is
 * queue_number - admitted_count - (holes below it).
 */
export interface QueueStatsTable {
  id: number;
  /** Queue numbers handed out or reserved so far. */
  issued_count: number;
  admitted_count: number;
  openings: number;
  /** The round a token issued now is pre-queued for; 0 outside a pre-queue. */
  prequeue_round: number;
  opens_at: Date | null;
}

/** projections/queue-order.ts: one row per opening, with its reserved block of numbers. */
export interface QueueDrawTable {
  round: number;
  base: number;
  reserved: number;
  opened_at: Date;
  drawn: boolean;
}

/** projections/queue-order.ts: queue numbers with no waiting token. */
export interface QueueHoleTable {
  number: number;
}

/** projections/available-dates.ts */
export interface ConcertTable {
  concert_id: string;
  title: string;
  scheduled_at: Date;
}

/** projections/available-dates.ts */
export interface ConcertTimeTable {
  concert_time_id: string;
  concert_id: string;
  concert_time: Date;
  reservation_start_time: Date;
  total_seats: number;
  available_seats: number;
}

/** projections/available-dates.ts: which seats count as available, by seat stream revision. */
export interface DateSeatTable {
  seat_id: string;
  concert_time_id: string;
  available: boolean;
  revision: number;
}

/** projections/available-seats.ts */
export interface SeatTable {
  seat_id: string;
  concert_id: string;
  concert_time_id: string;
  seat_number: number;
  price: number;
  status: 'empty' | 'holding' | 'paying' | 'paid';
  reservation_id: string | null;
  user_id: string | null;
  hold_expires_at: Date | null;
  revision: number;
}

/** projections/reservations.ts */
export interface ReservationTable {
  reservation_id: string;
  seat_id: string;
  concert_time_id: string;
  user_id: string;
  price: number;
  status: 'holding' | 'paid' | 'expired';
  held_at: Date;
  hold_expires_at: Date;
  updated_at: Date;
}

/** projections/wallets.ts */
export interface WalletTable {
  user_id: string;
  balance: number;
  revision: number;
}

/** projections/payments.ts */
export interface PaymentTable {
  payment_id: string;
  reservation_id: string;
  seat_id: string;
  user_id: string;
  amount: number;
  status: 'pending' | 'paid' | 'failed';
  code: string | null;
  refunded: boolean;
  started_at: Date;
  updated_at: Date;
}

/** projections/seat-map.ts */
export interface SeatMapSeatTable {
  seat_id: string;
  concert_time_id: string;
  seat_number: number;
  price: number;
  status: 'empty' | 'held' | 'sold';
  revision: number;
}

/** projections/seat-map.ts: one row per status change, at its log position. */
export interface SeatMapChangeTable {
  commit_position: number;
  prepare_position: number;
  concert_time_id: string;
  seat_id: string;
  status: 'empty' | 'held' | 'sold';
}

export interface Database {
  projection_checkpoints: ProjectionCheckpointTable;
  tokens: TokenTable;
  queue_stats: QueueStatsTable;
  queue_draws: QueueDrawTable;
  queue_holes: QueueHoleTable;
  concerts: ConcertTable;
  concert_times: ConcertTimeTable;
  date_seats: DateSeatTable;
  seats: SeatTable;
  reservations: ReservationTable;
  wallets: WalletTable;
  payments: PaymentTable;
  seat_map_seats: SeatMapSeatTable;
  seat_map_changes: SeatMapChangeTable;
}

export type Db = Kysely<Database>;

export function createDb(pool: pg.Pool): Db {
  return new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
}
