/**
 * "Decide, persist, serve" with the channel engine's Node (NodePayeeChannels): a voucher is
 * committed at once and fsync'd in a group commit shortly after. Until that fsync is done, nothing
 * may be served against it — not through a replay of it (`duplicate`), and not through the channel's
 * `paid` figure a new session starts from. The fsync is held open here (a slow disk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { ChannelId } from '@sluice/channel-core';
import { openMemoryStore } from '../../channel-core/src/sqlite/index.ts';
import type { Store } from '../../channel-core/src/ports/store.ts';
import { ADDR, openLedgers, until, world } from '../../channel-core/test/engine/harness.ts';
import { FsChunkStore, importFile } from '../src/content/index.ts';
import { NodePayeeChannels, createProviderService, openUsageStore } from '../src/service/index.ts';
import { encodeFrame } from '../src/wire/index.ts';
import { type Fixture, raw } from './service-helpers.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Bob's node on a store whose fsyncs can be held; a funded virtual channel Alice → Bob. */
async function setup(seed: number) {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed });
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let held = 0;
  const inner = openMemoryStore();
  const store: Store = {
    ...inner,
    async syncAsync() {
      if (gate === undefined) return;
      held++;
      await gate;
      held--;
    },
  };
  await w.nodes.bob.stop();
  const bob = w.make('bob', store);
  await bob.start();
  await openLedgers({ ...w, nodes: { ...w.nodes, bob } }, 10_000n, 10_000n);
  const { channelId } = await w.nodes.alice.createVirtualChannel({ payee: ADDR.bob, amount: 1000n });
  await until(() => bob.getVirtualChannel(channelId)?.status === 'funded', 'funded');
  await until(() => w.net.pending() === 0, 'idle');
  return {
    w,
    bob,
    channelId: channelId as ChannelId,
    hold(): void {
      gate = new Promise((r) => (open = r));
    },
    release(): void {
      gate = undefined;
      open?.();
    },
    held: () => held,
  };
}

test('Node.receiveVoucherAsync: a replay of a voucher whose fsync is pending resolves only once it is durable', async () => {
  const s = await setup(7);
  try {
    const v = s.w.nodes.alice.pay(s.channelId, 30n);
    s.hold();
    let firstDone = false;
    let replayDone = false;
    const first = s.bob.receiveVoucherAsync(v).then((r) => ((firstDone = true), r));
    const replay = s.bob.receiveVoucherAsync(v).then((r) => ((replayDone = true), r));
    await until(() => s.held() > 0, 'the fsync is pending');
    await sleep(50);
    assert.equal(s.bob.getVirtualChannel(s.channelId)?.paid, 30n, 'committed (visible) already');
    assert.equal(firstDone, false);
    assert.equal(replayDone, false, 'the duplicate did not resolve before the voucher it reports was durable');
    s.release();
    assert.equal((await first).kind, 'accepted');
    const r = await replay;
    assert.equal(r.kind, 'duplicate');
    assert.equal(r.total, 30n);
    // Once durable, a replay resolves at once (no fsync of its own).
    s.hold();
    assert.equal((await s.bob.receiveVoucherAsync(v)).kind, 'duplicate');
    assert.equal(s.held(), 0);
  } finally {
    s.release();
    await s.w.stop();
  }
});

test('provider on the Node: a resumed session is served nothing against a voucher that is not durable yet', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-provider-durable-'));
  const s = await setup(3);
  const chunks = await FsChunkStore.open({ dir: join(dir, 'store'), fsync: false });
  await writeFile(join(dir, 'f'), randomBytes(10 * 262_144));
  const rec = await importFile(join(dir, 'f'), { store: chunks });
  const usage = openUsageStore(join(dir, 'usage.db'));
  const channels = new NodePayeeChannels(s.bob);
  const service = createProviderService({ pricePerChunk: 10n })({ store: chunks, channels, usage });
  await service.start();
  const f = { service } as unknown as Fixture;
  try {
    s.hold(); // the disk is slow: the voucher's fsync does not complete yet
    const voucher = s.w.nodes.alice.pay(s.channelId, 30n); // pays chunks 0..2
    const a = await raw(f);
    a.hello(s.channelId, rec.cid, 0, 10);
    await a.waitFor((x) => x.type === 'ready');
    a.send(encodeFrame({ type: 'voucher', voucher }));
    await until(() => s.bob.getVirtualChannel(s.channelId)?.paid === 30n && s.held() > 0, 'committed, fsync pending');
    a.ws.terminate(); // Alice's link drops; she resumes and resends her last voucher
    const b = await raw(f);
    b.hello(s.channelId, rec.cid, 0, 10);
    b.send(encodeFrame({ type: 'voucher', voucher }));
    await sleep(300);
    assert.deepEqual(a.chunks(), []);
    assert.deepEqual(b.chunks(), [], `chunks ${b.chunks()} were served before the voucher paying for them was durable`);
    s.release();
    await b.waitFor((x) => x.type === 'chunk' && x.index === 2);
    await sleep(100);
    assert.deepEqual(b.chunks(), [0, 1, 2], 'once durable, the credit pays the resumed session, and nothing more');
    assert.equal((await channels.getVirtualChannel(s.channelId))?.paid, 30n);
    b.ws.close(1000);
    await b.closed;
  } finally {
    s.release();
    await service.stop();
    usage.close();
    await s.w.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
