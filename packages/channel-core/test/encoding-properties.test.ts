import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  MAX_UINT256,
  SluiceError,
  bytesToHex,
  decodeGuaranteeMetadata,
  decodeOutcome,
  decodeVoucherAmountAndSignature,
  deserializeVoucher,
  encodeGuaranteeMetadata,
  encodeOutcome,
  encodeVoucherAmountAndSignature,
  hexToBytes,
  isSluiceError,
  parseAddress,
  parseBytes32,
  parseSignature,
  parseUint,
  privateKeyToAddress,
  recoverVoucherSigner,
  serializeVoucher,
  signVoucher,
  signatureFromVRS,
  signatureToVRS,
  useCryptoBackend,
  verifyVoucher,
  type Address,
  type AllocationType,
  type Bytes32,
  type ChannelId,
  type Hex,
  type Outcome,
  type Signature,
} from '../src/index.ts';
import { nativeBackend, nobleBackend } from '../src/secp256k1.ts';
import { checksumAddress } from '../src/address.ts';
import { raw } from './vectors.ts';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const bytes32 = bytes(32).map((b) => bytesToHex(b) as string as Bytes32);
const address = bytes(20).map((b) => checksumAddress(b));
const hexBlob = fc.uint8Array({ maxLength: 80 }).map((b) => bytesToHex(b) as Hex);
const uint256 = fc.bigInt({ min: 0n, max: MAX_UINT256 });
// valid secp256k1 private keys (non-zero, below n); all-0xff is not
const privateKey = bytes(32).filter((k) => k.some((x) => x !== 0) && k[0] !== 0xff);

const outcomeArb: fc.Arbitrary<Outcome> = fc.array(
  fc.record({
    asset: address,
    assetMetadata: fc.record({ assetType: fc.integer({ min: 0, max: 255 }), metadata: hexBlob }),
    allocations: fc.array(
      fc.record({
        destination: bytes32,
        amount: uint256,
        allocationType: fc.constantFrom<AllocationType>(0, 1, 2),
        metadata: hexBlob,
      }),
      { maxLength: 4 },
    ),
  }),
  { maxLength: 3 },
);

test('property: decodeOutcome(encodeOutcome(x)) == x', () => {
  fc.assert(fc.property(outcomeArb, (o) => assert.deepEqual(decodeOutcome(encodeOutcome(o)), structuredClone(o))), { numRuns: 150 });
});

test('property: guarantee metadata round trips', () => {
  fc.assert(fc.property(bytes32, bytes32, (left, right) => assert.deepEqual(decodeGuaranteeMetadata(encodeGuaranteeMetadata({ left, right })), { left, right })));
});

test('property: voucher wire form and redemption appData round trip (amounts up to 2^256-1)', () => {
  const key = raw.actors.alice.privateKey;
  fc.assert(
    fc.property(bytes32, uint256, (channelId, amount) => {
      const v = signVoucher(channelId as ChannelId, amount, key);
      const back = deserializeVoucher(serializeVoucher(v));
      assert.deepEqual(back, v);
      const appData = encodeVoucherAmountAndSignature(amount, v.signature);
      assert.deepEqual(decodeVoucherAmountAndSignature(appData), { amount, signature: v.signature });
      assert.deepEqual(signatureFromVRS(signatureToVRS(v.signature)), v.signature);
    }),
    { numRuns: 100 },
  );
});

test('property: a voucher verifies only for its signer; any other key or amount fails', () => {
  fc.assert(
    fc.property(privateKey, privateKey, bytes32, uint256, (k1, k2, channelId, amount) => {
      fc.pre(bytesToHex(k1) !== bytesToHex(k2));
      const v = signVoucher(channelId as ChannelId, amount, k1);
      const signer = privateKeyToAddress(k1);
      assert.equal(recoverVoucherSigner(v), signer);
      assert.ok(verifyVoucher(v, signer));
      assert.ok(!verifyVoucher(v, privateKeyToAddress(k2)));
      assert.ok(!verifyVoucher({ ...v, amount: amount === 0n ? 1n : amount - 1n }, signer));
    }),
    { numRuns: 60 },
  );
});

test('property: libsecp256k1 and @noble/curves give identical signatures and recoveries', (t) => {
  if (nativeBackend === undefined) return t.skip('libsecp256k1 is not loadable here');
  fc.assert(
    fc.property(privateKey, bytes(32), (key, digest) => {
      const a = nativeBackend!.sign(digest, key);
      const b = nobleBackend.sign(digest, key);
      assert.deepEqual(a.signature, b.signature);
      assert.equal(a.recovery, b.recovery);
      assert.deepEqual(nativeBackend!.recover(digest, a.signature, a.recovery), nobleBackend.recover(digest, b.signature, b.recovery));
      assert.deepEqual(nativeBackend!.publicKey(key), nobleBackend.publicKey(key));
      assert.equal(nobleBackend.verify(digest, a.signature, nativeBackend!.publicKey(key)), true);
    }),
    { numRuns: 60 },
  );
});

const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

function withS(sig: Signature, s: bigint, v?: number): Uint8Array {
  const out = Uint8Array.from(sig);
  out.set(hexToBytes(`0x${s.toString(16).padStart(64, '0')}`), 32);
  if (v !== undefined) out[64] = v;
  return out;
}

for (const backend of ['libsecp256k1', 'noble'] as const) {
  test(`signature hygiene: low-s only, v in {27,28}, 65 bytes, r/s in range (${backend})`, () => {
    useCryptoBackend(backend);
    try {
      const alice = raw.actors.alice;
      const v = signVoucher(raw.channelIds['virtualAIB'] as ChannelId, 5n, alice.privateKey);
      const s = BigInt(bytesToHex(v.signature.subarray(32, 64)));
      assert.ok(s <= N / 2n, 'we produce low-s');
      assert.ok(v.signature[64] === 27 || v.signature[64] === 28);
      // the malleable twin (n - s, flipped v) is rejected, although ecrecover would accept it
      const high = withS(v.signature, N - s, v.signature[64] === 27 ? 28 : 27);
      assert.throws(() => parseSignature(high), (e) => isSluiceError(e, 'SIGNATURE_HIGH_S'));
      assert.equal(verifyVoucher({ ...v, signature: high as Signature }, alice.address as Address), false);
      assert.throws(() => recoverVoucherSigner({ ...v, signature: high as Signature }), (e) => isSluiceError(e, 'VOUCHER_BAD_SIGNATURE'));
      for (const badV of [0, 1, 26, 29, 255]) {
        const bad = Uint8Array.from(v.signature);
        bad[64] = badV;
        assert.throws(() => parseSignature(bad), (e) => isSluiceError(e, 'SIGNATURE_BAD_V'));
        assert.equal(verifyVoucher({ ...v, signature: bad as Signature }, alice.address as Address), false);
      }
      for (const len of [0, 64, 66]) {
        assert.throws(() => parseSignature(new Uint8Array(len)), (e) => isSluiceError(e, 'SIGNATURE_MALFORMED'));
      }
      assert.throws(() => parseSignature(withS(v.signature, 0n)), (e) => isSluiceError(e, 'SIGNATURE_MALFORMED'));
      const rZero = Uint8Array.from(v.signature).fill(0, 0, 32);
      assert.throws(() => parseSignature(rZero), (e) => isSluiceError(e, 'SIGNATURE_MALFORMED'));
      const rN = Uint8Array.from(v.signature);
      rN.set(hexToBytes(`0x${N.toString(16)}`), 0);
      assert.throws(() => parseSignature(rN), (e) => isSluiceError(e, 'SIGNATURE_MALFORMED'));
    } finally {
      useCryptoBackend('libsecp256k1');
    }
  });
}

// Every public parser, fed hostile input, throws a typed error (SluiceError, TypeError or
// RangeError) and nothing else.
const hostile: unknown[] = [
  undefined, null, 0, 1.5, -1, NaN, {}, [], '', '0x', '0x0', 'zz', '0xzz', `0x${'00'.repeat(200_000)}`, '1e3', ' 1', '-1',
  new Uint8Array(0), new Uint8Array(1), new Uint8Array(128), new Uint8Array(129), new Uint8Array(200), new Uint8Array(70_000),
  new Uint8Array(129).fill(0xff), `0x${'ff'.repeat(128)}`, `0x${'00'.repeat(32)}`, 2n ** 256n, -1n,
];
const parsers: Record<string, (x: never) => unknown> = {
  deserializeVoucher,
  decodeOutcome,
  decodeVoucherAmountAndSignature,
  decodeGuaranteeMetadata,
  parseSignature,
  parseAddress: (x) => parseAddress(x, 'x'),
  parseBytes32: (x) => parseBytes32(x, 'x'),
  parseUint: (x) => parseUint(x, 'x'),
  hexToBytes: (x) => hexToBytes(x, 'x'),
};

test('hostile inputs: every parser throws a typed error and never anything else', () => {
  for (const [name, parse] of Object.entries(parsers)) {
    for (const input of hostile) {
      try {
        parse(input as never);
      } catch (e) {
        assert.ok(e instanceof SluiceError || e instanceof TypeError || e instanceof RangeError, `${name} threw ${String(e)}`);
      }
    }
  }
  // specific shapes
  assert.throws(() => deserializeVoucher(new Uint8Array(128)), (e) => isSluiceError(e, 'VOUCHER_MALFORMED'));
  assert.throws(() => decodeOutcome(new Uint8Array(70_000)), (e) => isSluiceError(e, 'DECODE_FAILED'));
  assert.throws(() => decodeOutcome(`0x${'ff'.repeat(64)}`), (e) => isSluiceError(e, 'DECODE_FAILED'));
  const appData = hexToBytes(raw.vouchers[1]!.redemptionAppData);
  appData[40] = 1; // non-zero padding inside the v word
  assert.throws(() => decodeVoucherAmountAndSignature(appData), (e) => isSluiceError(e, 'DECODE_FAILED'));
  assert.throws(() => parseAddress('0xC7e8d8CEEDb0b5D21Da18308EB61F06faafA1137', 'a'), /checksum/);
});

test('decodeOutcome rejects non-canonical encodings', () => {
  const encoded = hexToBytes(raw.outcomes['ethTwoParty']!.encoded);
  const padded = new Uint8Array(encoded.length + 32);
  padded.set(encoded);
  assert.throws(() => decodeOutcome(padded), (e) => isSluiceError(e, 'DECODE_FAILED'));
});

test('verifyVoucher refuses a payer with a bad checksum even when the payer key is cached', () => {
  const alice = raw.actors.alice;
  const v = signVoucher(raw.channelIds['virtualAIB'] as ChannelId, 7n, alice.privateKey);
  assert.ok(verifyVoucher(v, alice.address as Address)); // caches Alice's key
  // flip the case of the first letter: still mixed case, so the checksum must fail
  const i = [...alice.address].findIndex((c, j) => j > 1 && /[a-fA-F]/.test(c));
  const c = alice.address[i]!;
  const badChecksum = alice.address.slice(0, i) + (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase()) + alice.address.slice(i + 1);
  assert.throws(() => verifyVoucher(v, badChecksum as Address), TypeError);
});

test('property: hand-packed ABI encodings equal ethers\' AbiCoder byte for byte', async () => {
  const { AbiCoder, keccak256: ethersKeccak } = await import('ethers');
  const { OUTCOME_TYPE, outcomeToAbi, encodeState, getChannelId } = await import('../src/index.ts');
  const coder = AbiCoder.defaultAbiCoder();
  const fixedPartArb = fc.record({
    participants: fc.array(address, { minLength: 2, maxLength: 5 }),
    channelNonce: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    appDefinition: address,
    challengeDuration: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
  });
  fc.assert(
    fc.property(fixedPartArb, outcomeArb, hexBlob, fc.integer({ min: 0, max: 2 ** 48 - 1 }), fc.boolean(), (fp, outcome, appData, turnNum, isFinal) => {
      assert.equal(bytesToHex(encodeOutcome(outcome)), coder.encode([OUTCOME_TYPE], [outcomeToAbi(outcome)]));
      const id = getChannelId(fp);
      const idRef = bytesToHex(
        hexToBytes(coder.encode(['address[]', 'uint64', 'address', 'uint48'], [fp.participants, fp.channelNonce, fp.appDefinition, fp.challengeDuration])),
      );
      assert.equal(id, ethersKeccak(idRef));
      const state = { ...fp, outcome, appData, turnNum, isFinal };
      assert.equal(
        bytesToHex(encodeState(state)),
        coder.encode(['bytes32', 'bytes', OUTCOME_TYPE, 'uint48', 'bool'], [id, appData, outcomeToAbi(outcome), turnNum, isFinal]),
      );
    }),
    { numRuns: 150 },
  );
});
