/** Alice, Irene (hub) and Bob as full nodes over the in-memory network and MemoryChainService. */
import assert from 'node:assert/strict';
import { type Address, ZERO_ADDRESS, addressToDestination, privateKeyToAddress, type Bytes32 } from '../../src/index.ts';
import { createMemoryNetwork, MemoryChainService, type MemoryNetwork, type MemoryNetworkInit } from '../../src/memory/index.ts';
import { openMemoryStore } from '../../src/sqlite/index.ts';
import type { Store } from '../../src/ports/store.ts';
import type { ChainService } from '../../src/chain.ts';
import { createNode, type Node, type NodeInit } from '../../src/node/index.ts';
import type { EngineEvent, EngineLogger } from '../../src/engine/index.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { MessageService } from '../../src/ports/messaging.ts';
import { type WireMessage, decodeWireMessage } from '../../src/engine/wire.ts';
import { toChainTransaction } from '../../src/engine/transactions.ts';
import { type ChannelId, protocols as P } from '../../src/index.ts';

export const KEYS = {
  alice: '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228',
  irene: '0xa4ade440a3f357caff796d63d5bf93d94afdf734e978588f6e7a50bda8f64bf2',
  bob: '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6',
  mallory: '0x' + '42'.repeat(32),
} as const;
export type Name = keyof typeof KEYS;
export const ADDR: Record<Name, Address> = {
  alice: privateKeyToAddress(KEYS.alice),
  irene: privateKeyToAddress(KEYS.irene),
  bob: privateKeyToAddress(KEYS.bob),
  mallory: privateKeyToAddress(KEYS.mallory),
};
export const CONSENSUS_APP = '0x00000000000000000000000000000000000000C0' as Address;
export const VIRTUAL_PAYMENT_APP = '0x00000000000000000000000000000000000000D0' as Address;
export const ETH = ZERO_ADDRESS;

/** The chain settings of the world's nodes, with `extra` (e.g. `confirmations`) over them. */
export function testChain(extra: Partial<NodeInit['chain']> = {}): NodeInit['chain'] {
  return { consensusApp: CONSENSUS_APP, virtualPaymentApp: VIRTUAL_PAYMENT_APP, startBlock: 0, ...extra };
}

export interface World {
  readonly net: MemoryNetwork;
  readonly chain: MemoryChainService;
  readonly nodes: Record<'alice' | 'irene' | 'bob', Node>;
  readonly stores: Record<'alice' | 'irene' | 'bob', Store>;
  readonly events: Record<'alice' | 'irene' | 'bob', EngineEvent[]>;
  make(name: Name, store: Store, extra?: Partial<NodeInit>, chain?: ChainService): Node;
  payout(name: Name): bigint;
  stop(): Promise<void>;
}

export async function world(
  netInit: MemoryNetworkInit = { minDelayMs: 0, maxDelayMs: 8, seed: 7 },
  extra: Partial<Record<Name, Partial<NodeInit>>> = {},
  clocks: Partial<Record<Name, Clock>> = {},
  /** Stand-ins around a node's messaging (e.g. to deliver some messages as relayed). */
  wrapMessaging: Partial<Record<Name, (m: MessageService) => MessageService>> = {},
  /** Loggers of the nodes (default: none). */
  loggers: Partial<Record<Name, EngineLogger>> = {},
): Promise<World> {
  const net = createMemoryNetwork(netInit);
  const chain = new MemoryChainService();
  const made: Node[] = [];
  const make = (name: Name, store: Store, more: Partial<NodeInit> = {}, chainOverride?: ChainService): Node => {
    const node = createNode(
      {
        privateKey: KEYS[name],
        chain: testChain(),
        callTimeoutMs: 20_000,
        objectiveTimeoutMs: 5_000,
        txRetryDelayMs: 50,
        ...(name === 'irene' ? { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n } } : { hub: { address: ADDR.irene, multiaddrs: [] } }),
        ...extra[name],
        ...more,
      },
      { store, chain: chainOverride ?? chain, messaging: (wrapMessaging[name] ?? ((m) => m))(net.service(ADDR[name])), ...(clocks[name] === undefined ? {} : { clock: clocks[name] }), ...(loggers[name] === undefined ? {} : { logger: loggers[name] }) },
    );
    made.push(node);
    return node;
  };
  const stores = { alice: openMemoryStore(), irene: openMemoryStore(), bob: openMemoryStore() };
  const nodes = { alice: make('alice', stores.alice), irene: make('irene', stores.irene), bob: make('bob', stores.bob) };
  const events = { alice: [] as EngineEvent[], irene: [] as EngineEvent[], bob: [] as EngineEvent[] };
  for (const n of ['alice', 'irene', 'bob'] as const) {
    nodes[n].onAny((e) => events[n].push(e));
    await nodes[n].start();
  }
  return {
    net,
    chain,
    nodes,
    stores,
    events,
    make,
    payout: (name) => chain.payouts(ETH, addressToDestination(ADDR[name]) as Bytes32),
    async stop() {
      for (const n of made) await n.stop().catch(() => {});
      net.close();
    },
  };
}

/** Open Alice–Irene (Alice deposits) and Bob–Irene (Irene deposits collateral) ledgers. */
export async function openLedgers(w: World, aliceDeposit: bigint, ireneCollateral: bigint): Promise<{ ai: Bytes32; ib: Bytes32 }> {
  const [a, b] = await Promise.all([
    w.nodes.alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: aliceDeposit }),
    w.nodes.bob.createLedgerChannel({ counterparty: ADDR.irene, deposit: 0n, counterpartyDeposit: ireneCollateral }),
  ]);
  return { ai: a.channelId, ib: b.channelId };
}

/** {@link openLedgers}, then wait until the hub too has both ledgers open. */
export async function openLedgersAtIrene(w: World, aliceDeposit: bigint, ireneCollateral: bigint): Promise<{ ai: Bytes32; ib: Bytes32 }> {
  const l = await openLedgers(w, aliceDeposit, ireneCollateral);
  const irene = w.nodes.irene;
  await until(() => irene.getLedgerChannel(l.ai)?.status === 'open' && irene.getLedgerChannel(l.ib)?.status === 'open', 'ledgers open at irene');
  return l;
}

/**
 * {@link openLedgersAtIrene} with 1000 (Alice) and 800 (Irene toward Bob), then V: Alice pays Bob
 * through Irene, 300 locked, funded at Bob; Alice pays `paid` (Bob accepts it).
 */
export async function openPaidV(w: World, paid = 0n): Promise<{ ai: ChannelId; ib: ChannelId; v: ChannelId }> {
  const { alice, bob } = w.nodes;
  const { ai, ib } = await openLedgersAtIrene(w, 1000n, 800n);
  const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene });
  await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'Bob has V funded');
  if (paid > 0n) assert.equal(bob.receiveVoucher(alice.pay(v, paid)).kind, 'accepted');
  return { ai: ai as ChannelId, ib: ib as ChannelId, v };
}

/**
 * From now on, what `from` sends is held on its way out (the sender sees it delivered) when
 * `hold(to, message)` holds (`message` decoded); each held send is in the returned list, to be
 * delivered later by calling it.
 */
export function holdSends(w: World, from: Name, hold: (to: Address, message: WireMessage) => boolean): (() => Promise<unknown>)[] {
  const svc = w.net.service(ADDR[from]);
  const send = svc.send.bind(svc);
  const held: (() => Promise<unknown>)[] = [];
  (svc as { send: typeof svc.send }).send = async (to, payload, o) => {
    if (hold(to, decodeWireMessage(payload))) {
      held.push(() => send(to, payload, o));
      return 'held';
    }
    return send(to, payload, o);
  };
  return held;
}

/**
 * From now on, what `from` sends vanishes on its way out (the sender sees it delivered) when
 * `drop(to, message)` holds; `message` is the decoded wire message, undefined if it does not decode.
 * A node restarted with {@link World.make} keeps the rule (the network hands it the same service).
 */
export function dropSends(w: World, from: Name, drop: (to: Address, message: WireMessage | undefined) => boolean): void {
  const svc = w.net.service(ADDR[from]);
  const send = svc.send.bind(svc);
  const decode = (payload: Uint8Array): WireMessage | undefined => {
    try {
      return decodeWireMessage(payload);
    } catch {
      return undefined;
    }
  };
  (svc as { send: typeof svc.send }).send = async (to, payload, o) => (drop(to, decode(payload)) ? 'dropped' : send(to, payload, o));
}

/** Resolve when `pred` holds, polling (for the other side of an objective to catch up). */
export async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * `name` (a participant of V, opening it with a supported state) registers a challenge on V with
 * its latest supported state, by hand: a channel's challenger from outside the engine's own rules.
 */
export async function challengeOpeningV(w: World, name: Name, node: Node, v: ChannelId): Promise<void> {
  const f = node.engine.activeObjectives().find((o) => o.type === 'virtualFund' && o.v.id === v) as P.VirtualFundObjective | undefined;
  if (f === undefined) throw new Error(`${name} is not opening ${v}`);
  const { timestamp } = await w.chain.latestBlock();
  const c = P.updateVirtualChallenge(P.newVirtualChallenge({ v: f.v, bestVoucher: null, now: timestamp }), { kind: 'chainTime', timestamp, blockNumber: 0 });
  const tx = P.crankVirtualChallenge(c, { privateKey: KEYS[name] }).effects.find((e) => e.type === 'submitTransaction');
  if (tx?.type !== 'submitTransaction') throw new Error('no challenge to submit');
  await w.chain.submit(toChainTransaction(tx.tx));
}

/** Move chain time on (100 000 s per block, one block every 25 ms) until `pred` holds or `rounds` blocks were mined. */
export async function mineUntil(w: World, pred: () => boolean, rounds = 200): Promise<void> {
  for (let i = 0; i < rounds && !pred(); i++) {
    w.chain.mine(100_000);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * V settled on chain with nothing paid: once it finalizes, its guarantee leaves L_AI by proof at
 * both ends, and L_AI stays open with Alice's whole `deposit`, never having gone on chain.
 */
export async function expectGuaranteeRemovedByProof(w: World, ai: ChannelId, deposit: bigint): Promise<void> {
  const { alice, irene } = w.nodes;
  await mineUntil(w, () => alice.getLedgerChannel(ai)?.guarantees === 0);
  await until(() => alice.getLedgerChannel(ai)?.guarantees === 0 && irene.getLedgerChannel(ai)?.guarantees === 0, "V's guarantee removed from L_AI");
  assert.equal(alice.getLedgerChannel(ai)?.status, 'open');
  assert.equal(alice.getLedgerChannel(ai)?.myBalance, deposit, 'her whole deposit is free again');
  assert.ok(!w.events.alice.some((x) => x.type === 'fallbackStarted' && x.channelId === ai), 'L_AI never went on chain');
}

/**
 * Alice opens V to Bob through Irene, and the open stops once V's guarantees are agreed: Bob's
 * postfund never leaves him. Resolves when Alice waits for the postfund with V's guarantee in
 * L_AI (at Irene's end too); `opening` is Alice's call (it settles with her open's outcome).
 */
export async function halfOpenV(w: World, ai: ChannelId): Promise<{ v: ChannelId; objectiveId: string; opening: Promise<unknown> }> {
  const { alice, irene } = w.nodes;
  dropSends(w, 'bob', (_to, m) => m?.kind === 'signedState' && m.state.turnNum === 1);
  const opening = alice.createVirtualChannel({ payee: ADDR.bob, amount: 300n, hub: ADDR.irene }, { timeoutMs: 60_000 }).catch((e: unknown) => e);
  const openAtAlice = (): P.Objective | undefined => alice.engine.activeObjectives().find((o) => o.type === 'virtualFund');
  await until(() => openAtAlice() !== undefined && alice.engine.objective(openAtAlice()!.id)?.waitingFor === 'WaitingForCompletePostFund', 'Alice waits for the postfund');
  const o = openAtAlice() as P.VirtualFundObjective;
  await until(() => alice.getLedgerChannel(ai)?.guarantees === 1 && irene.getLedgerChannel(ai)?.guarantees === 1, "V's guarantee is in L_AI at both ends");
  return { v: o.v.id, objectiveId: o.id, opening };
}
