/**
 * The product end to end, as users run it, on a real local chain: anvil with Sluice's
 * contracts, `sluice-hub start` (Irene), `sluice-provider add` + `start` (Bob, on his own
 * channel node with a ledger to the hub), and `sluice get` (Alice, whose node opens a
 * ledger with the hub and a virtual channel to Bob). Every process is a real CLI; channel
 * messages go over libp2p; funding goes on chain. Alice closes the virtual channel
 * at the end (`--close`), and Bob withdraws his earnings through the admin API.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { JsonRpcProvider, Wallet } from 'ethers';
import { freePort, startAnvil, type Anvil } from '@sluice/contracts/anvil';
import { CLIENT, HUB, PROVIDER, type Proc, deployTo, run, spawnUntil } from './cli-procs.ts';

const PRICE = 1_000_000_000n;

describe('end to end on anvil with the real CLIs (hub, provider, client)', { timeout: 180_000 }, () => {
  let anvil: Anvil;
  let dir: string;
  let deploymentFile: string;
  const procs: Proc[] = [];
  before(async () => {
    anvil = await startAnvil();
    dir = await mkdtemp(join(tmpdir(), 'sluice-chain-e2e-'));
    deploymentFile = await deployTo(anvil, dir);
  });
  after(async () => {
    for (const p of procs.reverse()) await p.stop();
    await anvil?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('sluice get downloads a file paid through a virtual channel via the hub; Alice closes it, Bob withdraws his earnings', async () => {
    const chain = ['--rpc-url', anvil.rpcUrl, '--deployment', deploymentFile, '--chain-poll-ms', '100'];
    const hub = await spawnUntil(HUB, ['start', ...chain, '--dev-account', '1', '--listen', '/ip4/127.0.0.1/tcp/0', '--store', join(dir, 'hub.db'), '--max-ledger-deposit', (10n ** 19n).toString(), '--http-port', '0', '--log-level', 'warn'], (j) => j['ready'] === true);
    procs.push(hub);
    const hubAddress = hub.ready['address'] as string;
    const hubMultiaddr = (hub.ready['multiaddrs'] as string[])[0]!;

    // A provider asking the hub for more collateral than it deposits is refused: it says what to
    // change and exits (it used to stay alive, serving nothing, with its channel node running)
    const dave = await run(PROVIDER, ['start', ...chain, '--dev-account', '4', '--data', join(dir, 'dave'), '--port', '0', '--hub-address', hubAddress, '--hub-multiaddr', hubMultiaddr, '--hub-collateral', (10n ** 20n).toString(), '--log-level', 'warn'], 30_000);
    assert.equal(dave.code, 1, `${dave.stdout}\n${dave.stderr}`);
    assert.match(dave.stderr, /more than our limit .*--max-ledger-deposit 100000000000000000000 or more.*--collateral-peer 0x[0-9a-fA-F]{40}.*\(HUB_POLICY_REJECTED\)/);

    // A provider whose hub is not there: the client finds out before it deposits anything
    {
      const data = join(dir, 'carol');
      const small = join(dir, 'small.bin');
      await writeFile(small, randomBytes(1000));
      const added = await run(PROVIDER, ['add', small, '--data', data, '--json']);
      assert.equal(added.code, 0, added.stderr);
      const [smallEntry] = JSON.parse(added.stdout) as { cid: string }[];
      const deadHub = hubMultiaddr.replace(/\/tcp\/[0-9]+\//, `/tcp/${await freePort()}/`);
      const carol = await spawnUntil(PROVIDER, ['start', '--dev-channels', join(dir, 'dev-channels'), '--address', '0x976EA74026E726554dB657fA54763abd0C3a0aa9', '--data', data, '--port', '0', '--price', PRICE.toString(), '--hub-address', hubAddress, '--hub-multiaddr', deadHub, '--log-level', 'warn'], (j) => typeof j['listening'] === 'string');
      procs.push(carol);
      const rpc = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true });
      const dave = new Wallet(anvil.accounts[4]!).address;
      const before = await rpc.getBalance(dave);
      const got = await run(CLIENT, ['get', `${carol.ready['listening'] as string}/files/${smallEntry!.cid}`, '-o', join(dir, 'small-got.bin'), ...chain, '--dev-account', '4', '--home', join(dir, 'dave')], 60_000);
      assert.equal(got.code, 5, `${got.stdout}\n${got.stderr}`);
      assert.match(got.stderr, /cannot reach the hub 0x[0-9a-fA-F]{40} .*nothing was deposited/);
      assert.equal(await rpc.getBalance(dave), before, 'no deposit, no gas');
      rpc.destroy();
      await carol.stop();
    }

    const src = join(dir, 'movie.bin');
    const bytes = randomBytes(5 * 262_144 + 999);
    await writeFile(src, bytes);
    const add = await run(PROVIDER, ['add', src, '--data', join(dir, 'bob'), '--json']);
    assert.equal(add.code, 0, add.stderr);
    const [entry] = JSON.parse(add.stdout) as { cid: string; chunks: number }[];
    const bobArgs = ['start', ...chain, '--dev-account', '2', '--data', join(dir, 'bob'), '--port', '0', '--price', PRICE.toString(), '--hub-address', hubAddress, '--hub-multiaddr', hubMultiaddr, '--hub-collateral', (10n ** 17n).toString(), '--admin-token', 't', '--retain-history', '90m', '--log-level', 'warn'];
    const hubLedgers = async (): Promise<{ counterparty: string; status: string }[]> => ((await (await fetch(`${hub.ready['http'] as string}/status`)).json()) as { ledgers: { counterparty: string; status: string }[] }).ledgers;
    // Bob, stopped and started again on his data, takes his ledger with the hub back: no second one
    {
      const first = await spawnUntil(PROVIDER, bobArgs, (j) => typeof j['listening'] === 'string');
      procs.push(first);
      const bobAddress = first.ready['payee'] as string;
      await first.stop();
      const ledgers = (await hubLedgers()).filter((l) => l.counterparty.toLowerCase() === bobAddress.toLowerCase());
      assert.deepEqual(ledgers.map((l) => l.status), ['open']);
    }
    const bob = await spawnUntil(PROVIDER, bobArgs, (j) => typeof j['listening'] === 'string');
    procs.push(bob);
    assert.deepEqual((await hubLedgers()).filter((l) => l.counterparty.toLowerCase() === (bob.ready['payee'] as string).toLowerCase()).map((l) => l.status), ['open'], 'one ledger with Bob after his restart');
    // a second provider on Bob's data directory would sign from the same channel store: refused
    const twin = await run(PROVIDER, ['start', ...chain, '--dev-account', '2', '--data', join(dir, 'bob'), '--port', '0', '--price', PRICE.toString(), '--hub-address', hubAddress, '--hub-multiaddr', hubMultiaddr, '--log-level', 'warn'], 30_000);
    assert.equal(twin.code, 2, `${twin.stdout}\n${twin.stderr}`);
    assert.match(twin.stderr, /node\.db is in use by another process/);
    const url = `${bob.ready['listening'] as string}/files/${entry!.cid}`;
    // Bob's metadata names his channel node, so Alice's node sends him the channel's messages directly
    const meta = (await (await fetch(url)).json()) as { payee: string; payeeMultiaddrs?: string[] };
    assert.ok((meta.payeeMultiaddrs ?? []).length > 0 && meta.payeeMultiaddrs!.every((m) => m.startsWith('/ip4/127.0.0.1/tcp/')), JSON.stringify(meta));

    const out = join(dir, 'got.bin');
    // --close: Alice closes the virtual channel while her node is up (a virtual defund needs all three).
    const got = await run(CLIENT, ['get', url, '-o', out, '--json', '--close', '--window', '4', '--budget', (10n ** 16n).toString(), ...chain, '--dev-account', '3', '--home', join(dir, 'alice'), '--ledger-challenge-duration', '2d', '--virtual-challenge-duration', '2h']);
    assert.equal(got.code, 0, `${got.stdout}\n${got.stderr}`);
    // her channels were opened with the challenge durations she asked for
    {
      const db = new DatabaseSync(join(dir, 'alice', 'node.db'), { readOnly: true });
      const durations = (kind: string): number[] => (db.prepare('SELECT data FROM channels WHERE kind = ?').all(kind) as { data: string }[]).flatMap((r) => [...r.data.matchAll(/"challengeDuration":([0-9]+)/g)].map((m) => Number(m[1])));
      assert.deepEqual([...new Set(durations('ledger'))], [2 * 86_400]);
      assert.deepEqual([...new Set(durations('virtual'))], [2 * 3_600]);
      db.close();
    }
    const result = JSON.parse(got.stdout) as { ok: boolean; paid: string; channelId: string };
    assert.equal(result.ok, true);
    assert.deepEqual(await readFile(out), bytes);
    assert.equal(BigInt(result.paid), BigInt(entry!.chunks) * PRICE);
    // ... and the hub relayed none of them: Alice and Bob talked directly, the hub only ran its own part
    const hubMetrics = await (await fetch(`${hub.ready['http'] as string}/metrics`)).text();
    assert.doesNotMatch(hubMetrics, /^sluice_hub_messages_relayed_total\{[^}]*\} [1-9]/m, 'the hub relayed Alice↔Bob messages');
    assert.match(hubMetrics, /^sluice_hub_virtual_channels_open\{/m);

    const auth = { authorization: 'Bearer t' };
    const base = bob.ready['listening'] as string;
    const earnings = (await (await fetch(`${base}/admin/earnings`, { headers: auth })).json()) as { total: string };
    assert.equal(BigInt(earnings.total), BigInt(entry!.chunks) * PRICE);
    const w = (await (await fetch(`${base}/admin/withdraw`, { method: 'POST', headers: auth })).json()) as { result: { ledgers: { status: string; amount: string }[] } };
    assert.equal(w.result.ledgers[0]?.status, 'closed', JSON.stringify(w));
    assert.equal(BigInt(w.result.ledgers[0]?.amount ?? '0'), BigInt(entry!.chunks) * PRICE, 'Bob withdrew exactly his earnings');
    // a withdraw is a wind-down: Bob's ledger with the hub is not replaced by a new one (he keeps it
    // by himself only when it leaves "open" without his asking), and he says he cannot be paid
    await new Promise((r) => setTimeout(r, 3_000)); // > its check interval (2 s)
    assert.deepEqual((await hubLedgers()).filter((l) => l.counterparty.toLowerCase() === (bob.ready['payee'] as string).toLowerCase()).map((l) => l.status), [], 'no new ledger after the withdraw');
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 503);
    assert.match(((await health.json()) as { reason: string }).reason, /closed \(settled or withdrawn\): restart sluice-provider/);
  });
});
