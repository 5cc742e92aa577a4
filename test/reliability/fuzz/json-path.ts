// Small helpers to read and rewrite a JSON body at a path, and to name a path the way the service's
// problem+json `errors[].path` does (`model.nodes[3].inputs[1]`).

export type Path = (string | number)[];
type Json = unknown;

export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}

export function getAt(root: Json, path: Path): Json {
  let v: any = root;
  for (const p of path) v = v?.[p];
  return v;
}

/** Sets own properties (defineProperty), so even a key named "__proto__" becomes a real JSON key. */
export function setAt(root: Json, path: Path, value: Json): void {
  const parent: any = getAt(root, path.slice(0, -1));
  Object.defineProperty(parent, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
}

export function deleteAt(root: Json, path: Path): void {
  const parent: any = getAt(root, path.slice(0, -1));
  const key = path[path.length - 1]!;
  if (Array.isArray(parent) && typeof key === 'number') parent.splice(key, 1);
  else delete parent[key];
}

/** Every path in the tree (objects and arrays walked), root excluded, leaves and inner nodes alike. */
export function allPaths(root: Json): Path[] {
  const out: Path[] = [];
  const stack: { v: Json; at: Path }[] = [{ v: root, at: [] }];
  while (stack.length > 0) {
    const { v, at } = stack.pop()!;
    if (at.length > 0) out.push(at);
    if (Array.isArray(v)) v.forEach((c, i) => stack.push({ v: c, at: [...at, i] }));
    else if (v !== null && typeof v === 'object') for (const k of Object.keys(v)) stack.push({ v: (v as any)[k], at: [...at, k] });
  }
  return out;
}

/** The error's field is the mutated one, inside it, or one enclosing it (a tensor judged as a whole). */
export function related(errorPath: string, mutated: string): boolean {
  if (errorPath === '') return false; // the body as a whole names no field
  const within = (inner: string, outer: string) =>
    outer === '' || inner === outer || inner.startsWith(`${outer}.`) || inner.startsWith(`${outer}[`);
  return within(errorPath, mutated) || within(mutated, errorPath);
}
