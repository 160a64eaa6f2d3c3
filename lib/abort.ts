/**
 * Settle with `promise`, or reject as soon as `signal` aborts (with `reason()` when given, else the
 * signal's own reason). The promise itself is not cancelled: callers share it or let it finish.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, reason?: () => unknown): Promise<T> {
  if (!signal) return promise;
  const why = () => (reason ? reason() : signal.reason);
  if (signal.aborted) return Promise.reject(why());
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(why());
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
