import type { PrivacyIndex } from '@caliopen/federation-protocol';
import { measureSuggestions, PiTally, type WhatIf } from './pi.tally.ts';
import { clampInt } from './pi.shared.ts';

/**
 * The account Privacy Index: how well the account itself is protected, and how private its exchanges are.
 * - authentication: password < password + TOTP < client certificate (seed 000);
 * - where the private keys live: none < on the server (keeps server-side search, costs PI) < on the user's devices;
 * - devices: the weakest active device counts (a session on an outdated system exposes the whole account);
 * - exchanges: the mean PI of recent messages ("the higher your exchanges' indices, the higher your own", seed 001);
 * - the instance: never above the instance PI the registry publishes; an instance the registry has not labelled is
 *   capped at UNLABELLED_INSTANCE_CAP (nothing about it was verified). Pure.
 */
export interface AccountPiFacts {
  authentication: 'password' | 'password+totp' | 'client-certificate';
  /** Whether this instance can offer client-certificate login (suggestions only propose what exists). */
  clientCertificateAvailable: boolean;
  keyStorage: 'none' | 'server' | 'client';
  /** PIs of the account's active (not revoked) devices. */
  devices: { id: string; name: string; score: number }[];
  /** Recent messages of the account (see RECENT_EXCHANGES): how many and their mean PI. */
  exchanges: { count: number; meanScore: number };
  /** The hosting instance as the registry's feed describes it. */
  instance: { labelValid: boolean; instancePi: number | null };
}

export const ACCOUNT_POINTS = {
  password: 5,
  totp: 20,
  clientCertificate: 30,
  keysServer: 10,
  keysClient: 20,
  /** Times the weakest active device's PI / 100 (full when there is none). */
  devices: 15,
  /** Times the mean PI of recent exchanges / 100. */
  exchanges: 25,
  instanceLabelled: 10,
} as const;

export const UNLABELLED_INSTANCE_CAP = 50;

export function computeAccountPi(facts: AccountPiFacts): PrivacyIndex {
  const pi = tallyAccount(facts).finish();
  return { ...pi, suggestions: measureSuggestions(facts, pi.score, scoreOf, ACCOUNT_WHAT_IFS) };
}

function scoreOf(facts: AccountPiFacts): number {
  return tallyAccount(facts).finish().score;
}

function tallyAccount(f: AccountPiFacts): PiTally {
  const t = new PiTally();
  switch (f.authentication) {
    case 'client-certificate':
      t.add('auth.method', ACCOUNT_POINTS.clientCertificate, 'You sign in with a client certificate.');
      break;
    case 'password+totp':
      t.add('auth.method', ACCOUNT_POINTS.totp, 'You sign in with a password and a one-time code (TOTP).');
      break;
    default:
      t.add('auth.method', ACCOUNT_POINTS.password, 'You sign in with a password only.');
  }
  switch (f.keyStorage) {
    case 'client':
      t.add(
        'keys.storage',
        ACCOUNT_POINTS.keysClient,
        'Your private key stays on your devices: the server cannot read your encrypted mail.',
      );
      break;
    case 'server':
      t.add(
        'keys.storage',
        ACCOUNT_POINTS.keysServer,
        'Your private key is kept encrypted on the server, unlocked by your password (this keeps server-side search).',
      );
      break;
    default:
      t.add('keys.storage', 0, 'You have no OpenPGP key yet: nobody can encrypt mail to you.');
  }
  if (f.devices.length === 0) {
    t.add('devices.weakest', ACCOUNT_POINTS.devices, 'No active device.');
  } else {
    const weakest = f.devices.reduce((w, d) => (d.score < w.score ? d : w));
    const s = clampInt(weakest.score, 0, 100);
    t.add(
      'devices.weakest',
      (ACCOUNT_POINTS.devices * s) / 100,
      `Your least protected active device, ${weakest.name}, scores ${s}.`,
    );
  }
  if (f.exchanges.count === 0) {
    t.add('exchanges.recent', 0, 'No exchanges yet.');
  } else {
    const mean = clampInt(f.exchanges.meanScore, 0, 100);
    t.add(
      'exchanges.recent',
      (ACCOUNT_POINTS.exchanges * mean) / 100,
      `Your ${f.exchanges.count} most recent messages score ${mean} on average.`,
    );
  }
  const i = f.instance;
  if (i.labelValid && i.instancePi !== null) {
    const ipi = clampInt(i.instancePi, 0, 100);
    t.add(
      'instance.labelled',
      ACCOUNT_POINTS.instanceLabelled,
      `Your instance holds a valid label; its instance PI is ${ipi}.`,
    );
    t.cap('cap.instance_pi', ipi, `An account cannot be more private than its instance (instance PI ${ipi}).`);
  } else {
    t.cap(
      'cap.instance_unlabelled',
      UNLABELLED_INSTANCE_CAP,
      `Your instance is not labelled by the association: nothing about it was verified, so accounts stop at ${UNLABELLED_INSTANCE_CAP}.`,
    );
  }
  return t;
}

const ACCOUNT_WHAT_IFS: readonly WhatIf<AccountPiFacts>[] = [
  {
    action: 'account.enable_totp',
    element: () => 'account',
    applies: (f) => f.authentication === 'password',
    apply: (f) => ({ ...f, authentication: 'password+totp' }),
  },
  {
    action: 'account.use_client_certificate',
    element: () => 'account',
    applies: (f) => f.clientCertificateAvailable && f.authentication !== 'client-certificate',
    apply: (f) => ({ ...f, authentication: 'client-certificate' }),
  },
  {
    action: 'account.create_key',
    element: () => 'account',
    applies: (f) => f.keyStorage === 'none',
    apply: (f) => ({ ...f, keyStorage: 'server' }),
  },
  {
    action: 'account.keep_keys_on_devices',
    element: () => 'account',
    applies: (f) => f.keyStorage !== 'client',
    apply: (f) => ({ ...f, keyStorage: 'client' }),
  },
  {
    action: 'device.update_or_revoke',
    element: (f) => `device:${f.devices.reduce((w, d) => (d.score < w.score ? d : w)).id}`,
    applies: (f) => f.devices.length > 0 && f.devices.some((d) => d.score < 100),
    apply: (f) => {
      const weakest = f.devices.reduce((w, d) => (d.score < w.score ? d : w));
      return { ...f, devices: f.devices.filter((d) => d !== weakest) };
    },
  },
];
