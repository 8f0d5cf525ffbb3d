/**
 * File metadata as the client takes it: the payee's channel-node multiaddrs a provider
 * advertises (direct route for the channel's messages) are optional, and bounded like every
 * other field a provider controls.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { isSluiceError } from '@sluice/channel-core';
import { MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH, fetchMetadata, parseMetadata } from '../src/metadata.ts';
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
      Array.from({ length: MAX_MULTIADDRS + 1 }, () => ma),
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
});
