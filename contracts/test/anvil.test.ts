import { test } from 'node:test';
import assert from 'node:assert/strict';
import { JsonRpcProvider, Wallet } from 'ethers';
import { startAnvil } from './lib/anvil.ts';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('startAnvil: two nodes on distinct free ports with funded accounts; stop() kills them', async (t) => {
  const [a, b] = await Promise.all([startAnvil(), startAnvil({ accounts: 3 })]);
  t.after(async () => {
    await a.stop();
    await b.stop();
  });
  assert.notEqual(a.port, b.port);
  assert.equal(a.accounts.length, 10);
  assert.equal(b.accounts.length, 3);
  const p = new JsonRpcProvider(a.rpcUrl, undefined, { staticNetwork: true });
  const first = a.accounts[0];
  assert.ok(first);
  assert.ok((await p.getBalance(new Wallet(first).address)) > 10n ** 21n);
  p.destroy();
  assert.ok(alive(a.pid));
  await a.stop();
  await a.stop(); // idempotent
  assert.equal(alive(a.pid), false);
  await assert.rejects(fetch(a.rpcUrl, { method: 'POST', body: '{}' }));
});

test('startAnvil({ blockTime }) mines blocks on its own', async (t) => {
  const node = await startAnvil({ blockTime: 1 });
  t.after(() => node.stop());
  const p = new JsonRpcProvider(node.rpcUrl, undefined, { staticNetwork: true });
  const n0 = await p.getBlockNumber();
  await new Promise((r) => setTimeout(r, 2200));
  assert.ok((await p.getBlockNumber()) > n0);
  p.destroy();
});

test('a process that exits with anvil running kills it and removes its state directory', async () => {
  const lib = new URL('./lib/anvil.ts', import.meta.url).pathname;
  // the child prints anvil's pid and its state directory (from anvil's --config-out argument)
  const script = [
    `import { startAnvil } from ${JSON.stringify(lib)};`,
    `import { readFileSync } from 'node:fs';`,
    `const a = await startAnvil();`,
    `const args = readFileSync('/proc/' + a.pid + '/cmdline', 'utf8').split('\\0');`,
    `const config = args[args.indexOf('--config-out') + 1];`,
    `process.stdout.write(JSON.stringify({ pid: a.pid, config }) + '\\n');`,
    `process.exit(0);`,
  ].join('\n');
  const { execFile } = await import('node:child_process');
  const out = await new Promise<string>((res, rej) => execFile(process.execPath, ['--input-type=module', '-e', script], (e, stdout) => (e ? rej(e) : res(stdout))));
  const { pid, config } = JSON.parse(out) as { pid: number; config: string };
  assert.match(config, /sluice-anvil-[^/]+\/config\.json$/);
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(alive(pid), false, 'anvil killed');
  const { existsSync } = await import('node:fs');
  const { dirname } = await import('node:path');
  assert.equal(existsSync(dirname(config)), false, 'no state directory left behind');
});
