/**
 * Interop: the reference vectors (../shared/vectors/nitro-gen2.json, produced by the published
 * nitro-protocol helpers) are accepted by our contracts through the adapter — signatures of
 * the vectors, channel-core's encodings of the same states, and the voucher redemption.
 * The vectors' app addresses (0x1111…, 0x2222…) get our apps' runtime code via anvil_setCode.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { loadArtifact } from '../../contracts/src/index.ts';
import { raw, toFixedPart, toOutcome } from '../../packages/channel-core/test/vectors.ts';
import { ETH, startChain, type ChainFixture } from './lib.ts';
import {
  encodeVoucherAmountAndSignature,
  getChannelId,
  hashChallenge,
  hashState,
  parseSignature,
  signChallenge,
  signState,
  signatureFromVRS,
  type Address,
  type Hex,
  type SignedState,
  type State,
} from './core.ts';

let f: ChainFixture;
before(async () => {
  f = await startChain();
  await f.provider.send('anvil_setCode', [raw.apps['CONSENSUS_APP'], loadArtifact('ConsensusApp').deployedBytecode]);
  await f.provider.send('anvil_setCode', [raw.apps['VIRTUAL_PAYMENT_APP'], loadArtifact('VirtualPaymentApp').deployedBytecode]);
});
after(async () => {
  await f?.stop();
});

type VectorState = (typeof raw.states)[number];

function toState(v: VectorState): State {
  return { ...toFixedPart(v.fixedPart), outcome: toOutcome(raw.outcomes[v.outcome]!.outcome), appData: v.appData as Hex, turnNum: v.turnNum, isFinal: v.isFinal };
}

/** The vector's own signatures (from r, s, v), not re-signed. */
function vectorSigned(name: string): SignedState {
  const v = raw.states.find((s) => s.name === name)!;
  const state = toState(v);
  assert.equal(getChannelId(state), v.channelId.toLowerCase());
  assert.equal(hashState(state), v.stateHash.toLowerCase());
  const signatures = Object.values(v.signatures).map((sig) => {
    const s = signatureFromVRS(sig);
    assert.deepEqual(s, parseSignature(sig.compact));
    return s;
  });
  return { state, signatures };
}

const keys = Object.fromEntries(Object.entries(raw.actors).map(([n, a]) => [n, a.privateKey])) as Record<'alice' | 'irene' | 'bob', Hex>;

test('vector states with the vectors\' signatures are supported by our adjudicator + apps', async () => {
  for (const name of ['ledgerPrefund', 'ledgerWithGuarantee', 'ledgerFinal', 'virtualPostfund']) {
    const res = await f.alice.chain.stateIsSupported([], vectorSigned(name));
    assert.deepEqual(res, { supported: true, reason: '' }, name);
  }
  // and re-signed by channel-core: byte-identical signatures (RFC 6979)
  for (const v of raw.states) {
    const s = toState(v);
    for (const [who, sig] of Object.entries(v.signatures)) {
      assert.deepEqual(signState(s, keys[who as 'alice']), signatureFromVRS(sig), `${v.name}/${who}`);
    }
  }
  // a signature set missing Irene is not unanimous
  const partial = vectorSigned('ledgerFinal');
  const res = await f.alice.chain.stateIsSupported([], { state: partial.state, signatures: partial.signatures.slice(0, 1) });
  assert.equal(res.supported, false);
});

test('the vectors\' voucher, redeemed with channel-core\'s appData, is accepted by VirtualPaymentApp', async () => {
  const voucher = raw.vouchers.find((v) => v.amount === '40')!;
  const sig = signatureFromVRS(voucher.signature);
  const appData = encodeVoucherAmountAndSignature(40n, sig);
  assert.equal(appData, voucher.redemptionAppData.toLowerCase());
  const postfund = vectorSigned('virtualPostfund');
  const redeem: State = { ...postfund.state, outcome: toOutcome(raw.outcomes['virtualRedeem']!.outcome), appData, turnNum: 2 };
  const candidate = { state: redeem, signatures: [signState(redeem, keys.bob)] };
  assert.deepEqual(await f.alice.chain.stateIsSupported([postfund], candidate), { supported: true, reason: '' });
  // the same voucher for a larger amount claim is refused, with the app's reason
  const voucher1 = raw.vouchers.find((v) => v.amount === '1')!;
  const wrong: State = { ...redeem, appData: encodeVoucherAmountAndSignature(40n, signatureFromVRS(voucher1.signature)) };
  const res = await f.alice.chain.stateIsSupported([postfund], { state: wrong, signatures: [signState(wrong, keys.bob)] });
  assert.equal(res.supported, false);
  assert.match(res.reason, /invalid signature for voucher/);
});

test('on chain with the vectors\' signatures: challenge (ledgerWithGuarantee) then concludeAndTransferAllAssets (ledgerFinal)', async () => {
  const final = vectorSigned('ledgerFinal');
  const channelId = getChannelId(final.state);
  const total = final.state.outcome[0]!.allocations.reduce((t, a) => t + a.amount, 0n);
  await f.deployer.chain.deposit({ asset: ETH, channelId, amount: total, expectedHeld: 0n });
  const withG = vectorSigned('ledgerWithGuarantee');
  const vec = raw.states.find((s) => s.name === 'ledgerWithGuarantee')!;
  assert.equal(hashChallenge(hashState(withG.state)), vec.challengeHash.toLowerCase());
  // submitted by a non-participant; the challenger is Alice by signature
  await f.deployer.chain.challenge({ proof: [], candidate: withG, challengerSignature: signChallenge(withG.state, keys.alice) });
  assert.equal((await f.deployer.chain.statusOf(channelId)).turnNumRecord, 5);
  const before = await Promise.all(final.state.participants.map((p) => f.provider.getBalance(p)));
  await f.deployer.chain.concludeAndTransferAllAssets({ candidate: final });
  const afterB = await Promise.all(final.state.participants.map((p) => f.provider.getBalance(p)));
  final.state.outcome[0]!.allocations.forEach((a, i) => {
    assert.equal(afterB[i]! - before[i]!, a.amount);
    assert.equal(a.destination, `0x${'0'.repeat(24)}${(final.state.participants[i] as Address).slice(2).toLowerCase()}`);
  });
  assert.equal(await f.deployer.chain.holdings(ETH, channelId), 0n);
});
