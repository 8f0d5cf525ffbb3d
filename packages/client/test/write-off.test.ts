/**
 * The client's count of credit a provider writes off (docs/protocol.md, Flow 7) across sessions
 * and runs: another download on the same channel in between is not a write-off, and a provider
 * that ends sessions with 4301 ABORTED is not taken for our own cancel.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SluiceError, isSluiceError } from '@sluice/channel-core';
import { errorFrameFor } from '@sluice/provider/wire';
import { DevPayerChannels, download, loadSidecar } from '../src/index.ts';
import { type Env, addRandomFile, aliceChannels, startProvider } from './helpers.ts';
import { type FileView, type Script, envWithFile, scriptedProvider } from './scripted-provider.ts';

describe('credit written off, across downloads on one channel and across runs', () => {
  let env: Env;
  let file: FileView;
  before(async () => {
    ({ env, file } = await envWithFile(200));
  });
  after(async () => {
    await env.cleanup();
  });

  it('resuming A after downloading B on the same channel counts nothing written off', async () => {
    const PRICE = 1000n;
    const a = await addRandomFile(env, 100 * 262_144, 'a.bin');
    const b = await addRandomFile(env, 6 * 262_144, 'b.bin');
    const alice = aliceChannels(env);
    const window = 4;
    const outA = join(env.dir, 'out', 'a.bin');
    let bob = await startProvider(env, { pricePerChunk: PRICE });
    let stopping: Promise<void> | undefined;
    // 1. A is cut by the provider going away (no retries)
    const e1 = await download({
      url: `${bob.service.url}/files/${a.record.cid}`, output: outA, channels: alice, window, retries: 0,
      onProgress: (e) => {
        if (e.phase === 'chunk' && e.chunksDone === 20 && stopping === undefined) stopping = bob.stop();
      },
    }).then(() => undefined, (e: unknown) => e);
    await stopping;
    assert.ok(isSluiceError(e1, 'PEER_DISCONNECTED'), String(e1));
    const st = await loadSidecar(`${outA}.sluice-state`);
    bob = await startProvider(env, { pricePerChunk: PRICE });
    try {
      // 2. B, from the same provider, on A's channel (enough is left on it)
      const rb = await download({ url: `${bob.service.url}/files/${b.record.cid}`, output: join(env.dir, 'out', 'b.bin'), channels: alice, window });
      assert.equal(rb.channelId, st?.channelId, 'B reused the channel');
      // 3. A resumes on the same channel: B's consumption is not credit written off
      await download({ url: `${bob.service.url}/files/${a.record.cid}`, output: outA, channels: alice, window });
      assert.deepEqual(await readFile(outA), a.bytes);
    } finally {
      await alice.stop();
      await bob.stop();
    }
  });

  it('a provider answering every payment with 4301 ABORTED gets at most two windows over all runs', async () => {
    const PRICE = 100n;
    const window = 8;
    const best = new Map<string, bigint>();
    const script: Script = {
      onFrame(s, f) {
        // READY claims everything paid consumed; each voucher is taken, then the session "superseded"
        if (f.type === 'hello') return s.ready({ start: f.start, price: PRICE, baseline: best.get(f.channelId) ?? 0n });
        if (f.type === 'voucher') {
          best.set(f.voucher.channelId, f.voucher.amount);
          const e = errorFrameFor(new SluiceError('ABORTED', 'superseded by a newer session on the same channel'));
          s.send(e);
          s.ws.close(e.wireCode, 'superseded');
        }
      },
    };
    const p = await scriptedProvider(file, PRICE, script);
    const alice = new DevPayerChannels({ privateKey: randomBytes(32), registry: env.registry, dbPath: join(env.dir, 'payer.db') });
    const out = join(env.dir, 'out', 'aborted.bin');
    const channels = new Set<string>();
    let last: unknown;
    try {
      for (let run = 0; run < 6 && !isSluiceError(last, 'BUDGET_EXCEEDED'); run++) {
        last = await download({ url: `${p.url}/files/${file.cid}`, output: out, channels: alice, window, retries: 5 }).then(() => undefined, (e: unknown) => e);
        const st = await loadSidecar(`${out}.sluice-state`);
        if (st !== undefined) channels.add(st.channelId);
      }
      let paid = 0n;
      for (const c of channels) paid += (await alice.getChannel(c as never))?.paid ?? 0n;
      assert.ok(isSluiceError(last, 'BUDGET_EXCEEDED'), String(last));
      assert.ok(paid <= 2n * BigInt(window) * PRICE, `paid ${paid} for no chunk (two windows = ${2n * BigInt(window) * PRICE})`);
    } finally {
      await alice.stop();
      await p.close();
    }
  });
});
