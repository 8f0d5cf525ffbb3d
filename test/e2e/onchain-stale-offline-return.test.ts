/**
 * On-chain paths (from an adversarial audit, 2026-11-26) — coverage: stale ledger challenges while the victim is offline, two in a
 * row (the second raising the first), and the victim back before the challenge duration ends.
 * Bob's engine must catch up and checkpoint with his latest state; the stale states never pay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '@sluice/channel-core';
import { getLedgerData, toChainTransaction } from '@sluice/channel-core/engine';
import type { NodeEvent } from '@sluice/channel-core/node';
import { until } from './lib.ts';
import { PRICE, e2eSuite, fundV, passChallenges, payVouchers, startOverLibp2p, statusOf } from './fallback-lib.ts';

const suite = e2eSuite();

test('two stale challenges while bob is away; he returns before the timeout and checkpoints', async () => {
  const { e } = suite;
  const asset = e.token;
  const { irene: I, bob: B } = e.chain;
  const started = await startOverLibp2p(e, 'stale-return', { peerTimeoutMs: 60_000, cooperativeTimeoutMs: 30_000 });
  const { irene, alice, bobInit } = started;
  let bob = started.bob;
  const [, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit: 10n ** 18n }),
    bob.createLedgerChannel({ counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: 4n * 10n ** 17n }),
  ]);
  await until(() => irene.getLedgerChannel(ib)?.status === 'open' && irene.getLedgerChannels().length === 2, 'ledgers open');
  const snaps: P.ConsensusChannel[] = [getLedgerData(irene.engine.store, ib)!.ledger!];
  for (let round = 0; round < 3; round++) {
    const v = await fundV(e, alice, bob, { amount: 10n ** 17n });
    payVouchers(alice, bob, v, 4n);
    await bob.closeVirtualChannel(v);
    await until(() => irene.getLedgerChannel(ib)?.guarantees === 0 && irene.getLedgerChannel(ib)?.counterpartyBalance === BigInt(round + 1) * 4n * PRICE, 'V defunded');
    snaps.push(getLedgerData(irene.engine.store, ib)!.ledger!);
  }
  const agreed = bob.getLedgerChannel(ib)!.turnNum;
  await bob.stop();
  await irene.stop();
  const cheat = (l: P.ConsensusChannel) => toChainTransaction(P.moveTransaction(ib, P.bestExitMove(P.ledgerToChannel(l), I.key)!, 'challenge', I.key));
  await e.chain.irene.chain.submit(cheat(snaps[0]!));
  await e.chain.irene.chain.submit(cheat(snaps[1]!)); // raises the first, still stale
  assert.equal((await statusOf(e, ib)).turnNumRecord, snaps[1]!.current.turnNum);
  await passChallenges(e, 400); // < 600 s: not finalized yet

  bob = await e.start(B, bobInit);
  const events: NodeEvent[] = [];
  bob.onAny((x) => events.push(x));
  await until(async () => (await statusOf(e, ib)).finalizesAt === 0, 'bob clears the stale challenge', 30_000);
  assert.equal((await statusOf(e, ib)).turnNumRecord, agreed);
  await passChallenges(e);
  assert.equal(bob.getLedgerChannel(ib)?.status, 'open');
  // a third stale attempt now fails on chain (turn below the record)
  await assert.rejects(e.chain.irene.chain.submit(cheat(snaps[2]!)));
});
