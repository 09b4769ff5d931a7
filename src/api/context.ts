import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { RebuildJobs } from '../projections/rebuild-jobs.js';
import type { TokenView } from '../queries/tokens.js';
import type { System } from '../system.js';
import type { CountJoin } from './join-rate-limit.js';
import type { Metrics } from './plugins/metrics.js';
import type { StreamTickets } from './stream-tickets.js';

export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface ApiContext {
  readonly system: System;
  readonly metrics: Metrics;
  readonly rebuilds: RebuildJobs;
  /** Token lookups, cached in the projection leader (queries/tokens.ts). */
  readonly findToken: (tokenId: string, now: Date) => Promise<TokenView | undefined>;
  /** Counts a join toward the caller's per-minute limit (shared by every process). */
  readonly countJoin: CountJoin;
  /** `jwt`: the caller is the verified token's `sub`; `demo`: whoever the body names. */
  readonly identityMode: 'jwt' | 'demo';
  /** Short-lived tickets that let a browser's EventSource open an event stream. */
  readonly streamTickets: StreamTickets;
}
