import type { SearchDocument } from '@caliopen/instance/search/search.port.ts';

/**
 * Deterministic synthetic mailboxes for search benchmarks: the same seed gives the same documents on every machine,
 * so figures from two runs (or two engines) compare like for like.
 *
 * What makes it realistic enough to measure an inverted index:
 * - word frequencies follow a Zipf law (a few words in most messages, a long tail of rare ones), over a vocabulary
 *   of a few thousand English and French word forms (plurals, -ing/-ed, -ment/-tion... so stemming has work to do,
 *   and French forms carry diacritics);
 * - 2000 correspondents, also Zipf-distributed (a few people write most of the mail), with "Name <address>" forms;
 * - three years of dates, conversations of a few messages, tags, protocols and PI values with skewed distributions.
 */

export interface SearchFixtureOptions {
  /** PRNG seed (default 1). */
  seed?: number;
  /** Number of accounts the messages are spread over, round-robin (default 1). Account ids: `acct-bench-<n>`. */
  accounts?: number;
  /** First day of the three years of dates (default 2022-01-01). */
  start?: Date;
}

/** sfc32: small, fast, good statistical quality; seeded through splitmix32 so that nearby seeds diverge. */
export function prng(seed: number): () => number {
  let s = seed >>> 0;
  const splitmix = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  let a = splitmix();
  let b = splitmix();
  let c = splitmix();
  let d = splitmix();
  return () => {
    const t = (((a + b) >>> 0) + d) >>> 0;
    d = (d + 1) >>> 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) >>> 0;
    c = ((c << 21) | (c >>> 11)) >>> 0;
    c = (c + t) >>> 0;
    return t / 4294967296;
  };
}

/** Samples ranks 0..n-1 with probability proportional to 1 / (rank + 1)^s (inverse CDF by binary search). */
function zipf(n: number, s: number): (random: () => number) => number {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / (r + 1) ** s;
    cdf[r] = sum;
  }
  return (random) => {
    const x = random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

const words = (s: string): string[] => s.trim().split(/\s+/);

const ENGLISH_FUNCTION = words(`
  the of and to a in is it you that he was for on are with as I his they be at one have this from or had by
  but not what all were we when your can said there use an each which she do how their if will up other about out
  many then them these so some her would make like him into time has look two more write go see number no way
  could people my than first been call who its now find long down day did get come made may part over new after
`);

const ENGLISH_STEMS = words(`
  meet report invoice project budget review plan schedule contract deliver order ship payment account update
  design test deploy release server database network backup password security audit policy team client customer
  supplier partner office meeting call conference travel flight hotel ticket booking lunch dinner coffee weekend
  holiday family friend birthday party wedding school teacher student class homework exam doctor appointment
  health insurance bank loan mortgage tax receipt refund price quote estimate proposal draft document file folder
  photo picture video message email phone address street city country garden house kitchen car bike train bus
  weather rain snow summer winter spring autumn morning evening night week month year today tomorrow yesterday
  question answer problem issue bug fix feature request support ticket incident outage alert monitor dashboard
  metric graph chart table sheet slide deck note minute agenda action item deadline milestone sprint backlog
  roadmap strategy market sale launch campaign brand product service price discount offer newsletter subscribe
  cancel confirm approve reject sign send receive forward reply attach download upload share print scan copy
  paste delete archive search filter label tag read write open close start finish begin end check remind
  kangaroo zeppelin nebula quartz harbour lantern meadow orchard falcon glacier
`);

const ENGLISH_SUFFIXES = ['', 's', 'ing', 'ed', 'er'];

const FRENCH_FUNCTION = words(`
  le la les de des du un une et à en est que qui dans pour pas sur au avec il elle ne se ce plus par on nous vous
  ils sont mais comme ou son sa ses leur été être avoir fait très bien tout tous aussi encore déjà où là ça
`);

const FRENCH_STEMS = words(`
  réunion école élève enfant famille vacance été hiver printemps automne matin soir semaine mois année
  aujourd'hui demain hier rendez-vous médecin santé assurance banque prêt impôt facture reçu remboursement
  prix devis proposition brouillon document fichier dossier photo vidéo message courriel téléphone adresse
  rue ville pays jardin maison cuisine voiture vélo train métro météo pluie neige soleil café thé déjeuner
  dîner fête anniversaire mariage cadeau gâteau crêpe fromage pain marché boulangerie pharmacie hôpital
  équipe projet réunion budget contrat livraison commande paiement compte sécurité mot-de-passe sauvegarde
  serveur réseau données politique client fournisseur partenaire bureau conférence voyage vol hôtel billet
  réservation question réponse problème anomalie correctif demande assistance incident alerte tableau
  graphique présentation note ordre-du-jour échéance jalon stratégie marché vente lancement campagne
  marque produit remise offre lettre abonnement annulation confirmation approbation signature envoi
  réception pièce-jointe téléchargement partage impression copie suppression archive recherche étiquette
  lecture écriture ouverture fermeture début fin vérification rappel élan forêt rivière château île
  cœur sœur frère père mère cousin voisin collègue directeur médecin infirmière boulanger
`);

const FRENCH_SUFFIXES = ['', 's', 'e', 'es', 'ment'];

/** Pseudo-words for the rare tail (project code names, jargon): syllables in both languages' spelling. */
const SYLLABLES = words('ka lo mi zé ra tu vo né qui bri sta gro plé fa dou chè lin mor té zu');

function buildVocabulary(random: () => number): { english: string[]; french: string[] } {
  const inflect = (stems: string[], suffixes: string[]): string[] => stems.flatMap((s) => suffixes.map((x) => s + x));
  const tail = (n: number): string[] =>
    Array.from({ length: n }, () => {
      const k = 2 + Math.floor(random() * 3);
      return Array.from({ length: k }, () => SYLLABLES[Math.floor(random() * SYLLABLES.length)]!).join('');
    });
  const shuffle = (xs: string[]): string[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  };
  // Function words take the top ranks (as in real text), then inflected content words, then the rare tail.
  const english = [
    ...ENGLISH_FUNCTION,
    ...shuffle([...new Set(inflect(ENGLISH_STEMS, ENGLISH_SUFFIXES))]),
    ...tail(600),
  ];
  const french = [...FRENCH_FUNCTION, ...shuffle([...new Set(inflect(FRENCH_STEMS, FRENCH_SUFFIXES))]), ...tail(600)];
  return { english, french };
}

const FIRST_NAMES = words(`
  Alice Bruno Carol Dave Élodie François Grace Hélène Ivan Jérôme Karim Léa Marc Noémie Olivier Pauline Quentin
  Rosalie Samuel Thérèse Ugo Valérie William Xavier Yasmine Zoé Adèle Benoît Céline Damien Estelle Fabien Gaëlle
  Hugo Inès Julien Kévin Laure Mathis Nadia
`);
const LAST_NAMES = words(`
  Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon Laurent Lefèvre Michel Garcia David
  Bertrand Roux Vincent Fournier Morel Girard André Lefebvre Mercier Dupont Lambert Bonnet François Martinez Smith
  Johnson Williams Brown Jones Miller Davis Wilson Taylor Clark Hall Allen Young King Wright Scott Green Baker Adams
  Nelson Hill
`);
const DOMAINS = words('example.com example.org exemple.fr mail.example courriel.example corp.example asso.example');
const TAGS = words('work famille finance travel école urgent newsletter legal santé projet-kangaroo receipts friends');
const PROTOCOLS: Array<[string, number]> = [
  ['email', 0.8],
  ['sms', 0.1],
  ['mastodon', 0.06],
  ['twitter', 0.04],
];

export const CORRESPONDENT_COUNT = 2000;

/** "Prénom Nom <prenom.nom@domain>" without diacritics in the address part, as real addresses mostly are. */
function buildCorrespondents(random: () => number): string[] {
  const ascii = (s: string): string => s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
  const out: string[] = [];
  const seen = new Set<string>();
  while (out.length < CORRESPONDENT_COUNT) {
    const first = FIRST_NAMES[Math.floor(random() * FIRST_NAMES.length)]!;
    const last = LAST_NAMES[Math.floor(random() * LAST_NAMES.length)]!;
    const domain = DOMAINS[Math.floor(random() * DOMAINS.length)]!;
    let local = `${ascii(first)}.${ascii(last)}`;
    for (let n = 2; seen.has(`${local}@${domain}`); n++) local = `${ascii(first)}.${ascii(last)}${n}`;
    seen.add(`${local}@${domain}`);
    out.push(`${first} ${last} <${local}@${domain}>`);
  }
  return out;
}

const DAY_MS = 86_400_000;
const SPAN_MS = 3 * 365 * DAY_MS;

/**
 * Generates `count` messages, lazily (a million documents need not sit in memory at once). Message i of the
 * sequence is the same for a given seed whatever `count` is.
 */
export function* generateSearchDocuments(count: number, options: SearchFixtureOptions = {}): Generator<SearchDocument> {
  const random = prng(options.seed ?? 1);
  const accounts = Math.max(1, options.accounts ?? 1);
  const start = (options.start ?? new Date('2022-01-01T00:00:00Z')).getTime();
  const vocabulary = buildVocabulary(random);
  const correspondents = buildCorrespondents(random);
  const englishWord = zipf(vocabulary.english.length, 1.07);
  const frenchWord = zipf(vocabulary.french.length, 1.07);
  const correspondent = zipf(correspondents.length, 0.9);
  const tag = zipf(TAGS.length, 1.2);
  let conversation = 0;

  for (let i = 0; i < count; i++) {
    const french = random() < 0.4;
    const word = (): string =>
      french ? vocabulary.french[frenchWord(random)]! : vocabulary.english[englishWord(random)]!;
    const sentence = (n: number): string => {
      const ws = Array.from({ length: n }, word);
      ws[0] = ws[0]!.charAt(0).toUpperCase() + ws[0]!.slice(1);
      return `${ws.join(' ')}.`;
    };
    // Body length: mostly short, with a long tail (log-normal-ish): median ~60 words, some in the thousands.
    const bodyWords = Math.min(3000, Math.max(3, Math.round(Math.exp(4.1 + 0.9 * gaussian(random)))));
    const sentences: string[] = [];
    for (let left = bodyWords; left > 0; ) {
      const n = Math.min(left, 4 + Math.floor(random() * 14));
      sentences.push(sentence(n));
      left -= n;
    }
    const r = random();
    let acc = 0;
    const protocol = PROTOCOLS.find(([, p]) => (acc += p) > r)?.[0] ?? 'email';
    const sender = correspondents[correspondent(random)]!;
    const recipients = [`Me <me@hub.example>`];
    if (protocol === 'email' && random() < 0.3) recipients.push(correspondents[correspondent(random)]!);
    const tags = new Set<string>();
    for (let t = Math.floor(random() * random() * 4); t > 0; t--) tags.add(TAGS[tag(random)]!);
    if (random() > 0.35) conversation++;
    const base = protocol === 'email' ? 55 : protocol === 'sms' ? 45 : 30;
    const pi = Math.max(0, Math.min(100, Math.round(base + 18 * gaussian(random))));
    yield {
      accountId: `acct-bench-${(i % accounts) + 1}`,
      messageId: `msg-${i}`,
      conversationId: `conv-${conversation}`,
      date: new Date(start + Math.floor(random() * SPAN_MS)),
      protocol,
      from: [protocol === 'sms' ? `+336${String(Math.floor(random() * 1e8)).padStart(8, '0')}` : sender],
      to: recipients,
      subject: protocol === 'email' ? sentence(3 + Math.floor(random() * 6)).slice(0, -1) : '',
      body: sentences.join(' '),
      tags: [...tags],
      pi,
    };
  }
}

/** Standard normal deviate (Box-Muller). */
function gaussian(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** The whole set as an array, for benchmarks that index in batches. */
export function searchDocuments(count: number, options: SearchFixtureOptions = {}): SearchDocument[] {
  return [...generateSearchDocuments(count, options)];
}

/**
 * Realistic search-box strings (search.query-parser.ts language), from frequent to rare terms, with and without
 * filters. Names and words are ones the generator uses, so every query exercises real posting lists.
 */
export const queries: readonly string[] = [
  // one frequent word, one mid-frequency word, one rare word
  'meeting',
  'facture',
  'zeppelin',
  // several words (all must match), with diacritics typed or not
  'réunion équipe',
  'reunion equipe',
  'invoice payment deadline',
  'école enfants vacances',
  '"project budget"',
  // correspondents
  'from:martin',
  'from:"Alice Dupont"',
  'from:exemple.fr budget',
  'to:bernard',
  // subjects
  'subject:invoice',
  'subject:"rendez-vous"',
  // dates, protocol, PI, tags
  'after:2023-01-01 before:2023-02-01',
  'after:2024-06-01 report',
  'protocol:sms',
  'protocol:mastodon café',
  'pi>=80',
  'pi>=70 tag:work meeting',
  'tag:famille',
  'tag:finance after:2022-06-01 before:2023-06-01 facture',
  // listing with everything at once
  'from:smith subject:review after:2022-01-01 protocol:email pi>=50 tag:work update',
  // hostile input the box must survive
  'NEAR(meeting budget) "unbalanced * -',
];
