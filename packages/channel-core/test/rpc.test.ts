/**
 * The JSON-RPC helpers: the chain's default confirmations, an endpoint named without its
 * secrets, and `eth_chainId` and the block time read over real HTTP (a local server), including
 * the failures.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LOCAL_CHAIN_IDS, PUBLIC_CHAIN_CONFIRMATIONS, challengeAnswerTimeS, defaultConfirmations, newestDeliverable } from '../src/chain.ts';
import { readBlockTime, readRpcChainId, rpcUrlForDisplay } from '../src/rpc.ts';
import { isSluiceError } from '../src/index.ts';

test('default confirmations: 1 on a local development chain, 12 on any other', () => {
  assert.deepEqual(LOCAL_CHAIN_IDS, [31337n, 1337n]);
  assert.equal(defaultConfirmations(31337), 1);
  assert.equal(defaultConfirmations(1337n), 1);
  assert.equal(PUBLIC_CHAIN_CONFIRMATIONS, 12);
  for (const id of [1, 10n, 137, 8453, 11155111n, 42161]) assert.equal(defaultConfirmations(id), 12, `chain ${id}`);
  // what "caught up with the head" means under confirmations (the engine waits for it after a failed transaction)
  assert.equal(newestDeliverable(100, 1), 100);
  assert.equal(newestDeliverable(100, 12), 89);
});

test('an RPC endpoint is shown without its path, query or user info (they may hold an API key)', () => {
  assert.equal(rpcUrlForDisplay('http://127.0.0.1:8545'), 'http://127.0.0.1:8545');
  assert.equal(rpcUrlForDisplay('http://127.0.0.1:8545/'), 'http://127.0.0.1:8545');
  assert.equal(rpcUrlForDisplay('https://mainnet.infura.io/v3/0123456789abcdef'), 'https://mainnet.infura.io/…');
  assert.equal(rpcUrlForDisplay('https://rpc.example/?apikey=s3cret'), 'https://rpc.example/…');
  assert.equal(rpcUrlForDisplay('https://user:pass@rpc.example:8443'), 'https://rpc.example:8443');
  assert.equal(rpcUrlForDisplay('not a url s3cret'), '(an invalid URL)');
});

async function serve(handler: (body: string) => { status?: number; body: string } | 'hang'): Promise<{ url: string; server: Server }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const r = handler(body);
      if (r === 'hang') return;
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json' });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v3/s3cret-key`, server };
}

test('readRpcChainId: the chain id over HTTP; CHAIN_RPC naming the endpoint without its secret when it cannot', async (t) => {
  const seen: unknown[] = [];
  const ok = await serve((b) => (seen.push(JSON.parse(b)), { body: JSON.stringify({ jsonrpc: '2.0', id: 1, result: '0xa' }) }));
  t.after(() => ok.server.close());
  assert.equal(await readRpcChainId(ok.url), 10n);
  assert.deepEqual(seen, [{ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }]);

  const check = (e: unknown, re: RegExp): boolean => {
    assert.ok(isSluiceError(e, 'CHAIN_RPC'), String(e));
    assert.match(e.message, re);
    assert.doesNotMatch(e.message, /s3cret/);
    return true;
  };
  for (const reply of [{ body: JSON.stringify({ jsonrpc: '2.0', id: 1, error: { code: -32601, message: 'no' } }) }, { body: JSON.stringify({ result: 'ten' }) }, { body: '[]' }]) {
    const bad = await serve(() => reply);
    await assert.rejects(readRpcChainId(bad.url), (e) => check(e, /gave no answer to eth_chainId/));
    bad.server.close();
  }
  const html = await serve(() => ({ status: 502, body: '<html>bad gateway</html>' }));
  await assert.rejects(readRpcChainId(html.url), (e) => check(e, /the chain at http:\/\/127\.0\.0\.1:\d+\/… gave no answer to eth_chainId \(HTTP 502\)/));
  html.server.close();
  const hang = await serve(() => 'hang');
  await assert.rejects(readRpcChainId(hang.url, { timeoutMs: 200 }), (e) => check(e, /cannot reach/));
  hang.server.closeAllConnections();
  hang.server.close();
  const gone = hang.url; // nothing listens there any more
  await assert.rejects(readRpcChainId(gone), (e) => check(e, /cannot reach/));
});

test("readBlockTime: the mean block time over the last blocks; undefined on a chain of one block; CHAIN_RPC on a bad answer", async (t) => {
  const chain = (head: number, blockTimeS: number, bad = false) =>
    serve((b) => {
      const req = JSON.parse(b) as { method: string; params: unknown[] };
      if (req.method === 'eth_blockNumber') return { body: JSON.stringify({ result: `0x${head.toString(16)}` }) };
      const n = Number(BigInt(req.params[0] as string));
      return { body: JSON.stringify({ result: bad ? { number: req.params[0] } : { timestamp: `0x${(1_000 + n * blockTimeS).toString(16)}` } }) };
    });
  const twelve = await chain(500, 12);
  t.after(() => twelve.server.close());
  assert.equal(await readBlockTime(twelve.url), 12);
  assert.equal(await readBlockTime(twelve.url, { blocks: 10 }), 12);
  const young = await chain(3, 2);
  t.after(() => young.server.close());
  assert.equal(await readBlockTime(young.url), 2); // over the 3 blocks there are
  const genesis = await chain(0, 2);
  t.after(() => genesis.server.close());
  assert.equal(await readBlockTime(genesis.url), undefined);
  const bad = await chain(500, 12, true);
  t.after(() => bad.server.close());
  await assert.rejects(readBlockTime(bad.url), (e) => isSluiceError(e, 'CHAIN_RPC') && /gave no answer to eth_getBlockByNumber/.test(e.message) && !/s3cret/.test(e.message));
  assert.equal(challengeAnswerTimeS(12, 12), 168);
  assert.equal(challengeAnswerTimeS(1, 2), 6);
});
