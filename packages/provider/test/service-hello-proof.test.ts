/**
 * A channel id is not a credential (the hub knows every one; logs carry them): a new session
 * serves no chunk and replaces no session until the payer's key is proven in it — a voucher
 * signed by the payer, either a new one or a resend of the channel's best (what an honest
 * client sends first when it resumes: no extra round trip). Mallory knows V's id and
 * holds no key of Alice's.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { type ChannelId, signVoucher } from '@sluice/channel-core';
import { encodeFrame } from '../src/wire/index.ts';
import { ALICE_KEY, type Fixture, MALLORY_KEY, type Raw, addFile, openChannel, raw, startFixture } from './service-helpers.ts';

const PRICE = 1000n;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('provider service: a session must prove the payer\'s key', () => {
  let f: Fixture;
  let alicesFile: string; // 40 chunks
  let otherFile: string; // 10 chunks
  before(async () => {
    f = await startFixture({ pricePerChunk: PRICE });
    alicesFile = (await addFile(f, 40 * 262_144)).record.cid;
    otherFile = (await addFile(f, 10 * 262_144)).record.cid;
  });
  after(async () => {
    await f.stop();
    await f.cleanup();
  });

  /** Alice prepaid `chunks` chunks on V in a session that ended before any was sent. */
  async function prepaid(v: ChannelId, chunks: bigint): Promise<void> {
    const r = await f.channels.receiveVoucher(signVoucher(v, chunks * PRICE, ALICE_KEY), { price: 1n });
    assert.equal(r.kind, 'accepted');
  }

  it('Mallory\'s HELLO on V gets READY and the free blocks, but no chunk paid by Alice\'s credit', async () => {
    const v = await openChannel(f);
    await prepaid(v, 10n);
    const mallory = await raw(f);
    mallory.hello(v, otherFile);
    const ready = await mallory.waitFor((x) => x.type === 'ready');
    assert.equal(ready.type === 'ready' && ready.baseline, 0n);
    await sleep(300);
    assert.deepEqual(mallory.chunks(), []);
    assert.ok(mallory.frames.every((x) => x.type !== 'ack'), 'nothing acknowledged either');
    // A resend she signed herself is refused (a replay's signature is checked too).
    mallory.voucher(v, 10n * PRICE, MALLORY_KEY);
    assert.equal((await mallory.closed).code, 4101);
    assert.deepEqual(mallory.chunks(), []);

    // Alice resumes: her resend of the best voucher proves her key and unlocks the credit.
    const alice = await raw(f);
    alice.hello(v, otherFile);
    await alice.waitFor((x) => x.type === 'ready');
    alice.voucher(v, 10n * PRICE); // the resend: no new money, no extra round trip
    await alice.waitFor((x) => x.type === 'chunk' && x.index === 9);
    assert.deepEqual(alice.chunks(), Array.from({ length: 10 }, (_, i) => i));
    await closeClean(alice);
  });

  it('Mallory\'s HELLO does not end Alice\'s running session; Alice\'s new session does, once proven', async () => {
    const v = await openChannel(f);
    const alice = await raw(f);
    alice.hello(v, alicesFile);
    await alice.waitFor((x) => x.type === 'ready');
    alice.voucher(v, 2n * PRICE);
    await alice.waitFor((x) => x.type === 'chunk' && x.index === 1);
    const mallory = await raw(f);
    mallory.hello(v, otherFile);
    await mallory.waitFor((x) => x.type === 'ready');
    await sleep(200);
    assert.equal(alice.ws.readyState, alice.ws.OPEN, 'Alice\'s session is still open');
    alice.voucher(v, 3n * PRICE);
    await alice.waitFor((x) => x.type === 'chunk' && x.index === 2);
    assert.deepEqual(mallory.chunks(), []);
    mallory.ws.terminate();

    // Alice reconnects (say her old connection hangs): HELLO alone replaces nothing …
    const again = await raw(f);
    again.hello(v, alicesFile, 3);
    const ready = await again.waitFor((x) => x.type === 'ready');
    assert.equal(ready.type === 'ready' && ready.baseline, 3n * PRICE);
    await sleep(100);
    assert.equal(alice.ws.readyState, alice.ws.OPEN);
    // … her first voucher does: the old session is closed with 4301, the new one is served.
    again.voucher(v, 5n * PRICE);
    assert.equal((await alice.closed).code, 4301);
    await again.waitFor((x) => x.type === 'chunk' && x.index === 4);
    assert.deepEqual(again.chunks(), [3, 4]);
    await closeClean(again);
  });

  it('replays and zero amounts are checked like any voucher: not signed by the payer → 4101', async () => {
    for (const proven of [false, true]) {
      const v = await openChannel(f);
      const r = await raw(f);
      r.hello(v, otherFile);
      await r.waitFor((x) => x.type === 'ready');
      if (proven) {
        r.voucher(v, PRICE);
        await r.waitFor((x) => x.type === 'chunk' && x.index === 0);
      }
      r.send(encodeFrame({ type: 'voucher', voucher: signVoucher(v, 0n, ALICE_KEY) })); // Alice's own zero voucher: a no-op
      await r.waitFor((x) => x.type === 'ack' && r.frames.filter((y) => y.type === 'ack').length === (proven ? 2 : 1));
      r.send(encodeFrame({ type: 'voucher', voucher: signVoucher(v, 0n, MALLORY_KEY) }));
      const c = await r.closed;
      assert.equal(c.code, 4101, `${proven ? 'proven' : 'new'} session: a zero voucher signed by Mallory`);
      assert.deepEqual(r.chunks(), proven ? [0] : []);
    }
  });

  it('a resend that pays past this range (credit left by another file) proves the key, not INVALID_ARGUMENT', async () => {
    const v = await openChannel(f);
    await prepaid(v, 30n); // otherFile has 10 chunks
    const alice = await raw(f);
    alice.hello(v, otherFile);
    await alice.waitFor((x) => x.type === 'ready');
    alice.voucher(v, 30n * PRICE);
    await alice.waitFor((x) => x.type === 'chunk' && x.index === 9);
    assert.deepEqual(alice.chunks(), Array.from({ length: 10 }, (_, i) => i));
    await closeClean(alice);
    // A new amount past the range is still refused.
    const r = await raw(f);
    r.hello(v, otherFile, 0, 1);
    await r.waitFor((x) => x.type === 'ready');
    r.voucher(v, 100n * PRICE);
    assert.equal((await r.closed).code, 4004);
  });

  it('if the old session sent chunks between READY and the proof, the new session ends OVERLOADED (its baseline is stale) and a retry is served right', async () => {
    const v = await openChannel(f);
    const a = await raw(f);
    a.hello(v, alicesFile);
    await a.waitFor((x) => x.type === 'ready');
    a.voucher(v, 3n * PRICE);
    await a.waitFor((x) => x.type === 'chunk' && x.index === 2);
    const b = await raw(f);
    b.hello(v, alicesFile, 3);
    const ready = await b.waitFor((x) => x.type === 'ready');
    assert.equal(ready.type === 'ready' && ready.baseline, 3n * PRICE, 'the running session recorded its usage first');
    a.voucher(v, 5n * PRICE); // the old session keeps going: chunks 3 and 4
    await a.waitFor((x) => x.type === 'chunk' && x.index === 4);
    b.voucher(v, 5n * PRICE); // a resend proves the key, but READY's baseline no longer holds
    assert.equal((await b.closed).code, 4302);
    assert.deepEqual(b.chunks(), []);
    assert.equal((await a.closed).code, 4301);
    const c = await raw(f);
    c.hello(v, alicesFile, 5);
    const ready2 = await c.waitFor((x) => x.type === 'ready');
    assert.equal(ready2.type === 'ready' && ready2.baseline, 5n * PRICE);
    c.voucher(v, 5n * PRICE); // nothing left of the credit
    await c.waitFor((x) => x.type === 'ack');
    c.voucher(v, 6n * PRICE);
    await c.waitFor((x) => x.type === 'chunk' && x.index === 5);
    await sleep(100);
    assert.deepEqual(c.chunks(), [5]);
    await closeClean(c);
  });
});

async function closeClean(r: Raw): Promise<void> {
  r.ws.close(1000);
  await r.closed;
}
