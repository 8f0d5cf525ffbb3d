import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { OPTIONS, CONFIG_FILE_OPTION, resolveConfig } from '../src/config.ts';
import { buildProgram, main } from '../src/cli.ts';

const BIN = fileURLToPath(new URL('../bin/sluice-hub.js', import.meta.url));

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr });
    });
  });
}

test('sluice-hub --help lists the commands', async () => {
  const r = await run(['--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /start/);
  assert.match(r.stdout, /status/);
});

test('sluice-hub start --help explains every flag with its env var and default', async () => {
  const r = await run(['start', '--help']);
  assert.equal(r.code, 0);
  const text = r.stdout.replace(/\s+/g, ' ');
  for (const o of [...OPTIONS, { ...CONFIG_FILE_OPTION, defaultText: 'none' }]) {
    const flag = o.flag.split(' ')[0]!;
    assert.ok(text.includes(flag), `${flag} in help`);
    assert.ok(text.includes(`(default: ${o.defaultText.replace(/\s+/g, ' ')}, env: ${o.env})`), `default of ${flag} in help`);
  }
  assert.match(text, /SLUICE_HUB_PASSPHRASE/);
});

test('sluice-hub status --help', async () => {
  const r = await run(['status', '--help']);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /--json/);
  assert.match(r.stdout, /SLUICE_HUB_URL/);
});

test('usage errors exit 2 with a message; no key means exit 2', async () => {
  const lines: string[] = [];
  const io = { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s), env: {} };
  assert.equal(await main(['node', 'sluice-hub', 'start', '--http-port', 'x'], io), 2);
  assert.match(lines.join('\n'), /--http-port/);
  assert.equal(await main(['node', 'sluice-hub', 'start', '--bogus'], io), 2);
  // chain unreachable: exit 3
  lines.length = 0;
  assert.equal(await main(['node', 'sluice-hub', 'start', '--rpc-url', 'http://127.0.0.1:1', '--dev-account', '0'], io), 3);
  assert.match(lines.join('\n'), /cannot reach the chain/);
});

test('status with a --url that is not an http(s) URL is bad usage (exit 2)', async () => {
  const r = await run(['status', '--url', 'notaurl']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /must be an http\(s\) URL/);
});

test('status against nothing listening exits 1 with a message', async () => {
  const r = await run(['status', '--url', 'http://127.0.0.1:1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cannot reach the hub/);
});

test('sluice-hub settle --help: force, wait, json and the start options', async () => {
  const top = await run(['--help']);
  assert.match(top.stdout, /settle/);
  const r = await run(['settle', '--help']);
  assert.equal(r.code, 0);
  for (const f of ['--force', '--wait', '--json', '--cooperative-timeout', '--store', '--key-file', '--dev-account', '--deployment', 'SLUICE_HUB_STORE']) assert.ok(r.stdout.includes(f), f);
});

test('sluice-hub settle refuses while the hub answers on its HTTP port (it would share the store)', async () => {
  const { createServer } = await import('node:http');
  const server = createServer((_q, s) => s.end(JSON.stringify({ address: '0x' + '11'.repeat(20) })));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  try {
    const r = await run(['settle', '--dev-account', '1', '--http-port', String(port)]);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /stop it first/);
  } finally {
    server.close();
  }
});

test('status renders channels in challenge with time left and the amounts', async () => {
  const { renderStatus } = await import('../src/status.ts');
  const text = renderStatus({
    address: '0x' + '11'.repeat(20), peerId: null, multiaddrs: [], ledgers: [], virtualChannels: [], virtualChannelCounts: {}, collateral: [], objectivesInFlight: 1,
    disputes: [{ channelId: '0x' + '22'.repeat(32), kind: 'ledger', objectiveId: 'x', phase: 'challenge', waitingFor: 'WaitingForFinalization', turnNumRecord: 5, finalizesAt: 100, secondsLeft: 65, chainTime: 35, amounts: [{ participant: '0x' + '11'.repeat(20), amount: '40' }, { participant: '0x' + '33'.repeat(20), amount: '60' }], mine: '40', locked: '0' }],
  } as never);
  assert.match(text, /in challenge \/ settling on chain \(1\)/);
  assert.match(text, /ledger\s+challenge\s+1m 05s/);
  assert.match(text, /=40 .*=60/);
  assert.doesNotMatch(text, /^history/m, 'a hub that does not report its history (an older one): no line');
  const withHistory = renderStatus({
    address: '0x' + '11'.repeat(20), peerId: null, multiaddrs: [], ledgers: [], virtualChannels: [], virtualChannelCounts: {}, collateral: [], objectivesInFlight: 0, disputes: [],
    history: { retainMs: 7 * 86_400_000, prunedChannels: 12, prunedObjectives: 24 },
  } as never);
  assert.match(withHistory, /history: closed channels kept for 7d; deleted so far: 12 channels, 24 objectives/);
  const withLedgers = renderStatus({
    address: '0x' + '11'.repeat(20), peerId: null, multiaddrs: [], ledgers: [], ledgerCounts: { closed: 3, failed: 40 }, virtualChannels: [], virtualChannelCounts: {}, collateral: [], objectivesInFlight: 0, disputes: [],
  } as never);
  assert.match(withLedgers, /ledger channels \(0; all: closed 3, failed 40\)/);
  assert.match(renderStatus({ address: '0x' + '11'.repeat(20), peerId: null, multiaddrs: [], ledgers: [], virtualChannels: [], virtualChannelCounts: {}, collateral: [], objectivesInFlight: 0, disputes: [], history: { retainMs: null, prunedChannels: 0, prunedObjectives: 0 } } as never), /kept forever/);
});

test('every start flag reaches the config under its option key (--asset → assets, --collateral-peer → collateralPeers)', async () => {
  const peer = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
  const token = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
  // one value per option, each different from its default
  const samples: Record<string, string[]> = {
    rpcUrl: ['http://127.0.0.1:9'], chainId: ['5'], deployment: ['/tmp/d.json'], adjudicator: [token], consensusApp: [token], virtualPaymentApp: [token],
    startBlock: ['7'], keyFile: ['/tmp/k.json'], devAccount: ['3'], listen: ['/ip4/0.0.0.0/tcp/4002', '/ip4/0.0.0.0/tcp/4003'], announce: ['/dns4/hub.example/tcp/4002'],
    maxConnections: ['50'], inboundPerHost: ['2'], store: ['/tmp/h.db'], maxPerChannel: ['5'], collateralCap: ['6'], maxLedgerGuarantees: ['9'], maxLedgerDeposit: ['10'],
    maxOpeningCollateral: ['11'], maxPeerCollateral: ['13'], assets: [token, peer], collateralPeers: [peer], requiredApp: [token], httpHost: ['0.0.0.0'], httpPort: ['9999'], logLevel: ['debug'],
    chainPollMs: ['250'], confirmations: ['3'], retainHistory: ['12h'], nonceMaxAge: ['30m'], minChallengeDuration: ['1h'], maxChallengeDuration: ['7d'], objectiveTimeoutMs: ['5000'], prefundTimeoutMs: ['2000'],
  };
  assert.deepEqual(Object.keys(samples).sort(), OPTIONS.map((o) => o.key).sort(), 'a sample for every option');
  const args: string[] = [];
  for (const o of OPTIONS) for (const v of samples[o.key]!) args.push(o.flag.split(' ')[0]!, v);
  let got: Record<string, unknown> | undefined;
  const lines: string[] = [];
  const program = buildProgram({ out: (s) => lines.push(s), err: (s) => lines.push(s), env: {} }, { start: async (c) => { got = c as unknown as Record<string, unknown>; }, status: async () => {} });
  await program.parseAsync(['node', 'sluice-hub', 'start', ...args]);
  assert.ok(got !== undefined, lines.join('\n'));
  for (const o of OPTIONS) {
    const want = resolveConfig({ flags: { [o.key]: o.list === true ? samples[o.key] : samples[o.key]![0] } }).config[o.key];
    assert.deepEqual(got[o.key], want, `${o.flag} sets ${o.key}`);
    assert.notDeepEqual(got[o.key], o.default, `${o.flag} is not the default`);
  }
  // and a bad value is refused (it was ignored for --asset and --collateral-peer), by start and settle
  const io = { out: (s: string) => lines.push(s), err: (s: string) => lines.push(s), env: {} };
  for (const cmd of ['start', 'settle']) {
    for (const [flag, value] of [['--asset', '0x12'], ['--collateral-peer', 'nope']] as const) {
      lines.length = 0;
      assert.equal(await main(['node', 'sluice-hub', cmd, flag, value, '--dev-account', '0', '--rpc-url', 'http://127.0.0.1:1'], io), 2, `${cmd} ${flag}`);
      assert.match(lines.join('\n'), new RegExp(flag), `${cmd} ${flag} named in the error`);
    }
  }
});
