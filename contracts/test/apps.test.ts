/**
 * ConsensusApp and VirtualPaymentApp rules, and interop with the reference vectors
 * (../shared/vectors/nitro-gen2.json): the vectors' own signatures verify on chain.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Wallet, type Contract } from 'ethers';
import { startFixture, TestChannel, type Fixture } from './lib/fixture.ts';
import {
  ETH,
  challengerSig,
  deployRaw,
  exit,
  hashOutcome,
  increaseTime,
  latestTimestamp,
  packStatus,
  redemptionAppData,
  signHash,
  signState,
  simple,
  voucherHash,
  type FixedPart,
  type Outcome,
  type Sig,
  type SignedVariablePart,
  type VariablePart,
} from './lib/nitro.ts';
import { loadArtifact } from '../src/index.ts';

let f: Fixture;
let adj: Contract;
before(async () => {
  f = await startFixture();
  adj = f.adjudicator;
});
after(async () => {
  await f?.stop();
});

async function supported(fp: FixedPart, proof: SignedVariablePart[], candidate: SignedVariablePart): Promise<[boolean, string]> {
  const [ok, reason] = (await adj.getFunction('stateIsSupported')(fp, proof, candidate)) as [boolean, string];
  return [ok, reason];
}

describe('ConsensusApp', () => {
  const fp = (n: number): FixedPart => ({ participants: Array.from({ length: n }, (_, i) => `0x${String(i + 1).padStart(40, '0')}`), channelNonce: 1n, appDefinition: ETH, challengeDuration: 1 });
  const rvp = (signedBy: bigint) => ({ variablePart: { outcome: [], appData: '0x', turnNum: 1, isFinal: false }, signedBy });
  test('supports exactly a unanimously signed candidate with no proof', async () => {
    const app = f.consensusApp.getFunction('stateIsSupported');
    assert.deepEqual([...((await app(fp(2), [], rvp(3n))) as unknown[])], [true, '']);
    assert.deepEqual([...((await app(fp(3), [], rvp(7n))) as unknown[])], [true, '']);
    await assert.rejects(app(fp(2), [], rvp(1n)), /!unanimous/);
    await assert.rejects(app(fp(2), [], rvp(5n)), /!unanimous/); // a bit outside the participants does not count
    await assert.rejects(app(fp(2), [rvp(3n)], rvp(3n)), /\|proof\|!=0/);
  });
});

describe('VirtualPaymentApp (through the adjudicator, with real signatures)', () => {
  function setup(asset: string) {
    const V = new TestChannel([f.alice, f.irene, f.bob], f.addresses.virtualPaymentApp, 60);
    const funded = [exit(asset, [simple(f.alice.dest, 100n), simple(f.bob.dest, 0n)])];
    const postfund = V.sign(V.state(funded, 1));
    const redeem = (amount: bigint, opts: { key?: string; outcome?: Outcome; channel?: string } = {}): VariablePart => {
      const sig = signHash(voucherHash(opts.channel ?? V.id, amount), opts.key ?? f.alice.key);
      const outcome = opts.outcome ?? [exit(asset, [simple(f.alice.dest, 100n - amount), simple(f.bob.dest, amount)])];
      return V.state(outcome, 2, false, redemptionAppData(amount, sig));
    };
    return { V, funded, postfund, redeem };
  }

  test('prefund and postfund need everyone', async () => {
    const { V, funded } = setup(ETH);
    assert.deepEqual(await supported(V.fixedPart, [], V.sign(V.state(funded, 0))), [true, '']);
    assert.deepEqual(await supported(V.fixedPart, [], V.sign(V.state(funded, 1))), [true, '']);
    await assert.rejects(supported(V.fixedPart, [], V.sign(V.state(funded, 1), [0, 2])), /!unanimous; \|proof\|=0/);
    await assert.rejects(supported(V.fixedPart, [], V.sign(V.state(funded, 2))), /bad candidate turnNum; \|proof\|=0/);
  });

  for (const kind of ['ETH', 'ERC20'] as const) {
    test(`a redemption signed by Bob with Alice's voucher is supported (${kind})`, async () => {
      const { V, postfund, redeem } = setup(kind === 'ETH' ? ETH : f.addresses.token);
      assert.deepEqual(await supported(V.fixedPart, [postfund], V.sign(redeem(40n), [2])), [true, '']);
      assert.deepEqual(await supported(V.fixedPart, [postfund], V.sign(redeem(0n), [2])), [true, '']);
      assert.deepEqual(await supported(V.fixedPart, [postfund], V.sign(redeem(100n), [2])), [true, '']);
    });
  }

  test('refuses bad redemptions', async () => {
    const { V, funded, postfund, redeem } = setup(ETH);
    const bob = (vp: VariablePart) => V.sign(vp, [2]);
    const fp = V.fixedPart;
    await assert.rejects(supported(fp, [postfund], V.sign(redeem(40n), [0, 1])), /redemption not signed by Bob/);
    await assert.rejects(supported(fp, [postfund], bob(redeem(40n, { key: f.bob.key }))), /invalid signature for voucher/);
    await assert.rejects(supported(fp, [postfund], bob(redeem(40n, { channel: new TestChannel([f.alice], ETH, 1).id }))), /invalid signature for voucher/);
    await assert.rejects(supported(fp, [postfund], bob(redeem(101n, { outcome: [exit(ETH, [simple(f.alice.dest, 0n), simple(f.bob.dest, 101n)])] }))), /voucher exceeds payer balance/);
    await assert.rejects(
      supported(fp, [postfund], bob(redeem(40n, { outcome: [exit(ETH, [simple(f.alice.dest, 60n), simple(f.bob.dest, 41n)])] }))),
      /Bob not adjusted correctly/,
    );
    await assert.rejects(
      supported(fp, [postfund], bob(redeem(40n, { outcome: [exit(ETH, [simple(f.alice.dest, 50n), simple(f.bob.dest, 40n)])] }))),
      /Alice not adjusted correctly/,
    );
    await assert.rejects(
      supported(fp, [postfund], bob(redeem(40n, { outcome: [exit(ETH, [simple(f.alice.dest, 60n), simple(f.irene.dest, 40n)])] }))),
      /allocation changed/,
    );
    await assert.rejects(
      supported(fp, [postfund], bob(redeem(40n, { outcome: [exit(f.addresses.token, [simple(f.alice.dest, 60n), simple(f.bob.dest, 40n)])] }))),
      /asset changed/,
    );
    const two = [exit(ETH, [simple(f.alice.dest, 60n), simple(f.bob.dest, 40n)]), exit(f.addresses.token, [])];
    await assert.rejects(supported(fp, [postfund], bob(redeem(40n, { outcome: two }))), /only one asset allowed/);
    // proof problems
    await assert.rejects(supported(fp, [V.sign(V.state(funded, 1), [0, 1])], bob(redeem(40n))), /postfund !unanimous/);
    await assert.rejects(supported(fp, [V.sign(V.state(funded, 0))], bob(redeem(40n))), /bad proof\[0\].turnNum/);
    await assert.rejects(supported(fp, [postfund, postfund], bob(redeem(40n))), /bad proof length/);
    const r3 = { ...redeem(40n), turnNum: 3 };
    await assert.rejects(supported(fp, [postfund], bob(r3)), /bad candidate turnNum; \|proof\|=1/);
  });

  test('Bob can challenge V with a voucher; Alice cannot clear it with an older state', async () => {
    const { V, funded, postfund, redeem } = setup(ETH);
    const r = redeem(30n);
    await (await adj.getFunction('challenge')(V.fixedPart, [postfund], V.sign(r, [2]), challengerSig(V.fixedPart, r, f.bob.key))).wait();
    await assert.rejects(adj.getFunction('checkpoint')(V.fixedPart, [], V.sign(V.state(funded, 1))), /turnNumRecord not increased/);
  });
});

// ------------------------------------------------------------------ vectors

interface VSig {
  v: number;
  r: string;
  s: string;
}
interface Vectors {
  actors: Record<string, { privateKey: string; address: string }>;
  apps: Record<string, string>;
  fixedParts: Record<string, { participants: string[]; channelNonce: string; appDefinition: string; challengeDuration: number }>;
  channelIds: Record<string, string>;
  outcomes: Record<string, { outcome: { asset: string; assetMetadata: { assetType: number; metadata: string }; allocations: { destination: string; amount: string; allocationType: number; metadata: string }[] }[]; encoded: string; hash: string }>;
  states: { name: string; fixedPart: string; appData: string; outcome: string; turnNum: number; isFinal: boolean; stateHash: string; challengeHash: string; signatures: Record<string, VSig> }[];
  vouchers: { channelId: string; amount: string; hash: string; signature: VSig; redemptionAppData: string }[];
}
const vectors = JSON.parse(readFileSync(new URL('../../../shared/vectors/nitro-gen2.json', import.meta.url), 'utf8')) as Vectors;

function vOutcome(name: string): Outcome {
  const o = vectors.outcomes[name];
  assert.ok(o, name);
  return o.outcome.map((e) => ({ ...e, allocations: e.allocations.map((a) => ({ ...a, amount: BigInt(a.amount) })) }));
}
function vFixedPart(name: string): FixedPart {
  const fp = vectors.fixedParts[name];
  assert.ok(fp, name);
  return { ...fp, channelNonce: BigInt(fp.channelNonce) };
}
const sig = (s: VSig): Sig => ({ v: s.v, r: s.r, s: s.s });

describe('reference vectors verify on chain', () => {
  before(async () => {
    // Put our apps at the vectors' app addresses (and ConsensusApp at address(0) for maxNonce).
    const set = (addr: string, name: 'ConsensusApp' | 'VirtualPaymentApp') => f.chain.provider.send('anvil_setCode', [addr, loadArtifact(name).deployedBytecode]);
    await set(vectors.apps['CONSENSUS_APP'] ?? '', 'ConsensusApp');
    await set(vectors.apps['VIRTUAL_PAYMENT_APP'] ?? '', 'VirtualPaymentApp');
    await set(ETH, 'ConsensusApp');
  });

  for (const s of vectors.states) {
    test(`state ${s.name}: vector signatures are accepted by stateIsSupported`, async () => {
      const fp = vFixedPart(s.fixedPart);
      const vp: VariablePart = { outcome: vOutcome(s.outcome), appData: s.appData, turnNum: s.turnNum, isFinal: s.isFinal };
      const svp = { variablePart: vp, sigs: Object.values(s.signatures).map(sig) };
      assert.deepEqual(await supported(fp, [], svp), [true, '']);
    });
  }

  test('on-chain channelId, stateHash, outcome hash and challenge hash equal the vectors (via challenge + statusOf)', async () => {
    const s = vectors.states.find((x) => x.name === 'ledgerWithGuarantee');
    assert.ok(s);
    const fp = vFixedPart(s.fixedPart);
    const vp: VariablePart = { outcome: vOutcome(s.outcome), appData: s.appData, turnNum: s.turnNum, isFinal: s.isFinal };
    const alice = vectors.actors['alice'];
    assert.ok(alice);
    // the challenger signs the vector's challengeHash directly: accepted only if the contract derives the same hash
    const csig = signHash(s.challengeHash, alice.privateKey);
    await (await adj.getFunction('challenge')(fp, [], { variablePart: vp, sigs: Object.values(s.signatures).map(sig) }, csig)).wait();
    const now = BigInt(await latestTimestamp(f.chain.provider));
    const cid = vectors.channelIds[s.fixedPart] ?? '';
    const outcomeHash = vectors.outcomes[s.outcome]?.hash ?? '';
    assert.equal(outcomeHash, hashOutcome(vp.outcome));
    assert.equal(await adj.getFunction('statusOf')(cid), packStatus(BigInt(s.turnNum), now + BigInt(fp.challengeDuration), s.stateHash, outcomeHash));
    await increaseTime(f.chain.provider, fp.challengeDuration + 1);
  });

  test('vector vouchers redeem V (virtualPostfund -> virtualRedeem) on chain', async () => {
    const post = vectors.states.find((x) => x.name === 'virtualPostfund');
    assert.ok(post);
    const fp = vFixedPart('virtualAIB');
    const proof = { variablePart: { outcome: vOutcome('virtualPostfund'), appData: '0x', turnNum: 1, isFinal: false }, sigs: Object.values(post.signatures).map(sig) };
    const bobKey = vectors.actors['bob']?.privateKey ?? '';
    const v40 = vectors.vouchers.find((v) => v.amount === '40');
    assert.ok(v40);
    assert.equal(v40.channelId, vectors.channelIds['virtualAIB']);
    const redeem: VariablePart = { outcome: vOutcome('virtualRedeem'), appData: v40.redemptionAppData, turnNum: 2, isFinal: false };
    assert.deepEqual(await supported(fp, [proof], signState(fp, redeem, [bobKey])), [true, '']);
    // the 1 ETH voucher is validly signed but exceeds Alice's 100 wei in V
    const big = vectors.vouchers.find((v) => v.amount === '1000000000000000000');
    assert.ok(big);
    const tooMuch: VariablePart = { ...redeem, appData: big.redemptionAppData };
    await assert.rejects(supported(fp, [proof], signState(fp, tooMuch, [bobKey])), /voucher exceeds payer balance/);
    // vector voucher signatures recover to Alice
    for (const v of vectors.vouchers) assert.equal(voucherHash(v.channelId, BigInt(v.amount)), v.hash);
    assert.equal(new Wallet(vectors.actors['alice']?.privateKey ?? '').address, vectors.actors['alice']?.address);
  });
});

describe('interop with the reference contracts (@statechannels/nitro-protocol@2.0.1-alpha.6)', () => {
  test('our adjudicator accepts the reference apps, and the reference adjudicator accepts ours', async () => {
    const req = createRequire(import.meta.url);
    const ref = (n: string) => req(`@statechannels/nitro-protocol/dist/artifacts/contracts/${n}.sol/${n}.json`) as { abi: never; bytecode: string };
    const refAdj = (await deployRaw(ref('NitroAdjudicator').abi, ref('NitroAdjudicator').bytecode, f.deployer)).contract;
    const refVpa = await (await deployRaw(ref('VirtualPaymentApp').abi, ref('VirtualPaymentApp').bytecode, f.deployer)).contract.getAddress();
    const refCa = await (await deployRaw(ref('ConsensusApp').abi, ref('ConsensusApp').bytecode, f.deployer)).contract.getAddress();

    for (const [adjudicator, vpa, ca] of [
      [adj, refVpa, refCa],
      [refAdj, f.addresses.virtualPaymentApp, f.addresses.consensusApp],
    ] as const) {
      const V = new TestChannel([f.alice, f.irene, f.bob], vpa, 60);
      const postfund = V.sign(V.state([exit(ETH, [simple(f.alice.dest, 100n), simple(f.bob.dest, 0n)])], 1));
      const sigV = signHash(voucherHash(V.id, 25n), f.alice.key);
      const redeem = V.state([exit(ETH, [simple(f.alice.dest, 75n), simple(f.bob.dest, 25n)])], 2, false, redemptionAppData(25n, sigV));
      const res = (await adjudicator.getFunction('stateIsSupported')(V.fixedPart, [postfund], V.sign(redeem, [2]))) as unknown[];
      assert.deepEqual([...res], [true, '']);
      const L = new TestChannel([f.alice, f.bob], ca, 60);
      const l = L.state([exit(ETH, [simple(f.alice.dest, 1n)])], 3);
      assert.deepEqual([...((await adjudicator.getFunction('stateIsSupported')(L.fixedPart, [], L.sign(l))) as unknown[])], [true, '']);
      await assert.rejects(adjudicator.getFunction('stateIsSupported')(L.fixedPart, [], L.sign(l, [0])), /!unanimous/);
    }
  });
});
