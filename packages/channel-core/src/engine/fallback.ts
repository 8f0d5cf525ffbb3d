/**
 * The engine side of the on-chain fallback: what the node holds (for `fallbackPlan`), which
 * cooperative objectives a fallback supersedes, how a fallback objective reads as a dispute for
 * the Node API, and the defaults. Pure helpers over records and objectives (no I/O).
 */
import type { Address, ChannelId } from '../hex.ts';
import { addressToDestination, sameAddress } from '../address.ts';
import type { Outcome } from '../outcome.ts';
import type { Store } from '../ports/store.ts';
import type { Channel } from '../protocols/channel.ts';
import { latestSupportedState } from '../protocols/channel.ts';
import { type OnChainRecord, allocatedTo, guaranteesOf, isFinalizedAt, reclaimOutcome, redemptionState } from '../protocols/dispute.ts';
import type { FallbackContext, HeldVirtual } from '../protocols/fallback.ts';
import type { Destination, Transaction } from '../protocols/types.ts';
import type { ConsensusChannel } from '../protocols/ledger.ts';
import { type LedgerExitObjective, currentLedgerOutcome, ledgerExitPaid } from '../protocols/ledger-exit.ts';
import type { Objective } from '../protocols/objective.ts';
import type { VirtualChallengeObjective } from '../protocols/virtual-challenge.ts';
import { virtualDefundId } from '../protocols/virtual-defund.ts';
import { virtualFundId } from '../protocols/virtual-fund.ts';
import { directDefundId, finalStateConcluded } from '../protocols/direct-defund.ts';
import { VIRTUAL_FINAL_TURN, VIRTUAL_POSTFUND_TURN } from '../protocols/virtual-channel.ts';
import type { Voucher } from '../voucher.ts';
import { type LedgerData, type VirtualData, listVirtualData } from './records.ts';

/** When and how the engine goes on chain by itself. */
export interface FallbackConfig {
  /**
   * Go on chain without being asked when a counterparty stays silent (default true, every role):
   * a cooperative objective that waits on a peer's signature (virtual defund, ledger close,
   * top-up, the postfund of a virtual fund) for `peerTimeoutMs` after re-sends settles the
   * channels shared with that peer on chain. The watchtower (answering challenges) is always on.
   */
  readonly auto?: boolean;
  /**
   * Silence (no progress while waiting on a peer) before the automatic on-chain path (default
   * 600 000 = 10 min). Counted from the engine's start at the earliest: our own downtime is not
   * the peer's silence.
   */
  readonly peerTimeoutMs?: number;
  /**
   * Head start (ms, wall clock) given to the party that leads a step two parties may make at
   * once: of two such steps one reverts, mined and paid for on a real chain
   * ({@link headStartRank}). A ledger's follower (its second participant) waits this long at each
   * payout step of a ledger exit (reclaim, transfer); in a virtual channel's challenge the payee
   * leads, the payer waits this long and the hub twice as long. Once the chain has not moved in
   * that time, the party stops waiting in that objective. Default 0 (none) in the engine; a node
   * sets it from its chain (see `Node`).
   */
  readonly followerHeadStartMs?: number;
}

/** Real-network defaults (seconds / ms), documented in ADR 0008. */
export const FALLBACK_DEFAULTS = {
  /** Challenge duration of new ledger channels (s): long enough for a watchtower that polls to answer. */
  ledgerChallengeDuration: 86_400,
  /** Challenge duration of new virtual channels (s): the payee must answer a payer's stale challenge within it. */
  virtualChallengeDuration: 3_600,
  /** See {@link FallbackConfig.peerTimeoutMs}. */
  peerTimeoutMs: 600_000,
} as const;

/**
 * A node's default {@link FallbackConfig.followerHeadStartMs}: long enough for the party ahead to
 * see the finalization (two polls of the chain), send (at least 1 s) and have its step mined (a
 * block: none on a local chain, which mines one per transaction; elsewhere the block time read
 * from the RPC, or Ethereum's 12 s when the chain cannot tell). 2 s on a local chain polled every
 * second, 14 s on Ethereum.
 */
export function defaultHeadStartMs(chain: { readonly pollIntervalMs: number; readonly local: boolean; readonly blockTimeS: number | undefined }): number {
  return Math.max(1_000, 2 * chain.pollIntervalMs) + (chain.local ? 0 : (chain.blockTimeS ?? 12)) * 1000;
}

export type FallbackObjective = VirtualChallengeObjective | LedgerExitObjective;

export function isFallbackObjective(o: Objective): o is FallbackObjective {
  return o.type === 'virtualChallenge' || o.type === 'ledgerExit';
}

/** The channel a fallback objective settles. */
export function settledChannel(o: FallbackObjective): ChannelId {
  return o.type === 'virtualChallenge' ? o.v.id : o.ledger.id;
}

/**
 * Cooperative objective types whose silence is a reason to go on chain (they wait on a peer's
 * signature). Not a ledger top-up: it locks nothing of ours beyond the deposit, and that deposit
 * is credited only by the peer's countersignature — exiting the ledger meanwhile would pay out
 * the last agreed state and leave the deposit in the adjudicator for good, while waiting keeps it
 * for when the peer answers (the user can still exit by hand, `sluice withdraw`, and is warned).
 */
export function needsPeer(o: Objective, waitingFor: string): boolean {
  switch (o.type) {
    case 'virtualDefund':
      return true;
    case 'directDefund':
      // concluded on chain (by the peer, without the transfer): the chain decides now, the peer is not needed
      return !o.channel.concluded;
    case 'virtualFund':
      return waitingFor === 'WaitingForCompletePostFund' || waitingFor === 'WaitingForCompleteFunding';
    case 'guaranteeRemoval':
      // V is settled on chain and the peer does not agree the removal (silent or refusing): the
      // ledger is exited on chain instead (V being finalized, the exit can reclaim the guarantee)
      return waitingFor === 'WaitingForLedgerUpdate';
    default:
      return false;
  }
}

/** Channels a cooperative objective works on (the channel itself and the ledgers it uses). */
export function channelsOf(o: Objective): ChannelId[] {
  switch (o.type) {
    case 'directFund':
    case 'directDefund':
      return [o.channel.id];
    case 'ledgerTopUp':
    case 'guaranteeRemoval':
      return [o.ledger.id];
    case 'virtualFund':
    case 'virtualDefund':
      return [o.v.id, ...[o.toMyLeft, o.toMyRight].filter((l): l is ConsensusChannel => l !== null).map((l) => l.id)];
    default:
      return [];
  }
}

/**
 * Our cooperative close of this ledger saw its final state concluded on chain: there is nothing to
 * challenge (its payout follows in the same transaction), and once paid out the adjudicator forgets
 * the channel (`statusOf` deleted), so a challenge of an older state would be *accepted* — a day's
 * wait and gas for money already paid. No fallback objective for such a ledger.
 */
export function closedOnChain(ledgerId: ChannelId, active: ReadonlyMap<string, { objective: Objective }>): boolean {
  const d = active.get(directDefundId(ledgerId))?.objective;
  return d?.type === 'directDefund' && d.status !== 'rejected' && finalStateConcluded(d);
}

/** The freshest copy of V we hold: the virtual defund's (it may carry the unanimous final state), else the record's. */
export function freshestVirtual(vd: VirtualData, active: ReadonlyMap<string, { objective: Objective }>): Channel | null {
  const d = active.get(virtualDefundId(vd.channelId))?.objective;
  if (d !== undefined && d.type === 'virtualDefund' && latestSupportedState(d.v) !== undefined) {
    const mine = latestSupportedState(d.v)!.state.turnNum;
    const rec = vd.v === null ? -1 : (latestSupportedState(vd.v)?.state.turnNum ?? -1);
    if (mine >= rec) return d.v;
  }
  return vd.v;
}

/**
 * V as we hold it while we are still opening it, once every participant signed its prefund (our
 * virtual fund objective holds a supported state): the watchtower's `FallbackContext.opening`.
 * Null for any other record.
 */
export function openingVirtual(vd: VirtualData, active: ReadonlyMap<string, { objective: Objective }>): Channel | null {
  if (vd.status !== 'funding') return null;
  const f = active.get(virtualFundId(vd.channelId))?.objective;
  return f?.type === 'virtualFund' && latestSupportedState(f.v) !== undefined ? f.v : null;
}

/**
 * What the node holds, for `fallbackPlan`: open (or closing) ledgers and funded (or closing)
 * virtual channels, with the payee's best voucher. `virtuals`: the virtual channel records to
 * consider — the engine passes its index of open ones (every record ever written, closed ones
 * included, when absent: a scan that grows with the node's history).
 */
export function fallbackContext(
  store: Store,
  ledgers: Iterable<LedgerData>,
  active: ReadonlyMap<string, { objective: Objective }>,
  live: readonly string[],
  now: number,
  virtuals?: Iterable<VirtualData>,
): FallbackContext {
  const ls: ConsensusChannel[] = [];
  for (const ld of ledgers) {
    if (ld.ledger !== null && (ld.status === 'open' || ld.status === 'closing') && !closedOnChain(ld.ledgerId, active)) ls.push(ld.ledger);
  }
  const vs: HeldVirtual[] = [];
  const opening: HeldVirtual[] = [];
  for (const vd of virtuals ?? listVirtualData(store)) {
    if (vd.status === 'funding') {
      const channel = openingVirtual(vd, active);
      if (channel !== null) opening.push({ channel, bestVoucher: null });
      continue;
    }
    if (vd.status !== 'funded' && vd.status !== 'closing') continue;
    const channel = freshestVirtual(vd, active);
    if (channel === null || latestSupportedState(channel) === undefined) continue;
    let bestVoucher: Voucher | null = null;
    if (vd.role === 'payee') {
      const r = store.getVoucher(vd.channelId, 'payee');
      if (r !== undefined) bestVoucher = { channelId: vd.channelId, amount: r.amount, signature: r.signature as Voucher['signature'] };
    }
    vs.push({ channel, bestVoucher });
  }
  return { ledgers: ls, virtuals: vs, opening, live, now };
}

// ---------------------------------------------------------------- disputes (read model)

/** One channel being settled on chain, for `status` displays. */
export interface DisputeInfo {
  readonly channelId: ChannelId;
  readonly kind: 'ledger' | 'virtual';
  readonly objectiveId: string;
  /** `registering`: our move is submitted or not yet allowed; `challenge`: a challenge runs; `finalized`: paying out. */
  readonly phase: 'registering' | 'challenge' | 'finalized';
  /** The protocol's pause point (e.g. `WaitingForFinalization`, `WaitingForReclaim`). */
  readonly waitingFor: string;
  /** Turn registered on chain (null before any dispute event). */
  readonly turnNumRecord: number | null;
  /** Chain time (s) the registered state finalizes at; null when none runs. */
  readonly finalizesAt: number | null;
  /** Seconds of chain time left before finalization (0 once finalized; null when none runs). */
  readonly secondsLeft: number | null;
  /** Latest chain time the objective saw (s). */
  readonly chainTime: number;
  /**
   * What each participant gets under the registered outcome (guarantees whose channel's outcome is
   * settled are resolved; otherwise they show in `locked`). Before registration: the outcome of
   * the state we are registering (the payee's: its voucher redemption).
   */
  readonly amounts: readonly { readonly participant: Address; readonly amount: bigint }[];
  /** Our share of `amounts`. */
  readonly mine: bigint;
  /** Still in unresolved guarantees (ledgers). */
  readonly locked: bigint;
  /**
   * False while the payout can still change under `amounts`: a virtual channel registered (or
   * being registered) at its postfund by the payer or the hub, which the payee can still replace
   * with its voucher redemption before it finalizes. `amounts` and `mine` are then that state's
   * (the payer's whole deposit), not what will be paid: displays say "not known yet".
   */
  readonly amountsKnown: boolean;
}

function registeredOrHeld(rec: OnChainRecord | null, ch: Channel): Outcome | null {
  return rec?.outcome ?? latestSupportedState(ch)?.state.outcome ?? null;
}

function amountsOf(participants: readonly Address[], outcome: Outcome | null): { participant: Address; amount: bigint }[] {
  return participants.map((p) => ({ participant: p, amount: outcome === null ? 0n : allocatedTo(outcome, addressToDestination(p) as never) }));
}

/**
 * A virtual channel's on-chain outcome can no longer be changed by a move: finalized, concluded,
 * or registered at the redemption turn (the postfund, turn 1, can be replaced by the payee's
 * redemption until it finalizes).
 */
function virtualOutcomeSettled(rec: OnChainRecord | null, now: number): boolean {
  return rec !== null && (isFinalizedAt(rec, now) || rec.turnNumRecord >= VIRTUAL_FINAL_TURN);
}

/**
 * The outcome a virtual challenge registers, before anything is on chain: the payee's redemption
 * of its best voucher over the postfund (what `bestExitMove` submits), else the latest supported
 * state (the postfund, or a unanimous final state that concludes).
 */
function virtualMoveOutcome(o: VirtualChallengeObjective): { outcome: Outcome | null; turnNum: number | null; isFinal: boolean } {
  const latest = latestSupportedState(o.v);
  if (latest === undefined) return { outcome: null, turnNum: null, isFinal: false };
  const payee = o.v.myIndex === o.v.fixedPart.participants.length - 1;
  if (payee && !latest.state.isFinal && o.bestVoucher !== null && o.bestVoucher.amount > 0n && latest.state.turnNum === VIRTUAL_POSTFUND_TURN) {
    return { outcome: redemptionState(o.v, latest.state, o.bestVoucher).outcome, turnNum: VIRTUAL_FINAL_TURN, isFinal: false };
  }
  return { outcome: latest.state.outcome, turnNum: latest.state.turnNum, isFinal: latest.state.isFinal };
}

/** A fallback objective as a dispute. */
export function disputeInfo(o: FallbackObjective, waitingFor: string, me: Address): DisputeInfo {
  const rec = o.onChain;
  const running = rec !== null && !rec.concluded && rec.finalizesAt !== 0;
  const finalized = isFinalizedAt(rec, o.now);
  const finalizesAt = running ? rec.finalizesAt : null;
  let outcome: Outcome | null;
  let locked = 0n;
  let participants: readonly Address[];
  let amountsKnown = true;
  if (o.type === 'virtualChallenge') {
    participants = o.v.fixedPart.participants;
    if (rec?.outcome != null) {
      outcome = rec.outcome;
      amountsKnown = virtualOutcomeSettled(rec, o.now);
    } else {
      // nothing registered yet: the state our move registers
      const move = virtualMoveOutcome(o);
      outcome = move.outcome;
      amountsKnown = move.isFinal || (move.turnNum !== null && move.turnNum >= VIRTUAL_FINAL_TURN);
    }
  } else {
    participants = o.ledger.fixedPart.participants;
    outcome = rec?.outcome == null ? registeredOrHeld(null, o.ledger) : currentLedgerOutcome(o);
    if (outcome !== null) {
      for (const g of guaranteesOf(outcome)) {
        const t = o.targets[g.allocation.destination];
        const at = guaranteesOf(outcome).find((x) => x.allocation.destination === g.allocation.destination)!;
        // only a settled target outcome: a postfund the payee can still replace stays locked
        if (t?.outcome != null && virtualOutcomeSettled(t, o.now)) {
          try {
            outcome = reclaimOutcome(outcome, 0, at.index, t.outcome);
            continue;
          } catch {
            // not reclaimable as registered: keep it locked
          }
        }
        locked += g.allocation.amount;
      }
    }
  }
  const amounts = amountsOf(participants, outcome);
  return {
    channelId: settledChannel(o),
    kind: o.type === 'virtualChallenge' ? 'virtual' : 'ledger',
    objectiveId: o.id,
    phase: finalized ? 'finalized' : running ? 'challenge' : 'registering',
    waitingFor,
    turnNumRecord: rec === null ? null : rec.turnNumRecord,
    finalizesAt,
    secondsLeft: finalizesAt === null ? (finalized ? 0 : null) : Math.max(0, finalizesAt - o.now),
    chainTime: o.now,
    amounts,
    mine: amounts.filter((a) => sameAddress(a.participant, me)).reduce((s, a) => s + a.amount, 0n),
    locked,
    amountsKnown,
  };
}

/**
 * What a finished ledger exit paid each participant ({@link ledgerExitPaid}: its outcome after every
 * reclaim, attributed from the payout when someone else reclaimed, paid from the holdings the
 * transfer saw), and what it paid to the parties in a split we cannot tell (`unattributed`).
 */
export function ledgerExitPayouts(o: LedgerExitObjective): { amounts: { participant: Address; amount: bigint }[]; unattributed: bigint } {
  const participants = o.ledger.fixedPart.participants;
  const paid = ledgerExitPaid(o, participants.map((p) => addressToDestination(p) as Destination));
  return { amounts: participants.map((participant, i) => ({ participant, amount: paid.amounts[i]!.amount })), unattributed: paid.unattributed };
}

/** What a finalized virtual channel pays its payee (the registered or concluded outcome). */
export function virtualPaid(o: VirtualChallengeObjective): bigint | undefined {
  const out = o.onChain?.outcome;
  if (out == null) return undefined;
  const payee = o.v.fixedPart.participants[o.v.fixedPart.participants.length - 1]!;
  return allocatedTo(out, addressToDestination(payee) as never);
}

/**
 * How many head starts ({@link FallbackConfig.followerHeadStartMs}) we give others before making
 * fallback step `tx` of objective `o`; 0 = we lead (send at once).
 * - A ledger exit's payout steps (reclaim, transfer) on its ledger: both ends see the ledger
 *   finalize at the same block. The leader (participant 0, who opened it) leads; the follower
 *   waits one. The same for its first move (challenge, conclude) while nothing is registered:
 *   both ends may give up on each other at once (a partition between them), and of two
 *   challenges at one turn the second reverts.
 * - A virtual challenge's first move (challenge, conclude) on V, nothing registered yet: every
 *   party of V may settle it at once (each exits its own ledger), and of two moves at one turn the
 *   second reverts ("turnNumRecord not increased"). The payee leads: its move (the redemption of
 *   the best voucher) is the best one and makes the others' unnecessary. Then the payer, then each
 *   intermediary in turn (the hub waits two).
 * Other steps are made at once: an answer to a registered challenge (counter-challenge, conclude,
 * checkpoint) races its finalization.
 */
export function headStartRank(o: Objective | undefined, tx: Transaction): number {
  if (o === undefined) return 0;
  if (o.type === 'ledgerExit') {
    if (!sameChannel(o.ledger.id, tx.channelId) || o.ledger.myIndex !== 1) return 0;
    if (tx.kind === 'reclaim' || tx.kind === 'transferAllAssets') return 1;
    return firstMove(tx, o.onChain) ? 1 : 0;
  }
  if (o.type === 'virtualChallenge') {
    if (!sameChannel(o.v.id, tx.channelId) || !firstMove(tx, o.onChain)) return 0;
    const payee = o.v.fixedPart.participants.length - 1;
    return o.v.myIndex === payee ? 0 : o.v.myIndex + 1;
  }
  return 0;
}

/** A challenge or conclude while nothing is registered; an answer to a registered challenge races its finalization. */
function firstMove(tx: Transaction, rec: OnChainRecord | null): boolean {
  return (tx.kind === 'challenge' || tx.kind === 'conclude') && (rec === null || rec.finalizesAt === 0);
}

function sameChannel(a: ChannelId, b: ChannelId): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
