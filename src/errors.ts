// The one catalogue of error codes the service answers with (docs/api.md "Errors"). Each code is used for
// exactly one situation; its problem `type` is stable so clients can branch on it.

export const ERRORS = {
  INVALID_JSON: { status: 400, title: 'Malformed JSON body' },
  INVALID_REQUEST: { status: 400, title: 'The request does not match the schema' },
  INVALID_BODY: { status: 400, title: 'Malformed safetensors body' },
  MALFORMED_HTTP: { status: 400, title: 'The request is not valid HTTP/1.1' },
  UNAUTHORIZED: { status: 401, title: 'Missing or invalid API key' },
  NOT_FOUND: { status: 404, title: 'No such route' },
  METHOD_NOT_ALLOWED: { status: 405, title: 'The route does not answer this method' },
  REQUEST_TIMEOUT: { status: 408, title: 'The request did not arrive in time' },
  // its own code, so a client can tell "register the model again" from a wrong URL
  MODEL_NOT_FOUND: { status: 404, title: 'No model with this id on this instance' },
  BODY_TOO_LARGE: { status: 413, title: 'Request body over the byte limit' },
  LIMIT_EXCEEDED: { status: 413, title: 'Tensor or graph over the size limits' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Request body is neither JSON nor safetensors' },
  INVALID_SPEC: { status: 422, title: 'The request is well-formed but cannot be computed' },
  RATE_LIMITED: { status: 429, title: 'Too many requests' },
  HEADERS_TOO_LARGE: { status: 431, title: 'Request headers over the size limit' },
  QUEUE_FULL: { status: 503, title: 'All workers are busy and the queue is full' },
  NOT_READY: { status: 503, title: 'The worker pool is not accepting computations' },
  SHUTTING_DOWN: { status: 503, title: 'The service is shutting down' },
  CONNECTION_SPENT: { status: 503, title: 'The connection has carried its requests' },
  TIMEOUT: { status: 504, title: 'The computation outran its time limit' },
  // 502, not 503: proxies retry 503 on another instance, and a request that kills its worker would kill one there too
  WORKER_CRASHED: { status: 502, title: 'The worker computing the request died' },
  CLIENT_CLOSED: { status: 499, title: 'The client closed the connection before the answer' },
  INTERNAL: { status: 500, title: 'Internal error' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ProblemIssue {
  path: string;
  message: string;
}

/** RFC 9457 problem details, with our code and the field-level issues. */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string;
  errors?: ProblemIssue[];
}

export function problemType(code: ErrorCode): string {
  return `urn:gradserve:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

/** An error the HTTP layer raises itself; the error handler renders it as a problem. */
export class HttpError extends Error {
  override name = 'HttpError';
  readonly statusCode: number;
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly issues: ProblemIssue[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.statusCode = ERRORS[code].status;
  }
}

export function problem(code: ErrorCode, detail: string, errors?: ProblemIssue[], instance?: string): Problem {
  const { status, title } = ERRORS[code];
  return {
    type: problemType(code),
    title,
    status,
    detail,
    code,
    ...(instance === undefined ? {} : { instance }),
    ...(errors === undefined || errors.length === 0 ? {} : { errors }),
  };
}
