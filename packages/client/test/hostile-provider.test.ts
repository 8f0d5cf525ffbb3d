/**
 * Hostile providers against the client: a corrupt chunk, a wrong interior block, a stall.
 * Each is detected, reported with a clear code, and costs at most the prepaid window.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WebSocketServer } from 'ws';
import { type SluiceError, isSluiceError } from '@sluice/channel-core';
import { CHUNK_SIZE, type ChunkStore, parseCid, resolveFromStore } from '@sluice/provider/content';
import { decodeClientFrame, encodeFrame, paidEnd } from '@sluice/provider/wire';
import { randomBytes } from 'node:crypto';
import { DevPayerChannels, download } from '../src/index.ts';
import { BOB, type Env, addRandomFile, makeEnv } from './helpers.ts';

type Fault = { kind: 'corrupt'; index: number } | { kind: 'wrong-block' } | { kind: 'stall'; after: number } | { kind: 'skip'; index: number };

const PRICE = 100n;

/** A provider speaking the wire protocol from a real store, with one injected fault. */
async function hostileProvider(store: ChunkStore, cid: string, size: number, fault: Fault): Promise<{ url: string; sent: number[]; close(): Promise<void> }> {
  const root = parseCid(cid);
  const file = await resolveFromStore(store, root, { size });
  const sent: number[] = [];
  const server: Server = createServer((req, res) => {
    const a = server.address() as AddressInfo;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      cid, name: 'x', size, chunkSize: CHUNK_SIZE, chunks: file.leaves.length, pricePerChunk: PRICE.toString(),
      asset: '0x0000000000000000000000000000000000000000', payee: BOB, hub: { address: null, multiaddrs: [] },
      ws: `ws://127.0.0.1:${a.port}/stream`,
    }));
    void req;
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    let next = 0;
    const terms = { start: 0, end: file.leaves.length, pricePerChunk: PRICE, baseline: 0n };
    let chain: Promise<void> = Promise.resolve();
    ws.on('message', (data: Buffer) => {
      chain = chain.then(() => handle(data)).catch(() => ws.terminate());
    });
    const handle = async (data: Buffer): Promise<void> => {
      const f = decodeClientFrame(new Uint8Array(data));
      if (f.type === 'hello') {
        ws.send(encodeFrame({ type: 'ready', start: 0, end: file.leaves.length, chunkCount: file.leaves.length, interiorBlocks: file.interior.length, fileSize: size, pricePerChunk: PRICE, baseline: 0n }));
        for (const c of file.interior) {
          const bytes = Uint8Array.from(file.blocks.get(c.toString()) ?? []);
          if (fault.kind === 'wrong-block') bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 1;
          ws.send(encodeFrame({ type: 'block', cid: c, data: bytes }));
        }
      } else if (f.type === 'voucher') {
        const upTo = paidEnd(terms, f.voucher.amount);
        ws.send(encodeFrame({ type: 'ack', paidEnd: upTo, amount: f.voucher.amount }));
        while (next < upTo) {
          if (fault.kind === 'stall' && next >= fault.after) return;
          const leaf = file.leaves[next];
          if (leaf === undefined) return;
          const bytes = Uint8Array.from((await store.getBlock(leaf.cid)) ?? []);
          if (fault.kind === 'corrupt' && next === fault.index) bytes[7] = (bytes[7] ?? 0) ^ 0xff;
          sent.push(next);
          const index = fault.kind === 'skip' && next === fault.index ? next + 1 : next;
          ws.send(encodeFrame({ type: 'chunk', index, data: bytes }));
          next++;
        }
      }
    };
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    sent,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

describe('client against hostile providers', () => {
  let env: Env;
  let cid: string;
  const size = 20 * 262_144 + 3;
  before(async () => {
    env = await makeEnv();
    cid = (await addRandomFile(env, size)).record.cid;
  });
  after(async () => {
    await env.cleanup();
  });

  async function attempt(fault: Fault, window: number, extra: { stallTimeoutMs?: number } = {}): Promise<{ err: SluiceError; paid: bigint; out: string }> {
    const p = await hostileProvider(env.store, cid, size, fault);
    // A fresh payer per attempt, so the channel's paid amount is this attempt's alone.
    const alice = new DevPayerChannels({ privateKey: randomBytes(32), registry: env.registry, dbPath: join(env.dir, `payer-${fault.kind}.db`) });
    const out = join(env.dir, 'out', `${fault.kind}.bin`);
    let paid = 0n;
    try {
      await download({
        url: `${p.url}/files/${cid}`, output: out, channels: alice, window, retries: 0,
        ...extra,
        onProgress: (e) => { if (e.phase === 'chunk') paid = e.paid; },
      });
      assert.fail('download should fail');
    } catch (e) {
      assert.ok(isSluiceError(e), String(e));
      if (process.env['DEBUG_TEST']) console.log(fault, e);
      const ch = (await alice.getChannel((await (await import('../src/sidecar.ts')).loadSidecar(`${out}.sluice-state`))?.channelId ?? ('0x' + '00'.repeat(32)) as never));
      await alice.stop();
      await p.close();
      return { err: e, paid: ch?.paid ?? paid, out };
    }
  }

  it('corrupt chunk → CHUNK_HASH_MISMATCH; paid at most up to the bad chunk + window; no output file', async () => {
    const window = 4;
    const { err, paid, out } = await attempt({ kind: 'corrupt', index: 9 }, window);
    assert.equal(err.code, 'CHUNK_HASH_MISMATCH');
    assert.ok(paid <= BigInt(9 + window) * PRICE, `paid ${paid}`);
    await assert.rejects(stat(out), { code: 'ENOENT' });
  });

  it('wrong interior block → CHUNK_HASH_MISMATCH before anything is paid', async () => {
    const { err, paid } = await attempt({ kind: 'wrong-block' }, 8);
    assert.equal(err.code, 'CHUNK_HASH_MISMATCH');
    assert.equal(paid, 0n);
  });

  it('chunk out of order → WIRE_UNEXPECTED_FRAME; paid at most up to it + window', async () => {
    const window = 4;
    const { err, paid } = await attempt({ kind: 'skip', index: 5 }, window);
    assert.equal(err.code, 'WIRE_UNEXPECTED_FRAME');
    assert.match(err.message, /expected chunk 5, got 6/);
    assert.ok(paid <= BigInt(5 + window) * PRICE, `paid ${paid}`);
  });

  it('stall → PEER_TIMEOUT; paid at most what arrived + window', async () => {
    const window = 4;
    const { err, paid } = await attempt({ kind: 'stall', after: 6 }, window, { stallTimeoutMs: 300 });
    assert.equal(err.code, 'PEER_TIMEOUT');
    assert.match(err.message, /stalled/);
    assert.ok(paid <= BigInt(6 + window) * PRICE, `paid ${paid}`);
  });
});
