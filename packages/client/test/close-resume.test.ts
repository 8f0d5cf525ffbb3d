/**
 * What a re-run does after a download's channel went wrong, over real channel nodes (memory
 * chain + network) and a real provider service:
 * - `--close` fails after the file is saved: the file stays, and the same command run again
 *   only closes the channel — nothing is downloaded or paid again;
 * - an interrupted download whose channel was closed meanwhile (`sluice withdraw`) resumes on a
 *   new channel from the chunks already on disk, paying only for the rest.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { type ChannelId, SluiceError, isSluiceError } from '@sluice/channel-core';
import { NodePayerChannels, type PayerChannels, download } from '../src/index.ts';
import { addRandomFile } from './helpers.ts';
import { type NodeWorld, startNodeWorld } from './node-world.ts';

const PRICE = 1_000n;
const CHUNK = 262_144;

/** Alice's channels, whose close fails while `failClose` is set (the hub unreachable). */
function flakyClose(inner: PayerChannels): PayerChannels & { failClose: boolean; closes: number } {
  const c = {
    failClose: true,
    closes: 0,
    address: inner.address,
    ensureChannel: (req) => inner.ensureChannel(req),
    getChannel: (id) => inner.getChannel(id),
    pay: (id, inc) => inner.pay(id, inc),
    lastVoucher: (id) => inner.lastVoucher(id),
    async close(id) {
      c.closes++;
      if (c.failClose) throw new SluiceError('PEER_TIMEOUT', 'objective did not complete in time');
      await inner.close(id);
    },
  } satisfies PayerChannels & { failClose: boolean; closes: number };
  return c;
}

describe('re-running a download after its channel went wrong', () => {
  let w: NodeWorld;
  before(async () => {
    w = await startNodeWorld({ price: PRICE, prefix: 'sluice-close-resume-' });
  });
  after(async () => {
    await w.stop();
  });

  it('--close failed after the file was saved: the re-run only closes, paying nothing again', async () => {
    const { record, bytes } = await addRandomFile(w.env, 6 * CHUNK + 5, 'close.bin');
    const url = `${w.service.url}/files/${record.cid}`;
    const out = join(w.env.dir, 'out', 'close.bin');
    const channels = flakyClose(new NodePayerChannels(w.alice, { store: w.aliceStore }));
    const err = await download({ url, output: out, channels, window: 4, closeChannel: true }).then(() => undefined, (e: unknown) => e);
    assert.ok(isSluiceError(err, 'CHANNEL_CLOSE_FAILED'), String(err));
    assert.match(err.message, /the file is complete and saved as .*close\.bin, but closing its channel failed: objective did not complete in time \(PEER_TIMEOUT\)\. Run the same command again to close it \(nothing is downloaded or paid again\)/);
    assert.deepEqual(await readFile(out), bytes, 'the file is saved');
    assert.ok(existsSync(`${out}.sluice-state`), 'the close is remembered');
    const channelId = (err.details as { channelId: ChannelId }).channelId;
    assert.equal(w.bob.getVirtualChannel(channelId)?.paid, 7n * PRICE);

    channels.failClose = false;
    const again = await download({ url, output: out, channels, window: 4, closeChannel: true });
    assert.equal(again.paid, 0n, 'nothing paid again');
    assert.equal(again.sessions, 0, 'nothing downloaded again');
    assert.equal(again.channelId, channelId);
    assert.equal(channels.closes, 2);
    assert.equal(w.alice.getVirtualChannel(channelId)?.status, 'closed');
    assert.equal(w.bob.getVirtualChannel(channelId)?.paid, 7n * PRICE, 'Bob was paid for the file once');
    assert.equal(existsSync(`${out}.sluice-state`), false);
    assert.deepEqual(await readFile(out), bytes);
  });

  it('a close that went on after its failure, a moved file, or a rename cut short by a crash: the re-run still only closes, paying nothing', async () => {
    const { record } = await addRandomFile(w.env, 3 * CHUNK + 1, 'again.bin');
    const url = `${w.service.url}/files/${record.cid}`;
    const channels = flakyClose(new NodePayerChannels(w.alice, { store: w.aliceStore }));
    const failOnce = async (name: string): Promise<ChannelId> => {
      channels.failClose = true;
      const err = await download({ url, output: join(w.env.dir, 'out', name), channels, window: 4, closeChannel: true }).then(() => undefined, (e: unknown) => e);
      assert.ok(isSluiceError(err, 'CHANNEL_CLOSE_FAILED'), String(err));
      channels.failClose = false;
      return (err.details as { channelId: ChannelId }).channelId;
    };
    const earned = (id: ChannelId): bigint => w.bob.getVirtualChannel(id)!.paid;

    // (a) the channel was closed meanwhile (the timed-out close went on, or `sluice withdraw`)
    const a = join(w.env.dir, 'out', 'a.bin');
    const ca = await failOnce('a.bin');
    await w.alice.closeVirtualChannel(ca);
    const ra = await download({ url, output: a, channels, window: 4, closeChannel: true });
    assert.deepEqual([ra.alreadyComplete, ra.paid, ra.sessions], [true, 0n, 0]);
    assert.equal(existsSync(`${a}.sluice-state`), false, 'done: no endless "run again"');

    // (b) the saved file was moved away before the re-run: nothing is downloaded or paid again
    const b = join(w.env.dir, 'out', 'b.bin');
    const cb = await failOnce('b.bin');
    const paidB = earned(cb);
    await rename(b, `${b}.moved`);
    const rb = await download({ url, output: b, channels, window: 4, closeChannel: true });
    assert.deepEqual([rb.alreadyComplete, rb.paid, rb.sessions], [true, 0n, 0]);
    assert.equal(w.alice.getVirtualChannel(cb)?.status, 'closed');
    assert.equal(earned(cb), paidB);

    // (c) a crash between writing "complete" and renaming the part file: the rename is finished
    const c = join(w.env.dir, 'out', 'c.bin');
    const cc = await failOnce('c.bin');
    await rename(c, `${c}.sluice-part`);
    const rc = await download({ url: `http://127.0.0.1:1/files/${record.cid}`, output: c, channels, window: 4, closeChannel: true });
    assert.deepEqual([rc.alreadyComplete, rc.paid], [true, 0n], 'with -o, the provider is not even asked');
    assert.ok(existsSync(c) && !existsSync(`${c}.sluice-part`));
    assert.equal(w.alice.getVirtualChannel(cc)?.status, 'closed');

    // (d) another file to the same output: downloaded and paid for, not taken for the earlier one
    const d = join(w.env.dir, 'out', 'd.bin');
    await failOnce('d.bin');
    const other = await addRandomFile(w.env, 2 * CHUNK, 'other.bin');
    const rd = await download({ url: `${w.service.url}/files/${other.record.cid}`, output: d, channels, window: 4, closeChannel: true });
    assert.equal(rd.alreadyComplete, undefined);
    assert.equal(rd.cid, other.record.cid);
    assert.deepEqual(await readFile(d), other.bytes);
    assert.ok(rd.paid > 0n, 'paid for the other file');
  });

  it('an interrupted download whose channel was closed meanwhile resumes on a new channel, paying only for the rest', async () => {
    const { record, bytes } = await addRandomFile(w.env, 24 * CHUNK, 'resume.bin');
    const url = `${w.service.url}/files/${record.cid}`;
    const out = join(w.env.dir, 'out', 'resume.bin');
    const channels = new NodePayerChannels(w.alice, { store: w.aliceStore });
    const ac = new AbortController();
    let first: ChannelId | undefined;
    const err = await download({
      url, output: out, channels, window: 2, signal: ac.signal,
      onProgress: (p) => {
        if (p.phase === 'channel') first = p.channelId;
        if (p.phase === 'chunk' && p.chunksDone === 10) ac.abort();
      },
    }).then(() => undefined, (e: unknown) => e);
    assert.ok(isSluiceError(err, 'ABORTED'), String(err));
    assert.ok(first !== undefined);
    const paidFirst = w.bob.getVirtualChannel(first)!.paid;
    await w.alice.closeVirtualChannel(first); // `sluice withdraw` meanwhile
    assert.equal(w.alice.getVirtualChannel(first)?.status, 'closed');

    const r = await download({ url, output: out, channels, window: 2 });
    assert.notEqual(r.channelId, first, 'a new channel');
    assert.ok(r.resumedChunks >= 10, `resumed from chunk ${r.resumedChunks}`);
    assert.deepEqual(await readFile(out), bytes);
    const total = paidFirst + w.bob.getVirtualChannel(r.channelId)!.paid;
    assert.ok(total <= 24n * PRICE + 2n * PRICE, `paid ${total} for 24 chunks (at most a window more)`);
    assert.equal(r.paid, w.bob.getVirtualChannel(r.channelId)!.paid);
  });
});
