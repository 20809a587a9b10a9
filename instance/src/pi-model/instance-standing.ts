/**
 * Port: this instance's own standing at the association's registry, as its verified copy of the feed says — whether
 * it holds a valid label and its instance PI. The account PI is capped by it. The peer directory (federation) provides
 * the real one; until an instance has joined, it is unlabelled.
 */
export interface InstanceStanding {
  current(): { labelValid: boolean; instancePi: number | null };
}

export const UNLABELLED: InstanceStanding = { current: () => ({ labelValid: false, instancePi: null }) };
