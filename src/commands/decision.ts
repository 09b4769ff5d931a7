import { DomainError, type ErrorCode } from './errors.js';

/**
 * A decided refusal: a normal business outcome (the seat is taken, the balance is short),
 * returned as a value the caller matches on. Exceptions stay for what nobody decided.
 */
export interface Refusal {
  readonly refused: ErrorCode;
  readonly message: string;
  readonly context?: Readonly<Record<string, unknown>>;
}

/** What a decider returns: the events to append (none: nothing to do) or a refusal. */
export type Decision<E> = readonly E[] | Refusal;

export const refuse = (
  code: ErrorCode,
  message: string,
  context?: Readonly<Record<string, unknown>>,
): Refusal => ({ refused: code, message, ...(context ? { context } : {}) });

export const isRefusal = <E>(decision: Decision<E>): decision is Refusal =>
  !Array.isArray(decision);

/** At the edge (an API request), a refusal becomes the problem+json error of its code. */
export const refusalError = (refusal: Refusal) =>
  new DomainError(refusal.refused, refusal.message, refusal.context);
