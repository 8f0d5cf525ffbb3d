/**
 * A virtually funded channel V = [Alice, Irene, Bob] settled entirely on chain, as in the
 * fallback path of ARCHITECTURE.md: challenge both ledgers and V (with Alice's voucher),
 * wait, reclaim the guarantees, transferAllAssets. For ETH and for an ERC20.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Contract } from 'ethers';
import { startFixture, TestChannel, type Actor, type Fixture } from './lib/fixture.ts';
import {
  ETH,
  challengerSig,
  encodeOutcome,
  exit,
  guarantee,
  increaseTime,
  redemptionAppData,
  signHash,
  simple,
  voucherHash,
  type Outcome,
} from './lib/nitro.ts';

let f: Fixture;
let adj: Contract;
before(async () => {
  f = await startFixture();
  adj = f.adjudicator;
});
after(async () => {
  await f?.stop();
});

async function balance(asset: string, who: string): Promise<bigint> {
  return asset === ETH ? f.chain.provider.getBalance(who) : ((await f.token.getFunction('balanceOf')(who)) as bigint);
}

interface Setup {
  asset: string;
  V: TestChannel;
  LAI: TestChannel;
  LIB: TestChannel;
  vPostfund: Outcome;
  lai: Outcome;
  lib: Outcome;
}

const DEPOSIT_V = 100n;

async function setup(asset: string): Promise<Setup> {
  const V = new TestChannel([f.alice, f.irene, f.bob], f.addresses.virtualPaymentApp, 60);
  const LAI = new TestChannel([f.alice, f.irene], f.addresses.consensusApp, 100);
  const LIB = new TestChannel([f.irene, f.bob], f.addresses.consensusApp, 100);
  const vPostfund = [exit(asset, [simple(f.alice.dest, DEPOSIT_V), simple(f.bob.dest, 0n)])];
  const lai = [exit(asset, [simple(f.alice.dest, 10n), simple(f.irene.dest, 5n), guarantee(V.id, DEPOSIT_V, f.alice.dest, f.irene.dest)])];
  const lib = [exit(asset, [simple(f.irene.dest, 7n), simple(f.bob.dest, 3n), guarantee(V.id, DEPOSIT_V, f.irene.dest, f.bob.dest)])];
  for (const [c, amount, by] of [
    [LAI, 115n, f.alice],
    [LIB, 110n, f.irene],
  ] as const) {
    await (await (adj.connect(by.wallet) as Contract).getFunction('deposit')(asset, c.id, 0n, amount, { value: asset === ETH ? amount : 0n })).wait();
  }
  return { asset, V, LAI, LIB, vPostfund, lai, lib };
}

/** Bob's redemption state (turn 2) carrying Alice's voucher for `amount`. */
function redemption(s: Setup, amount: bigint, voucherKey = f.alice.key) {
  const sig = signHash(voucherHash(s.V.id, amount), voucherKey);
  const outcome = [exit(s.asset, [simple(f.alice.dest, DEPOSIT_V - amount), simple(f.bob.dest, amount)])];
  return s.V.state(outcome, 2, false, redemptionAppData(amount, sig));
}

async function challengeLedger(c: TestChannel, outcome: Outcome, by: Actor): Promise<string> {
  const vp = c.state(outcome, 5);
  await (await (adj.connect(by.wallet) as Contract).getFunction('challenge')(c.fixedPart, [], c.sign(vp), challengerSig(c.fixedPart, vp, by.key))).wait();
  return c.hash(vp);
}

for (const kind of ['ETH', 'ERC20'] as const) {
  describe(`virtual channel settled on chain (${kind})`, () => {
    test('pays Bob exactly the voucher and returns the rest to Alice', async () => {
      const asset = kind === 'ETH' ? ETH : f.addresses.token;
      const s = await setup(asset);
      const paid = 40n;
      const postfund = s.V.sign(s.V.state(s.vPostfund, 1));
      const redeem = redemption(s, paid);
      const redeemSigned = s.V.sign(redeem, [2]);

      // Bob: challenge L_IB and V; Alice: challenge L_AI
      const hIB = await challengeLedger(s.LIB, s.lib, f.bob);
      const hAI = await challengeLedger(s.LAI, s.lai, f.alice);
      await (await (adj.connect(f.bob.wallet) as Contract).getFunction('challenge')(s.V.fixedPart, [postfund], redeemSigned, challengerSig(s.V.fixedPart, redeem, f.bob.key))).wait();
      const hV = s.V.hash(redeem);

      const reclaimArgs = (source: TestChannel, sourceHash: string, sourceOutcome: Outcome) => ({
        sourceChannelId: source.id,
        sourceStateHash: sourceHash,
        sourceOutcomeBytes: encodeOutcome(sourceOutcome),
        sourceAssetIndex: 0n,
        indexOfTargetInSource: 2n,
        targetStateHash: hV,
        targetOutcomeBytes: encodeOutcome(redeem.outcome),
        targetAssetIndex: 0n,
      });
      // nothing can be reclaimed before both channels are finalized
      await assert.rejects(adj.getFunction('reclaim')(reclaimArgs(s.LIB, hIB, s.lib)), /Channel not finalized/);
      await increaseTime(f.chain.provider, 101);

      // sad paths of reclaim
      await assert.rejects(adj.getFunction('reclaim')({ ...reclaimArgs(s.LIB, hIB, s.lib), indexOfTargetInSource: 1n }), /not a guarantee allocation/);
      await assert.rejects(adj.getFunction('reclaim')({ ...reclaimArgs(s.LIB, hIB, s.lib), targetOutcomeBytes: encodeOutcome(s.vPostfund) }), /incorrect fingerprint/);
      await assert.rejects(adj.getFunction('reclaim')({ ...reclaimArgs(s.LIB, hIB, s.lib), sourceStateHash: hAI }), /incorrect fingerprint/);

      const before = {
        alice: await balance(asset, f.alice.address),
        irene: await balance(asset, f.irene.address),
        bob: await balance(asset, f.bob.address),
      };
      const payer = f.deployer; // a third party may submit the transactions
      const adjP = adj.connect(payer) as Contract;

      // reclaim moves V's guarantee back into each ledger according to V's final outcome
      const rc = await (await adjP.getFunction('reclaim')(reclaimArgs(s.LIB, hIB, s.lib))).wait();
      assert.equal(rc?.logs.length, 1);
      await (await adjP.getFunction('reclaim')(reclaimArgs(s.LAI, hAI, s.lai))).wait();
      // a second reclaim with the old outcome no longer matches
      await assert.rejects(adjP.getFunction('reclaim')(reclaimArgs(s.LIB, hIB, s.lib)), /incorrect fingerprint/);

      const libAfter = [exit(asset, [simple(f.irene.dest, 7n + DEPOSIT_V - paid), simple(f.bob.dest, 3n + paid)])];
      const laiAfter = [exit(asset, [simple(f.alice.dest, 10n + DEPOSIT_V - paid), simple(f.irene.dest, 5n + paid)])];
      await (await adjP.getFunction('transferAllAssets')(s.LIB.id, libAfter, hIB)).wait();
      await (await adjP.getFunction('transferAllAssets')(s.LAI.id, laiAfter, hAI)).wait();

      assert.equal(await balance(asset, f.bob.address), before.bob + 3n + paid);
      assert.equal(await balance(asset, f.alice.address), before.alice + 10n + DEPOSIT_V - paid);
      assert.equal(await balance(asset, f.irene.address), before.irene + 7n + DEPOSIT_V - paid + 5n + paid);
      for (const c of [s.LAI, s.LIB, s.V]) assert.equal(await adj.getFunction('holdings')(asset, c.id), 0n);
      for (const c of [s.LAI, s.LIB]) assert.equal(await adj.getFunction('statusOf')(c.id), '0x' + '00'.repeat(32));
    });
  });
}

describe('reclaim checks', () => {
  test('refuses a target whose asset differs from the guarantee', async () => {
    const s = await setup(ETH);
    // V is (wrongly) challenged with a token outcome: the ETH guarantee cannot use it
    const tokenOutcome = [exit(f.addresses.token, [simple(f.alice.dest, DEPOSIT_V), simple(f.bob.dest, 0n)])];
    const vp = s.V.state(tokenOutcome, 1);
    await (await adj.getFunction('challenge')(s.V.fixedPart, [], s.V.sign(vp), challengerSig(s.V.fixedPart, vp, f.bob.key))).wait();
    const hIB = await challengeLedger(s.LIB, s.lib, f.bob);
    await increaseTime(f.chain.provider, 101);
    await assert.rejects(
      adj.getFunction('reclaim')({
        sourceChannelId: s.LIB.id,
        sourceStateHash: hIB,
        sourceOutcomeBytes: encodeOutcome(s.lib),
        sourceAssetIndex: 0n,
        indexOfTargetInSource: 2n,
        targetStateHash: s.V.hash(vp),
        targetOutcomeBytes: encodeOutcome(tokenOutcome),
        targetAssetIndex: 0n,
      }),
      /targetAsset != guaranteeAsset/,
    );
  });

  test('compute_reclaim_effects: credits left/right and checks the total', async () => {
    const V = new TestChannel([f.alice, f.irene, f.bob], f.addresses.virtualPaymentApp, 60);
    const source = [simple(f.alice.dest, 1n), guarantee(V.id, 10n, f.alice.dest, f.irene.dest), simple(f.irene.dest, 2n)];
    const res = (await adj.getFunction('compute_reclaim_effects')(source, [simple(f.alice.dest, 6n), simple(f.bob.dest, 4n)], 1n)) as unknown[][];
    assert.deepEqual(res.map((a) => [a[0], a[1]]), [
      [f.alice.dest, 7n],
      [f.irene.dest, 6n],
    ]);
    await assert.rejects(adj.getFunction('compute_reclaim_effects')(source, [simple(f.alice.dest, 6n), simple(f.bob.dest, 5n)], 1n), /totalReclaimed!=guarantee.amount/);
    const noRight = [simple(f.alice.dest, 1n), guarantee(V.id, 10n, f.alice.dest, f.irene.dest)];
    await assert.rejects(adj.getFunction('compute_reclaim_effects')(noRight, [simple(f.alice.dest, 6n), simple(f.bob.dest, 4n)], 1n), /could not find right/);
  });
});
