import type { Logger } from 'pino';
import { deliverLocalNotice, type LocalNoticeDeps } from '../messages/local-notice.ts';
import type { OwnStanding } from './peer-directory.ts';

/**
 * This instance's own standing at the registry, told to its users: in the route preview (why federation is not
 * offered), at `GET /api/v1/federation`, and by a notice in every mailbox when federation stops (label revoked,
 * suspended, expired, or gone from the feed) and when it resumes.
 */

const when = (seconds: number | null) =>
  seconds === null ? 'an unknown date' : new Date(seconds * 1000).toISOString().slice(0, 16).replace('T', ' ') + ' UTC';

/** One sentence: whether this instance may federate, and if not, why and what happens to mail meanwhile. */
export function explainStanding(domain: string, own: OwnStanding, revocationReason: string | null = null): string {
  const meanwhile = 'mail to member instances goes by email (OpenPGP where keys are known) until it is labelled again.';
  switch (own.status) {
    case 'labelled':
      return `${domain} holds a valid label (instance PI ${own.instancePi}, expires ${when(own.labelExpiresAt)}): mail to labelled member instances goes over the federation.`;
    case 'revoked':
      return `The registry revoked the label of ${domain}${revocationReason ? ` (the reason it published: "${revocationReason}")` : ''}: federation is off for this instance; ${meanwhile}`;
    case 'suspended':
      return `The registry suspended the label of ${domain}: federation is off for this instance; ${meanwhile}`;
    case 'expired':
      return `The label of ${domain} expired on ${when(own.labelExpiresAt)} and was not renewed: federation is off for this instance; ${meanwhile}`;
    case 'absent':
      return `${domain} is not listed in the registry's feed: federation is off for this instance; ${meanwhile}`;
    case 'not_synced':
      return `${domain} has not received the registry's feed yet: federation is off until it has; mail goes by email meanwhile.`;
  }
}

/**
 * A notice is due when federation stops (a valid label lost), or when it resumes after a stop the users were told of
 * (`lastTold`, the last standing notice sent): a new instance's first label (from absent or not yet synced) tells no
 * one that federation "resumed".
 */
export function noticeDue(
  now: OwnStanding,
  before: OwnStanding,
  lastTold: 'stopped' | 'resumed' | null,
): 'stopped' | 'resumed' | null {
  if (before.labelValid && !now.labelValid) return 'stopped';
  if (!before.labelValid && now.labelValid && lastTold === 'stopped') return 'resumed';
  return null;
}

export interface StandingNoticeDeps extends LocalNoticeDeps {
  logger: Pick<Logger, 'info' | 'error'>;
}

/** Delivers the notice to every enabled account (a local message, tagged `notice`). Returns how many were told. */
export async function notifyStanding(
  deps: StandingNoticeDeps,
  kind: 'stopped' | 'resumed',
  own: OwnStanding,
  revocationReason: string | null = null,
): Promise<number> {
  const subject =
    kind === 'stopped'
      ? `Federation paused: ${explainHeadline(own)}`
      : 'Federation resumed: this instance is labelled again';
  const text = `${explainStanding(deps.domain, own, revocationReason)}\n\nThe route shown when you write to someone (GET /api/v1/routes) says which route each message takes.\n\n-- \nThe ${deps.domain} instance\n`;
  const told = await deliverLocalNotice(deps, { fromName: `${deps.domain} federation`, subject, text });
  deps.logger.info({ kind, status: own.status, accounts: told }, 'federation standing notice delivered');
  return told;
}

function explainHeadline(own: OwnStanding): string {
  switch (own.status) {
    case 'revoked':
      return "this instance's label was revoked";
    case 'suspended':
      return "this instance's label was suspended";
    case 'expired':
      return "this instance's label expired";
    default:
      return 'this instance is no longer listed by the registry';
  }
}
