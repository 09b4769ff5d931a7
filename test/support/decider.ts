import { DomainError, type ErrorCode } from '../../src/commands/errors.js';
import type { Event, StreamKind } from '../../src/events/event.js';

/** given(events) / when(decision) / then(events | error), on a pure decider: no IO. */
export function deciderSpec<State, E extends Event>(kind: StreamKind<State, E>) {
  return {
    given: (history: readonly E[]) => {
      const state = history.reduce(kind.evolve, kind.initialState());
      return {
        when: (decide: (state: State) => readonly Event[]) => ({
          then: (expected: readonly Event[]) => expect(decide(state)).toEqual(expected),
          thenFails: (code: ErrorCode) => {
            let caught: unknown;
            try {
              decide(state);
            } catch (error) {
              caught = error;
            }
            expect(caught).toBeInstanceOf(DomainError);
            expect((caught as DomainError).code).toBe(code);
          },
        }),
      };
    },
  };
}
