import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { isSluiceError } from '@sluice/channel-core';
import { OPTIONS, readConfigFile, resolveConfig } from '../src/config.ts';
import { parseDeployment, readDeployment, writeDeployment } from '../src/deployment.ts';
import { createLogger } from '../src/logger.ts';

test('defaults when nothing is set', () => {
  const { config, sources } = resolveConfig({});
  assert.equal(config.rpcUrl, 'http://127.0.0.1:8545');
  assert.deepEqual(config.listen, ['/ip4/127.0.0.1/tcp/4001']);
  assert.equal(config.store, './sluice-hub.db');
  assert.equal(config.maxPerChannel, 10n ** 18n);
  assert.equal(config.maxLedgerDeposit, 0n);
  assert.equal(config.collateralCap, undefined);
  assert.equal(config.httpPort, 9464);
  assert.equal(config.logLevel, 'info');
  assert.equal(config.maxConnections, 10_000); // libp2p's own default (300) would cap a hub at 300 peers
  assert.equal(config.inboundPerHost, 5);
  assert.equal(config.retainHistory, 7 * 86_400_000); // closed channels' records deleted after 7 days
  assert.ok(Object.values(sources).every((s) => s === 'default'));
});

test('precedence: flag > env > file > default, per option', () => {
  const file = { rpcUrl: 'http://file:1', httpPort: 1111, logLevel: 'warn', store: '/file.db', maxPerChannel: '5', listen: ['/ip4/1.1.1.1/tcp/1'] };
  const env = { SLUICE_HUB_RPC_URL: 'http://env:2', SLUICE_HUB_HTTP_PORT: '2222', SLUICE_HUB_LOG_LEVEL: 'debug', SLUICE_HUB_LISTEN: '/ip4/2.2.2.2/tcp/2,/ip4/2.2.2.3/tcp/3' };
  const flags = { rpcUrl: 'http://flag:3', listen: ['/ip4/3.3.3.3/tcp/3'] };
  const { config, sources } = resolveConfig({ flags, env, file });
  assert.equal(config.rpcUrl, 'http://flag:3');
  assert.equal(sources.rpcUrl, 'flag');
  assert.deepEqual(config.listen, ['/ip4/3.3.3.3/tcp/3']);
  assert.equal(config.httpPort, 2222);
  assert.equal(sources.httpPort, 'env');
  assert.equal(config.logLevel, 'debug');
  assert.equal(config.store, '/file.db');
  assert.equal(sources.store, 'file');
  assert.equal(config.maxPerChannel, 5n);
  assert.equal(config.objectiveTimeoutMs, 30_000);
  assert.equal(sources.objectiveTimeoutMs, 'default');
  // env list is comma-separated
  assert.deepEqual(resolveConfig({ env }).config.listen, ['/ip4/2.2.2.2/tcp/2', '/ip4/2.2.2.3/tcp/3']);
  // an empty env var does not override the file
  assert.equal(resolveConfig({ env: { SLUICE_HUB_STORE: '' }, file }).config.store, '/file.db');
});

test('bad values name their source; unknown file keys are refused', () => {
  const cases: [Parameters<typeof resolveConfig>[0], RegExp][] = [
    [{ flags: { httpPort: '70000' } }, /--http-port/],
    [{ env: { SLUICE_HUB_MAX_PER_CHANNEL: '-1' } }, /SLUICE_HUB_MAX_PER_CHANNEL/],
    [{ file: { adjudicator: '0x1234' } }, /config file "adjudicator"/],
    [{ file: { rpcURL: 'http://x' } }, /unknown option "rpcURL"/],
    [{ flags: { logLevel: 'loud' } }, /--log-level/],
    [{ env: { SLUICE_HUB_RPC_URL: 'ftp://x' } }, /SLUICE_HUB_RPC_URL/],
    [{ flags: { listen: ['ip4/1.2.3.4'] } }, /not a multiaddr/],
    [{ env: { SLUICE_HUB_DEV_ACCOUNT: '10' } }, /SLUICE_HUB_DEV_ACCOUNT/],
    [{ env: { SLUICE_HUB_MAX_CONNECTIONS: '0' } }, /SLUICE_HUB_MAX_CONNECTIONS/],
    [{ flags: { inboundPerHost: '0' } }, /--inbound-per-host/],
    [{ flags: { retainHistory: '7' } }, /--retain-history: must be a duration/],
    [{ env: { SLUICE_HUB_RETAIN_HISTORY: '0d' } }, /SLUICE_HUB_RETAIN_HISTORY/],
    [{ file: { retainHistory: '30s' } }, /config file "retainHistory"/],
    // a non-string value: its error, said once (not wrapped in the duration parser's)
    [{ file: { retainHistory: true } }, /^config file "retainHistory": must be a non-empty string$/],
    [{ file: { minChallengeDuration: true } }, /^config file "minChallengeDuration": must be a non-empty string$/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => resolveConfig(input), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && re.test(e.message), JSON.stringify(input));
  }
});

test('--asset: repeatable addresses, comma-separated in the environment, or any', () => {
  const eth = '0x0000000000000000000000000000000000000000';
  const tok = '0x00000000000000000000000000000000000000e7';
  assert.equal(resolveConfig({}).config.assets, undefined, "default: ETH and the deployment's token (resolved by openHub)");
  assert.deepEqual(resolveConfig({ flags: { assets: [eth, tok] } }).config.assets, [eth, tok]);
  assert.deepEqual(resolveConfig({ env: { SLUICE_HUB_ASSETS: `${eth}, ${tok}` } }).config.assets, [eth, tok]);
  assert.equal(resolveConfig({ flags: { assets: ['any'] } }).config.assets, null);
  assert.equal(resolveConfig({ file: { assets: 'any' } }).config.assets, null);
  assert.throws(() => resolveConfig({ flags: { assets: ['0x12'] } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--asset/.test(e.message));
});

test('--collateral-peer: repeatable addresses; default any peer', () => {
  const a = '0x0000000000000000000000000000000000000011';
  const b = '0x0000000000000000000000000000000000000022';
  assert.equal(resolveConfig({}).config.collateralPeers, undefined);
  assert.deepEqual(resolveConfig({ flags: { collateralPeers: [a, b] } }).config.collateralPeers, [a, b]);
  assert.deepEqual(resolveConfig({ env: { SLUICE_HUB_COLLATERAL_PEERS: `${a},${b}` } }).config.collateralPeers, [a, b]);
  assert.throws(() => resolveConfig({ flags: { collateralPeers: ['nope'] } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--collateral-peer/.test(e.message));
});

test('--retain-history takes minutes, hours or days, or forever', () => {
  const r = (v: string): number | null => resolveConfig({ flags: { retainHistory: v } }).config.retainHistory;
  assert.equal(r('90m'), 90 * 60_000);
  assert.equal(r('12h'), 12 * 3_600_000);
  assert.equal(r('30D'), 30 * 86_400_000);
  assert.equal(r('forever'), null);
  assert.equal(r('never'), null);
  assert.equal(resolveConfig({ file: { retainHistory: '1d' } }).config.retainHistory, 86_400_000);
});

test('every option has a SLUICE_HUB_ env var, a flag and a default text', () => {
  const envs = new Set<string>();
  for (const o of OPTIONS) {
    assert.match(o.env, /^SLUICE_HUB_[A-Z_]+$/);
    assert.match(o.flag, /^--[a-z-]+ <[a-z-]+>$/);
    assert.ok(o.defaultText.length > 0);
    assert.ok(!envs.has(o.env));
    envs.add(o.env);
  }
});

test('config file and deployment file round trip and validation', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-hub-cfg-'));
  try {
    const p = join(dir, 'hub.json');
    writeFileSync(p, JSON.stringify({ httpPort: 1 }));
    assert.deepEqual(readConfigFile(p), { httpPort: 1 });
    writeFileSync(p, '[1]');
    assert.throws(() => readConfigFile(p), /JSON object/);
    const d = {
      chainId: 31337,
      adjudicator: '0x5FbDB2315678afecb367f032d93F642f64180aa3',
      consensusApp: '0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512',
      virtualPaymentApp: '0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0',
      deployBlock: 1,
    };
    const dp = join(dir, 'deployment.json');
    writeDeployment(dp, parseDeployment(d));
    assert.equal(readDeployment(dp).adjudicator.toLowerCase(), d.adjudicator.toLowerCase());
    assert.equal(readDeployment(dp).token, undefined);
    assert.throws(() => parseDeployment({ ...d, deployBlock: -1 }), /deployment.deployBlock/);
    assert.throws(() => parseDeployment({ ...d, consensusApp: 'nope' }), /deployment.consensusApp/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('logger redacts key- and passphrase-shaped fields and writes bigints as strings', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _e, cb) {
      lines.push(String(chunk));
      cb();
    },
  });
  const log = createLogger('debug', sink as never);
  const key = '0x' + 'ab'.repeat(32);
  log.info({ privateKey: key, passphrase: 'hunter2hunter2', nested: { key }, amount: 12345678901234567890n }, 'x');
  const all = lines.join('');
  assert.ok(!all.includes('ab'.repeat(32)));
  assert.ok(!all.includes('hunter2'));
  assert.match(all, /"amount":"12345678901234567890"/);
});

test('--max-ledger-guarantees: 1..1024, default 256', () => {
  assert.equal(resolveConfig({}).config.maxLedgerGuarantees, 256);
  assert.equal(resolveConfig({ flags: { maxLedgerGuarantees: '64' } }).config.maxLedgerGuarantees, 64);
  assert.equal(resolveConfig({ env: { SLUICE_HUB_MAX_LEDGER_GUARANTEES: '8' } }).config.maxLedgerGuarantees, 8);
  for (const bad of ['0', '5000', 'many']) {
    assert.throws(() => resolveConfig({ flags: { maxLedgerGuarantees: bad } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--max-ledger-guarantees/.test(e.message));
  }
});

test('--max-peer-collateral: base units; default 2 × --max-ledger-deposit (left to the hub)', () => {
  assert.equal(resolveConfig({}).config.maxPeerCollateral, undefined);
  assert.equal(resolveConfig({ flags: { maxPeerCollateral: '3000' } }).config.maxPeerCollateral, 3000n);
  assert.equal(resolveConfig({ env: { SLUICE_HUB_MAX_PEER_COLLATERAL: '0' } }).config.maxPeerCollateral, 0n);
  assert.throws(() => resolveConfig({ flags: { maxPeerCollateral: 'x' } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--max-peer-collateral/.test(e.message));
});

test('--max-opening-collateral: base units; default 4 × --max-ledger-deposit (left to the hub)', () => {
  assert.equal(resolveConfig({}).config.maxOpeningCollateral, undefined);
  assert.equal(resolveConfig({ flags: { maxOpeningCollateral: '4000' } }).config.maxOpeningCollateral, 4000n);
  assert.equal(resolveConfig({ env: { SLUICE_HUB_MAX_OPENING_COLLATERAL: '0' } }).config.maxOpeningCollateral, 0n);
  assert.throws(() => resolveConfig({ flags: { maxOpeningCollateral: '-1' } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--max-opening-collateral/.test(e.message));
});

test("--confirmations: 1..256, default the chain's (undefined here: the node picks 1 on a local chain, 12 elsewhere)", () => {
  assert.equal(resolveConfig({}).config.confirmations, undefined);
  assert.equal(resolveConfig({ flags: { confirmations: '12' } }).config.confirmations, 12);
  assert.equal(resolveConfig({ env: { SLUICE_HUB_CONFIRMATIONS: '3' } }).config.confirmations, 3);
  for (const bad of ['0', '257', 'x']) assert.throws(() => resolveConfig({ flags: { confirmations: bad } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--confirmations/.test(e.message));
});

test('--prefund-timeout-ms: default 60 s, at least 1 s', () => {
  assert.equal(resolveConfig({}).config.prefundTimeoutMs, 60_000);
  assert.equal(resolveConfig({ env: { SLUICE_HUB_PREFUND_TIMEOUT_MS: '5000' } }).config.prefundTimeoutMs, 5_000);
  assert.throws(() => resolveConfig({ flags: { prefundTimeoutMs: '10' } }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /--prefund-timeout-ms/.test(e.message));
});

test('challenge durations: no minimum by default (the hub derives it from the chain), 30d at most, in seconds; min above max and out-of-range values are refused', () => {
  const { config } = resolveConfig({});
  assert.equal(config.minChallengeDuration, undefined);
  assert.equal(config.maxChallengeDuration, 30 * 86_400);
  assert.equal(resolveConfig({ env: { SLUICE_HUB_MIN_CHALLENGE_DURATION: '24h' } }).config.minChallengeDuration, 86_400);
  for (const flags of [{ minChallengeDuration: '7d', maxChallengeDuration: '1d' }, { minChallengeDuration: 'forever' }, { maxChallengeDuration: '400d' }, { minChallengeDuration: '0m' }]) {
    assert.throws(() => resolveConfig({ flags }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT'), JSON.stringify(flags));
  }
});
