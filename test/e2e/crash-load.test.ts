/**
 * A payee's or a payer's process killed (SIGKILL) again and again under load loses nothing.
 *
 * Irene (the hub) is an in-process node; the payee Bob and four payers too, except the victim:
 * Bob in the first test, payer 0 in the second, which runs in its own process on a sqlite file
 * (test/e2e/node-process.ts). Everything talks over real libp2p, on anvil. Every payer loops:
 * open a virtual channel to Bob, pay him a few vouchers (Bob decides on each), close it (the payer
 * or Bob asks, in turn). The victim is SIGKILLed at random moments — one outage outlasting the
 * objective timeout — and a new process is started on the same file and port. Calls caught by a
 * crash fail or finish late; the loops go on. Afterwards, with every channel still open closed:
 *
 * - no objective is in progress at any node;
 * - every virtual channel is closed or failed at all three nodes, with the same final amount at
 *   both ends, never below the best voucher Bob said he accepted (an accepted voucher survives);
 * - each ledger's balances at both of its ends: the payer's deposit less its channels' final
 *   amounts; Bob's ledger holds their sum;
 * - closing every ledger pays exactly those balances out on chain.
 *
 * CRASH_KILLS (default 4) makes it harsher by hand: `CRASH_KILLS=12 node --test test/e2e/crash-load.test.ts`.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { privateKeyToAddress, type Address, type ChannelId, type Voucher } from '@sluice/channel-core';
import type { LedgerChannelInfo, Node, NodeInit, VirtualChannelInfo } from '@sluice/channel-core/node';
import { freePort } from '@sluice/contracts/anvil';
import type { Actor } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';

const PAYERS = 4;
const KILLS = Number(process.env['CRASH_KILLS'] ?? 4);
const DEPOSIT = 10n ** 18n;
const COLLATERAL = 10n ** 18n;
const AMOUNT = 10n ** 16n;
const PRICE = 10n ** 13n;
const TIMEOUTS = { callTimeoutMs: 8_000, objectiveTimeoutMs: 2_000 } as const;

const children: RemoteNode[] = [];
after(async () => {
  for (const c of children) await c.kill();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What the scenario needs of a party, in process or in its own (killable) process. */
interface Party {
  readonly address: Address;
  createLedgerChannel(args: { counterparty: Address; deposit: bigint; counterpartyDeposit?: bigint }): Promise<{ channelId: ChannelId }>;
  createVirtualChannel(args: { payee: Address; amount: bigint }): Promise<{ channelId: ChannelId }>;
  pay(id: ChannelId, increase: bigint): Promise<Voucher>;
  receiveVoucher(v: Voucher, options: { price: bigint }): Promise<{ kind: string }>;
  closeVirtualChannel(id: ChannelId): Promise<unknown>;
  closeLedgerChannel(id: ChannelId): Promise<unknown>;
  getVirtualChannel(id: ChannelId): Promise<VirtualChannelInfo | undefined>;
  getVirtualChannels(): Promise<VirtualChannelInfo[]>;
  getLedgerChannel(id: ChannelId): Promise<LedgerChannelInfo | undefined>;
  /** `<objective id> <waiting for>` of each objective in progress. */
  activeObjectives(): Promise<string[]>;
}

function local(n: Node): Party {
  return {
    address: n.address,
    createLedgerChannel: (a) => n.createLedgerChannel(a),
    createVirtualChannel: (a) => n.createVirtualChannel(a),
    pay: async (id, inc) => n.pay(id, inc),
    receiveVoucher: async (v, o) => n.receiveVoucher(v, o),
    closeVirtualChannel: (id) => n.closeVirtualChannel(id),
    closeLedgerChannel: (id) => n.closeLedgerChannel(id),
    getVirtualChannel: async (id) => n.getVirtualChannel(id),
    getVirtualChannels: async () => n.getVirtualChannels(),
    getLedgerChannel: async (id) => n.getLedgerChannel(id),
    activeObjectives: async () => n.engine.activeObjectives().map((o) => `${o.id} ${n.engine.objective(o.id)?.waitingFor ?? '?'}`),
  };
}

/** A party in a child process that `kill()` SIGKILLs and `restart()` brings back on the same file and port. */
function remote(init: NodeInit, address: Address): Party & { kill(): Promise<void>; restart(): Promise<void> } {
  let c!: RemoteNode;
  const call = <T>(method: string, ...params: unknown[]): Promise<T> => c.call<T>(method, ...params);
  return {
    address,
    async restart() {
      c = spawnNode(init);
      children.push(c);
      await c.ready;
    },
    kill: () => c.kill(),
    createLedgerChannel: (a) => call('createLedgerChannel', a),
    createVirtualChannel: (a) => call('createVirtualChannel', a),
    pay: (id, inc) => call('pay', id, inc),
    receiveVoucher: (v, o) => call('receiveVoucher', v, o),
    closeVirtualChannel: (id) => call('closeVirtualChannel', id),
    closeLedgerChannel: (id) => call('closeLedgerChannel', id),
    getVirtualChannel: (id) => call('getVirtualChannel', id),
    getVirtualChannels: () => call('getVirtualChannels'),
    getLedgerChannel: async (id) => (await call<LedgerChannelInfo[]>('getLedgerChannels')).find((l) => l.channelId.toLowerCase() === id.toLowerCase()),
    activeObjectives: () => call('activeObjectives'),
  };
}

/** One scenario on a fresh chain and fresh stores. */
async function crashUnderLoad(victimRole: 'payee' | 'payer'): Promise<void> {
  const e = await startE2E();
  try {
    await scenario(e, victimRole);
  } finally {
    for (const c of children.splice(0)) await c.kill();
    await e.stop();
  }
}

async function scenario(e: E2E, victimRole: 'payee' | 'payer'): Promise<void> {
  const t0 = Date.now();
  const progress = (s: string): void => void process.stderr.write(`[crash-load ${victimRole} ${((Date.now() - t0) / 1000).toFixed(1)}s] ${s}\n`);
  const { irene: I, bob: B } = e.chain;
  const irene = await e.start(I, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } });
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const spawnable = async (actor: Actor): Promise<ReturnType<typeof remote>> => {
    const r = remote(e.init(actor, { hub, listen: [`/ip4/127.0.0.1/tcp/${await freePort()}`], ...TIMEOUTS }), actor.address as Address);
    await r.restart();
    return r;
  };
  // payers on anvil's spare dev accounts, paying in ETH (the fixture's actors are 0–3)
  const payerActor = (i: number): Actor => {
    const key = e.chain.anvil.accounts[4 + i]!;
    return { name: `payer${i}`, key, address: privateKeyToAddress(key) } as unknown as Actor;
  };
  let victim: ReturnType<typeof remote>;
  let bob: Party;
  const payers: Party[] = [];
  if (victimRole === 'payee') {
    victim = await spawnable(B);
    bob = victim;
    for (let i = 0; i < PAYERS; i++) payers.push(local(await e.start(payerActor(i), { hub, ...TIMEOUTS })));
  } else {
    bob = local(await e.start(B, { hub, ...TIMEOUTS }));
    victim = await spawnable(payerActor(0));
    payers.push(victim);
    for (let i = 1; i < PAYERS; i++) payers.push(local(await e.start(payerActor(i), { hub, ...TIMEOUTS })));
  }
  const all = [bob, ...payers];
  const ledgerOf = new Map<Party, ChannelId>();
  const bobLedger = await bob.createLedgerChannel({ counterparty: I.address, deposit: 0n, counterpartyDeposit: COLLATERAL });
  ledgerOf.set(bob, bobLedger.channelId);
  await Promise.all(payers.map(async (p) => ledgerOf.set(p, (await p.createLedgerChannel({ counterparty: I.address, deposit: DEPOSIT })).channelId)));
  await until(() => all.every((p) => irene.getLedgerChannel(ledgerOf.get(p)!)?.status === 'open'), 'every ledger open at the hub');

  // ---- load, with the victim killed under it
  let stop = false;
  let cycles = 0;
  const errors = new Map<string, number>();
  const accepted = new Map<ChannelId, bigint>(); // the best voucher Bob said he accepted
  const fail = (x: unknown): void => {
    const code = (x as { code?: string }).code ?? String(x).slice(0, 60);
    errors.set(code, (errors.get(code) ?? 0) + 1);
  };
  const loads = payers.map(async (a, i) => {
    for (let k = 0; !stop; k++) {
      try {
        const { channelId } = await a.createVirtualChannel({ payee: B.address, amount: AMOUNT });
        await until(async () => (await bob.getVirtualChannel(channelId))?.status === 'funded', 'Bob sees it funded', 8_000);
        for (let j = 0; j < 1 + ((i + k) % 5); j++) {
          const v = await a.pay(channelId, PRICE);
          const r = await bob.receiveVoucher(v, { price: PRICE });
          assert.equal(r.kind, 'accepted');
          accepted.set(channelId, v.amount);
        }
        await ((i + k) % 2 === 0 ? a : bob).closeVirtualChannel(channelId);
        cycles++;
      } catch (x) {
        fail(x);
        await sleep(100);
      }
    }
  });
  try {
    for (let kill = 0; kill < KILLS; kill++) {
      await sleep(700 + Math.floor(Math.random() * 1500));
      const before = cycles;
      await victim.kill();
      progress(`${victimRole} killed (${kill + 1}/${KILLS}), ${cycles} cycles so far`);
      await sleep(kill === 1 ? 2_500 + Math.floor(Math.random() * 1_000) : Math.floor(Math.random() * 600));
      await victim.restart();
      await until(() => cycles > before, 'the load going on after the restart', 30_000);
    }
    await sleep(1_000);
  } finally {
    stop = true;
    await Promise.all(loads);
  }
  assert.ok(cycles >= PAYERS, `cycles completed: ${cycles}`);
  assert.equal(errors.get('ERR_ASSERTION'), undefined, 'a voucher refused during the load');
  progress(`load stopped after ${cycles} cycles (${JSON.stringify(Object.fromEntries(errors))}); draining`);

  // ---- drain: close whatever a late call left open, then wait for every objective to end
  const inProgress = async (): Promise<string[]> => [
    ...irene.engine.activeObjectives().map((o) => `hub ${o.id} ${irene.engine.objective(o.id)?.waitingFor ?? '?'}`),
    ...(await Promise.all(all.map(async (p) => (await p.activeObjectives()).map((x) => `${p.address.slice(0, 8)} ${x}`)))).flat(),
  ];
  const ended = (v: VirtualChannelInfo): boolean => v.status === 'closed' || v.status === 'failed';
  for (let round = 0; round < 5; round++) {
    for (const a of payers) for (const v of await a.getVirtualChannels()) if (v.status === 'funded') await a.closeVirtualChannel(v.channelId).catch(fail);
    await until(async () => (await inProgress()).length === 0, 'no objective in progress anywhere', 20_000).catch(async () => progress(`round ${round}: still in progress: ${(await inProgress()).join('; ')}`));
    if ((await inProgress()).length === 0 && (await Promise.all(payers.map((a) => a.getVirtualChannels()))).flat().every(ended)) break;
  }
  assert.deepEqual(await inProgress(), [], 'objectives still in progress');

  // ---- every channel ended at all three nodes, with the same amount; no accepted voucher lost
  let paidTotal = 0n;
  const payouts = new Map<Party, bigint>();
  for (const a of payers) {
    let paidByA = 0n;
    for (const v of await a.getVirtualChannels()) {
      const atBob = await bob.getVirtualChannel(v.channelId);
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
    const mine = (await a.getLedgerChannel(ledgerOf.get(a)!))!;
    const its = irene.getLedgerChannel(mine.channelId)!;
    assert.deepEqual([mine.status, mine.guarantees, mine.myBalance, mine.counterpartyBalance], ['open', 0, DEPOSIT - paidByA, paidByA]);
    assert.deepEqual([its.turnNum, its.myBalance, its.counterpartyBalance, its.guarantees], [mine.turnNum, paidByA, DEPOSIT - paidByA, 0], "the hub's view of the ledger");
    payouts.set(a, DEPOSIT - paidByA);
    paidTotal += paidByA;
  }
  for (const v of await bob.getVirtualChannels()) assert.ok(ended(v), `${v.channelId} at Bob: ${v.status}`);
  const lb = (await bob.getLedgerChannel(ledgerOf.get(bob)!))!;
  const lbHub = irene.getLedgerChannel(lb.channelId)!;
  assert.deepEqual([lb.guarantees, lb.myBalance, lb.counterpartyBalance], [0, paidTotal, COLLATERAL - paidTotal], 'Bob earned everything paid');
  assert.deepEqual([lbHub.turnNum, lbHub.myBalance, lbHub.counterpartyBalance], [lb.turnNum, COLLATERAL - paidTotal, paidTotal], "the hub's view of Bob's ledger");
  payouts.set(bob, paidTotal);

  // ---- and the chain pays exactly those balances out
  const rpc = e.chain.provider;
  const from = await rpc.getBlockNumber();
  const before = await Promise.all(all.map((p) => rpc.getBalance(p.address)));
  await Promise.all(all.map((p) => p.closeLedgerChannel(ledgerOf.get(p)!)));
  const fees = new Map<string, bigint>();
  for (let n = from + 1; n <= (await rpc.getBlockNumber()); n++) {
    for (const tx of (await rpc.getBlock(n, true))?.prefetchedTransactions ?? []) {
      const r = await rpc.getTransactionReceipt(tx.hash);
      if (r !== null) fees.set(tx.from.toLowerCase(), (fees.get(tx.from.toLowerCase()) ?? 0n) + r.fee);
    }
  }
  for (const [i, p] of all.entries()) {
    assert.equal((await rpc.getBalance(p.address)) - before[i]! + (fees.get(p.address.toLowerCase()) ?? 0n), payouts.get(p), `${p.address}: paid out on chain`);
  }
  console.log(`# crash-load (${victimRole} killed): ${JSON.stringify({ cycles, paidTotal: paidTotal.toString(), errors: Object.fromEntries(errors) })}`);
}

test('the payee SIGKILLed and restarted again and again under load: every channel ends, accepted vouchers survive, balances add up, on chain too', { timeout: 240_000 }, () =>
  crashUnderLoad('payee'),
);

test('a payer SIGKILLed and restarted again and again under load: the same', { timeout: 240_000 }, () => crashUnderLoad('payer'));
