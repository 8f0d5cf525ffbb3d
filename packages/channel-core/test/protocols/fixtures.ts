/** Shared actors, channels and an in-memory multi-party simulation for the protocol tests (no I/O). */
import assert from 'node:assert/strict';
import { seededRandom } from '../../src/memory/prng.ts';
import {
  type Address,
  type Bytes32,
  type ChannelId,
  type Hex,
  type Outcome,
  type Signature,
  type State,
  SluiceError,
  ZERO_ADDRESS,
  addressToDestination,
  isSluiceError,
  privateKeyToAddress,
  recoverStateSigner,
  sameAddress,
  signState,
  protocols as P,
} from '../../src/index.ts';

export interface Actor {
  readonly name: string;
  readonly privateKey: string;
  readonly address: Address;
}

function actor(name: string, privateKey: string): Actor {
  return { name, privateKey, address: privateKeyToAddress(privateKey) };
}

// The reference vectors' actors (shared/vectors/nitro-gen2.json), inlined to keep these tests I/O-free.
export const alice = actor('alice', '0xed90100c3784a2d86ff62423f40065a02319dc58bedda16b3158d85e39592228');
export const irene = actor('irene', '0xa4ade440a3f357caff796d63d5bf93d94afdf734e978588f6e7a50bda8f64bf2');
export const bob = actor('bob', '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6');
export const mallory = actor('mallory', '0x' + '42'.repeat(32));

export const CONSENSUS_APP = '0x00000000000000000000000000000000000000C0' as Address;
export const VIRTUAL_PAYMENT_APP = '0x00000000000000000000000000000000000000D0' as Address;
export const ETH = ZERO_ADDRESS;
export const TOKEN = privateKeyToAddress('0x' + '07'.repeat(32));

export const secrets = (a: Actor): P.Secrets => ({ privateKey: a.privateKey });
export const d = (a: Actor): Bytes32 => addressToDestination(a.address) as Bytes32;

export function simpleOutcome(asset: Address, entries: readonly (readonly [Actor, bigint])[]): Outcome {
  return [
    {
      asset,
      assetMetadata: { assetType: 0, metadata: '0x' as Hex },
      allocations: entries.map(([a, amount]) => ({ destination: d(a), amount, allocationType: 0 as const, metadata: '0x' as Hex })),
    },
  ];
}

export function ledgerPrefund(x: Actor, y: Actor, ax: bigint, ay: bigint, nonce = 1n, asset: Address = ETH): State {
  return {
    participants: [x.address, y.address],
    channelNonce: nonce,
    appDefinition: CONSENSUS_APP,
    challengeDuration: 86400,
    appData: '0x' as Hex,
    outcome: simpleOutcome(asset, [
      [x, ax],
      [y, ay],
    ]),
    turnNum: 0,
    isFinal: false,
  };
}

export function virtualPrefund(payer: Actor, hub: Actor, payee: Actor, a: bigint, b = 0n, nonce = 7n, asset: Address = ETH): State {
  return {
    participants: [payer.address, hub.address, payee.address],
    channelNonce: nonce,
    appDefinition: VIRTUAL_PAYMENT_APP,
    challengeDuration: 3600,
    appData: '0x' as Hex,
    outcome: simpleOutcome(asset, [
      [payer, a],
      [payee, b],
    ]),
    turnNum: 0,
    isFinal: false,
  };
}

/** A funded ledger as both parties hold it (postfund signed by both), without running direct fund. */
export function fundedLedger(x: Actor, y: Actor, ax: bigint, ay: bigint, nonce = 1n, asset: Address = ETH): [P.ConsensusChannel, P.ConsensusChannel] {
  const post = { ...ledgerPrefund(x, y, ax, ay, nonce, asset), turnNum: 1 };
  const sigs = [signState(post, x.privateKey), signState(post, y.privateKey)];
  const cx = P.addSignedState(P.newChannel(post, x.address), post, sigs);
  const cy = P.addSignedState(P.newChannel(post, y.address), post, sigs);
  return [P.newConsensusChannel(cx), P.newConsensusChannel(cy)];
}

/** Assert `fn` throws a SluiceError with `code`. */
export function rejects(fn: () => unknown, code: string): SluiceError {
  try {
    fn();
  } catch (e) {
    assert.ok(isSluiceError(e), `expected a SluiceError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    return e;
  }
  assert.fail(`expected ${code}, nothing thrown`);
}

export function messagesTo(effects: readonly P.Effect[], to: Actor): P.ProtocolMessage[] {
  return effects.flatMap((e) => (e.type === 'sendMessage' && sameAddress(e.to, to.address) ? [e.payload] : []));
}

export function transactions(effects: readonly P.Effect[]): P.Transaction[] {
  return effects.flatMap((e) => (e.type === 'submitTransaction' ? [e.tx] : []));
}

export function holdingsEvent(channelId: ChannelId, holdings: bigint, blockNumber: number, asset: Address = ETH): P.HoldingsEvent {
  return { kind: 'deposited', channelId, asset, holdings, blockNumber, logIndex: 0 };
}

// ------------------------------------------------------------------ in-memory simulation

/** Deterministic PRNG (mulberry32). */
export const rng = seededRandom;

interface Party {
  readonly actor: Actor;
  readonly objectives: Map<string, P.Objective>;
  readonly ledgers: Map<string, P.ConsensusChannel>;
  readonly waitingFor: Map<string, string>;
}

type Delivery = { readonly to: Address; readonly event: P.ObjectiveEvent; readonly objectiveId?: string; tries: number };

/** A toy adjudicator: holdings per (channel, asset), payouts per destination, events to participants. */
export class ToyChain {
  readonly holdings = new Map<string, bigint>();
  readonly payouts = new Map<string, bigint>();
  readonly participants = new Map<string, readonly Address[]>();
  block = 1;
  held(channelId: ChannelId, asset: Address): bigint {
    return this.holdings.get(`${channelId}:${asset}`) ?? 0n;
  }
  /** Returns the chain events to broadcast to the channel's participants. */
  submit(tx: P.Transaction): P.ChainEvent[] {
    const block = ++this.block;
    if (tx.kind === 'deposit') {
      const key = `${tx.channelId}:${tx.asset}`;
      assert.equal(this.held(tx.channelId, tx.asset), tx.expectedHeld, 'deposit: held != expectedHeld');
      const holdings = this.held(tx.channelId, tx.asset) + tx.amount;
      this.holdings.set(key, holdings);
      return [{ kind: 'deposited', channelId: tx.channelId, asset: tx.asset, holdings, blockNumber: block, logIndex: 0 }];
    }
    if (tx.kind !== 'concludeAndTransferAllAssets') throw new Error(`toy chain does not model ${tx.kind} (see fallback-chain.ts)`);
    const s = tx.state;
    assert.ok(s.isFinal, 'conclude needs a final state');
    const signers = tx.signatures.map((sig: Signature) => recoverStateSigner(s, sig));
    for (const p of s.participants) assert.ok(signers.some((x) => sameAddress(x, p)), 'conclude needs every participant');
    const events: P.ChainEvent[] = [{ kind: 'concluded', channelId: tx.channelId, blockNumber: block, logIndex: 0 }];
    s.outcome.forEach((exit, i) => {
      let left = this.held(tx.channelId, exit.asset);
      for (const a of exit.allocations) {
        assert.equal(a.allocationType, 0, 'toy chain pays simple allocations only');
        const pay = a.amount < left ? a.amount : left;
        left -= pay;
        const k = `${a.destination}:${exit.asset}`;
        this.payouts.set(k, (this.payouts.get(k) ?? 0n) + pay);
      }
      this.holdings.set(`${tx.channelId}:${exit.asset}`, left);
      events.push({ kind: 'allocationUpdated', channelId: tx.channelId, asset: exit.asset, holdings: left, blockNumber: block, logIndex: i + 1 });
    });
    return events;
  }
}

/**
 * Parties exchanging effects through a shared queue delivered in random order, with random
 * duplicates; messages a party is not ready for (PROTOCOL_NOT_READY) are re-delivered later, as the
 * engine's acknowledged/retried outbox would. Any other rejection fails the test.
 */
export class Sim {
  readonly parties = new Map<string, Party>();
  readonly queue: Delivery[] = [];
  readonly chain = new ToyChain();
  readonly rejections: SluiceError[] = [];
  steps = 0;
  retries = 0;
  /** Every event delivered, in order (for replay/fuzz tests). */
  readonly log: { to: Address; event: P.ObjectiveEvent }[] = [];
  readonly random: () => number;
  readonly duplicateRate: number;
  constructor(random: () => number, duplicateRate = 0.1) {
    this.random = random;
    this.duplicateRate = duplicateRate;
  }

  party(a: Actor): Party {
    let p = this.parties.get(a.address);
    if (p === undefined) {
      p = { actor: a, objectives: new Map(), ledgers: new Map(), waitingFor: new Map() };
      this.parties.set(a.address, p);
    }
    return p;
  }

  addLedger(a: Actor, l: P.ConsensusChannel): void {
    this.party(a).ledgers.set(l.id, l);
  }

  /** Register an objective and crank it once. */
  start(a: Actor, o: P.Objective): void {
    const p = this.party(a);
    p.objectives.set(o.id, o);
    this.crankAndDispatch(p, o.id);
  }

  private sync(p: Party, o: P.Objective): P.Objective {
    let out = o;
    for (const l of P.ledgersOf(o)) {
      const latest = p.ledgers.get(l.id);
      if (latest !== undefined) out = P.withLedger(out, latest);
    }
    return out;
  }

  private store(p: Party, o: P.Objective): void {
    p.objectives.set(o.id, o);
    for (const l of P.ledgersOf(o)) p.ledgers.set(l.id, l);
  }

  /**
   * Crank `id`, then (as an engine must) every other live objective sharing a ledger it changed:
   * a follower's countersignature for one objective may unblock another's proposal.
   */
  private crankAndDispatch(p: Party, id: string): void {
    const work = [id];
    for (let n = 0; work.length > 0 && n < 100; n++) {
      const next = work.shift()!;
      const before = new Map([...p.ledgers].map(([k, v]) => [k, v]));
      this.crankOne(p, next);
      const changed = [...p.ledgers].filter(([k, v]) => before.get(k) !== v).map(([k]) => k);
      if (changed.length === 0) continue;
      for (const o of p.objectives.values()) {
        if (o.id !== next && o.status === 'approved' && P.ledgersOf(o).some((l) => changed.includes(l.id)) && !work.includes(o.id)) work.push(o.id);
      }
    }
  }

  private crankOne(p: Party, id: string): void {
    const o = this.sync(p, p.objectives.get(id)!);
    const r = P.crank(o, secrets(p.actor));
    this.store(p, r.objective);
    p.waitingFor.set(id, r.waitingFor);
    for (const e of r.effects) {
      if (e.type === 'sendMessage') this.queue.push({ to: e.to, event: e.payload, tries: 0 });
      else {
        const events = this.chain.submit(e.tx);
        // the toy chain mines at once: the receipt, as the engine feeds it to a top-up (its deposited event follows)
        const mine = p.objectives.get(id);
        if (e.tx.kind === 'deposit' && mine?.type === 'ledgerTopUp') p.objectives.set(id, P.topUpDepositMined(mine));
        const participants = this.chain.participants.get(e.tx.channelId) ?? [];
        for (const ev of events) for (const to of participants) this.queue.push({ to, event: ev, tries: 0 });
      }
    }
  }

  private deliver(dl: Delivery): void {
    this.log.push({ to: dl.to, event: dl.event });
    const p = this.parties.get(dl.to);
    if (p === undefined) return;
    const ids =
      'objectiveId' in dl.event
        ? [dl.event.objectiveId]
        : [...p.objectives.values()].filter((o) => o.status === 'approved').map((o) => o.id);
    for (const id of ids) {
      const o = p.objectives.get(id);
      if (o === undefined) continue;
      try {
        this.store(p, P.update(this.sync(p, o), dl.event));
      } catch (e) {
        if (isSluiceError(e, 'PROTOCOL_NOT_READY') && dl.tries < 50) {
          this.retries++;
          this.queue.push({ ...dl, tries: dl.tries + 1 });
          return;
        }
        if (isSluiceError(e)) {
          this.rejections.push(e);
          return;
        }
        throw e;
      }
      this.crankAndDispatch(p, id);
    }
  }

  /** Deliver until quiet. */
  run(maxSteps = 10_000): void {
    while (this.queue.length > 0) {
      assert.ok(++this.steps < maxSteps, 'simulation does not settle');
      const i = Math.floor(this.random() * this.queue.length);
      const [dl] = this.queue.splice(i, 1);
      if (this.random() < this.duplicateRate) this.queue.push({ ...dl!, tries: dl!.tries });
      this.deliver(dl!);
    }
  }

  objective<T extends P.Objective>(a: Actor, id: string): T {
    return this.party(a).objectives.get(id) as T;
  }
  ledger(a: Actor, id: string): P.ConsensusChannel {
    return this.party(a).ledgers.get(id)!;
  }
}
