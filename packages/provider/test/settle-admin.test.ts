/**
 * The admin API's settle routes over a fake channel adapter: `?force=1` goes to
 * `settleVirtualChannel` at once, a cooperative close that times out (the payer or hub is gone)
 * falls back to it, `/admin/withdraw?force=1` passes the flag, `/admin/settle` and
 * `/admin/status` report disputes; and `sluice-provider settle|status --help`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type Address, type ChannelId, SluiceError } from '@sluice/channel-core';
import { createHttpApi, createProviderMetrics, SessionRegistry, type PayeeChannels, type SettleRequest } from '../src/service/index.ts';
import { renderDisputes, type DisputeView } from '../src/fallback/index.ts';

const BIN = fileURLToPath(new URL('../bin/sluice-provider.js', import.meta.url));
const ME = ('0x' + 'bb'.repeat(20)) as Address;
const CH = ('0x' + '11'.repeat(32)) as ChannelId;
const DISPUTE: DisputeView = {
  channelId: CH, kind: 'virtual', objectiveId: 'VirtualChallenge-x', phase: 'challenge', waitingFor: 'WaitingForFinalization',
  turnNumRecord: 2, finalizesAt: 4000, secondsLeft: 3723, chainTime: 277,
  amounts: [{ participant: ('0x' + 'aa'.repeat(20)) as Address, amount: '93' }, { participant: ME, amount: '7' }], mine: '7', locked: '0', amountsKnown: true,
};

function fake(closeFails: boolean): PayeeChannels & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    address: ME,
    async getVirtualChannel() { return undefined; },
    async receiveVoucher() { throw new Error('unused'); },
    async listVirtualChannels() { return []; },
    async closeVirtualChannel(id: ChannelId) {
      calls.push(`close ${id}`);
      if (closeFails) throw new SluiceError('PEER_TIMEOUT', 'no answer');
    },
    async withdraw(r?: SettleRequest) {
      calls.push(`withdraw force=${r?.force === true}`);
      return { ledgers: [] };
    },
    async settleVirtualChannel(id: ChannelId, r: SettleRequest) {
      calls.push(`settle ${id} force=${r.force === true}`);
      return { channelId: id, kind: 'virtual' as const, mode: 'onChain' as const, objectiveIds: ['VirtualChallenge-x'] };
    },
    async settleAll(r: SettleRequest) {
      calls.push(`settleAll force=${r.force === true} coop=${r.cooperativeTimeoutMs ?? '-'}`);
      return { virtualChannels: [], ledgers: [], onChain: false };
    },
    disputes: () => [DISPUTE],
  };
}

async function serve(channels: PayeeChannels): Promise<{ url: string; close(): Promise<void> }> {
  const app = createHttpApi({
    files: {} as never, channels, usage: { get: () => undefined } as never, metrics: createProviderMetrics(), sessions: new SessionRegistry(),
    logger: { info() {}, warn() {}, debug() {} }, pricePerChunk: 1n, asset: ME, hub: { address: null, multiaddrs: [] }, adminToken: 't', refreshEarnings: async () => {},
  });
  const server = app.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise((r) => server.close(() => r())) };
}

const auth = { authorization: 'Bearer t' };

describe('provider admin API: settle routes', () => {
  it('close?force=1 settles on chain at once; a timed-out cooperative close falls back; withdraw and settle pass force', async () => {
    const a = fake(false);
    const s = await serve(a);
    try {
      const forced = (await (await fetch(`${s.url}/admin/channels/${CH}/close?force=1`, { method: 'POST', headers: auth })).json()) as { mode: string; status: string };
      assert.deepEqual([forced.mode, forced.status], ['onChain', 'settling on chain']);
      const coop = (await (await fetch(`${s.url}/admin/channels/${CH}/close`, { method: 'POST', headers: auth })).json()) as { mode: string };
      assert.equal(coop.mode, 'cooperative');
      await fetch(`${s.url}/admin/withdraw?force=1`, { method: 'POST', headers: auth });
      const settled = (await (await fetch(`${s.url}/admin/settle?force=1&cooperativeTimeoutMs=500`, { method: 'POST', headers: auth })).json()) as { disputes: DisputeView[] };
      assert.equal(settled.disputes[0]?.secondsLeft, 3723);
      assert.equal((await fetch(`${s.url}/admin/settle?cooperativeTimeoutMs=x`, { method: 'POST', headers: auth })).status, 400);
      const status = (await (await fetch(`${s.url}/admin/status`, { headers: auth })).json()) as { disputes: DisputeView[] };
      assert.equal(status.disputes[0]?.mine, '7');
      assert.deepEqual(a.calls, [`settle ${CH} force=true`, `close ${CH}`, 'withdraw force=true', 'settleAll force=true coop=500']);
    } finally {
      await s.close();
    }
    const b = fake(true);
    const s2 = await serve(b);
    try {
      const r = (await (await fetch(`${s2.url}/admin/channels/${CH}/close`, { method: 'POST', headers: auth })).json()) as { mode: string };
      assert.equal(r.mode, 'onChain', 'the payer is gone: on chain instead of a 504');
      assert.deepEqual(b.calls, [`close ${CH}`, `settle ${CH} force=true`]);
    } finally {
      await s2.close();
    }
  });

  it('renders disputes with time left and each side\'s amount', () => {
    const text = renderDisputes([DISPUTE]);
    assert.match(text, /virtual\s+challenge\s+1h 02m 03s/);
    assert.match(text, /=93 .*=7/);
    assert.equal(renderDisputes([]), '  none');
  });

  it("renders a payout that is not known yet as such, not the payer's whole deposit", () => {
    // the payer's challenge of V registering its postfund: Bob can still redeem his vouchers
    const registering: DisputeView = {
      ...DISPUTE, phase: 'registering', waitingFor: 'WaitingForChallengeRegistered', turnNumRecord: null, finalizesAt: null, secondsLeft: null,
      amounts: [{ participant: ME, amount: '100' }, { participant: ('0x' + 'cc'.repeat(20)) as Address, amount: '0' }], mine: '100', amountsKnown: false,
    };
    const text = renderDisputes([registering]);
    assert.match(text, /virtual\s+registering/);
    assert.match(text, /not known yet/);
    assert.doesNotMatch(text, /=100/, text);
    assert.doesNotMatch(text, /\b100\b/, text);
  });

  it('sluice-provider settle|status --help', async () => {
    const help = (args: string[]): Promise<string> => new Promise((res) => execFile(process.execPath, [BIN, ...args], (_e, out) => res(out)));
    const top = await help(['--help']);
    for (const c of ['settle', 'status']) assert.match(top, new RegExp(`\\b${c}\\b`));
    const settle = await help(['settle', '--help']);
    for (const f of ['--force', '--wait', '--json', '--url', '--admin-token', '--cooperative-timeout', 'SLUICE_ADMIN_TOKEN']) assert.ok(settle.includes(f), f);
    const status = await help(['status', '--help']);
    for (const f of ['--json', '--url', '--admin-token']) assert.ok(status.includes(f), f);
  });

  it('usage errors exit 2 (bad usage), --help 0', async () => {
    const code = (args: string[]): Promise<number> => new Promise((res) => execFile(process.execPath, [BIN, ...args], (e) => res(e === null ? 0 : typeof e.code === 'number' ? e.code : -1)));
    assert.equal(await code(['start', '--help']), 0);
    for (const args of [['start', '--max-channels', '2000'], ['start', '--price', '-1'], ['start', '--bogus'], ['settle', '--poll-ms', 'abc'], ['status', '--bogus'], ['add'], ['start', '--nonce-max-age', '0m'], ['start', '--hub-multiaddr', 'nope'], ['start', '--public-url', 'notaurl'], ['start', '--max-sessions', '0'], ['start', '--price', '0', '--hub-address', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '--hub-multiaddr', '/ip4/127.0.0.1/tcp/1']]) {
      assert.equal(await code(args), 2, args.join(' '));
    }
    // start --config <file>: the same options by their camelCase names, checked the same way
    const dir = await mkdtemp(join(tmpdir(), 'sluice-provider-config-'));
    try {
      for (const [name, json] of [['bad-value.json', '{"maxChannels": 2000}'], ['unknown.json', '{"bogus": 1}'], ['not-json.json', '{']] as const) {
        await writeFile(join(dir, name), json);
        assert.equal(await code(['start', '--config', join(dir, name)]), 2, name);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('start against a wrong or unreachable chain creates nothing in --data', async () => {
    const run = (args: string[]): Promise<{ code: number; stderr: string }> =>
      new Promise((res) => execFile(process.execPath, [BIN, ...args], (e, _out, stderr) => res({ code: e === null ? 0 : typeof e.code === 'number' ? e.code : -1, stderr })));
    // a JSON-RPC endpoint that serves chain 1
    const rpc = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const { id } = JSON.parse(body) as { id: number };
        res.setHeader('content-type', 'application/json').end(JSON.stringify({ jsonrpc: '2.0', id, result: '0x1' }));
      });
    });
    await new Promise<void>((r) => rpc.listen(0, '127.0.0.1', r));
    const dir = await mkdtemp(join(tmpdir(), 'sluice-provider-chain-'));
    try {
      const a = '0x' + '11'.repeat(20);
      await writeFile(join(dir, 'deployment.json'), JSON.stringify({ chainId: 31337, adjudicator: a, consensusApp: a, virtualPaymentApp: a, deployBlock: 0 }));
      const common = ['start', '--hub-address', '0x70997970C51812dc3A010C7d01b50e0d17dc79C8', '--hub-multiaddr', '/ip4/127.0.0.1/tcp/1', '--deployment', join(dir, 'deployment.json'), '--dev-account', '1'];
      const { port } = rpc.address() as AddressInfo;
      const wrong = await run([...common, '--rpc-url', `http://127.0.0.1:${port}`, '--data', join(dir, 'data-wrong')]);
      assert.equal(wrong.code, 2, wrong.stderr);
      assert.match(wrong.stderr, /serves chain 1, the deployment file is for 31337/);
      const down = await run([...common, '--rpc-url', 'http://127.0.0.1:1', '--data', join(dir, 'data-down')]);
      assert.equal(down.code, 1, down.stderr);
      assert.match(down.stderr, /CHAIN_RPC/);
      assert.deepEqual((await readdir(dir)).sort(), ['deployment.json']);
    } finally {
      rpc.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
