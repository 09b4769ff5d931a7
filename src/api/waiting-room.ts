import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Observable, Subscription } from 'rxjs';
import type { Clock } from '../commands/clock.js';
import { sleep } from '../infrastructure/sleep.js';
import type { Db } from '../projections/database.js';
import { lineEstimator, type LineSnapshot } from '../queries/queue-estimate.js';
import { holesBelow, toTokenView, type Placement, type TokenView } from '../queries/tokens.js';
import { waitingRoomSnapshot, type PrequeueState } from '../queries/waiting-room.js';
import { defaultSseOptions, SseChannel, type SseOptions } from './sse.js';
import {
  estimateMoved,
  fixedFields,
  placeOf,
  prequeueEventId,
  TokenStream,
  told,
  toldBefore,
  waitingEventId,
} from './token-stream.js';

export interface WaitingRoomOptions extends SseOptions {
  /** How often each process reads the admitted count while any stream is open. */
  readonly pollMs: number;
  /** At most one message per stream this often: moves in between are coalesced. */
  readonly minMessageIntervalMs: number;
  /**
   * Pre-queued streams share one payload, rebuilt when the opening moves or a draw
   * places them; their rows are read again only this often, to notice a revocation.
   */
  readonly prequeueSweepMs: number;
  /**
   * A new pace alone (the same place, an estimate that moved by a tenth) is told at most
   * this often: the line's measured pace jumps at every admission batch, and each such
   * message costs a write per stream and holds back the next move by the 1 s window.
   * A pause or a resume (the estimate disappears or appears) is told at once.
   */
  readonly estimateNewsMs: number;
  /**
   * A pass over every stream writes for at most this long before it lets the event loop
   * serve requests: a move writes to every waiting stream (tens of microseconds of socket
   * write each, about half a second at 19,000), and joins and holds must not queue behind it.
   */
  readonly passSliceMs: number;
}

export const defaultWaitingRoomOptions: WaitingRoomOptions = {
  ...defaultSseOptions,
  pollMs: 200,
  minMessageIntervalMs: 1000,
  prequeueSweepMs: 5000,
  estimateNewsMs: 5000,
  passSliceMs: 4,
};

/**
 * Every waiting stream of this process. Each round reads the admitted count once (one
 * statement, whatever the number of streams), and when it moved, computes every waiting
 * position from it (queue number - admitted count) and pushes it: no lookup per stream.
 * Only the few streams of admitted tokens are read by id.
 */
export class WaitingRoom {
  private readonly channel: SseChannel<TokenStream>;
  private placement: Placement = { admitted: -1, holes: [] };
  private prequeue: PrequeueState | undefined;
  /** The line snapshot of the last broadcast: a new one may change every estimate. */
  private estimatedFrom: LineSnapshot | undefined;
  private lastSweep = Number.NEGATIVE_INFINITY;
  private running = false;
  private readonly stopping = new AbortController();
  /** Ends the current pause between rounds early. */
  private wake: AbortController | undefined;

  constructor(
    private readonly deps: {
      db: Db;
      clock: Clock;
      /** The line's state for estimates; cached by the caller. */
      line: () => Promise<LineSnapshot>;
      /**
       * Emits when this process's tokens projection applied admissions or exits: the next
       * round runs at once instead of at the end of the poll interval (a standby, whose
       * projections do not run, polls).
       */
      moved?: Observable<unknown>;
      log?: (error: unknown, message: string) => void;
    },
    private readonly options: WaitingRoomOptions = defaultWaitingRoomOptions,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.channel = new SseChannel<TokenStream>(options, now);
    this.subscription = deps.moved?.subscribe(() => {
      this.news = true;
      this.wake?.abort();
    });
  }
  private readonly subscription: Subscription | undefined;
  /**
   * Set when the tokens projection applied admissions or exits: a pass under way stops at
   * its next slice (what it would still write may already be stale: a stream whose token
   * was just revoked must not hear a place after the revocation's answer), and the next
   * round, at once, reads every stream's news afresh, pre-queued ones included.
   */
  private news = false;

  get size(): number {
    return this.channel.connections.size;
  }

  get droppedSlowReaders(): number {
    return this.channel.droppedSlowReaders;
  }

  /** Messages written to waiting streams so far. */
  get messagesSent(): number {
    return this.channel.sent;
  }

  /** Thread time spent in passes over the streams so far (the slices, not the pauses). */
  passBusySeconds = 0;

  /** Takes over a response: the caller's current view at once, then every change. */
  async open(
    response: ServerResponse,
    caller: TokenView,
    options: { lastEventId?: string; headers?: OutgoingHttpHeaders } = {},
  ): Promise<void> {
    const stream = new TokenStream(response, caller.token);
    toldBefore(stream, options.lastEventId);
    this.channel.open(stream, options.headers);
    if (caller.status !== 'hold') stream.phase = 'watched';
    const line = await this.deps.line();
    if (!this.channel.connections.has(stream)) return;
    this.push(stream, caller, lineEstimator(line));
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
        // A round cut short by the server closing its database is not a failure.
        if (this.stopping.signal.aborted) break;
        // The database being away is not news for the waiting: keep the streams, retry.
        this.deps.log?.(error, 'waiting room round failed; retrying');
      }
      if (!again) await this.pause();
    }
    this.running = false;
  }

  /** Until the poll interval ends, the line moves, or the room closes. */
  private async pause(): Promise<void> {
    this.wake = new AbortController();
    await sleep(this.options.pollMs, AbortSignal.any([this.wake.signal, this.stopping.signal]));
    this.wake = undefined;
  }

  /** One round; true when streams were just admitted, left or drawn and should be read at once. */
  private async round(): Promise<boolean> {
    const news = this.news;
    this.news = false;
    const sweep = news || this.now() - this.lastSweep >= this.options.prequeueSweepMs;
    if (sweep) this.lastSweep = this.now();
    const lookups: TokenStream[] = [];
    for (const stream of this.channel.connections) {
      const { phase } = stream;
      if (phase === 'opening' || phase === 'watched' || (sweep && phase === 'prequeued'))
        lookups.push(stream);
    }
    const snapshot = await waitingRoomSnapshot(
      this.deps.db,
      lookups.map((stream) => stream.tokenId),
    );
    const now = this.deps.clock();
    const line = await this.deps.line();
    const estimate = lineEstimator(line);
    const rows = new Map(snapshot.rows.map((row) => [row.token_id, row]));
    for (const stream of lookups) {
      const row = rows.get(stream.tokenId);
      if (!this.channel.connections.has(stream) || !row) continue;
      const view = toTokenView(row, snapshot.placement, now);
      if (view.status === 'hold' && view.position !== null && row.queue_number !== null) {
        stream.phase = 'waiting';
        stream.queueNumber = row.queue_number;
        stream.fixed = fixedFields(view);
      } else if (view.status === 'hold') {
        // Pre-queued: the shared payload below tells it; its row is not read again
        // until the draw (or the sweep for a revocation).
        stream.phase = 'prequeued';
        stream.fixed = fixedFields(view);
      } else {
        stream.phase = 'watched';
        this.push(stream, view, estimate);
      }
    }
    this.placement = snapshot.placement;
    const drawn =
      this.prequeue !== undefined && this.prequeue.openings !== snapshot.prequeue.openings;
    this.prequeue = snapshot.prequeue;
    let again = await this.broadcast(line, estimate);
    if (drawn) {
      // The draw placed every pre-queued token: read each once for its number.
      for (const stream of this.channel.connections)
        if (stream.phase === 'prequeued') stream.phase = 'opening';
      again = true;
    } else if (!(await this.tellPrequeued(snapshot.prequeue.opensAt))) again = true;
    return again;
  }

  /**
   * Positions for every waiting stream from the one admitted count. A stream that had a
   * message less than minMessageIntervalMs ago keeps its change for a later round; an
   * estimate is worked out again only when the position or the line's snapshot changed.
   */
  private async broadcast(
    line: LineSnapshot,
    estimate: (position: number) => number | null,
  ): Promise<boolean> {
    const { admitted, holes } = this.placement;
    const lineChanged = line !== this.estimatedFrom;
    this.estimatedFrom = line;
    let readNow = false;
    const whole = await this.eachStream((stream) => {
      if (stream.phase !== 'waiting') return;
      const below = holesBelow(holes, stream.queueNumber);
      const position = stream.queueNumber - admitted - below;
      // Admitted, or left the line (revoked: its own number is a hole): read its row now.
      if (position < 1 || holes[below] === stream.queueNumber) {
        stream.phase = 'watched';
        readNow = true;
        return;
      }
      const samePlace = position === stream.lastPosition;
      if (samePlace && !lineChanged) return;
      // The clock is read again here: a pass lasts long enough for the one-second rule.
      const now = this.now();
      if (now - stream.lastMessageAt < this.options.minMessageIntervalMs) return;
      const wait = estimate(position);
      if (samePlace && !this.estimateNews(stream, wait, now)) return;
      const sent = this.channel.send(
        stream,
        `id: ${waitingEventId(position, wait)}\nevent: token\ndata: {"position":${position},"estimatedWaitSeconds":${wait},${stream.fixed}\n\n`,
      );
      if (sent) told(stream, position, undefined, wait, now);
    });
    return readNow || !whole;
  }

  private estimateNews(stream: TokenStream, wait: number | null, now: number): boolean {
    const sent = stream.lastEstimate;
    if (!estimateMoved(sent, wait)) return false;
    const newPace = wait !== null && sent !== null && sent !== undefined;
    return !newPace || now - stream.lastMessageAt >= this.options.estimateNewsMs;
  }

  /** Every pre-queued stream hears the same news (the opening moved): built once. False when cut short. */
  private async tellPrequeued(opensAt: string | null): Promise<boolean> {
    const id = prequeueEventId(opensAt);
    const shared = `"position":null,"estimatedWaitSeconds":null,"prequeue":true,${opensAt === null ? '' : `"opensAt":"${opensAt}",`}`;
    return this.eachStream((stream) => {
      if (stream.phase !== 'prequeued' || stream.lastPlace === id) return;
      const now = this.now();
      if (now - stream.lastMessageAt < this.options.minMessageIntervalMs) return;
      if (this.channel.send(stream, `id: ${id}\nevent: token\ndata: {${shared}${stream.fixed}\n\n`))
        told(stream, 0, id, null, now);
    });
  }

  /**
   * Every open stream, in slices of at most passSliceMs of work with a turn of the event
   * loop between them. A stream that closes meanwhile is skipped (a Set's iterator does
   * not visit deleted entries); one opened meanwhile is visited, after its own first push.
   * False when news came in between slices and the pass stopped there.
   */
  private async eachStream(visit: (stream: TokenStream) => void): Promise<boolean> {
    let sliceStarted = performance.now();
    let counted = 0;
    try {
      for (const stream of this.channel.connections) {
        visit(stream);
        // The clock is read every 32 streams: reading it costs more than a skipped stream.
        if (++counted % 32 !== 0) continue;
        const now = performance.now();
        if (now - sliceStarted < this.options.passSliceMs) continue;
        this.passBusySeconds += (now - sliceStarted) / 1000;
        await nextTurn();
        // Restarted before any return: the wait for the turn is not the pass's time.
        sliceStarted = performance.now();
        if (this.stopping.signal.aborted || this.news) return false;
      }
    } finally {
      this.passBusySeconds += (performance.now() - sliceStarted) / 1000;
    }
    return true;
  }

  /** Sends a whole view unless the stream already has it; an expired token ends the stream. */
  private push(
    stream: TokenStream,
    view: TokenView,
    estimate: (position: number | null) => number | null,
  ): void {
    if (view.status === 'hold') stream.fixed = fixedFields(view);
    const estimatedWaitSeconds = view.status === 'hold' ? estimate(view.position) : 0;
    const position = view.status === 'hold' && view.position !== null ? view.position : 0;
    const place = position > 0 ? undefined : placeOf(view);
    const has =
      position > 0
        ? position === stream.lastPosition &&
          !estimateMoved(stream.lastEstimate, estimatedWaitSeconds)
        : place === stream.lastPlace;
    if (has) {
      if (view.status === 'expired') this.channel.end(stream);
      return;
    }
    const id = place ?? waitingEventId(position, estimatedWaitSeconds);
    const data = () => JSON.stringify({ ...view, estimatedWaitSeconds });
    // The last word is not held back by the one-message-a-second rule: it ends the stream.
    if (view.status === 'expired') {
      this.channel.end(stream, `id: ${id}\nevent: expired\ndata: ${data()}\n\n`);
      return;
    }
    const now = this.now();
    if (now - stream.lastMessageAt < this.options.minMessageIntervalMs) return;
    if (this.channel.send(stream, `id: ${id}\nevent: token\ndata: ${data()}\n\n`))
      told(stream, position, place, estimatedWaitSeconds, now);
  }

  /** Ends every stream: the server is stopping (clients reconnect elsewhere). */
  close(): void {
    this.stopping.abort();
    this.subscription?.unsubscribe();
    this.channel.close();
  }
}
