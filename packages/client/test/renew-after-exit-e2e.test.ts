/**
 * A client that exits its ledger with the hub on chain and downloads again at once, with the
 * real CLIs on anvil. The second `sluice get` opens a new ledger beside the one being exited, but
 * the hub sees the exit only once its challenge is confirmed at its end: here anvil mines a block
 * a second and the hub waits for 8 confirmations, so for ~8 s it refuses the new ledger as a second
 * one (LEDGER_EXISTS). The client's node keeps the opening and sends it again until the hub has
 * seen the exit; the download then goes through. (Before, the second `get` failed at once: "a
 * ledger with this peer in this asset already exists", exit 1.)
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startAnvil, type Anvil } from '@sluice/contracts/anvil';
import { CLIENT, HUB, PROVIDER, type Proc, deployTo, run, spawnUntil } from './cli-procs.ts';

const PRICE = 1_000_000_000n;

describe('a download right after exiting our ledger on chain (real CLIs, anvil)', { timeout: 240_000 }, () => {
  let anvil: Anvil;
  let dir: string;
  let deploymentFile: string;
  const procs: Proc[] = [];
  before(async () => {
    anvil = await startAnvil({ blockTime: 1 });
    dir = await mkdtemp(join(tmpdir(), 'sluice-renew-e2e-'));
    deploymentFile = await deployTo(anvil, dir);
  });
  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await anvil?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('the new ledger waits until the hub has seen the old one exit, and the download completes', async () => {
    const chain = ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--chain-poll-ms', '100'];
    const hub = await spawnUntil(
      HUB,
      ['start', ...chain, '--dev-account', '1', '--confirmations', '8', '--listen', '/ip4/127.0.0.1/tcp/0', '--store', join(dir, 'hub.db'), '--max-ledger-deposit', (10n ** 19n).toString(), '--http-port', '0', '--log-level', 'warn'],
      (j) => j['ready'] === true,
    );
    procs.push(hub);
    const hubAddress = hub.ready['address'] as string;
    const hubMultiaddr = (hub.ready['multiaddrs'] as string[])[0]!;

    const src = join(dir, 'file.bin');
    const bytes = randomBytes(2 * 262_144 + 17);
    await writeFile(src, bytes);
    const add = await run(PROVIDER, ['add', src, '--data', join(dir, 'bob'), '--json']);
    assert.equal(add.code, 0, add.stderr);
    const [entry] = JSON.parse(add.stdout) as { cid: string }[];
    const bob = await spawnUntil(
      PROVIDER,
      ['start', ...chain, '--dev-account', '2', '--data', join(dir, 'bob'), '--port', '0', '--price', PRICE.toString(), '--hub-address', hubAddress, '--hub-multiaddr', hubMultiaddr, '--hub-collateral', (10n ** 17n).toString(), '--log-level', 'warn'],
      (j) => typeof j['listening'] === 'string',
      120_000,
    );
    procs.push(bob);
    const url = `${bob.ready['listening'] as string}/files/${entry!.cid}`;
    const alice = [...chain, '--dev-account', '3', '--home', join(dir, 'alice')];

    const first = await run(CLIENT, ['get', url, '-o', join(dir, 'got1.bin'), '--close', ...alice], 180_000);
    assert.equal(first.code, 0, `${first.stdout}\n${first.stderr}`);
    // on chain at once: the challenge is mined, the hub sees it 8 blocks later
    const out = await run(CLIENT, ['withdraw', '--force', ...alice], 120_000);
    assert.equal(out.code, 0, `${out.stdout}\n${out.stderr}`);

    const second = await run(CLIENT, ['get', url, '-o', join(dir, 'got2.bin'), '--close', ...alice], 180_000);
    assert.equal(second.code, 0, `${second.stdout}\n${second.stderr}`);
    assert.deepEqual(await readFile(join(dir, 'got2.bin')), bytes);
    // the hub did refuse it as a second ledger first: the case this test is about did happen
    assert.ok(
      hub.lines.some((l) => l.includes('"code":"LEDGER_EXISTS"')),
      `the hub never refused the new ledger as a second one (it saw the exit first): the race was not exercised\n${hub.lines.slice(-20).join('\n')}`,
    );
  });
});
