import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, stat, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { download } from '../src/index.ts';
import { type Env, type RunningProvider, addRandomFile, aliceChannels, makeEnv, startProvider } from './helpers.ts';

async function earned(p: RunningProvider): Promise<bigint> {
  return (await p.channels.listVirtualChannels()).reduce((a, c) => a + c.paid, 0n);
}

describe('download: byte-identical files, earnings = chunks × price', () => {
  let env: Env;
  let bob: RunningProvider;
  before(async () => {
    env = await makeEnv();
    bob = await startProvider(env, { pricePerChunk: 1000n });
  });
  after(async () => {
    await bob.stop();
    await env.cleanup();
  });

  for (const size of [0, 1, 262_144, 262_145, 3 * 262_144 + 17]) {
    it(`${size} bytes`, async () => {
      const { record, bytes } = await addRandomFile(env, size);
      const alice = aliceChannels(env);
      const out = join(env.dir, 'out', `got-${size}`);
      const earnedBefore = await earned(bob);
      const r = await download({ url: `${bob.service.url}/files/${record.cid}`, output: out, channels: alice, window: 4 });
      assert.equal(r.chunks, record.chunks);
      assert.deepEqual(await readFile(out), bytes);
      assert.equal(r.paid, BigInt(record.chunks) * 1000n);
      assert.equal((await earned(bob)) - earnedBefore, BigInt(record.chunks) * 1000n);
      const ch = await bob.channels.getVirtualChannel(r.channelId);
      assert.equal(bob.usage.get(r.channelId)?.consumed, ch?.paid, 'everything paid on the channel was delivered');
      // no leftovers
      const left = (await readdir(join(env.dir, 'out'))).filter((n) => n.includes('sluice'));
      assert.deepEqual(left, []);
      await alice.stop();
    });
  }

  it('~64 MiB generated file, window 32, channel reused for a second file', async () => {
    const size = 64 * 1024 * 1024 + 12_345;
    const { record, bytes } = await addRandomFile(env, size, 'big.bin');
    const alice = aliceChannels(env);
    const out = join(env.dir, 'out', 'big.bin');
    const earnedBefore = await earned(bob);
    const r = await download({ url: `${bob.service.url}/files/${record.cid}`, output: out, channels: alice, window: 32, margin: 1 });
    assert.equal((await stat(out)).size, size);
    assert.equal(createHash('sha256').update(await readFile(out)).digest('hex'), createHash('sha256').update(bytes).digest('hex'));
    assert.equal(r.paid, BigInt(record.chunks) * 1000n);
    // second download reuses the channel (it was sized with 100% margin)
    const small = await addRandomFile(env, 300_000, 'small.bin');
    const r2 = await download({ url: `${bob.service.url}/files/${small.record.cid}`, output: join(env.dir, 'out', 'small.bin'), channels: alice });
    assert.equal(r2.paid, 2000n);
    assert.equal((await earned(bob)) - earnedBefore, BigInt(record.chunks + 2) * 1000n);
    const channels = (await bob.channels.listVirtualChannels()).length;
    assert.ok(channels <= 6, 'funded channels are reused, not opened per download');
    await alice.stop();
  });
});
