/**
 * given / when / then for a Decider (`{ decide, evolve, initialState }`): the state is folded from the
 * given events, and the spec reads the same way for every event family.
 */
export interface Decider<Command, Event, State> {
  decide(command: Command, state: State): Event[];
  evolve(state: State, event: Event): State;
  initialState: State;
}

export function deciderSpec<Command, Event, State>(decider: Decider<Command, Event, State>) {
  return {
    given(events: Event[]) {
      const state = events.reduce(decider.evolve, decider.initialState);
      return {
        when(command: Command) {
          const run = () => decider.decide(command, state);
          return {
            then: (expected: Event[]) => expect(run()).toEqual(expected),
            thenNothingHappened: () => expect(run()).toEqual([]),
            thenThrows: (error: new (...args: never[]) => Error) => expect(run).toThrow(error),
          };
        },
      };
    },
  };
}
