/**
 * Gas measurements of Sluice's adjudicator next to the reference NitroAdjudicator
 * (@statechannels/nitro-protocol@2.0.1-alpha.6 artifacts), on one fresh anvil, for the
 * scenarios of go-nitro's gas benchmark. Deterministic: same sequence -> same numbers.
 * Used by bench/gas.ts (prints the table) and test/gas.test.ts (regression vs snapshot).
 */
import { createRequire } from 'node:module';
import { Contract, type InterfaceAbi, type Wallet } from 'ethers';
import { startAnvil } from './anvil.ts';
import { actor, TestChannel, type Actor } from './fixture.ts';
import {
  ETH,
  challengerSig,
  connect,
  deploy,
  deployRaw,
  encodeOutcome,
  exit,
  gasOf,
  guarantee,
  increaseTime,
  redemptionAppData,
  signHash,
  simple,
  voucherHash,
  type Chain,
  type Outcome,
} from './nitro.ts';
import { loadArtifact } from '../../src/index.ts';

export type GasKey =
  | 'deployAdjudicator'
  | 'depositEthFirst'
  | 'depositEthSecond'
  | 'erc20Approve'
  | 'depositErc20First'
  | 'happyExitEth'
  | 'sadExitDirect'
  | 'sadExitVirtual';

export interface GasRow {
  key: GasKey;
  label: string;
  ours: number;
  /** reference adjudicator measured in the same run; null if it could not run the row */
  referenceMeasured: number | null;
  /** figure recorded by go-nitro's gas benchmark (gasResults.json), null if none */
  referenceRecorded: number | null;
  /** sub-steps (e.g. challenge, transferAllAssets) for multi-transaction rows */
  parts: { ours: Record<string, number>; reference: Record<string, number> | null };
  note?: string;
}

export const ROWS: { key: GasKey; label: string; recorded: number | null }[] = [
  { key: 'deployAdjudicator', label: 'deploy adjudicator', recorded: 3_443_915 },
  { key: 'depositEthFirst', label: 'ETH deposit (first)', recorded: 46_496 },
  { key: 'depositEthSecond', label: 'ETH deposit (second)', recorded: 29_408 },
  { key: 'erc20Approve', label: 'ERC20 approve (TestToken, not the adjudicator)', recorded: 46_193 },
  { key: 'depositErc20First', label: 'ERC20 deposit (first, after approve)', recorded: 69_866 },
  { key: 'happyExitEth', label: 'happy ETH exit (concludeAndTransferAllAssets)', recorded: 111_514 },
  { key: 'sadExitDirect', label: 'sad direct exit (challenge + transferAllAssets)', recorded: 195_172 },
  { key: 'sadExitVirtual', label: 'virtual sad exit (challenge L, challenge V, reclaim L, transferAllAssets L)', recorded: 470_520 },
];

interface Impl {
  adjudicator: Contract;
  consensusApp: string;
  virtualPaymentApp: string;
  deployGas: bigint;
}

interface Ctx {
  chain: Chain;
  token: Contract;
  tokenAddress: string;
  alice: Actor;
  irene: Actor;
  bob: Actor;
  deployer: Wallet;
}

const require = createRequire(import.meta.url);
function referenceArtifact(name: string): { abi: InterfaceAbi; bytecode: string } {
  return require(`@statechannels/nitro-protocol/dist/artifacts/contracts/${name}.sol/${name}.json`) as { abi: InterfaceAbi; bytecode: string };
}

async function deployImpl(which: 'ours' | 'reference', deployer: Wallet): Promise<Impl> {
  if (which === 'ours') {
    const adj = await deploy('NitroAdjudicator', deployer);
    const ca = await deploy('ConsensusApp', deployer);
    const vpa = await deploy('VirtualPaymentApp', deployer);
    return { adjudicator: adj.contract, consensusApp: await ca.contract.getAddress(), virtualPaymentApp: await vpa.contract.getAddress(), deployGas: adj.gasUsed };
  }
  const load = (n: string) => referenceArtifact(n);
  const adj = await deployRaw(load('NitroAdjudicator').abi, load('NitroAdjudicator').bytecode, deployer);
  const ca = await deployRaw(load('ConsensusApp').abi, load('ConsensusApp').bytecode, deployer);
  const vpa = await deployRaw(load('VirtualPaymentApp').abi, load('VirtualPaymentApp').bytecode, deployer);
  return { adjudicator: adj.contract, consensusApp: await ca.contract.getAddress(), virtualPaymentApp: await vpa.contract.getAddress(), deployGas: adj.gasUsed };
}

/** Runs every scenario against one implementation. `nonceBase` keeps channels distinct. */
async function runScenarios(ctx: Ctx, impl: Impl, nonceBase: bigint): Promise<Record<GasKey, { total: number; parts: Record<string, number> }>> {
  const { alice, irene, bob, chain, token, tokenAddress } = ctx;
  const adj = impl.adjudicator;
  const adjAddress = await adj.getAddress();
  const as = (w: Actor | Wallet) => adj.connect('wallet' in w ? w.wallet : w) as Contract;
  let n = nonceBase;
  const X = () => new TestChannel([alice, bob], impl.consensusApp, 100, n++);
  const num = (g: bigint) => Number(g);
  const out = {} as Record<GasKey, { total: number; parts: Record<string, number> }>;
  const single = (k: GasKey, g: bigint) => (out[k] = { total: num(g), parts: {} });

  single('deployAdjudicator', impl.deployGas);

  // deposits
  {
    const x = X();
    single('depositEthFirst', await gasOf(as(alice).getFunction('deposit')(ETH, x.id, 0n, 5n, { value: 5n })));
    single('depositEthSecond', await gasOf(as(bob).getFunction('deposit')(ETH, x.id, 5n, 5n, { value: 5n })));
  }
  {
    const x = X();
    // the adjudicator already holds some tokens (other channels), as in go-nitro's benchmark
    await gasOf((token.connect(ctx.deployer) as Contract).getFunction('transfer')(adjAddress, 1n));
    single('erc20Approve', await gasOf((token.connect(alice.wallet) as Contract).getFunction('approve')(adjAddress, 100n)));
    single('depositErc20First', await gasOf(as(alice).getFunction('deposit')(tokenAddress, x.id, 0n, 5n)));
  }

  // happy exit
  {
    const x = X();
    await gasOf(as(alice).getFunction('deposit')(ETH, x.id, 0n, 10n, { value: 10n }));
    const outcome = [exit(ETH, [simple(alice.dest, 5n), simple(bob.dest, 5n)])];
    single('happyExitEth', await gasOf(as(alice).getFunction('concludeAndTransferAllAssets')(x.fixedPart, x.sign(x.state(outcome, 4, true)))));
  }

  // sad direct exit
  {
    const x = X();
    await gasOf(as(alice).getFunction('deposit')(ETH, x.id, 0n, 10n, { value: 10n }));
    const outcome = [exit(ETH, [simple(alice.dest, 5n), simple(bob.dest, 5n)])];
    const vp = x.state(outcome, 4);
    const challenge = await gasOf(as(alice).getFunction('challenge')(x.fixedPart, [], x.sign(vp), challengerSig(x.fixedPart, vp, alice.key)));
    await increaseTime(chain.provider, 101);
    const transfer = await gasOf(as(alice).getFunction('transferAllAssets')(x.id, outcome, x.hash(vp)));
    out.sadExitDirect = { total: num(challenge + transfer), parts: { challenge: num(challenge), transferAllAssets: num(transfer) } };
  }

  // virtually funded sad exit: Bob exits L = [Irene, Bob] which guarantees V = [Alice, Irene, Bob]
  {
    const g = await virtualSadExit(ctx, impl, () => n++, 1, true);
    out.sadExitVirtual = {
      total: num(g.challengeL + g.challengeV + g.reclaimL + (g.transferL ?? 0n)),
      parts: { challengeL: num(g.challengeL), challengeV: num(g.challengeV), reclaimL: num(g.reclaimL), transferAllAssetsL: num(g.transferL ?? 0n) },
    };
  }
  return out;
}

/**
 * Bob exits L = [Irene, Bob], which guarantees `guarantees` virtual channels [Alice, Irene, Bob]:
 * challenge L, challenge the first channel V with a redemption of Alice's voucher, reclaim V's
 * guarantee into L and (with `transfer`, only possible once no guarantee is left) transferAllAssets.
 */
async function virtualSadExit(ctx: Pick<Ctx, 'alice' | 'irene' | 'bob' | 'chain'>, impl: Impl, nonce: () => bigint, guarantees: number, transfer: boolean) {
  const { alice, irene, bob, chain } = ctx;
  const as = (w: Actor) => impl.adjudicator.connect(w.wallet) as Contract;
  const vs = Array.from({ length: guarantees }, () => new TestChannel([alice, irene, bob], impl.virtualPaymentApp, 100, nonce()));
  const L = new TestChannel([irene, bob], impl.consensusApp, 100, nonce());
  const lOutcome: Outcome = [exit(ETH, [simple(irene.dest, 5n), simple(bob.dest, 5n), ...vs.map((v) => guarantee(v.id, 10n, irene.dest, bob.dest))])];
  const deposit = 10n + 10n * BigInt(guarantees);
  await gasOf(as(irene).getFunction('deposit')(ETH, L.id, 0n, deposit, { value: deposit }));
  const lState = L.state(lOutcome, 4);
  const challengeL = await gasOf(as(bob).getFunction('challenge')(L.fixedPart, [], L.sign(lState), challengerSig(L.fixedPart, lState, bob.key)));
  const V = vs[0]!;
  const postfund = V.sign(V.state([exit(ETH, [simple(alice.dest, 10n), simple(bob.dest, 0n)])], 1));
  const paid = 4n;
  const redeem = V.state([exit(ETH, [simple(alice.dest, 10n - paid), simple(bob.dest, paid)])], 2, false, redemptionAppData(paid, signHash(voucherHash(V.id, paid), alice.key)));
  const challengeV = await gasOf(as(bob).getFunction('challenge')(V.fixedPart, [postfund], V.sign(redeem, [2]), challengerSig(V.fixedPart, redeem, bob.key)));
  await increaseTime(chain.provider, 101);
  const reclaimL = await gasOf(
    as(bob).getFunction('reclaim')({
      sourceChannelId: L.id,
      sourceStateHash: L.hash(lState),
      sourceOutcomeBytes: encodeOutcome(lOutcome),
      sourceAssetIndex: 0n,
      indexOfTargetInSource: 2n,
      targetStateHash: V.hash(redeem),
      targetOutcomeBytes: encodeOutcome(redeem.outcome),
      targetAssetIndex: 0n,
    }),
  );
  let transferL: bigint | undefined;
  if (transfer) {
    const after: Outcome = [exit(ETH, [simple(irene.dest, 5n + 10n - paid), simple(bob.dest, 5n + paid)])];
    transferL = await gasOf(as(bob).getFunction('transferAllAssets')(L.id, after, L.hash(lState)));
  }
  return { challengeL, challengeV, reclaimL, transferL, outcomeBytes: (encodeOutcome(lOutcome).length - 2) / 2 };
}

/** Starts its own anvil, measures both implementations, stops anvil. */
export async function measureGas(): Promise<GasRow[]> {
  const anvil = await startAnvil();
  try {
    const chain = connect(anvil.rpcUrl, anvil.accounts);
    const [deployer, a, i, b] = chain.wallets;
    if (!deployer || !a || !i || !b) throw new Error('need 4 accounts');
    const tokenDeploy = await deploy('TestToken', deployer);
    const token = tokenDeploy.contract;
    for (const w of [deployer, a, i, b]) await gasOf((token.connect(deployer) as Contract).getFunction('mint')(w.address, 10n ** 24n));
    const ctx: Ctx = { chain, token, tokenAddress: await token.getAddress(), alice: actor(a), irene: actor(i), bob: actor(b), deployer };

    const ours = await runScenarios(ctx, await deployImpl('ours', deployer), 1n);
    let ref: Awaited<ReturnType<typeof runScenarios>> | null = null;
    let refError: string | undefined;
    try {
      ref = await runScenarios(ctx, await deployImpl('reference', deployer), 1n);
    } catch (e) {
      refError = `reference could not run: ${(e as Error).message.slice(0, 200)}`;
    }
    chain.provider.destroy();
    return ROWS.map((r) => {
      const o = ours[r.key];
      const rf = ref?.[r.key];
      const row: GasRow = {
        key: r.key,
        label: r.label,
        ours: o.total,
        referenceMeasured: rf ? rf.total : null,
        referenceRecorded: r.recorded,
        parts: { ours: o.parts, reference: rf ? rf.parts : null },
      };
      if (refError) row.note = refError;
      return row;
    });
  } finally {
    await anvil.stop();
  }
}

/** Gas of exiting a ledger that holds `guarantees` guarantees (see `measureGuaranteeScaling`). */
export interface GuaranteeScalingRow {
  guarantees: number;
  /** calldata of the ledger's outcome, bytes */
  outcomeBytes: number;
  challengeL: number;
  /** reclaiming the first guaranteed channel into L (passes L's whole outcome) */
  reclaimOne: number;
  transferAllAssetsL: number;
  /**
   * Every guaranteed channel settled through L: challenge L, then per channel a challenge of V
   * and a reclaim (measured for the first; later reclaims pass a shorter outcome, so this is an
   * upper bound), then transferAllAssets.
   */
  exitAllUpperBound: number;
}

/**
 * How our adjudicator's sad-path costs grow with the number of guarantees a ledger holds: the
 * reason a ledger's guarantee count is capped (`maxLedgerGuarantees`). Starts its own anvil.
 */
export async function measureGuaranteeScaling(counts: readonly number[] /* the first must be 1 */): Promise<GuaranteeScalingRow[]> {
  const anvil = await startAnvil();
  try {
    const chain = connect(anvil.rpcUrl, anvil.accounts);
    const [deployer, a, i, b] = chain.wallets;
    if (!deployer || !a || !i || !b) throw new Error('need 4 accounts');
    const impl = await deployImpl('ours', deployer);
    const ctx = { chain, alice: actor(a), irene: actor(i), bob: actor(b) };
    const rows: GuaranteeScalingRow[] = [];
    let n = 1_000n;
    for (const count of counts) {
      // transferAllAssets refuses while guarantees remain: every channel is reclaimed first, so it
      // always runs on a ledger with none left (measured at one guarantee, reused for the others)
      const g = await virtualSadExit(ctx, impl, () => n++, count, count === 1);
      const transferAllAssetsL = g.transferL === undefined ? (rows[0]?.transferAllAssetsL ?? 0) : Number(g.transferL);
      rows.push({
        guarantees: count,
        outcomeBytes: g.outcomeBytes,
        challengeL: Number(g.challengeL),
        reclaimOne: Number(g.reclaimL),
        transferAllAssetsL,
        exitAllUpperBound: Number(g.challengeL) + count * Number(g.challengeV + g.reclaimL) + transferAllAssetsL,
      });
    }
    chain.provider.destroy();
    return rows;
  } finally {
    await anvil.stop();
  }
}
