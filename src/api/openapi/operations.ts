import type { ErrorCode } from '../../commands/errors.js';

/** A success response in another media type than JSON (event streams, Prometheus text). */
export interface MediaResponse {
  readonly description: string;
  readonly mediaType: string;
}

/**
 * What the OpenAPI document says about one operation beyond its zod schemas. The codes a
 * route can answer are these plus the ones its access level and its inputs imply
 * (api/openapi/document.ts adds those); test/api/openapi-contract.e2e.test.ts checks every
 * answer of the booking walk against the result.
 */
export interface OperationDoc {
  /** Refusals of the handler and the commands it runs (deciders, handleCommand). */
  readonly errors: readonly ErrorCode[];
  /** Only with an identity provider configured. */
  readonly jwtErrors?: readonly ErrorCode[];
  /** False when the route never reads the database (so no 503 SERVICE_UNAVAILABLE). */
  readonly database?: boolean;
  /** What each status the route answers itself means. */
  readonly responses: Readonly<Record<number, string | MediaResponse>>;
}

/** Every write goes through handleCommand, which gives up after its retries with this. */
const write: ErrorCode[] = ['CONCURRENCY_CONFLICT'];

const tokenEvents =
  'Server-sent events. `event: token` carries the token view of `GET /queue/tokens/current` (with `id:` `h{position}e{estimate}` while waiting, e.g. `h12e340`, `q{opensAt ms}` while pre-queued, else the status); `event: expired` is the last one, when the token expires. A reconnect with `Last-Event-ID` gets the current view at once unless it already has it.';
const seatEvents =
  'Server-sent events. `event: seat` with `data: {"seatId","status"}` and `id:` its log position, for every status change; `event: expired` (`data: {"status"}`) ends the stream when the caller\'s pass ends.';

/** Keyed by operationId; every documented route has one (the contract test checks). */
export const operations: Readonly<Record<string, OperationDoc>> = {
  joinQueue: {
    errors: ['RATE_LIMITED', ...write],
    jwtErrors: ['USER_MISMATCH'],
    responses: {
      200: 'You already had a live token: it is returned as it is now',
      201: 'A new token: waiting (`hold`, with a position) or admitted at once (`pass`)',
    },
  },
  getCurrentToken: {
    errors: [],
    responses: { 200: 'Your token with its place in line and estimated wait' },
  },
  issueStreamTicket: {
    errors: [],
    responses: { 200: 'A ticket for `?ticket=` on the event streams, valid for 60 s' },
  },
  streamCurrentToken: {
    errors: [],
    responses: { 200: { description: tokenEvents, mediaType: 'text/event-stream' } },
  },
  listConcerts: { errors: [], responses: { 200: 'Every concert, with its number of dates' } },
  listConcertDates: {
    errors: ['NOT_FOUND'],
    responses: { 200: 'Future dates with seats left, by concert time' },
  },
  listAvailableSeats: {
    errors: ['NOT_FOUND'],
    responses: { 200: 'The empty seats, by seat number' },
  },
  getSeatMap: {
    errors: ['NOT_FOUND'],
    responses: { 200: 'Every seat with its status, as of the log position `asOf`' },
  },
  streamSeatMap: {
    errors: ['NOT_FOUND'],
    responses: { 200: { description: seatEvents, mediaType: 'text/event-stream' } },
  },
  holdSeat: {
    errors: ['NOT_FOUND', 'RESERVATION_NOT_OPEN', 'SEAT_NOT_AVAILABLE', ...write],
    responses: { 201: 'The seat is held for you until `holdExpiresAt`' },
  },
  getReservation: {
    errors: ['NOT_FOUND'],
    responses: { 200: "Your reservation (someone else's is a 404)" },
  },
  getWallet: { errors: [], responses: { 200: 'Your balance' } },
  chargeWallet: {
    // The decider also refuses a balance that would outgrow a safe integer.
    errors: ['VALIDATION_FAILED', 'IDEMPOTENCY_KEY_REUSED', ...write],
    responses: { 200: 'The wallet after the charge (the same answer for a retried key)' },
  },
  payReservation: {
    errors: [
      'NOT_FOUND',
      'SEAT_NOT_HELD_BY_USER',
      'INSUFFICIENT_BALANCE',
      'HOLD_EXPIRED',
      'ALREADY_PAID',
      'PAYMENT_IN_PROGRESS',
      'PAYMENT_ABORTED',
      'IDEMPOTENCY_KEY_REUSED',
      ...write,
    ],
    responses: { 201: 'Paid: the seat is yours and your queue token has expired' },
  },
  scheduleConcert: {
    errors: ['VALIDATION_FAILED', ...write],
    responses: { 201: 'The concert with the ids of its dates and seats' },
  },
  getStreamHistory: {
    errors: ['NOT_FOUND'],
    responses: { 200: 'Every event of the stream, in order' },
  },
  getStreamState: {
    errors: ['NOT_FOUND'],
    responses: { 200: "The stream's state folded up to `at`" },
  },
  rebuildProjection: {
    errors: ['NOT_FOUND', 'CONCURRENCY_CONFLICT'],
    responses: { 202: 'The rebuild started; follow it in `GET /admin/projections`' },
  },
  listProjections: {
    errors: [],
    responses: { 200: 'Each projection with its checkpoint, lag and status' },
  },
  getQueue: { errors: [], responses: { 200: 'The queue settings and counts' } },
  changeQueue: {
    errors: ['VALIDATION_FAILED', ...write],
    responses: { 200: 'The settings after the change, with the counts' },
  },
  revokeToken: {
    errors: ['NOT_FOUND', ...write],
    responses: { 200: "The user's token, now expired" },
  },
  traceUser: {
    errors: ['NOT_FOUND'],
    responses: { 200: "The user's events across streams, in log order" },
  },
  getHealth: { errors: [], database: false, responses: { 200: 'The process is up' } },
  getReadiness: {
    // The handler answers every failure itself, with 503 and its own body.
    errors: [],
    database: false,
    responses: {
      200: 'The database answers and every projection is caught up',
      503: 'Not ready: the database is unreachable (`unavailable`) or a projection lags or fails (`lagging`)',
    },
  },
  getMetrics: {
    errors: [],
    responses: {
      200: { description: 'Prometheus text exposition format', mediaType: 'text/plain' },
    },
  },
};
