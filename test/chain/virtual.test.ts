/**
 * The fallback path of ARCHITECTURE.md through the adapter: V = [Alice, Irene, Bob] is funded
 * by guarantees in L_AI and L_IB; Irene vanishes; Bob challenges L_IB and V (turn 2
 * redemption carrying Alice's voucher, via channel-core's encodeVoucherAmountAndSignature),
 * Alice challenges L_AI; after the challenge duration anyone reclaims and transfers.
 * Bob is paid exactly the voucher. ETH and ERC20.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { balance, collect, exit, fixedPart, increaseTime, signed, simple, startChain, ETH, state, type Actor, type ChainFixture, type Collector } from './lib.ts';
import {
  AllocationType,
  encodeGuaranteeMetadata,
  encodeVoucherAmountAndSignature,
  hashState,
  isSluiceError,
  signChallenge,
  signVoucher,
  type Address,
  type Bytes32,
  type Outcome,
  type State,
} from './core.ts';

let f: ChainFixture;
let events: Collector;
before(async () => {
  f = await startChain();
  events = collect(f.deployer.chain, { fromBlock: f.deployment.deployBlock, pollIntervalMs: 50 });
});
after(async () => {
  await events?.stop();
  await f?.stop();
});

const DEPOSIT_V = 100n;

function guarantee(target: Bytes32, amount: bigint, left: Bytes32, right: Bytes32) {
  return { destination: target, amount, allocationType: AllocationType.guarantee, metadata: encodeGuaranteeMetadata({ left, right }) };
}

for (const kind of ['ETH', 'ERC20'] as const) {
  describe(`virtual channel settled on chain (${kind})`, () => {
    test('Bob is paid exactly the voucher from Irene\'s collateral; Alice recovers the rest', async () => {
      const asset = (kind === 'ETH' ? ETH : f.deployment.testToken) as Address;
      const { alice, irene, bob } = f;
      const V = fixedPart([alice, irene, bob], f.deployment.virtualPaymentApp, 60);
      const LAI = fixedPart([alice, irene], f.deployment.consensusApp, 100);
      const LIB = fixedPart([irene, bob], f.deployment.consensusApp, 100);
      await alice.chain.deposit({ asset, channelId: LAI.id, amount: 115n, expectedHeld: 0n });
      await irene.chain.deposit({ asset, channelId: LIB.id, amount: 110n, expectedHeld: 0n });

      // off-chain: ledgers with guarantees for V, V's postfund (signed by all)
      const lai: Outcome = [exit(asset, [simple(alice.dest, 10n), simple(irene.dest, 5n), guarantee(V.id, DEPOSIT_V, alice.dest, irene.dest)])];
      const lib: Outcome = [exit(asset, [simple(irene.dest, 7n), simple(bob.dest, 3n), guarantee(V.id, DEPOSIT_V, irene.dest, bob.dest)])];
      const laiState = state(LAI, lai, 5);
      const libState = state(LIB, lib, 5);
      const vPostfund = state(V, [exit(asset, [simple(alice.dest, DEPOSIT_V), simple(bob.dest, 0n)])], 1);
      // Alice streams, paying cumulative vouchers; Bob keeps the best one
      let best = signVoucher(V.id, 1n, alice.key);
      for (const amount of [5n, 20n, 37n]) best = signVoucher(V.id, amount, alice.key);
      const paid = best.amount;
      // Bob's redemption state: turn 2, signed by Bob alone, carrying Alice's voucher
      const redeem: State = state(
        V,
        [exit(asset, [simple(alice.dest, DEPOSIT_V - paid), simple(bob.dest, paid)])],
        2,
        false,
        encodeVoucherAmountAndSignature(paid, best.signature),
      );

      // a redemption claiming more than the voucher is refused by VirtualPaymentApp
      const greedy = state(V, [exit(asset, [simple(alice.dest, DEPOSIT_V - paid - 1n), simple(bob.dest, paid + 1n)])], 2, false, encodeVoucherAmountAndSignature(paid, best.signature));
      await assert.rejects(
        bob.chain.challenge({ proof: [signed(vPostfund, [alice, irene, bob])], candidate: signed(greedy, [bob]), challengerSignature: signChallenge(greedy, bob.key) }),
        (e: unknown) => isSluiceError(e, 'CHAIN_REVERT') && /not adjusted correctly/.test(String(e.details['reason'])),
      );

      // Irene vanishes. Bob challenges L_IB and V; Alice challenges L_AI.
      await bob.chain.challenge({ proof: [], candidate: signed(libState, [irene, bob]), challengerSignature: signChallenge(libState, bob.key) });
      await bob.chain.challenge({ proof: [signed(vPostfund, [alice, irene, bob])], candidate: signed(redeem, [bob]), challengerSignature: signChallenge(redeem, bob.key) });
      await alice.chain.challenge({ proof: [], candidate: signed(laiState, [alice, irene]), challengerSignature: signChallenge(laiState, alice.key) });
      const vChallenge = await events.waitFor((e) => e.type === 'ChallengeRegistered' && e.channelId === V.id);
      assert.ok(vChallenge.type === 'ChallengeRegistered');
      assert.equal(vChallenge.candidate.variablePart.appData, redeem.appData);
      assert.equal(vChallenge.proof.length, 1);

      const reclaimArgs = (source: typeof LIB, sourceState: State) => ({
        sourceChannelId: source.id,
        sourceStateHash: hashState(sourceState),
        sourceOutcome: sourceState.outcome,
        sourceAssetIndex: 0,
        indexOfTargetInSource: 2,
        targetStateHash: hashState(redeem),
        targetOutcome: redeem.outcome,
        targetAssetIndex: 0,
      });
      await assert.rejects(bob.chain.reclaim(reclaimArgs(LIB, libState)), (e: unknown) => isSluiceError(e, 'CHAIN_REVERT') && e.details['reason'] === 'Channel not finalized.');
      await increaseTime(f.provider, 101);

      const before = {
        alice: await balance(f, asset, alice.address),
        irene: await balance(f, asset, irene.address),
        bob: await balance(f, asset, bob.address),
      };
      const submitter: Actor = f.deployer; // anyone may submit; balances then move by payouts only
      await submitter.chain.reclaim(reclaimArgs(LIB, libState));
      await submitter.chain.reclaim(reclaimArgs(LAI, laiState));
      const libAfter: Outcome = [exit(asset, [simple(irene.dest, 7n + DEPOSIT_V - paid), simple(bob.dest, 3n + paid)])];
      const laiAfter: Outcome = [exit(asset, [simple(alice.dest, 10n + DEPOSIT_V - paid), simple(irene.dest, 5n + paid)])];
      await submitter.chain.transferAllAssets({ channelId: LIB.id, outcome: libAfter, stateHash: hashState(libState) });
      await submitter.chain.transferAllAssets({ channelId: LAI.id, outcome: laiAfter, stateHash: hashState(laiState) });

      assert.equal(await balance(f, asset, bob.address), before.bob + 3n + paid);
      assert.equal(await balance(f, asset, alice.address), before.alice + 10n + DEPOSIT_V - paid);
      assert.equal(await balance(f, asset, irene.address), before.irene + 7n + DEPOSIT_V - paid + 5n + paid);
      for (const c of [LAI, LIB, V]) assert.equal(await submitter.chain.holdings(asset, c.id), 0n);
      const reclaimed = await events.waitFor((e) => e.type === 'Reclaimed' && e.channelId === LAI.id);
      assert.ok(reclaimed.type === 'Reclaimed' && reclaimed.assetIndex === 0n);
      assert.ok(events.events.some((e) => e.type === 'Reclaimed' && e.channelId === LIB.id));
    });
  });
}
