import { z } from 'zod';
import { zodMessage } from './zod-messages.js';

// Every zod issue, on the event loop and in the workers, worded by one function (zod-messages.ts).
z.config({ customError: zodMessage });

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

/**
 * The body's JSON has the wrong form where the zod schema does not look (a tensor's elements): a
 * schema violation, HTTP 400, as if zod had found it.
 */
export class MalformedError extends SpecError {
  override name = 'MalformedError';
}

/**
 * The job named a known model without its spec (ModelJob.model) and this thread holds no compiled plan
 * for it: the sender sends the job again with the spec (workers/pool.ts). Never the client's doing.
 */
export class ModelNotSent extends Error {
  override name = 'ModelNotSent';
  constructor(readonly modelId: string | undefined) {
    super(`no compiled plan for model ${modelId} in this thread, and the job did not carry its spec`);
  }
}

/** The service-wide size limit a LimitError ran into (overLimit), for a route that words it as its own. */
export interface Bound {
  /** what the request asks, e.g. "40 graph nodes" */
  what: string;
  limit: number;
  variable: keyof typeof LIMIT_ADVICE;
}

/** A size limit (elements, nodes) would be exceeded; found before anything is allocated. HTTP 413. */
export class LimitError extends Error {
  override name = 'LimitError';
  /** the message without the path, for the problem's `errors[]`, which carry the path apart */
  constructor(
    readonly path: Path,
    readonly reason: string,
    readonly bound?: Bound,
  ) {
    super(path.length > 0 ? `${formatPath(path)}: ${reason}` : reason);
  }
}

const LIMIT_ADVICE = {
  MAX_ELEMENTS: 'split the batch over several requests, or start the service with a larger MAX_ELEMENTS',
  MAX_NODES: 'split the model, or start the service with a larger MAX_NODES',
} as const;

/**
 * The error of a size limit: what the request asks, the limit, its environment variable and the way
 * around it (`advice`, where the usual one does not fit).
 */
export function overLimit(path: Path, what: string, limit: number, variable: keyof typeof LIMIT_ADVICE, advice: string = LIMIT_ADVICE[variable]): LimitError {
  return new LimitError(path, `${what}, over the limit of ${limit} (${variable}): ${advice}`, { what, limit, variable });
}

export function formatPath(path: Path): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s;
}
