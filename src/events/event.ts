import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { RecordedEvent } from './store/port.js';

/** Field types shared by every event schema: times are ISO strings, money whole KRW. */
export const isoTime = z.iso.datetime({ offset: true });
export const money = z.number().int().nonnegative();

/** A domain event: a past-tense type and the facts a projection needs. */
export type Event<Type extends string = string, Data = unknown> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

/**
 * One stream kind: how to name its streams, validate what is read back, and fold it.
 * Deciders over it live in src/commands/.
 */
export interface StreamKind<State, E extends Event> {
  readonly schema: z.ZodType<E>;
  initialState(): State;
  evolve(state: State, event: E): State;
}

export function parseEvent<E extends Event>(
  kind: StreamKind<unknown, E>,
  recorded: RecordedEvent,
): E {
  return kind.schema.parse({ type: recorded.type, data: recorded.data });
}

export function foldEvents<State, E extends Event>(
  kind: StreamKind<State, E>,
  events: readonly RecordedEvent[],
): State {
  let state = kind.initialState();
  for (const recorded of events) state = kind.evolve(state, parseEvent(kind, recorded));
  return state;
}

/**
 * A name-based UUID (RFC 9562 version 5 layout over SHA-1): the same parts always give
 * the same id, so a retried step appends an event id the store already holds.
 */
export function deterministicId(...parts: readonly string[]): string {
  const hash = createHash('sha1').update(parts.join('\u001f')).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
