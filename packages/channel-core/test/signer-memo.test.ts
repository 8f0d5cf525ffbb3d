import { test } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAddress, isSluiceError, type Address, type Hex, type Outcome, type State } from '../src/index.ts';
import { SIGNER_MEMO_MAX, hashStateBytes, recoverStateHashSigner, recoverStateSigner, signState, signerMemoSize } from '../src/state.ts';
import { signHash } from '../src/signature.ts';
import { keccak256 } from '../src/keccak.ts';

const ALICE = '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228';
const BOB = '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6';
const A = privateKeyToAddress(ALICE);
const B = privateKeyToAddress(BOB);

function state(turnNum: number): State {
  const outcome: Outcome = [];
  return {
    participants: [A, B],
    channelNonce: 7n,
    appDefinition: '0x00000000000000000000000000000000000000C0' as Address,
    challengeDuration: 60,
    outcome,
    appData: '0x' as Hex,
    turnNum,
    isFinal: false,
  };
}

test('memoised state signer recovery: same hash and signature give the same signer; any differing byte is recovered afresh', () => {
  const s1 = state(1);
  const s2 = state(2);
  const sigA1 = signState(s1, ALICE);
  const sigB1 = signState(s1, BOB);
  for (let i = 0; i < 3; i++) {
    assert.equal(recoverStateSigner(s1, sigA1), A);
    assert.equal(recoverStateSigner(s1, sigB1), B);
    assert.equal(recoverStateHashSigner(hashStateBytes(s1), sigA1), A);
  }
  // Alice's signature on turn 1 presented for turn 2: the memo (which holds it for turn 1) must
  // not answer Alice; the recovery yields some other key (or throws), never A.
  for (let i = 0; i < 2; i++) {
    let other: Address | undefined;
    try {
      other = recoverStateSigner(s2, sigA1);
    } catch (e) {
      assert.ok(isSluiceError(e));
    }
    assert.notEqual(other, A);
  }
  // a signature differing in one byte (s, or v) is not a memo hit either
  const tweaked = Uint8Array.from(sigA1);
  tweaked[40] = tweaked[40]! ^ 1;
  let r: Address | undefined;
  try {
    r = recoverStateSigner(s1, tweaked);
  } catch (e) {
    assert.ok(isSluiceError(e));
  }
  assert.notEqual(r, A);
  const flippedV = Uint8Array.from(sigA1);
  flippedV[64] = flippedV[64] === 27 ? 28 : 27;
  let rv: Address | undefined;
  try {
    rv = recoverStateSigner(s1, flippedV);
  } catch (e) {
    assert.ok(isSluiceError(e));
  }
  assert.notEqual(rv, A);
});

test('malformed signatures keep throwing (never memoised), also after a valid one was seen', () => {
  const s = state(3);
  const sig = signState(s, ALICE);
  assert.equal(recoverStateSigner(s, sig), A);
  const highV = Uint8Array.from(sig);
  highV[64] = 29;
  const short = sig.subarray(0, 64);
  const zeroR = Uint8Array.from(sig);
  zeroR.fill(0, 0, 32);
  for (let i = 0; i < 2; i++) {
    assert.throws(() => recoverStateSigner(s, highV), (e: unknown) => isSluiceError(e, 'SIGNATURE_BAD_V'));
    assert.throws(() => recoverStateSigner(s, short), (e: unknown) => isSluiceError(e, 'SIGNATURE_MALFORMED'));
    assert.throws(() => recoverStateSigner(s, zeroR), (e: unknown) => isSluiceError(e, 'SIGNATURE_MALFORMED'));
  }
});

test('the signer memo stays bounded and keeps answering correctly past the bound', () => {
  const n = SIGNER_MEMO_MAX + 300;
  const first = keccak256(new Uint8Array([0]));
  const firstSig = signHash(first, BOB);
  for (let i = 0; i < n; i++) {
    const h = keccak256(new Uint8Array([i & 0xff, i >> 8, 1]));
    const sig = signHash(h, i % 2 === 0 ? ALICE : BOB);
    assert.equal(recoverStateHashSigner(h, sig), i % 2 === 0 ? A : B);
    assert.ok(signerMemoSize() <= SIGNER_MEMO_MAX);
    if (i === 0) assert.equal(recoverStateHashSigner(first, firstSig), B);
  }
  // evicted by now: recovered again, same answer
  assert.equal(recoverStateHashSigner(first, firstSig), B);
});
