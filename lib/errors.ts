/**
 * The one error type a handler, the policy layer or the Proxmox client throws when a call cannot go on.
 * The doors turn it into an MCP `isError` result or an HTTP status; `message` is read by a person (or an
 * agent) and must say what to do next. Never put a secret or a stack trace in it.
 */
export type ErrorCode =
  | 'invalid_input' // the arguments are wrong: 400
  | 'unauthenticated' // no, wrong, expired or revoked client token: 401
  | 'forbidden' // the client token's role, or the Proxmox token's privileges, do not allow it: 403
  | 'not_found' // a guest, node, storage, volume, user... does not exist: 404
  | 'conflict' // it exists already, it is locked, it is in the wrong state: 409
  | 'protected' // a protection no mode lifts (root@pam, main node, own token, protected guest): 403
  | 'mode_denied' // the caller's mode does not allow this effect (read-only): 403
  | 'confirmation_required' // safe mode: a human must say yes first: 428
  | 'approval_required' // proof needed: an approver on the approval page or the host CLI: 428
  | 'unavailable' // Proxmox, a node, SSH or the store cannot be reached: 502/503
  | 'timeout' // it took longer than allowed: 504
  | 'task_failed' // a Proxmox task ended with an error exit status: 502
  | 'upstream' // Proxmox answered something we cannot use: 502
  | 'internal'; // our bug: 500

const httpStatusByCode: Record<ErrorCode, number> = {
  invalid_input: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  protected: 403,
  mode_denied: 403,
  confirmation_required: 428,
  approval_required: 428,
  unavailable: 503,
  timeout: 504,
  task_failed: 502,
  upstream: 502,
  internal: 500,
};

export class ToolError extends Error {
  readonly code: ErrorCode;
  /** Extra facts for the caller (e.g. the confirmation id, the task log tail). Must hold no secret. */
  readonly details?: Record<string, unknown>;
  /** What the caller could do next. */
  readonly suggestions: string[];

  constructor(code: ErrorCode, message: string, options: { details?: Record<string, unknown>; suggestions?: string[]; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ToolError';
    this.code = code;
    this.details = options.details;
    this.suggestions = options.suggestions ?? [];
  }

  get httpStatus(): number {
    return httpStatusByCode[this.code];
  }
}

export function httpStatusFor(code: ErrorCode): number {
  return httpStatusByCode[code];
}

/** Anything thrown becomes a ToolError; unknown errors are reported as internal without their stack. */
export function toToolError(error: unknown): ToolError {
  if (error instanceof ToolError) return error;
  if (error instanceof Error && error.name === 'AbortError') {
    return new ToolError('timeout', 'The call was cancelled or ran out of time before it finished.');
  }
  const message = error instanceof Error ? error.message : String(error);
  return new ToolError('internal', `Internal error: ${message}`, { cause: error });
}
