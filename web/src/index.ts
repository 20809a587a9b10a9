/** What other packages may reuse from the web app (pure functions only; the app itself is built by Vite). */
export { problemMessageKey, SESSION_ENDED_CODES } from './api/problem-messages.ts';
export { piLevelOf, piLevelOfScore, PI_LEVELS } from './design-system/pi-levels.ts';
export { trustOf, TRUST_LEVELS, type Trust, type TrustLevel } from './trust/trust-level.ts';
