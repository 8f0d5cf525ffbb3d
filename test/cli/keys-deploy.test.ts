/**
 * `sluice keys new|import|address` and `sluice deploy`, run as the real CLI: keystores are
 * 0600 and need the passphrase from the environment (no TTY here), and `deploy` writes a
 * deployment file with code at every address, refusing a dev account on a non-local chain id.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startAnvil, type Anvil } from '@sluice/contracts/anvil';

const CLIENT = fileURLToPath(new URL('../../packages/client/bin/sluice.js', import.meta.url));
const PASS = 'correct horse battery staple';
// anvil's dev account 1 (public knowledge)
const DEV1 = { key: '0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d', address: '0x70997970C51812dc3A010C7d01b50e0d17dc79C8' };

function run(args: string[], env: Record<string, string> = {}, input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const base = { ...process.env };
    delete base['SLUICE_PASSPHRASE'];
    delete base['SLUICE_KEY'];
    const p = spawn(process.execPath, [CLIENT, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env: { ...base, ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdin.end(input ?? '');
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

describe('sluice keys', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-keys-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('new writes a 0600 keystore whose address `keys address` prints; refuses to overwrite', async () => {
    const file = join(dir, 'alice.json');
    const r = await run(['keys', 'new', '--key-file', file, '--json'], { SLUICE_PASSPHRASE: PASS });
    assert.equal(r.code, 0, r.stderr);
    const j = JSON.parse(r.stdout) as { ok: boolean; address: string; keyFile: string };
    assert.equal(j.ok, true);
    assert.match(j.address, /^0x[0-9a-fA-F]{40}$/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const a = await run(['keys', 'address', '--key-file', file]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(a.stdout.trim(), j.address);
    const again = await run(['keys', 'new', '--key-file', file], { SLUICE_PASSPHRASE: PASS });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /refusing to overwrite.*--force replaces it/);
  });

  it('import takes the key from stdin or $SLUICE_KEY, never echoes it; no passphrase without a TTY is an error', async () => {
    const f1 = join(dir, 'i1.json');
    const r1 = await run(['keys', 'import', '--key-file', f1, '--json'], { SLUICE_PASSPHRASE: PASS }, `${DEV1.key}\n`);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal((JSON.parse(r1.stdout) as { address: string }).address, DEV1.address);
    assert.ok(!(r1.stdout + r1.stderr).includes(DEV1.key.slice(2)));
    const f2 = join(dir, 'i2.json');
    const r2 = await run(['keys', 'import', '--key-file', f2], { SLUICE_PASSPHRASE: PASS, SLUICE_KEY: DEV1.key });
    assert.equal(r2.code, 0, r2.stderr);
    assert.match(r2.stdout, new RegExp(DEV1.address));
    const r3 = await run(['keys', 'import', '--key-file', join(dir, 'i3.json')], {}, DEV1.key);
    assert.equal(r3.code, 2);
    assert.match(r3.stderr, /SLUICE_PASSPHRASE/);
    const r4 = await run(['keys', 'import', '--key-file', join(dir, 'i4.json')], { SLUICE_PASSPHRASE: PASS }, 'not a key');
    assert.equal(r4.code, 2);
    assert.ok(!r4.stderr.includes('not a key'), 'the input is not echoed');
  });
});

describe('sluice deploy', { timeout: 120_000 }, () => {
  let anvil: Anvil;
  let dir: string;
  before(async () => {
    anvil = await startAnvil();
    dir = await mkdtemp(join(tmpdir(), 'sluice-deploy-'));
  });
  after(async () => {
    await anvil?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  async function code(address: string): Promise<string> {
    const res = await fetch(anvil.rpcUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_getCode', params: [address, 'latest'] }) });
    return ((await res.json()) as { result: string }).result;
  }

  it('deploys with a dev account and writes the deployment file (with --token)', async () => {
    const out = join(dir, 'deployment.json');
    const r = await run(['deploy', '--rpc-url', anvil.rpcUrl, '--chain-id', '31337', '--dev-account', '0', '--token', '--out', out, '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    assert.equal(d['chainId'], 31337);
    assert.deepEqual((JSON.parse(r.stdout) as { deployment: unknown }).deployment, d);
    for (const k of ['adjudicator', 'consensusApp', 'virtualPaymentApp', 'token']) {
      assert.match(String(d[k]), /^0x[0-9a-fA-F]{40}$/, k);
      assert.ok((await code(String(d[k]))).length > 2, `${k} has code`);
    }
    assert.equal(typeof d['deployBlock'], 'number');
  });

  it('deploys with a keystore (passphrase from the env), settings from a config file', async () => {
    const keyFile = join(dir, 'deployer.json');
    assert.equal((await run(['keys', 'import', '--key-file', keyFile], { SLUICE_PASSPHRASE: PASS, SLUICE_KEY: DEV1.key })).code, 0);
    const config = join(dir, 'deploy.config.json');
    const out = join(dir, 'from-config.json');
    await writeFile(config, JSON.stringify({ rpcUrl: anvil.rpcUrl, keyFile, out }));
    const r = await run(['deploy', '--config', config], { SLUICE_PASSPHRASE: PASS });
    assert.equal(r.code, 0, r.stderr);
    const d = JSON.parse(await readFile(out, 'utf8')) as Record<string, unknown>;
    assert.equal(d['token'], undefined);
    assert.ok((await code(String(d['adjudicator']))).length > 2);
  });

  it('refuses a wrong chain id, a missing deployer, and two deployers', async () => {
    const out = join(dir, 'never.json');
    const wrong = await run(['deploy', '--rpc-url', anvil.rpcUrl, '--chain-id', '1', '--dev-account', '0', '--out', out]);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /serves chain 31337/);
    const none = await run(['deploy', '--rpc-url', anvil.rpcUrl, '--out', out]);
    assert.equal(none.code, 2);
    const both = await run(['deploy', '--rpc-url', anvil.rpcUrl, '--dev-account', '0', '--key-file', join(dir, 'deployer.json'), '--out', out, '--json']);
    assert.equal(both.code, 2);
    assert.equal((JSON.parse(both.stdout) as { ok: boolean }).ok, false);
    await assert.rejects(stat(out));
  });
});

describe('sluice get --config', () => {
  it('reads options from a JSON file, flags win, unknown keys are refused', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    try {
      const bad = join(dir, 'bad.json');
      await writeFile(bad, JSON.stringify({ window: 8, colour: 'blue' }));
      const r1 = await run(['get', 'http://127.0.0.1:1/files/x', '--config', bad]);
      assert.equal(r1.code, 2);
      assert.match(r1.stderr, /unknown option "colour"/);
      const good = join(dir, 'good.json');
      // the file's window is out of range: the flag must win without the file's value being parsed
      await writeFile(good, JSON.stringify({ retries: 0, stallTimeout: 200, window: 99999 }));
      const r2 = await run(['get', 'http://127.0.0.1:1/files/x', '--config', good, '--window', '4', '--json']);
      assert.equal((JSON.parse(r2.stdout) as { error: { code: string } }).error.code, 'PEER_TIMEOUT');
      const r3 = await run(['get', 'http://127.0.0.1:1/files/x', '--config', good]);
      assert.equal(r3.code, 2, 'the file value is checked like a flag');
      assert.match(r3.stderr, /window must be/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
