// Which answer a client gets, from its Accept header (RFC 9110 §12.5.1). JSON is the default: with no
// header, with */*, and with a header that names nothing else a route answers with. Another media type
// is chosen when the header names it with a q above 0 and JSON's own q (named, or through application/*
// or */*) is not higher; between two named alike, the route's order decides.

const JSON_TYPE = 'application/json';

interface Range {
  type: string;
  q: number;
}

function ranges(accept: string): Range[] {
  return accept.split(',').map((part) => {
    const [type = '', ...params] = part.split(';');
    const q = params.map((p) => p.trim()).find((p) => p.toLowerCase().startsWith('q='));
    const value = q === undefined ? 1 : Number(q.slice(2));
    return { type: type.trim().toLowerCase(), q: Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 1 };
  });
}

/** The q of the most specific range matching `type` (exact, then type/*, then *\/*); 0 when none does. */
function quality(all: readonly Range[], type: string, wildcards: boolean): number {
  const exact = all.find((r) => r.type === type);
  if (exact !== undefined || !wildcards) return exact?.q ?? 0;
  const group = all.find((r) => r.type === `${type.slice(0, type.indexOf('/'))}/*`);
  return group?.q ?? all.find((r) => r.type === '*/*')?.q ?? 0;
}

/**
 * Of `offered` (media types besides JSON, lower case, in the route's order of preference), the one the
 * client's Accept header prefers to JSON; null for JSON.
 */
export function preferredAnswer<T extends string>(accept: string | undefined, offered: readonly T[]): T | null {
  // a header naming none of them is answered in JSON without parsing it
  if (accept === undefined || !offered.some((t) => accept.toLowerCase().includes(t))) return null;
  const all = ranges(accept);
  let best: T | null = null;
  let bestQ = 0;
  for (const t of offered) {
    const q = quality(all, t, false);
    if (q > bestQ) [best, bestQ] = [t, q];
  }
  return best !== null && bestQ >= quality(all, JSON_TYPE, true) ? best : null;
}
