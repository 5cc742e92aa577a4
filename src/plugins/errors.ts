import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ZodError, type z } from 'zod';
import { formatPath, LimitError, MalformedError, SpecError, type Path } from '../engine/errors.js';
import { answerAfterBody, bodyAbandoned } from '../connections.js';
import { TYPE_CHECK } from '../engine/zod-messages.js';
import { ERRORS, HttpError, problem, type ErrorCode, type ProblemIssue } from '../errors.js';

// Every error leaves as application/problem+json (RFC 9457). Client mistakes map to 4xx by their
// kind; only a fault of ours is a 500, and it is logged with the request id.

const MAX_ISSUES = 20;

/** Raised by the zod validator compiler; keeps zod's structured paths (fastify's own flatten them). */
export class RequestValidationError extends Error {
  override name = 'RequestValidationError';
  readonly issues: ProblemIssue[];
  constructor(zodIssues: readonly z.core.$ZodIssue[]) {
    const issues = flattenIssues(zodIssues, []).slice(0, MAX_ISSUES);
    super(issues.map((i) => (i.path === '' ? i.message : `${i.path}: ${i.message}`)).join('; '));
    this.issues = issues;
  }
}

/** A branch of a union whose form the value does not have at all (a string for an object, say). */
function mismatched(branch: readonly z.core.$ZodIssue[]): boolean {
  return branch.some(
    (i) =>
      i.path.length === 0 &&
      (i.code === 'invalid_type' ||
        i.code === 'unrecognized_keys' ||
        (i.code === 'custom' && i.params?.typeCheck === TYPE_CHECK.typeCheck) ||
        (i.code === 'invalid_union' && i.errors.every(mismatched))),
  );
}

/**
 * A union that matches no branch is reported by zod as one issue holding every branch's issues. The
 * branches whose form the value has say what is wrong inside it: the one of them that got deepest
 * into the value, then with the fewest issues; if none has the form, the deepest; if no branch gets into the value, the union's own message
 * (zod-messages.ts: "required", or what was expected and what came).
 */
function bestBranch(branches: readonly (readonly z.core.$ZodIssue[])[]): readonly z.core.$ZodIssue[] | undefined {
  const depth = (b: readonly z.core.$ZodIssue[]) => Math.max(...b.map((i) => i.path.length));
  const fitting = branches.filter((b) => b.length > 0 && !mismatched(b));
  const better = (a: readonly z.core.$ZodIssue[], b: readonly z.core.$ZodIssue[]) =>
    depth(b) > depth(a) || (depth(b) === depth(a) && b.length < a.length) ? b : a;
  if (fitting.length > 0) return fitting.reduce(better);
  const deepest = branches.reduce((a, b) => (depth(b) > depth(a) ? b : a));
  return depth(deepest) > 0 ? deepest : undefined;
}

function flattenIssues(issues: readonly z.core.$ZodIssue[], prefix: Path): ProblemIssue[] {
  const out: ProblemIssue[] = [];
  const stack: { issue: z.core.$ZodIssue; prefix: Path }[] = issues.map((issue) => ({ issue, prefix })).reverse();
  while (stack.length > 0) {
    const { issue, prefix: p } = stack.pop()!;
    const path = [...p, ...(issue.path as Path)];
    const best = issue.code === 'invalid_union' && issue.errors.length > 0 ? bestBranch(issue.errors) : undefined;
    if (best !== undefined) {
      for (let i = best.length - 1; i >= 0; i--) stack.push({ issue: best[i]!, prefix: path });
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      // each unknown key named at its own path, so `errors[].path` points at the field to remove;
      // the issue's message is the list of allowed fields (zod-messages.ts)
      for (const key of issue.keys) out.push({ path: formatPath([...path, key]), message: `unknown field "${key}" (${issue.message})` });
      continue;
    }
    out.push({ path: formatPath(path), message: issue.message });
  }
  return out;
}

export function sendProblem(
  reply: FastifyReply,
  code: ErrorCode,
  detail: string,
  errors?: ProblemIssue[],
  headers: Record<string, string> = {},
): FastifyReply {
  const body = problem(code, detail, errors, reply.request.url);
  return reply
    .code(ERRORS[code].status)
    .headers(headers)
    .type('application/problem+json')
    .send(`${JSON.stringify({ ...body, requestId: reply.request.id })}\n`);
}

const issuesOf = (e: SpecError) => e.issues.slice(0, MAX_ISSUES).map((i) => ({ path: formatPath(i.path), message: i.message }));

/** The catalogue code for any error that reaches the handler, with its issues. */
export function classify(
  err: unknown,
  request: { bodyLimitBytes?: number; contentType?: string } = {},
): { code: ErrorCode; detail: string; errors?: ProblemIssue[]; headers?: Record<string, string> } {
  if (err instanceof HttpError) return { code: err.code, detail: err.message, errors: err.issues, headers: err.headers };
  if (err instanceof RequestValidationError) return { code: 'INVALID_REQUEST', detail: err.message, errors: err.issues };
  if (err instanceof MalformedError) return { code: 'INVALID_REQUEST', detail: err.message, errors: issuesOf(err) };
  if (err instanceof SpecError) return { code: 'INVALID_SPEC', detail: err.message, errors: issuesOf(err) };
  if (err instanceof LimitError) {
    return { code: 'LIMIT_EXCEEDED', detail: err.message, errors: [{ path: formatPath(err.path), message: err.reason }] };
  }
  if (err instanceof ZodError) {
    // zod parsing inside our own decoding: still a malformed request
    const v = new RequestValidationError(err.issues);
    return { code: 'INVALID_REQUEST', detail: v.message, errors: v.issues };
  }
  const e = err as Partial<FastifyError> & { validation?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  const message = typeof e.message === 'string' ? e.message : String(err);
  if (e.validation !== undefined) return { code: 'INVALID_REQUEST', detail: message };
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { code: 'BODY_TOO_LARGE', detail: bodyTooLarge(request.bodyLimitBytes) };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { code: 'UNSUPPORTED_MEDIA_TYPE', detail: `expected content-type application/json or application/vnd.gradserve.safetensors, got ${request.contentType ?? 'none'}` };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { code: 'INVALID_JSON', detail: message };
  }
  if (status === 400 && err instanceof SyntaxError) return { code: 'INVALID_JSON', detail: message };
  if (status === 429) return { code: 'RATE_LIMITED', detail: message };
  if (status === 404) return { code: 'NOT_FOUND', detail: message };
  if (status === 413) return { code: 'BODY_TOO_LARGE', detail: bodyTooLarge(request.bodyLimitBytes) };
  if (status === 415) return { code: 'UNSUPPORTED_MEDIA_TYPE', detail: message };
  if (status >= 400 && status < 500) return { code: 'INVALID_REQUEST', detail: message };
  return { code: 'INTERNAL', detail: 'an internal error occurred; it has been logged' };
}

const CLIENT_GONE: ReturnType<typeof classify> = { code: 'CLIENT_CLOSED', detail: 'the client closed the connection while its body arrived' };

/** The body limit, its variable, and the ways around it. */
export function bodyTooLarge(limitBytes: number | undefined): string {
  const limit = limitBytes === undefined ? 'the body limit' : `the limit of ${limitBytes} bytes (BODY_LIMIT_MB=${+(limitBytes / 2 ** 20).toFixed(6)})`;
  return (
    `the request body is over ${limit}: send large tensors as base64 ({"shape", "dtype", "base64"}), ` +
    'which takes fewer bytes than JSON numbers, split the batch over several requests, or start the service with a larger BODY_LIMIT_MB'
  );
}

async function errorsPlugin(app: FastifyInstance, { bodyLimitBytes }: { bodyLimitBytes: number }): Promise<void> {
  // Fastify parses text/plain by default; everything but JSON is a 415 here.
  app.removeContentTypeParser(['text/plain']);

  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    // a hang-up mid-body fails the body's stream with Node's bare 'aborted' (a 400 for JSON, which
    // Fastify reads, and no status for safetensors, which we read): it is the client's leaving, not a fault
    const c = bodyAbandoned(request) ? CLIENT_GONE : classify(err, { bodyLimitBytes, contentType: request.headers['content-type'] });
    if (c.code === 'INTERNAL') request.log.error({ err }, 'internal error');
    else request.log.info({ code: c.code, detail: c.detail }, 'request rejected');
    answerAfterBody(request, reply, () => sendProblem(reply, c.code, c.detail, c.errors, c.headers));
    return reply;
  });

  // the methods of every route by its path, so a known path asked with another method is a 405 naming
  // them; a path with parameters (/v1/models/:id) is matched as a pattern
  const methodsOf = new Map<string, Set<string>>();
  const patterns: [RegExp, Set<string>][] = [];
  app.addHook('onRoute', ({ url, method }) => {
    let set = methodsOf.get(url);
    if (set === undefined) {
      set = new Set<string>();
      methodsOf.set(url, set);
      if (url.includes(':')) patterns.push([new RegExp(`^${url.replace(/:[^/]+/g, '[^/]+')}$`), set]);
    }
    for (const m of Array.isArray(method) ? method : [method]) set.add(m);
  });

  app.setNotFoundHandler((request, reply) => {
    const path = request.url.split('?')[0]!;
    // a trailing slash names the same route (app.ts ignoreTrailingSlash)
    const route = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const allowed = methodsOf.get(route) ?? patterns.find(([re]) => re.test(route))?.[1];
    if (allowed === undefined) return sendProblem(reply, 'NOT_FOUND', `no route ${request.method} ${path}`);
    const allow = [...allowed].sort().join(', ');
    return sendProblem(reply, 'METHOD_NOT_ALLOWED', `${path} answers ${allow}, not ${request.method}`, undefined, { allow });
  });
}

export default fp(errorsPlugin, { name: 'gradserve-errors' });
