/**
 * How a simulated handler fails. pveproxy turns a Perl `die` into a 500 whose HTTP reason phrase is the first
 * line of the message; parameter errors become 400 "Parameter verification failed." with per-parameter
 * reasons, permission errors 403. Messages keep Perl's trailing newline, as the real JSON body does.
 */
export class PveError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly errors?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A handler `die`: HTTP 500 with the message as reason phrase. */
export function die(message: string): never {
  throw new PveError(500, message.endsWith('\n') ? message : `${message}\n`);
}

/** raise_param_exc: 400 with the per-parameter reasons. */
export function paramError(errors: Record<string, string>): never {
  throw new PveError(400, 'Parameter verification failed.\n', errors);
}

/** raise_perm_exc: 403 "Permission check failed (<what>)". */
export function permError(what?: string): never {
  throw new PveError(403, what ? `Permission check failed (${what})\n` : 'Permission check failed\n');
}
