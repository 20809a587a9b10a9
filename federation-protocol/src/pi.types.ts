import { fail, ok } from './errors.ts';
import type { Result } from './errors.ts';
import { isRecord, isText } from './validate.ts';

/**
 * The Privacy Index as it crosses the wire: in the registry feed (an instance's PI with its breakdown), in labels
 * (the instance PI summary) and between instances (a user's account PI, when shared). Computing a PI is the
 * instance's and the registry's business; this module only fixes its shape and its level names, so both sides
 * read the same thing.
 */

/**
 * Level names, from the most exposed to the most private, each with the lowest score it covers (inclusive).
 * They describe what is protected, never blame the user ("reward, never shame"):
 * - `exposed`   0–10: readable along the way or by the provider, like a postcard (plaintext SMTP, data-exploiting
 *                     webmail);
 * - `basic`    11–30: protected in transit only (TLS, a verified DKIM signature), readable by both hosts;
 * - `guarded`  31–50: transit plus real guarantees on origin or host (verified signatures, a well-configured host);
 * - `protected` 51–70: content encrypted end to end, or strong host guarantees, with gaps left;
 * - `private`  71–85: end-to-end encryption between well-run hosts, almost nothing left to read;
 * - `sealed`   86–100: sealed end to end between labelled instances; the hosts can read nothing.
 */
export const PI_LEVELS = [
  { name: 'exposed', min: 0 },
  { name: 'basic', min: 11 },
  { name: 'guarded', min: 31 },
  { name: 'protected', min: 51 },
  { name: 'private', min: 71 },
  { name: 'sealed', min: 86 },
] as const;

export type PiLevel = (typeof PI_LEVELS)[number]['name'];

export const PI_MIN_SCORE = 0;
export const PI_MAX_SCORE = 100;

/** One named reason for a PI, with what it contributed and the checked fact it rests on. */
export interface PiFactor {
  /** Dotted stable identifier, e.g. `transport.tls`, `e2e.openpgp`. */
  readonly id: string;
  /**
   * Points this factor added (or, for a cap or a worse fact, removed). The instance's models make the factors add up
   * to the score exactly (caps are factors of their own); a reader must not assume it of every producer.
   */
  readonly contribution: number;
  /** The verified fact, for people: `TLS 1.3 negotiated with mx.example.org`. */
  readonly evidence: string;
}

/** A concrete action that would raise a PI, and by how much. */
export interface PiSuggestion {
  /** Dotted stable identifier the UI translates, e.g. `contact.add_public_key`. */
  readonly action: string;
  /** What the action is about, e.g. `contact:bob@example.org`, `account`, `instance`. */
  readonly element: string;
  /** Points the action would add. */
  readonly gain: number;
}

export interface PrivacyIndex {
  /** Integer 0–100. */
  readonly score: number;
  /** Always `levelForScore(score)`; carried so displays need no table. */
  readonly level: PiLevel;
  readonly factors: readonly PiFactor[];
  readonly suggestions: readonly PiSuggestion[];
  /** Version of the model that computed it, so a model change can recompute old PIs. */
  readonly modelVersion: string;
}

/** What a label carries of an instance PI: enough to display and compare, the breakdown lives in the feed. */
export interface PiSummary {
  readonly score: number;
  readonly level: PiLevel;
  readonly modelVersion: string;
}

export function isPiScore(value: unknown): value is number {
  return Number.isInteger(value) && (value as number) >= PI_MIN_SCORE && (value as number) <= PI_MAX_SCORE;
}

export function levelForScore(score: number): PiLevel {
  if (!isPiScore(score)) throw new RangeError(`A PI score is an integer from 0 to 100, not ${score}.`);
  let level: PiLevel = 'exposed';
  for (const candidate of PI_LEVELS) if (score >= candidate.min) level = candidate.name;
  return level;
}

export function summarizePi(pi: PrivacyIndex): PiSummary {
  return { score: pi.score, level: pi.level, modelVersion: pi.modelVersion };
}

// Bounds that keep a hostile feed from making a peer allocate without limit; generous for honest PIs.
const MAX_FACTORS = 64;
const MAX_SUGGESTIONS = 64;
const MAX_EVIDENCE_LENGTH = 1024;
const MAX_ELEMENT_LENGTH = 256;
const DOTTED_ID = /^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)*$/;
const MODEL_VERSION = /^[\x21-\x7e]{1,64}$/;

/**
 * Validates an untrusted PI (from a feed, a peer) and returns a clean copy holding only the known members.
 * Unknown members are dropped rather than refused, so a newer model can add some without breaking older peers.
 */
export function parsePrivacyIndex(input: unknown): Result<PrivacyIndex> {
  const summary = parsePiSummary(input);
  if (!summary.ok) return summary;
  const record = input as Record<string, unknown>;
  const factors = parseList(record['factors'], MAX_FACTORS, parseFactor);
  if (typeof factors === 'string') return malformed(`factors ${factors}`);
  const suggestions = parseList(record['suggestions'], MAX_SUGGESTIONS, parseSuggestion);
  if (typeof suggestions === 'string') return malformed(`suggestions ${suggestions}`);
  return ok({ ...summary.value, factors, suggestions });
}

/** Validates the `{ score, level, modelVersion }` part; the level must be the one of the score. */
export function parsePiSummary(input: unknown): Result<PiSummary> {
  if (!isRecord(input)) return malformed('it is not an object');
  const { score, level, modelVersion } = input;
  if (!isPiScore(score)) return malformed('score is not an integer from 0 to 100');
  const expectedLevel = levelForScore(score);
  if (level !== expectedLevel) return malformed(`level is not "${expectedLevel}", the level of ${score}`);
  if (typeof modelVersion !== 'string' || !MODEL_VERSION.test(modelVersion)) {
    return malformed('modelVersion is not 1 to 64 printable ASCII characters');
  }
  return ok({ score, level: expectedLevel, modelVersion });
}

function parseFactor(input: unknown): PiFactor | string {
  if (!isRecord(input)) return 'is not an object';
  const { id, contribution, evidence } = input;
  if (typeof id !== 'string' || id.length > 64 || !DOTTED_ID.test(id)) return 'has an id that is not a dotted name';
  if (!isPoints(contribution, -PI_MAX_SCORE)) return 'has a contribution outside -100..100';
  if (!isText(evidence, MAX_EVIDENCE_LENGTH)) return 'has no evidence text (or not valid Unicode)';
  return { id, contribution, evidence };
}

function parseSuggestion(input: unknown): PiSuggestion | string {
  if (!isRecord(input)) return 'is not an object';
  const { action, element, gain } = input;
  if (typeof action !== 'string' || action.length > 64 || !DOTTED_ID.test(action)) {
    return 'has an action that is not a dotted name';
  }
  if (!isText(element, MAX_ELEMENT_LENGTH) || element.length === 0) {
    return 'has no element (or not valid Unicode)';
  }
  if (!isPoints(gain, 0) || gain === 0) return 'has a gain outside 1..100';
  return { action, element, gain };
}

function parseList<T>(input: unknown, max: number, parseItem: (item: unknown) => T | string): T[] | string {
  if (!Array.isArray(input)) return 'is not an array';
  if (input.length > max) return `has more than ${max} items`;
  const items: T[] = [];
  for (let index = 0; index < input.length; index++) {
    const item = parseItem(input[index]);
    if (typeof item === 'string') return `[${index}] ${item}`;
    items.push(item);
  }
  return items;
}

function isPoints(value: unknown, min: number): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= min && value <= PI_MAX_SCORE;
}

function malformed(reason: string) {
  return fail('pi_malformed', `Malformed Privacy Index: ${reason}.`);
}
