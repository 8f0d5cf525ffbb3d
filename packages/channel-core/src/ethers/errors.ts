/**
 * Mapping of ethers/RPC failures to SluiceError codes, revert-reason decoding, and the
 * abort/timeout guard every call runs under. Messages and details carry reasons, method
 * names and hashes — never keys, raw transactions or signer objects.
 */
import { Interface, isError } from 'ethers';
import { SluiceError, isSluiceError } from '../errors.ts';

const ERROR_STRING = '0x08c379a0';
const PANIC = '0x4e487b71';

/** A decoded revert: `Error(string)`, `Panic(uint256)` or a custom error from one of the ABIs. */
export interface RevertInfo {
  readonly reason: string;
  /** Custom error name, `Error` or `Panic`. */
  readonly name?: string;
  readonly args?: readonly string[];
  readonly data?: string;
}

function findRevertData(e: unknown, depth = 0): string | undefined {
  if (depth > 6 || e === null || typeof e !== 'object') return undefined;
  const o = e as Record<string, unknown>;
  for (const k of ['data', 'revertData']) {
    const d = o[k];
    if (typeof d === 'string' && /^0x([0-9a-fA-F]{8})/.test(d)) return d;
    if (d && typeof d === 'object') {
      const inner = findRevertData(d, depth + 1);
      if (inner) return inner;
    }
  }
  for (const k of ['error', 'info', 'cause']) {
    const inner = findRevertData(o[k], depth + 1);
    if (inner) return inner;
  }
  return undefined;
}

function stringify(x: unknown): string {
  return typeof x === 'bigint' ? x.toString() : typeof x === 'string' ? x : JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

/** Decode revert data with the builtin errors and the given interfaces. */
export function decodeRevertData(data: string, interfaces: readonly Interface[]): RevertInfo {
  const sel = data.slice(0, 10).toLowerCase();
  const coder = Interface.from(['error Error(string)', 'error Panic(uint256)']);
  try {
    if (sel === ERROR_STRING) {
      const [reason] = coder.decodeErrorResult('Error', data);
      return { reason: String(reason), name: 'Error', data };
    }
    if (sel === PANIC) {
      const [code] = coder.decodeErrorResult('Panic', data);
      return { reason: `panic 0x${(code as bigint).toString(16)}`, name: 'Panic', args: [String(code)], data };
    }
  } catch {
    // fall through
  }
  for (const iface of interfaces) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) {
        const args = [...parsed.args].map(stringify);
        return { reason: `${parsed.name}(${args.join(', ')})`, name: parsed.name, args, data };
      }
    } catch {
      // next
    }
  }
  return { reason: data === '0x' ? 'reverted without a reason' : `unknown revert data ${data.slice(0, 10)}`, data };
}

function revertFrom(e: unknown, interfaces: readonly Interface[]): RevertInfo | undefined {
  const data = findRevertData(e);
  if (data) return decodeRevertData(data, interfaces);
  const o = e as { reason?: unknown; shortMessage?: unknown; message?: unknown; info?: { error?: { message?: unknown } } };
  if (typeof o.reason === 'string' && o.reason) return { reason: o.reason };
  const msg = String(o.info?.error?.message ?? o.shortMessage ?? o.message ?? '');
  const m = /execution reverted(?::\s*(.*))?/i.exec(msg);
  if (m) return { reason: m[1]?.trim() || 'reverted without a reason' };
  return undefined;
}

/**
 * Map anything thrown by ethers (or fetch) to a SluiceError.
 * @param what - the operation, e.g. `deposit` (goes into message and details)
 */
export function toChainError(e: unknown, what: string, interfaces: readonly Interface[]): SluiceError {
  if (isSluiceError(e)) return e;
  if (isError(e, 'CALL_EXCEPTION')) {
    const info = revertFrom(e, interfaces) ?? { reason: 'transaction reverted' };
    const details: Record<string, unknown> = { operation: what, reason: info.reason };
    if (info.name !== undefined) details['error'] = info.name;
    if (info.args !== undefined) details['args'] = info.args;
    if (info.data !== undefined) details['data'] = info.data;
    const receipt = (e as { receipt?: { hash?: string; blockNumber?: number } | null }).receipt;
    if (receipt?.hash) details['txHash'] = receipt.hash;
    return new SluiceError('CHAIN_REVERT', `${what} reverted: ${info.reason}`, { details, cause: scrub(e) });
  }
  if (isError(e, 'TIMEOUT')) {
    return new SluiceError('CHAIN_TIMEOUT', `${what} timed out`, { details: { operation: what }, cause: scrub(e) });
  }
  // Some nodes report reverts of eth_estimateGas / eth_sendTransaction as plain RPC errors.
  const info = revertFrom(e, interfaces);
  const msg = String((e as { message?: unknown })?.message ?? '');
  if (info && /revert/i.test(msg + JSON.stringify((e as { info?: unknown })?.info ?? '', (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)))) {
    return new SluiceError('CHAIN_REVERT', `${what} reverted: ${info.reason}`, {
      details: { operation: what, reason: info.reason, ...(info.name ? { error: info.name } : {}), ...(info.data ? { data: info.data } : {}) },
      cause: scrub(e),
    });
  }
  const code = (e as { code?: unknown })?.code;
  return new SluiceError('CHAIN_RPC', `${what} failed: ${shortMessage(e)}`, {
    details: { operation: what, ...(typeof code === 'string' ? { ethersCode: code } : {}) },
    cause: scrub(e),
  });
}

function shortMessage(e: unknown): string {
  const o = e as { shortMessage?: unknown; message?: unknown };
  const m = String(o?.shortMessage ?? o?.message ?? 'unknown error');
  return m.length > 200 ? `${m.slice(0, 200)}…` : m;
}

/**
 * Keep a cause that cannot leak secrets: ethers errors may embed the request
 * (signed raw transactions) — we keep only code and short message.
 */
function scrub(e: unknown): Error {
  const o = e as { code?: unknown };
  const err = new Error(shortMessage(e));
  if (typeof o?.code === 'string') (err as Error & { code?: string }).code = o.code;
  return err;
}

export function abortedError(what: string, signal: AbortSignal): SluiceError {
  return new SluiceError('ABORTED', `${what} aborted`, { details: { operation: what }, cause: signal.reason instanceof Error ? scrub(signal.reason) : undefined });
}

export function timeoutError(what: string, ms: number): SluiceError {
  return new SluiceError('CHAIN_TIMEOUT', `${what} timed out after ${ms} ms`, { details: { operation: what, timeoutMs: ms } });
}

/**
 * Run `fn` under the caller's signal and a timeout. The promise settles as soon as either
 * fires (ethers cannot cancel an in-flight request; it is left to finish and ignored).
 */
export async function guarded<T>(
  what: string,
  opts: { signal?: AbortSignal | undefined; timeoutMs?: number | undefined },
  defaultTimeoutMs: number,
  interfaces: readonly Interface[],
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const user = opts.signal;
  if (user?.aborted) throw abortedError(what, user);
  const ms = opts.timeoutMs ?? defaultTimeoutMs;
  if (!Number.isFinite(ms) || ms <= 0) throw new SluiceError('INVALID_ARGUMENT', 'timeoutMs must be a positive number');
  const ctl = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let onUserAbort: (() => void) | undefined;
  const stop = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      const err = timeoutError(what, ms);
      ctl.abort(err);
      reject(err);
    }, ms);
    if (user) {
      onUserAbort = () => {
        const err = abortedError(what, user);
        ctl.abort(err);
        reject(err);
      };
      user.addEventListener('abort', onUserAbort, { once: true });
    }
  });
  try {
    return await Promise.race([
      fn(ctl.signal).catch((e: unknown) => {
        if (ctl.signal.aborted && isSluiceError(ctl.signal.reason)) throw ctl.signal.reason;
        throw toChainError(e, what, interfaces);
      }),
      stop,
    ]);
  } finally {
    clearTimeout(timer);
    if (user && onUserAbort) user.removeEventListener('abort', onUserAbort);
    stop.catch(() => undefined);
  }
}

/** Sleep `ms`; resolves `true`, or `false` as soon as `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const onAbort = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
