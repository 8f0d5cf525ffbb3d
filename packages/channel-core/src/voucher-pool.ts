/**
 * `@sluice/channel-core/voucher-pool` — strict voucher verification on worker threads,
 * for providers that check many vouchers concurrently.
 *
 * Each worker runs channel-core's {@link verifyVoucher} (same backend as the main thread
 * unless told otherwise), so results are exactly those of `verifyVoucher`. Vouchers are
 * shipped in batches: one transferred `ArrayBuffer` of 149-byte records
 * (129-byte wire voucher + 20-byte payer) per message, answered by a transferred bitmap,
 * so messaging costs well under a microsecond per voucher. Synchronous bursts are
 * coalesced into batches on the next microtask (or immediately once `batchSize` are
 * waiting); each worker has at most two batches in flight so it never idles on a round trip.
 *
 * Limits and failure handling:
 * - at most `maxQueue` vouchers wait for a worker; beyond that `verify`/`verifyMany`
 *   reject with `SluiceError('OVERLOADED')` (shed load, or retry later);
 * - an aborted `signal` rejects with `SluiceError('ABORTED')` (a voucher already in a
 *   worker is still checked, its result dropped);
 * - a worker that crashes fails its in-flight batches with `SluiceError('INTERNAL')` and
 *   is replaced; after 5 consecutive crashes without any completed batch the pool gives up
 *   and fails everything with `INTERNAL`;
 * - idle workers are `unref()`ed, so a forgotten pool never keeps a process alive;
 *   `close()` rejects outstanding work with `ABORTED` and terminates the workers.
 *
 * @example
 * ```ts
 * const pool = createVoucherVerifierPool({ size: 2, maxQueue: 10_000 });
 * if (!(await pool.verify(voucher, alice, { signal }))) throw new SluiceError('VOUCHER_BAD_SIGNATURE', '…');
 * await pool.close();
 * ```
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { type Address, assertUint, hexToBytes } from './hex.ts';
import { parseAddress } from './address.ts';
import { SluiceError } from './errors.ts';
import { cryptoBackend } from './secp256k1.ts';
import { assertSignature } from './signature.ts';
import { type Voucher, serializeVoucher } from './voucher.ts';
import { type FromWorker, type PoolWorkerData, RECORD_LENGTH, type ToWorker } from './voucher-pool-protocol.ts';

export interface VoucherVerifierPoolOptions {
  /** Number of worker threads. Default `os.availableParallelism()`. */
  readonly size?: number;
  /** Most vouchers that may wait for a worker (not counting those in flight). Default 65 536. */
  readonly maxQueue?: number;
  /** Most vouchers per message to a worker. Default 256. */
  readonly batchSize?: number;
  /** secp256k1 backend for the workers. Default: the main thread's active backend. */
  readonly backend?: 'libsecp256k1' | 'noble';
}

export interface VerifyOptions {
  readonly signal?: AbortSignal;
}

export interface VoucherVerifierPoolStats {
  readonly size: number;
  readonly backend: 'libsecp256k1' | 'noble';
  /** Vouchers waiting for a worker. */
  readonly queued: number;
  /** Vouchers inside workers. */
  readonly inFlight: number;
  /** Vouchers with a result (true or false). */
  readonly completed: number;
  /** Vouchers refused because the queue was full. */
  readonly overloaded: number;
  /** Vouchers rejected by their abort signal. */
  readonly aborted: number;
  /** Batch messages sent to workers. */
  readonly batches: number;
  /** Workers replaced after a crash. */
  readonly workerRestarts: number;
  readonly closed: boolean;
}

export interface VoucherVerifierPool {
  /**
   * Same result as `verifyVoucher(voucher, payer)`, computed on a worker.
   * @throws (rejects) TypeError/RangeError for a malformed channel id, amount or payer (as verifyVoucher);
   *   SluiceError OVERLOADED when the queue is full, ABORTED on abort or close, INTERNAL if the worker crashed
   */
  verify(voucher: Voucher, payer: Address, options?: VerifyOptions): Promise<boolean>;
  /**
   * Verify many vouchers (all or none are queued); results in input order.
   * @param payer - one payer for all, or one per voucher
   * @throws (rejects) as {@link VoucherVerifierPool.verify}; OVERLOADED if they do not all fit
   */
  verifyMany(vouchers: readonly Voucher[], payer: Address | readonly Address[], options?: VerifyOptions): Promise<boolean[]>;
  stats(): VoucherVerifierPoolStats;
  /** Reject outstanding work (ABORTED) and terminate the workers. Idempotent. */
  close(): Promise<void>;
}

const MAX_INFLIGHT_BATCHES_PER_WORKER = 2;
const MAX_CONSECUTIVE_CRASHES = 5;
const PAYER_CACHE_MAX = 4096;
const M64 = (1n << 64n) - 1n;

const ST_QUEUED = 0;
const ST_INFLIGHT = 1;
const ST_DONE = 2;

interface Item {
  readonly rec: Uint8Array;
  readonly resolve: (ok: boolean) => void;
  readonly reject: (e: unknown) => void;
  state: number;
  signal: AbortSignal | undefined;
}

interface Slot {
  worker: Worker;
  readonly inflight: Map<number, Item[]>;
  lastError: unknown;
}

const testHooks = new WeakMap<VoucherVerifierPool, { crashWorker(index: number): void }>();

/** Test-only: make worker `index` throw an uncaught error. @internal */
export function crashVoucherPoolWorkerForTesting(pool: VoucherVerifierPool, index = 0): void {
  testHooks.get(pool)?.crashWorker(index);
}

function abortError(signal: AbortSignal): SluiceError {
  return new SluiceError('ABORTED', 'voucher verification aborted', { cause: signal.reason });
}

/**
 * Start a pool of voucher-verifying worker threads.
 * @throws RangeError for a non-positive (or non-integer) size, maxQueue or batchSize
 */
export function createVoucherVerifierPool(options: VoucherVerifierPoolOptions = {}): VoucherVerifierPool {
  const size = options.size ?? availableParallelism();
  const maxQueue = options.maxQueue ?? 65_536;
  const batchSize = options.batchSize ?? 256;
  const backend = options.backend ?? cryptoBackend().name;
  if (!Number.isSafeInteger(size) || size < 1) throw new RangeError('size must be a positive integer');
  if (!Number.isSafeInteger(maxQueue) || maxQueue < 1) throw new RangeError('maxQueue must be a positive integer');
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new RangeError('batchSize must be a positive integer');

  // FIFO of items waiting for a worker; `head` advances, compacted now and then.
  let queue: Item[] = [];
  let head = 0;
  let queued = 0; // live (not aborted) items in queue
  let inFlight = 0;
  let completed = 0;
  let overloaded = 0;
  let aborted = 0;
  let batches = 0;
  let workerRestarts = 0;
  let consecutiveCrashes = 0;
  let nextBatchId = 1;
  let scheduled = false;
  let closed = false;
  let closing: Promise<void> | undefined;
  let broken: SluiceError | undefined;

  // One abort listener per signal, whatever the number of vouchers waiting on it.
  const bySignal = new Map<AbortSignal, { readonly items: Set<Item>; readonly onAbort: () => void }>();
  const payerBytes = new Map<string, Uint8Array>();

  function settle(item: Item): void {
    item.state = ST_DONE;
    const signal = item.signal;
    if (signal === undefined) return;
    item.signal = undefined;
    const entry = bySignal.get(signal);
    if (entry === undefined) return;
    entry.items.delete(item);
    if (entry.items.size === 0) {
      signal.removeEventListener('abort', entry.onAbort);
      bySignal.delete(signal);
    }
  }

  function fail(item: Item, e: unknown): void {
    if (item.state === ST_DONE) return;
    if (item.state === ST_QUEUED) queued--;
    settle(item);
    item.reject(e);
  }

  function watch(item: Item, signal: AbortSignal): void {
    let entry = bySignal.get(signal);
    if (entry === undefined) {
      const items = new Set<Item>();
      const onAbort = (): void => {
        bySignal.delete(signal);
        const err = abortError(signal);
        for (const it of items) if (it.state !== ST_DONE) aborted++;
        for (const it of items) {
          it.signal = undefined;
          fail(it, err);
        }
        items.clear();
      };
      entry = { items, onAbort };
      bySignal.set(signal, entry);
      signal.addEventListener('abort', onAbort, { once: true });
    }
    entry.items.add(item);
    item.signal = signal;
  }

  function payerRecordBytes(payer: Address): Uint8Array {
    let bytes = payerBytes.get(payer);
    if (bytes === undefined) {
      bytes = hexToBytes(parseAddress(payer, 'payer'), 'payer');
      if (payerBytes.size >= PAYER_CACHE_MAX) payerBytes.clear();
      payerBytes.set(payer, bytes);
    }
    return bytes;
  }

  /**
   * Validate exactly as verifyVoucher would (same false/throw outcomes) and build the record;
   * `undefined` means "verifyVoucher returns false without curve work".
   */
  function record(voucher: Voucher, payer: Address): Uint8Array | undefined {
    const sig = voucher.signature as unknown;
    if (!(sig instanceof Uint8Array) || sig.length !== 65) return undefined;
    try {
      assertSignature(sig);
    } catch {
      return undefined;
    }
    const rec = new Uint8Array(RECORD_LENGTH);
    const id = voucher.channelId;
    if (id === lastChannelId && typeof id === 'string') {
      // same channel as last time (the common case): skip re-parsing its hex
      assertUint(voucher.amount, 'amount');
      rec.set(lastChannelBytes, 0);
      const dv = new DataView(rec.buffer, 32, 32);
      const a = voucher.amount;
      dv.setBigUint64(0, (a >> 192n) & M64);
      dv.setBigUint64(8, (a >> 128n) & M64);
      dv.setBigUint64(16, (a >> 64n) & M64);
      dv.setBigUint64(24, a & M64);
      rec.set(sig, 64);
    } else {
      serializeVoucher(voucher, rec, 0); // throws TypeError/RangeError for a bad channel id / amount
      if (typeof id === 'string') {
        lastChannelId = id;
        lastChannelBytes = rec.slice(0, 32);
      }
    }
    rec.set(payerRecordBytes(payer), RECORD_LENGTH - 20);
    return rec;
  }
  let lastChannelId: string | undefined;
  let lastChannelBytes = new Uint8Array(32);

  function spawn(index: number): Slot {
    const worker = new Worker(new URL('./voucher-pool-worker.ts', import.meta.url), {
      workerData: { sluiceVoucherPool: true, backend } satisfies PoolWorkerData,
      // workers inherit execArgv, but `--input-type` (from `node -e`) breaks loading a worker file
      ...(process.execArgv.some((a) => a.startsWith('--input-type')) ? { execArgv: [] } : {}),
      name: `sluice-voucher-verifier-${index}`,
    });
    const slot: Slot = { worker, inflight: new Map(), lastError: undefined };
    worker.on('message', (msg: FromWorker) => onResult(slot, msg));
    worker.on('error', (e) => {
      slot.lastError = e;
    });
    worker.on('exit', (code) => onExit(index, slot, code));
    worker.unref(); // after the listeners: adding a 'message' listener re-refs the port
    return slot;
  }

  const slots: Slot[] = [];
  for (let i = 0; i < size; i++) slots.push(spawn(i));

  function onResult(slot: Slot, msg: FromWorker): void {
    const items = slot.inflight.get(msg.id);
    if (items === undefined) return;
    slot.inflight.delete(msg.id);
    if (slot.inflight.size === 0) slot.worker.unref();
    consecutiveCrashes = 0;
    inFlight -= items.length;
    const bits = new Uint8Array(msg.bitmap);
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      completed++;
      if (item.state === ST_DONE) continue;
      settle(item);
      item.resolve(((bits[i >> 3]! >> (i & 7)) & 1) === 1);
    }
    dispatch();
  }

  function onExit(index: number, slot: Slot, code: number): void {
    if (closed || slots[index] !== slot) return;
    const err = new SluiceError('INTERNAL', 'voucher verifier worker crashed', {
      details: { exitCode: code },
      cause: slot.lastError,
    });
    for (const items of slot.inflight.values()) {
      inFlight -= items.length;
      for (const item of items) fail(item, err);
    }
    slot.inflight.clear();
    consecutiveCrashes++;
    if (consecutiveCrashes >= MAX_CONSECUTIVE_CRASHES) {
      broken = new SluiceError('INTERNAL', 'voucher verifier workers keep crashing', { cause: slot.lastError });
      void shutdown(broken);
      return;
    }
    workerRestarts++;
    slots[index] = spawn(index);
    dispatch();
  }

  function dispatch(): void {
    while (queued > 0 && !closed) {
      let best: Slot | undefined;
      let free = 0;
      for (const s of slots) {
        const f = MAX_INFLIGHT_BATCHES_PER_WORKER - s.inflight.size;
        if (f <= 0) continue;
        free += f;
        if (best === undefined || s.inflight.size < best.inflight.size) best = s;
      }
      if (best === undefined) return;
      // Spread what is waiting over the free slots, up to batchSize each.
      const want = Math.min(batchSize, Math.ceil(queued / free));
      const items: Item[] = [];
      while (items.length < want && head < queue.length) {
        const item = queue[head++]!;
        if (item.state !== ST_QUEUED) continue;
        item.state = ST_INFLIGHT;
        items.push(item);
      }
      if (head > 1024 && head * 2 > queue.length) {
        queue = queue.slice(head);
        head = 0;
      }
      queued -= items.length;
      if (items.length === 0) {
        queued = 0; // only aborted items were left
        return;
      }
      const buffer = new ArrayBuffer(items.length * RECORD_LENGTH);
      const bytes = new Uint8Array(buffer);
      for (let i = 0; i < items.length; i++) bytes.set(items[i]!.rec, i * RECORD_LENGTH);
      const id = nextBatchId++;
      best.inflight.set(id, items);
      inFlight += items.length;
      batches++;
      best.worker.ref();
      const msg: ToWorker = { type: 'batch', id, count: items.length, buffer };
      best.worker.postMessage(msg, [buffer]);
    }
  }

  function schedule(): void {
    if (queued >= batchSize) {
      dispatch();
      if (queued === 0) return;
    }
    if (scheduled) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      dispatch();
    });
  }

  function unavailable(): SluiceError | undefined {
    if (broken !== undefined) return broken;
    if (closed) return new SluiceError('ABORTED', 'voucher verifier pool is closed');
    return undefined;
  }

  function enqueue(
    rec: Uint8Array,
    signal: AbortSignal | undefined,
    resolve: (ok: boolean) => void,
    reject: (e: unknown) => void,
  ): Item {
    const item: Item = { rec, resolve, reject, state: ST_QUEUED, signal: undefined };
    queue.push(item);
    queued++;
    if (signal !== undefined) watch(item, signal);
    return item;
  }

  function overloadedError(n: number): SluiceError {
    overloaded += n;
    return new SluiceError('OVERLOADED', 'voucher verifier queue is full', { details: { maxQueue, queued, requested: n } });
  }

  async function shutdown(reason: SluiceError): Promise<void> {
    closed = true;
    for (let i = head; i < queue.length; i++) fail(queue[i]!, reason);
    queue = [];
    head = 0;
    for (const s of slots) {
      for (const items of s.inflight.values()) for (const item of items) fail(item, reason);
      s.inflight.clear();
    }
    inFlight = 0;
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  const pool: VoucherVerifierPool = {
    async verify(voucher, payer, opts = {}) {
      const down = unavailable();
      if (down !== undefined) throw down;
      const rec = record(voucher, payer);
      if (rec === undefined) return false;
      const signal = opts.signal;
      if (signal?.aborted === true) {
        aborted++;
        throw abortError(signal);
      }
      if (queued >= maxQueue) throw overloadedError(1);
      const p = new Promise<boolean>((resolve, reject) => void enqueue(rec, signal, resolve, reject));
      schedule();
      return p;
    },

    async verifyMany(vouchers, payer, opts = {}) {
      const down = unavailable();
      if (down !== undefined) throw down;
      const many = typeof payer !== 'string';
      if (many && payer.length !== vouchers.length) throw new RangeError('payer must be one address or one per voucher');
      const recs: (Uint8Array | undefined)[] = new Array(vouchers.length);
      let n = 0;
      for (let i = 0; i < vouchers.length; i++) {
        const r = record(vouchers[i]!, many ? (payer as readonly Address[])[i]! : (payer as Address));
        recs[i] = r;
        if (r !== undefined) n++;
      }
      const signal = opts.signal;
      if (signal?.aborted === true) {
        aborted += n;
        throw abortError(signal);
      }
      if (queued + n > maxQueue) throw overloadedError(n);
      // One promise for the group (not one per voucher): cheaper on the main thread.
      const results: boolean[] = new Array<boolean>(vouchers.length).fill(false);
      const p = new Promise<boolean[]>((resolve, reject) => {
        if (n === 0) return resolve(results);
        let remaining = n;
        let failed = false;
        const items: Item[] = [];
        const rejectGroup = (e: unknown): void => {
          if (failed) return;
          failed = true;
          reject(e);
          for (const it of items) if (it.state === ST_QUEUED) fail(it, e); // don't verify the rest for nothing
        };
        for (let i = 0; i < recs.length; i++) {
          const r = recs[i];
          if (r === undefined) continue;
          const onResult = (ok: boolean): void => {
            results[i] = ok;
            if (--remaining === 0) resolve(results);
          };
          items.push(enqueue(r, signal, onResult, rejectGroup));
        }
      });
      schedule();
      return p;
    },

    stats() {
      return { size, backend, queued, inFlight, completed, overloaded, aborted, batches, workerRestarts, closed };
    },

    close() {
      closing ??= shutdown(new SluiceError('ABORTED', 'voucher verifier pool closed'));
      return closing;
    },
  };

  testHooks.set(pool, {
    crashWorker(index) {
      const msg: ToWorker = { type: 'crash-for-testing' };
      slots[index]?.worker.postMessage(msg);
    },
  });
  return pool;
}
