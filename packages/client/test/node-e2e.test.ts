/**
 * End to end through the engine's Node API: Alice (client), Irene (hub) and Bob (provider)
 * are real channel nodes on the in-memory network and chain (`@sluice/channel-core/memory`);
 * the provider serves real files over real HTTP + ws; Alice's client opens her ledger with
 * the hub and a virtual channel to Bob through `NodePayerChannels`, Bob accepts vouchers
 * through `NodePayeeChannels`. Then the channel is closed and Bob withdraws.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ZERO_ADDRESS, addressToDestination, type Bytes32, isSluiceError } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import type { ProviderService, UsageStore } from '@sluice/provider/service';
import { payeeNodePolicy, startProviderRetention } from '@sluice/provider/node-setup';
import { NodePayerChannels, download } from '../src/index.ts';
import { addRandomFile } from './helpers.ts';
import { ADDR, type NodeWorld, startNodeWorld } from './node-world.ts';

const PRICE = 1_000n;

describe('end to end over the Node API (memory chain + network)', () => {
  /** Bob's clock (moved forward at the end, to let his retention forget a channel id). */
  const bobClock = { offset: 0, now: () => Date.now() + bobClock.offset };
  let w: NodeWorld;
  let env: NodeWorld['env'];
  let chain: NodeWorld['chain'];
  let alice: Node;
  let bob: Node;
  let aliceStore: NodeWorld['aliceStore'];
  let bobStore: NodeWorld['bobStore'];
  let service: ProviderService;
  let usage: UsageStore;

  before(async () => {
    // Bob's node has the policy `sluice-provider start` gives it (default flags: a nonce window of 1 h)
    w = await startNodeWorld({ price: PRICE, bob: { policy: payeeNodePolicy({ maxChannels: 256, nonceMaxAge: 3_600_000 }), clock: bobClock } });
    ({ env, chain, alice, bob, aliceStore, bobStore, service, usage } = w);
  });
  after(async () => {
    await w.stop();
  });

  it('downloads byte-identical files paying through a virtual channel; Bob earns chunks × price; close + withdraw settle it', async () => {
    const { record, bytes } = await addRandomFile(env, 10 * 262_144 + 77);
    const payer = new NodePayerChannels(alice, { store: aliceStore });
    const out = join(env.dir, 'out', 'e2e.bin');
    const r = await download({ url: `${service.url}/files/${record.cid}`, output: out, channels: payer, window: 4, budget: 100_000n });
    assert.deepEqual(await readFile(out), bytes);
    assert.equal(r.paid, 11n * PRICE);
    const v = bob.getVirtualChannel(r.channelId);
    assert.equal(v?.role, 'payee');
    assert.equal(v?.paid, 11n * PRICE, "Bob's node holds the best voucher");
    assert.equal(alice.getLedgerChannels().length, 1, 'Alice opened one ledger with the hub');

    // A second file reuses the virtual channel (it was sized with a margin of ≥ one window).
    const small = await addRandomFile(env, 1000);
    const r2 = await download({ url: `${service.url}/files/${small.record.cid}`, output: join(env.dir, 'out', 'e2e-small.bin'), channels: payer, window: 4 });
    assert.equal(r2.channelId, r.channelId);
    assert.equal(bob.getVirtualChannel(r.channelId)?.paid, 12n * PRICE);

    // Provider side: earnings, then close the virtual channel and withdraw via the admin API.
    const auth = { authorization: 'Bearer t' };
    const earnings = (await (await fetch(`${service.url}/admin/earnings`, { headers: auth })).json()) as { total: string };
    assert.equal(earnings.total, (12n * PRICE).toString());
    assert.equal((await fetch(`${service.url}/admin/channels/${r.channelId}/close`, { method: 'POST', headers: auth })).status, 200);
    assert.equal(bob.getVirtualChannel(r.channelId)?.status, 'closed');
    // History retention on Bob's node (as `sluice-provider start --retain-history` runs it): the
    // closed channel's records go, its usage row too, the earnings stay
    await new Promise((res) => setTimeout(res, 5));
    assert.equal(usage.list().length, 1);
    const retention = startProviderRetention(bob, usage, { olderThanMs: 1, everyMs: 60_000 }); // a pass at once
    for (let i = 0; i < 500 && usage.list().length > 0; i++) await new Promise((res) => setTimeout(res, 10));
    await retention.stop();
    assert.equal(bob.getVirtualChannel(r.channelId), undefined);
    assert.deepEqual(usage.list(), [], 'the usage row of the pruned channel is gone');
    const after = (await (await fetch(`${service.url}/admin/earnings`, { headers: auth })).json()) as { total: string; channels: unknown[] };
    assert.deepEqual([after.total, after.channels.length], [(12n * PRICE).toString(), 0], 'the total still counts the pruned channel');
    const bobLedger = bob.getLedgerChannels()[0];
    assert.equal(bobLedger?.myBalance, 12n * PRICE, "Bob's ledger with the hub now holds his earnings");
    const w = (await (await fetch(`${service.url}/admin/withdraw`, { method: 'POST', headers: auth })).json()) as { result: { ledgers: { status: string }[] } };
    assert.equal(w.result.ledgers[0]?.status, 'closed');
    // Bob can no longer be paid: new clients are told so before they deposit anything
    const health = await fetch(`${service.url}/healthz`);
    assert.equal(health.status, 503);
    assert.match(((await health.json()) as { reason: string }).reason, /ledger channel with the hub is closed/);
    const refused = await download({ url: `${service.url}/files/${record.cid}`, output: join(env.dir, 'out', 'after.bin'), channels: payer, window: 4 }).then(() => undefined, (e: unknown) => e);
    assert.ok(isSluiceError(refused, 'OVERLOADED'), String(refused));
    assert.match(refused.message, /provider: this provider cannot be paid now: our ledger channel with the hub is closed/);
    assert.equal(chain.payouts(ZERO_ADDRESS, addressToDestination(ADDR.bob) as Bytes32), 12n * PRICE, 'Bob withdrew his earnings on chain');
    // The pruned channel's id is kept while its nonce is recent (a replayed opening would be
    // ignored), then forgotten: Bob's nonce window refuses that opening by then anyway.
    assert.equal(bobStore.isRetired!(r.channelId), true);
    bobClock.offset = 2 * 3_600_000;
    const later = await bob.pruneHistory({ olderThanMs: 7 * 86_400_000 });
    assert.equal(later.forgotten, 1, 'the id is forgotten once its nonce is past the window');
    assert.equal(bobStore.isRetired!(r.channelId), false);
  });
});
