/**
 * Messages between {@link createVoucherVerifierPool} (`voucher-pool.ts`) and its workers
 * (`voucher-pool-worker.ts`). Kept apart so the pool never imports the worker's entry code.
 * Not part of the public API.
 */
import { VOUCHER_WIRE_LENGTH } from './voucher.ts';

/** Bytes per batch record: 129-byte wire voucher, then the 20-byte payer. */
export const RECORD_LENGTH = VOUCHER_WIRE_LENGTH + 20;

/** `workerData` of a pool worker; `sluiceVoucherPool` marks the thread as ours. */
export interface PoolWorkerData {
  readonly sluiceVoucherPool: true;
  readonly backend: 'libsecp256k1' | 'noble';
}

/** main -> worker */
export type ToWorker =
  | { readonly type: 'batch'; readonly id: number; readonly count: number; readonly buffer: ArrayBuffer }
  | { readonly type: 'crash-for-testing' };

/** worker -> main: bit i of `bitmap` is set iff record i verified. */
export interface FromWorker {
  readonly type: 'result';
  readonly id: number;
  readonly bitmap: ArrayBuffer;
}
