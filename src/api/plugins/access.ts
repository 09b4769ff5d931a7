import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { DomainError } from '../../commands/errors.js';
import type { Clock } from '../../commands/clock.js';
import type { TokenView } from '../../queries/tokens.js';
import type { StreamTickets } from '../stream-tickets.js';
import type { VerifyCaller } from './identity.js';

/**
 * Who may call a route. Every route declares one in `config.access`. `user`: a verified
 * JWT when identity is configured (its `sub` goes on the request), anyone in demo mode.
 */
export type Access = 'public' | 'user' | 'admin' | 'any-token' | 'pass';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access;
    /** POST /payments: an idempotent replay may come after the payment expired the token. */
    allowExpiredForReplay?: boolean;
    /**
     * An event stream: besides X-Queue-Token it accepts `?ticket=` (a short-lived stream
     * ticket, api/stream-tickets.ts), which a browser's EventSource can send.
     */
    streamTicket?: boolean;
  }
  interface FastifyRequest {
    /** The token's owner: the caller's identity for every token-gated route. */
    caller: TokenView | null;
    /** The verified JWT `sub` on `user` routes; null in demo mode. */
    authenticatedUserId: string | null;
  }
}

const tokenFormat = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Constant time, length included: both sides are hashed to 32 bytes first. */
function keysMatch(given: string, expected: string): boolean {
  const digest = (key: string) => createHash('sha256').update(key).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

/** The queue token id from X-Queue-Token or, on event streams only, from a stream ticket. */
function callerTokenId(
  request: FastifyRequest,
  streamTicket: boolean,
  deps: { clock: Clock; streamTickets: StreamTickets },
): string {
  const header = request.headers['x-queue-token'];
  const { ticket } = request.query as { ticket?: unknown };
  if (header === undefined && streamTicket && ticket !== undefined) {
    const opened =
      typeof ticket === 'string' ? deps.streamTickets.open(ticket, deps.clock()) : undefined;
    if (opened && 'tokenId' in opened) return opened.tokenId;
    throw new DomainError(
      'TOKEN_INVALID',
      opened?.refused === 'expired'
        ? 'this stream ticket has expired; get a new one from POST /queue/tokens/current/stream-ticket'
        : 'this stream ticket is not valid',
    );
  }
  if (typeof header !== 'string' || !tokenFormat.test(header)) {
    throw new DomainError('TOKEN_INVALID', 'a valid X-Queue-Token header is required');
  }
  return header.toLowerCase();
}

/**
 * Checks X-Queue-Token or X-Admin-Key once, before the body is even parsed, and puts the
 * caller on the request. No route takes a userId from the request except token issuance.
 */
export function registerAccess(
  app: FastifyInstance,
  deps: {
    findToken: (tokenId: string, now: Date) => Promise<TokenView | undefined>;
    clock: Clock;
    adminApiKey: string;
    verifyCaller: VerifyCaller | undefined;
    streamTickets: StreamTickets;
  },
): void {
  app.decorateRequest('caller', null);
  app.decorateRequest('authenticatedUserId', null);
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const {
      access = 'public',
      allowExpiredForReplay = false,
      streamTicket = false,
    } = request.routeOptions.config;
    if (access === 'public') return;
    if (access === 'user') {
      if (deps.verifyCaller)
        request.authenticatedUserId = await deps.verifyCaller(request.headers.authorization);
      return;
    }
    if (access === 'admin') {
      const key = request.headers['x-admin-key'];
      if (typeof key !== 'string' || !keysMatch(key, deps.adminApiKey)) {
        throw new DomainError('ADMIN_KEY_INVALID', 'a valid X-Admin-Key header is required');
      }
      return;
    }
    const tokenId = callerTokenId(request, streamTicket, deps);
    const token = await deps.findToken(tokenId, deps.clock());
    if (!token) throw new DomainError('TOKEN_INVALID', 'this queue token is not known');
    request.caller = token;
    if (access === 'any-token') return;
    if (token.status === 'hold') {
      throw new DomainError(
        'TOKEN_NOT_ACTIVE',
        token.position === null
          ? `waiting in the pre-queue for the opening at ${token.opensAt ?? 'a time to be set'}`
          : `still waiting in line at position ${token.position}`,
        { position: token.position },
      );
    }
    if (token.status === 'expired' && !allowExpiredForReplay) {
      throw new DomainError(
        'TOKEN_EXPIRED',
        token.reason === 'revoked'
          ? 'this queue token was revoked'
          : 'this queue token has expired; issue a new one',
        { reason: token.reason ?? 'ttl' },
      );
    }
  });
}
