import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { getAddress } from 'ethers';
import { ADDRESS_MEMO_MAX, addressMemoSizes, checksumAddress, parseAddress } from '../src/address.ts';
import { bytesToHex } from '../src/hex.ts';

const addressBytes = fc.uint8Array({ minLength: 20, maxLength: 20 });

test('memoised checksumAddress / parseAddress agree with ethers for any address, any case, called repeatedly', () => {
  fc.assert(
    fc.property(addressBytes, (b) => {
      const lower = bytesToHex(b);
      const expected = getAddress(lower);
      for (let i = 0; i < 2; i++) {
        assert.equal(checksumAddress(b), expected);
        assert.equal(parseAddress(lower, 'a'), expected);
        assert.equal(parseAddress(`0x${lower.slice(2).toUpperCase()}`, 'a'), expected);
        assert.equal(parseAddress(expected, 'a'), expected);
      }
    }),
    { numRuns: 300 },
  );
});

test('a memo hit never turns an invalid spelling of a known address into a valid one', () => {
  const good = '0xC7e8d8CEEDb0b5D21Da18308EB61F06faafA1136'; // not a checksum: see the mutated one below
  const ok = parseAddress(good.toLowerCase(), 'a'); // remembered (lowercase spelling and its checksum)
  assert.equal(parseAddress(ok, 'a'), ok); // the checksummed spelling is valid, remembered too
  // flip the case of one letter of the checksummed form: the same bytes, a wrong checksum
  const i = [...ok].findIndex((c, k) => k > 1 && /[a-f]/i.test(c));
  const flipped = ok.slice(0, i) + (ok[i] === ok[i]!.toUpperCase() ? ok[i]!.toLowerCase() : ok[i]!.toUpperCase()) + ok.slice(i + 1);
  for (let k = 0; k < 3; k++) assert.throws(() => parseAddress(flipped, 'who'), /who has an invalid EIP-55 checksum/);
  // and shapes that are not addresses keep failing, with the caller's name
  for (const bad of [ok.slice(0, 41), `${ok}00`, ok.replace('0x', '0X'), ok.replace(/.$/, 'g'), 42, null, undefined]) {
    for (let k = 0; k < 2; k++) assert.throws(() => parseAddress(bad, 'who'), /who must be a 20-byte 0x address/);
  }
});

test('checksumAddress refuses anything but 20 bytes', () => {
  assert.throws(() => checksumAddress(new Uint8Array(19)), RangeError);
  assert.throws(() => checksumAddress(new Uint8Array(32)), RangeError);
});

test('the address memos stay bounded and keep answering correctly past the bound', () => {
  const b = new Uint8Array(20);
  const view = new DataView(b.buffer);
  const n = ADDRESS_MEMO_MAX + 1_500;
  for (let i = 0; i < n; i++) {
    view.setUint32(0, i);
    const lower = bytesToHex(b);
    const out = parseAddress(lower, 'a');
    const sizes = addressMemoSizes();
    assert.ok(sizes.checksums <= ADDRESS_MEMO_MAX && sizes.parsed <= ADDRESS_MEMO_MAX, JSON.stringify(sizes));
    if (i % 997 === 0) assert.equal(out, getAddress(lower));
  }
  // an early entry was evicted and is recomputed identically
  view.setUint32(0, 1);
  assert.equal(parseAddress(bytesToHex(b), 'a'), getAddress(bytesToHex(b)));
});
