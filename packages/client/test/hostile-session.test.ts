/**
 * Hostile providers against one session's guarantees: credit written off across reconnects
 * (F1), ACKs as keep-alive (F2), BLOCK floods (F6), chunks nobody paid for and free files
 * behind a slow disk (F11). Real HTTP + WebSocket on loopback (scripted-provider.ts).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type SluiceError, ZERO_ADDRESS, isSluiceError } from '@sluice/channel-core';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { maxInteriorBlocks, parseCid } from '@sluice/provider/content';
import { paidEnd } from '@sluice/provider/wire';
import { DevPayerChannels, MAX_WRITE_LAG, type PayerChannels, download, loadSidecar, streamFile } from '../src/index.ts';
import { BOB, type Env, slowDisk } from './helpers.ts';
import { type FileView, type Script, envWithFile, honestScript, recordingChannels, scriptedProvider } from './scripted-provider.ts';

const PRICE = 100n;

describe('client against hostile sessions', () => {
  let env: Env;
  let file: FileView;
  let n = 0;
  before(async () => {
    ({ env, file } = await envWithFile(200));
  });
  after(async () => {
    await env.cleanup();
  });

  const payer = (): DevPayerChannels => new DevPayerChannels({ privateKey: randomBytes(32), registry: env.registry, dbPath: join(env.dir, `payer-${++n}.db`) });

  async function run(script: Script, options: { window?: number; retries?: number; stallTimeoutMs?: number; price?: bigint; alice?: DevPayerChannels; channels?: PayerChannels; out?: string } = {}) {
    const p = await scriptedProvider(file, options.price ?? PRICE, script);
    const alice = options.alice ?? payer();
    const out = options.out ?? join(env.dir, 'out', `s-${++n}.bin`);
    const result = await download({
      url: `${p.url}/files/${file.cid}`, output: out, channels: options.channels ?? alice, window: options.window ?? 8, retries: options.retries ?? 0,
      stallTimeoutMs: options.stallTimeoutMs ?? 5_000,
    }).then((res) => res.channelId, (e: unknown) => e as SluiceError);
    const err = typeof result === 'string' ? undefined : result;
    const state = await loadSidecar(`${out}.sluice-state`);
    const channelId = typeof result === 'string' ? result : state?.channelId;
    const paid = channelId === undefined ? 0n : ((await alice.getChannel(channelId))?.paid ?? 0n);
    await p.close();
    if (options.alice === undefined) await alice.stop();
    return { err, paid, state, sessions: p.sessions(), out };
  }

  /** Each session: READY with baseline = the best voucher seen ("all consumed"), take the next voucher, hang up. */
  const writeOffScript = (): Script => {
    let best = 0n;
    return {
      onFrame(s, f) {
        if (f.type === 'hello') return s.ready({ start: f.start, price: PRICE, baseline: best });
        if (f.type === 'voucher') {
          best = f.voucher.amount;
          s.ws.terminate();
        }
      },
    };
  };

  it('F1: a provider that writes off the credit at every reconnect gets two windows in all, not one per retry', async () => {
    const window = 8;
    const r = await run(writeOffScript(), { window, retries: 5 });
    assert.ok(isSluiceError(r.err, 'BUDGET_EXCEEDED'), String(r.err));
    assert.match(r.err.message, /without delivering/);
    // one window written off is tolerated (an honest drop loses what was in flight); the second is not
    assert.equal(r.sessions, 3, 'stopped at the READY that wrote off more than a window');
    assert.equal(r.paid, 2n * BigInt(window) * PRICE, 'paid two windows for nothing, not (retries + 1) windows');
    assert.equal(r.state?.lost, 2n * BigInt(window) * PRICE);
  });

  it('F1: the loss is remembered across runs (a new run cannot be milked again)', async () => {
    const window = 8;
    const alice = payer();
    const out = join(env.dir, 'out', 'f1-runs.bin');
    const script = writeOffScript();
    // each run: one session, the provider takes the voucher and hangs up (no retry)
    const first = await run(script, { window, retries: 0, alice, out });
    assert.ok(isSluiceError(first.err, 'PEER_DISCONNECTED'), String(first.err));
    assert.equal(first.state?.expectBaseline, 0n);
    const second = await run(script, { window, retries: 0, alice, out }); // READY writes off one window: tolerated
    assert.ok(isSluiceError(second.err, 'PEER_DISCONNECTED'), String(second.err));
    assert.equal(second.state?.lost, BigInt(window) * PRICE);
    // third run: READY writes off a second window; refused before paying anything more
    const third = await run(script, { window, retries: 0, alice, out });
    await alice.stop();
    assert.ok(isSluiceError(third.err, 'BUDGET_EXCEEDED'), String(third.err));
    assert.equal(third.paid, 2n * BigInt(window) * PRICE, 'the channel paid two windows in all');
    assert.equal(third.state?.lost, 2n * BigInt(window) * PRICE);
  });

  it('F1: a partial write-off is counted, and the download finishes; total paid stays within verified + window', async () => {
    const window = 8;
    const chunks = file.leaves.length;
    // session 0 delivers chunks 0 and 1 of the window paid, then hangs up; session 1's READY claims
    // 5 chunks consumed (3 written off), then it serves honestly from there
    const r = await run({
      async onFrame(s, f) {
        const st = s as typeof s & { terms?: { start: number; end: number; pricePerChunk: bigint; baseline: bigint }; next?: number };
        if (f.type === 'hello') {
          st.terms = { start: f.start, end: chunks, pricePerChunk: PRICE, baseline: s.n === 0 ? 0n : 5n * PRICE };
          st.next = f.start;
          return s.ready({ start: f.start, price: PRICE, baseline: st.terms.baseline });
        }
        if (f.type !== 'voucher') return;
        const upTo = s.n === 0 ? 2 : paidEnd(st.terms!, f.voucher.amount);
        s.send({ type: 'ack', paidEnd: upTo, amount: f.voucher.amount });
        while (st.next! < upTo) {
          const i = st.next!++;
          s.send({ type: 'chunk', index: i, data: await file.chunk(i) });
        }
        if (s.n === 0) setTimeout(() => s.ws.terminate(), 50);
      },
    }, { window, retries: 2 });
    assert.equal(r.err, undefined, String(r.err));
    assert.equal(r.sessions, 2);
    // 3 chunks' worth written off, nothing else paid twice
    assert.equal(r.paid, (BigInt(chunks) + 3n) * PRICE);
    assert.ok(r.paid <= (BigInt(chunks) + BigInt(window)) * PRICE);
  });

  it('F2: ACKs are not progress: more ACKs than vouchers is a protocol error, and one ACK then silence times out', async () => {
    const flood = await run({
      onFrame(s, f) {
        if (f.type === 'hello') return s.ready({ start: f.start, price: PRICE, baseline: 0n });
        if (f.type === 'voucher') {
          const t = setInterval(() => s.send({ type: 'ack', paidEnd: 0, amount: f.voucher.amount }), 50);
          s.ws.on('close', () => clearInterval(t));
        }
      },
    }, { window: 4, stallTimeoutMs: 300 });
    assert.ok(isSluiceError(flood.err, 'WIRE_UNEXPECTED_FRAME'), String(flood.err));
    assert.match(flood.err.message, /more ACKs than we sent vouchers/);

    const t0 = performance.now();
    const silent = await run({
      onFrame(s, f) {
        if (f.type === 'hello') return s.ready({ start: f.start, price: PRICE, baseline: 0n });
        if (f.type === 'voucher') s.send({ type: 'ack', paidEnd: 0, amount: f.voucher.amount });
      },
    }, { window: 4, stallTimeoutMs: 300 });
    assert.ok(isSluiceError(silent.err, 'PEER_TIMEOUT'), String(silent.err));
    assert.ok(performance.now() - t0 < 3_000);
  });

  it('F6: READY announcing more interior blocks than the file can have is refused before any block', async () => {
    const chunks = file.leaves.length;
    assert.equal(maxInteriorBlocks(chunks), 3); // 200 chunks: 2 nodes under the root
    assert.equal(maxInteriorBlocks(1), 0);
    assert.equal(maxInteriorBlocks(174), 1);
    assert.equal(maxInteriorBlocks(174 * 174 + 1), 175 + 2 + 1);
    assert.equal(maxInteriorBlocks(2 ** 32 - 1), 24_826_404); // 24,683,721 + 141,861 + 816 + 5 + 1 (the root)
    const r = await run({
      onFrame(s, f) {
        if (f.type !== 'hello') return;
        s.send({ type: 'ready', start: 0, end: chunks, chunkCount: chunks, interiorBlocks: chunks, fileSize: file.size, pricePerChunk: PRICE, baseline: 0n });
      },
    });
    assert.ok(isSluiceError(r.err, 'DECODE_FAILED'), String(r.err));
    assert.match(r.err.message, /at most 3/);
    assert.equal(r.paid, 0n);
  });

  it('F6: a BLOCK the DAG does not link to is refused as it arrives (not kept), before anything is paid', async () => {
    const junk = randomBytes(60_000);
    let sent = 0;
    const r = await run({
      onFrame(s, f) {
        if (f.type !== 'hello') return;
        s.send({ type: 'ready', start: 0, end: file.leaves.length, chunkCount: file.leaves.length, interiorBlocks: file.interior.length, fileSize: file.size, pricePerChunk: PRICE, baseline: 0n });
        for (let i = 0; i < 50 && s.ws.readyState === s.ws.OPEN; i++) {
          const cid = CID.createV1(0x70, Digest.create(0x12, createHash('sha256').update(String(i)).digest()));
          s.send({ type: 'block', cid: cid as never, data: junk });
          sent++;
        }
      },
    });
    assert.ok(isSluiceError(r.err, 'CHUNK_HASH_MISMATCH'), String(r.err));
    assert.match(r.err.message, /does not link to/);
    assert.equal(r.paid, 0n);
    assert.ok(sent > 0);
    // the honest blocks, the root first, still resolve
    const ok = await run(honestScript(file, PRICE));
    assert.equal(ok.err, undefined, String(ok.err));
  });

  it('F11: a chunk past what our vouchers pay for is refused', async () => {
    // our signing never completes, so no voucher is ever sent: chunk 0 is not paid for
    const alice = payer();
    const channels: PayerChannels = { ...recordingChannels(alice), pay: () => new Promise(() => undefined) };
    const r = await run({
      async onFrame(s, f) {
        if (f.type === 'hello') {
          s.ready({ start: 0, price: PRICE, baseline: 0n });
          // before any voucher: push chunk 0 (unpaid)
          s.send({ type: 'chunk', index: 0, data: await file.chunk(0) });
        }
      },
    }, { alice, channels });
    assert.ok(isSluiceError(r.err, 'WIRE_UNEXPECTED_FRAME'), String(r.err));
    assert.match(r.err.message, /not paid for/);
    await alice.stop();
  });

  it('F11: a free file behind a slow disk: the client stops reading, the backlog stays bounded', async () => {
    const p = await scriptedProvider(file, 0n, honestScript(file, 0n));
    const alice = payer();
    const ch = await alice.ensureChannel({ payee: BOB, hub: null, asset: ZERO_ADDRESS, amount: 0n, deposit: 0n });
    const disk = slowDisk(3);
    const r = await streamFile({
      wsUrl: `${p.url.replace('http', 'ws')}/stream`, channelId: ch.channelId, root: parseCid(file.cid), size: file.size, chunkCount: file.leaves.length,
      pricePerChunk: 0n, start: 0, window: 8, payStep: 2, paidBefore: 0n, channels: alice, stallTimeoutMs: 5_000,
      onResolved: async () => undefined,
      onChunk: disk.onChunk,
      written: disk.written,
    });
    await disk.drained();
    await alice.stop();
    await p.close();
    assert.equal(r.received, file.leaves.length);
    assert.ok(disk.maxBacklog <= MAX_WRITE_LAG + 2, `backlog ${disk.maxBacklog} chunks`);
  });

  /**
   * Paused on a slow disk, the client reads again as soon as a few chunks are written. It used to
   * wait for half its backlog (32 chunks, 8 MiB), reading nothing meanwhile: a provider cuts a
   * client that reads nothing for its slow-reader timeout (30 s by default), so any disk under
   * ~280 KB/s lost free downloads.
   */
  it('F11: a free file behind a slow disk: the client never stops reading for long (the provider sees it read at the disk\'s pace)', async () => {
    const p = await scriptedProvider(file, 0n, honestScript(file, 0n));
    const alice = payer();
    const ch = await alice.ensureChannel({ payee: BOB, hub: null, asset: ZERO_ADDRESS, amount: 0n, deposit: 0n });
    const perChunkMs = 10;
    const disk = slowDisk(perChunkMs);
    const r = await streamFile({
      wsUrl: `${p.url.replace('http', 'ws')}/stream`, channelId: ch.channelId, root: parseCid(file.cid), size: file.size, chunkCount: file.leaves.length,
      pricePerChunk: 0n, start: 0, window: 8, payStep: 2, paidBefore: 0n, channels: alice, stallTimeoutMs: 5_000,
      onResolved: async () => undefined,
      onChunk: disk.onChunk,
      written: disk.written,
    });
    await disk.drained();
    await alice.stop();
    await p.close();
    assert.equal(r.received, file.leaves.length);
    assert.ok(disk.maxBacklog > MAX_WRITE_LAG / 2, 'the disk fell behind (the client paused)');
    // half the backlog is 32 chunks, i.e. >= 320 ms at 10 ms per chunk; a few chunks are ~40 ms
    assert.ok(disk.maxGapMs < 16 * perChunkMs, `the client stopped reading for ${disk.maxGapMs.toFixed(0)} ms at most`);
  });
});
