/**
 * On-chain paths (from an adversarial audit, 2026-11-26) — the hub goes on chain in the middle of a virtual fund.
 *
 * Alice leads L_AI, so she proposes the guarantee for V and the hub countersigns. A malicious hub
 * keeps its countersignature (its transport drops it), so it alone holds L_AI's newest supported
 * state: Alice's funds locked in a guarantee for V, whose postfund never happens. It stops and
 * registers that state with `challenge`. Alice's engine must get her whole deposit back: exit L_AI
 * from the registered state, register V's prefund (which returns the guaranteed amount to her),
 * reclaim and transfer. ADR 0008 says this ("a virtual fund abandoned mid-way ... settled only
 * through the ledger exit's guarantee-target resolution") is tested in the pure suite only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '@sluice/channel-core';
import { getLedgerData, toChainTransaction } from '@sluice/channel-core/engine';
import type { NodeEvent } from '@sluice/channel-core/node';
import { until } from './lib.ts';
import { HUB_POLICY, PATIENT_FALLBACK, balanceOf, memorySuite, openLedgers, passChallengesUntil } from './fallback-lib.ts';

const suite = memorySuite();

test('hub registers the L_AI state with a guarantee it never countersigned back: Alice still recovers her whole deposit', async () => {
  const { e } = suite;
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = suite.scenario('hub-midfund', 13);
  let armed = false;
  const irene = await net.start(I, { policy: HUB_POLICY, fallback: PATIENT_FALLBACK }, (to, kind) => armed && to.toLowerCase() === A.address.toLowerCase() && kind === 'ledgerCountersignature');
  const alice = await net.start(A, { hub: net.hub, fallback: PATIENT_FALLBACK });
  const bob = await net.start(B, { hub: net.hub });
  const events: NodeEvent[] = [];
  alice.onAny((x) => events.push(x));

  const { ai, deposit } = await openLedgers(e, { alice, bob, irene });
  assert.equal(alice.getLedgerChannel(ai)?.leader, true, 'alice leads L_AI');
  const bal0 = await balanceOf(e, asset, A.address);
  const turnBefore = alice.getLedgerChannel(ai)!.turnNum;

  armed = true;
  const funding = alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n }).then(
    (r) => r.channelId,
    (err: { code?: string }) => err.code ?? String(err),
  );
  await until(() => (getLedgerData(irene.engine.store, ai)?.ledger?.current.turnNum ?? 0) > turnBefore, 'the hub holds the guarantee state of L_AI');
  const held = getLedgerData(irene.engine.store, ai)!.ledger!;
  assert.equal(held.current.outcome.guarantees.length, 1, 'the state the hub holds locks Alice funds for V');
  assert.equal(alice.getLedgerChannel(ai)!.turnNum, turnBefore, 'alice never got the countersignature');
  await irene.stop();
  await e.chain.irene.chain.submit(toChainTransaction(P.moveTransaction(ai, P.bestExitMove(P.ledgerToChannel(held), I.key)!, 'challenge', I.key)));
  console.log('virtual fund at alice:', await funding);

  await passChallengesUntil(e, () => alice.getLedgerChannel(ai)?.status === 'closed', 400);
  const d = alice.getDisputes();
  console.log('alice disputes', d.map((x) => [x.kind, x.phase, x.waitingFor, x.mine, x.locked]));
  console.log('fallback txs', events.flatMap((x) => (x.type === 'fallbackTransaction' ? [x.kind] : [])));
  assert.equal(await e.chain.alice.chain.holdings(asset, ai), 0n, 'L_AI paid out');
  assert.equal(await balanceOf(e, asset, A.address), bal0 + deposit, 'alice: her whole deposit back');
});
