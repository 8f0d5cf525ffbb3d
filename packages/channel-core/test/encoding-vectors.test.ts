import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bytesToHex,
  decodeOutcome,
  decodeVoucherAmountAndSignature,
  encodeOutcome,
  encodeVoucherAmountAndSignature,
  getChannelId,
  hashChallenge,
  hashOutcome,
  hashState,
  hashVoucher,
  parseSignature,
  privateKeyToAddress,
  recoverStateSigner,
  recoverVoucherSigner,
  signChallenge,
  signState,
  signVoucher,
  signatureToHex,
  signatureToVRS,
  useCryptoBackend,
  verifyVoucher,
  type Address,
  type ChannelId,
  type Hex,
  type State,
} from '../src/index.ts';
import { raw, toFixedPart, toOutcome } from './vectors.ts';

const backends = ['libsecp256k1', 'noble'] as const;

test('actors: addresses derive from the private keys', () => {
  for (const a of Object.values(raw.actors)) assert.equal(privateKeyToAddress(a.privateKey), a.address);
});

test('channel ids match the reference', () => {
  for (const [name, id] of Object.entries(raw.channelIds)) assert.equal(getChannelId(toFixedPart(name)), id, name);
});

test('outcome encodings and hashes match byte for byte, and decode back', () => {
  for (const [name, v] of Object.entries(raw.outcomes)) {
    const outcome = toOutcome(v.outcome);
    assert.equal(bytesToHex(encodeOutcome(outcome)), v.encoded.toLowerCase(), name);
    assert.equal(hashOutcome(outcome), v.hash, name);
    assert.deepEqual(decodeOutcome(v.encoded), outcome, name);
  }
});

function vectorState(s: (typeof raw.states)[number]): State {
  return {
    ...toFixedPart(s.fixedPart),
    appData: s.appData as Hex,
    outcome: toOutcome(raw.outcomes[s.outcome]!.outcome),
    turnNum: s.turnNum,
    isFinal: s.isFinal,
  };
}

for (const backend of backends) {
  test(`states: hashes, challenge hashes and signatures match the reference (${backend})`, () => {
    useCryptoBackend(backend);
    try {
      for (const s of raw.states) {
        const state = vectorState(s);
        assert.equal(getChannelId(state), s.channelId, s.name);
        assert.equal(hashState(state), s.stateHash, s.name);
        assert.equal(hashChallenge(hashState(state)), s.challengeHash, s.name);
        for (const [who, sig] of Object.entries(s.signatures)) {
          const actor = raw.actors[who as keyof typeof raw.actors];
          const ours = signState(state, actor.privateKey);
          assert.equal(signatureToHex(ours), sig.compact.toLowerCase(), `${s.name}/${who}`);
          assert.deepEqual(signatureToVRS(ours), { v: sig.v, r: sig.r.toLowerCase(), s: sig.s.toLowerCase() });
          assert.equal(recoverStateSigner(state, parseSignature(sig.compact)), actor.address);
        }
        // a challenger signature recovers to the challenger over the challenge hash
        const ch = signChallenge(state, raw.actors.alice.privateKey);
        assert.equal(ch.length, 65);
      }
    } finally {
      useCryptoBackend('libsecp256k1');
    }
  });

  test(`vouchers: hashes, signatures and redemption appData match the reference (${backend})`, () => {
    useCryptoBackend(backend);
    try {
      const alice = raw.actors.alice;
      for (const v of raw.vouchers) {
        const amount = BigInt(v.amount);
        const id = v.channelId as ChannelId;
        assert.equal(hashVoucher(id, amount), v.hash);
        const voucher = signVoucher(id, amount, alice.privateKey);
        assert.equal(signatureToHex(voucher.signature), v.signature.compact.toLowerCase());
        assert.equal(recoverVoucherSigner(voucher), alice.address);
        assert.ok(verifyVoucher(voucher, alice.address as Address));
        assert.ok(!verifyVoucher(voucher, raw.actors.bob.address as Address));
        assert.equal(encodeVoucherAmountAndSignature(amount, voucher.signature), v.redemptionAppData.toLowerCase());
        const back = decodeVoucherAmountAndSignature(v.redemptionAppData);
        assert.equal(back.amount, amount);
        assert.deepEqual(back.signature, voucher.signature);
      }
    } finally {
      useCryptoBackend('libsecp256k1');
    }
  });
}
