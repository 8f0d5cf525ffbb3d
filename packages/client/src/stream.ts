/**
 * One client session over the wire protocol (docs/protocol.md): HELLO → READY → BLOCKs
 * (verified, resolved into leaf CIDs) → pipelined vouchers and CHUNKs, each chunk verified
 * against its leaf CID before anything more is paid. Exposure is at most `window` chunks
 * paid but not yet received and verified.
 */
import { WebSocket } from 'ws';
import { type ChannelId, SluiceError, type Voucher, isSluiceError } from '@sluice/channel-core';
import { type CID, type LeafRange, interiorChildren, maxInteriorBlocks, resolveFile, verifyLeaf } from '@sluice/provider/content';
import {
  END_OF_FILE,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  type ProviderFrame,
  type ReadyFrame,
  closeReasonFor,
  decodeProviderFrame,
  encodeFrame,
  errorFrameFor,
  errorFromFrame,
  sluiceCodeOfWire,
} from '@sluice/provider/wire';
import type { PayerChannels } from './channels.ts';
import { peerText } from './peer-text.ts';

export interface StreamInit {
  readonly wsUrl: string;
  readonly channelId: ChannelId;
  readonly root: CID;
  readonly size: number;
  readonly chunkCount: number;
  /** The price the metadata announced; READY may not ask more. */
  readonly pricePerChunk: bigint;
  /** First chunk wanted (chunks before it are already verified on disk). */
  readonly start: number;
  /** Prepaid window in chunks (≥ 1). */
  readonly window: number;
  /** Pay in steps of this many chunks (1 ≤ step ≤ window). */
  readonly payStep: number;
  /** Cumulative amount we have signed on the channel before this session. */
  readonly paidBefore: bigint;
  readonly channels: PayerChannels;
  /**
   * Called with the provider's READY once its terms passed the checks, before anything is
   * paid; may throw to end the session. Returns the prepaid window to use in this session
   * (1 ≤ n ≤ `window`; default `window`), e.g. smaller when earlier sessions lost credit.
   */
  readonly onReady?: (ready: ReadyFrame) => number | undefined;
  /** Called once the leaves are known (before any chunk is accepted); may throw to abort. */
  readonly onResolved: (leaves: readonly LeafRange[]) => Promise<void>;
  /** A verified chunk, in index order; the promise (if any) settles when it is written. */
  readonly onChunk: (leaf: LeafRange, data: Uint8Array) => Promise<void> | void;
  /** Chunks durably handed to the file so far (bounds memory when the disk lags). */
  readonly written: () => number;
  readonly onPaid?: (increase: bigint) => void;
  /** No frame from the provider for this long while we wait for one: PEER_TIMEOUT. */
  readonly stallTimeoutMs: number;
  readonly signal?: AbortSignal;
}

export interface StreamResult {
  readonly received: number;
  readonly paid: bigint;
  readonly baseline: bigint;
  readonly ready: ReadyFrame;
}

/**
 * Most chunks we let sit in the write queue: beyond it we stop paying ahead and stop
 * reading the socket (a free file, or a provider sending what was not paid, cannot make us
 * buffer more).
 */
export const MAX_WRITE_LAG = 64;
/** A free download paused on a slow disk reads again once this many chunks (1 MiB) are written. */
const RESUME_AFTER_WRITTEN = 4;

/**
 * Largest honest interior block we keep (bytes). Sluice/kubo nodes of 174 links are ≤ ~11 KiB;
 * the total kept is capped at this times the file's largest honest block count.
 */
export const MAX_HONEST_INTERIOR_BYTES = 12_288;

/**
 * Run one session to the end of the file.
 * @throws SluiceError CHUNK_HASH_MISMATCH (wrong bytes or blocks), PEER_TIMEOUT (stall),
 *   PEER_DISCONNECTED (connection lost: retryable), ABORTED, PRICE_TOO_HIGH, or the provider's error code
 */
export function streamFile(init: StreamInit): Promise<StreamResult> {
  return new Promise<StreamResult>((resolvePromise, rejectPromise) => {
    const ws = new WebSocket(init.wsUrl, { maxPayload: MAX_FRAME_BYTES, perMessageDeflate: false, handshakeTimeout: init.stallTimeoutMs });
    ws.binaryType = 'nodebuffer';
    let done = false;
    let phase: 'ready' | 'blocks' | 'resolving' | 'chunks' = 'ready';
    let ready: ReadyFrame | undefined;
    // Interior blocks: each must be linked from the root or from a block already verified
    // (they come parents first), is verified as it arrives, and only then kept.
    const blocks = new Map<string, Uint8Array>();
    const expected = new Set<string>([init.root.toString()]);
    let blockBytes = 0;
    let maxBlockBytes = 0;
    let blocksLeft = 0;
    let window = init.window;
    let leaves: readonly LeafRange[] = [];
    let received = 0;
    let total = 0;
    let paid = init.paidBefore;
    // Highest amount the provider may hold from us: what we signed before, or sent since.
    let sent = init.paidBefore;
    let vouchersSent = 0;
    let acks = 0;
    let paused = false;
    let paidThisSession = 0n;
    let baseline = 0n;
    let stallTimer: NodeJS.Timeout | undefined;
    let queue: Promise<void> = Promise.resolve();
    let queued = 0;
    let payChain: Promise<void> = Promise.resolve();

    const finish = (err?: unknown, sendError = false): void => {
      if (done) return;
      done = true;
      clearTimeout(stallTimer);
      init.signal?.removeEventListener('abort', onAbort);
      // a paused socket would not read the provider's close frame (ws then waits 30 s)
      if (paused) ws.resume();
      if (err === undefined) {
        ws.close(1000, 'done');
        resolvePromise({ received, paid: paidThisSession, baseline, ready: ready as ReadyFrame });
        return;
      }
      try {
        if (sendError && ws.readyState === WebSocket.OPEN) {
          const f = errorFrameFor(err);
          ws.send(encodeFrame(f));
          ws.close(f.wireCode, closeReasonFor(err));
        } else if (ws.readyState === WebSocket.OPEN) {
          ws.close(1000, 'cancelled');
        } else {
          ws.terminate();
        }
      } catch {
        ws.terminate();
      }
      setTimeout(() => ws.terminate(), 1_000).unref();
      rejectPromise(err);
    };
    const onAbort = (): void => finish(new SluiceError('ABORTED', 'download cancelled', { cause: init.signal?.reason }));
    if (init.signal?.aborted === true) return onAbort();
    init.signal?.addEventListener('abort', onAbort, { once: true });

    // Re-armed on progress only (READY, a new BLOCK, the next CHUNK; a resumed read): an ACK or a
    // repeated frame does not keep a session alive.
    const armStall = (): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => {
        finish(new SluiceError('PEER_TIMEOUT', `provider stalled: nothing received for ${Math.round(init.stallTimeoutMs / 1000)} s`, { details: { chunk: init.start + received } }), true);
      }, init.stallTimeoutMs);
      stallTimer.unref();
    };

    const send = (frame: Uint8Array): void => {
      if (!done && ws.readyState === WebSocket.OPEN) ws.send(frame);
    };

    const sendVoucher = (v: Voucher): void => {
      if (done || ws.readyState !== WebSocket.OPEN) return;
      vouchersSent++;
      if (v.amount > sent) sent = v.amount;
      ws.send(encodeFrame({ type: 'voucher', voucher: v }));
    };

    /** Exclusive end of the chunks the provider may send: every chunk when free, else what our vouchers pay for. */
    const paidEndIndex = (): number => {
      const price = ready?.pricePerChunk ?? 0n;
      if (price === 0n) return init.start + total;
      const n = (sent - baseline) / price;
      return init.start + (n > BigInt(total) ? total : Number(n));
    };

    // A free file: read the socket only while the write queue is within its bound. (A paid one
    // needs no pause: payment is held back while the queue is long, and chunks past what we paid
    // are refused, so at most MAX_WRITE_LAG + window chunks wait; pausing there cost ~10 % of
    // throughput at the default window, `npm run bench:stream`.)
    const backlog = (): number => init.start + received - init.written();
    const pauseIfBacklogged = (): void => {
      if (!paused && !done && ready?.pricePerChunk === 0n && backlog() > MAX_WRITE_LAG) {
        paused = true;
        ws.pause();
        clearTimeout(stallTimer); // our disk is slow, not the provider
      }
    };
    // Read again as soon as a few chunks are written, not after half the backlog: while paused we
    // read nothing, and a provider cuts a client that reads nothing for its slow-reader timeout
    // (30 s by default), which at MAX_WRITE_LAG / 2 chunks was any disk under ~280 KB/s.
    const resumeIfCaughtUp = (): void => {
      if (paused && !done && backlog() <= MAX_WRITE_LAG - RESUME_AFTER_WRITTEN) {
        paused = false;
        ws.resume();
        armStall();
      }
    };

    const maybePay = (): void => {
      if (ready === undefined || ready.pricePerChunk === 0n || done) return;
      const price = ready.pricePerChunk;
      const allowed = Math.min(received, init.written() - init.start + MAX_WRITE_LAG);
      const upTo = Math.min(total, allowed + window);
      const target = baseline + BigInt(upTo) * price;
      if (target <= paid) return;
      if (target - paid < BigInt(init.payStep) * price && upTo !== total) return;
      const increase = target - paid;
      paid = target;
      paidThisSession += increase;
      payChain = payChain
        .then(() => init.channels.pay(init.channelId, increase))
        .then((v) => {
          init.onPaid?.(increase);
          sendVoucher(v);
        })
        .catch((e: unknown) => finish(e, true));
    };

    const onReady = (f: ReadyFrame): void => {
      if (f.start !== init.start || f.end !== init.chunkCount || f.chunkCount !== init.chunkCount || f.fileSize !== init.size) {
        throw new SluiceError('DECODE_FAILED', 'provider READY disagrees with the file metadata');
      }
      if (f.pricePerChunk > init.pricePerChunk) throw new SluiceError('PRICE_TOO_HIGH', 'provider asks more per chunk than its metadata announced');
      if (f.baseline > init.paidBefore) throw new SluiceError('INVALID_ARGUMENT', 'provider claims more was consumed on the channel than we ever paid');
      const most = maxInteriorBlocks(init.chunkCount);
      if (f.interiorBlocks > most) throw new SluiceError('DECODE_FAILED', `provider announces ${f.interiorBlocks} interior blocks; a file of ${init.chunkCount} chunk(s) has at most ${most}`);
      const w = init.onReady?.(f) ?? init.window;
      if (!Number.isSafeInteger(w) || w < 1 || w > init.window) throw new SluiceError('INTERNAL', 'bad session window');
      window = w;
      ready = f;
      baseline = f.baseline;
      total = f.end - f.start;
      blocksLeft = f.interiorBlocks;
      maxBlockBytes = most * MAX_HONEST_INTERIOR_BYTES;
      phase = blocksLeft === 0 ? 'resolving' : 'blocks';
    };

    const resolveLeaves = async (): Promise<void> => {
      const r = resolveFile(init.root, (c) => blocks.get(c.toString()), { size: init.size, maxChunks: init.chunkCount });
      if (!r.complete) throw new SluiceError('CHUNK_HASH_MISMATCH', 'provider sent interior blocks that do not describe the file');
      if (r.leaves.length !== init.chunkCount || r.size !== init.size) throw new SluiceError('CHUNK_HASH_MISMATCH', 'the file DAG disagrees with the metadata');
      leaves = r.leaves;
      blocks.clear();
      expected.clear();
      await init.onResolved(leaves);
      phase = 'chunks';
      // Resend our last voucher if the provider may not have it (no new money), then pay ahead.
      const last = init.channels.lastVoucher(init.channelId);
      if (last !== undefined && last.amount > baseline && last.amount === init.paidBefore) sendVoucher(last);
      maybePay();
    };

    /** A BLOCK: linked from what we hold, verified, bounded; only then kept. */
    const onBlock = (cid: CID, data: Uint8Array): void => {
      const key = cid.toString();
      if (!expected.has(key) || blocks.has(key)) throw new SluiceError('CHUNK_HASH_MISMATCH', 'provider sent an interior block the file\'s DAG does not link to (or twice)', { details: { cid: key } });
      const children = interiorChildren(cid, data);
      blockBytes += data.length;
      if (blockBytes > maxBlockBytes) throw new SluiceError('DECODE_FAILED', 'provider\'s interior blocks are larger than the file\'s DAG can be');
      blocks.set(key, Uint8Array.from(data));
      for (const c of children) if (!blocks.has(c.toString())) expected.add(c.toString());
      armStall();
    };

    const handle = async (f: ProviderFrame): Promise<void> => {
      if (f.type === 'error') {
        const e = errorFromFrame(f);
        throw new SluiceError(e.code, f.message === '' ? 'provider reported an error' : `provider: ${peerText(f.message)}`, { details: e.details });
      }
      switch (phase) {
        case 'ready':
          if (f.type !== 'ready') throw new SluiceError('WIRE_UNEXPECTED_FRAME', `expected READY, got ${f.type.toUpperCase()}`);
          onReady(f);
          armStall();
          if ((phase as string) === 'resolving') await resolveLeaves();
          return;
        case 'blocks':
          if (f.type !== 'block') throw new SluiceError('WIRE_UNEXPECTED_FRAME', `expected BLOCK, got ${f.type.toUpperCase()}`);
          onBlock(f.cid, f.data);
          if (--blocksLeft === 0) {
            phase = 'resolving';
            await resolveLeaves();
          }
          return;
        case 'resolving':
          throw new SluiceError('WIRE_UNEXPECTED_FRAME', 'frame while resolving the DAG');
        case 'chunks': {
          if (f.type === 'ack') {
            // one ACK per voucher: ACKs are no progress and cannot keep a session alive
            if (++acks > vouchersSent) throw new SluiceError('WIRE_UNEXPECTED_FRAME', 'provider sent more ACKs than we sent vouchers');
            if (f.amount > sent) throw new SluiceError('INVALID_ARGUMENT', 'provider acknowledges more than we signed');
            return;
          }
          if (f.type !== 'chunk') throw new SluiceError('WIRE_UNEXPECTED_FRAME', `unexpected ${f.type.toUpperCase()} while streaming`);
          const index = init.start + received;
          if (f.index !== index) throw new SluiceError('WIRE_UNEXPECTED_FRAME', `expected chunk ${index}, got ${f.index}`);
          const leaf = leaves[index];
          if (leaf === undefined) throw new SluiceError('WIRE_UNEXPECTED_FRAME', 'chunk beyond the end of the file');
          if (index >= paidEndIndex()) throw new SluiceError('WIRE_UNEXPECTED_FRAME', `chunk ${index} was not paid for (paid up to ${paidEndIndex()})`);
          verifyLeaf(leaf, f.data);
          received++;
          armStall();
          const written = init.onChunk(leaf, f.data);
          // Payment and reading may have been held back by the write queue: reconsider once this chunk is on disk.
          if (written !== undefined) {
            pauseIfBacklogged();
            void written.then(() => {
              resumeIfCaughtUp();
              maybePay();
            }, () => undefined);
          }
          if (received === total) {
            await payChain;
            finish();
            return;
          }
          maybePay();
          return;
        }
      }
    };

    ws.on('open', () => {
      armStall();
      send(encodeFrame({ type: 'hello', version: PROTOCOL_VERSION, channelId: init.channelId, root: init.root, start: init.start, end: END_OF_FILE }));
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (done) return;
      if (!isBinary) return finish(new SluiceError('DECODE_FAILED', 'provider sent a text message'), true);
      let frame: ProviderFrame;
      try {
        frame = decodeProviderFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      } catch (e) {
        return finish(e, true);
      }
      if (++queued > init.window + 4096) return finish(new SluiceError('OVERLOADED', 'provider floods frames'), true);
      queue = queue.then(async () => {
        queued--;
        if (done) return;
        try {
          await handle(frame);
        } catch (e) {
          finish(e, !(isSluiceError(e) && e.details['remote'] === true));
        }
      });
    });
    ws.on('close', (code: number, reason: Buffer) => {
      if (done) return;
      // Let frames already queued (e.g. a final ERROR) be handled first.
      void queue.then(() => {
        const known = code >= 4000 && code <= 4999 ? sluiceCodeOfWire(code) : undefined;
        if (known !== undefined) {
          finish(new SluiceError(known, `provider closed the session: ${peerText(reason.toString()) || code}`, { details: { wireCode: code, remote: true } }));
        } else {
          finish(new SluiceError('PEER_DISCONNECTED', `connection to the provider lost (${code})`, { details: { closeCode: code } }));
        }
      });
    });
    ws.on('error', (e) => {
      if (done) return;
      finish(new SluiceError('PEER_DISCONNECTED', `cannot talk to the provider: ${peerText(e.message)}`, { cause: e }));
    });
  });
}
