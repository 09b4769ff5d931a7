import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { Subject } from 'rxjs';
import { comparePositions, formatPosition, parsePosition, type Position } from '../port.js';

const notifyChannel = 'es_events';
/**
 * A NOTIFY's payload: the position, then the sending notifier's id. A notifier skips its
 * own NOTIFY when it comes back on its LISTEN: `announce` already woke its subscribers
 * with the event types, and the bare echo would wake every subscriber, whatever its
 * types, for one more read of the log each.
 */
const formatPayload = (position: Position, sender: string) => `${formatPosition(position)};${sender}`;

/** The position of a payload, unless `self` sent it; a bare position is a peer's. */
export function parsePayload(payload: string, self: string): Position | undefined {
  const [position = '', sender] = payload.split(';');
  return sender === self ? undefined : parsePosition(position);
}

/** LISTEN clients already given back to the pool (a second release throws). */
const released = new WeakSet<pg.PoolClient>();

/** A committed append: this process's with its event types, another's (LISTEN) without. */
export interface CommittedAppend {
  readonly position: Position;
  readonly types?: readonly string[];
}

/**
 * Tells readers about committed appends: this process's at once, other processes'
 * through one LISTEN connection; this process's reach the others by a coalesced NOTIFY.
 */
export class AppendNotifier {
  readonly committed = new Subject<CommittedAppend>();
  private listener: Promise<pg.PoolClient> | undefined;
  private notifyPending: Position | undefined;
  private notifying = false;
  private closed = false;
  private readonly id = randomUUID();

  constructor(private readonly pool: pg.Pool) {}

  get listening(): boolean {
    return this.listener !== undefined;
  }

  /** Wakes local subscribers now and other processes through one coalesced NOTIFY. */
  announce(position: Position, types: readonly string[]): void {
    this.committed.next({ position, types });
    if (!this.notifyPending || comparePositions(position, this.notifyPending) > 0)
      this.notifyPending = position;
    if (this.notifying) return;
    this.notifying = true;
    void (async () => {
      while (this.notifyPending && !this.closed) {
        const pending = this.notifyPending;
        this.notifyPending = undefined;
        await this.pool
          .query('SELECT pg_notify($1, $2)', [notifyChannel, formatPayload(pending, this.id)])
          // A lost NOTIFY only delays other processes until their next poll.
          .catch(() => undefined);
      }
      this.notifying = false;
    })();
  }

  listen(): Promise<pg.PoolClient> {
    this.listener ??= (async () => {
      const client = await this.pool.connect();
      client.on('notification', (message) => {
        const position = message.payload ? parsePayload(message.payload, this.id) : undefined;
        if (position) this.committed.next({ position });
      });
      client.on('error', (error) => {
        // The poll fallback keeps subscribers going until a reader reconnects (each
        // subscriber's next wait does). The dead client goes back to be discarded:
        // kept, it would leak a pool slot per dropped connection and block pool.end().
        if (this.listener === listening) this.listener = undefined;
        // 'error' can fire more than once, or after close() released it: release once.
        if (!released.has(client)) {
          released.add(client);
          client.release(error);
        }
      });
      await client.query(`LISTEN ${notifyChannel}`);
      return client;
    })();
    const listening = this.listener;
    // A failed LISTEN (database down) is retried by the next reader rather than cached.
    listening.catch(() => {
      if (this.listener === listening) this.listener = undefined;
    });
    return listening;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.committed.complete();
    const listener = this.listener;
    this.listener = undefined;
    if (listener) {
      // A listener that never connected has nothing to release.
      const client = await listener.catch(() => undefined);
      if (client && !released.has(client)) {
        released.add(client);
        client.release(true);
      }
    }
  }
}
