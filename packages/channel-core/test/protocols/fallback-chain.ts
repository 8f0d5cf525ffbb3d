/**
 * A toy adjudicator for the fallback tests that follows contracts/solidity/NitroAdjudicator.sol
 * (status fingerprints, challenge/checkpoint/conclude turn rules, finalization by chain time,
 * reclaim and transferAllAssets payout rules) and the ConsensusApp / VirtualPaymentApp support
 * rules, plus a tiny "engine" that drives nodes' objectives through the generic dispatchers,
 * persisting each objective as JSON between steps. No I/O.
 */
import assert from 'node:assert/strict';
import {
  type Address,
  type Bytes32,
  type ChannelId,
  type FixedPart,
  type Outcome,
  type Signature,
  type State,
  type Voucher,
  decodeVoucherAmountAndSignature,
  getChannelId,
  hashChallenge,
  hashOutcome,
  hashState,
  hexToBytes,
  recoverHashSigner,
  recoverStateSigner,
  recoverVoucherSigner,
  sameAddress,
  PayeeLedger,
  PayerLedger,
  protocols as P,
} from '../../src/index.ts';
import { parseJson, stringifyJson } from '../../src/json.ts';
import { type Actor, CONSENSUS_APP, ETH, Sim, VIRTUAL_PAYMENT_APP, alice, bob, d, irene, ledgerPrefund, rng, secrets, virtualPrefund } from './fixtures.ts';

export class Revert extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'Revert';
  }
}

function require(cond: boolean, reason: string): asserts cond {
  if (!cond) throw new Revert(reason);
}

interface Status {
  turnNumRecord: number;
  finalizesAt: number;
  fingerprint: bigint;
}

const OPEN: Status = { turnNumRecord: 0, finalizesAt: 0, fingerprint: 0n };

/** One submission the chain saw (for double-submission checks). */
export interface Submission {
  readonly by: string;
  readonly key: string;
  readonly ok: boolean;
  readonly reason?: string;
}

export class DisputeChain {
  readonly holdings = new Map<string, bigint>();
  readonly payouts = new Map<string, bigint>();
  readonly status = new Map<string, Status>();
  readonly submissions: Submission[] = [];
  /** Reclaims/transfers submitted while a channel they need had never been finalized (must stay empty). */
  readonly premature: string[] = [];
  /** Channels that were finalized at some point (a transfer may delete the status afterwards). */
  readonly everFinalized = new Set<string>();
  time = 1_000;
  block = 1;

  held(channelId: ChannelId, asset: Address): bigint {
    return this.holdings.get(`${channelId}:${asset.toLowerCase()}`) ?? 0n;
  }
  setHeld(channelId: ChannelId, asset: Address, amount: bigint): void {
    this.holdings.set(`${channelId}:${asset.toLowerCase()}`, amount);
  }
  paid(a: Actor, asset: Address): bigint {
    return this.payouts.get(`${d(a)}:${asset.toLowerCase()}`) ?? 0n;
  }
  statusOf(id: ChannelId): Status {
    return this.status.get(id) ?? OPEN;
  }
  finalized(s: Status): boolean {
    return s.finalizesAt !== 0 && s.finalizesAt <= this.time;
  }
  fingerprint(stateHash: Bytes32, outcome: Outcome): bigint {
    return P.statusFingerprint(stateHash, outcome);
  }
  advance(seconds: number): P.ChainTimeEvent {
    this.time += seconds;
    this.block++;
    return this.now();
  }
  now(): P.ChainTimeEvent {
    return { kind: 'chainTime', timestamp: this.time, blockNumber: this.block };
  }

  private signedBy(state: State, signatures: readonly Signature[]): Set<number> {
    const by = new Set<number>();
    for (const s of signatures) {
      const signer = recoverStateSigner(state, s);
      const i = state.participants.findIndex((p) => sameAddress(p, signer));
      if (i >= 0) by.add(i);
    }
    return by;
  }

  private requireSupported(proof: readonly P.SignedStateData[], candidate: P.SignedStateData): void {
    const fp = candidate.state;
    const n = fp.participants.length;
    for (const p of proof) assert.equal(getChannelId(p.state), getChannelId(fp));
    const unanimous = (x: P.SignedStateData) => this.signedBy(x.state, x.signatures).size === n;
    if (sameAddress(fp.appDefinition, CONSENSUS_APP)) {
      require(proof.length === 0, '|proof|!=0');
      require(unanimous(candidate), '!unanimous');
      return;
    }
    assert.ok(sameAddress(fp.appDefinition, VIRTUAL_PAYMENT_APP), 'unknown app');
    if (proof.length === 0) {
      require(unanimous(candidate), '!unanimous; |proof|=0');
      require(candidate.state.turnNum <= 1, 'bad candidate turnNum; |proof|=0');
      return;
    }
    require(proof.length === 1, 'bad proof length');
    const post = proof[0]!;
    require(post.state.turnNum === 1, 'bad proof[0].turnNum; |proof|=1');
    require(unanimous(post), 'postfund !unanimous; |proof|=1');
    require(candidate.state.turnNum === 2, 'bad candidate turnNum; |proof|=1');
    require(this.signedBy(candidate.state, candidate.signatures).has(n - 1), 'redemption not signed by Bob');
    const { amount, signature } = decodeVoucherAmountAndSignature(candidate.state.appData);
    const voucher: Voucher = { channelId: getChannelId(fp), amount, signature };
    require(sameAddress(recoverVoucherSigner(voucher), fp.participants[0]!), 'invalid signature for voucher');
    const o = post.state.outcome[0]!;
    const c = candidate.state.outcome[0]!;
    require(post.state.outcome.length === 1 && candidate.state.outcome.length === 1, 'only one asset allowed');
    require(o.allocations.length === 2 && c.allocations.length === 2, 'need 2 allocations');
    for (let i = 0; i < 2; i++) {
      const a = o.allocations[i]!;
      const b = c.allocations[i]!;
      require(a.destination === b.destination && a.allocationType === b.allocationType && a.metadata === b.metadata, 'allocation changed');
    }
    require(amount <= o.allocations[0]!.amount, 'voucher exceeds payer balance');
    require(c.allocations[0]!.amount === o.allocations[0]!.amount - amount, 'Alice not adjusted correctly');
    require(c.allocations[1]!.amount === o.allocations[1]!.amount + amount, 'Bob not adjusted correctly');
  }

  private at() {
    return { blockNumber: this.block, logIndex: 0 };
  }

  /**
   * Execute a transaction; returns the events (the `reclaimed` event carries no target, like the
   * adjudicator's). Throws {@link Revert} with the adjudicator's reason.
   */
  submit(tx: P.Transaction, by: string): P.ObjectiveEvent[] {
    this.block++;
    const key = txKey(tx);
    try {
      const events = this.execute(tx);
      this.submissions.push({ by, key, ok: true });
      return events.map((e, i) => ({ ...e, logIndex: i }) as P.ObjectiveEvent);
    } catch (e) {
      if (e instanceof Revert) this.submissions.push({ by, key, ok: false, reason: e.message });
      throw e;
    }
  }

  private execute(tx: P.Transaction): P.ObjectiveEvent[] {
    for (const [id, st] of this.status) if (this.finalized(st)) this.everFinalized.add(id);
    if (tx.kind === 'reclaim' || tx.kind === 'transferAllAssets') {
      const needs = tx.kind === 'reclaim' ? [tx.sourceChannelId, tx.targetChannelId] : [tx.channelId];
      for (const id of needs) if (!this.everFinalized.has(id)) this.premature.push(`${tx.kind}:${id}`);
    }
    switch (tx.kind) {
      case 'challenge': {
        const state = tx.candidate.state;
        const id = getChannelId(state);
        assert.equal(id, tx.channelId);
        const st = this.statusOf(id);
        if (st.finalizesAt === 0) require(state.turnNum >= st.turnNumRecord, 'turnNumRecord decreased.');
        else {
          require(!this.finalized(st), 'Channel finalized.');
          require(state.turnNum > st.turnNumRecord, 'turnNumRecord not increased.');
        }
        this.requireSupported(tx.proof, tx.candidate);
        const stateHash = hashState(state);
        const challenger = recoverHashSigner(hexToBytes(hashChallenge(stateHash)), tx.challengerSignature);
        require(state.participants.some((p) => sameAddress(p, challenger)), 'Challenger is not a participant');
        const finalizesAt = this.time + state.challengeDuration;
        this.status.set(id, { turnNumRecord: state.turnNum, finalizesAt, fingerprint: this.fingerprint(stateHash, state.outcome) });
        const vp = (s: P.SignedStateData) => ({
          variablePart: { outcome: s.state.outcome, appData: s.state.appData, turnNum: s.state.turnNum, isFinal: s.state.isFinal },
          signatures: s.signatures,
        });
        return [{ kind: 'challengeRegistered', channelId: id, finalizesAt, proof: tx.proof.map(vp), candidate: vp(tx.candidate), ...this.at() }];
      }
      case 'checkpoint': {
        const state = tx.candidate.state;
        const id = getChannelId(state);
        const st = this.statusOf(id);
        require(!this.finalized(st), 'Channel finalized.');
        require(state.turnNum > st.turnNumRecord, 'turnNumRecord not increased.');
        this.requireSupported(tx.proof, tx.candidate);
        this.status.set(id, { turnNumRecord: state.turnNum, finalizesAt: 0, fingerprint: 0n });
        return [{ kind: st.finalizesAt === 0 ? 'checkpointed' : 'challengeCleared', channelId: id, newTurnNumRecord: state.turnNum, ...this.at() }];
      }
      case 'conclude': {
        const state = tx.candidate.state;
        const id = getChannelId(state);
        require(!this.finalized(this.statusOf(id)), 'Channel finalized.');
        require(state.isFinal, 'State must be final');
        require(this.signedBy(state, tx.candidate.signatures).size === state.participants.length, '!unanimous');
        this.status.set(id, { turnNumRecord: 0, finalizesAt: this.time, fingerprint: this.fingerprint(`0x${'00'.repeat(32)}` as Bytes32, state.outcome) });
        return [{ kind: 'concluded', channelId: id, ...this.at() }];
      }
      case 'reclaim': {
        const src = this.statusOf(tx.sourceChannelId);
        require(this.finalized(src), 'Channel not finalized.');
        require(src.fingerprint === this.fingerprint(tx.sourceStateHash, tx.sourceOutcome), 'incorrect fingerprint');
        const g = tx.sourceOutcome[tx.sourceAssetIndex]!.allocations[tx.indexOfTargetInSource]!;
        require(g.allocationType === 2, 'not a guarantee allocation');
        const tgt = this.statusOf(g.destination);
        require(this.finalized(tgt), 'Channel not finalized.');
        require(tgt.fingerprint === this.fingerprint(tx.targetStateHash, tx.targetOutcome), 'incorrect fingerprint');
        let next: Outcome;
        try {
          next = P.reclaimOutcome(tx.sourceOutcome, tx.sourceAssetIndex, tx.indexOfTargetInSource, tx.targetOutcome, tx.targetAssetIndex);
        } catch (e) {
          throw new Revert((e as Error).message);
        }
        this.status.set(tx.sourceChannelId, { ...src, fingerprint: this.fingerprint(tx.sourceStateHash, next) });
        return [{ kind: 'reclaimed', channelId: tx.sourceChannelId, assetIndex: tx.sourceAssetIndex, ...this.at() }];
      }
      case 'transferAllAssets': {
        const st = this.statusOf(tx.channelId);
        require(this.finalized(st), 'Channel not finalized.');
        require(st.fingerprint === this.fingerprint(tx.stateHash, tx.outcome), 'incorrect fingerprint');
        const events: P.ObjectiveEvent[] = [];
        let onlyZeros = true;
        const outcome = tx.outcome.map((exit) => {
          const initial = this.held(tx.channelId, exit.asset);
          let r: ReturnType<typeof P.transferPayouts>;
          try {
            r = P.transferPayouts(initial, exit.allocations);
          } catch (e) {
            throw new Revert((e as Error).message);
          }
          for (const p of r.payouts) {
            const k = `${p.destination}:${exit.asset.toLowerCase()}`;
            this.payouts.set(k, (this.payouts.get(k) ?? 0n) + p.amount);
          }
          if (r.remaining.some((a) => a.amount !== 0n)) onlyZeros = false;
          this.setHeld(tx.channelId, exit.asset, initial - r.total);
          events.push({ kind: 'allocationUpdated', channelId: tx.channelId, asset: exit.asset, holdings: initial - r.total, initialHoldings: initial, ...this.at() });
          return { ...exit, allocations: r.remaining };
        });
        this.status.set(tx.channelId, onlyZeros ? OPEN : { ...st, fingerprint: this.fingerprint(tx.stateHash, outcome) });
        return events;
      }
      default:
        throw new Error(`the dispute chain does not model ${tx.kind}`);
    }
  }
}

/** A stable key per step (double-submission checks): the protocols' own key for fallback steps. */
export function txKey(tx: P.Transaction): string {
  return P.fallbackTransactionKey(tx) ?? `${tx.kind}:${tx.channelId}`;
}

// ------------------------------------------------------------------ a tiny engine

/** A node: its objectives, persisted as JSON strings (what a store would hold). */
export class Node {
  readonly actor: Actor;
  readonly store = new Map<string, string>();
  /** Waiting-for of each objective after its last crank. */
  readonly waitingFor = new Map<string, string[]>();
  /** Outcomes of the final states this node signed, by channel (what the engine feeds with `channelStatus`). */
  readonly finals = new Map<ChannelId, Outcome[]>();
  constructor(actor: Actor) {
    this.actor = actor;
  }
  load(id: string): P.Objective {
    return parseJson(this.store.get(id)!) as P.Objective;
  }
  save(o: P.Objective): void {
    this.store.set(o.id, stringifyJson(o));
  }
  add(o: P.Objective): void {
    if (!this.store.has(o.id)) this.save(o);
  }
  live(): P.Objective[] {
    return [...this.store.keys()].map((id) => this.load(id)).filter((o) => o.status === 'approved');
  }
  all(): P.Objective[] {
    return [...this.store.keys()].map((id) => this.load(id));
  }
  record(id: string, w: string): void {
    const l = this.waitingFor.get(id) ?? [];
    if (l[l.length - 1] !== w) l.push(w);
    this.waitingFor.set(id, l);
  }
}

export type Crash = 'beforeEffects' | 'afterSubmit';

export interface DriveOptions {
  /**
   * Crash a node at this crank (only asked for cranks with transactions): `beforeEffects` — the
   * objective was persisted but the transaction never reached the chain (on restart the engine's
   * journal reports it failed: `onTransactionFailed`); `afterSubmit` — the transaction was mined but
   * its events were not processed (on restart the objective is re-cranked from its JSON, then the
   * events arrive by catch-up).
   */
  readonly crash?: (node: Node, o: P.Objective, round: number) => Crash | undefined;
  readonly random?: () => number;
  readonly maxRounds?: number;
  /**
   * Transactions wait in a mempool and are mined at the start of the next round in random order,
   * so parties act on views that are one round stale and race (the losers revert). Not combined
   * with `crash`.
   */
  readonly mempool?: boolean;
  /**
   * Act as the engine does with the chain status: feed `statusOf` (`channelStatus`, with the node's
   * signed final outcomes) for every channel an objective asks for (`statusReadsNeeded`), for every
   * channel of a fallback objective the first time it is cranked (its events before it existed went
   * to nobody), and for the channel of a transaction that reverted.
   */
  readonly statusReads?: boolean;
}

function shuffle<T>(xs: readonly T[], random: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/**
 * Drive every node until all their objectives complete: crank (persist, then execute the effects
 * against the chain), deliver the chain's events to every node's objectives that watch the channel
 * (the submitter's `reclaimed` events carry the target, as the engine knows its own transactions),
 * and when nothing moves advance chain time to the earliest `wakeAt`.
 */
export function drive(chain: DisputeChain, nodes: readonly Node[], opts: DriveOptions = {}, crashes: string[] = []): number {
  const random = opts.random ?? (() => 0);
  const deliver = (events: readonly P.ObjectiveEvent[], submitter?: Node, target?: ChannelId) => {
    for (const n of nodes) {
      for (const ev of events) {
        const e = ev.kind === 'reclaimed' && n === submitter && target !== undefined ? { ...ev, target } : ev;
        for (const o of n.live()) {
          if (e.kind !== 'chainTime' && !P.watchedChannels(o).includes((e as { channelId: ChannelId }).channelId)) continue;
          n.save(P.update(o, e));
        }
      }
    }
  };
  deliver([chain.now()]);
  const seeded = new Set<string>();
  const readStatus = (n: Node, id: string, channelId: ChannelId): void => {
    const o = n.load(id);
    if (o.status !== 'approved') return;
    const st = chain.statusOf(channelId);
    const ev: P.ObjectiveEvent = {
      kind: 'channelStatus',
      channelId,
      turnNumRecord: st.turnNumRecord,
      finalizesAt: st.finalizesAt,
      fingerprint: st.fingerprint,
      blockNumber: chain.block,
      finalOutcomes: n.finals.get(channelId) ?? [],
    };
    n.save(P.update(o, ev));
  };
  const reverted = (n: Node, id: string, tx: P.Transaction): void => {
    if (opts.statusReads === true) readStatus(n, id, tx.channelId);
    n.save(P.onTransactionFailed(n.load(id)));
  };
  const mempool: { n: Node; id: string; tx: P.Transaction }[] = [];
  const mine = (n: Node, id: string, tx: P.Transaction): boolean => {
    try {
      deliver(chain.submit(tx, n.actor.name), n, tx.kind === 'reclaim' ? tx.targetChannelId : undefined);
      return true;
    } catch (err) {
      if (!(err instanceof Revert)) throw err;
      reverted(n, id, tx);
      return false;
    }
  };
  let round = 0;
  for (; round < (opts.maxRounds ?? 200); round++) {
    let moved = mempool.length > 0;
    for (const m of shuffle(mempool.splice(0), random)) mine(m.n, m.id, m.tx);
    const order = shuffle(nodes, random);
    for (const n of order) {
      for (const id of n.live().map((x) => x.id)) {
        if (opts.statusReads === true && !seeded.has(`${n.actor.name}|${id}`)) {
          seeded.add(`${n.actor.name}|${id}`);
          const first = n.load(id);
          if (first.type === 'ledgerExit' || first.type === 'virtualChallenge') for (const c of P.watchedChannels(first)) readStatus(n, id, c);
        }
        const o = n.load(id); // fresh: events delivered during this round changed it
        const r = P.crank(o, { privateKey: n.actor.privateKey });
        n.save(r.objective);
        n.record(o.id, r.waitingFor);
        if (r.objective.status !== o.status || stringifyJson(r.objective) !== stringifyJson(o)) moved = true;
        const txs = r.effects.flatMap((e) => (e.type === 'submitTransaction' ? [e.tx] : []));
        const crash = txs.length > 0 ? opts.crash?.(n, r.objective, round) : undefined;
        if (crash === 'beforeEffects') {
          crashes.push(`${n.actor.name}:${o.id}:beforeEffects`);
          n.save(P.onTransactionFailed(n.load(o.id)));
          moved = true;
          continue;
        }
        if (opts.mempool === true) {
          for (const tx of txs) mempool.push({ n, id: o.id, tx });
          if (txs.length > 0) moved = true;
          continue;
        }
        const backlog: [P.ObjectiveEvent[], ChannelId | undefined][] = [];
        let failed = false;
        for (const tx of txs) {
          try {
            const events = chain.submit(tx, n.actor.name);
            const target = tx.kind === 'reclaim' ? tx.targetChannelId : undefined;
            if (crash === 'afterSubmit') backlog.push([events, target]);
            else deliver(events, n, target);
          } catch (err) {
            if (!(err instanceof Revert)) throw err;
            failed = true;
            reverted(n, o.id, tx);
          }
          moved = true;
        }
        if (opts.statusReads === true) {
          for (const c of P.statusReadsNeeded(n.load(o.id))) {
            readStatus(n, o.id, c);
            moved = true;
          }
        }
        if (crash === 'afterSubmit' && !failed) {
          crashes.push(`${n.actor.name}:${o.id}:afterSubmit`);
          const again = P.crank(n.load(o.id), { privateKey: n.actor.privateKey });
          assert.deepEqual(again.effects.filter((e) => e.type === 'submitTransaction'), [], `${o.id} re-submits after a restart`);
          n.save(again.objective);
          for (const [events, target] of backlog) deliver(events, n, target);
        }
      }
    }
    if (nodes.every((n) => n.live().length === 0) && mempool.length === 0) break;
    if (!moved && mempool.length === 0) {
      const wake = nodes.flatMap((n) => n.live().map((o) => P.wakeAt(o))).filter((t): t is number => t !== null);
      if (wake.length === 0) break;
      chain.time = Math.max(chain.time, Math.min(...wake));
      chain.block++;
      deliver([chain.now()]);
    }
  }
  return round;
}

// ------------------------------------------------------------------ a funded download

export interface Download {
  readonly asset: Address;
  readonly AI: ChannelId;
  readonly IB: ChannelId;
  readonly V: ChannelId;
  readonly deposit: bigint;
  readonly price: bigint;
  readonly paid: bigint;
  readonly bestVoucher: Voucher | null;
  readonly ledgers: Map<string, Map<string, P.ConsensusChannel>>;
  readonly vs: Map<string, P.Channel>;
  /** Ledger balances (before the download) of each actor. */
  readonly start: { aliceInAI: bigint; ireneInAI: bigint; ireneInIB: bigint; bobInIB: bigint };
  readonly chain: DisputeChain;
}

/**
 * L_AI (Alice 100, Irene 20) and L_IB (Irene 150, Bob 5) funded on chain, V = [Alice, Irene, Bob]
 * with Alice's `deposit` (run through the real direct/virtual fund protocols in random order),
 * then `chunks` vouchers of `price` from Alice to Bob.
 */
export function download(opts: { asset?: Address; deposit?: bigint; price?: bigint; chunks: number; seed?: number }): Download {
  const asset = opts.asset ?? ETH;
  const deposit = opts.deposit ?? 60n;
  const price = opts.price ?? 3n;
  const sim = new Sim(rng(opts.seed ?? 1), 0.1);
  const preAI = ledgerPrefund(alice, irene, 100n, 20n, 1n, asset);
  const preIB = ledgerPrefund(irene, bob, 150n, 5n, 2n, asset);
  const AI = getChannelId(preAI);
  const IB = getChannelId(preIB);
  sim.chain.participants.set(AI, preAI.participants);
  sim.chain.participants.set(IB, preIB.participants);
  for (const a of [alice, irene]) sim.start(a, P.newDirectFund(preAI, a.address));
  for (const a of [irene, bob]) sim.start(a, P.newDirectFund(preIB, a.address));
  sim.run();
  assert.deepEqual(sim.rejections, []);
  const ledgerOf = (a: Actor, id: ChannelId) => {
    const l = P.newConsensusChannel(sim.objective<P.DirectFundObjective>(a, P.directFundId(id)).channel);
    sim.addLedger(a, l);
    return l;
  };
  const aiA = ledgerOf(alice, AI);
  const aiI = ledgerOf(irene, AI);
  const ibI = ledgerOf(irene, IB);
  const ibB = ledgerOf(bob, IB);
  const preV = virtualPrefund(alice, irene, bob, deposit, 0n, 7n, asset);
  const V = getChannelId(preV);
  sim.start(alice, P.newVirtualFund({ prefund: preV, myAddress: alice.address, toMyRight: aiA }));
  sim.start(irene, P.newVirtualFund({ prefund: preV, myAddress: irene.address, toMyLeft: aiI, toMyRight: ibI, hubPolicy: {} }));
  sim.start(bob, P.newVirtualFund({ prefund: preV, myAddress: bob.address, toMyLeft: ibB }));
  sim.run();
  assert.deepEqual(sim.rejections, []);
  const payer = new PayerLedger(alice.privateKey);
  const payee = new PayeeLedger(bob.address);
  const vc = { channelId: V, payer: alice.address, payee: bob.address, balance: deposit };
  payer.register(vc);
  payee.register(vc, { status: 'funded' });
  for (let i = 0; i < opts.chunks; i++) assert.equal(payee.receive(payer.pay(V, price), { price }).kind, 'accepted');
  const chain = new DisputeChain();
  chain.setHeld(AI, asset, sim.chain.held(AI, asset));
  chain.setHeld(IB, asset, sim.chain.held(IB, asset));
  const ledgers = new Map<string, Map<string, P.ConsensusChannel>>();
  const vs = new Map<string, P.Channel>();
  for (const a of [alice, irene, bob]) {
    ledgers.set(a.name, new Map([...sim.party(a).ledgers].map(([k, v]) => [k, v])));
    vs.set(a.name, sim.objective<P.VirtualFundObjective>(a, P.virtualFundId(V)).v);
  }
  const best = payee.best(V);
  return {
    asset,
    AI,
    IB,
    V,
    deposit,
    price,
    paid: best?.amount ?? 0n,
    bestVoucher: best ?? null,
    ledgers,
    vs,
    start: { aliceInAI: 100n, ireneInAI: 20n, ireneInIB: 150n, bobInIB: 5n },
    chain,
  };
}

/** What each node holds, as a fallback context. */
export function contextOf(dl: Download, a: Actor, live: readonly string[] = []): P.FallbackContext {
  const v = dl.vs.get(a.name)!;
  return {
    ledgers: [...dl.ledgers.get(a.name)!.values()],
    virtuals: [{ channel: v, ...(a === bob ? { bestVoucher: dl.bestVoucher } : {}) }],
    live,
    now: dl.chain.time,
  };
}

export type { FixedPart, State };
export { hashOutcome };

/**
 * Remove V's guarantee from ledger `ledgerId` by on-chain proof between two online nodes: each
 * builds its objective from its OWN virtual challenge record of V (and its chain time), the leader
 * proposes, the follower countersigns; messages are exchanged until neither has anything to send.
 * Returns both objectives (completed when the removal was agreed).
 */
export function removeByProof(dl: Download, x: Node, y: Node, ledgerId: ChannelId): P.GuaranteeRemovalObjective[] {
  const objectives = [x, y].map((n) => {
    const vc = n.load(P.virtualChallengeId(dl.V)) as P.VirtualChallengeObjective;
    const o = P.newGuaranteeRemoval({ ledger: dl.ledgers.get(n.actor.name)!.get(ledgerId)!, v: vc.v.fixedPart, proof: { record: vc.onChain, now: vc.now } });
    n.save(o);
    return { n, id: o.id };
  });
  for (let round = 0; round < 6; round++) {
    const outbox: { to: string; m: P.ProtocolMessage }[] = [];
    for (const { n, id } of objectives) {
      const r = P.crank(n.load(id), secrets(n.actor));
      n.save(r.objective);
      for (const e of r.effects) if (e.type === 'sendMessage') outbox.push({ to: e.to.toLowerCase(), m: e.payload });
    }
    if (outbox.length === 0) break;
    for (const { to, m } of outbox) {
      const dest = objectives.find(({ n }) => n.actor.address.toLowerCase() === to)!;
      dest.n.save(P.update(dest.n.load(dest.id), m));
    }
  }
  const out = objectives.map(({ n, id }) => n.load(id) as P.GuaranteeRemovalObjective);
  for (const [i, { n }] of objectives.entries()) dl.ledgers.get(n.actor.name)!.set(ledgerId, out[i]!.ledger);
  return out;
}
