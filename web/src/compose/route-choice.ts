import type { RouteKind, RouteOptionDto, RoutePreview } from '../api/types.ts';

/**
 * What the compose screen decides from the route previews (GET /api/v1/routes?to=), mirroring how the instance sends
 * (instance/src/routing/route-preview.service.ts and email/compose.service.ts): `auto` takes the most private usable
 * route for each recipient; `email` skips the federation; `federation` refuses anyone it cannot reach that way (local
 * accounts stay local). Choosing anything that lowers a recipient's Privacy Index needs the user's explicit consent.
 */
export type RouteMode = 'auto' | 'email' | 'federation';

/** Usable now: available, or TLS email whose support is unknown yet (STARTTLS is always tried first). */
export function usable(r: RouteOptionDto): boolean {
  return r.available || (r.route === 'tls-email' && r.status === 'unknown');
}

const byRank = (routes: RouteOptionDto[]) => [...routes].sort((a, b) => b.rank - a.rank);

/** The route one recipient's message would take under a mode (null: it cannot be sent that way). */
export function routeFor(preview: RoutePreview, mode: RouteMode): RouteOptionDto | null {
  // The chat route is offered for a reply by chat from the discussion; a composed mail never goes that way.
  const routes = byRank(preview.routes).filter((r) => usable(r) && r.route !== 'xmpp');
  if (mode === 'auto') return routes[0] ?? null;
  if (mode === 'email') return routes.find((r) => r.route !== 'federation') ?? null;
  return routes.find((r) => r.route === 'federation' || r.route === 'local') ?? null;
}

export interface Lowered {
  address: string;
  from: RouteOptionDto;
  to: RouteOptionDto;
}

export interface ModeOption {
  mode: RouteMode;
  /** Every recipient can be reached this way. */
  possible: boolean;
  /** It changes something compared with `auto` for at least one recipient (otherwise it is not worth offering). */
  differs: boolean;
  /** Recipients whose Privacy Index this mode lowers, from the most private route to the one it takes. */
  lowers: Lowered[];
}

/** The modes worth offering for these recipients, `auto` first, and what each would cost. */
export function modeOptions(previews: RoutePreview[]): ModeOption[] {
  return (['auto', 'email', 'federation'] as const).map((mode) => {
    let possible = previews.length > 0;
    let differs = false;
    const lowers: Lowered[] = [];
    for (const p of previews) {
      const best = routeFor(p, 'auto');
      const taken = routeFor(p, mode);
      if (taken === null) {
        possible = false;
        continue;
      }
      if (best === null || taken.route !== best.route) differs = true;
      if (best !== null && taken.pi.score < best.pi.score) lowers.push({ address: p.to, from: best, to: taken });
    }
    return { mode, possible, differs: mode === 'auto' || differs, lowers };
  });
}

/** Whether the message needs consent before it can go: the mode lowers someone's PI, or email may replace the federation. */
export function needsConsent(previews: RoutePreview[], mode: RouteMode, emailFallback: boolean): boolean {
  const option = modeOptions(previews).find((o) => o.mode === mode);
  if (option && option.lowers.length > 0) return true;
  return emailFallback && previews.some((p) => routeFor(p, mode)?.route === 'federation');
}

/** Whether the email fallback is worth asking: some recipient goes over the federation in this mode. */
export function federationInPlay(previews: RoutePreview[], mode: RouteMode): boolean {
  return previews.some((p) => routeFor(p, mode)?.route === 'federation');
}

/** Addresses typed in the To field: separated by commas, semicolons or spaces; `Name <a@b>` keeps the address. */
export function parseRecipients(input: string): string[] {
  const out: string[] = [];
  for (const part of input.split(/[,;\n]/)) {
    const trimmed = part.trim();
    if (trimmed === '') continue;
    const angle = /<([^<>\s]+)>/.exec(trimmed);
    const address = (angle ? angle[1]! : trimmed).trim().toLowerCase();
    if (!out.includes(address)) out.push(address);
  }
  return out;
}

/** A quick shape check before asking the instance (it has the final word). */
export function looksLikeAddress(a: string): boolean {
  return /^[^\s@<>(),;:"]+@[^\s@<>(),;:"]+\.[^\s@<>(),;:".]+$/.test(a);
}

export const ROUTE_KINDS: readonly RouteKind[] = ['federation', 'openpgp-email', 'local', 'tls-email', 'email'];
