/**
 * One WebSocket session of the provider (docs/protocol.md, *Flow*): HELLO → READY →
 * free BLOCKs → paid CHUNKs. Invariant: a CHUNK is sent only when the best accepted
 * (and persisted) voucher pays for it and every chunk before it in the session, and only once
 * the session has proven the payer's key with a voucher the payer signed (docs/protocol.md,
 * *Flow* 2a): before that, credit carried on the channel is locked and no other session on
 * the channel is replaced.
 *
 * Vouchers are coalesced: while one is being checked/persisted, only the newest queued
 * one is kept (they are cumulative), so a flood of vouchers costs one check per round.
 * Sending respects `ws.bufferedAmount` (bounded memory per connection); idle clients,
 * clients that do not read, and clients that send too many frames are closed with a
 * code and counted.
 */
import type { WebSocket } from 'ws';
import {
  type Address,
  type ChannelId,
  SluiceError,
  type Voucher,
  isSluiceError,
  sameAddress,
  verifyVoucher,
} from '@sluice/channel-core';
import { END_OF_FILE } from '../wire/constants.ts';
import { WIRE_ERROR_CODES, closeReasonFor, errorFrameFor } from '../wire/codes.ts';
import { type ClientFrame, decodeClientFrame, encodeFrame } from '../wire/frames.ts';
import { type SessionTerms, amountFor, paidEnd } from '../wire/flow.ts';
import type { PayeeChannels } from './channels.ts';
import type { ServedFile, ServedFiles } from './files.ts';
import type { ProviderMetrics } from './metrics.ts';
import type { UsageStore } from './usage-store.ts';

/** Minimal structured logger (pino-compatible). */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}

export interface SessionLimits {
  /** Close a connection that has not sent HELLO within this long (ms). */
  readonly helloTimeoutMs: number;
  /**
   * Close a session that makes no progress for this long while nothing paid is left to send (ms).
   * Progress: a voucher accepted (or proving the payer's key) or a chunk written; other frames
   * (replays, zero amounts, pings) do not count.
   */
  readonly idleTimeoutMs: number;
  /** Close a session whose client reads nothing for this long while we have data queued (ms). */
  readonly slowReaderTimeoutMs: number;
  /** Stop queuing chunks while `ws.bufferedAmount` is above this (bytes). */
  readonly maxBufferedBytes: number;
  /** Sustained frames per second allowed from a client. */
  readonly maxFramesPerSecond: number;
  /** Burst of frames allowed above the sustained rate. */
  readonly frameBurst: number;
}

/** How long a HELLO on a channel still being funded here waits for it (ms). */
const FUNDING_GRACE_MS = 2_000;

export const DEFAULT_LIMITS: SessionLimits = {
  helloTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  slowReaderTimeoutMs: 30_000,
  maxBufferedBytes: 16 * 262_144,
  maxFramesPerSecond: 20_000,
  frameBurst: 4_096,
};

export interface SessionContext {
  readonly channels: PayeeChannels;
  readonly files: ServedFiles;
  readonly usage: UsageStore;
  readonly metrics: ProviderMetrics;
  readonly logger: Logger;
  readonly pricePerChunk: bigint;
  readonly limits: SessionLimits;
  readonly sessions: SessionRegistry;
  /** Called after a voucher is accepted (earnings changed). */
  readonly onEarnings?: () => void;
}

/** Snapshot of a session for the admin API. */
export interface SessionInfo {
  readonly id: number;
  readonly remote: string;
  readonly channelId: ChannelId | undefined;
  readonly root: string | undefined;
  readonly start: number;
  readonly end: number;
  readonly next: number;
  readonly paidEnd: number;
  readonly best: string;
  readonly openedAt: string;
}


/** Close codes we know (WebSocket's own, ours): a client picks the rest, so they share one label. */
const KNOWN_CLOSE_CODES = new Set<number>([1000, 1001, 1002, 1003, 1005, 1006, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 1015, ...Object.values(WIRE_ERROR_CODES)]);

/** The metric label of a close code: itself when known, else `other` (bounded label values). */
export function closeCodeLabel(code: number): string {
  return KNOWN_CLOSE_CODES.has(code) ? String(code) : 'other';
}
/**
 * Open sessions, and per channel the one serving it: at most one per channel, since a session
 * that proves the payer's key replaces the older one. Sessions that have not proven it are only in `all`.
 */
export class SessionRegistry {
  readonly all = new Set<ProviderSession>();
  readonly byChannel = new Map<ChannelId, ProviderSession>();
  /** Most sessions past HELLO at a time (the capacity); connections waiting for HELLO do not count. */
  readonly maxSessions: number;
  /** Sessions past HELLO. */
  started = 0;

  constructor(options: { maxSessions?: number } = {}) {
    this.maxSessions = options.maxSessions ?? Number.POSITIVE_INFINITY;
  }

  /** Connections that have not sent HELLO yet. */
  get pending(): number {
    return this.all.size - this.started;
  }
  list(): SessionInfo[] {
    return [...this.all].map((s) => s.info());
  }
}

const USAGE_FLUSH_EVERY = 8;
/** Chunks read from the store ahead of the socket (only paid ones). */
const READ_AHEAD = 8;
let nextId = 1;

export class ProviderSession {
  readonly id = nextId++;
  readonly #ws: WebSocket;
  readonly #ctx: SessionContext;
  readonly #remote: string;
  readonly #openedAt = new Date();
  #phase: 'hello' | 'starting' | 'serving' | 'closed' = 'hello';
  #channelId: ChannelId | undefined;
  #payer: Address | undefined;
  /** The channel's consumption when READY stated the baseline. */
  #consumedAtHello = 0n;
  /** Whether this session has proven the payer's key (see #prove). */
  #proven = false;
  #file: ServedFile | undefined;
  #terms: SessionTerms = { start: 0, end: 0, pricePerChunk: 0n, baseline: 0n };
  #best = 0n;
  #paidEnd = 0;
  #next = 0;
  #sentSinceFlush = 0;
  #bytesSent = 0;
  #pending: Voucher | undefined;
  readonly #readAhead = new Map<number, Promise<Uint8Array>>();
  #processing = false;
  #pumping = false;
  #waitingDrain = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #helloTimer: NodeJS.Timeout | undefined;
  /** Counted in `sessions.started` (past HELLO). */
  #started = false;
  #slowTimer: NodeJS.Timeout | undefined;
  #tokens: number;
  #lastRefill = performance.now();
  #lastProgress = performance.now();

  constructor(ws: WebSocket, remote: string, ctx: SessionContext) {
    this.#ws = ws;
    this.#ctx = ctx;
    this.#remote = remote;
    this.#tokens = ctx.limits.frameBurst;
    ctx.sessions.all.add(this);
    ctx.metrics.openSessions.inc();
    ws.binaryType = 'nodebuffer';
    ws.on('message', (data, isBinary) => this.#onMessage(data as Buffer, isBinary));
    ws.on('ping', (data: Buffer) => this.#onPing(data));
    ws.on('error', (e) => this.#onWsError(e));
    ws.on('close', (code) => this.#cleanup(code));
    this.#helloTimer = setTimeout(() => this.fail(new SluiceError('PEER_TIMEOUT', 'no HELLO in time')), ctx.limits.helloTimeoutMs);
    this.#helloTimer.unref();
  }

  info(): SessionInfo {
    return {
      id: this.id,
      remote: this.#remote,
      channelId: this.#channelId,
      root: this.#file?.record.cid,
      start: this.#terms.start,
      end: this.#terms.end,
      next: this.#next,
      paidEnd: this.#paidEnd,
      best: this.#best.toString(),
      openedAt: this.#openedAt.toISOString(),
    };
  }

  /** End the session with an ERROR frame and the matching close code. */
  fail(e: unknown): void {
    if (this.#phase === 'closed') return;
    const f = errorFrameFor(e);
    this.#ctx.metrics.protocolErrors.inc({ reason: f.code });
    this.#ctx.logger.info({ session: this.id, peer: this.#remote, channelId: this.#channelId, code: f.code, err: isSluiceError(e) ? e.message : String(e) }, 'session error');
    try {
      this.#ws.send(encodeFrame(f));
      this.#ws.close(f.wireCode, closeReasonFor(e));
    } catch {
      this.#ws.terminate();
    }
    this.#cleanup(f.wireCode);
    // A client that does not read would keep the close handshake pending: cut it.
    setTimeout(() => this.#ws.terminate(), 2_000).unref();
  }

  /** Close without error (server shutdown). */
  shutdown(): void {
    if (this.#phase === 'closed') return;
    this.#ws.close(1001, 'server shutting down');
    this.#cleanup(1001);
  }

  #cleanup(code: number): void {
    if (this.#phase === 'closed') return;
    this.#phase = 'closed';
    this.#readAhead.clear();
    clearTimeout(this.#helloTimer);
    clearTimeout(this.#idleTimer);
    clearTimeout(this.#slowTimer);
    this.#flushUsage();
    this.#ctx.sessions.all.delete(this);
    if (this.#started) this.#ctx.sessions.started--;
    if (this.#channelId !== undefined && this.#ctx.sessions.byChannel.get(this.#channelId) === this) this.#ctx.sessions.byChannel.delete(this.#channelId);
    this.#ctx.metrics.openSessions.dec();
    this.#ctx.metrics.sessionsClosed.inc({ code: closeCodeLabel(code) });
  }

  #onWsError(e: Error & { code?: string }): void {
    // ws raises these before our decoder sees the frame (e.g. a message above maxPayload: close 1009).
    const reason = e.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? 'FRAME_TOO_LARGE' : 'DECODE_FAILED';
    this.#ctx.metrics.protocolErrors.inc({ reason });
    this.#ctx.logger.info({ session: this.id, peer: this.#remote, code: reason, err: e.message }, 'websocket error');
  }

  /** Re-read after an await (TypeScript keeps the narrowing of `#phase` across it). */
  #isClosed(): boolean {
    return this.#phase === 'closed';
  }

  #armIdle(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#phase === 'closed') return;
      // Not idle while we still have paid chunks to push (the slow-reader timer covers that).
      if (this.#phase === 'serving' && this.#next < this.#paidEnd) return this.#armIdle();
      this.fail(new SluiceError('PEER_TIMEOUT', 'session idle for too long'));
    }, this.#ctx.limits.idleTimeoutMs);
    this.#idleTimer.unref();
  }

  #onMessage(data: Buffer, isBinary: boolean): void {
    if (this.#phase === 'closed') return;
    if (!this.#takeToken()) return this.fail(new SluiceError('OVERLOADED', 'too many frames'));
    if (!isBinary) return this.fail(new SluiceError('DECODE_FAILED', 'text messages are not part of the protocol'));
    let frame: ClientFrame;
    try {
      frame = decodeClientFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch (e) {
      return this.fail(e);
    }
    switch (frame.type) {
      case 'hello':
        if (this.#phase !== 'hello') return this.fail(new SluiceError('WIRE_UNEXPECTED_FRAME', 'HELLO was already received'));
        clearTimeout(this.#helloTimer);
        // Capacity counts sessions past HELLO: connections that never say it hold no slot.
        if (this.#ctx.sessions.started >= this.#ctx.sessions.maxSessions) return this.fail(new SluiceError('OVERLOADED', 'provider at capacity; retry later'));
        this.#ctx.sessions.started++;
        this.#started = true;
        this.#armIdle();
        this.#phase = 'starting';
        this.#start(frame).catch((e: unknown) => this.fail(e));
        return;
      case 'voucher':
        if (this.#phase === 'hello') return this.fail(new SluiceError('WIRE_UNEXPECTED_FRAME', 'VOUCHER before HELLO'));
        return this.#queueVoucher(frame.voucher);
      case 'error':
        this.#ctx.logger.info({ session: this.id, peer: this.#remote, code: frame.code, message: frame.message }, 'client reported an error');
        this.#ws.close(frame.wireCode, 'peer error');
        this.#cleanup(frame.wireCode);
        return;
    }
  }

  /** Flood control: a token bucket over the client's frames (pings included). False when it is empty. */
  #takeToken(): boolean {
    const now = performance.now();
    const { maxFramesPerSecond, frameBurst } = this.#ctx.limits;
    this.#tokens = Math.min(frameBurst, this.#tokens + ((now - this.#lastRefill) * maxFramesPerSecond) / 1000);
    this.#lastRefill = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /**
   * The server runs ws with `autoPong: false`: its automatic pongs are buffered without limit for
   * a client that pings and does not read. We answer while the buffer has room and drop the ping
   * otherwise (a pong is best effort; a download keeps the buffer near its cap, so closing there
   * would cut honest keep-alive pings). Pings are charged to the token bucket like frames.
   */
  #onPing(data: Buffer): void {
    if (this.#phase === 'closed') return;
    if (!this.#takeToken()) return this.fail(new SluiceError('OVERLOADED', 'too many frames'));
    if (this.#ws.bufferedAmount >= this.#ctx.limits.maxBufferedBytes) return;
    this.#ws.pong(data, false, (err) => this.#onWritten(err));
  }

  async #start(hello: Extract<ClientFrame, { type: 'hello' }>): Promise<void> {
    const ctx = this.#ctx;
    // The channel first: a HELLO on a channel that does not pay us costs no store read or hashing.
    const channelId = hello.channelId.toLowerCase() as ChannelId;
    let ch = await ctx.channels.getVirtualChannel(channelId);
    if (this.#isClosed()) return;
    if (ch === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'unknown channel');
    if (!sameAddress(ch.payee, ctx.channels.address)) throw new SluiceError('VOUCHER_WRONG_PAYEE', 'this provider is not the payee of the channel');
    // The payer's side of the virtual fund can complete a moment before ours (the last postfund
    // signature still on its way to us): a HELLO that fast waits for it, briefly.
    const grace = Math.min(FUNDING_GRACE_MS, ctx.limits.idleTimeoutMs / 2); // an answer before the idle timer's
    for (const until = performance.now() + grace; ch.status === 'proposed' && performance.now() < until; ) {
      await new Promise((r) => setTimeout(r, 25));
      if (this.#isClosed()) return;
      ch = (await ctx.channels.getVirtualChannel(channelId)) ?? ch;
    }
    if (this.#isClosed()) return;
    if (ch.status === 'proposed') throw new SluiceError('CHANNEL_NOT_FUNDED', 'channel is not funded yet');
    if (ch.status !== 'funded') throw new SluiceError('CHANNEL_CLOSING', 'channel is closing');
    const file = await ctx.files.get(hello.root);
    if (this.#isClosed()) return;
    if (file === undefined) throw new SluiceError('CONTENT_NOT_FOUND', 'this file is not served here');
    const chunkCount = file.leaves.length;
    const start = hello.start;
    const end = hello.end === END_OF_FILE ? chunkCount : hello.end;
    if (start >= chunkCount || end > chunkCount || start >= end) {
      throw new SluiceError('CHUNK_RANGE_INVALID', `chunk range must be within [0, ${chunkCount})`);
    }
    // A session still serving the channel records what it has sent so far (it is not replaced yet).
    ctx.sessions.byChannel.get(channelId)?.recordUsage();
    const consumed = ctx.usage.get(channelId)?.consumed ?? 0n;
    const baseline = consumed < ch.paid ? consumed : ch.paid;
    this.#channelId = channelId;
    this.#payer = ch.payer;
    this.#consumedAtHello = consumed;
    this.#file = file;
    this.#terms = { start, end, pricePerChunk: ctx.pricePerChunk, baseline };
    // Knowing a channel id proves nothing: until the payer's key is proven in this session (a
    // voucher of theirs, see #prove) the credit carried on the channel stays locked and an older
    // session on it is left alone. A free session has nothing to unlock and replaces no session.
    this.#best = baseline;
    if (ctx.pricePerChunk === 0n) {
      this.#proven = true;
      if (!ctx.sessions.byChannel.has(channelId)) ctx.sessions.byChannel.set(channelId, this);
    }
    this.#next = start;
    this.#paidEnd = paidEnd(this.#terms, this.#best);
    this.#send(encodeFrame({
      type: 'ready',
      start,
      end,
      chunkCount,
      interiorBlocks: file.interior.length,
      fileSize: file.record.size,
      pricePerChunk: ctx.pricePerChunk,
      baseline,
    }));
    for (const b of file.interior) {
      this.#send(encodeFrame({ type: 'block', cid: b.cid, data: b.bytes }));
      ctx.metrics.blocksServed.inc();
    }
    this.#phase = 'serving';
    ctx.logger.debug({ session: this.id, peer: this.#remote, channelId, root: file.record.cid, start, end, baseline: baseline.toString() }, 'session ready');
    void this.#pump();
    void this.#drainVouchers();
  }

  #queueVoucher(v: Voucher): void {
    if (this.#channelId !== undefined && v.channelId.toLowerCase() !== this.#channelId) {
      this.#ctx.metrics.vouchersRejected.inc({ reason: 'VOUCHER_WRONG_CHANNEL' });
      return this.fail(new SluiceError('VOUCHER_WRONG_CHANNEL', 'voucher is for another channel'));
    }
    if (this.#pending !== undefined) {
      if (v.amount >= this.#pending.amount) {
        this.#ctx.metrics.vouchersCoalesced.inc();
        this.#pending = v;
      } else {
        this.#ctx.metrics.vouchersIgnored.inc({ reason: 'stale' });
      }
    } else {
      this.#pending = v;
    }
    void this.#drainVouchers();
  }

  async #drainVouchers(): Promise<void> {
    if (this.#processing || this.#phase !== 'serving') return;
    this.#processing = true;
    try {
      while (this.#pending !== undefined && this.#phase === 'serving') {
        const v = this.#pending;
        this.#pending = undefined;
        await this.#handleVoucher(v);
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.#processing = false;
    }
  }

  async #handleVoucher(v: Voucher): Promise<void> {
    const ctx = this.#ctx;
    if (v.channelId.toLowerCase() !== this.#channelId) {
      ctx.metrics.vouchersRejected.inc({ reason: 'VOUCHER_WRONG_CHANNEL' });
      return this.fail(new SluiceError('VOUCHER_WRONG_CHANNEL', 'voucher is for another channel'));
    }
    if (this.#proven && v.amount <= this.#best) {
      // Replayed or lower cumulative amount: a reported no-op — for the payer's own vouchers only.
      if (!this.#signedByPayer(v)) return;
      ctx.metrics.vouchersIgnored.inc({ reason: v.amount === this.#best ? 'duplicate' : 'stale' });
      this.#sendAck();
      return;
    }
    const max = amountFor(this.#terms, this.#terms.end);
    if (this.#terms.pricePerChunk > 0n && v.amount > max) {
      // Before the proof our best is the baseline: a resend of the channel's best voucher may pay
      // past this range (credit left by another file) and is still a replay, not a new payment.
      const replay = !this.#proven && v.amount <= ((await ctx.channels.getVirtualChannel(v.channelId))?.paid ?? 0n);
      if (this.#isClosed()) return;
      if (!replay) {
        ctx.metrics.vouchersRejected.inc({ reason: 'INVALID_ARGUMENT' });
        return this.fail(new SluiceError('INVALID_ARGUMENT', 'voucher pays past the requested range'));
      }
    }
    const r = await ctx.channels.receiveVoucher(v, { price: 1n });
    if (this.#phase !== 'serving') return;
    switch (r.kind) {
      case 'accepted':
        ctx.metrics.vouchersAccepted.inc();
        // Accepted means signed by the payer: the key is proven.
        if (!this.#proven && !this.#prove()) return;
        this.#armIdle();
        this.#best = r.total;
        this.#paidEnd = paidEnd(this.#terms, this.#best);
        this.#flushUsage();
        this.#sendAck();
        ctx.onEarnings?.();
        void this.#pump();
        return;
      case 'duplicate':
      case 'stale':
        // The channel layer reports replays without checking who signed them.
        if (!this.#signedByPayer(v)) return;
        ctx.metrics.vouchersIgnored.inc({ reason: r.kind });
        // A resend of the channel's best voucher proves the key (an honest client resends it
        // first on resume); a lower one might be an old voucher seen elsewhere, so it does not.
        if (!this.#proven) {
          if (r.kind === 'stale' || !this.#prove()) {
            if (!this.#isClosed()) this.#sendAck();
            return;
          }
          this.#armIdle();
        }
        if (r.total > this.#best) {
          this.#best = r.total;
          this.#paidEnd = paidEnd(this.#terms, this.#best);
          void this.#pump();
        }
        this.#sendAck();
        return;
      case 'rejected':
        ctx.metrics.vouchersRejected.inc({ reason: r.error.code });
        return this.fail(r.error);
    }
  }

  #sendAck(): void {
    this.#send(encodeFrame({ type: 'ack', paidEnd: this.#paidEnd, amount: this.#best }));
  }

  /** Check a voucher the channel layer did not (a replay); fails the session when the payer did not sign it. */
  #signedByPayer(v: Voucher): boolean {
    if (this.#payer !== undefined && verifyVoucher(v, this.#payer)) return true;
    this.#ctx.metrics.vouchersRejected.inc({ reason: 'VOUCHER_BAD_SIGNATURE' });
    this.fail(new SluiceError('VOUCHER_BAD_SIGNATURE', 'voucher is not signed by the payer'));
    return false;
  }

  /**
   * The payer's key is proven in this session (a voucher of theirs was accepted, or the
   * channel's best voucher was resent): this session now replaces an older one on the channel
   * (finalising its consumption), and the caller unlocks the channel's credit.
   * @returns false when this session had to end instead
   */
  #prove(): boolean {
    const ctx = this.#ctx;
    const channelId = this.#channelId;
    if (channelId === undefined) return false;
    this.#proven = true;
    const old = ctx.sessions.byChannel.get(channelId);
    if (old !== undefined && old !== this) old.fail(new SluiceError('ABORTED', 'superseded by a newer session on the same channel'));
    ctx.sessions.byChannel.set(channelId, this);
    // The older session may have sent chunks since our READY stated the baseline: serving against
    // that stale baseline would spend the same credit twice. Rare (the old session must still be
    // sending); the client retries OVERLOADED and then gets the right baseline.
    if ((ctx.usage.get(channelId)?.consumed ?? 0n) !== this.#consumedAtHello) {
      this.fail(new SluiceError('OVERLOADED', 'the channel was still in use by another session; retry'));
      return false;
    }
    return true;
  }

  /**
   * Queue a frame. Every frame gets a write callback: the pump, stopped while the socket's buffer
   * is full, restarts from whichever write empties it (READY and the BLOCKs can fill it before
   * any chunk is sent, e.g. when a resume is paid entirely by credit).
   */
  #send(frame: Uint8Array, chunk = false): void {
    this.#ws.send(frame, { binary: true }, (err) => this.#onWritten(err, chunk));
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    const ctx = this.#ctx;
    try {
      while (this.#phase === 'serving' && this.#next < this.#paidEnd) {
        if (this.#ws.bufferedAmount > ctx.limits.maxBufferedBytes) {
          this.#waitForDrain();
          return;
        }
        this.#waitingDrain = false;
        const file = this.#file;
        if (file === undefined) return;
        const index = this.#next;
        const leaf = file.leaves[index];
        if (leaf === undefined) throw new SluiceError('INTERNAL', 'chunk index out of range');
        // Read ahead (bounded) so the disk works while the socket sends.
        for (let i = index; i < Math.min(this.#paidEnd, index + READ_AHEAD); i++) {
          if (this.#readAhead.has(i)) continue;
          const l = file.leaves[i];
          if (l === undefined) break;
          const p = ctx.files.readChunkFrame(l);
          p.catch(() => undefined);
          this.#readAhead.set(i, p);
        }
        const pending = this.#readAhead.get(index) ?? ctx.files.readChunkFrame(leaf);
        this.#readAhead.delete(index);
        const frame = await pending;
        // Re-check after the await: the session may have closed or been superseded.
        if (this.#phase !== 'serving' || this.#next !== index) return;
        if (index >= paidEnd(this.#terms, this.#best)) throw new SluiceError('INTERNAL', 'refusing to send an unpaid chunk');
        this.#next = index + 1;
        this.#send(frame, true);
        this.#bytesSent += leaf.length;
        ctx.metrics.chunksServed.inc();
        ctx.metrics.bytesServed.inc(leaf.length);
        if (++this.#sentSinceFlush >= USAGE_FLUSH_EVERY) this.#flushUsage();
      }
    } catch (e) {
      this.fail(e);
    } finally {
      this.#pumping = false;
    }
    if (this.#phase === 'serving' && this.#next >= this.#terms.end) this.#flushUsage();
  }

  #waitForDrain(): void {
    this.#waitingDrain = true;
    if (this.#slowTimer !== undefined) return;
    const check = (): void => {
      this.#slowTimer = undefined;
      if (!this.#waitingDrain || this.#phase !== 'serving') return;
      const idle = performance.now() - this.#lastProgress;
      if (idle >= this.#ctx.limits.slowReaderTimeoutMs) return this.fail(new SluiceError('PEER_TIMEOUT', 'client is not reading'));
      this.#slowTimer = setTimeout(check, this.#ctx.limits.slowReaderTimeoutMs - idle);
      this.#slowTimer.unref();
    };
    this.#slowTimer = setTimeout(check, this.#ctx.limits.slowReaderTimeoutMs);
    this.#slowTimer.unref();
  }

  #onWritten(err?: Error | null, chunk = false): void {
    // Node calls write callbacks with `null` on success.
    if ((err !== undefined && err !== null) || this.#phase !== 'serving') return;
    this.#lastProgress = performance.now();
    if (chunk) this.#armIdle(); // progress: the idle time counts from the last chunk written
    if (this.#waitingDrain && this.#ws.bufferedAmount <= this.#ctx.limits.maxBufferedBytes / 2) {
      this.#waitingDrain = false;
      void this.#pump();
    }
  }

  /** Record what this session has consumed on its channel so far (usage store). */
  recordUsage(): void {
    if (this.#phase !== 'closed') this.#flushUsage();
  }

  /** Record what this channel has consumed (chunks sent × price) so the next session's baseline is right. */
  #flushUsage(): void {
    if (this.#channelId === undefined || this.#file === undefined) return;
    const sent = this.#next - this.#terms.start;
    if (sent === 0 && this.#sentSinceFlush === 0) return;
    const prev = this.#ctx.usage.get(this.#channelId);
    const consumed = this.#terms.baseline + BigInt(sent) * this.#terms.pricePerChunk;
    try {
      this.#ctx.usage.put({
        channelId: this.#channelId,
        consumed: prev !== undefined && prev.consumed > consumed ? prev.consumed : consumed,
        chunks: (prev?.chunks ?? 0) + this.#sentSinceFlush,
        bytes: (prev?.bytes ?? 0) + this.#bytesSent,
      });
      this.#sentSinceFlush = 0;
      this.#bytesSent = 0;
    } catch (e) {
      this.#ctx.logger.warn({ session: this.id, channelId: this.#channelId, err: String(e) }, 'usage store write failed');
    }
  }
}
