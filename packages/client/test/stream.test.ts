/** streamFile on its own: payments wait for a lagging disk and resume when writes catch up. */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { parseCid } from '@sluice/provider/content';
import { streamFile } from '../src/index.ts';
import { BOB, type Env, type RunningProvider, addRandomFile, aliceChannels, makeEnv, slowDisk, startProvider } from './helpers.ts';

describe('streamFile', () => {
  let env: Env;
  let bob: RunningProvider;
  before(async () => {
    env = await makeEnv();
    bob = await startProvider(env, { pricePerChunk: 10n });
  });
  after(async () => {
    await bob.stop();
    await env.cleanup();
  });

  it('a slow disk holds payments back (bounded memory) and they resume as writes complete', async () => {
    const chunks = 160;
    const { record } = await addRandomFile(env, chunks * 262_144);
    const alice = aliceChannels(env);
    const ch = await alice.ensureChannel({ payee: BOB, hub: null, asset: '0x0000000000000000000000000000000000000000' as never, amount: 10n * BigInt(chunks), deposit: 10n * BigInt(chunks) });
    const disk = slowDisk(3); // 3 ms per chunk, one write at a time
    const r = await streamFile({
      wsUrl: `${bob.service.url.replace('http', 'ws')}/stream`,
      channelId: ch.channelId,
      root: parseCid(record.cid),
      size: record.size,
      chunkCount: chunks,
      pricePerChunk: 10n,
      start: 0,
      window: 8,
      payStep: 2,
      paidBefore: ch.paid,
      channels: alice,
      stallTimeoutMs: 3_000,
      onResolved: async () => undefined,
      onChunk: disk.onChunk,
      written: disk.written,
    });
    await disk.drained();
    assert.equal(r.received, chunks);
    assert.equal(r.paid, 10n * BigInt(chunks));
    assert.ok(disk.maxBacklog <= 64 + 8 + 1, `write backlog stayed bounded (${disk.maxBacklog})`);
    await alice.stop();
  });
});
