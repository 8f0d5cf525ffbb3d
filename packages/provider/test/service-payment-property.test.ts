/**
 * Property: whatever sequence of vouchers a client sends (increasing, replayed, lower,
 * partial amounts), the provider sends exactly the chunks the best voucher pays for, in
 * order, each once — never an unpaid one.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { type Fixture, addFile, openChannel, raw, startFixture } from './service-helpers.ts';

const PRICE = 100n;
const CHUNKS = 12;

describe('provider service: payment rule (property)', () => {
  let f: Fixture;
  let cid: string;
  before(async () => {
    f = await startFixture({ pricePerChunk: PRICE });
    cid = (await addFile(f, CHUNKS * 262_144 - 1)).record.cid;
  });
  after(async () => {
    await f.stop();
    await f.cleanup();
  });

  it('chunks sent = exactly those paid by the best voucher, in order', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.bigInt({ min: 1n, max: BigInt(CHUNKS) * PRICE }), { minLength: 1, maxLength: 12 }), async (amounts) => {
        const ch = await openChannel(f);
        const r = await raw(f);
        r.hello(ch, cid);
        await r.waitFor((x) => x.type === 'ready');
        for (const a of amounts) r.voucher(ch, a);
        const best = amounts.reduce((m, a) => (a > m ? a : m), 0n);
        const paid = Number(best / PRICE);
        // Wait for the ACK of the best amount, then a little for any (wrong) extra chunk.
        await r.waitFor((x) => x.type === 'ack' && x.amount === best);
        if (paid > 0) await r.waitFor((x) => x.type === 'chunk' && x.index === paid - 1);
        await new Promise((res) => setTimeout(res, 30));
        assert.deepEqual(r.chunks(), Array.from({ length: paid }, (_, i) => i));
        for (const fr of r.frames) if (fr.type === 'ack') assert.ok(fr.paidEnd <= CHUNKS && BigInt(fr.paidEnd) * PRICE <= fr.amount);
        r.ws.close(1000);
        await r.closed;
      }),
      { numRuns: 25 },
    );
  });
});
