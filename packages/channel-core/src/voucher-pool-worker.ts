/**
 * Worker side of {@link createVoucherVerifierPool} (see `voucher-pool.ts`).
 *
 * Receives batches as one transferred `ArrayBuffer` of `n` records, each
 * `voucher wire form (129 bytes) || payer address (20 bytes)`, runs channel-core's strict
 * {@link verifyVoucher} on every record, and replies with a bitmap (bit `i` set iff record
 * `i` verified), also transferred. Not part of the public API.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { type Address, type ChannelId, bytesToHex, readUint256 } from './hex.ts';
import { useCryptoBackend } from './secp256k1.ts';
import { type Signature } from './signature.ts';
import { type Voucher, VOUCHER_WIRE_LENGTH, verifyVoucher } from './voucher.ts';

/** Bytes per batch record: wire voucher + 20-byte payer. */
export const RECORD_LENGTH = VOUCHER_WIRE_LENGTH + 20;

/** main -> worker */
export type ToWorker =
  | { readonly type: 'batch'; readonly id: number; readonly count: number; readonly buffer: ArrayBuffer }
  | { readonly type: 'crash-for-testing' };

/** worker -> main */
export interface FromWorker {
  readonly type: 'result';
  readonly id: number;
  readonly bitmap: ArrayBuffer;
}

/** Verify `count` records of `bytes`; bit i of the result is set iff record i verified. */
export function verifyRecords(bytes: Uint8Array, count: number): Uint8Array {
  const bitmap = new Uint8Array((count + 7) >> 3);
  for (let i = 0; i < count; i++) {
    const o = i * RECORD_LENGTH;
    const voucher: Voucher = {
      channelId: bytesToHex(bytes.subarray(o, o + 32)) as string as ChannelId,
      amount: readUint256(bytes, o + 32),
      // verifyVoucher checks the signature's shape itself (false when malformed) and keeps no reference
      signature: bytes.subarray(o + 64, o + 129) as Signature,
    };
    const payer = bytesToHex(bytes.subarray(o + 129, o + RECORD_LENGTH)) as string as Address;
    let ok = false;
    try {
      ok = verifyVoucher(voucher, payer);
    } catch {
      ok = false; // unreachable for wire bytes (any 32/32/20 bytes are a valid id/amount/address)
    }
    if (ok) bitmap[i >> 3]! |= 1 << (i & 7);
  }
  return bitmap;
}

const port = parentPort;
if (port !== null) {
  const data = workerData as { readonly backend?: 'libsecp256k1' | 'noble' } | undefined;
  if (data?.backend !== undefined) useCryptoBackend(data.backend);
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'crash-for-testing') throw new Error('voucher verifier worker crashed on request (test hook)');
    const bitmap = verifyRecords(new Uint8Array(msg.buffer), msg.count);
    const reply: FromWorker = { type: 'result', id: msg.id, bitmap: bitmap.buffer as ArrayBuffer };
    port.postMessage(reply, [reply.bitmap]);
  });
}
