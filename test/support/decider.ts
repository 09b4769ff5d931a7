import { isRefusal, type Decision } from '../../src/commands/decision.js';
import { DomainError, type ErrorCode } from '../../src/commands/errors.js';
import type { Event, StreamKind } from '../../src/events/event.js';

/** given(events) / when(decision) / then(events | refusal), on a pure decider: no IO. */
export function deciderSpec<State, E extends Event>(kind: StreamKind<State, E>) {
  return {
    given: (history: readonly E[]) => {
      const state = history.reduce(kind.evolve, kind.initialState());
      return {
        when: (decide: (state: State) => Decision<Event>) => ({
          then: (expected: readonly Event[]) => expect(decide(state)).toEqual(expected),
          /** A refusal returned as a value, or (deciders not yet migrated) thrown. */
          thenFails: (code: ErrorCode) => {
            let outcome: unknown;
            try {
              const decision = decide(state);
              outcome = isRefusal(decision) ? decision.refused : decision;
            } catch (error) {
              expect(error).toBeInstanceOf(DomainError);
              outcome = (error as DomainError).code;
            }
            expect(outcome).toBe(code);
          },
        }),
      };
    },
  };
}
