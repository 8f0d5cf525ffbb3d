/**
 * Challenge durations are policy: a node joins a ledger or virtual channel only when its
 * challenge duration is within range. At 0 a client could finalize a stale ledger state in one
 * block, before the hub's watchtower answers, and take back what it paid; near 2^48 the
 * adjudicator's `block.timestamp + challengeDuration` overflows and no challenge ever succeeds,
 * so a hub deposit or guarantee in such a channel could never be recovered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_CHALLENGE_DURATIONS, isSluiceError } from '../../src/index.ts';
import { challengeDurationRange } from '../../src/engine/policy.ts';
import { challengeDurationFloorS } from '../../src/chain.ts';
import { ADDR, testChain, until, world } from './harness.ts';

const HUGE = 2 ** 48 - 1;

test('the hub refuses ledgers whose challenge duration is 0 or overflows, with the reason', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 5 }, { alice: { ledgerChallengeDuration: 0 }, bob: { ledgerChallengeDuration: HUGE } });
  try {
    const { alice, bob, irene } = w.nodes;
    for (const [node, d] of [[alice, 0], [bob, HUGE]] as const) {
      await assert.rejects(
        node.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n, ...(node === bob ? { deposit: 0n, counterpartyDeposit: 800n } : {}) }),
        (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && e.message.includes(`challenge duration ${d} s is outside what we accept (${DEFAULT_CHALLENGE_DURATIONS.ledger[0]}..${DEFAULT_CHALLENGE_DURATIONS.ledger[1]} s)`),
      );
    }
    assert.equal(irene.getLedgerChannels().length, 0);
  } finally {
    await w.stop();
  }
});

test('hub and payee refuse a virtual channel whose challenge duration is out of range; a policy can widen the range', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 6 }, { alice: { virtualChallengeDuration: HUGE } });
  try {
    const { alice, bob, irene } = w.nodes;
    await alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n });
    await bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: 800n });
    await until(() => irene.getLedgerChannels().filter((l) => l.status === 'open').length === 2, 'ledgers open');
    await assert.rejects(alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }), (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && /virtual channel's challenge duration 281474976710655 s/.test(e.message));
    assert.equal(irene.getLedgerChannels().every((l) => l.locked === 0n), true, 'nothing locked');
  } finally {
    await w.stop();
  }
  // a node whose policy allows 60 s ledgers joins one
  const w2 = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 7 }, { alice: { ledgerChallengeDuration: 60 }, irene: { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n, challengeDurations: { ledger: [60, 86_400] } } } });
  try {
    const { channelId } = await w2.nodes.alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n });
    await until(() => w2.nodes.irene.getLedgerChannel(channelId)?.status === 'open', 'the 60 s ledger open');
  } finally {
    await w2.stop();
  }
});

test('the default minimum follows the time a challenge takes to answer; an explicit one is kept', () => {
  // (12 confirmations + 2 blocks to be mined) x 12 s = 168 s, twice that rounded up to a minute
  assert.equal(challengeDurationFloorS(12, 12), 360);
  assert.equal(challengeDurationFloorS(3, 2), 60);
  assert.equal(challengeDurationFloorS(64, 12), 1_620);
  const [min, max] = DEFAULT_CHALLENGE_DURATIONS.ledger;
  assert.deepEqual(challengeDurationRange({}, 'ledger'), [min, max]);
  assert.deepEqual(challengeDurationRange({ challengeDurationFloor: 60 }, 'ledger'), [min, max], 'never below the default');
  assert.deepEqual(challengeDurationRange({ challengeDurationFloor: 1_620 }, 'virtual'), [1_620, max]);
  assert.deepEqual(challengeDurationRange({ challengeDurationFloor: 1_620, challengeDurations: { ledger: [120, 86_400] } }, 'ledger'), [120, 86_400], 'explicit minimum kept');
  assert.deepEqual(challengeDurationRange({ challengeDurationFloor: 1_620, challengeDurations: { ledger: [undefined, 86_400] } }, 'ledger'), [1_620, 86_400]);
  assert.deepEqual(challengeDurationRange({ challengeDurationFloor: 1_620, challengeDurations: { ledger: [120, 86_400] } }, 'virtual'), [1_620, max]);
});

test('a node waiting for 12 confirmations refuses challenges too short to answer at them', async () => {
  // an injected chain: the node assumes 12 s blocks, so its floor is 360 s
  const w = await world({ minDelayMs: 0, maxDelayMs: 2, seed: 8 }, { alice: { ledgerChallengeDuration: 300 }, irene: { chain: testChain({ confirmations: 12 }) } });
  try {
    const { alice, irene } = w.nodes;
    assert.deepEqual(irene.challengeDurations, { ledger: [360, DEFAULT_CHALLENGE_DURATIONS.ledger[1]], virtual: [360, DEFAULT_CHALLENGE_DURATIONS.virtual[1]] });
    assert.deepEqual(alice.challengeDurations.ledger, DEFAULT_CHALLENGE_DURATIONS.ledger, 'one confirmation: the default range');
    await assert.rejects(
      alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 1000n }),
      (e: unknown) => isSluiceError(e, 'HUB_POLICY_REJECTED') && e.message.includes('challenge duration 300 s is outside what we accept (360..'),
    );
  } finally {
    await w.stop();
  }
});
