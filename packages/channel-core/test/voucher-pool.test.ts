import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type Address,
  type ChannelId,
  type Signature,
  type Voucher,
  hexToBytes,
  isSluiceError,
  signVoucher,
  verifyVoucher,
} from '../src/index.ts';
import { createVoucherVerifierPool, crashVoucherPoolWorkerForTesting } from '../src/voucher-pool.ts';
import { raw } from './vectors.ts';

const alice = raw.actors.alice;
const bob = raw.actors.bob;
const ALICE = alice.address as Address;
const BOB = bob.address as Address;
const CH = '0x' + '5a'.repeat(32) as ChannelId;
const CH2 = '0x' + 'c3'.repeat(32) as ChannelId;
const N = hexToBytes('0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141');

function withSig(v: Voucher, edit: (sig: Uint8Array) => Uint8Array): Voucher {
  return { ...v, signature: edit(Uint8Array.from(v.signature)) as Signature };
}

function negate32(x: Uint8Array): Uint8Array {
  // n - x, big-endian
  const out = new Uint8Array(32);
  let borrow = 0;
  for (let i = 31; i >= 0; i--) {
    let d = N[i]! - x[i]! - borrow;
    borrow = d < 0 ? 1 : 0;
    if (d < 0) d += 256;
    out[i] = d;
  }
  return out;
}

/** A mix of valid, invalid and wrong-payer cases with the payer to check against. */
function cases(): { name: string; voucher: Voucher; payer: Address }[] {
  const out: { name: string; voucher: Voucher; payer: Address }[] = [];
  for (let i = 1; i <= 20; i++) {
    const v = signVoucher(i % 2 === 0 ? CH : CH2, BigInt(i) * 10n ** 15n, alice.privateKey);
    out.push({ name: `valid ${i}`, voucher: v, payer: ALICE });
    out.push({ name: `wrong payer ${i}`, voucher: v, payer: BOB });
    if (i % 4 === 0) out.push({ name: `bob signs ${i}`, voucher: signVoucher(CH, BigInt(i), bob.privateKey), payer: BOB });
  }
  const v = signVoucher(CH, 12345n, alice.privateKey);
  out.push({ name: 'amount tampered', voucher: { ...v, amount: 12346n }, payer: ALICE });
  out.push({ name: 'channel tampered', voucher: { ...v, channelId: CH2 }, payer: ALICE });
  out.push({ name: 'v flipped', voucher: withSig(v, (s) => ((s[64] = s[64] === 27 ? 28 : 27), s)), payer: ALICE });
  out.push({ name: 'v = 0', voucher: withSig(v, (s) => ((s[64] = 0), s)), payer: ALICE });
  out.push({
    name: 'high s (malleated)',
    voucher: withSig(v, (s) => {
      s.set(negate32(s.subarray(32, 64)), 32);
      s[64] = s[64] === 27 ? 28 : 27;
      return s;
    }),
    payer: ALICE,
  });
  out.push({ name: 'r = 0', voucher: withSig(v, (s) => (s.fill(0, 0, 32), s)), payer: ALICE });
  out.push({ name: 'r >= n', voucher: withSig(v, (s) => (s.fill(0xff, 0, 32), s)), payer: ALICE });
  out.push({ name: 's bit flipped', voucher: withSig(v, (s) => ((s[40]! ^= 1), s)), payer: ALICE });
  out.push({ name: '64-byte signature', voucher: withSig(v, (s) => s.subarray(0, 64)), payer: ALICE });
  out.push({ name: 'empty signature', voucher: withSig(v, () => new Uint8Array(0)), payer: ALICE });
  out.push({ name: 'lowercase payer', voucher: v, payer: ALICE.toLowerCase() as Address });
  out.push({ name: 'valid last', voucher: v, payer: ALICE });
  return out;
}

test('voucher pool: results equal verifyVoucher (valid, invalid, wrong payer), in order', async () => {
  const all = cases();
  const expected = all.map((c) => verifyVoucher(c.voucher, c.payer));
  assert.ok(expected.includes(true) && expected.includes(false));
  const pool = createVoucherVerifierPool({ size: 2, batchSize: 7 });
  try {
    // one at a time
    const single = await Promise.all(all.map((c) => pool.verify(c.voucher, c.payer)));
    all.forEach((c, i) => assert.equal(single[i], expected[i], c.name));
    // batched, per-voucher payers
    const many = await pool.verifyMany(
      all.map((c) => c.voucher),
      all.map((c) => c.payer),
    );
    assert.deepEqual(many, expected);
    // batched, one payer; repeated so batches spread over both workers
    const big = Array.from({ length: 12 }, () => all.map((c) => c.voucher)).flat();
    const bigExpected = big.map((v) => verifyVoucher(v, ALICE));
    assert.deepEqual(await pool.verifyMany(big, ALICE), bigExpected);
    const s = pool.stats();
    assert.equal(s.completed > 0, true);
    assert.equal(s.queued, 0);
    assert.equal(s.inFlight, 0);
    assert.ok(s.batches > 2);
  } finally {
    await pool.close();
  }
});

test('voucher pool: noble backend in the workers gives the same results', async () => {
  const all = cases().slice(-14);
  const expected = all.map((c) => verifyVoucher(c.voucher, c.payer));
  const pool = createVoucherVerifierPool({ size: 1, backend: 'noble' });
  try {
    assert.equal(pool.stats().backend, 'noble');
    assert.deepEqual(await pool.verifyMany(all.map((c) => c.voucher), all.map((c) => c.payer)), expected);
  } finally {
    await pool.close();
  }
});

test('voucher pool: malformed arguments reject exactly as verifyVoucher throws', async () => {
  const v = signVoucher(CH, 1n, alice.privateKey);
  const bad: { voucher: Voucher; payer: Address }[] = [
    { voucher: { ...v, amount: -1n }, payer: ALICE },
    { voucher: { ...v, amount: 1n << 256n }, payer: ALICE },
    { voucher: { ...v, channelId: '0x1234' as ChannelId }, payer: ALICE },
    { voucher: v, payer: '0x1234' as Address },
    { voucher: v, payer: ('0x' + ALICE.slice(2, 41) + (ALICE[41] === 'a' ? 'A' : 'a')) as Address },
  ];
  const pool = createVoucherVerifierPool({ size: 1 });
  let exercised = 0;
  try {
    for (const b of bad) {
      let thrown: unknown;
      try {
        verifyVoucher(b.voucher, b.payer);
      } catch (e) {
        thrown = e;
      }
      if (thrown === undefined) continue; // verifyVoucher's payer-key cache can accept a case-variant payer
      exercised++;
      await assert.rejects(pool.verify(b.voucher, b.payer), (e) => e instanceof Error && e.constructor === (thrown as Error).constructor);
      await assert.rejects(pool.verifyMany([v, b.voucher], [ALICE, b.payer]), (e) => e instanceof Error && e.constructor === (thrown as Error).constructor);
    }
    assert.ok(exercised >= 4);
    await assert.rejects(pool.verifyMany([v, v], [ALICE]), RangeError);
    assert.equal(pool.stats().completed, 0);
  } finally {
    await pool.close();
  }
});

test('voucher pool: abort before and while queued rejects with ABORTED; the rest still complete', async () => {
  const vs = Array.from({ length: 300 }, (_, i) => signVoucher(CH, BigInt(i + 1), alice.privateKey));
  const pool = createVoucherVerifierPool({ size: 1, batchSize: 10 });
  try {
    await assert.rejects(pool.verify(vs[0]!, ALICE, { signal: AbortSignal.abort() }), (e) => isSluiceError(e, 'ABORTED'));
    await assert.rejects(pool.verifyMany(vs, ALICE, { signal: AbortSignal.abort() }), (e) => isSluiceError(e, 'ABORTED'));

    const ac = new AbortController();
    const keep = pool.verifyMany(vs.slice(0, 20), ALICE);
    const doomed = vs.map((v) => pool.verify(v, ALICE, { signal: ac.signal }));
    const settled = Promise.allSettled(doomed);
    ac.abort(new Error('user went away'));
    const results = await settled;
    const rejected = results.filter((r) => r.status === 'rejected');
    assert.ok(rejected.length > 0, 'queued vouchers are aborted');
    for (const r of rejected) assert.ok(isSluiceError(r.reason, 'ABORTED'));
    for (const r of results) if (r.status === 'fulfilled') assert.equal(r.value, true);
    assert.deepEqual(await keep, Array(20).fill(true));
    assert.equal(pool.stats().queued, 0);
    assert.ok(pool.stats().aborted >= rejected.length);
    // a whole verifyMany group aborted while mostly queued
    const ac2 = new AbortController();
    const group = pool.verifyMany(vs, ALICE, { signal: ac2.signal });
    await new Promise((r) => setImmediate(r));
    ac2.abort();
    await assert.rejects(group, (e) => isSluiceError(e, 'ABORTED'));
    assert.equal(pool.stats().queued, 0);
    // the pool still works afterwards
    assert.equal(await pool.verify(vs[5]!, ALICE), true);
    assert.deepEqual(await pool.verifyMany(vs.slice(0, 30), ALICE), Array(30).fill(true));
  } finally {
    await pool.close();
  }
});

test('voucher pool: the queue is bounded (OVERLOADED), and accepted work still completes', async () => {
  const vs = Array.from({ length: 40 }, (_, i) => signVoucher(CH, BigInt(i + 1), alice.privateKey));
  const pool = createVoucherVerifierPool({ size: 1, maxQueue: 5, batchSize: 1 });
  try {
    const results = await Promise.allSettled(vs.map((v) => pool.verify(v, ALICE)));
    const ok = results.filter((r) => r.status === 'fulfilled');
    const over = results.filter((r) => r.status === 'rejected');
    assert.ok(over.length > 0);
    for (const r of over) assert.ok(isSluiceError(r.reason, 'OVERLOADED'), String(r.reason));
    for (const r of ok) assert.equal(r.value, true);
    // at most maxQueue waiting + 2 batches of 1 in flight
    assert.ok(ok.length <= 5 + 2, `accepted ${ok.length}`);
    assert.equal(pool.stats().overloaded, over.length);
    // all-or-nothing for verifyMany
    await assert.rejects(pool.verifyMany(vs, ALICE), (e) => isSluiceError(e, 'OVERLOADED'));
    assert.equal(pool.stats().queued, 0);
    assert.deepEqual(await pool.verifyMany(vs.slice(0, 5), ALICE), Array(5).fill(true));
  } finally {
    await pool.close();
  }
});

test('voucher pool: invalid options throw RangeError before any worker starts', () => {
  for (const o of [{ size: 0 }, { size: 1.5 }, { maxQueue: 0 }, { batchSize: 0 }, { batchSize: Number.NaN }]) {
    assert.throws(() => createVoucherVerifierPool(o), RangeError, JSON.stringify(o));
  }
});

test('voucher pool: a crashed worker fails its in-flight batch with INTERNAL and is replaced', async () => {
  const vs = Array.from({ length: 50 }, (_, i) => signVoucher(CH, BigInt(i + 1), alice.privateKey));
  const pool = createVoucherVerifierPool({ size: 1 });
  try {
    assert.equal(await pool.verify(vs[0]!, ALICE), true);
    crashVoucherPoolWorkerForTesting(pool, 0);
    await assert.rejects(pool.verifyMany(vs, ALICE), (e) => isSluiceError(e, 'INTERNAL'));
    assert.equal(pool.stats().workerRestarts, 1);
    assert.equal(pool.stats().inFlight, 0);
    assert.deepEqual(await pool.verifyMany(vs, ALICE), Array(50).fill(true));
    assert.equal(await pool.verify(vs[1]!, BOB), false);
  } finally {
    await pool.close();
  }
});

test('voucher pool: close() rejects outstanding work, later calls reject, close is idempotent', async () => {
  const vs = Array.from({ length: 200 }, (_, i) => signVoucher(CH, BigInt(i + 1), alice.privateKey));
  const pool = createVoucherVerifierPool({ size: 2, batchSize: 8 });
  const pending = Promise.allSettled(vs.map((v) => pool.verify(v, ALICE)));
  await Promise.resolve();
  const closing = pool.close();
  assert.equal(pool.close(), closing);
  await closing;
  const results = await pending;
  for (const r of results) {
    if (r.status === 'rejected') assert.ok(isSluiceError(r.reason, 'ABORTED'));
    else assert.equal(r.value, true);
  }
  assert.ok(results.some((r) => r.status === 'rejected'));
  await assert.rejects(pool.verify(vs[0]!, ALICE), (e) => isSluiceError(e, 'ABORTED'));
  assert.equal(pool.stats().closed, true);
  assert.equal(pool.stats().inFlight, 0);
  assert.equal(pool.stats().queued, 0);
});

test('voucher pool: an idle pool that is never closed does not keep the process alive', () => {
  const poolUrl = new URL('../src/voucher-pool.ts', import.meta.url).href;
  const indexUrl = new URL('../src/index.ts', import.meta.url).href;
  const script = `
    import { createVoucherVerifierPool } from ${JSON.stringify(poolUrl)};
    import { signVoucher } from ${JSON.stringify(indexUrl)};
    const pool = createVoucherVerifierPool({ size: 2 });
    const v = signVoucher('0x' + '11'.repeat(32), 7n, ${JSON.stringify(alice.privateKey)});
    // (no top-level await: Node 24.9 once aborted in V8, "Check failed: (location_) != nullptr" in
    // AsyncModuleExecutionFulfilled, as a top-level await settled while the process wound down)
    pool.verify(v, ${JSON.stringify(ALICE)}).then((ok) => console.log(ok));
  `;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-pool-'));
  const file = join(dir, 'idle-pool.mjs');
  writeFileSync(file, script);
  // A pool that kept the process alive would hang here for good; the generous timeout only
  // stops the test. The child loads the TypeScript sources and starts two workers, which took
  // over 30 s once on 2 cores shared with four other test runs.
  const out = execFileSync(process.execPath, [file], {
    timeout: 120_000,
    encoding: 'utf8',
  });
  rmSync(dir, { recursive: true, force: true });
  assert.equal(out.trim(), 'true');
});

test('voucher pool: works from `node -e` (workers drop the inherited --input-type)', () => {
  const poolUrl = new URL('../src/voucher-pool.ts', import.meta.url).href;
  const script = `
    import { createVoucherVerifierPool } from ${JSON.stringify(poolUrl)};
    const pool = createVoucherVerifierPool({ size: 1 });
    console.log(JSON.stringify(await pool.verifyMany([], ${JSON.stringify(ALICE)})), pool.stats().size);
    await pool.close();
  `;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 120_000, encoding: 'utf8' });
  assert.equal(out.trim(), '[] 1');
});
