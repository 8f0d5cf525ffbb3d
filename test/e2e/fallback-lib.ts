/**
 * Helpers of the on-chain fallback suites: short challenge durations, time travel, exact
 * balances net of the gas an account paid (ETH), on-chain channel status; and the scaffold the
 * suites share: their before/after hooks, nodes over in-memory networks whose transport can drop
 * messages, the two ledgers with the hub, a funded virtual channel V and vouchers on it (also with
 * the provider in a process of its own: `remoteBobWithPaidV`).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Address, ChannelId } from '@sluice/channel-core';
import { decodeWireMessage } from '@sluice/channel-core/engine';
import { createMemoryNetwork, type MemoryNetwork } from '@sluice/channel-core/memory';
import { createNode, type EnginePolicy, type HubPeer, type Node, type NodeInit, type VirtualChannelInfo } from '@sluice/channel-core/node';
import type { MessageService } from '../../packages/channel-core/src/ports/messaging.ts';
import type { Actor } from '../chain/lib.ts';
import { increaseTime } from '../chain/lib.ts';
import { startE2E, until, type E2E } from './lib.ts';
import { spawnNode, type RemoteNode } from './remote-node.ts';

/** Short durations for tests (real-network defaults: FALLBACK_DEFAULTS, ADR 0008). */
export const LEDGER_CHALLENGE = 600;
export const VIRTUAL_CHALLENGE = 300;

/** Node init for an actor in one scenario (its own store file), fast fallback timeouts. */
export function fallbackInit(e: E2E, actor: Actor, scenario: string, extra: Partial<NodeInit> = {}): NodeInit {
  return e.init(actor, {
    store: join(e.dir, `${scenario}-${actor.name}.db`),
    ledgerChallengeDuration: LEDGER_CHALLENGE,
    virtualChallengeDuration: VIRTUAL_CHALLENGE,
    objectiveTimeoutMs: 1_000,
    fallback: { peerTimeoutMs: 2_000, cooperativeTimeoutMs: 3_000 },
    ...extra,
  });
}

/** Move chain time past every challenge duration (and mine a block). */
export async function passChallenges(e: E2E, seconds = LEDGER_CHALLENGE + 60): Promise<void> {
  await increaseTime(e.chain.provider, seconds);
}

/** Balance of `asset` (zero address = ETH). */
export function balanceOf(e: E2E, asset: Address, who: Address): Promise<bigint> {
  return e.chain.alice.chain.balanceOf(asset, who);
}

/** Gas fees (wei) paid by `who` in blocks [from, to]. */
export async function feesPaid(e: E2E, who: Address, from: number, to?: number): Promise<bigint> {
  const p = e.chain.provider;
  const last = to ?? (await p.getBlockNumber());
  let total = 0n;
  for (let n = from; n <= last; n++) {
    const b = await p.getBlock(n, true);
    for (const tx of b?.prefetchedTransactions ?? []) {
      if (tx.from.toLowerCase() !== who.toLowerCase()) continue;
      const r = await p.getTransactionReceipt(tx.hash);
      if (r !== null) total += r.fee;
    }
  }
  return total;
}

/** Net balance change of `who` in `asset` since `before` (at block `fromBlock`), gas added back for ETH. */
export async function netChange(e: E2E, asset: Address, who: Address, before: bigint, fromBlock: number): Promise<bigint> {
  const now = await balanceOf(e, asset, who);
  const fees = asset === ('0x' + '00'.repeat(20)) ? await feesPaid(e, who, fromBlock + 1) : 0n;
  return now - before + fees;
}

export async function statusOf(e: E2E, channelId: ChannelId): Promise<{ turnNumRecord: number; finalizesAt: number }> {
  return e.chain.alice.chain.statusOf(channelId);
}

/** The exit of a child node, or a rejection after `ms` (a missed kill point must fail, not hang). */
export function exitOf(node: { exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }> }, ms = 60_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([
    node.exited.finally(() => clearTimeout(t)),
    new Promise<never>((_, reject) => {
      t = setTimeout(() => reject(new Error('node process did not exit in time')), ms);
    }),
  ]);
}

/** The hub's policy in these suites: act as a hub, accept ledger deposits up to 1000 tokens. */
export const HUB_POLICY: EnginePolicy = { hub: {}, maxLedgerDeposit: 10n ** 21n };

/** A patient automatic fallback: the node waits 10 min on a silent peer before going on chain by itself. */
export const PATIENT_FALLBACK: NonNullable<NodeInit['fallback']> = { peerTimeoutMs: 600_000, cooperativeTimeoutMs: 30_000 };

/** Price of one voucher in these suites. */
export const PRICE = 10n ** 15n;

/**
 * Registers the file's before/after hooks around one E2E fixture (anvil + contracts) shared by its
 * tests, for nodes started with `e.start` (which `e.stop()` stops) and node processes put in
 * `children` (killed first).
 * @returns the fixture, through a getter valid inside the tests
 */
export function e2eSuite(children: readonly RemoteNode[] = []): { readonly e: E2E } {
  return suiteHooks(async (e) => {
    for (const c of children) await c.kill();
    await e.stop();
  });
}

/** Starts the fixture before the file's tests and hands it to `teardown` after them. */
function suiteHooks(teardown: (e: E2E) => Promise<void>): { readonly e: E2E } {
  let fixture: E2E | undefined;
  before(async () => {
    fixture = await startE2E();
  });
  after(async () => {
    if (fixture !== undefined) await teardown(fixture);
  });
  return {
    get e(): E2E {
      if (fixture === undefined) throw new Error('the E2E fixture is not started (use it inside a test)');
      return fixture;
    },
  };
}

/**
 * Decides whether a node's outgoing message is silently dropped, evaluated when it is sent.
 * `kind` is the wire message kind (`decodeWireMessage(payload).kind`), undefined if it does not decode.
 */
export type DropRule = (to: Address, kind: WireKind | undefined) => boolean;
type WireKind = ReturnType<typeof decodeWireMessage>['kind'];

/** A scenario of a {@link memorySuite}: its own seeded memory network and store files. */
export interface MemoryScenario {
  /** The hub (Irene) as Alice and Bob give it (the memory network routes by address). */
  readonly hub: HubPeer;
  /**
   * Create and start `actor`'s node on the scenario's network ({@link fallbackInit} plus `extra`).
   * @param drop - what the node's transport drops on its way out (default: nothing)
   */
  start(actor: Actor, extra?: Partial<NodeInit>, drop?: DropRule): Promise<Node>;
}

/**
 * Registers the file's before/after hooks for suites whose nodes talk over in-memory networks (so a
 * test can make a node's transport drop messages), on one E2E fixture (anvil + contracts). After the
 * tests, every node and then the fixture is stopped with a bounded wait each (a node whose peer
 * vanished may not stop promptly) and every network is closed.
 */
export function memorySuite(): { readonly e: E2E; scenario(name: string, seed: number): MemoryScenario } {
  const nodes: Node[] = [];
  const nets: MemoryNetwork[] = [];
  const bounded = (p: Promise<unknown>): Promise<unknown> => Promise.race([p.catch(() => {}), new Promise((r) => setTimeout(r, 5_000).unref())]);
  const hooks = suiteHooks(async (e) => {
    for (const n of nodes) await bounded(n.stop());
    for (const n of nets) n.close();
    await bounded(e.stop());
  });
  return {
    get e(): E2E {
      return hooks.e;
    },
    scenario(name: string, seed: number): MemoryScenario {
      const e = hooks.e;
      const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 5, seed });
      nets.push(net);
      let dropped = 0;
      const kindOf = (payload: Uint8Array): WireKind | undefined => {
        try {
          return decodeWireMessage(payload).kind;
        } catch {
          return undefined;
        }
      };
      const wrap = (inner: MessageService, drop?: DropRule): MessageService => ({
        self: inner.self,
        send: (to, payload, opts) => (drop?.(to, kindOf(payload)) === true ? Promise.resolve(`dropped-${dropped++}`) : inner.send(to, payload, opts)),
        onMessage: (h) => inner.onMessage(h),
        onUndeliverable: (h) => inner.onUndeliverable(h),
        start: () => inner.start(),
        stop: () => inner.stop(),
      });
      return {
        hub: { address: e.chain.irene.address, multiaddrs: [] },
        async start(actor, extra = {}, drop) {
          const n = createNode(fallbackInit(e, actor, name, { ...extra, listen: [] }), { messaging: wrap(net.service(actor.address), drop) });
          await n.start();
          nodes.push(n);
          return n;
        },
      };
    },
  };
}

/**
 * Irene (hub, {@link HUB_POLICY}), Alice and Bob started in that order over libp2p in `scenario`,
 * all with the same automatic `fallback`. `bobInit` starts Bob again.
 */
export async function startOverLibp2p(e: E2E, scenario: string, fallback: NonNullable<NodeInit['fallback']>): Promise<{ irene: Node; alice: Node; bob: Node; hub: HubPeer; bobInit: NodeInit }> {
  const { alice: A, irene: I, bob: B } = e.chain;
  const irene = await e.start(I, fallbackInit(e, I, scenario, { fallback, policy: HUB_POLICY }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub, fallback }));
  const bobInit = fallbackInit(e, B, scenario, { hub, fallback });
  const bob = await e.start(B, bobInit);
  return { irene, alice, bob, hub, bobInit };
}

/**
 * Alice opens L_AI (deposit 1 token) and Bob L_IB (the hub's collateral 0.4 token) in the test
 * token, both with the hub; resolves once the hub sees both open.
 */
export async function openLedgers(e: E2E, { alice, bob, irene }: { alice: Node; bob: Node; irene: Node }): Promise<{ ai: ChannelId; ib: ChannelId; deposit: bigint; collateral: bigint }> {
  const asset = e.token;
  const hub = e.chain.irene.address;
  const deposit = 10n ** 18n;
  const collateral = 4n * 10n ** 17n;
  const [{ channelId: ai }, { channelId: ib }] = await Promise.all([
    alice.createLedgerChannel({ counterparty: hub, asset, deposit }),
    bob.createLedgerChannel({ counterparty: hub, asset, deposit: 0n, counterpartyDeposit: collateral }),
  ]);
  await until(() => irene.getLedgerChannel(ai)?.status === 'open' && irene.getLedgerChannel(ib)?.status === 'open', 'hub sees both ledgers open');
  return { ai, ib, deposit, collateral };
}

/**
 * Alice opens a virtual channel V of `amount` (default 0.2 token) to Bob through the hub.
 * @param also - other nodes that must see V funded too before this resolves (Bob always must)
 * @returns V's id
 */
export async function fundV(e: E2E, alice: Node, bob: Node, { amount = 2n * 10n ** 17n, also = [] }: { amount?: bigint; also?: readonly Node[] } = {}): Promise<ChannelId> {
  const { channelId: v } = await alice.createVirtualChannel({ payee: e.chain.bob.address, asset: e.token, amount });
  await until(() => [bob, ...also].every((n) => n.getVirtualChannel(v)?.status === 'funded'), 'V funded');
  return v;
}

/**
 * Alice pays Bob `n` vouchers of {@link PRICE} on V; each must be accepted.
 * @returns what Bob was paid, `n` x PRICE
 */
export function payVouchers(alice: Node, bob: Node, v: ChannelId, n: bigint): bigint {
  for (let i = 0n; i < n; i++) assert.equal(bob.receiveVoucher(alice.pay(v, PRICE), { price: PRICE }).kind, 'accepted');
  return n * PRICE;
}

/** Mine a block every 250 ms (chain time reaches the objectives) until `cond` holds; throws after 30 s. */
export async function mineUntil(e: E2E, cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 250));
    await e.chain.provider.send('evm_mine', []);
  }
}

/**
 * Every second, move chain time `seconds` on, until `done` holds or `timeoutMs` passed. Does not
 * throw on timeout: the test's assertions afterwards say what did not happen.
 */
export async function passChallengesUntil(e: E2E, done: () => boolean, seconds: number, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !done()) {
    await new Promise((r) => setTimeout(r, 1_000));
    await passChallenges(e, seconds);
  }
}

/** {@link remoteBobWithPaidV}'s world. */
export interface RemoteBobWorld {
  readonly irene: Node;
  readonly alice: Node;
  /** Bob's current process (the first one, started and ready). */
  readonly bob: RemoteNode;
  /** Start Bob again on his store (`killOn`: SLUICE_KILL_ON of node-process.ts); collected for the suite's cleanup. */
  spawnBob(killOn?: string): RemoteNode;
  readonly ai: ChannelId;
  readonly ib: ChannelId;
  readonly v: ChannelId;
  /** Alice's deposit in L_AI, the hub's collateral in L_IB, what Bob accepted on V (in `e.token`). */
  readonly deposit: bigint;
  readonly collateral: bigint;
  readonly paid: bigint;
}

/**
 * Irene (the hub) and Alice in this process, Bob (the provider) in a process of his own on a
 * sqlite file (so it can be SIGKILLed and restarted): L_AI with Alice's deposit, L_IB with the
 * hub's collateral, V funded Alice → Bob, and `vouchers` vouchers of 10^15 accepted by Bob. All in
 * the e2e token. Bob's processes go into `children` for the suite to kill at the end.
 */
export async function remoteBobWithPaidV(e: E2E, scenario: string, vouchers: number, children: RemoteNode[]): Promise<RemoteBobWorld> {
  const asset = e.token;
  const { alice: A, irene: I, bob: B } = e.chain;
  const irene = await e.start(I, fallbackInit(e, I, scenario, { policy: HUB_POLICY }));
  const hub = { address: I.address, multiaddrs: irene.multiaddrs() };
  const alice = await e.start(A, fallbackInit(e, A, scenario, { hub }));
  const bobInit = fallbackInit(e, B, scenario, { hub });
  const spawnBob = (killOn?: string): RemoteNode => {
    const c = spawnNode(bobInit, killOn === undefined ? {} : { SLUICE_KILL_ON: killOn });
    children.push(c);
    return c;
  };
  const bob = spawnBob();
  await bob.ready;
  const collateral = 4n * 10n ** 17n;
  const deposit = 10n ** 18n;
  const [{ channelId: ib }, { channelId: ai }] = await Promise.all([
    bob.call<{ channelId: ChannelId }>('createLedgerChannel', { counterparty: I.address, asset, deposit: 0n, counterpartyDeposit: collateral }),
    alice.createLedgerChannel({ counterparty: I.address, asset, deposit }),
  ]);
  await until(() => irene.getLedgerChannel(ib)?.status === 'open' && irene.getLedgerChannel(ai)?.status === 'open', 'hub sees both ledgers open');
  const { channelId: v } = await alice.createVirtualChannel({ payee: B.address, asset, amount: 2n * 10n ** 17n });
  await until(async () => (await bob.call<VirtualChannelInfo[]>('getVirtualChannels')).some((x) => x.channelId === v && x.status === 'funded'), 'bob has V funded');
  for (let i = 0; i < vouchers; i++) assert.equal((await bob.call<{ kind: string }>('receiveVoucher', alice.pay(v, PRICE), { price: PRICE })).kind, 'accepted');
  return { irene, alice, bob, spawnBob, ai, ib, v, deposit, collateral, paid: BigInt(vouchers) * PRICE };
}
