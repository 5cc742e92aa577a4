import type { z } from 'zod';

// The wording of every zod issue a client can see: what was expected, what came, the allowed values of
// an enum (with the nearest one when the value looks like a typo), and "required" for a missing field.
// Installed for the whole thread by engine/errors.ts (z.config), so the workers word theirs alike.

type RawIssue = z.core.$ZodRawIssue;

/**
 * The params of a z.custom that checks only a value's type, as z.number() would but for a wider set of
 * values: its failure is a value of another type, which plugins/errors.ts reads as a union branch the
 * value does not have at all, like invalid_type.
 */
export const TYPE_CHECK = { typeCheck: true } as const;
type Schema = { _zod: { def: Record<string, unknown> } } | undefined;

const TYPE_NAMES: Record<string, string> = {
  number: 'a number',
  int: 'an integer',
  string: 'a string',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  record: 'an object',
  null: 'null',
};

/** A received value for a message, without calling anything on it (a client's toString may throw). */
export function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null';
  if (typeof v === 'string') return v.length <= 40 ? `the string ${JSON.stringify(v)}` : `a string of ${v.length} characters`;
  if (typeof v === 'number') return Number.isFinite(v) ? `the number ${v}` : `${v}`;
  if (typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return typeof v === 'object' ? 'an object' : typeof v;
}

const quote = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : String(v));

export function oneOf(values: readonly unknown[]): string {
  return values.length === 1 ? quote(values[0]) : `one of ${values.map(quote).join(', ')}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/**
 * The allowed values a typo most likely meant: the same but for case and - / _; else those it begins
 * (xavier: xavier_uniform, xavier_normal); else the nearest within 2 edits.
 */
export function nearest(got: unknown, values: readonly unknown[]): string[] {
  if (typeof got !== 'string' || got.length > 64) return [];
  const norm = (s: string) => s.toLowerCase().replaceAll('-', '_');
  const g = norm(got);
  const names = values.filter((v): v is string => typeof v === 'string');
  const same = names.filter((v) => norm(v) === g);
  if (same.length > 0) return same;
  const longer = g.length >= 3 ? names.filter((v) => norm(v).startsWith(g)) : [];
  if (longer.length > 0 && longer.length <= 3) return longer;
  let best: string[] = [];
  let bestD = 3;
  for (const v of names) {
    const d = editDistance(g, norm(v));
    if (d < bestD) [best, bestD] = [[v], d];
  }
  return best;
}

function expectedOneOf(values: readonly unknown[], got: unknown): string {
  if (got === undefined) return `required: ${oneOf(values)}`;
  const near = nearest(got, values);
  return `expected ${oneOf(values)}; got ${describeValue(got)}${near.length === 0 ? '' : ` (did you mean ${near.map(quote).join(' or ')}?)`}`;
}

function description(schema: Schema): string | undefined {
  const d = (schema as { description?: unknown } | undefined)?.description;
  return typeof d === 'string' ? d : undefined;
}

/** What a missing field should hold: an enum's values, else the field's description. */
function required(schema: Schema): string {
  const def = schema?._zod.def;
  if (def?.type === 'enum') return `required: ${oneOf(Object.values(def.entries as object))}`;
  const d = description(schema);
  return d === undefined ? 'required' : `required: ${d}`;
}

function bound(iss: { origin?: string; inclusive?: boolean; exact?: boolean }, n: number | bigint, side: 'least' | 'most'): string {
  const unit = iss.origin === 'array' || iss.origin === 'set' ? ' items' : iss.origin === 'string' ? ' characters' : '';
  if (iss.exact) return `exactly ${n}${unit}`;
  if (iss.inclusive === false) return `${side === 'least' ? 'more' : 'less'} than ${n}${unit}`;
  return `at ${side} ${n}${unit}`;
}

function size(v: unknown): string {
  if (typeof v === 'string') return `${v.length} characters`;
  if (Array.isArray(v)) return `${v.length} items`;
  return describeValue(v);
}

export function zodMessage(iss: RawIssue): string | undefined {
  const schema = iss.inst as Schema;
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return required(schema);
      return `expected ${TYPE_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      return expectedOneOf(iss.values, iss.input);
    case 'invalid_union': {
      if ('discriminator' in iss && Array.isArray(iss.options)) {
        const got = iss.input !== null && typeof iss.input === 'object' ? (iss.input as Record<string, unknown>)[iss.discriminator as string] : undefined;
        return expectedOneOf(iss.options, got);
      }
      if (iss.input === undefined) return required(schema);
      const d = description(schema);
      return `expected ${d ?? 'one of the forms the schema allows'}; got ${describeValue(iss.input)}`;
    }
    case 'too_small':
      return `expected ${bound(iss, iss.minimum, 'least')}, got ${size(iss.input)}`;
    case 'too_big':
      return `expected ${bound(iss, iss.maximum, 'most')}, got ${size(iss.input)}`;
    case 'not_multiple_of':
      return `expected a multiple of ${iss.divisor}, got ${describeValue(iss.input)}`;
    case 'invalid_key': {
      // a record's key: the key's own schema said why (e.g. a tensor name over 1024 characters)
      const inner = (iss as { issues?: { message?: string }[] }).issues?.[0]?.message;
      return `not a valid name${inner ? `: ${inner}` : ''}`;
    }
    case 'unrecognized_keys': {
      // the flatteners name each key at its own path; this message is the list they append
      const shape = schema?._zod.def.shape;
      const allowed = shape !== null && typeof shape === 'object' ? Object.keys(shape) : [];
      return `allowed: ${allowed.length > 0 ? allowed.join(', ') : 'none'}`;
    }
    default:
      return undefined;
  }
}
