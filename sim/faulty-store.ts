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
  StreamAppend,
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

/** Seeded fault rates of one view of the store; each append draws once. */
export interface FaultProfile {
  next(): number;
  transient: number;
  ambiguous: number;
  latency: number;
  readTransient?: number;
  /**
   * The "process" dies at this append (the crash point is an await inside whatever
   * command is running): half the time before the write, half after it committed.
   */
  crash?: number;
  /** Higher rates for appends to streams with this prefix (recovery's seat appends). */
  aimed?: { streamPrefix: string; transient: number; ambiguous: number };
}

/** One simulated process: every view of the store shares whether it has crashed. */
export interface SimulatedProcess {
  crashed: boolean;
  /** Called once when a seeded crash point is reached (the simulation restarts the process). */
  onCrash?: () => void;
}

/**
 * A fault-injecting wrapper around a real EventStore (PostgreSQL underneath, never a fake):
 * a transient error before the write, an ambiguous commit (the append commits, then the
 * caller sees an error), added latency, and a crash after which every call of this
 * "process" fails, so in-flight commands are abandoned at their next await.
 */
export class FaultyEventStore implements EventStore {
  private readonly rules: { rule: FaultRule; left: number }[] = [];
  readonly injected: FaultLogEntry[];

  constructor(
    private readonly inner: EventStore,
    /** Seeded random faults (used by the simulation). */
    private readonly random?: FaultProfile,
    private readonly process: SimulatedProcess = { crashed: false },
    injected: FaultLogEntry[] = [],
  ) {
    this.injected = injected;
  }

  /** Another view of the same process (same crash state, same fault log), other rates. */
  withProfile(changes: Partial<FaultProfile>): FaultyEventStore {
    const random = this.random ? { ...this.random, ...changes } : undefined;
    return new FaultyEventStore(this.inner, random, this.process, this.injected);
  }

  /** Queue a one-shot (or `times`-shot) fault for matching appends. */
  inject(rule: FaultRule): void {
    this.rules.push({ rule, left: rule.times ?? 1 });
  }

  crash(): void {
    this.process.crashed = true;
  }

  get isCrashed(): boolean {
    return this.process.crashed;
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
    const { aimed } = this.random;
    const roll = this.random.next();
    let { transient, ambiguous } = this.random;
    if (aimed && streamName.startsWith(aimed.streamPrefix)) ({ transient, ambiguous } = aimed);
    if (roll < transient) return { fault: 'transient' };
    if (roll < transient + ambiguous) return { fault: 'ambiguous' };
    if (roll < transient + ambiguous + this.random.latency)
      return { fault: 'latency', latencyMs: Math.floor(this.random.next() * 20) };
    return undefined;
  }

  /** A seeded crash point: 'before' the write, 'after' it committed, or none. */
  private crashPoint(): 'before' | 'after' | undefined {
    if (!this.random?.crash || this.random.next() >= this.random.crash) return undefined;
    return this.random.next() < 0.5 ? 'before' : 'after';
  }

  private die(stream: string): never {
    if (!this.process.crashed) {
      this.process.crashed = true;
      this.process.onCrash?.();
    }
    this.injected.push({ call: 'append', stream, fault: 'crashed' });
    throw new InjectedConnectionError('crashed');
  }

  private alive(call: 'append' | 'read', stream: string): void {
    if (!this.process.crashed) return;
    this.injected.push({ call, stream, fault: 'crashed' });
    throw new InjectedConnectionError('crashed');
  }

  appendToStream(
    streamName: string,
    events: readonly EventToAppend[],
    options?: { expectedRevision?: ExpectedRevision },
  ): Promise<AppendResult> {
    return this.write(streamName, () => this.inner.appendToStream(streamName, events, options));
  }

  /** One draw of faults for the whole call (keyed on its first stream), as for one append. */
  appendToStreams(appends: readonly StreamAppend[]): Promise<AppendResult[]> {
    return this.write(appends[0]?.streamName ?? '', () => this.inner.appendToStreams(appends));
  }

  private async write<T>(streamName: string, append: () => Promise<T>): Promise<T> {
    this.alive('append', streamName);
    const crashAt = this.crashPoint();
    if (crashAt === 'before') this.die(streamName);
    const rule = this.draw(streamName);
    if (rule) this.injected.push({ call: 'append', stream: streamName, fault: rule.fault });
    if (rule?.fault === 'transient') throw new InjectedConnectionError('transient');
    if (rule?.fault === 'latency')
      await new Promise((resolve) => setTimeout(resolve, rule.latencyMs ?? 5));
    this.alive('append', streamName);
    const result = await append();
    if (crashAt === 'after') this.die(streamName);
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
