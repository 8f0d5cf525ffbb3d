/**
 * The payee's process killed (SIGKILL) again and again under load loses nothing.
 *
 * Bob (the payee) runs in his own process on a sqlite file; Irene (the hub) and four payers are
 * in-process nodes; everything talks over real libp2p, on anvil. Every payer loops: open a
 * virtual channel to Bob, pay him a few vouchers (each handed to Bob's process, which decides on
 * it), close it (the payer or Bob asks, in turn). Bob is SIGKILLed at random moments and a new
 * process is started on the same file and port. Calls caught by a crash fail or finish late; the
 * loops go on. Afterwards, with every channel still open closed:
 *
 * - no objective is in progress at any node;
 * - every virtual channel is closed or failed at both ends, with the same final amount, and that
 *   amount is at least the best voucher Bob's process said it accepted (an accepted voucher
 *   survives the crash);
 * - each ledger's balances at both of its ends: the payer's deposit less its channels' final
 *   amounts; Bob's ledger holds their sum;
 * - closing every ledger pays exactly those balances out on chain.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAddress, type Address, type ChannelId } from '@sluice/channel-core';
import type { LedgerChannelInfo, Node, VirtualChannelInfo } from '@sluice/channel-core/node';
import type { Actor } from '../chain/lib.ts';
import { freePort } from '@sluice/contracts/anvil';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';

const PAYERS = 4;
const KILLS = Number(process.env['CRASH_KILLS'] ?? 4);
const DEPOSIT = 10n ** 18n;
const COLLATERAL = 10n ** 18n;
const AMOUNT = 10n ** 16n;
const PRICE = 10n ** 13n;

let e: E2E;
const children: RemoteNode[] = [];
before(async () => {
  e = await startE2E();
});
after(async () => {
  for (const c of children) await c.kill();
  await e?.stop();
});

const t0 = Date.now();
const progress = (s: string): void => void process.stderr.write(`[payee crash ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

test('the payee SIGKILLed and restarted again and again under load: every channel ends, accepted vouchers survive, balances add up, on chain too', { timeout: 240_000 }, async () => {
  const { irene: I, bob: B } = e.chain;
  const irene = await e.start(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } });
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  // payers on anvil's spare dev accounts, paying in ETH (the fixture's actors are 0–3)
  const payers: Node[] = [];
  for (let i = 0; i < PAYERS; i++) {
    const key = e.chain.anvil.accounts[4 + i]!;
    payers.push(await e.start({ name: `payer${i}`, key, address: privateKeyToAddress(key) } as unknown as Actor, { hub, callTimeoutMs: 8_000, objectiveTimeoutMs: 2_000 }));
  }
  const bobInit = e.init(B, { hub, listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`], objectiveTimeoutMs: 2_000 });
  let bob!: RemoteNode;
  const spawnBob = async (): Promise<number> => {
    const t = Date.now();
    bob = spawnNode(bobInit);
    children.push(bob);
    await bob.ready;
    return Date.now() - t;
  };
  await spawnBob();
  const { channelId: ib } = await bob.call<{ channelId: ChannelId }>('createLedgerChannel', { counterparty: I.address, deposit: 0n, counterpartyDeposit: COLLATERAL });
  const ledgerOf = new Map<Node, ChannelId>();
  await Promise.all(payers.map(async (p) => ledgerOf.set(p, (await p.createLedgerChannel({ counterparty: I.address, deposit: DEPOSIT })).channelId)));
  await until(() => irene.getLedgerChannel(ib)?.status === 'open', "Bob's ledger open at the hub");
  const bobVirtual = (id: ChannelId): Promise<VirtualChannelInfo | undefined> => bob.call<VirtualChannelInfo | undefined>('getVirtualChannel', id);

  // ---- load, with Bob killed under it
  let stop = false;
  let cycles = 0;
  const errors = new Map<string, number>();
  const accepted = new Map<ChannelId, bigint>(); // the best voucher Bob's process said it accepted
  const fail = (x: unknown): void => {
    const code = (x as { code?: string }).code ?? String(x).slice(0, 60);
    errors.set(code, (errors.get(code) ?? 0) + 1);
  };
  const loads = payers.map(async (a, i) => {
    for (let k = 0; !stop; k++) {
      try {
        const { channelId } = await a.createVirtualChannel({ payee: B.address, amount: AMOUNT });
        await until(async () => (await bobVirtual(channelId))?.status === 'funded', 'Bob sees it funded', 8_000);
        const n = 1 + ((i + k) % 5);
        for (let j = 0; j < n; j++) {
          const v = a.pay(channelId, PRICE);
          const r = await bob.call<{ kind: string }>('receiveVoucher', v, { price: PRICE });
          assert.equal(r.kind, 'accepted');
          accepted.set(channelId, v.amount);
        }
        if ((i + k) % 2 === 0) await a.closeVirtualChannel(channelId);
        else await bob.call('closeVirtualChannel', channelId);
        cycles++;
      } catch (x) {
        fail(x);
        await sleep(100);
      }
    }
  });
  const restarts: number[] = [];
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      await sleep(700 + Math.floor(Math.random() * 1500));
      const before = cycles;
      await bob.kill();
      progress(`Bob killed (${kill + 1}/${KILLS}), ${cycles} cycles so far`);
      await sleep(kill === 1 ? 2_500 + Math.floor(Math.random() * 1_000) : Math.floor(Math.random() * 600));
      restarts.push(await spawnBob());
      await until(() => cycles > before, 'the load going on after the restart', 30_000);
    }
    await sleep(1_000);
  } finally {
    stop = true;
    await Promise.all(loads);
  }
  assert.ok(cycles >= PAYERS, `cycles completed: ${cycles}`);
  assert.equal(errors.get('ERR_ASSERTION'), undefined, 'a voucher refused during the load');
  progress(`load stopped after ${cycles} cycles; draining`);

  // ---- drain: close whatever a late call left open, then wait for every objective to end
  const inProgress = async (): Promise<string[]> => [
    ...[irene, ...payers].flatMap((n) => n.engine.activeObjectives().map((o) => `${n.address.slice(0, 8)} ${o.id} ${n.engine.objective(o.id)?.waitingFor ?? '?'}`)),
    ...(await bob.call<string[]>('activeObjectives')).map((x) => `Bob ${x}`),
  ];
  const idle = async (): Promise<boolean> => (await inProgress()).length === 0;
  for (let round = 0; round < 5; round++) {
    const open = payers.flatMap((a) => a.getVirtualChannels().filter((v) => v.status === 'funded').map((v) => ({ a, v })));
    await Promise.all(open.map(({ a, v }) => a.closeVirtualChannel(v.channelId).catch(fail)));
    await until(idle, 'no objective in progress anywhere', 20_000).catch(async () => progress(`round ${round}: still in progress: ${(await inProgress()).join('; ')}`));
    if ((await idle()) && payers.every((a) => a.getVirtualChannels().every((v) => v.status === 'closed' || v.status === 'failed'))) break;
  }
  assert.deepEqual(await inProgress(), [], 'objectives still in progress');

  // ---- every channel ended at both ends with the same amount; no accepted voucher lost
  let paidTotal = 0n;
  for (const a of payers) {
    let paidByA = 0n;
    for (const v of a.getVirtualChannels()) {
      const atBob = await bobVirtual(v.channelId);
      const atHub = irene.getVirtualChannel(v.channelId);
      if (v.status === 'closed') {
        assert.equal(atBob?.status, 'closed', `${v.channelId} closed at the payer, at Bob: ${atBob?.status}`);
        assert.equal(atHub?.status, 'closed', `${v.channelId} closed at the payer, at the hub: ${atHub?.status}`);
        assert.equal(atBob.paid, v.paid, `${v.channelId}: the same final amount`);
        assert.ok(v.paid >= (accepted.get(v.channelId) ?? 0n), `${v.channelId}: final ${v.paid} below an accepted voucher of ${accepted.get(v.channelId)}`);
        paidByA += v.paid;
      } else {
        assert.equal(v.status, 'failed', `${v.channelId} at its payer: ${v.status}`);
        assert.ok(atBob === undefined || atBob.status === 'failed', `${v.channelId} failed at the payer, at Bob: ${atBob?.status}`);
        assert.ok(!accepted.has(v.channelId), 'a failed channel was never paid on');
      }
    }
    const mine = a.getLedgerChannel(ledgerOf.get(a)!)!;
    const its = irene.getLedgerChannel(mine.channelId)!;
    assert.deepEqual([mine.status, mine.guarantees, mine.myBalance, mine.counterpartyBalance], ['open', 0, DEPOSIT - paidByA, paidByA]);
    assert.deepEqual([its.turnNum, its.myBalance, its.counterpartyBalance, its.guarantees], [mine.turnNum, paidByA, DEPOSIT - paidByA, 0], "the hub's view of the ledger");
    paidTotal += paidByA;
  }
  for (const v of await bob.call<VirtualChannelInfo[]>('getVirtualChannels')) assert.ok(v.status === 'closed' || v.status === 'failed', `${v.channelId} at Bob: ${v.status}`);
  const lb = (await bob.call<LedgerChannelInfo[]>('getLedgerChannels')).find((l) => l.channelId === ib)!;
  const lbHub = irene.getLedgerChannel(ib)!;
  assert.deepEqual([lb.guarantees, lb.myBalance, lb.counterpartyBalance], [0, paidTotal, COLLATERAL - paidTotal], 'Bob earned everything paid');
  assert.deepEqual([lbHub.turnNum, lbHub.myBalance, lbHub.counterpartyBalance], [lb.turnNum, COLLATERAL - paidTotal, paidTotal], "the hub's view of Bob's ledger");

  // ---- and the chain pays exactly those balances out
  const rpc = e.chain.provider;
  const addresses: Address[] = [B.address, ...payers.map((p) => p.address)];
  const payouts = [paidTotal, ...payers.map((p) => p.getLedgerChannel(ledgerOf.get(p)!)!.myBalance)];
  const from = await rpc.getBlockNumber();
  const before = await Promise.all(addresses.map((x) => rpc.getBalance(x)));
  await Promise.all([bob.call('closeLedgerChannel', ib), ...payers.map((p) => p.closeLedgerChannel(ledgerOf.get(p)!))]);
  const fees = new Map<string, bigint>();
  for (let n = from + 1; n <= (await rpc.getBlockNumber()); n++) {
    for (const tx of (await rpc.getBlock(n, true))?.prefetchedTransactions ?? []) {
      const r = await rpc.getTransactionReceipt(tx.hash);
      if (r !== null) fees.set(tx.from.toLowerCase(), (fees.get(tx.from.toLowerCase()) ?? 0n) + r.fee);
    }
  }
  for (const [i, x] of addresses.entries()) {
    assert.equal((await rpc.getBalance(x)) - before[i]! + (fees.get(x.toLowerCase()) ?? 0n), payouts[i], `${x}: paid out on chain`);
  }
  await bob.call('stop');
  console.log(`# payee crash test: ${JSON.stringify({ cycles, paidTotal: paidTotal.toString(), restartsMs: restarts, errors: Object.fromEntries(errors) })}`);
});
