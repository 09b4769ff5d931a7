import type { ServerResponse } from 'node:http';
import type { Clock } from '../commands/clock.js';
import { sleep } from '../infrastructure/sleep.js';
import type { Db } from '../projections/database.js';
import { estimateWaitSeconds, type LineSnapshot } from '../queries/queue-estimate.js';
import { holesBelow, toTokenView, type Placement, type TokenView } from '../queries/tokens.js';
import { waitingRoomSnapshot } from '../queries/waiting-room.js';
import { defaultSseOptions, SseChannel, SseConnection, type SseOptions } from './sse.js';

export interface WaitingRoomOptions extends SseOptions {
  /** How often each process reads the admitted count while any stream is open. */
  readonly pollMs: number;
  /** At most one message per stream this often: moves in between are coalesced. */
  readonly minMessageIntervalMs: number;
}

export const defaultWaitingRoomOptions: WaitingRoomOptions = {
  ...defaultSseOptions,
  pollMs: 200,
  minMessageIntervalMs: 1000,
};

/**
 * One open `GET /queue/tokens/current/events`. Plain fields only (a few hundred bytes):
 * no closures, timers or subscriptions per stream.
 */
class TokenStream extends SseConnection {
  /**
   * opening: queue number not read yet; waiting: placed by the placement alone;
   * watched: admitted (or about to be) or pre-queued (no number until the draw), its row
   * is read each round.
   */
  phase: 'opening' | 'waiting' | 'watched' = 'opening';
  queueNumber = 0;
  /** A waiting token's JSON fields that do not move while it waits, without the `{`. */
  fixed = '';
  lastEventId: string | undefined;
  lastMessageAt = Number.NEGATIVE_INFINITY;
  constructor(
    response: ServerResponse,
    readonly tokenId: string,
  ) {
    super(response);
  }
}

/** The SSE `id:` of a token view; a reconnect that sends it back skips an unchanged view. */
export const tokenEventId = (view: TokenView): string =>
  view.status === 'hold' ? `h${view.position}` : view.status;

/**
 * Every waiting stream of this process. Each round reads the admitted count once (one
 * statement, whatever the number of streams), and when it moved, computes every waiting
 * position from it (queue number - admitted count) and pushes it: no lookup per stream.
 * Only the few streams of admitted tokens are read by id.
 */
export class WaitingRoom {
  private readonly channel: SseChannel<TokenStream>;
  private placement: Placement = { admitted: -1, holes: [] };
  private running = false;
  private readonly stopping = new AbortController();

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      /** The line's state for estimates; cached by the caller. */
      line: () => Promise<LineSnapshot>;
      log?: (error: unknown, message: string) => void;
    },
    private readonly options: WaitingRoomOptions = defaultWaitingRoomOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.channel = new SseChannel<TokenStream>(options, now);
  }

  get size(): number {
    return this.channel.connections.size;
  }

  get droppedSlowReaders(): number {
    return this.channel.droppedSlowReaders;
  }

  /** Takes over a response: the caller's current view at once, then every change. */
  async open(response: ServerResponse, caller: TokenView, lastEventId?: string): Promise<void> {
    const stream = new TokenStream(response, caller.token);
    stream.lastEventId = lastEventId;
    this.channel.open(stream);
    if (caller.status !== 'hold') stream.phase = 'watched';
    const line = await this.deps.line();
    if (!this.channel.connections.has(stream)) return;
    this.push(stream, caller, line);
    if (!this.running && !this.stopping.signal.aborted) {
      this.running = true;
      void this.run();
    }
  }

  private async run(): Promise<void> {
    while (this.channel.connections.size > 0 && !this.stopping.signal.aborted) {
      let again = false;
      try {
        again = await this.round();
      } catch (error) {
        // The database being away is not news for the waiting: keep the streams, retry.
        this.deps.log?.(error, 'waiting room round failed; retrying');
      }
      if (!again) await sleep(this.options.pollMs, this.stopping.signal);
    }
    this.running = false;
  }

  /** One round; true when streams were just admitted and should be read at once. */
  private async round(): Promise<boolean> {
    const lookups: TokenStream[] = [];
    for (const stream of this.channel.connections)
      if (stream.phase !== 'waiting') lookups.push(stream);
    const snapshot = await waitingRoomSnapshot(
      this.deps.db,
      lookups.map((stream) => stream.tokenId),
    );
    const now = this.deps.clock();
    const line = await this.deps.line();
    const rows = new Map(snapshot.rows.map((row) => [row.token_id, row]));
    for (const stream of lookups) {
      const row = rows.get(stream.tokenId);
      if (!this.channel.connections.has(stream) || !row) continue;
      const view = toTokenView(row, snapshot.placement, now);
      if (view.status === 'hold' && view.position !== null && row.queue_number !== null) {
        stream.phase = 'waiting';
        stream.queueNumber = row.queue_number;
        stream.fixed = fixedFields(view);
      } else {
        // Admitted, expired, or pre-queued (position null until the draw places it).
        stream.phase = 'watched';
        this.push(stream, view, line);
      }
    }
    this.placement = snapshot.placement;
    return this.broadcast(line);
  }

  /**
   * Positions for every waiting stream from the one admitted count. A stream that had a
   * message less than minMessageIntervalMs ago keeps its change for a later round.
   */
  private broadcast(line: LineSnapshot): boolean {
    const now = this.now();
    const { admitted, holes } = this.placement;
    let admittedNow = false;
    for (const stream of this.channel.connections) {
      if (stream.phase !== 'waiting') continue;
      const position = stream.queueNumber - admitted - holesBelow(holes, stream.queueNumber);
      if (position < 1) {
        stream.phase = 'watched';
        admittedNow = true;
        continue;
      }
      const id = `h${position}`;
      if (
        id === stream.lastEventId ||
        now - stream.lastMessageAt < this.options.minMessageIntervalMs
      )
        continue;
      const estimate = estimateWaitSeconds(position, line);
      const sent = this.channel.send(
        stream,
        `id: ${id}\nevent: token\ndata: {"position":${position},"estimatedWaitSeconds":${estimate},${stream.fixed}\n\n`,
      );
      if (sent) {
        stream.lastEventId = id;
        stream.lastMessageAt = now;
      }
    }
    return admittedNow;
  }

  /** Sends a whole view unless the stream already has it; an expired token ends the stream. */
  private push(stream: TokenStream, view: TokenView, line: LineSnapshot): void {
    const id = tokenEventId(view);
    if (view.status === 'hold') {
      stream.fixed = fixedFields(view);
    }
    if (id === stream.lastEventId) {
      if (view.status === 'expired') this.channel.end(stream);
      return;
    }
    const now = this.now();
    if (now - stream.lastMessageAt < this.options.minMessageIntervalMs) return;
    const estimatedWaitSeconds =
      view.status === 'hold' ? estimateWaitSeconds(view.position, line) : 0;
    const data = JSON.stringify({ ...view, estimatedWaitSeconds });
    if (view.status === 'expired') {
      this.channel.end(stream, `id: ${id}\nevent: expired\ndata: ${data}\n\n`);
      return;
    }
    if (this.channel.send(stream, `id: ${id}\nevent: token\ndata: ${data}\n\n`)) {
      stream.lastEventId = id;
      stream.lastMessageAt = now;
    }
  }

  /** Ends every stream: the server is stopping (clients reconnect elsewhere). */
  close(): void {
    this.stopping.abort();
    this.channel.close();
  }
}

function fixedFields(view: TokenView): string {
  const { position: _position, ...rest } = view;
  return JSON.stringify(rest).slice(1);
}
