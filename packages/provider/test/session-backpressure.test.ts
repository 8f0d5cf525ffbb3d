/**
 * Unit test of the session's backpressure over a fake socket whose buffer and write callbacks
 * the test controls (a real socket drains too fast to reproduce this on loopback): when the
 * frames queued before any chunk (READY, BLOCKs, ACK) fill the buffer, the pump must restart
 * once the client has read them — even when no voucher will come to restart it, as when a
 * resume is paid entirely by credit and the client's only voucher is the resend.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { signVoucher } from '@sluice/channel-core';
import { DEFAULT_LIMITS, ProviderSession, ServedFiles, SessionRegistry, createProviderMetrics } from '../src/service/index.ts';
import { type ProviderFrame, decodeProviderFrame, encodeFrame } from '../src/wire/index.ts';
import { parseCid } from '../src/content/index.ts';
import { ALICE_KEY, type Fixture, addFile, openChannel, startFixture } from './service-helpers.ts';

const PRICE = 1000n;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The parts of a ws WebSocket the session uses; written bytes stay buffered until `read()`. */
export class FakeSocket extends EventEmitter {
  binaryType = 'nodebuffer';
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  closeCode: number | undefined;
  readonly #queue: { data: Uint8Array; size: number; cb: ((err?: Error | null) => void) | undefined }[] = [];
  readonly delivered: ProviderFrame[] = [];
  readonly pongs: Uint8Array[] = [];

  send(data: Uint8Array, _opts: unknown, cb?: (err?: Error | null) => void): void {
    this.bufferedAmount += data.length;
    this.#queue.push({ data, size: data.length, cb });
  }
  pong(data: Uint8Array, _mask?: boolean, cb?: (err?: Error | null) => void): void {
    this.bufferedAmount += data.length + 2;
    this.#queue.push({ data: new Uint8Array(0), size: data.length + 2, cb });
    this.pongs.push(data);
  }
  close(code: number): void {
    if (this.closeCode !== undefined) return;
    this.closeCode = code;
    this.readyState = 3;
    this.emit('close', code);
  }
  terminate(): void {
    this.close(1006);
  }
  /** Frames queued and not read yet. */
  queued(): ProviderFrame[] {
    return this.#queue.filter((q) => q.data.length > 0).map((q) => decodeProviderFrame(q.data));
  }
  /** The client reads everything queued so far; write callbacks run in order, as the socket's do. */
  read(): void {
    for (const q of this.#queue.splice(0)) {
      this.bufferedAmount -= q.size;
      if (q.data.length > 0) this.delivered.push(decodeProviderFrame(q.data));
      q.cb?.(null);
    }
  }
  /** A frame from the client. */
  receive(frame: Uint8Array): void {
    this.emit('message', Buffer.from(frame), true);
  }
  chunks(): number[] {
    return this.delivered.flatMap((x) => (x.type === 'chunk' ? [x.index] : []));
  }
}

async function until(pred: () => boolean, what: string, timeoutMs = 3_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

describe('provider session: backpressure (fake socket)', () => {
  let f: Fixture;
  let cid: string; // 3 chunks: READY + one BLOCK
  before(async () => {
    f = await startFixture({ pricePerChunk: PRICE });
    cid = (await addFile(f, 3 * 262_144)).record.cid;
  });
  after(async () => {
    await f.stop();
    await f.cleanup();
  });

  function session(limits: Partial<typeof DEFAULT_LIMITS>): FakeSocket {
    const ws = new FakeSocket();
    new ProviderSession(ws as unknown as WebSocket, 'fake:1', {
      channels: f.channels,
      files: new ServedFiles(f.store),
      usage: f.usage,
      metrics: createProviderMetrics(),
      logger: { info() {}, warn() {}, debug() {} },
      pricePerChunk: PRICE,
      limits: { ...DEFAULT_LIMITS, ...limits },
      sessions: new SessionRegistry(),
    });
    return ws;
  }

  it('a resume paid by credit is served once the client reads READY and the BLOCKs that filled the buffer', async () => {
    const v = await openChannel(f);
    const voucher = signVoucher(v, 3n * PRICE, ALICE_KEY);
    assert.equal((await f.channels.receiveVoucher(voucher, { price: 1n })).kind, 'accepted'); // prepaid earlier, never served
    const ws = session({ maxBufferedBytes: 100 }); // READY (89 B) + BLOCK (> 100 B) fill it
    ws.receive(encodeFrame({ type: 'hello', version: 1, channelId: v, root: parseCid(cid), start: 0, end: 3 }));
    await until(() => ws.queued().some((x) => x.type === 'block'), 'READY and the BLOCK');
    assert.ok(ws.bufferedAmount > 100);
    ws.receive(encodeFrame({ type: 'voucher', voucher })); // the resend: the only voucher this session gets
    await until(() => ws.queued().some((x) => x.type === 'ack'), 'the ACK of the resend');
    const deadline = Date.now() + 2_000;
    while (ws.chunks().length < 3 && Date.now() < deadline) {
      ws.read();
      await sleep(10);
    }
    assert.deepEqual(ws.chunks(), [0, 1, 2], 'the pump restarted when the buffer emptied');
    assert.equal(ws.closeCode, undefined);
  });

  it('pings: answered while the buffer has room, dropped when it is full, charged to the frame budget', async () => {
    const ws = session({ maxBufferedBytes: 1_000, frameBurst: 500, maxFramesPerSecond: 10 });
    const payload = Buffer.alloc(125, 1);
    for (let i = 0; i < 100; i++) ws.emit('ping', payload); // a client that pings and does not read
    assert.ok(ws.pongs.length > 0, 'pings are answered');
    assert.ok(ws.bufferedAmount <= 1_000 + 127, `pongs buffered: ${ws.bufferedAmount} B (cap 1000 B)`);
    ws.read();
    ws.emit('ping', payload);
    assert.equal(ws.pongs.length, 9, 'room again: answered');
    for (let i = 0; i < 500 && ws.closeCode === undefined; i++) ws.emit('ping', payload);
    assert.equal(ws.closeCode, 4302, 'a ping flood is OVERLOADED like a frame flood');
  });
});
