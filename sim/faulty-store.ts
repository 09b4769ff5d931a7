import type { Observable } from 'rxjs';
import type {
  AppendResult,
  CountEventsOptions,
  EventStore,
  EventToAppend,
  ExpectedRevision,
  LogBatch,
  LogFilter,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  RecordedEvent,
  StreamAllOptions,
  SubscribeOptions,
} from '../src/events/store/port.js';

/** The kinds of fault the wrapper injects around the real store's calls. */
export type Fault = 'transient' | 'ambiguous' | 'latency';

export interface FaultRule {
  /** Which call: an append to a stream whose name starts with this prefix (any stream if absent). */
  readonly streamPrefix?: string;
  readonly fault: Fault;
  /** How many matching appends it hits before it is used up (default 1). */
  readonly times?: number;
  readonly latencyMs?: number;
}

/** What a dropped connection looks like to node-postgres callers. */
export class InjectedConnectionError extends Error {
  override readonly name = 'InjectedConnectionError';
  constructor(readonly fault: Fault | 'crashed') {
    super(
      fault === 'crashed' ? 'process crashed (injected)' : 'Connection terminated unexpectedly',
    );
  }
}

export interface FaultLogEntry {
  readonly call: 'append' | 'read';
  readonly stream: string;
  readonly fault: Fault | 'crashed';
}

/**
 * A fault-injecting wrapper around a real EventStore (PostgreSQL underneath, never a fake):
 * a transient error before the write, an ambiguous commit (the append commits, then the
 * caller sees an error), added latency, and a crash after which every call of this
 * "process" fails, so in-flight commands are abandoned at their next await.
 */
export class FaultyEventStore implements EventStore {
  private readonly rules: { rule: FaultRule; left: number }[] = [];
  private crashed = false;
  readonly injected: FaultLogEntry[] = [];

  constructor(
    private readonly inner: EventStore,
    /** Seeded random faults: each append draws once (used by the simulation). */
    private readonly random?: {
      next(): number;
      transient: number;
      ambiguous: number;
      latency: number;
      readTransient?: number;
    },
  ) {}

  /** Queue a one-shot (or `times`-shot) fault for matching appends. */
  inject(rule: FaultRule): void {
    this.rules.push({ rule, left: rule.times ?? 1 });
  }

  crash(): void {
    this.crashed = true;
  }

  get isCrashed(): boolean {
    return this.crashed;
  }

  private draw(streamName: string): FaultRule | undefined {
    const index = this.rules.findIndex(
      ({ rule, left }) =>
        left > 0 && (rule.streamPrefix === undefined || streamName.startsWith(rule.streamPrefix)),
    );
    if (index >= 0) {
      const entry = this.rules[index]!;
      entry.left--;
      if (entry.left === 0) this.rules.splice(index, 1);
      return entry.rule;
    }
    if (!this.random) return undefined;
    const roll = this.random.next();
    const { transient, ambiguous, latency } = this.random;
    if (roll < transient) return { fault: 'transient' };
    if (roll < transient + ambiguous) return { fault: 'ambiguous' };
    if (roll < transient + ambiguous + latency)
      return { fault: 'latency', latencyMs: Math.floor(this.random.next() * 20) };
    return undefined;
  }

  private alive(call: 'append' | 'read', stream: string): void {
    if (!this.crashed) return;
    this.injected.push({ call, stream, fault: 'crashed' });
    throw new InjectedConnectionError('crashed');
  }

  async appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult> {
    this.alive('append', streamName);
    const rule = this.draw(streamName);
    if (rule) this.injected.push({ call: 'append', stream: streamName, fault: rule.fault });
    if (rule?.fault === 'transient') throw new InjectedConnectionError('transient');
    if (rule?.fault === 'latency')
      await new Promise((resolve) => setTimeout(resolve, rule.latencyMs ?? 5));
    this.alive('append', streamName);
    const result = await this.inner.appendToStream(streamName, events, options);
    if (rule?.fault === 'ambiguous') throw new InjectedConnectionError('ambiguous');
    this.alive('append', streamName);
    return result;
  }

  async readStream(streamName: string, options?: ReadStreamOptions): Promise<RecordedEvent[]> {
    this.alive('read', streamName);
    if (this.random?.readTransient && this.random.next() < this.random.readTransient) {
      this.injected.push({ call: 'read', stream: streamName, fault: 'transient' });
      throw new InjectedConnectionError('transient');
    }
    const events = await this.inner.readStream(streamName, options);
    this.alive('read', streamName);
    return events;
  }

  readAll(options?: ReadAllOptions): Promise<RecordedEvent[]> {
    this.alive('read', '$all');
    return this.inner.readAll(options);
  }

  subscribeToAll(options?: SubscribeOptions): Observable<RecordedEvent> {
    return this.inner.subscribeToAll(options);
  }

  streamAll(options?: StreamAllOptions): AsyncIterable<LogBatch> {
    return this.inner.streamAll(options);
  }

  headPosition(filter?: Pick<LogFilter, 'eventTypes'>): Promise<Position> {
    this.alive('read', '$head');
    return this.inner.headPosition(filter);
  }

  countEvents(options: CountEventsOptions): Promise<number> {
    this.alive('read', '$count');
    return this.inner.countEvents(options);
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}
