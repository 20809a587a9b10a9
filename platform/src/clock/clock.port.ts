/** Time source, injectable so that expiry and TOTP windows can be tested without waiting. */
export type Clock = () => Date;
export const systemClock: Clock = () => new Date();
