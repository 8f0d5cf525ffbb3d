/**
 * On-chain fallback end to end against the toy adjudicator (fallback-chain.ts): the objectives
 * are created by `fallbackPlan` from triggers, driven through the generic dispatchers with every
 * objective persisted as JSON between cranks, and paid out by the adjudicator's rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type ChannelId, hashState, signChallenge, signState, protocols as P } from '../../src/index.ts';
import { parseJson, stringifyJson } from '../../src/json.ts';
import { ETH, TOKEN, alice, bob, irene, ledgerPrefund, rng, secrets } from './fixtures.ts';
import { type Crash, type Download, Node, Revert, contextOf, download, drive, removeByProof } from './fallback-chain.ts';

function startPlan(dl: Download, n: Node, trigger: P.FallbackTrigger): P.FallbackPlan {
  const plan = P.fallbackPlan(contextOf(dl, n.actor, n.live().map((o) => o.id)), trigger, secrets(n.actor));
  for (const o of plan.create) n.add(o);
  return plan;
}

/** No submitter sent the same step twice after it succeeded, and nothing succeeded twice. */
function assertNoDoubleSubmission(dl: Download): void {
  assert.deepEqual(dl.chain.premature, [], 'no reclaim or transfer before the channels it needs were finalized');
  const ok = new Map<string, number>();
  for (const s of dl.chain.submissions) {
    if (!s.ok) continue;
    ok.set(s.key, (ok.get(s.key) ?? 0) + 1);
  }
  for (const [k, n] of ok) assert.equal(n, 1, `${k} succeeded ${n} times`);
  const seen = new Set<string>();
  for (const s of dl.chain.submissions) {
    const k = `${s.by}:${s.key}`;
    assert.ok(!seen.has(k), `${s.by} submitted ${s.key} again after it succeeded`);
    if (s.ok) seen.add(k);
  }
}

function assertSettled(dl: Download): void {
  const { asset, chain, paid, start } = dl;
  assert.equal(chain.paid(bob, asset), start.bobInIB + paid, 'Bob: his ledger balance + exactly his best voucher');
  assert.equal(chain.paid(alice, asset), start.aliceInAI - paid, 'Alice: everything she did not spend');
  assert.equal(chain.paid(irene, asset), start.ireneInAI + start.ireneInIB, 'Irene: her collateral back, net zero');
  assert.equal(chain.held(dl.AI, asset) + chain.held(dl.IB, asset), 0n, 'both ledgers paid out');
}

for (const [name, asset] of [
  ['ETH', ETH],
  ['ERC20', TOKEN],
] as const) {
  test(`hub vanishes after N paid chunks (${name}): Bob gets N × price via reclaim + transferAllAssets, Alice deposit − N × price`, () => {
    const orders = new Set<string>();
    for (const seed of [1, 2, 3, 4, 5, 6]) {
      const N = 3 + seed;
      const dl = download({ asset, chunks: N, price: 4n, deposit: 60n, seed });
      assert.equal(dl.paid, BigInt(N) * 4n);
      const nodes = [new Node(alice), new Node(bob)];
      for (const n of nodes) {
        const plan = startPlan(dl, n, { kind: 'peerStalled', peer: irene.address });
        assert.deepEqual(plan.decision, { onChain: true, reason: 'peerStalled' });
        assert.equal(plan.create.length, 2, 'a virtual challenge for V and a ledger exit');
      }
      drive(dl.chain, nodes, { random: rng(seed), mempool: seed % 2 === 0 });
      for (const n of nodes) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id}`);
      assertSettled(dl);
      assertNoDoubleSubmission(dl);
      // V was registered with Bob's redemption whatever the order (Alice's postfund challenge, if
      // it came first, was raised; if second, it reverted and was not retried)
      const vChallenges = dl.chain.submissions.filter((s) => s.ok && s.key.startsWith(`challenge:${dl.V}`));
      assert.ok(vChallenges.some((s) => s.by === 'bob' && s.key.endsWith(':2')));
      orders.add(vChallenges.map((s) => s.by).join('>'));
      // the pause points each objective went through
      const bobExit = nodes[1]!.waitingFor.get(P.ledgerExitId(dl.IB))!;
      assert.deepEqual(bobExit.slice(-3), ['WaitingForReclaim', 'WaitingForTransfer', 'WaitingForNothing']);
      assert.ok(bobExit.includes('WaitingForFinalization'));
    }
    assert.deepEqual([...orders].sort(), ['alice>bob', 'bob'], 'both orders: Alice first (Bob raises her postfund) and Bob first (Alice has nothing to add)');
  });
}

test('the client disappears mid-download: Bob redeems his best voucher on chain; L_IB stays open (guarantee removed by proof), Irene exits L_AI and everyone is paid', () => {
  const dl = download({ chunks: 5, price: 3n });
  const B = new Node(bob);
  const I = new Node(irene);
  const plan = startPlan(dl, B, { kind: 'peerStalled', peer: alice.address });
  assert.deepEqual(plan.create.map((o) => o.type).sort(), ['virtualChallenge'], 'V only: L_IB is with Irene, who is online');
  // Bob's first crank challenges V with the redemption state: Irene's watchtower sees it
  const vc = B.load(P.virtualChallengeId(dl.V));
  const r = P.crank(vc, secrets(bob));
  const tx = r.effects[0]!.type === 'submitTransaction' ? r.effects[0]!.tx : assert.fail('no transaction');
  assert.equal(tx.kind, 'challenge');
  assert.ok(tx.kind === 'challenge' && tx.candidate.state.turnNum === 2 && tx.candidate.signatures.length === 1 && tx.proof.length === 1);
  B.save(r.objective);
  const [ev] = dl.chain.submit(tx, 'bob');
  assert.ok(ev !== undefined && ev.kind === 'challengeRegistered');
  for (const o of B.live()) if (P.watchedChannels(o).includes(dl.V)) B.save(P.update(o, ev));
  const iplan = startPlan(dl, I, { kind: 'challengeRegistered', event: ev });
  assert.deepEqual(iplan.decision, { onChain: true, reason: 'virtualOnChain' });
  assert.deepEqual(iplan.create.map((o) => o.id).sort(), [P.virtualChallengeId(dl.V)], 'no ledger exit for a challenge on V');
  drive(dl.chain, [B, I]);
  for (const n of [B, I]) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id}`);
  // V finalized with Bob's redemption: Irene and Bob drop its guarantee from L_IB with that outcome
  const [ri, rb] = removeByProof(dl, I, B, dl.IB);
  assert.equal(ri!.status, 'completed');
  assert.equal(rb!.status, 'completed');
  const ibOut = rb!.ledger.current.outcome;
  assert.equal(ibOut.guarantees.length, 0);
  assert.equal(ibOut.follower.amount, dl.start.bobInIB + dl.paid, "Bob credited V's on-chain outcome in L_IB");
  assert.equal(ibOut.leader.amount, dl.start.ireneInIB - dl.paid);
  // Alice stays silent on L_AI: Irene exits it; V being finalized, the exit reclaims its guarantee
  const exitPlan = startPlan(dl, I, { kind: 'peerStalled', peer: alice.address });
  for (const o of exitPlan.create) assert.notEqual(o.id, P.ledgerExitId(dl.IB));
  const vcRecord = (I.load(P.virtualChallengeId(dl.V)) as P.VirtualChallengeObjective).onChain!;
  // the exit started after V's events: seeded with our own record of V (Bob's redemption is a state Irene never held)
  I.save(P.withTargetRecord(P.withGuaranteedChannel(I.load(P.ledgerExitId(dl.AI)) as P.LedgerExitObjective, dl.vs.get('irene')!), dl.V, vcRecord));
  drive(dl.chain, [B, I]);
  for (const n of [B, I]) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id}`);
  const { asset, chain, paid, start } = dl;
  assert.equal(chain.paid(alice, asset), start.aliceInAI - paid, 'Alice: everything she did not spend');
  assert.equal(chain.paid(irene, asset), start.ireneInAI + paid, 'Irene: collects from L_AI what she paid Bob in L_IB');
  assert.equal(chain.held(dl.AI, asset), 0n, 'L_AI paid out');
  assert.equal(chain.paid(bob, asset), 0n, 'L_IB not paid out: it stays open');
  assertNoDoubleSubmission(dl);
});

test('a stale ledger challenge is answered with checkpoint and never pays out', () => {
  const dl = download({ chunks: 4 });
  const ibBob = dl.ledgers.get('bob')!.get(dl.IB)!;
  assert.equal(ibBob.current.turnNum, 2, 'postfund, then the guarantee for V');
  // Irene registers the postfund (turn 1): it has no guarantee for V, so Bob could never be paid from it
  const stale = { ...ledgerPrefund(irene, bob, 150n, 5n, 2n), turnNum: 1 };
  const staleSigned = { state: stale, signatures: [signState(stale, irene.privateKey), signState(stale, bob.privateKey)] };
  const [ev] = dl.chain.submit({ kind: 'challenge', channelId: dl.IB, proof: [], candidate: staleSigned, challengerSignature: signChallenge(stale, irene.privateKey) }, 'irene');
  assert.ok(ev?.kind === 'challengeRegistered');

  const B = new Node(bob);
  const plan = startPlan(dl, B, { kind: 'challengeRegistered', event: ev });
  assert.deepEqual(plan.decision, { onChain: false, reason: 'cooperative' });
  assert.deepEqual(plan.create, []);
  assert.ok(plan.respond?.action === 'checkpoint');
  assert.equal(plan.respond.challengedTurnNum, 1);
  assert.equal(plan.respond.turnNum, 2);
  const [cleared] = dl.chain.submit(plan.respond.tx, 'bob');
  assert.deepEqual(cleared && { kind: cleared.kind, turn: (cleared as P.ChallengeClearedEvent).newTurnNumRecord }, { kind: 'challengeCleared', turn: 2 });

  // past the stale challenge's finalizesAt: the channel is open, the stale outcome pays nothing
  dl.chain.advance(stale.challengeDuration + 10);
  assert.throws(() => dl.chain.submit({ kind: 'transferAllAssets', channelId: dl.IB, outcome: stale.outcome, stateHash: hashState(stale) }, 'irene'), (e: unknown) => e instanceof Revert && e.message === 'Channel not finalized.');
  // and Irene cannot re-register the stale state
  assert.throws(
    () => dl.chain.submit({ kind: 'challenge', channelId: dl.IB, proof: [], candidate: staleSigned, challengerSignature: signChallenge(stale, irene.privateKey) }, 'irene'),
    (e: unknown) => e instanceof Revert && e.message === 'turnNumRecord decreased.',
  );
  assert.equal(dl.chain.paid(irene, ETH), 0n);
});

test('a stale ledger challenge while we are exiting anyway is raised by a counter-challenge, and the exit completes', () => {
  const dl = download({ chunks: 2 });
  const stale = { ...ledgerPrefund(irene, bob, 150n, 5n, 2n), turnNum: 1 };
  const staleSigned = { state: stale, signatures: [signState(stale, irene.privateKey), signState(stale, bob.privateKey)] };
  const B = new Node(bob);
  startPlan(dl, B, { kind: 'userForce', channelId: dl.IB });
  const [ev] = dl.chain.submit({ kind: 'challenge', channelId: dl.IB, proof: [], candidate: staleSigned, challengerSignature: signChallenge(stale, irene.privateKey) }, 'irene');
  assert.ok(ev?.kind === 'challengeRegistered');
  // the plan for the event defers to the live exit (no second answer)
  const again = startPlan(dl, B, { kind: 'challengeRegistered', event: ev });
  assert.equal(again.respond, null);
  assert.deepEqual(again.create.map((o) => o.type), []);
  let exit = P.update(B.load(P.ledgerExitId(dl.IB)), ev);
  const r = P.crank(exit, secrets(bob));
  assert.equal(r.waitingFor, 'WaitingForChallengeRegistered');
  const tx = r.effects[0]?.type === 'submitTransaction' ? r.effects[0].tx : assert.fail('no counter-challenge');
  assert.ok(tx.kind === 'challenge' && tx.candidate.state.turnNum === 2);
  exit = r.objective;
  B.save(exit);
  for (const e of dl.chain.submit(tx, 'bob')) for (const o of B.live()) if (P.watchedChannels(o).includes((e as { channelId: ChannelId }).channelId)) B.save(P.update(o, e));
  drive(dl.chain, [B]);
  for (const o of B.all()) assert.equal(o.status, 'completed', o.id);
  assert.equal(dl.chain.paid(bob, ETH), 5n + dl.paid);
});

test('V challenged by the payer with the postfund: the payee counter-challenges with his voucher; the payer does not answer it', () => {
  const dl = download({ chunks: 6, price: 5n });
  const vAlice = dl.vs.get('alice')!;
  const post = P.latestSupportedState(vAlice)!;
  assert.equal(post.state.turnNum, 1);
  const postSigned = { state: P.fullState(vAlice, post.state), signatures: P.signaturesOf(post) };
  const [ev] = dl.chain.submit({ kind: 'challenge', channelId: dl.V, proof: [], candidate: postSigned, challengerSignature: signChallenge(postSigned.state, alice.privateKey) }, 'alice');
  assert.ok(ev?.kind === 'challengeRegistered');

  const bobHeld = { channel: dl.vs.get('bob')!, bestVoucher: dl.bestVoucher };
  const answer = P.decideChallengeResponse(bobHeld, ev, dl.chain.time, secrets(bob));
  assert.ok(answer.action === 'challenge' && answer.turnNum === 2 && answer.challengedTurnNum === 1);
  // never a state that pays Bob less than his best voucher
  assert.ok(answer.tx.kind === 'challenge');
  assert.equal(P.allocatedTo(answer.tx.candidate.state.outcome, P.dest(bob.address)), dl.paid);
  assert.equal(P.decideChallengeResponse(bobHeld, ev, ev.finalizesAt, secrets(bob)).action, 'none', 'too late at finalizesAt');

  const B = new Node(bob);
  const plan = startPlan(dl, B, { kind: 'challengeRegistered', event: ev });
  assert.deepEqual(plan.create.map((o) => o.type).sort(), ['virtualChallenge']);
  const vc = B.load(P.virtualChallengeId(dl.V));
  const r = P.crank(vc, secrets(bob));
  assert.equal(r.waitingFor, 'WaitingForChallengeRegistered');
  const tx = r.effects[0]?.type === 'submitTransaction' ? r.effects[0].tx : assert.fail('no counter-challenge');
  assert.ok(tx.kind === 'challenge' && tx.candidate.state.turnNum === 2);
  B.save(r.objective);
  const [ev2] = dl.chain.submit(tx, 'bob');
  assert.ok(ev2?.kind === 'challengeRegistered');
  // Alice holds nothing newer than Bob's redemption: no answer
  assert.deepEqual(P.decideChallengeResponse({ channel: vAlice }, ev2, dl.chain.time, secrets(alice)), { action: 'none', reason: 'upToDate' });
  for (const o of B.live()) if (P.watchedChannels(o).includes(dl.V)) B.save(P.update(o, ev2));
  // Alice's and Irene's watchtowers follow V (no ledger exit: everyone is online)
  const A = new Node(alice);
  const I = new Node(irene);
  assert.deepEqual(startPlan(dl, A, { kind: 'challengeRegistered', event: ev2 }).create.map((o) => o.type), ['virtualChallenge']);
  startPlan(dl, I, { kind: 'challengeRegistered', event: ev2 });
  drive(dl.chain, [A, I, B]);
  for (const n of [A, I, B]) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id}`);
  // both ledgers stay open: the guarantees are removed with V's on-chain outcome (Bob's redemption)
  for (const [x, y, l] of [[A, I, dl.AI], [I, B, dl.IB]] as const) {
    const rs = removeByProof(dl, x, y, l);
    for (const r of rs) assert.equal(r.status, 'completed', r.id);
  }
  const ai = dl.ledgers.get('alice')!.get(dl.AI)!.current.outcome;
  const ib = dl.ledgers.get('bob')!.get(dl.IB)!.current.outcome;
  assert.equal(ai.leader.amount, dl.start.aliceInAI - dl.paid, 'Alice pays exactly her vouchers in L_AI');
  assert.equal(ai.follower.amount, dl.start.ireneInAI + dl.paid);
  assert.equal(ib.follower.amount, dl.start.bobInIB + dl.paid, 'Bob gets exactly his vouchers in L_IB');
  assert.equal(ib.leader.amount, dl.start.ireneInIB - dl.paid);
  assert.equal(dl.chain.held(dl.AI, dl.asset) > 0n && dl.chain.held(dl.IB, dl.asset) > 0n, true, 'no ledger paid out');
});

test('crash and restart at every step (before a transaction is sent, after it is mined): no double submission, same payouts', () => {
  const modes: Crash[] = ['beforeEffects', 'afterSubmit'];
  let crashes = 0;
  for (const seed of [11, 12, 13, 14, 15, 16, 17, 18]) {
    const dl = download({ chunks: 4 + (seed % 3), price: 2n, seed });
    const nodes = [new Node(alice), new Node(bob)];
    for (const n of nodes) startPlan(dl, n, { kind: 'peerStalled', peer: irene.address });
    const random = rng(seed);
    const log: string[] = [];
    // crash at most once per (node, objective, step) so the run always makes progress
    const done = new Set<string>();
    drive(
      dl.chain,
      nodes,
      {
        random,
        crash: (n, o) => {
          const step = stringifyJson(o.type === 'ledgerExit' ? o.pending : o.type === 'virtualChallenge' ? o.submitted : null);
          const key = `${n.actor.name}:${o.id}:${step}`;
          if (done.has(key) || random() < 0.3) return undefined;
          done.add(key);
          return modes[Math.floor(random() * modes.length)];
        },
      },
      log,
    );
    crashes += log.length;
    for (const n of nodes) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id} (seed ${seed})`);
    assertSettled(dl);
    assertNoDoubleSubmission(dl);
    // persisted objectives round-trip exactly
    for (const n of nodes) for (const o of n.all()) assert.deepEqual(parseJson(stringifyJson(o)), o);
  }
  assert.ok(crashes >= 16, `crashes exercised: ${crashes}`);
});

test('a reverted submission is retried with arguments recomputed from the chain', () => {
  const reverts: string[] = [];
  for (const seed of [5, 6, 7, 8]) {
    const dl = download({ chunks: 3, seed });
    const A = new Node(alice);
    const I = new Node(irene);
    const B = new Node(bob);
    for (const n of [A, B]) startPlan(dl, n, { kind: 'peerStalled', peer: irene.address });
    // Irene (back online) settles too (`--force`): everyone races on the same steps, and the losers'
    // transactions revert (turn not increased, fingerprint changed by the winner's reclaim, ...)
    const plan = startPlan(dl, I, { kind: 'userForce', channelId: dl.AI });
    assert.deepEqual(plan.create.map((o) => o.id).sort(), [P.ledgerExitId(dl.AI), P.virtualChallengeId(dl.V)].sort(), 'closure ledger -> V only');
    startPlan(dl, I, { kind: 'userForce', channelId: dl.IB }); // (Irene leaves L_IB too: the race below covers both ledgers)
    drive(dl.chain, [A, I, B], { random: rng(seed), mempool: true });
    reverts.push(...dl.chain.submissions.filter((x) => !x.ok).map((x) => x.reason!));
    for (const n of [A, I, B]) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id}`);
    assertSettled(dl);
    assertNoDoubleSubmission(dl);
  }
  assert.ok(reverts.length > 0, 'races produced reverts');
  assert.ok(reverts.includes('incorrect fingerprint') || reverts.includes('turnNumRecord not increased.'), reverts.join());
});


test('property: whoever is online, in any order, with races and crashes, money is conserved and nobody online loses', () => {
  fc.assert(
    fc.property(
      fc.record({
        seed: fc.integer({ min: 1, max: 1_000_000 }),
        price: fc.bigInt({ min: 1n, max: 9n }),
        chunks: fc.integer({ min: 0, max: 6 }),
        online: fc.constantFrom('alice+bob', 'bob', 'alice', 'alice+bob+irene', 'bob+irene'),
        mempool: fc.boolean(),
        erc20: fc.boolean(),
      }),
      (sc) => {
        const asset = sc.erc20 ? TOKEN : ETH;
        const dl = download({ asset, chunks: sc.chunks, price: sc.price, deposit: 60n, seed: sc.seed });
        const who = sc.online.split('+');
        const nodes = [alice, bob, irene].filter((a) => who.includes(a.name)).map((a) => new Node(a));
        for (const n of nodes) {
          startPlan(dl, n, n.actor === irene ? { kind: 'userForce' } : { kind: 'peerStalled', peer: irene.address });
        }
        const random = rng(sc.seed);
        const seen = new Set<string>();
        drive(dl.chain, nodes, {
          random,
          mempool: sc.mempool,
          ...(sc.mempool
            ? {}
            : {
                crash: (n: Node, o: P.Objective) => {
                  const k = `${n.actor.name}:${o.id}:${stringifyJson(o.type === 'ledgerExit' ? o.pending : null)}`;
                  if (seen.has(k) || random() < 0.5) return undefined;
                  seen.add(k);
                  return random() < 0.5 ? 'beforeEffects' : 'afterSubmit';
                },
              }),
        });
        for (const n of nodes) for (const o of n.all()) assert.equal(o.status, 'completed', `${n.actor.name} ${o.id}`);
        assertNoDoubleSubmission(dl);
        const total = dl.start.aliceInAI + dl.start.ireneInAI + dl.start.ireneInIB + dl.start.bobInIB;
        const out = [alice, irene, bob].reduce((t, a) => t + dl.chain.paid(a, asset), 0n);
        assert.equal(out + dl.chain.held(dl.AI, asset) + dl.chain.held(dl.IB, asset), total, 'conservation');
        // an online payee is paid his best voucher; an online payer never pays more than it
        if (who.includes('bob')) assert.equal(dl.chain.paid(bob, asset), dl.start.bobInIB + dl.paid);
        if (who.includes('alice')) assert.ok(dl.chain.paid(alice, asset) >= dl.start.aliceInAI - dl.paid);
        if (who.includes('alice') && who.includes('bob')) assertSettled(dl);
      },
    ),
    { numRuns: 12, seed: 7 },
  );
});
