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
import { type Voucher, verifyVoucher } from './voucher.ts';
import { type FromWorker, type PoolWorkerData, RECORD_LENGTH, type ToWorker } from './voucher-pool-protocol.ts';

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
const data = workerData as Partial<PoolWorkerData> | null | undefined;
// Only act as a pool worker in a thread the pool started (not when merely imported elsewhere).
if (port !== null && data?.sluiceVoucherPool === true) {
  if (data.backend !== undefined) useCryptoBackend(data.backend);
  port.on('message', (msg: ToWorker) => {
    if (msg.type === 'crash-for-testing') throw new Error('voucher verifier worker crashed on request (test hook)');
    const bitmap = verifyRecords(new Uint8Array(msg.buffer), msg.count);
    const reply: FromWorker = { type: 'result', id: msg.id, bitmap: bitmap.buffer as ArrayBuffer };
    port.postMessage(reply, [reply.bitmap]);
  });
}
