/** The provider's HTTP API: catalog, metadata fields, health, metrics, admin; earnings survive a restart. */
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { LocalPayeeChannels, VoucherLog, createProviderService, openUsageStore } from '../src/service/index.ts';
import { BOB, type Fixture, addFile, openChannel, raw, startFixture } from './service-helpers.ts';

describe('provider service: HTTP API', () => {
  let f: Fixture;
  after(async () => {
    await f.cleanup();
  });

  it('catalog, metadata, health, metrics, admin, and earnings that survive a restart', async () => {
    f = await startFixture({ pricePerChunk: 7n, hub: { address: BOB, multiaddrs: ['/ip4/127.0.0.1/tcp/4001'] } });
    const { record } = await addFile(f, 262_145);
    const base = f.service.url;

    const list = (await (await fetch(`${base}/files`)).json()) as unknown[];
    assert.deepEqual(list, [{ cid: record.cid, name: record.name, size: 262_145 }]);

    const meta = (await (await fetch(`${base}/files/${record.cid}`)).json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(meta).sort(), ['asset', 'chunkSize', 'chunks', 'cid', 'hub', 'name', 'payee', 'pricePerChunk', 'size', 'ws'].sort());
    assert.equal(meta['pricePerChunk'], '7');
    assert.equal(meta['chunks'], 2);
    assert.equal(meta['chunkSize'], 262_144);
    assert.equal(meta['payee'], BOB);
    assert.deepEqual(meta['hub'], { address: BOB, multiaddrs: ['/ip4/127.0.0.1/tcp/4001'] });
    assert.equal(meta['ws'], `${base.replace('http', 'ws')}/stream`);
    assert.equal((await fetch(`${base}/files/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku`)).status, 404);
    assert.equal((await fetch(`${base}/files/not-a-cid`)).status, 404);
    const { CID } = await import('multiformats/cid');
    const { base36 } = await import('multiformats/bases/base36');
    const other = CID.parse(record.cid).toString(base36);
    assert.equal(((await (await fetch(`${base}/files/${other}`)).json()) as { cid: string }).cid, record.cid, 'any multibase spelling of the CID works');

    assert.equal(((await (await fetch(`${base}/healthz`)).json()) as { status: string }).status, 'ok');

    // Pay for both chunks over the wire.
    const ch = await openChannel(f);
    const r = await raw(f);
    r.hello(ch, record.cid);
    await r.waitFor((x) => x.type === 'ready');
    r.voucher(ch, 14n);
    await r.waitFor((x) => x.type === 'chunk' && x.index === 1);

    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /sluice_provider_chunks_served_total 2/);
    assert.match(metrics, /sluice_provider_bytes_served_total 262145/);
    assert.match(metrics, /sluice_provider_vouchers_accepted_total 1/);
    assert.match(metrics, /sluice_provider_earnings 14/);
    assert.match(metrics, /sluice_provider_open_sessions 1/);

    assert.equal((await fetch(`${base}/admin/earnings`)).status, 401);
    assert.equal((await fetch(`${base}/admin/earnings`, { headers: { authorization: 'Bearer nope' } })).status, 401);
    const auth = { authorization: 'Bearer secret' };
    const sessions = (await (await fetch(`${base}/admin/sessions`, { headers: auth })).json()) as { channelId: string; next: number }[];
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0]?.next, 2);
    r.ws.close(1000);
    await r.closed;

    const earnings = (await (await fetch(`${base}/admin/earnings`, { headers: auth })).json()) as { total: string; channels: { channelId: string; earned: string; consumed: string }[] };
    assert.equal(earnings.total, '14');
    assert.equal(earnings.channels.find((c) => c.channelId === ch)?.consumed, '14');

    // Restart on the same data: earnings are still there.
    await f.stop();
    const vouchers = await VoucherLog.open(join(f.dir, 'vouchers.log'));
    const usage = openUsageStore(join(f.dir, 'usage.db'));
    const channels = new LocalPayeeChannels({ address: BOB, registry: f.registry, store: vouchers });
    const s2 = createProviderService({ pricePerChunk: 7n, adminToken: 'secret' })({ store: f.store, channels, usage });
    await s2.start();
    try {
      const e2 = (await (await fetch(`${s2.url}/admin/earnings`, { headers: auth })).json()) as { total: string };
      assert.equal(e2.total, '14');
      assert.match(await (await fetch(`${s2.url}/metrics`)).text(), /sluice_provider_earnings 14/);
      // close + withdraw through the port
      const closed = await fetch(`${s2.url}/admin/channels/${ch}/close`, { method: 'POST', headers: auth });
      assert.equal(closed.status, 200);
      assert.equal((await f.registry.get(ch))?.status, 'closing');
      assert.equal((await fetch(`${s2.url}/admin/channels/0x12/close`, { method: 'POST', headers: auth })).status, 400);
      const w = (await (await fetch(`${s2.url}/admin/withdraw`, { method: 'POST', headers: auth })).json()) as { result: { total: string } };
      assert.equal(w.result.total, '14');
    } finally {
      await s2.stop();
      usage.close();
      await vouchers.close();
    }
  });

  it('malformed requests: a bad percent-encoding is 400 and a bad Host falls back to our address, neither logs a warning', async () => {
    const warnings: unknown[] = [];
    const g = await startFixture({}, { logger: { info() {}, debug() {}, warn: (o) => warnings.push(o) } });
    try {
      const { record } = await addFile(g, 3 * 262_144);
      const request = (head: string): Promise<{ status: number; body: string }> =>
        new Promise((resolve, reject) => {
          const c = connect(g.service.port, '127.0.0.1');
          let out = '';
          c.on('data', (d) => (out += d));
          c.on('error', reject);
          c.on('close', () => resolve({ status: Number(out.split(' ')[1]), body: out.slice(out.indexOf('\r\n\r\n') + 4) }));
          c.write(`${head}\r\nConnection: close\r\n\r\n`);
        });
      const bad = await request('GET /files/%E0%A4%A HTTP/1.1\r\nHost: x');
      assert.equal(bad.status, 400);
      assert.equal((JSON.parse(bad.body) as { error: { code: string } }).error.code, 'INVALID_ARGUMENT');
      const own = `${g.service.url.replace('http', 'ws')}/stream`;
      for (const host of ['a b', 'evil.example:1/x?', 'x:99999', '[zz]']) {
        const r = await request(`GET /files/${record.cid} HTTP/1.1\r\nHost: ${host}`);
        assert.equal(r.status, 200, host);
        assert.equal((JSON.parse(r.body) as { ws: string }).ws, own, `Host ${host}`);
      }
      const named = await request(`GET /files/${record.cid} HTTP/1.1\r\nHost: provider.example:8080`);
      assert.equal((JSON.parse(named.body) as { ws: string }).ws, 'ws://provider.example:8080/stream', 'a valid Host is used');
      assert.deepEqual(warnings, []);
    } finally {
      await g.stop();
      await g.cleanup();
    }
  });
});
