/**
 * File metadata as the client takes it: the payee's channel-node multiaddrs a provider
 * advertises (direct route for the channel's messages) are optional, and bounded like every
 * other field a provider controls; hostile documents (huge or slow bodies, bad ws URLs,
 * long or terminal-driving names) are refused or made safe.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSluiceError } from '@sluice/channel-core';
import { MAX_METADATA_BYTES, MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH, MAX_MULTIADDR_LIST, fetchMetadata, parseMetadata } from '../src/metadata.ts';
import { type Env, type RunningProvider, addRandomFile, makeEnv, startProvider } from './helpers.ts';

describe('file metadata: payee multiaddrs', () => {
  let env: Env;
  let bob: RunningProvider;
  let doc: Record<string, unknown>;
  const ma = '/ip4/127.0.0.1/tcp/4001/p2p/16Uiu2HAmBob';
  before(async () => {
    env = await makeEnv();
    bob = await startProvider(env, { pricePerChunk: 10n, payeeMultiaddrs: () => [ma] });
    const { record } = await addRandomFile(env, 1000);
    doc = (await (await fetch(`${bob.service.url}/files/${record.cid}`)).json()) as Record<string, unknown>;
  });
  after(async () => {
    await bob.stop();
    await env.cleanup();
  });

  it('a provider advertises its node; the client reads it, and an absent list is empty', async () => {
    assert.deepEqual(doc['payeeMultiaddrs'], [ma]);
    assert.deepEqual((await fetchMetadata({ url: `${bob.service.url}/files/${doc['cid'] as string}` })).payeeMultiaddrs, [ma]);
    const { payeeMultiaddrs: _, ...without } = doc;
    assert.deepEqual(parseMetadata(without).payeeMultiaddrs, []);
  });

  it('refuses lists that are too long, too wide or not multiaddr strings (hub multiaddrs too)', () => {
    const bad = [
      Array.from({ length: MAX_MULTIADDR_LIST + 1 }, () => ma),
      [`/ip4/127.0.0.1/tcp/1/${'x'.repeat(MAX_MULTIADDR_LENGTH)}`],
      [42],
      [''],
      ['http://example.com'],
      'not a list',
    ];
    for (const v of bad) {
      assert.throws(() => parseMetadata({ ...doc, payeeMultiaddrs: v }), (e) => isSluiceError(e) && e.code === 'DECODE_FAILED', JSON.stringify(v).slice(0, 80));
      assert.throws(() => parseMetadata({ ...doc, hub: { address: null, multiaddrs: v } }), (e) => isSluiceError(e) && e.code === 'DECODE_FAILED');
    }
    assert.equal(parseMetadata({ ...doc, payeeMultiaddrs: Array.from({ length: MAX_MULTIADDRS }, () => ma) }).payeeMultiaddrs.length, MAX_MULTIADDRS);
  });

  it('takes the first 8 of a longer list (a node on every interface reports more)', () => {
    const many = Array.from({ length: MAX_MULTIADDRS + 4 }, (_, i) => `/ip4/10.0.0.${i + 1}/tcp/4001`);
    assert.deepEqual(parseMetadata({ ...doc, payeeMultiaddrs: many }).payeeMultiaddrs, many.slice(0, MAX_MULTIADDRS));
    assert.deepEqual(parseMetadata({ ...doc, hub: { address: null, multiaddrs: many } }).hub.multiaddrs, many.slice(0, MAX_MULTIADDRS));
  });
});

describe('file metadata: a provider on every interface', () => {
  let env: Env;
  let bob: RunningProvider;
  const p2p = '/tcp/4001/p2p/16Uiu2HAmBob';
  // what a node listening on 0.0.0.0 reports on a host with container bridges: loopback first
  const reported = [`/ip4/127.0.0.1${p2p}`, `/ip4/0.0.0.0${p2p}`, ...Array.from({ length: 9 }, (_, i) => `/ip4/172.${17 + i}.0.1${p2p}`), `/ip4/203.0.113.7${p2p}`];
  before(async () => {
    env = await makeEnv();
    bob = await startProvider(env, { pricePerChunk: 10n, payeeMultiaddrs: () => reported, hub: { address: null, multiaddrs: reported } });
  });
  after(async () => {
    await bob.stop();
    await env.cleanup();
  });

  it('advertises at most 8, the public address first, loopback last (here cut off by the cap) and never 0.0.0.0', async () => {
    const { record } = await addRandomFile(env, 1000);
    const meta = await fetchMetadata({ url: `${bob.service.url}/files/${record.cid}` });
    for (const list of [meta.payeeMultiaddrs, meta.hub.multiaddrs]) {
      assert.equal(list.length, MAX_MULTIADDRS);
      assert.equal(list[0], `/ip4/203.0.113.7${p2p}`);
      assert.ok(!list.some((m) => m.startsWith('/ip4/127.') || m.startsWith('/ip4/0.')), list.join(' '));
    }
  });
});

describe('file metadata: hostile documents', () => {
  let env: Env;
  let doc: Record<string, unknown>;
  before(async () => {
    env = await makeEnv();
    const bob = await startProvider(env, { pricePerChunk: 10n });
    const { record } = await addRandomFile(env, 1000);
    doc = (await (await fetch(`${bob.service.url}/files/${record.cid}`)).json()) as Record<string, unknown>;
    await bob.stop();
  });
  after(async () => {
    await env.cleanup();
  });

  /** An HTTP server answering every request with `respond`. */
  async function serve(respond: (res: ServerResponse) => void): Promise<{ url: string; close(): Promise<void> }> {
    const srv = createServer((_req, res) => respond(res));
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    return {
      url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/files/${doc['cid'] as string}`,
      close: async () => {
        srv.closeAllConnections();
        await new Promise<void>((r) => srv.close(() => r()));
      },
    };
  }
  const codeOf = (p: Promise<unknown>): Promise<string> => p.then(() => 'ok', (e: unknown) => (isSluiceError(e) ? e.code : String(e)));

  it('F10: the ws URL is parsed: ws:/wss: with a host, or DECODE_FAILED', () => {
    for (const ws of ['ws://[not-a-host', 'ws://', 'wss:', 'http://127.0.0.1/stream', 'ws://a b/', 42, `ws://h/${'x'.repeat(3000)}`]) {
      assert.throws(() => parseMetadata({ ...doc, ws }), (e) => isSluiceError(e, 'DECODE_FAILED'), String(ws).slice(0, 40));
    }
    assert.equal(parseMetadata({ ...doc, ws: 'wss://bob.example:8443/stream' }).ws, 'wss://bob.example:8443/stream');
    assert.equal(parseMetadata({ ...doc, ws: 'ws://[::1]:80/stream' }).ws, 'ws://[::1]/stream');
  });

  it('F10: the ws URL is checked as every URL option is (isUrlWith): `ws://` or `wss://` spelled out', () => {
    // WHATWG parsing reads each of these as ws://h/stream; no provider sends them (it serializes a URL)
    for (const ws of ['ws:h/stream', 'wss:h/stream', 'ws:/h/stream', 'ws:///h/stream', ' ws://h/stream', 'ws:\\\\h/stream']) {
      assert.throws(() => parseMetadata({ ...doc, ws }), (e) => isSluiceError(e, 'DECODE_FAILED'), ws);
    }
    assert.equal(parseMetadata({ ...doc, ws: 'WS://Bob.Example/stream' }).ws, 'ws://bob.example/stream');
  });

  it('F7: the name is at most 255 bytes and made safe to print', () => {
    assert.equal(parseMetadata({ ...doc, name: 'é'.repeat(127) }).name, 'é'.repeat(127));
    assert.throws(() => parseMetadata({ ...doc, name: 'é'.repeat(128) }), (e) => isSluiceError(e, 'DECODE_FAILED'));
    assert.throws(() => parseMetadata({ ...doc, name: 42 }), (e) => isSluiceError(e, 'DECODE_FAILED'));
    assert.equal(parseMetadata({ ...doc, name: '\u001b[31mred\u202e' }).name, '?[31mred?');
  });

  it('F7: a body above 64 KiB is refused, declared (content-length) or streamed', async () => {
    const declared = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(MAX_METADATA_BYTES + 1) });
      res.write('{');
    });
    assert.equal(await codeOf(fetchMetadata({ url: declared.url })), 'DECODE_FAILED');
    await declared.close();
    let sent = 0;
    const streamed = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const more = (): void => {
        while (sent < 64 * 2 ** 20 && res.write(`{"name":"${'A'.repeat(65_536)}`)) sent += 65_536;
      };
      res.on('drain', more);
      more();
    });
    assert.equal(await codeOf(fetchMetadata({ url: streamed.url })), 'DECODE_FAILED');
    assert.ok(sent < 16 * 2 ** 20, `read only about the cap (${sent} bytes sent)`);
    await streamed.close();
  });

  it('a body cut off by the timeout is PEER_TIMEOUT (provider unavailable), not a verification failure', async () => {
    const slow = await serve((res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"name":"');
      const t = setInterval(() => res.write('a'), 50);
      res.on('close', () => clearInterval(t));
    });
    const t0 = performance.now();
    assert.equal(await codeOf(fetchMetadata({ url: slow.url }, { timeoutMs: 500 })), 'PEER_TIMEOUT');
    assert.ok(performance.now() - t0 < 3_000);
    await slow.close();
  });

  it('F5: a 503 message is made safe to print', async () => {
    const busy = await serve((res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'OVERLOADED', message: '\u001b[2Kall good\u202e' } }));
    });
    const e = await fetchMetadata({ url: busy.url }).then(() => undefined, (x: unknown) => x);
    await busy.close();
    assert.ok(isSluiceError(e, 'OVERLOADED'), String(e));
    assert.equal(e.message, 'provider: ?[2Kall good?');
  });
});
