/**
 * File metadata as the client takes it: the payee's channel-node multiaddrs a provider
 * advertises (direct route for the channel's messages) are optional, and bounded like every
 * other field a provider controls.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '@sluice/channel-core';
import { MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH, MAX_MULTIADDR_LIST, fetchMetadata, parseMetadata } from '../src/metadata.ts';
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
