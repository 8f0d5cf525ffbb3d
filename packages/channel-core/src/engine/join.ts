/**
 * Objectives a peer starts: the first message for an objective we do not hold yet creates it,
 * but only after the role's checks and the node's policy. Each function validates, builds the
 * objective, applies the peer's message to it (so a bad signature never leaves a record
 * behind) and returns it with the channel records to write. Synchronous and store-read-only;
 * the engine persists the result.
 */
import type { Address, ChannelId } from '../hex.ts';
import { sameAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import type { Store } from '../ports/store.ts';
import { getChannelId, hashStateBytes, recoverStateHashSigner } from '../state.ts';
import { directFundId, newDirectFund } from '../protocols/direct-fund.ts';
import { directDefundId, newDirectDefund } from '../protocols/direct-defund.ts';
import { newVirtualFund, virtualFundId, type VirtualFundObjective } from '../protocols/virtual-fund.ts';
import { newVirtualDefund, virtualDefundId, type PaymentBound } from '../protocols/virtual-defund.ts';
import { newLedgerTopUp } from '../protocols/ledger-topup.ts';
import { type VirtualProof, newGuaranteeRemoval, parseGuaranteeRemovalId, removalByProof } from '../protocols/guarantee-removal.ts';
import type { FixedPart } from '../state.ts';
import {
  type ConsensusChannel,
  consensusIncludes,
  ledgerOutcomeFromOutcome,
  ledgerToChannel,
  ledgerTotal,
  pendingOutcome,
} from '../protocols/ledger.ts';
import { dest, expectedAdd, virtualAmounts } from '../protocols/virtual-channel.ts';
import { type Objective, ledgersOf, update } from '../protocols/objective.ts';
import type { ProtocolMessage, SignedStateMessage } from '../protocols/types.ts';
import { nonceOutsideWindow, nonceTimeMs } from '../nonce.ts';
import { DEFAULT_MAX_LEDGER_GUARANTEES, type EnginePolicy, challengeDurationRefusal, decideLedger, decideVirtualChannel } from './policy.ts';
import { ONE_PER_PEER_LEDGER_STATUSES, type LedgerData, type LedgerView, type VirtualData, findLedgerIn, getVirtualData, listLedgerData } from './records.ts';

export interface JoinContext {
  readonly store: Store;
  /** Ledger records (cached by the engine). */
  readonly ledgers: LedgerView;
  readonly me: Address;
  readonly policy: EnginePolicy;
  readonly consensusApp: Address;
  readonly virtualPaymentApp: Address;
  /** Active objectives (for collateral reservations). */
  readonly active: () => Iterable<Objective>;
  /** Virtual channel records (cached by the engine); read from the store when absent. */
  readonly virtual?: (channelId: ChannelId) => VirtualData | undefined;
  /** The engine's clock, ms (for {@link EnginePolicy.nonceWindow}). */
  readonly now?: number;
  /**
   * Retention has forgotten retired channel ids whose nonce time is before this (ms; 0 or
   * absent: none): a channel whose nonce is older is refused whatever the policy says now, so a
   * replayed prefund of a forgotten channel is refused also after the clock stepped back or the
   * window was widened or turned off.
   */
  readonly forgottenBefore?: number;
  /** A ledger's holdings as last seen on chain (undefined: none seen since start). */
  readonly holdings?: (ledgerId: ChannelId) => bigint | undefined;
  /** Ask for a ledger's holdings to be read from the chain (asynchronously; `holdings` has them after). */
  readonly readHoldings?: (ledgerId: ChannelId, asset: Address) => void;
  /**
   * Our own view of a virtual channel on chain (its virtual challenge's record and chain time),
   * with its fixed part; undefined when we have no virtual challenge for it.
   */
  readonly virtualProof?: (channelId: ChannelId) => { readonly v: FixedPart; readonly proof: VirtualProof } | undefined;
}

/** Refuse a channel whose nonce is before what retention forgot, or outside the policy's window (when it has one). */
function checkNonce(ctx: JoinContext, nonce: bigint, channelId: ChannelId): void {
  const t = nonceTimeMs(nonce);
  if (ctx.forgottenBefore !== undefined && t < ctx.forgottenBefore) {
    if (!Number.isFinite(ctx.forgottenBefore)) refuse('this node cannot read up to when it forgot its history (store meta history.forgottenBefore): it opens no channels until that is repaired', { channelId });
    refuse(`the channel nonce was made at ${new Date(t).toISOString()}, before ${new Date(ctx.forgottenBefore).toISOString()}, the history this node no longer remembers: open it again with a new nonce, and check the clocks`, { channelId });
  }
  const window = ctx.policy.nonceWindow;
  if (window === undefined || ctx.now === undefined) return;
  const why = nonceOutsideWindow(nonce, ctx.now, window);
  if (why !== undefined) refuse(why, { channelId });
}

/**
 * A virtual channel proposed over a ledger we are still funding (the peer completed its direct
 * fund first: our postfund countersignature crossed its own): retry once ours completes.
 * @throws SluiceError PROTOCOL_NOT_READY
 */
function notReadyWhileFunding(ctx: JoinContext, counterparties: readonly (Address | undefined)[], asset: Address, channelId: ChannelId): void {
  for (const c of counterparties) {
    const l = c === undefined ? undefined : findLedgerIn(ctx.ledgers.list(), c, asset, ['funding']);
    if (l === undefined) continue;
    // only once funded on chain and our postfund is signed: the counterparty's is on its way
    for (const o of ctx.active()) {
      if (o.type !== 'directFund' || o.channel.id !== l.ledgerId) continue;
      const post = o.channel.states.find((e) => e.state.turnNum === 1);
      if (post?.signatures[o.channel.myIndex] != null) {
        throw new SluiceError('PROTOCOL_NOT_READY', 'the ledger is still being funded here', { details: { channelId, counterparty: c } });
      }
    }
  }
}

function virtualOf(ctx: JoinContext, channelId: ChannelId): VirtualData | undefined {
  return ctx.virtual === undefined ? getVirtualData(ctx.store, channelId) : ctx.virtual(channelId);
}

export interface Joined {
  readonly objective: Objective;
  readonly ledger?: LedgerData;
  readonly virtual?: VirtualData;
}

function refuse(message: string, details: Record<string, unknown> = {}): never {
  throw new SluiceError('HUB_POLICY_REJECTED', message, { details });
}

/** Whether `state` is a state of channel `channelId` (false on malformed input). */
export function sameChannel(state: SignedStateMessage['state'], channelId: ChannelId): boolean {
  try {
    return getChannelId(state).toLowerCase() === channelId.toLowerCase();
  } catch {
    return false;
  }
}

/** Whether one of the message's signatures over its state is `who`'s (false on malformed input). */
export function signedBy(msg: SignedStateMessage, who: Address): boolean {
  let hash: Uint8Array;
  try {
    hash = hashStateBytes(msg.state);
  } catch {
    return false;
  }
  return msg.signatures.some((sig) => {
    try {
      return sameAddress(recoverStateHashSigner(hash, sig), who);
    } catch {
      return false;
    }
  });
}

/**
 * Virtual channels approved here (active virtual funds) that will take a guarantee in `ledger`
 * but are not yet proposed there, with the proposal each will make.
 */
function* approvedAdds(ledger: ConsensusChannel, active: Iterable<Objective>): Generator<ReturnType<typeof expectedAdd>> {
  const pending = pendingOutcome(ledger);
  for (const o of active) {
    if (o.type !== 'virtualFund' || o.status !== 'approved') continue;
    const side = o.toMyLeft?.id === ledger.id ? o.v.myIndex - 1 : o.toMyRight?.id === ledger.id ? o.v.myIndex : -1;
    if (side < 0 || pending.guarantees.some((g) => g.target === o.v.id)) continue;
    yield expectedAdd(o.v.id, o.v.fixedPart, o.amounts, side);
  }
}

/**
 * What `who` still has to lock in `ledger` for virtual channels already approved but whose
 * guarantee is not yet proposed there (so two concurrent joins cannot spend the same balance).
 */
export function reservedOn(ledger: ConsensusChannel, who: Address, active: Iterable<Objective>): bigint {
  let reserved = 0n;
  const d = dest(who);
  for (const add of approvedAdds(ledger, active)) {
    if (add.type !== 'add') continue;
    if (add.guarantee.left === d) reserved += add.leftDeposit;
    else if (add.guarantee.right === d) reserved += add.guarantee.amount - add.leftDeposit;
  }
  return reserved;
}

/**
 * Guarantees `ledger` holds or has agreed to take: those of its pending outcome (current state
 * and queued proposals) plus the approved virtual channels not yet proposed there.
 */
export function guaranteesCommitted(ledger: ConsensusChannel, active: Iterable<Objective>): number {
  let n = pendingOutcome(ledger).guarantees.length;
  for (const add of approvedAdds(ledger, active)) if (add.type === 'add') n++;
  return n;
}

/**
 * Refuse a new virtual channel on `ledger` when it would hold more than `max` guarantees.
 * @throws SluiceError LEDGER_FULL
 */
export function assertGuaranteeRoom(ledger: ConsensusChannel, active: Iterable<Objective>, max: number, channelId?: ChannelId): void {
  const n = guaranteesCommitted(ledger, active);
  if (n >= max) {
    throw new SluiceError('LEDGER_FULL', `ledger ${ledger.id} already holds or has agreed to ${n} guarantees (limit ${max}); retry when a virtual channel on it closes`, {
      details: { ledgerId: ledger.id, guarantees: n, limit: max, ...(channelId === undefined ? {} : { channelId }) },
    });
  }
}

/** Free balance of `who` in the ledger's pending outcome, less reservations. */
export function freeToLock(ledger: ConsensusChannel, who: Address, active: Iterable<Objective>): bigint {
  const lo = pendingOutcome(ledger);
  const d = dest(who);
  const free = lo.leader.destination === d ? lo.leader.amount : lo.follower.destination === d ? lo.follower.amount : 0n;
  return free - reservedOn(ledger, who, active);
}

function channelIdOf(objectiveId: string): ChannelId {
  return objectiveId.slice(objectiveId.indexOf('-') + 1, objectiveId.indexOf('-') + 67).toLowerCase() as ChannelId;
}

function joinDirectFund(ctx: JoinContext, msg: ProtocolMessage): Joined {
  if (msg.kind !== 'signedState' || msg.state.turnNum !== 0) refuse('a ledger opens with its prefund state');
  const s = msg.state;
  if (s.participants.length !== 2) refuse('a ledger channel has two participants');
  if (!sameAddress(s.appDefinition, ctx.consensusApp)) refuse('the ledger does not use our ConsensusApp');
  const myIndex = s.participants.findIndex((p) => sameAddress(p, ctx.me));
  if (myIndex !== 0 && myIndex !== 1) refuse('we are not a participant of this ledger');
  const ledgerId = getChannelId(s);
  const badDuration = challengeDurationRefusal(ctx.policy, 'ledger', s.challengeDuration);
  if (badDuration !== undefined) refuse(badDuration, { ledgerId });
  if (msg.objectiveId !== directFundId(ledgerId)) refuse('objective id does not match the state');
  const lo = ledgerOutcomeFromOutcome(s.outcome, s);
  if (lo.guarantees.length > 0) refuse('a new ledger holds no guarantees');
  const counterparty = s.participants[1 - myIndex]!;
  if (!signedBy(msg, counterparty)) refuse('the prefund is not signed by the counterparty');
  if (ctx.ledgers.get(ledgerId) !== undefined) refuse('ledger already known', { ledgerId });
  checkNonce(ctx, s.channelNonce, ledgerId);
  if (findLedgerIn(ctx.ledgers.list(), counterparty, lo.asset, ONE_PER_PEER_LEDGER_STATUSES) !== undefined) {
    // its own code: a proposer whose old ledger with us is closing at its end waits for us to see the exit
    throw new SluiceError('LEDGER_EXISTS', 'a ledger with this peer in this asset already exists', { details: { ledgerId } });
  }
  const myDeposit = myIndex === 0 ? lo.leader.amount : lo.follower.amount;
  const counterpartyDeposit = myIndex === 0 ? lo.follower.amount : lo.leader.amount;
  const decision = decideLedger(ctx.policy, { ledgerId, counterparty, asset: lo.asset, myDeposit, counterpartyDeposit });
  if (decision !== true) refuse(decision, { ledgerId });
  const objective = update(newDirectFund(s, ctx.me), msg);
  return {
    objective,
    ledger: { ledgerId, counterparty, asset: lo.asset, myIndex, status: 'funding', ledger: null, myDeposit, counterpartyDeposit },
  };
}

function joinVirtualFund(ctx: JoinContext, msg: ProtocolMessage): Joined {
  if (msg.kind !== 'signedState' || msg.state.turnNum !== 0) refuse('a virtual channel opens with its prefund state');
  const s = msg.state;
  if (s.participants.length !== 3) refuse('a virtual channel has a payer, one hub and a payee');
  if (!sameAddress(s.appDefinition, ctx.virtualPaymentApp)) refuse('the virtual channel does not use our VirtualPaymentApp');
  const myIndex = s.participants.findIndex((p) => sameAddress(p, ctx.me));
  if (myIndex !== 1 && myIndex !== 2) refuse('we are not the hub or the payee of this channel');
  const channelId = getChannelId(s);
  if (msg.objectiveId !== virtualFundId(channelId)) refuse('objective id does not match the state');
  const badDuration = challengeDurationRefusal(ctx.policy, 'virtual', s.challengeDuration);
  if (badDuration !== undefined) refuse(badDuration, { channelId });
  if (virtualOf(ctx, channelId) !== undefined) refuse('virtual channel already known', { channelId });
  const [payer, hub, payee] = s.participants as [Address, Address, Address];
  if (!signedBy(msg, payer)) refuse('the prefund is not signed by the payer');
  checkNonce(ctx, s.channelNonce, channelId);
  const amounts = virtualAmounts(s.outcome, s);
  const role = myIndex === 1 ? 'intermediary' : 'payee';
  const decision = decideVirtualChannel(ctx.policy, { channelId, role, payer, hub, payee, asset: amounts.asset, amount: amounts.payer });
  if (decision !== true) refuse(decision, { channelId });
  let objective: VirtualFundObjective;
  if (role === 'intermediary') {
    const left = findLedgerIn(ctx.ledgers.list(), payer, amounts.asset)?.ledger;
    const right = findLedgerIn(ctx.ledgers.list(), payee, amounts.asset)?.ledger;
    if (left == null || right == null) {
      notReadyWhileFunding(ctx, [left == null ? payer : undefined, right == null ? payee : undefined], amounts.asset, channelId);
      refuse('no open ledger with the payer or the payee in this asset', { channelId });
    }
    const max = ctx.policy.maxLedgerGuarantees ?? DEFAULT_MAX_LEDGER_GUARANTEES;
    const active = [...ctx.active()]; // one snapshot for the six checks
    assertGuaranteeRoom(right, active, max, channelId);
    assertGuaranteeRoom(left, active, max, channelId);
    // Count collateral already promised to channels whose guarantee is not proposed yet.
    if (freeToLock(right, ctx.me, active) < amounts.payer) refuse('insufficient free collateral toward the payee', { channelId });
    if (freeToLock(right, payee, active) < amounts.payee) refuse('the payee cannot lock his balance', { channelId });
    if (freeToLock(left, payer, active) < amounts.payer) refuse('the payer cannot lock her balance', { channelId });
    if (freeToLock(left, ctx.me, active) < amounts.payee) refuse('insufficient free hub balance toward the payer', { channelId });
    objective = newVirtualFund({ prefund: s, myAddress: ctx.me, toMyLeft: left, toMyRight: right, hubPolicy: ctx.policy.hub ?? {} });
  } else {
    const left = findLedgerIn(ctx.ledgers.list(), hub, amounts.asset)?.ledger;
    if (left == null) {
      notReadyWhileFunding(ctx, [hub], amounts.asset, channelId);
      refuse('no open ledger with the hub in this asset', { channelId });
    }
    assertGuaranteeRoom(left, ctx.active(), ctx.policy.maxLedgerGuarantees ?? DEFAULT_MAX_LEDGER_GUARANTEES, channelId);
    objective = newVirtualFund({ prefund: s, myAddress: ctx.me, toMyLeft: left });
  }
  return {
    objective: update(objective, msg),
    virtual: { channelId, role, payer, hub, payee, asset: amounts.asset, amount: amounts.payer, status: 'funding', v: null },
  };
}

/** The ledgers along V that hold V's guarantee, by counterparty. */
function ledgersHolding(ledgers: Iterable<LedgerData>, channelId: ChannelId, counterparty: Address): ConsensusChannel | undefined {
  for (const l of ledgers) if (l.ledger !== null && sameAddress(l.counterparty, counterparty) && consensusIncludes(l.ledger, channelId)) return l.ledger;
  return undefined;
}

/**
 * Build a virtual defund for V from our records (used for both starting and joining).
 * @param ledgers - the ledger records (the engine's cache); read from the store when absent
 */
export function virtualDefundFor(store: Store, vd: VirtualData, paid?: bigint, ledgers?: Iterable<LedgerData>): Objective {
  if (vd.v === null || (vd.status !== 'funded' && vd.status !== 'closing')) {
    throw new SluiceError('CHANNEL_NOT_FUNDED', 'the virtual channel is not funded', { details: { channelId: vd.channelId } });
  }
  let bound: PaymentBound;
  if (vd.role === 'payer') bound = { role: 'payer', maxPaid: store.getVoucher(vd.channelId, 'payer')?.amount ?? 0n };
  else if (vd.role === 'payee') bound = { role: 'payee', minPaid: store.getVoucher(vd.channelId, 'payee')?.amount ?? 0n };
  else bound = { role: 'intermediary' };
  const all = ledgers === undefined ? listLedgerData(store) : [...ledgers]; // iterated twice
  const left = vd.role === 'payer' ? undefined : ledgersHolding(all, vd.channelId, vd.role === 'payee' ? vd.hub : vd.payer);
  const right = vd.role === 'payee' ? undefined : ledgersHolding(all, vd.channelId, vd.role === 'payer' ? vd.hub : vd.payee);
  if ((vd.role !== 'payer' && left === undefined) || (vd.role !== 'payee' && right === undefined)) {
    throw new SluiceError('CHANNEL_UNKNOWN', 'no ledger guarantees this virtual channel', { details: { channelId: vd.channelId } });
  }
  return newVirtualDefund({
    v: vd.v,
    bound,
    ...(left === undefined ? {} : { toMyLeft: left }),
    ...(right === undefined ? {} : { toMyRight: right }),
    ...(paid === undefined ? {} : { paid }),
  });
}

function joinVirtualDefund(ctx: JoinContext, msg: ProtocolMessage): Joined {
  if (msg.kind !== 'signedState') refuse('a virtual defund starts with the final state');
  const channelId = channelIdOf(msg.objectiveId);
  if (getChannelId(msg.state) !== channelId || msg.objectiveId !== virtualDefundId(channelId)) refuse('objective id does not match the state');
  const vd = virtualOf(ctx, channelId);
  if (vd === undefined) refuse('unknown virtual channel', { channelId });
  // The final state can overtake the last postfund signature on its way to us (the payer completes
  // first, then closes at once): not refused, retried once our virtual fund has completed.
  if (vd.status === 'funding') throw new SluiceError('PROTOCOL_NOT_READY', 'the virtual channel is still being funded here', { details: { channelId } });
  const objective = update(virtualDefundFor(ctx.store, vd, undefined, ctx.ledgers.list()), msg);
  return { objective, virtual: { ...vd, status: 'closing' } };
}

function joinDirectDefund(ctx: JoinContext, msg: ProtocolMessage): Joined {
  if (msg.kind !== 'signedState') refuse('a ledger closes with its final state');
  const ledgerId = channelIdOf(msg.objectiveId);
  if (getChannelId(msg.state) !== ledgerId || msg.objectiveId !== directDefundId(ledgerId)) refuse('objective id does not match the state');
  const ld = ctx.ledgers.get(ledgerId);
  if (ld?.ledger == null || ld.status !== 'open') refuse('no open ledger with this id', { ledgerId });
  if (ld.ledger.queue.length > 0) throw new SluiceError('PROTOCOL_NOT_READY', 'ledger has proposals in flight', { details: { ledgerId } });
  // Not while one of our objectives may still add to the ledger (a virtual fund whose guarantee
  // is not in yet, a top-up): signing the final state first and then the guarantee at the same
  // turn would fund a channel on a ledger already paid out (a hub could so close the payee's
  // ledger under a virtual fund and keep the payer's payment). A virtual defund only removes a
  // guarantee, and while one is in the ledger the close is refused anyway (LEDGER_NOT_EMPTY).
  for (const o of ctx.active()) {
    if ((o.type === 'virtualFund' || o.type === 'ledgerTopUp') && ledgersOf(o).some((l) => l.id === ledgerId)) {
      throw new SluiceError('PROTOCOL_NOT_READY', 'the ledger has objectives in flight', { details: { ledgerId, objectiveId: o.id } });
    }
  }
  const objective = update(newDirectDefund(ledgerToChannel(ld.ledger)), msg);
  return { objective, ledger: { ...ld, status: 'closing' } };
}

/** A top-up objective for a deposit by `depositor` that raised the holdings to `holdings`. */
export function topUpFor(ld: LedgerData, depositor: Address, holdings: bigint): Objective | undefined {
  if (ld.ledger === null) return undefined;
  const amount = holdings - ledgerTotal(pendingOutcome(ld.ledger));
  if (amount <= 0n || ld.ledger.queue.some((sp) => sp.proposal.type === 'topUp')) return undefined;
  return newLedgerTopUp({ ledger: ld.ledger, depositor, amount });
}

/** Whether a top-up of `ledgerId` is among `objectives` (at most one runs per ledger). */
export function topUpInProgress(objectives: Iterable<Objective>, ledgerId: ChannelId): boolean {
  for (const o of objectives) if (o.type === 'ledgerTopUp' && o.ledger.id === ledgerId) return true;
  return false;
}

/**
 * The ledger leader's top-up proposal: we (the follower) join it only when the holdings on chain
 * cover it — what the ledger already credits plus the amount — and no other top-up of the ledger
 * is in progress; otherwise it is not ready and the leader retries. So proposals alone create
 * nothing (a flood without a deposit leaves no objective behind), one deposit is credited once,
 * and we credit whom the leader's signed proposal names, never a guess from a deposit event.
 */
function joinLedgerTopUp(ctx: JoinContext, msg: ProtocolMessage): Joined {
  if (msg.kind !== 'ledgerProposal' || msg.signedProposal.proposal.type !== 'topUp') refuse('a top-up starts with a top-up proposal');
  const ledgerId = channelIdOf(msg.objectiveId);
  const ld = ctx.ledgers.get(ledgerId);
  if (ld?.ledger == null || ld.status !== 'open') refuse('no open ledger with this id', { ledgerId });
  if (ld.myIndex !== 1) refuse('only the ledger leader proposes a top-up', { ledgerId });
  if (topUpInProgress(ctx.active(), ledgerId)) throw new SluiceError('PROTOCOL_NOT_READY', 'another top-up of this ledger is in progress', { details: { ledgerId } });
  const p = msg.signedProposal.proposal;
  const depositor = ld.ledger.fixedPart.participants.find((a) => dest(a) === p.destination);
  if (depositor === undefined) refuse('top-up credits neither party');
  if (typeof p.amount !== 'bigint' || p.amount <= 0n) refuse('a top-up amount must be positive');
  const objective = newLedgerTopUp({ ledger: ld.ledger, depositor, amount: p.amount });
  if (objective.id !== msg.objectiveId) refuse('top-up does not match the ledger', { ledgerId });
  const held = ctx.holdings?.(ledgerId);
  if (held === undefined || held < objective.targetHoldings) {
    // Not seen (none since start, or a Deposited event this view missed): read the chain, so
    // the leader's retry finds it — one read in flight per ledger, so retries cost no more.
    ctx.readHoldings?.(ledgerId, ld.asset);
    throw new SluiceError('PROTOCOL_NOT_READY', 'the top-up deposit is not seen here yet', { details: { ledgerId } });
  }
  const joined = { ...objective, holdings: held };
  // Checked here (a bad signature leaves no record), applied by the engine once the objective is
  // created with the ledger's latest stored copy (which this check's result would not be).
  update(joined, msg);
  return { objective: joined };
}

/**
 * The ledger leader's removal of a settled virtual channel's guarantee (by on-chain proof): joined
 * only when OUR view of the chain shows V finalized (or concluded) with the outcome the proposal
 * applies — never on the leader's word. Before that it is not ready (the leader re-sends); a
 * different split is refused when the message is applied.
 */
function joinGuaranteeRemoval(ctx: JoinContext, msg: ProtocolMessage): Joined {
  if (msg.kind !== 'ledgerProposal' || msg.signedProposal.proposal.type !== 'remove') refuse('a guarantee removal starts with a removal proposal');
  const ids = parseGuaranteeRemovalId(msg.objectiveId);
  if (ids === undefined) refuse('malformed guarantee removal id');
  const ld = ctx.ledgers.get(ids.ledgerId);
  if (ld?.ledger == null || ld.status !== 'open') refuse('no open ledger with this id', { ledgerId: ids.ledgerId });
  if (ld.myIndex !== 1) refuse('only the ledger leader proposes a removal', { ledgerId: ids.ledgerId });
  if (msg.signedProposal.proposal.target.toLowerCase() !== ids.target) refuse('the proposal removes another channel', { ledgerId: ids.ledgerId });
  if (!consensusIncludes(ld.ledger, ids.target)) refuse('the ledger does not guarantee this channel', { ledgerId: ids.ledgerId, channelId: ids.target });
  const seen = ctx.virtualProof?.(ids.target);
  if (seen === undefined && virtualOf(ctx, ids.target) === undefined) refuse('unknown virtual channel', { channelId: ids.target });
  const objective = seen === undefined ? undefined : newGuaranteeRemoval({ ledger: ld.ledger, v: seen.v, proof: seen.proof });
  if (objective === undefined || removalByProof(objective) === null) {
    throw new SluiceError('PROTOCOL_NOT_READY', 'the virtual channel is not settled on chain in our view yet', { details: { channelId: ids.target } });
  }
  // Checked here (a bad signature or another split leaves no record), applied by the engine once
  // the objective is created with the ledger's latest stored copy.
  update(objective, msg);
  return { objective };
}

/**
 * Create the objective a peer's first message asks for, or throw why not.
 * @throws SluiceError HUB_POLICY_REJECTED (policy or role checks), PROTOCOL_NOT_READY (retry later),
 *   and any protocol error from applying the message
 */
export function joinObjective(ctx: JoinContext, msg: ProtocolMessage): Joined {
  const prefix = msg.objectiveId.slice(0, msg.objectiveId.indexOf('-'));
  switch (prefix) {
    case 'DirectFunding':
      return joinDirectFund(ctx, msg);
    case 'VirtualFund':
      return joinVirtualFund(ctx, msg);
    case 'VirtualDefund':
      return joinVirtualDefund(ctx, msg);
    case 'DirectDefunding':
      return joinDirectDefund(ctx, msg);
    case 'LedgerTopUp':
      return joinLedgerTopUp(ctx, msg);
    case 'GuaranteeRemoval':
      return joinGuaranteeRemoval(ctx, msg);
    default:
      return refuse('unknown objective');
  }
}
