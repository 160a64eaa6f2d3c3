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

/** Wait `ms`, or reject with the signal's reason as soon as it aborts (the timer is cleared then). */
export function sleep(ms: number, signal?: AbortSignal | null): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
