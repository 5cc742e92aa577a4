/** A path into the request body, as zod reports it: `["model", "nodes", 3, "inputs", 1]`. */
export type Path = (string | number)[];

/**
 * The request is well-formed but meaningless (unknown op or reference, cycle, shape mismatch, bad value):
 * every problem found, each with the path of the field at fault. The HTTP layer answers 422.
 */
export class SpecError extends Error {
  override name = 'SpecError';
  readonly issues: { path: Path; message: string }[];
  constructor(path: Path, message: string);
  constructor(issues: { path: Path; message: string }[]);
  constructor(pathOrIssues: Path | { path: Path; message: string }[], message?: string) {
    const issues =
      message === undefined
        ? (pathOrIssues as { path: Path; message: string }[])
        : [{ path: pathOrIssues as Path, message }];
    super(issues.map((i) => `${formatPath(i.path)}: ${i.message}`).join('; '));
    this.issues = issues;
  }
  get path(): Path {
    return this.issues[0]?.path ?? [];
  }
}

/** A size limit (elements, nodes) would be exceeded; found before anything is allocated. HTTP 413. */
export class LimitError extends Error {
  override name = 'LimitError';
  constructor(readonly path: Path, message: string) {
    super(`${formatPath(path)}: ${message}`);
  }
}

/**
 * The job named a known model without its spec (ModelJob.model) and this thread has no compiled plan
 * for it: the sender sends it again with the spec. Not the client's doing; never answered as such.
 */
export class ModelNotSent extends Error {
  override name = 'ModelNotSent';
  constructor(readonly modelId: string | undefined) {
    super(`no compiled plan for model ${modelId} here, and the job did not carry its spec`);
  }
}

export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}
