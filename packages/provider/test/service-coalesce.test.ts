/**
 * The fast path: queued cumulative vouchers are coalesced (only the newest is checked and
 * persisted), and signature checks can run on the worker pool off the event loop.
 */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { createVoucherVerifierPool } from '@sluice/channel-core/voucher-pool';
import { MALLORY_KEY, type Fixture, addFile, metric, openChannel, raw, startFixture } from './service-helpers.ts';

const PRICE = 1000n;

describe('provider service: voucher fast path', () => {
  const pool = createVoucherVerifierPool({ size: 1 });
  let f: Fixture;
  after(async () => {
    await f.stop();
    await f.cleanup();
    await pool.close();
  });

  it('a burst of 64 increasing vouchers is coalesced; signatures are checked on the worker pool; every paid chunk arrives once', async () => {
    f = await startFixture({ pricePerChunk: PRICE }, { verifier: pool });
    const cid = (await addFile(f, 64 * 262_144)).record.cid;
    const ch = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, cid);
    await r.waitFor((x) => x.type === 'ready');
    for (let i = 1n; i <= 64n; i++) r.voucher(ch, i * PRICE);
    await r.waitFor((x) => x.type === 'chunk' && x.index === 63, 10_000);
    assert.deepEqual(r.chunks(), Array.from({ length: 64 }, (_, i) => i));
    const accepted = await metric(f, 'sluice_provider_vouchers_accepted_total');
    const coalesced = await metric(f, 'sluice_provider_vouchers_coalesced_total');
    assert.ok(accepted < 64, `only some vouchers were checked (${accepted})`);
    assert.ok(coalesced > 0);
    assert.ok(pool.stats().completed >= accepted, 'signatures were checked on the pool');
    assert.equal((await f.channels.getVirtualChannel(ch))?.paid, 64n * PRICE);
    r.ws.close(1000);
    await r.closed;

    // A bad signature is still caught on the pool path.
    const ch2 = await openChannel(f);
    const r2 = await raw(f);
    r2.hello(ch2, cid);
    await r2.waitFor((x) => x.type === 'ready');
    r2.voucher(ch2, PRICE, MALLORY_KEY);
    assert.equal((await r2.closed).code, 4101);
    assert.deepEqual(r2.chunks(), []);
  });
});
