/**
 * Wire codec: property round trips for every frame type, exact byte layouts, and a table
 * of hostile inputs that must produce typed SluiceErrors only.
 */
import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ChannelId, ErrorCodes, SluiceError, bytesToHex, isSluiceError, signVoucher } from '@sluice/channel-core';
import { CHUNK_SIZE, cidOf } from '../src/content/index.ts';
import {
  END_OF_FILE,
  type Frame,
  FrameType,
  MAX_BLOCK_BYTES,
  MAX_CHUNK_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FRAME_BYTES,
  READY_BYTES,
  WIRE_ERROR_CODES,
  amountFor,
  chunkCountOf,
  closeCodeFor,
  closeReasonFor,
  decodeClientFrame,
  decodeFrame,
  decodeProviderFrame,
  encodeFrame,
  errorFrameFor,
  errorFromFrame,
  mayServe,
  paidEnd,
  sluiceCodeOfWire,
  truncateUtf8,
  wireCodeOf,
} from '../src/wire/index.ts';

const ALICE_KEY = '0x' + '11'.repeat(32);
const V = ('0x' + 'ab'.repeat(32)) as ChannelId;
const ROOT = cidOf(new Uint8Array([1, 2, 3]), 0x70);
const LEAF = cidOf(new Uint8Array([4, 5, 6]), 0x55);

function expectCode(fn: () => unknown, code: string, label: string): void {
  try {
    fn();
  } catch (e) {
    assert.ok(isSluiceError(e), `${label}: threw a non-SluiceError ${String(e)}`);
    assert.equal((e as SluiceError).code, code, `${label}: ${(e as Error).message}`);
    return;
  }
  assert.fail(`${label}: did not throw`);
}

/** Frames compare by value; CIDs by string, vouchers field by field. */
function norm(f: Frame): unknown {
  return JSON.parse(
    JSON.stringify(f, (_k, v: unknown) =>
      typeof v === 'bigint'
        ? `${v}n`
        : v instanceof Uint8Array
          ? bytesToHex(v)
          : v !== null && typeof v === 'object' && 'multihash' in v
            ? String(v)
            : v,
    ),
  );
}

const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
const u256 = fc.bigInt({ min: 0n, max: (1n << 256n) - 1n });
const bytes32 = fc.uint8Array({ minLength: 32, maxLength: 32 });
const anyCid = fc.tuple(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(0x55, 0x70)).map(([b, c]) => cidOf(b, c));
const pbCid = fc.uint8Array({ maxLength: 64 }).map((b) => cidOf(b, 0x70));

const helloArb = fc
  .record({ channelId: bytes32, root: anyCid, a: u32, b: u32 })
  .filter(({ a, b }) => a !== b)
  .map(({ channelId, root, a, b }): Frame => ({
    type: 'hello',
    version: 1,
    channelId: bytesToHex(channelId) as string as ChannelId,
    root,
    start: Math.min(a, b),
    end: Math.max(a, b),
  }));

const readyArb = fc
  .record({ fileSize: fc.oneof(fc.integer({ min: 0, max: 3 * CHUNK_SIZE }), fc.integer({ min: 0, max: 0xffff_ffff * CHUNK_SIZE })), s: fc.nat(), e: fc.nat(), ib: fc.nat(), price: u256, baseline: u256 })
  .map(({ fileSize, s, e, ib, price, baseline }): Frame => {
    const chunkCount = chunkCountOf(fileSize);
    const start = s % chunkCount;
    const end = start + 1 + (e % (chunkCount - start));
    return {
      type: 'ready',
      start,
      end,
      chunkCount,
      interiorBlocks: chunkCount === 1 ? 0 : 1 + (ib % chunkCount),
      fileSize,
      pricePerChunk: price,
      baseline,
    };
  });

const voucherArb = fc.record({ channelId: bytes32, amount: u256 }).map(
  ({ channelId, amount }): Frame => ({
    type: 'voucher',
    voucher: signVoucher(bytesToHex(channelId) as string as ChannelId, amount, ALICE_KEY),
  }),
);

const ackArb = fc.record({ paidEnd: u32, amount: u256 }).map((r): Frame => ({ type: 'ack', ...r }));
const blockArb = fc
  .record({ cid: pbCid, data: fc.uint8Array({ minLength: 1, maxLength: 2048 }) })
  .map((r): Frame => ({ type: 'block', ...r }));
const chunkArb = fc
  .record({ index: u32, data: fc.uint8Array({ maxLength: 4096 }) })
  .map((r): Frame => ({ type: 'chunk', ...r }));
const errorArb = fc
  .record({ code: fc.constantFrom(...(Object.keys(WIRE_ERROR_CODES) as (keyof typeof WIRE_ERROR_CODES)[])), message: fc.string({ unit: 'grapheme', maxLength: 60 }) })
  .map(({ code, message }): Frame => ({
    type: 'error',
    code,
    wireCode: WIRE_ERROR_CODES[code],
    message: truncateUtf8(message, MAX_ERROR_MESSAGE_BYTES),
  }));

const anyFrame = fc.oneof(helloArb, readyArb, voucherArb, ackArb, blockArb, chunkArb, errorArb);

describe('round trips', () => {
  it('decode(encode(f)) equals f for every frame type', () => {
    fc.assert(
      fc.property(anyFrame, (f) => {
        const bytes = encodeFrame(f);
        assert.ok(bytes.length <= MAX_FRAME_BYTES);
        assert.deepEqual(norm(decodeFrame(bytes)), norm(f));
        // and encoding is canonical: re-encoding the decoded frame gives the same bytes
        assert.deepEqual(encodeFrame(decodeFrame(bytes)), bytes);
      }),
      { numRuns: 300 },
    );
  });

  it('maximum-size CHUNK and BLOCK frames round trip', () => {
    const chunk = new Uint8Array(MAX_CHUNK_BYTES).fill(7);
    const c = decodeFrame(encodeFrame({ type: 'chunk', index: 0xffff_ffff, data: chunk }));
    assert.equal(c.type, 'chunk');
    assert.equal(c.type === 'chunk' && c.data.length, MAX_CHUNK_BYTES);
    assert.equal(encodeFrame({ type: 'chunk', index: 1, data: chunk }).length, MAX_FRAME_BYTES);
    const b = decodeFrame(encodeFrame({ type: 'block', cid: ROOT, data: new Uint8Array(MAX_BLOCK_BYTES) }));
    assert.equal(b.type === 'block' && b.data.length, MAX_BLOCK_BYTES);
  });

  it('HELLO with END_OF_FILE and an empty-file CHUNK round trip', () => {
    const h = decodeFrame(encodeFrame({ type: 'hello', version: 1, channelId: V, root: LEAF, start: 0, end: END_OF_FILE }));
    assert.equal(h.type === 'hello' && h.end, END_OF_FILE);
    const c = decodeFrame(encodeFrame({ type: 'chunk', index: 0, data: new Uint8Array(0) }));
    assert.equal(c.type === 'chunk' && c.data.length, 0);
  });
});

describe('byte layouts (docs/protocol.md)', () => {
  it('HELLO', () => {
    const b = encodeFrame({ type: 'hello', version: 1, channelId: V, root: ROOT, start: 2, end: 0x01020304 });
    assert.equal(b.length, 43 + 36);
    assert.equal(bytesToHex(b.subarray(0, 2)), '0x0101');
    assert.equal(bytesToHex(b.subarray(2, 34)), V);
    assert.equal(bytesToHex(b.subarray(34, 43)), '0x000000020102030424');
    assert.deepEqual(b.subarray(43), ROOT.bytes);
  });
  it('READY', () => {
    const b = encodeFrame({ type: 'ready', start: 1, end: 3, chunkCount: 3, interiorBlocks: 1, fileSize: 2 * CHUNK_SIZE + 5, pricePerChunk: 1000n, baseline: 5n });
    assert.equal(b.length, READY_BYTES);
    assert.equal(bytesToHex(b.subarray(0, 25)), '0x02' + '00000001' + '00000003' + '00000003' + '00000001' + '0000000000080005');
    assert.equal(bytesToHex(b.subarray(25, 57)), '0x' + '00'.repeat(30) + '03e8');
    assert.equal(bytesToHex(b.subarray(57, 89)), '0x' + '00'.repeat(31) + '05');
  });
  it('VOUCHER is the type byte then channel-core\'s 129-byte voucher', () => {
    const v = signVoucher(V, 1234n, ALICE_KEY);
    const b = encodeFrame({ type: 'voucher', voucher: v });
    assert.equal(b.length, 130);
    assert.equal(b[0], FrameType.VOUCHER);
    assert.equal(bytesToHex(b.subarray(1, 33)), V);
    assert.equal(bytesToHex(b.subarray(33, 65)), '0x' + '00'.repeat(30) + '04d2');
    assert.deepEqual(b.subarray(65), v.signature);
  });
  it('ACK, BLOCK, CHUNK, ERROR', () => {
    assert.equal(bytesToHex(encodeFrame({ type: 'ack', paidEnd: 9, amount: 1n })), '0x04' + '00000009' + '00'.repeat(31) + '01');
    const blk = encodeFrame({ type: 'block', cid: ROOT, data: new Uint8Array([0xaa]) });
    assert.equal(bytesToHex(blk.subarray(0, 2)), '0x0524');
    assert.equal(blk[blk.length - 1], 0xaa);
    assert.equal(bytesToHex(encodeFrame({ type: 'chunk', index: 258, data: new Uint8Array([1, 2]) })), '0x06000001020102');
    assert.equal(bytesToHex(encodeFrame({ type: 'error', code: 'CHUNK_HASH_MISMATCH', wireCode: 4202, message: 'hi' })), '0x07106a6869');
  });
});

// -----------------------------------------------------------------------------------------
// hostile inputs

const good = {
  hello: encodeFrame({ type: 'hello', version: 1, channelId: V, root: ROOT, start: 0, end: 10 }),
  ready: encodeFrame({ type: 'ready', start: 0, end: 2, chunkCount: 2, interiorBlocks: 1, fileSize: CHUNK_SIZE + 1, pricePerChunk: 1n, baseline: 0n }),
  voucher: encodeFrame({ type: 'voucher', voucher: signVoucher(V, 5n, ALICE_KEY) }),
  ack: encodeFrame({ type: 'ack', paidEnd: 1, amount: 1n }),
  block: encodeFrame({ type: 'block', cid: ROOT, data: new Uint8Array(10) }),
  chunk: encodeFrame({ type: 'chunk', index: 1, data: new Uint8Array(10) }),
  error: encodeFrame({ type: 'error', code: 'INTERNAL', wireCode: 4500, message: 'x' }),
};

function patch(b: Uint8Array, at: number, ...vals: number[]): Uint8Array {
  const c = Uint8Array.from(b);
  c.set(vals, at);
  return c;
}
function cat(...parts: (Uint8Array | number[])[]): Uint8Array {
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}
const ready = (f: Partial<Record<'start' | 'end' | 'chunkCount' | 'interiorBlocks', number>> & { fileSize?: bigint }) => {
  const b = Uint8Array.from(good.ready);
  const d = new DataView(b.buffer);
  if (f.start !== undefined) d.setUint32(1, f.start);
  if (f.end !== undefined) d.setUint32(5, f.end);
  if (f.chunkCount !== undefined) d.setUint32(9, f.chunkCount);
  if (f.interiorBlocks !== undefined) d.setUint32(13, f.interiorBlocks);
  if (f.fileSize !== undefined) d.setBigUint64(17, f.fileSize);
  return b;
};

const HOSTILE: readonly [string, unknown, string][] = [
  ['empty frame', new Uint8Array(0), 'DECODE_FAILED'],
  ['not a Uint8Array', 'hello' as unknown, 'DECODE_FAILED'],
  ['ArrayBuffer instead of bytes', new ArrayBuffer(4), 'DECODE_FAILED'],
  ['unknown type 0x00', new Uint8Array([0]), 'DECODE_FAILED'],
  ['unknown type 0x08', new Uint8Array([8, 0, 0]), 'DECODE_FAILED'],
  ['unknown type 0xff', new Uint8Array([0xff]), 'DECODE_FAILED'],
  ['oversized frame (MAX+1)', new Uint8Array(MAX_FRAME_BYTES + 1).fill(6, 0, 1), 'FRAME_TOO_LARGE'],
  ['oversized frame (1 MiB, unknown type)', new Uint8Array(1 << 20).fill(0x42), 'FRAME_TOO_LARGE'],
  // HELLO
  ['HELLO type byte only', new Uint8Array([1]), 'DECODE_FAILED'],
  ['HELLO version 0', patch(good.hello, 1, 0), 'WIRE_VERSION_UNSUPPORTED'],
  ['HELLO version 2', patch(good.hello, 1, 2), 'WIRE_VERSION_UNSUPPORTED'],
  ['HELLO truncated in channel id', good.hello.subarray(0, 20), 'DECODE_FAILED'],
  ['HELLO truncated in CID', good.hello.subarray(0, good.hello.length - 1), 'DECODE_FAILED'],
  ['HELLO trailing byte', cat(good.hello, [0]), 'DECODE_FAILED'],
  ['HELLO CID length 0', patch(good.hello, 42, 0), 'DECODE_FAILED'],
  ['HELLO CID length 65', cat(patch(good.hello, 42, 65), new Uint8Array(29)), 'DECODE_FAILED'],
  ['HELLO CID length 255', patch(good.hello, 42, 255), 'DECODE_FAILED'],
  ['HELLO CID garbage', cat(good.hello.subarray(0, 43), new Uint8Array(36).fill(0xff)), 'DECODE_FAILED'],
  ['HELLO CIDv0 (not Sluice)', cat(patch(good.hello.subarray(0, 43), 42, 34), [0x12, 0x20], new Uint8Array(32)), 'DECODE_FAILED'],
  ['HELLO CID with sha2-512', cat(patch(good.hello.subarray(0, 43), 42, 68), [1, 0x55, 0x13, 0x40], new Uint8Array(64)), 'DECODE_FAILED'],
  ['HELLO start == end', patch(good.hello, 34, 0, 0, 0, 10), 'DECODE_FAILED'],
  ['HELLO start > end', patch(good.hello, 34, 0, 0, 0, 11), 'DECODE_FAILED'],
  // READY
  ['READY truncated', good.ready.subarray(0, READY_BYTES - 1), 'DECODE_FAILED'],
  ['READY trailing byte', cat(good.ready, [0]), 'DECODE_FAILED'],
  ['READY end > chunkCount', ready({ end: 3 }), 'DECODE_FAILED'],
  ['READY empty range', ready({ start: 1, end: 1 }), 'DECODE_FAILED'],
  ['READY chunkCount ≠ size', ready({ chunkCount: 5, end: 5 }), 'DECODE_FAILED'],
  ['READY size > 2^53', ready({ fileSize: 1n << 60n }), 'DECODE_FAILED'],
  ['READY interior 0 for a multi-chunk file', ready({ interiorBlocks: 0 }), 'DECODE_FAILED'],
  ['READY interior > chunkCount', ready({ interiorBlocks: 3 }), 'DECODE_FAILED'],
  ['READY interior on a one-chunk file', ready({ fileSize: 5n, chunkCount: 1, end: 1, interiorBlocks: 1 }), 'DECODE_FAILED'],
  // VOUCHER
  ['VOUCHER type byte only', new Uint8Array([3]), 'VOUCHER_MALFORMED'],
  ['VOUCHER truncated', good.voucher.subarray(0, 129), 'VOUCHER_MALFORMED'],
  ['VOUCHER trailing byte', cat(good.voucher, [0]), 'VOUCHER_MALFORMED'],
  ['VOUCHER v = 0', patch(good.voucher, 129, 0), 'VOUCHER_MALFORMED'],
  ['VOUCHER v = 29', patch(good.voucher, 129, 29), 'VOUCHER_MALFORMED'],
  ['VOUCHER high s', patch(good.voucher, 97, ...new Uint8Array(32).fill(0xff)), 'VOUCHER_MALFORMED'],
  ['VOUCHER zero r', patch(good.voucher, 65, ...new Uint8Array(32)), 'VOUCHER_MALFORMED'],
  // ACK
  ['ACK truncated', good.ack.subarray(0, 36), 'DECODE_FAILED'],
  ['ACK trailing byte', cat(good.ack, [0]), 'DECODE_FAILED'],
  // BLOCK
  ['BLOCK type byte only', new Uint8Array([5]), 'DECODE_FAILED'],
  ['BLOCK CID length 0', patch(good.block, 1, 0), 'DECODE_FAILED'],
  ['BLOCK CID truncated', good.block.subarray(0, 20), 'DECODE_FAILED'],
  ['BLOCK no data', good.block.subarray(0, 38), 'DECODE_FAILED'],
  ['BLOCK raw CID (only dag-pb allowed)', encodeFrame({ type: 'chunk', index: 0, data: new Uint8Array(0) }).length === 5 ? cat([5, 36], LEAF.bytes, [1]) : new Uint8Array(0), 'DECODE_FAILED'],
  ['BLOCK data too large', cat([5, 36], ROOT.bytes, new Uint8Array(MAX_BLOCK_BYTES + 1)), 'FRAME_TOO_LARGE'],
  // CHUNK
  ['CHUNK truncated index', new Uint8Array([6, 0, 0, 1]), 'DECODE_FAILED'],
  ['CHUNK data too large', cat([6, 0, 0, 0, 0], new Uint8Array(MAX_CHUNK_BYTES + 1)), 'FRAME_TOO_LARGE'],
  // ERROR
  ['ERROR truncated code', new Uint8Array([7, 0x0f]), 'DECODE_FAILED'],
  ['ERROR code 1000 (not 4xxx)', new Uint8Array([7, 0x03, 0xe8]), 'DECODE_FAILED'],
  ['ERROR code 5000', new Uint8Array([7, 0x13, 0x88]), 'DECODE_FAILED'],
  ['ERROR invalid UTF-8', new Uint8Array([7, 0x0f, 0xa0, 0xc3, 0x28]), 'DECODE_FAILED'],
  ['ERROR lone surrogate (CESU)', new Uint8Array([7, 0x0f, 0xa0, 0xed, 0xa0, 0x80]), 'DECODE_FAILED'],
  ['ERROR message 257 bytes', cat([7, 0x0f, 0xa0], new Uint8Array(257).fill(0x61)), 'FRAME_TOO_LARGE'],
];

describe('hostile inputs', () => {
  for (const [label, input, code] of HOSTILE) {
    it(`${label} → ${code}`, () => expectCode(() => decodeFrame(input as Uint8Array), code, label));
  }

  it('every prefix of every valid frame decodes or throws a SluiceError', () => {
    for (const [name, b] of Object.entries(good)) {
      for (let i = 0; i < b.length; i++) {
        try {
          decodeFrame(b.subarray(0, i));
        } catch (e) {
          assert.ok(isSluiceError(e), `${name}[0..${i}): ${String(e)}`);
        }
      }
    }
  });

  it('random bytes and random mutations of valid frames yield frames or SluiceErrors, never other throws', () => {
    const valid = Object.values(good);
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.tuple(fc.constantFrom(...valid), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, i, v]) => patch(b, i % b.length, v)),
          fc.tuple(fc.integer({ min: 1, max: 7 }), fc.uint8Array({ maxLength: 200 })).map(([t, rest]) => cat([t], rest)),
        ),
        (b) => {
          try {
            decodeFrame(b);
          } catch (e) {
            assert.ok(isSluiceError(e), String(e));
            assert.ok(['DECODE_FAILED', 'FRAME_TOO_LARGE', 'WIRE_VERSION_UNSUPPORTED', 'VOUCHER_MALFORMED'].includes((e as SluiceError).code));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('direction checks: a provider rejects provider-only frames and vice versa', () => {
    expectCode(() => decodeClientFrame(good.chunk), 'WIRE_UNEXPECTED_FRAME', 'CHUNK to provider');
    expectCode(() => decodeClientFrame(good.ready), 'WIRE_UNEXPECTED_FRAME', 'READY to provider');
    expectCode(() => decodeProviderFrame(good.hello), 'WIRE_UNEXPECTED_FRAME', 'HELLO to client');
    expectCode(() => decodeProviderFrame(good.voucher), 'WIRE_UNEXPECTED_FRAME', 'VOUCHER to client');
    assert.equal(decodeClientFrame(good.voucher).type, 'voucher');
    assert.equal(decodeProviderFrame(good.error).type, 'error');
  });

  it('the encoder refuses out-of-range fields', () => {
    assert.throws(() => encodeFrame({ type: 'chunk', index: -1, data: new Uint8Array(0) }), RangeError);
    assert.throws(() => encodeFrame({ type: 'chunk', index: 0, data: new Uint8Array(MAX_CHUNK_BYTES + 1) }), RangeError);
    assert.throws(() => encodeFrame({ type: 'block', cid: LEAF, data: new Uint8Array(1) }), TypeError);
    assert.throws(() => encodeFrame({ type: 'hello', version: 2, channelId: V, root: ROOT, start: 0, end: 1 }), RangeError);
    assert.throws(() => encodeFrame({ type: 'hello', version: 1, channelId: V, root: ROOT, start: 1, end: 1 }), RangeError);
    assert.throws(() => encodeFrame({ type: 'ack', paidEnd: 0, amount: -1n }), RangeError);
    assert.throws(() => encodeFrame({ type: 'ack', paidEnd: 0, amount: 1n << 256n }), RangeError);
    assert.throws(() => encodeFrame({ type: 'error', code: 'INTERNAL', wireCode: 1000, message: '' }), RangeError);
    assert.throws(() => encodeFrame({ type: 'error', code: 'INTERNAL', wireCode: 4202, message: '' }), RangeError);
    assert.throws(() => encodeFrame({ type: 'error', code: 'INTERNAL', wireCode: 4500, message: 'x'.repeat(257) }), RangeError);
    assert.throws(() => encodeFrame({ type: 'ready', start: 0, end: 1, chunkCount: 2, interiorBlocks: 1, fileSize: 10, pricePerChunk: 0n, baseline: 0n }), RangeError);
  });
});

describe('error code table', () => {
  it('numbers are unique, in 4000..4999, and name real SluiceError codes', () => {
    const nums = Object.values(WIRE_ERROR_CODES);
    assert.equal(new Set(nums).size, nums.length);
    for (const [code, n] of Object.entries(WIRE_ERROR_CODES)) {
      assert.ok(n >= 4000 && n <= 4999, code);
      assert.ok((ErrorCodes as readonly string[]).includes(code), code);
      assert.equal(sluiceCodeOfWire(n), code);
    }
  });
  it('unknown wire numbers decode as INTERNAL but keep their number', () => {
    const f = decodeFrame(new Uint8Array([7, 0x11, 0x93])); // 4499
    assert.deepEqual(f, { type: 'error', code: 'INTERNAL', wireCode: 4499, message: '' });
    assert.equal(errorFromFrame(f as Parameters<typeof errorFromFrame>[0]).details.wireCode, 4499);
  });
  it('errors map to frames and close codes without leaking internals', () => {
    const e = new SluiceError('VOUCHER_UNDERPAYMENT', 'voucher pays for 3 chunks, 4 needed');
    assert.deepEqual(errorFrameFor(e), { type: 'error', code: 'VOUCHER_UNDERPAYMENT', wireCode: 4106, message: e.message });
    assert.equal(closeCodeFor(e), 4106);
    assert.equal(wireCodeOf('CHUNK_HASH_MISMATCH'), 4202);
    const internal = new Error('ENOENT /secret/path');
    assert.deepEqual(errorFrameFor(internal), { type: 'error', code: 'INTERNAL', wireCode: 4500, message: 'internal error' });
    assert.equal(closeCodeFor(internal), 4500);
    const long = new SluiceError('DECODE_FAILED', 'é'.repeat(300));
    assert.ok(new TextEncoder().encode(errorFrameFor(long).message).length <= MAX_ERROR_MESSAGE_BYTES);
    assert.ok(new TextEncoder().encode(closeReasonFor(long)).length <= 123);
    // every frame built by errorFrameFor encodes
    for (const code of Object.keys(WIRE_ERROR_CODES)) encodeFrame(errorFrameFor(new SluiceError(code as 'INTERNAL', 'm')));
  });
});

describe('payment arithmetic', () => {
  const terms = { start: 10, end: 20, pricePerChunk: 100n, baseline: 1000n };
  it('chunk start+j needs baseline + (j+1)·price', () => {
    assert.equal(paidEnd(terms, 1000n), 10);
    assert.equal(paidEnd(terms, 1099n), 10);
    assert.equal(paidEnd(terms, 1100n), 11);
    assert.equal(paidEnd(terms, 1_000_000n), 20);
    assert.equal(paidEnd(terms, 0n), 10);
    assert.equal(amountFor(terms, 13), 1300n);
    assert.ok(mayServe(terms, 1300n, 12));
    assert.ok(!mayServe(terms, 1300n, 13));
    assert.ok(!mayServe(terms, 1300n, 9));
    assert.equal(paidEnd({ ...terms, pricePerChunk: 0n }, 0n), 20);
  });
  it('paidEnd(amountFor(i)) == i and never sends an unpaid chunk', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 1, max: 1000 }), fc.bigInt({ min: 1n, max: 1n << 200n }), fc.bigInt({ min: 0n, max: 1n << 200n }), fc.bigInt({ min: 0n, max: 1n << 210n }), (start, span, price, baseline, amount) => {
        const t = { start, end: start + span, pricePerChunk: price, baseline };
        for (const i of [start, start + 1, start + span]) if (i <= t.end) assert.equal(paidEnd(t, amountFor(t, i)), i);
        const pe = paidEnd(t, amount);
        assert.ok(pe >= start && pe <= t.end);
        if (pe > start) assert.ok(amount >= amountFor(t, pe)); // every served chunk is paid
        if (pe < t.end) assert.ok(amount < amountFor(t, pe + 1)); // and nothing more
      }),
    );
  });
});
