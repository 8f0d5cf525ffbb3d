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
