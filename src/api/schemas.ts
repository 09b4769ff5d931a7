import { z } from 'zod';

/** Shapes shared by several routes; each route file keeps its own request bodies. */
export const isoTime = z.iso.datetime({ offset: true }).describe('ISO-8601 time in UTC');
/**
 * A time a request sets and the log keeps: in UTC, years 1 to 9999. Outside them the
 * stored form is not ISO-8601 (`+010000-...`, so no reader of the log could parse it
 * back) or not a time PostgreSQL accepts (year 0).
 */
export const storedTime = isoTime.refine(
  (value) => {
    const year = new Date(value).getUTCFullYear();
    return year >= 1 && year <= 9999;
  },
  { error: 'must fall in the years 1 to 9999 in UTC' },
);
/** Free text a request stores: PostgreSQL text and jsonb cannot hold the NUL character. */
export const storedText = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => !value.includes('\u0000'), { error: 'must not contain the NUL character' });
export const id = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_.-]+$/, { error: 'must be an id' });
export const idempotencyHeaders = z.looseObject({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7E]{1,128}$/, { error: 'must be 1 to 128 printable characters' })
    .optional(),
});

export const tokenView = z.object({
  token: z.string(),
  userId: z.string(),
  status: z.enum(['hold', 'pass', 'expired']),
  position: z.number().int().nullable().describe('null while pre-queued'),
  createdAt: isoTime,
  updatedAt: isoTime,
  expiresAt: isoTime.optional(),
  prequeue: z.literal(true).optional().describe('waiting for the opening draw'),
  opensAt: isoTime.optional().describe('when the pre-queue opens (pre-queued tokens)'),
  reason: z.enum(['ttl', 'payment', 'revoked']).optional().describe('why an expired token expired'),
});

/** One event of a stream's history, as the audit routes show it. */
export const historyEntry = z.object({
  position: z.string().describe('log position "commit/prepare"'),
  revision: z.number().int(),
  type: z.string(),
  data: z.unknown(),
  metadata: z.record(z.string(), z.unknown()),
  createdAt: isoTime,
});

/**
 * The query of every event stream (`.../events`): `ticket` authenticates a browser's
 * EventSource instead of X-Queue-Token (the access plugin checks it; see stream-tickets.ts).
 */
export const streamQuery = z.object({
  ticket: z
    .string()
    .max(200)
    .optional()
    .describe(
      'A stream ticket from POST /queue/tokens/current/stream-ticket, instead of X-Queue-Token',
    ),
});
