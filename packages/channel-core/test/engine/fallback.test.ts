/**
 * The engine's on-chain fallback over the in-memory network and chain: transaction mapping and
 * keys of the fallback steps, the watchtower answering a stale ledger challenge with
 * `checkpoint`, the Node API's settle/exit rules and the disputes read model. (The full sad path
 * with reclaim and payout runs against anvil in test/e2e/fallback*.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P, isSluiceError, sameAddress, type Bytes32, type ChannelId } from '../../src/index.ts';
import { getLedgerData, toChainTransaction, transactionKey } from '../../src/engine/index.ts';
import { ADDR, KEYS, dropSends, openLedgers, until, world } from './harness.ts';

test('fallback transactions: one journal key per step; transferAllAssets keeps its channel id', () => {
  const id = ('0x' + 'ab'.repeat(32)) as ChannelId;
  const t = { kind: 'transferAllAssets', channelId: id, outcome: [], stateHash: ('0x' + '00'.repeat(32)) as Bytes32 } as const;
  assert.deepEqual(toChainTransaction(t), { kind: 'transferAllAssets', channelId: id, outcome: [], stateHash: t.stateHash });
  assert.equal(transactionKey(t), `transferAllAssets:${id}:${t.stateHash}`);
  const r1 = { kind: 'reclaim', channelId: id, targetChannelId: ('0x' + '01'.repeat(32)) as ChannelId } as unknown as P.Transaction;
  const r2 = { kind: 'reclaim', channelId: id, targetChannelId: ('0x' + '02'.repeat(32)) as ChannelId } as unknown as P.Transaction;
  assert.notEqual(transactionKey(r1), transactionKey(r2), 'reclaims of two guarantees are two steps');
  const c = toChainTransaction(r1) as unknown as Record<string, unknown>;
  assert.equal(c['channelId'], undefined);
  assert.equal(c['targetChannelId'], undefined);
});

test('watchtower: a stale ledger challenge is checkpointed, the cooperative path goes on', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 3 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai, ib } = await openLedgers(w, 1000n, 800n);
    await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
    const stale = getLedgerData(w.stores.irene, ib as ChannelId)!.ledger!;
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded');
    for (let i = 0; i < 5; i++) assert.equal(bob.receiveVoucher(alice.pay(v, 10n), { price: 10n }).kind, 'accepted');
    await bob.closeVirtualChannel(v);
    await until(() => irene.getLedgerChannel(ib)?.counterpartyBalance === 50n, 'hub agrees');
    const agreed = bob.getLedgerChannel(ib as ChannelId)!.turnNum;

    await irene.stop();
    const cheat = P.moveTransaction(ib as ChannelId, P.bestExitMove(P.ledgerToChannel(stale), KEYS.irene)!, 'challenge', KEYS.irene);
    await w.chain.submit(toChainTransaction(cheat));
    await until(() => w.events.bob.some((x) => x.type === 'fallbackTransaction' && x.kind === 'checkpoint'), 'bob checkpoints');
    const st = await w.chain.statusOf(ib as ChannelId);
    assert.equal(st.finalizesAt, 0);
    assert.equal(st.turnNumRecord, agreed);
    assert.ok(w.events.bob.some((x) => x.type === 'challengeRegistered' && x.channelId === ib && x.kind === 'ledger' && x.turnNum === stale.current.turnNum));
    assert.ok(w.events.bob.some((x) => x.type === 'challengeAnswered' && x.action === 'checkpoint' && x.turnNum === agreed && x.challengedTurnNum === stale.current.turnNum));
    assert.ok(!w.events.bob.some((x) => x.type === 'fallbackStarted'));
    assert.equal(bob.getLedgerChannel(ib as ChannelId)?.status, 'open');
    assert.equal(w.stores.bob.getMeta('watchtower.pending'), '[]', 'journal emptied once sent');
  } finally {
    await w.stop();
  }
});

test('settle / exit: cooperative first, rules, and the disputes read model once forced', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 5 });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ai, ib } = await openLedgers(w, 1000n, 800n);
    await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'ledgers open');
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');
    for (let i = 0; i < 3; i++) bob.receiveVoucher(alice.pay(v, 10n), { price: 10n });

    await assert.rejects(alice.exitLedgerChannel(ai as ChannelId), (e) => isSluiceError(e, 'LEDGER_NOT_EMPTY'));
    await assert.rejects(irene.settleVirtualChannel(v), (e) => isSluiceError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(bob.settleVirtualChannel(('0x' + '77'.repeat(32)) as ChannelId), (e) => isSluiceError(e, 'CHANNEL_UNKNOWN'));

    const late = alice.pay(v, 10n); // signed, delivered only after the settle started
    const r = await bob.settleVirtualChannel(v, { force: true });
    assert.equal(r.mode, 'onChain');
    // V only: L_IB is with the hub, who is online (its guarantee is removed by proof once V is finalized)
    assert.deepEqual([...(r.mode === 'onChain' ? r.objectiveIds : [])], [P.virtualChallengeId(v)]);
    assert.equal(bob.getVirtualChannel(v)?.status, 'closing');
    assert.equal(bob.receiveVoucher(late, { price: 10n }).kind, 'rejected', 'no voucher accepted once settling on chain');
    await until(() => bob.getDisputes().length === 1 && bob.getDisputes().every((d) => d.phase === 'challenge'), 'the challenge registered');
    const dv = bob.getDisputes().find((d) => d.kind === 'virtual')!;
    assert.equal(dv.turnNumRecord, 2, 'the redemption state');
    assert.equal(dv.mine, 30n);
    assert.ok(dv.secondsLeft !== null && dv.secondsLeft > 0 && dv.finalizesAt !== null);
    // idempotent: forcing again starts nothing new
    const again = await bob.settleVirtualChannel(v, { force: true });
    assert.deepEqual(again.mode === 'onChain' ? [...again.objectiveIds] : [], [P.virtualChallengeId(v)]);
    // the others' watchtowers follow V; no ledger goes on chain
    await until(() => alice.getDisputes().some((d) => d.channelId === v) && irene.getDisputes().length === 1, 'everyone follows V on chain');
    assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
    assert.equal(irene.getLedgerChannel(ai)?.status, 'open');
    // but a user leaving a ledger whose V is being settled on chain goes on chain at once, unforced
    // (no cooperative close can run before V finalizes): it was LEDGER_NOT_EMPTY before V went on chain
    const x = await alice.exitLedgerChannel(ai as ChannelId);
    assert.equal(x.mode, 'onChain');
    assert.ok(x.mode === 'onChain' && x.objectiveIds.includes(P.ledgerExitId(ai as ChannelId)), 'the ledger exit');
    assert.equal(alice.getLedgerChannel(ai)?.status, 'closing');
    assert.equal(bob.getLedgerChannel(ib)?.status, 'open', "the other ledger is not touched");
  } finally {
    await w.stop();
  }
});

test('V going on chain: a ledger whose counterparty is already known stalled is exited with it, not after a removal that would time out', async () => {
  // the stall check runs late (objective timeout 60 s), the peer timeout is short: only the new rule can exit L_IB here
  const bobInit = { objectiveTimeoutMs: 60_000, fallback: { peerTimeoutMs: 200 } };
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 7 }, { bob: bobInit });
  try {
    const { alice, irene, bob } = w.nodes;
    const { ib } = await openLedgers(w, 1000n, 800n);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded' && irene.getVirtualChannel(v)?.status === 'funded', 'V funded');
    for (let i = 0; i < 3; i++) bob.receiveVoucher(alice.pay(v, 10n), { price: 10n });
    // the hub goes silent toward Bob
    dropSends(w, 'irene', (to) => sameAddress(to, ADDR.bob));
    const closing = bob.closeVirtualChannel(v, { timeoutMs: 10_000 }).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 600)); // Bob's close waits on the hub past his peer timeout
    const r = await bob.settleVirtualChannel(v, { force: true });
    assert.ok(r.mode === 'onChain');
    assert.deepEqual([...r.objectiveIds].sort(), [P.ledgerExitId(ib as ChannelId), P.virtualChallengeId(v)].sort());
    assert.ok(w.events.bob.some((e) => e.type === 'fallbackStarted' && e.channelId === ib && e.reason === 'peerStalled'), 'L_IB exited: its counterparty is stalled');
    assert.ok(isSluiceError(await closing, 'CHANNEL_CLOSING'));
  } finally {
    await w.stop();
  }
});
