/**
 * Hostile input: every message of a real run, with one field replaced by a hostile value, fed to
 * every objective at several points of its life. `update` and the following `crank` must either
 * succeed or fail with a SluiceError — never anything else.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getChannelId, isSluiceError, protocols as P } from '../../src/index.ts';
import { type Actor, Sim, alice, bob, fundedLedger, irene, rng, secrets, virtualPrefund } from './fixtures.ts';

const HOSTILE: readonly unknown[] = [
  undefined,
  null,
  0,
  -1,
  1.5,
  2 ** 53,
  Number.NaN,
  '',
  '0x',
  '0xzz',
  'x'.repeat(10_000),
  -1n,
  1n << 300n,
  0n,
  true,
  [],
  {},
  [1, 2, 3],
  new Uint8Array(0),
  new Uint8Array(65),
  new Uint8Array(65).fill(0xff),
  { kind: 'signedState' },
  Symbol('s'),
];

/** All paths (arrays of keys) into a value, objects and arrays only. */
function paths(v: unknown, prefix: (string | number)[] = [], out: (string | number)[][] = [], depth = 0): (string | number)[][] {
  if (depth > 8 || v === null || typeof v !== 'object' || v instanceof Uint8Array) return out;
  for (const k of Object.keys(v)) {
    const p = [...prefix, Array.isArray(v) ? Number(k) : k];
    out.push(p);
    paths((v as Record<string, unknown>)[k], p, out, depth + 1);
  }
  return out;
}

function setPath(v: unknown, path: readonly (string | number)[], x: unknown): unknown {
  if (path.length === 0) return x;
  const [k, ...rest] = path;
  const copy = (Array.isArray(v) ? [...v] : { ...(v as object) }) as Record<string | number, unknown>;
  copy[k!] = setPath((v as Record<string | number, unknown>)[k!], rest, x);
  return copy;
}

function setup() {
  const sim = new Sim(rng(5), 0);
  const [aiA, aiI] = fundedLedger(alice, irene, 100n, 100n, 1n);
  const [ibI, ibB] = fundedLedger(irene, bob, 100n, 10n, 2n);
  const pre = virtualPrefund(alice, irene, bob, 40n);
  const V = getChannelId(pre);
  const fresh = (a: Actor): P.Objective =>
    a === alice
      ? P.newVirtualFund({ prefund: pre, myAddress: a.address, toMyRight: aiA })
      : a === irene
        ? P.newVirtualFund({ prefund: pre, myAddress: a.address, toMyLeft: aiI, toMyRight: ibI, hubPolicy: {} })
        : P.newVirtualFund({ prefund: pre, myAddress: a.address, toMyLeft: ibB });
  for (const [a, l] of [[alice, aiA], [irene, aiI], [irene, ibI], [bob, ibB]] as const) sim.addLedger(a, l);
  for (const a of [alice, irene, bob]) sim.start(a, fresh(a));
  sim.run();
  const funded = (a: Actor) => sim.objective<P.VirtualFundObjective>(a, P.virtualFundId(V));
  // defund objectives (paid 25), run to completion too, recording their messages
  sim.start(alice, P.newVirtualDefund({ v: funded(alice).v, toMyRight: funded(alice).toMyRight!, bound: { role: 'payer', maxPaid: 25n }, paid: 25n }));
  sim.start(irene, P.newVirtualDefund({ v: funded(irene).v, toMyLeft: funded(irene).toMyLeft!, toMyRight: funded(irene).toMyRight!, bound: { role: 'intermediary' } }));
  sim.start(bob, P.newVirtualDefund({ v: funded(bob).v, toMyLeft: funded(bob).toMyLeft!, bound: { role: 'payee', minPaid: 25n } }));
  const defundStart = (a: Actor) => sim.objective<P.Objective>(a, P.virtualDefundId(V));
  const starts = { alice: [fresh(alice), funded(alice), defundStart(alice)], irene: [fresh(irene), funded(irene), defundStart(irene)], bob: [fresh(bob), funded(bob), defundStart(bob)] };
  sim.run();
  assert.deepEqual(sim.rejections, []);
  // direct fund / defund / top-up objectives too
  const df = P.newDirectFund(fundedLedgerPrefund(), irene.address);
  const dd = P.newDirectDefund(P.ledgerToChannel(aiI));
  const tu = P.newLedgerTopUp({ ledger: aiI, depositor: alice.address, amount: 5n });
  return { sim, objectives: [...starts.alice, ...starts.irene, ...starts.bob, df, dd, tu], actors: [alice, alice, alice, irene, irene, irene, bob, bob, bob, irene, irene, irene] };
}

function fundedLedgerPrefund() {
  return { ...P.consensusSignedState(fundedLedger(alice, irene, 100n, 100n, 1n)[0]).state, turnNum: 0 };
}

test('hostile messages only ever cause SluiceErrors', () => {
  const { sim, objectives, actors } = setup();
  const events = sim.log.map((l) => l.event);
  assert.ok(events.length > 20);
  let rejected = 0;
  let accepted = 0;
  fc.assert(
    fc.property(
      fc.nat({ max: events.length - 1 }),
      fc.nat(),
      fc.nat({ max: HOSTILE.length - 1 }),
      fc.nat({ max: objectives.length - 1 }),
      (ei, pi, hi, oi) => {
        const ev = events[ei]!;
        const ps = paths(ev);
        const mutated = ps.length === 0 ? HOSTILE[hi] : setPath(ev, ps[pi % ps.length]!, HOSTILE[hi]);
        const o = objectives[oi]!;
        // route by the objective's own id half of the time, so mutations reach the checks
        const routed = typeof mutated === 'object' && mutated !== null && 'objectiveId' in mutated && pi % 2 === 0 ? { ...mutated, objectiveId: o.id } : mutated;
        try {
          const next = P.update(o, routed as P.ObjectiveEvent);
          P.crank(next, secrets(actors[oi]!));
          accepted++;
        } catch (e) {
          assert.ok(isSluiceError(e), `non-Sluice error: ${String(e)} from ${JSON.stringify(ps[pi % ps.length])}`);
          rejected++;
        }
      },
    ),
    { numRuns: 1500 },
  );
  assert.ok(rejected > 100 && accepted > 100, `${rejected} rejected, ${accepted} accepted`);
});

test('unmutated messages replayed to any objective, in any order, never crash', () => {
  const { sim, objectives, actors } = setup();
  const events = sim.log.map((l) => l.event);
  fc.assert(
    fc.property(fc.array(fc.nat({ max: events.length - 1 }), { maxLength: 30 }), fc.nat({ max: objectives.length - 1 }), (order, oi) => {
      let o = objectives[oi]!;
      for (const i of order) {
        try {
          o = P.crank(P.update(o, events[i]!), secrets(actors[oi]!)).objective;
        } catch (e) {
          assert.ok(isSluiceError(e), String(e));
        }
      }
    }),
    { numRuns: 150 },
  );
});
