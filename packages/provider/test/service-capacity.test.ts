/**
 * Capacity against clients that pay nothing: connections that never say HELLO hold no session
 * slot and are cut at the HELLO deadline; connections waiting for HELLO and connections per IP
 * address are capped; a session stays open only while it makes progress (a voucher accepted, a
 * chunk sent), not while it sends free frames.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signVoucher } from '@sluice/channel-core';
import { type ProviderServiceInit, parseTrustProxy } from '../src/service/index.ts';
import { encodeFrame } from '../src/wire/index.ts';
import { ALICE_KEY, type Fixture, type Raw, addFile, openChannel, raw, startFixture } from './service-helpers.ts';

const PRICE = 1000n;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function withProvider(init: Partial<ProviderServiceInit>, run: (f: Fixture, cid: string) => Promise<void>): Promise<void> {
  const f = await startFixture({ pricePerChunk: PRICE, ...init });
  try {
    const cid = (await addFile(f, 3 * 262_144)).record.cid;
    await run(f, cid);
  } finally {
    await f.stop();
    await f.cleanup();
  }
}

/** Resolves with the close code, or 'open' if the connection is still open after `ms`. */
async function closedWithin(r: Raw, ms: number): Promise<number | 'open'> {
  return Promise.race([r.closed.then((c) => c.code), sleep(ms).then(() => 'open' as const)]);
}

describe('provider service: capacity against clients that pay nothing', () => {
  it('connections that never send HELLO hold no session slot: a paying client is served', async () => {
    await withProvider({ maxSessions: 2 }, async (f, cid) => {
      const squatters = await Promise.all(Array.from({ length: 4 }, () => raw(f)));
      const ch = await openChannel(f);
      const good = await raw(f);
      good.hello(ch, cid);
      await good.waitFor((x) => x.type === 'ready');
      good.voucher(ch, PRICE);
      await good.waitFor((x) => x.type === 'chunk' && x.index === 0);
      for (const s of squatters) s.ws.terminate();
      good.ws.close(1000);
    });
  });

  it('a connection that sends no HELLO is closed at the HELLO deadline (4300), pings or not', async () => {
    await withProvider({ limits: { helloTimeoutMs: 300, idleTimeoutMs: 10_000 } }, async (f) => {
      const silent = await raw(f);
      const pinging = await raw(f);
      const timer = setInterval(() => pinging.ws.ping(), 50);
      try {
        assert.equal(await closedWithin(silent, 2_000), 4300);
        assert.equal(await closedWithin(pinging, 500), 4300);
      } finally {
        clearInterval(timer);
      }
    });
  });

  it('maxSessions counts sessions past HELLO: one more HELLO → 4302', async () => {
    await withProvider({ maxSessions: 2 }, async (f, cid) => {
      const open: Raw[] = [];
      for (let i = 0; i < 2; i++) {
        const r = await raw(f);
        r.hello(await openChannel(f), cid);
        await r.waitFor((x) => x.type === 'ready');
        open.push(r);
      }
      const third = await raw(f); // the connection is accepted …
      third.hello(await openChannel(f), cid); // … its HELLO is not
      assert.equal((await third.closed).code, 4302);
      open[0]!.ws.close(1000);
      await open[0]!.closed;
      await sleep(50);
      const again = await raw(f);
      again.hello(await openChannel(f), cid);
      await again.waitFor((x) => x.type === 'ready');
      for (const r of [open[1]!, again]) r.ws.close(1000);
    });
  });

  it('connections waiting for HELLO are capped (maxPendingSessions) → 4302', async () => {
    await withProvider({ maxPendingSessions: 3 }, async (f, cid) => {
      const waiting = await Promise.all(Array.from({ length: 3 }, () => raw(f)));
      const refused = await raw(f);
      assert.equal(await closedWithin(refused, 2_000), 4302);
      waiting[0]!.hello(await openChannel(f), cid); // past HELLO: no longer pending
      await waiting[0]!.waitFor((x) => x.type === 'ready');
      const accepted = await raw(f);
      assert.equal(await closedWithin(accepted, 200), 'open');
      for (const r of [...waiting, accepted]) r.ws.terminate();
    });
  });

  it('connections per IP address are capped (maxConnectionsPerIp) → 4302; a closed one frees its place', async () => {
    await withProvider({ maxConnectionsPerIp: 3 }, async (f) => {
      const mine = await Promise.all(Array.from({ length: 3 }, () => raw(f)));
      const fourth = await raw(f);
      assert.equal(await closedWithin(fourth, 2_000), 4302);
      mine[0]!.ws.close(1000);
      await mine[0]!.closed;
      await sleep(50);
      const again = await raw(f);
      assert.equal(await closedWithin(again, 200), 'open');
      for (const r of [...mine, again]) r.ws.terminate();
    });
  });

  it('behind a trusted proxy (trustProxy) the cap counts the forwarded client address; elsewhere X-Forwarded-For is ignored', async () => {
    const xff = (ip: string): Record<string, string> => ({ 'x-forwarded-for': ip });
    // the test connects from loopback: with loopback trusted, it is a proxy for two clients
    await withProvider({ maxConnectionsPerIp: 2, trustProxy: 'loopback' }, async (f) => {
      const first = await Promise.all([raw(f, xff('203.0.113.7')), raw(f, xff('198.51.100.1, 203.0.113.7'))]);
      assert.equal(await closedWithin(await raw(f, xff('203.0.113.7')), 2_000), 4302, 'a third from the same client');
      const other = await raw(f, xff('203.0.113.8'));
      assert.equal(await closedWithin(other, 200), 'open', 'another client behind the same proxy');
      const junk = await Promise.all([raw(f, xff('not-an-ip')), raw(f, xff('not-an-ip'))]);
      assert.equal(await closedWithin(await raw(f, xff('also-junk')), 2_000), 4302, 'junk forwarded: counted as the proxy itself');
      for (const r of [...first, other, ...junk]) r.ws.terminate();
    });
    // not trusted: a client cannot pick its address with the header
    await withProvider({ maxConnectionsPerIp: 2 }, async (f) => {
      const two = await Promise.all([raw(f, xff('203.0.113.1')), raw(f, xff('203.0.113.2'))]);
      assert.equal(await closedWithin(await raw(f, xff('203.0.113.3')), 2_000), 4302);
      for (const r of two) r.ws.terminate();
    });
    // a trusted range that does not include the peer: the header is ignored too
    await withProvider({ maxConnectionsPerIp: 1, trustProxy: '10.0.0.0/8' }, async (f) => {
      const one = await raw(f, xff('203.0.113.1'));
      assert.equal(await closedWithin(await raw(f, xff('203.0.113.2')), 2_000), 4302);
      one.ws.terminate();
    });
  });

  it('trustProxy lists are checked: a bad entry is refused with INVALID_ARGUMENT naming it', () => {
    assert.throws(() => parseTrustProxy('loopback,999.1.1.1'), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && /999\.1\.1\.1/.test(e.message));
    assert.throws(() => parseTrustProxy(' , '), (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT');
    const t = parseTrustProxy('loopback, 10.0.0.0/8');
    assert.equal(t('10.1.2.3', 0), true);
    assert.equal(t('127.0.0.1', 0), true);
    assert.equal(t('192.0.2.1', 0), false);
  });

  it('free frames are not progress: a session that only sends replays and zero vouchers is closed when idle (4300)', async () => {
    await withProvider({ limits: { idleTimeoutMs: 800 } }, async (f, cid) => {
      const ch = await openChannel(f);
      const r = await raw(f);
      r.hello(ch, cid);
      await r.waitFor((x) => x.type === 'ready');
      r.voucher(ch, PRICE); // pays chunk 0: progress
      await r.waitFor((x) => x.type === 'chunk' && x.index === 0);
      const zero = encodeFrame({ type: 'voucher', voucher: signVoucher(ch, 0n, ALICE_KEY) });
      const replay = encodeFrame({ type: 'voucher', voucher: signVoucher(ch, PRICE, ALICE_KEY) });
      const t0 = Date.now();
      const timer = setInterval(() => {
        r.send(zero);
        r.send(replay);
        r.ws.ping();
      }, 200);
      try {
        assert.equal(await closedWithin(r, 3_000), 4300);
      } finally {
        clearInterval(timer);
      }
      assert.ok(Date.now() - t0 < 2_000, 'closed about one idle timeout after the last chunk');
      assert.deepEqual(r.chunks(), [0]);
    });
  });

  it('a session that keeps paying is not idle', async () => {
    await withProvider({ limits: { idleTimeoutMs: 500 } }, async (f) => {
      const cid = (await addFile(f, 6 * 262_144)).record.cid;
      const ch = await openChannel(f);
      const r = await raw(f);
      r.hello(ch, cid);
      await r.waitFor((x) => x.type === 'ready');
      for (let i = 1n; i <= 6n; i++) {
        r.voucher(ch, i * PRICE);
        await r.waitFor((x) => x.type === 'chunk' && x.index === Number(i) - 1);
        await sleep(300);
      }
      assert.equal(r.ws.readyState, r.ws.OPEN);
      r.ws.close(1000);
      await r.closed;
    });
  });
});
