/**
 * A ledger channel L = [Alice, Irene] (ConsensusApp) through the adapter: cooperative close
 * with concludeAndTransferAllAssets, challenge answered by checkpoint, and challenge →
 * timeout → transferAllAssets; states signed with channel-core's signState, events
 * observed on the adapter's stream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ETH, balance, collect, exit, fixedPart, increaseTime, signed, simple, startChain, state, type ChainFixture, type Collector } from './lib.ts';
import { ZERO_BYTES32, channelMode, hashState, isSluiceError, signChallenge, type Address, type ChainEvent } from './core.ts';

let f: ChainFixture;
let events: Collector;
before(async () => {
  f = await startChain();
  events = collect(f.bob.chain, { fromBlock: f.deployment.deployBlock, pollIntervalMs: 50 });
});
after(async () => {
  await events?.stop();
  await f?.stop();
});

const of = <T extends ChainEvent['type']>(type: T, channelId: string) => (e: ChainEvent): e is Extract<ChainEvent, { type: T }> =>
  e.type === type && ('channelId' in e ? e.channelId : e.destination) === channelId;

for (const kind of ['ETH', 'ERC20'] as const) {
  describe(`ledger channel (${kind})`, () => {
    const asset = (): Address => (kind === 'ETH' ? ETH : f.deployment.testToken) as Address;

    async function funded(aliceAmount: bigint, ireneAmount: bigint, challengeDuration = 100) {
      const L = fixedPart([f.alice, f.irene], f.deployment.consensusApp, challengeDuration);
      await f.alice.chain.deposit({ asset: asset(), channelId: L.id, amount: aliceAmount, expectedHeld: 0n });
      await f.irene.chain.deposit({ asset: asset(), channelId: L.id, amount: ireneAmount });
      return L;
    }

    test('concludeAndTransferAllAssets pays exactly the final outcome', async () => {
      const L = await funded(60n, 40n);
      const final = state(L, [exit(asset(), [simple(f.alice.dest, 45n), simple(f.irene.dest, 55n)])], 9, true);
      const before = { alice: await balance(f, asset(), f.alice.address), irene: await balance(f, asset(), f.irene.address) };
      // Bob (a third party) submits, so balances change by exactly the payouts
      const r = await f.bob.chain.concludeAndTransferAllAssets({ candidate: signed(final, [f.alice, f.irene]) });
      assert.ok(r.gasUsed > 0n);
      assert.equal(await balance(f, asset(), f.alice.address), before.alice + 45n);
      assert.equal(await balance(f, asset(), f.irene.address), before.irene + 55n);
      assert.equal(await f.bob.chain.holdings(asset(), L.id), 0n);
      const concluded = await events.waitFor(of('Concluded', L.id));
      assert.equal(concluded.blockNumber, r.blockNumber);
      assert.equal(concluded.txHash, r.txHash);
      const upd = await events.waitFor(of('AllocationUpdated', L.id));
      assert.ok(upd.type === 'AllocationUpdated' && upd.initialHoldings === 100n && upd.finalHoldings === 0n && upd.assetIndex === 0n);
      const deposits = events.events.filter(of('Deposited', L.id));
      assert.deepEqual(deposits.map((d) => d.destinationHoldings), [60n, 100n]);
      assert.ok(deposits.every((d) => d.asset === asset()));
    });

    test('conclude needs every signature (CHAIN_REVERT !unanimous)', async () => {
      const L = await funded(1n, 1n);
      const final = state(L, [exit(asset(), [simple(f.alice.dest, 1n), simple(f.irene.dest, 1n)])], 3, true);
      await assert.rejects(f.alice.chain.conclude({ candidate: signed(final, [f.alice]) }), (e: unknown) => isSluiceError(e, 'CHAIN_REVERT') && /unanimous/.test(e.message));
    });

    test('challenge → checkpoint clears it (events on the stream)', async () => {
      const L = await funded(30n, 20n);
      const o = [exit(asset(), [simple(f.alice.dest, 30n), simple(f.irene.dest, 20n)])];
      const s5 = state(L, o, 5);
      const r1 = await f.irene.chain.challenge({ proof: [], candidate: signed(s5, [f.alice, f.irene]), challengerSignature: signChallenge(s5, f.irene.key) });
      const status = await f.alice.chain.statusOf(L.id);
      const now = (await f.alice.chain.latestBlock()).timestamp;
      assert.equal(status.turnNumRecord, 5);
      assert.equal(channelMode(status, now), 'challenge');
      const reg = await events.waitFor(of('ChallengeRegistered', L.id));
      assert.ok(reg.type === 'ChallengeRegistered');
      assert.equal(reg.finalizesAt, status.finalizesAt);
      assert.equal(reg.blockNumber, r1.blockNumber);
      assert.equal(reg.candidate.variablePart.turnNum, 5);
      assert.deepEqual(reg.candidate.variablePart.outcome, o);
      assert.equal(reg.candidate.signatures.length, 2);
      // Alice answers with a newer state
      const s6 = state(L, [exit(asset(), [simple(f.alice.dest, 25n), simple(f.irene.dest, 25n)])], 6);
      await f.alice.chain.checkpoint({ proof: [], candidate: signed(s6, [f.alice, f.irene]) });
      const cleared = await events.waitFor(of('ChallengeCleared', L.id));
      assert.ok(cleared.type === 'ChallengeCleared' && cleared.newTurnNumRecord === 6);
      // the log has no state: the stream reads what the checkpoint registered off its calldata
      assert.equal(cleared.candidate?.variablePart.turnNum, 6);
      assert.deepEqual(cleared.candidate?.variablePart.outcome, s6.outcome);
      assert.equal(cleared.candidate?.signatures.length, 2);
      assert.equal(hashState({ participants: L.participants, channelNonce: L.channelNonce, appDefinition: L.appDefinition, challengeDuration: L.challengeDuration, ...cleared.candidate!.variablePart }), hashState(s6));
      const after = await f.alice.chain.statusOf(L.id);
      assert.equal(channelMode(after, now), 'open');
      assert.equal(after.turnNumRecord, 6);
      // a stale checkpoint reverts with the reason
      await assert.rejects(f.alice.chain.checkpoint({ proof: [], candidate: signed(s5, [f.alice, f.irene]) }), (e: unknown) => isSluiceError(e, 'CHAIN_REVERT') && e.details['reason'] === 'turnNumRecord not increased.');
      // a checkpoint without a challenge: Checkpointed
      const s7 = state(L, s6.outcome, 7);
      await f.alice.chain.checkpoint({ proof: [], candidate: signed(s7, [f.alice, f.irene]) });
      const cp = await events.waitFor(of('Checkpointed', L.id));
      assert.ok(cp.type === 'Checkpointed' && cp.newTurnNumRecord === 7);
      assert.equal(cp.candidate?.variablePart.turnNum, 7);
    });

    test('challenge → time passes → transferAllAssets pays the challenged outcome', async () => {
      const L = await funded(70n, 30n, 50);
      const s4 = state(L, [exit(asset(), [simple(f.alice.dest, 80n), simple(f.irene.dest, 20n)])], 4);
      await f.alice.chain.challenge({ proof: [], candidate: signed(s4, [f.alice, f.irene]), challengerSignature: signChallenge(s4, f.alice.key) });
      await assert.rejects(
        f.bob.chain.transferAllAssets({ channelId: L.id, outcome: s4.outcome, stateHash: hashState(s4) }),
        (e: unknown) => isSluiceError(e, 'CHAIN_REVERT') && e.details['reason'] === 'Channel not finalized.',
      );
      await increaseTime(f.provider, 51);
      const st = await f.bob.chain.statusOf(L.id);
      assert.equal(channelMode(st, (await f.bob.chain.latestBlock()).timestamp), 'finalized');
      const before = { alice: await balance(f, asset(), f.alice.address), irene: await balance(f, asset(), f.irene.address) };
      await f.bob.chain.transferAllAssets({ channelId: L.id, outcome: s4.outcome, stateHash: hashState(s4) });
      assert.equal(await balance(f, asset(), f.alice.address), before.alice + 80n);
      assert.equal(await balance(f, asset(), f.irene.address), before.irene + 20n);
      assert.equal(await f.bob.chain.holdings(asset(), L.id), 0n);
      // after a plain conclude the state hash is zero
      const L2 = await funded(5n, 5n);
      const fin = state(L2, [exit(asset(), [simple(f.alice.dest, 2n), simple(f.irene.dest, 8n)])], 2, true);
      await f.alice.chain.conclude({ candidate: signed(fin, [f.alice, f.irene]) });
      await f.bob.chain.transferAllAssets({ channelId: L2.id, outcome: fin.outcome, stateHash: ZERO_BYTES32 });
      assert.equal(await f.bob.chain.holdings(asset(), L2.id), 0n);
    });
  });
}
