import type { OwnStanding } from './peer-directory.types.ts';

/** What the federation tells the others (published on the instance's event bus, shared/event-bus.ts). */
export type FederationEvents = {
  /**
   * This instance's own standing in the registry's feed changed: a feed accepted whose entry for it differs, or the
   * label lapsing with time. `before` is what was told last.
   */
  'standing.changed': { now: OwnStanding; before: OwnStanding };
};
