/**
 * Regression (found by `npm run bench:chaos`, seed 3) — a cooperative close of a virtual channel V
 * that reaches the hub only after the hub went on chain for V must not be joined: the hub's
 * virtual defund would wait for ledger updates on ledgers being exited, for ever.
 *
 * Alice (payer) and Bob (payee) close V; their messages to the hub Irene are held back (in the
 * chaos run: a payee SIGKILLed past the peer timeout made a payer exit its ledger on chain, the
 * hub answered by settling every virtual channel those ledgers touched on chain, while the final
 * state of another channel's close was still in an outbox). Irene goes on chain for Bob's ledger
 * and so for V (`exitLedgerChannel --force`); Alice and Bob see V challenged and give up their
 * close (so they will never propose the ledger updates it needs). Then the held messages arrive.
 *
 * Before the fix Irene joined the late `VirtualDefund` of V (V is `closing` under its fallback too,
 * and joinVirtualDefund takes a closing channel); #startFallbackObjective had already failed the
 * objectives on V, so nothing ever ended this one: it stayed active at the hub, stalled
 * `WaitingForLedgerDefunding`, after every dispute had paid out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sameAddress, type Address } from '@sluice/channel-core';
import { decodeWireMessage } from '@sluice/channel-core/engine';
import { createMemoryNetwork } from '@sluice/channel-core/memory';
import { createNode, type Node } from '@sluice/channel-core/node';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import type { Actor } from '../chain/lib.ts';
import { until } from './lib.ts';
import { HUB_POLICY, PATIENT_FALLBACK, e2eSuite, fallbackInit, fundV, openLedgers, passChallengesUntil, payVouchers } from './fallback-lib.ts';

const suite = e2eSuite();

test('a cooperative close that reaches the hub after it went on chain for the channel is refused, and no objective is left behind', { timeout: 90_000 }, async () => {
  const e = suite.e;
  const { alice: A, irene: I, bob: B } = e.chain;
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed: 11 });
  const nodes: Node[] = [];
  let hold = false;
  const held: { from: MessageService; payload: Uint8Array }[] = [];
  const start = async (actor: Actor, extra: Parameters<typeof fallbackInit>[3]): Promise<Node> => {
    const inner = net.service(actor.address);
    const messaging: MessageService = {
      self: inner.self,
      send: (to: Address, payload, opts) => {
        if (hold && sameAddress(to, I.address)) {
          held.push({ from: inner, payload });
          return Promise.resolve(`held-${held.length}`);
        }
        return inner.send(to, payload, opts);
      },
      onMessage: (h) => inner.onMessage(h),
      onUndeliverable: (h) => inner.onUndeliverable(h),
      start: () => inner.start(),
      stop: () => inner.stop(),
    };
    const n = createNode(fallbackInit(e, actor, 'late-defund', { ...extra, listen: [], fallback: PATIENT_FALLBACK }), { messaging });
    await n.start();
    nodes.push(n);
    return n;
  };
  try {
    const irene = await start(I, { policy: HUB_POLICY });
    const hub = { address: I.address, multiaddrs: [] };
    const alice = await start(A, { hub });
    const bob = await start(B, { hub });
    const { ib } = await openLedgers(e, { alice, bob, irene });
    const v = await fundV(e, alice, bob, { also: [irene] });
    payVouchers(alice, bob, v, 3n);

    // Alice closes V; nothing of it reaches Irene yet
    hold = true;
    void alice.closeVirtualChannel(v, { timeoutMs: 60_000 }).catch(() => {});
    const isFinalStateForV = (p: Uint8Array): boolean => {
      const m = decodeWireMessage(p);
      return m.kind === 'signedState' && m.objectiveId === `VirtualDefund-${v}`;
    };
    await until(() => held.some((h) => isFinalStateForV(h.payload)), "V's final state on its way to Irene");

    // Irene settles Bob's ledger on chain, and with it V
    await irene.exitLedgerChannel(ib, { force: true });
    await until(() => irene.engine.activeObjectives().some((o) => o.id === `VirtualChallenge-${v}`), 'Irene challenging V');
    assert.ok(!irene.engine.activeObjectives().some((o) => o.type === 'virtualDefund'), 'no cooperative close of V at Irene yet');

    // Alice and Bob see V challenged on chain and give up their cooperative close of it
    const closeGivenUp = (n: Node): boolean => !n.engine.activeObjectives().some((o) => o.id === `VirtualDefund-${v}`);
    await until(() => closeGivenUp(alice) && closeGivenUp(bob), 'Alice and Bob giving up the cooperative close');

    // the late messages arrive
    hold = false;
    for (const h of held.splice(0)) await h.from.send(I.address, h.payload).catch(() => {});
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(
      irene.engine.activeObjectives().filter((o) => o.type === 'virtualDefund').map((o) => o.id),
      [],
      'Irene joined a cooperative close of a channel she is settling on chain',
    );

    // and once every dispute is over, nothing is left in progress at Irene
    await passChallengesUntil(e, () => irene.getDisputes().length === 0, 700, 45_000);
    assert.deepEqual(irene.getDisputes(), [], 'disputes left at Irene');
    assert.deepEqual(irene.engine.activeObjectives().map((o) => `${o.id} ${irene.engine.objective(o.id)?.waitingFor ?? '?'}`), [], 'objectives left at Irene');
  } finally {
    const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 5_000).unref())]);
    for (const n of nodes) await bounded(n.stop());
    net.close();
  }
});
