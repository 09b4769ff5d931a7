import { isRefusal, type Decision } from '../../src/commands/decision.js';
import type { ErrorCode } from '../../src/commands/errors.js';
import type { Event, StreamKind } from '../../src/events/event.js';

/** given(events) / when(decision) / then(events | refusal), on a pure decider: no IO. */
export function deciderSpec<State, E extends Event>(kind: StreamKind<State, E>) {
  return {
    given: (history: readonly E[]) => {
      const state = history.reduce(kind.evolve, kind.initialState());
      return {
        when: (decide: (state: State) => Decision<Event>) => ({
          then: (expected: readonly Event[]) => expect(decide(state)).toEqual(expected),
          /** Every decider returns a refusal as a value; none throws for a business rule. */
          thenFails: (code: ErrorCode) => {
            const decision = decide(state);
            expect(isRefusal(decision) ? decision.refused : decision).toBe(code);
          },
        }),
      };
    },
  };
}
