/**
 * `headStartRank`: who waits before a fallback step two parties may make at once (the engine
 * waits `rank × followerHeadStartMs`, then reads the chain). A ledger exit's payout steps and
 * first move: the leader at once, the follower one head start. A virtual channel's first move:
 * the payee (its redemption is the best move) at once, the payer one, the hub two. Everything
 * else at once, answers to a registered challenge above all (they race its finalization). And the
 * node's default head start: two polls (at least 1 s) plus a block, none on a local chain.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChannelId } from '../../src/index.ts';
import { protocols as P } from '../../src/index.ts';
import { defaultHeadStartMs, headStartRank } from '../../src/engine/fallback.ts';
import { alice, bob, irene } from '../protocols/fixtures.ts';
import { download } from '../protocols/fallback-chain.ts';

const step = (kind: P.Transaction['kind'], channelId: ChannelId): P.Transaction => ({ kind, channelId }) as unknown as P.Transaction;

test('a ledger exit: the leader pays out and registers at once, the follower after one head start; answers and other steps at once', () => {
  const dl = download({ chunks: 2 });
  const leader = P.newLedgerExit({ ledger: dl.ledgers.get(alice.name)!.get(dl.AI)! });
  const follower = P.newLedgerExit({ ledger: dl.ledgers.get(irene.name)!.get(dl.AI)! });
  for (const kind of ['reclaim', 'transferAllAssets'] as const) {
    assert.equal(headStartRank(leader, step(kind, dl.AI)), 0);
    assert.equal(headStartRank(follower, step(kind, dl.AI)), 1);
    assert.equal(headStartRank(follower, step(kind, dl.AI.toUpperCase().replace('0X', '0x') as ChannelId)), 1, 'ids compared case-blind');
  }
  // its first move, nothing registered: both ends may give up on each other at once
  for (const kind of ['challenge', 'conclude'] as const) {
    assert.equal(headStartRank(leader, step(kind, dl.AI)), 0, `leader ${kind}`);
    assert.equal(headStartRank(follower, step(kind, dl.AI)), 1, `follower ${kind}`);
    // an answer to a registered challenge races its finalization: at once
    const registered = { ...follower, onChain: { ...P.OPEN_RECORD, turnNumRecord: 3, finalizesAt: 1_000 } };
    assert.equal(headStartRank(registered, step(kind, dl.AI)), 0, `follower answering with ${kind}`);
  }
  for (const kind of ['checkpoint', 'deposit'] as const) assert.equal(headStartRank(follower, step(kind, dl.AI)), 0, kind);
  assert.equal(headStartRank(follower, step('reclaim', dl.IB)), 0, 'not this ledger');
});

test("a virtual challenge: the payee moves at once, the payer after one head start, the hub after two", () => {
  const dl = download({ chunks: 2 });
  const rank = (who: typeof alice, kind: P.Transaction['kind'], id: ChannelId = dl.V): number =>
    headStartRank(P.newVirtualChallenge({ v: dl.vs.get(who.name)!, ...(who === bob ? { bestVoucher: dl.bestVoucher } : {}) }), step(kind, id));
  for (const kind of ['challenge', 'conclude'] as const) {
    assert.equal(rank(bob, kind), 0, `payee ${kind}`);
    assert.equal(rank(alice, kind), 1, `payer ${kind}`);
    assert.equal(rank(irene, kind), 2, `hub ${kind}`);
  }
  assert.equal(rank(irene, 'checkpoint'), 0, 'a checkpoint answers a challenge: at once');
  // once a challenge of V is registered, a move answers it (it races the finalization): at once
  const registered = { ...P.newVirtualChallenge({ v: dl.vs.get(irene.name)! }), onChain: { ...P.OPEN_RECORD, turnNumRecord: 1, finalizesAt: 1_000 } };
  assert.equal(headStartRank(registered, step('conclude', dl.V)), 0, 'the hub answers a registered challenge at once');
  assert.equal(headStartRank({ ...registered, onChain: P.OPEN_RECORD }, step('challenge', dl.V)), 2, 'a record with nothing registered');
  assert.equal(rank(irene, 'challenge', dl.AI), 0, 'not V');
  assert.equal(headStartRank(undefined, step('challenge', dl.V)), 0, 'no objective');
});

test("the node's default head start: two polls (at least 1 s) plus a block; no block on a local chain, 12 s where the chain cannot tell", () => {
  assert.equal(defaultHeadStartMs({ pollIntervalMs: 1_000, local: true, blockTimeS: undefined }), 2_000, 'a local chain polled every second');
  assert.equal(defaultHeadStartMs({ pollIntervalMs: 50, local: true, blockTimeS: undefined }), 1_000, 'at least 1 s');
  assert.equal(defaultHeadStartMs({ pollIntervalMs: 1_000, local: false, blockTimeS: 12 }), 14_000, 'Ethereum');
  assert.equal(defaultHeadStartMs({ pollIntervalMs: 1_000, local: false, blockTimeS: 2 }), 4_000, 'a 2 s chain');
  assert.equal(defaultHeadStartMs({ pollIntervalMs: 4_000, local: false, blockTimeS: undefined }), 20_000, 'block time unknown: 12 s assumed');
});
