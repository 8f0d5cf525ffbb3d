/**
 * A clearable deadline. `AbortSignal.any([s, AbortSignal.timeout(ms)])` leaves a timer behind
 * that cannot be cleared: it fires `ms` later for every exchange (creating a TimeoutError and
 * dispatching abort events), which showed up in the hub's profile. This one is released with
 * `clear()` in a `finally`.
 */

/** Error `name` used for an expired deadline (what `AbortSignal.timeout` uses too). */
const TIMEOUT_ERROR = 'TimeoutError';

export interface Deadline {
  /** Aborts when the parent aborts (with its reason) or when the time is up (a `TimeoutError`). */
  readonly signal: AbortSignal;
  /** Release the timer and the parent listener. Idempotent. */
  clear(): void;
}

/** A signal that aborts with `parent` or after `ms` milliseconds, whichever comes first. */
export function deadline(parent: AbortSignal, ms: number): Deadline {
  const controller = new AbortController();
  if (parent.aborted) {
    controller.abort(parent.reason);
    return { signal: controller.signal, clear() {} };
  }
  const onAbort = (): void => controller.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  const timer = setTimeout(() => {
    const e = new Error('deadline expired');
    e.name = TIMEOUT_ERROR;
    controller.abort(e);
  }, ms);
  timer.unref();
  return {
    signal: controller.signal,
    clear() {
      clearTimeout(timer);
      parent.removeEventListener('abort', onAbort);
    },
  };
}
