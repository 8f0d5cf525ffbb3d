/** `sluice get` as a user runs it: exit codes and --json output. */
import { describe, it, before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ALICE_KEY, type Env, type RunningProvider, addRandomFile, makeEnv, startProvider } from './helpers.ts';

const BIN = fileURLToPath(new URL('../bin/sluice.js', import.meta.url));

function sluice(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

describe('sluice get (CLI)', () => {
  let env: Env;
  let bob: RunningProvider;
  before(async () => {
    env = await makeEnv();
    bob = await startProvider(env, { pricePerChunk: 500n });
  });
  after(async () => {
    await bob.stop();
    await env.cleanup();
  });

  it('downloads with --json, refuses a high price (exit 3), reports a missing file (exit 6) and bad usage (exit 2)', async () => {
    const { record, bytes } = await addRandomFile(env, 600_000);
    const url = `${bob.service.url}/files/${record.cid}`;
    const common = ['--key', ALICE_KEY, '--dev-channels', env.registry.dir, '--home', join(env.dir, 'home')];
    const out = join(env.dir, 'out', 'cli.bin');
    const ok = await sluice(['get', url, '-o', out, '--json', '--window', '4', ...common]);
    assert.equal(ok.code, 0, ok.stderr);
    const j = JSON.parse(ok.stdout) as { ok: boolean; paid: string; chunks: number };
    assert.equal(j.ok, true);
    assert.equal(j.paid, '1500');
    assert.deepEqual(await readFile(out), bytes);
    assert.equal(ok.stderr.includes('Experimental'), false, 'no runtime warnings in user output');

    const pricey = await sluice(['get', url, '-o', out + '2', '--max-price', '499', '--json', ...common]);
    assert.equal(pricey.code, 3);
    assert.equal((JSON.parse(pricey.stdout) as { error: { code: string } }).error.code, 'PRICE_TOO_HIGH');

    const missing = await sluice(['get', `${bob.service.url}/files/bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku`, '-q', ...common]);
    assert.equal(missing.code, 6);
    assert.match(missing.stderr, /does not serve this file/);

    const usage = await sluice(['get', url, '--window', '0', ...common]);
    assert.equal(usage.code, 2);
    // with --json, a usage error is a JSON object on stdout too
    const usageJson = await sluice(['get', url, '--window', '0', '--json', ...common]);
    assert.equal(usageJson.code, 2);
    const uj = JSON.parse(usageJson.stdout) as { ok: boolean; error: { code: string; message: string }; exitCode: number };
    assert.deepEqual([uj.ok, uj.error.code, uj.exitCode], [false, 'INVALID_ARGUMENT', 2]);
    assert.match(uj.error.message, /--window/);
    const help = await sluice(['get', '--help']);
    assert.equal(help.code, 0);
    for (const flag of ['--output', '--max-price', '--window', '--budget', '--json', '--quiet', '--close', '--key', '--dev-channels', '--ledger-challenge-duration', '--virtual-challenge-duration']) assert.ok(help.stdout.includes(flag), flag);
  });

  it('a refused challenge duration names the flag that changes it', async () => {
    const { describe: describeError } = await import('../src/cli.ts');
    const { SluiceError } = await import('@sluice/channel-core');
    const ledger = new SluiceError('HUB_POLICY_REJECTED', "the ledger's challenge duration 86400 s is outside what we accept (360..43200 s)");
    assert.match(describeError(ledger), /\(360\.\.43200 s\) \(HUB_POLICY_REJECTED\); give --ledger-challenge-duration within that range/);
    const virtual = new SluiceError('HUB_POLICY_REJECTED', "the virtual channel's challenge duration 3600 s is outside what we accept (7200..86400 s)");
    assert.match(describeError(virtual), /give --virtual-challenge-duration within that range/);
    assert.equal(describeError(new SluiceError('HUB_POLICY_REJECTED', 'this node is not a hub')), 'this node is not a hub (HUB_POLICY_REJECTED)');
  });
});

describe('sluice withdraw / status (CLI help)', () => {
  it('lists the commands and their flags', async () => {
    const top = await sluice(['--help']);
    assert.match(top.stdout, /withdraw/);
    assert.match(top.stdout, /status/);
    const w = await sluice(['withdraw', '--help']);
    assert.equal(w.code, 0);
    for (const f of ['--force', '--wait', '--json', '--cooperative-timeout', '--home', '--hub-address', '--hub-multiaddr', '--rpc-url', '--key-file', '--dev-account']) assert.ok(w.stdout.includes(f), f);
    const s = await sluice(['status', '--help']);
    assert.equal(s.code, 0);
    for (const f of ['--json', '--home', '--rpc-url']) assert.ok(s.stdout.includes(f), f);
  });
});

test('a ledger opening that stalls is described in words (sluice get prints it at each stall)', async () => {
  const { ledgerWaitText } = await import('../src/cli.ts');
  assert.match(ledgerWaitText('WaitingForCompletePrefund'), /waiting for the hub to sign it \(right after an exit of our last ledger/);
  assert.equal(ledgerWaitText('WaitingForMyTurnToFund'), 'waiting for the deposits to be confirmed on chain');
  assert.equal(ledgerWaitText('WaitingForCompleteFunding'), 'waiting for the deposits to be confirmed on chain');
  assert.equal(ledgerWaitText('WaitingForCompletePostFund'), "waiting for the hub's last signature");
  assert.equal(ledgerWaitText('Other'), 'Other');
});
