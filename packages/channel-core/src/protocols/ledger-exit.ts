/**
 * Ledger exit: settle a ledger channel on chain and pay it out — the sad-path counterpart of a
 * ledger defund, for when the counterparty is gone or cheats.
 *
 * 1. register the ledger's latest supported state (`challenge`; `conclude` if we hold a unanimous
 *    final state); a running challenge with an older state is raised by a counter-challenge;
 * 2. wait until chain time reaches `finalizesAt`;
 * 3. for every guarantee left in the finalized outcome, once its virtual channel is finalized,
 *    `reclaim` it into the ledger (one at a time: each reclaim rewrites the fingerprint the next
 *    one is checked against);
 * 4. when no guarantee is left, `transferAllAssets` with the resulting outcome; complete when the
 *    chain reports the transfer (`allocationUpdated`).
 *
 * Never reclaims or transfers before the ledger *and* the guaranteed channel are finalized at the
 * chain time fed in. Each step records its submission (`pending`), so a crank after a crash does
 * not submit again; a chain event showing the step done (by anyone) advances it; the engine calls
 * {@link onTransactionFailed} when a submission reverted or was dropped, and the next crank retries
 * with the arguments recomputed from what the chain reported.
 */
import type { Bytes32, ChannelId } from '../hex.ts';
import type { Outcome } from '../outcome.ts';
import type { FixedPart } from '../state.ts';
import { getChannelId } from '../state.ts';
import { type Channel, addSignedState, latestSupportedState } from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import { type ConsensusChannel, ledgerToChannel } from './ledger.ts';
import {
  type OnChainRecord,
  allocatedTo,
  applyStatusToRecord,
  applyToRecord,
  bestExitMove,
  challengeRunning,
  guaranteesOf,
  heldFinalOutcome,
  isFinalizedAt,
  moveTransaction,
  needsStatus,
  reclaimOutcome,
  signedFinalOutcomes,
  stateFromVariablePart,
  statusFingerprint,
  transferPayouts,
} from './dispute.ts';
import type { ChallengeClearedEvent, CrankResult, Destination, Effect, ObjectiveEvent, ObjectiveStatus, Secrets } from './types.ts';

export type LedgerExitWaitingFor =
  /** Our challenge (or conclude) of the ledger is submitted; its event has not arrived. */
  | 'WaitingForChallengeRegistered'
  /** The ledger's challenge runs; chain time has not reached `finalizesAt`. */
  | 'WaitingForFinalization'
  /**
   * The chain records a newer turn than we hold and no challenge runs, or the ledger was concluded
   * with a final state we do not hold: only the counterparty can move.
   */
  | 'WaitingForOtherParticipant'
  /** A guarantee's virtual channel is not finalized yet (its virtual challenge runs, or nobody challenged it). */
  | 'WaitingForVirtualFinalization'
  /**
   * The engine must feed `channelStatus` ({@link channelsNeedingStatus}): a `Reclaimed` event did
   * not say which guarantee, or the ledger was concluded with a final state we do not hold with
   * every signature (the status tells which of the final states we signed it was).
   */
  | 'WaitingForChannelStatus'
  | 'WaitingForReclaim'
  /**
   * Someone else (the counterparty, as a rule) reclaimed a guarantee of the ledger less than
   * {@link RECLAIM_YIELD_S} of chain time ago: we leave the next reclaims and the transfer to them.
   */
  | 'WaitingForCounterpartyReclaims'
  | 'WaitingForTransfer'
  | 'WaitingForNothing';

export type PendingStep =
  | { readonly kind: 'challenge' | 'conclude'; readonly turnNum: number }
  | { readonly kind: 'reclaim'; readonly target: ChannelId }
  | { readonly kind: 'transferAllAssets' };

/** A virtual channel a ledger guarantee may target: its fixed part and the final outcome we hold, if any. */
export interface GuaranteedChannel {
  readonly id: ChannelId;
  readonly fixedPart: FixedPart;
  /** Outcome of V's unanimous final state, if we hold one (needed if V gets `conclude`d). */
  readonly finalOutcome: Outcome | null;
}

export interface LedgerExitObjective {
  readonly type: 'ledgerExit';
  readonly id: string;
  readonly status: ObjectiveStatus;
  readonly ledger: Channel;
  readonly virtuals: readonly GuaranteedChannel[];
  /** The ledger on chain (registered outcome; reclaimed targets). */
  readonly onChain: OnChainRecord | null;
  /** The guaranteed channels on chain, by id. */
  readonly targets: Readonly<Record<string, OnChainRecord>>;
  readonly now: number;
  readonly pending: PendingStep | null;
  readonly transferred: boolean;
  /**
   * The payout that completed the exit (`AllocationUpdated`): the holdings it paid from (null when
   * the event did not carry them) and what it left. What each party got is {@link ledgerExitPaid}.
   * Absent before the transfer (and in objectives persisted before it existed).
   */
  readonly transfer?: { readonly initialHoldings: bigint | null; readonly holdings: bigint };
  /**
   * Chain time at which we last applied a `Reclaimed` on the ledger that was not ours (the engine
   * names the target of its own reclaims from the hash it sent); absent: none yet.
   */
  readonly foreignReclaimAt?: number;
}

/**
 * How long (chain seconds) we leave a ledger's reclaims (and its transfer) to whoever else is
 * making them.
 *
 * Both parties of an exited ledger reclaim its guarantees one at a time, and each reclaim rewrites
 * the fingerprint the next one must quote: of two built on the same fingerprint, one reverts
 * ("incorrect fingerprint"). Without a yield the party that lost the first race stayed one step
 * behind the winner: it learned of each reclaim from the winner's event and sent the next one,
 * which the winner had sent already, so every guarantee cost it a revert (bench:chaos: bursts of
 * 4-6 in under a second; 20-25 per 7-minute run). Now whoever sees someone else's reclaim lets them
 * go on (the transfer too, which would race theirs the same way). The winner of the first race sees
 * no reclaim but its own and goes on alone. The yield ends once nobody else has reclaimed for this
 * long (the other party stopped midway: gone, or missing what a reclaim needs), so even two parties
 * that each saw the other's reclaims wait at most this long before trying again.
 * Chain time: on a chain that mines only on transactions (anvil's automine), it advances with them.
 */
export const RECLAIM_YIELD_S = 30;

export function ledgerExitId(channelId: ChannelId): string {
  return `LedgerExit-${channelId}`;
}

/** A guaranteed channel's record for a ledger exit, from the channel we hold. */
export function guaranteedChannel(v: Channel): GuaranteedChannel {
  return { id: v.id, fixedPart: v.fixedPart, finalOutcome: heldFinalOutcome(v) };
}

export interface NewLedgerExitInput {
  /** The ledger (a consensus channel, or its channel form, e.g. with a final state signed). */
  readonly ledger: ConsensusChannel | Channel;
  /** The virtual channels its guarantees may target (every V we hold that uses this ledger). */
  readonly virtuals?: readonly (GuaranteedChannel | Channel)[];
  readonly now?: number;
}

/**
 * Start exiting a ledger on chain.
 * @throws SluiceError INVALID_ARGUMENT (not a 2-party channel, no supported state, bad now)
 */
export function newLedgerExit(input: NewLedgerExitInput): LedgerExitObjective {
  const ledger: Channel = 'current' in input.ledger ? ledgerToChannel(input.ledger) : input.ledger;
  if (ledger.fixedPart.participants.length !== 2) fail('INVALID_ARGUMENT', 'a ledger has exactly two participants');
  if (latestSupportedState(ledger) === undefined) fail('INVALID_ARGUMENT', 'nothing to register: the ledger has no supported state', { channelId: ledger.id });
  const virtuals = (input.virtuals ?? []).map((v) => ('states' in v ? guaranteedChannel(v) : { ...v, id: getChannelId(v.fixedPart) }));
  const now = input.now ?? 0;
  if (!Number.isSafeInteger(now) || now < 0) fail('INVALID_ARGUMENT', 'now must be a chain time in seconds');
  return {
    type: 'ledgerExit',
    id: ledgerExitId(ledger.id),
    status: 'approved',
    ledger,
    virtuals,
    onChain: null,
    targets: {},
    now,
    pending: null,
    transferred: false,
  };
}

/** Add a virtual channel the ledger may guarantee (the engine learnt of it after the exit started). */
export function withGuaranteedChannel(o: LedgerExitObjective, v: Channel | GuaranteedChannel): LedgerExitObjective {
  const g = 'states' in v ? guaranteedChannel(v) : v;
  if (o.virtuals.some((x) => x.id === g.id)) return o;
  return { ...o, virtuals: [...o.virtuals, g] };
}

/**
 * Seed what the chain recorded for a guaranteed channel from our own view of it (the record its
 * virtual challenge built from our chain events), when this exit has none: an exit started after V
 * was settled (its guarantee's cooperative removal timed out) saw none of V's events — the payee's
 * redemption above all, a state the other parties do not hold. Later events still apply on top
 * (the record's cursor orders them).
 */
export function withTargetRecord(o: LedgerExitObjective, target: ChannelId, record: OnChainRecord): LedgerExitObjective {
  if (o.targets[target] !== undefined || !o.virtuals.some((v) => v.id === target)) return o;
  return { ...o, targets: { ...o.targets, [target]: record } };
}

/** The channel ids whose chain events this exit consumes: the ledger and the channels it guarantees. */
export function ledgerExitChannels(o: LedgerExitObjective): ChannelId[] {
  return [o.ledger.id, ...o.virtuals.map((v) => v.id)];
}

/**
 * Guarantee targets in the registered ledger outcome whose fixed part this exit does not know:
 * the engine must add them ({@link withGuaranteedChannel}) or the exit waits for them forever.
 */
export function unknownGuaranteeTargets(o: LedgerExitObjective): ChannelId[] {
  const out = o.onChain?.outcome ?? null;
  if (out === null) return [];
  return guaranteesOf(out)
    .map((g) => g.allocation.destination as ChannelId)
    .filter((t) => !o.virtuals.some((v) => v.id === t));
}

function targetRecord(o: LedgerExitObjective, id: ChannelId): OnChainRecord | undefined {
  return o.targets[id];
}

/** The target is finalized at the objective's chain time and its outcome is known. */
function targetReady(o: LedgerExitObjective, id: ChannelId): OnChainRecord | undefined {
  const r = targetRecord(o, id);
  return r !== undefined && isFinalizedAt(r, o.now) && r.outcome !== null ? r : undefined;
}

/**
 * The ledger's outcome on chain now: the registered outcome with every known reclaim applied
 * (reclaims commute: each removes its guarantee and credits the ledger's two parties).
 */
export function currentLedgerOutcome(o: LedgerExitObjective, reclaimed: readonly ChannelId[] = o.onChain?.reclaimed ?? []): Outcome | null {
  let out = o.onChain?.outcome ?? null;
  if (out === null) return null;
  for (const target of reclaimed) {
    const at = guaranteesOf(out).find((g) => g.allocation.destination === target);
    const t = targetRecord(o, target);
    if (at === undefined || t === undefined || t.outcome === null) return fail('INTERNAL', 'a reclaimed guarantee is not in the outcome', { target });
    out = reclaimOutcome(out, 0, at.index, t.outcome);
  }
  return out;
}

/** Guarantees whose target is finalized and not known to be reclaimed: candidates for unattributed reclaims. */
function reclaimCandidates(o: LedgerExitObjective): ChannelId[] {
  const out = currentLedgerOutcome(o);
  if (out === null) return [];
  return guaranteesOf(out)
    .map((g) => g.allocation.destination as ChannelId)
    .filter((t) => targetRecord(o, t)?.outcome != null && (targetRecord(o, t)!.concluded || targetRecord(o, t)!.finalizesAt !== 0));
}

/**
 * The channels whose `statusOf` the engine must read and feed (`channelStatus`): the ledger when a
 * `Reclaimed` event did not say which guarantee, and the ledger or any guaranteed channel that was
 * concluded with an outcome our events do not give (read once: the record keeps the fingerprint).
 */
export function channelsNeedingStatus(o: LedgerExitObjective): ChannelId[] {
  if (o.status !== 'approved') return [];
  const out: ChannelId[] = [];
  if (o.onChain !== null && (o.onChain.unresolvedReclaims > 0 || needsStatus(o.onChain))) out.push(o.ledger.id);
  for (const v of o.virtuals) if (needsStatus(o.targets[v.id] ?? null)) out.push(v.id);
  return out;
}

/** Attribute unattributed reclaims when only one assignment is possible. */
function inferReclaims(o: LedgerExitObjective): LedgerExitObjective {
  const rec = o.onChain;
  if (rec === null || rec.unresolvedReclaims === 0) return o;
  const candidates = reclaimCandidates(o);
  if (candidates.length !== rec.unresolvedReclaims) return o;
  return withResolvedReclaims(o, candidates);
}

function withResolvedReclaims(o: LedgerExitObjective, targets: readonly ChannelId[]): LedgerExitObjective {
  const rec = o.onChain!;
  const pending = o.pending?.kind === 'reclaim' && targets.includes(o.pending.target) ? null : o.pending;
  return { ...o, onChain: { ...rec, reclaimed: [...rec.reclaimed, ...targets], unresolvedReclaims: 0 }, pending };
}

/**
 * Every guarantee still in our view of the registered outcome was reclaimed: as many `Reclaimed`
 * events are unattributed as guarantees are left (each reclaim removes one). That is the case
 * whenever the ledger was paid out with `transferAllAssets` (it reverts while a guarantee remains)
 * after another account reclaimed — and after a full payout `statusOf` is deleted, so no status
 * fingerprint can tell which was which.
 */
function allReclaimed(o: LedgerExitObjective): boolean {
  const rec = o.onChain;
  if (rec === null || rec.outcome === null) return false;
  try {
    const out = currentLedgerOutcome(o);
    return out !== null && guaranteesOf(out).length === rec.unresolvedReclaims;
  } catch {
    return false;
  }
}

/**
 * When every guarantee left was reclaimed ({@link allReclaimed}), attribute the reclaims of those
 * whose channel's outcome we know; the others stay unattributed (their split is not known here).
 */
function attributeBeforeTransfer(o: LedgerExitObjective): LedgerExitObjective {
  const rec = o.onChain;
  if (rec === null || rec.unresolvedReclaims === 0 || !allReclaimed(o)) return o;
  const left = guaranteesOf(currentLedgerOutcome(o)!).map((g) => g.allocation.destination as ChannelId);
  const known = left.filter((t) => targetRecord(o, t)?.outcome != null);
  if (known.length === 0) return o;
  const pending = o.pending?.kind === 'reclaim' && known.includes(o.pending.target) ? null : o.pending;
  return { ...o, onChain: { ...rec, reclaimed: [...rec.reclaimed, ...known], unresolvedReclaims: rec.unresolvedReclaims - known.length }, pending };
}

/** What a ledger exit's payout paid, by destination, and what it paid to destinations we cannot tell. */
export interface LedgerExitPaid {
  /** Paid to each destination of the ledger's outcome (parties absent from it get 0). */
  readonly amounts: readonly { readonly destination: Destination; readonly amount: bigint }[];
  /**
   * Locked in guarantees whose reclaim we could not attribute (their channel's outcome unknown):
   * paid to the ledger's parties in a split we cannot tell.
   */
  readonly unattributed: bigint;
}

/**
 * What the ledger's payout paid each destination: the registered outcome with every reclaim applied,
 * paid in allocation order from the holdings the transfer saw (an allocation takes min(amount, what
 * is left): a donation's surplus stays in the adjudicator, a shortfall falls on the last ones).
 * Before the transfer: what the outcome allocates.
 */
export function ledgerExitPaid(o: LedgerExitObjective, destinations: readonly Destination[]): LedgerExitPaid {
  let out: Outcome | null;
  try {
    out = currentLedgerOutcome(attributeBeforeTransfer(o));
  } catch {
    out = null;
  }
  if (out === null) return { amounts: destinations.map((destination) => ({ destination, amount: 0n })), unattributed: 0n };
  const guarantees = guaranteesOf(out);
  const unattributed = guarantees.reduce((s, g) => s + g.allocation.amount, 0n);
  const exit = out[0];
  const initial = o.transfer?.initialHoldings ?? null;
  if (exit !== undefined && initial !== null && guarantees.length === 0) {
    const { payouts } = transferPayouts(initial, exit.allocations);
    const paid = (d: Destination): bigint => payouts.filter((p) => p.destination === d).reduce((s, p) => s + p.amount, 0n);
    return { amounts: destinations.map((destination) => ({ destination, amount: paid(destination) })), unattributed };
  }
  return { amounts: destinations.map((destination) => ({ destination, amount: allocatedTo(out, destination) })), unattributed };
}

function* combinations<T>(items: readonly T[], k: number, from = 0): Generator<T[]> {
  if (k === 0) {
    yield [];
    return;
  }
  for (let i = from; i <= items.length - k; i++) for (const rest of combinations(items, k - 1, i + 1)) yield [items[i]!, ...rest];
}

/** Most candidate sets tried against a status fingerprint. */
export const MAX_RECLAIM_RESOLUTION_TRIES = 20_000;

/** Advance the objective as far as it can go without new input. */
export function crankLedgerExit(o: LedgerExitObjective, secrets: Secrets): CrankResult<LedgerExitObjective, LedgerExitWaitingFor> {
  if (o.status !== 'approved') return { objective: o, effects: [], waitingFor: 'WaitingForNothing' };
  const effects: Effect[] = [];
  const rec = o.onChain;
  const id = o.ledger.id;

  // 1-2. register and wait for finalization
  if (!isFinalizedAt(rec, o.now)) {
    const running = challengeRunning(rec, o.now);
    const move = bestExitMove(o.ledger, secrets.privateKey);
    if (move === undefined) return fail('INTERNAL', 'the ledger lost its supported state');
    const allowed = move.kind === 'conclude' || rec === null || (running ? move.turnNum > rec.turnNumRecord : move.turnNum >= rec.turnNumRecord);
    let pending = o.pending;
    if (allowed && pending === null) {
      effects.push({ type: 'submitTransaction', tx: moveTransaction(id, move, 'challenge', secrets.privateKey) });
      pending = { kind: move.kind === 'conclude' ? 'conclude' : 'challenge', turnNum: move.turnNum };
    }
    const waitingFor: LedgerExitWaitingFor =
      pending !== null ? 'WaitingForChallengeRegistered' : running ? 'WaitingForFinalization' : 'WaitingForOtherParticipant';
    return { objective: { ...o, pending }, effects, waitingFor };
  }
  // paid out (by us or by anyone): attribute what the payout implies was reclaimed, then complete
  if (o.transferred) return { objective: { ...attributeBeforeTransfer(o), status: 'completed', pending: null }, effects, waitingFor: 'WaitingForNothing' };
  // concluded with a final state we do not hold (e.g. the peer came back and closed cooperatively):
  // whoever holds it pays out; its `allocationUpdated` (holdings 0) completes this exit
  // (or concluded with one we signed but do not hold with every signature: the chain status tells
  // which, WaitingForChannelStatus)
  if (rec!.outcome === null) return { objective: { ...o, pending: null }, effects, waitingFor: needsStatus(rec) ? 'WaitingForChannelStatus' : 'WaitingForOtherParticipant' };

  // 3. reclaim each guarantee whose target is finalized, one at a time
  // (a challenge of ours still in flight is moot now: it reverts with 'Channel finalized.')
  let next = inferReclaims(o.pending?.kind === 'challenge' || o.pending?.kind === 'conclude' ? { ...o, pending: null } : o);
  if (next.onChain!.unresolvedReclaims > 0) return { objective: next, effects, waitingFor: 'WaitingForChannelStatus' };
  if (next.pending?.kind === 'reclaim') return { objective: next, effects, waitingFor: 'WaitingForReclaim' };
  const current = currentLedgerOutcome(next)!;
  const guarantees = guaranteesOf(current);
  // someone else is reclaiming: leave the next reclaim and the transfer to them for a while
  const yielding = next.foreignReclaimAt !== undefined && next.now < next.foreignReclaimAt + RECLAIM_YIELD_S;
  const yieldStep = { objective: next, effects, waitingFor: 'WaitingForCounterpartyReclaims' } as const;
  for (const g of guarantees) {
    const target = g.allocation.destination as ChannelId;
    const t = targetReady(next, target);
    if (t === undefined) continue;
    if (yielding) return yieldStep;
    effects.push({
      type: 'submitTransaction',
      tx: {
        kind: 'reclaim',
        channelId: id,
        targetChannelId: target,
        sourceChannelId: id,
        sourceStateHash: next.onChain!.stateHash,
        sourceOutcome: current,
        sourceAssetIndex: 0,
        indexOfTargetInSource: g.index,
        targetStateHash: t.stateHash,
        targetOutcome: t.outcome!,
        targetAssetIndex: 0,
      },
    });
    return { objective: { ...next, pending: { kind: 'reclaim', target } }, effects, waitingFor: 'WaitingForReclaim' };
  }
  if (guarantees.length > 0) return { objective: next, effects, waitingFor: 'WaitingForVirtualFinalization' };

  // 4. transfer
  if (next.pending === null) {
    if (yielding) return yieldStep;
    effects.push({ type: 'submitTransaction', tx: { kind: 'transferAllAssets', channelId: id, outcome: current, stateHash: next.onChain!.stateHash as Bytes32 } });
    next = { ...next, pending: { kind: 'transferAllAssets' } };
  }
  return { objective: next, effects, waitingFor: 'WaitingForTransfer' };
}

/**
 * `channel` with the state a checkpoint registered, when the event carries it (read off the
 * transaction by the chain port), it is newer than our latest supported state, and its
 * signatures make it supported (every participant's: we signed it too, so it is a state we
 * agreed to). Otherwise `channel` unchanged — a bad candidate is ignored, never fatal: without
 * it the exit waits for the counterparty (`WaitingForOtherParticipant`), as before.
 *
 * Why: our exit registered our latest supported state, and the counterparty cleared it with a
 * newer one — typically a ledger update we proposed and it countersigned, whose countersignature
 * never reached us before we went on chain. The chain then records a turn we cannot register, and
 * a counterparty that keeps the ledger open after its checkpoint never moves: without this our
 * exit, and the deposit in the ledger, would wait for ever (found by `bench:chaos`).
 */
export function withCheckpointedState(channel: Channel, event: ChallengeClearedEvent): Channel {
  const c = event.candidate;
  if (c === undefined) return channel;
  const latest = latestSupportedState(channel);
  if (latest !== undefined && latest.state.turnNum >= event.newTurnNumRecord) return channel;
  try {
    const state = stateFromVariablePart(channel.fixedPart, c.variablePart);
    if (state.turnNum !== event.newTurnNumRecord) return channel;
    const next = addSignedState(channel, state, c.signatures);
    return latestSupportedState(next)?.state.turnNum === state.turnNum ? next : channel;
  } catch {
    return channel;
  }
}

/**
 * Feed a chain event: dispute events, `concluded` and holdings for the ledger and the channels it
 * guarantees, and chain time. Events about other channels are ignored.
 * @throws SluiceError PROTOCOL_MALFORMED (a malformed event or a peer message)
 */
export function updateLedgerExit(o: LedgerExitObjective, event: ObjectiveEvent): LedgerExitObjective {
  return guardPeerInput('ledger exit event', () => {
    switch (event.kind) {
      case 'chainTime':
        if (!Number.isSafeInteger(event.timestamp) || event.timestamp < 0) fail('PROTOCOL_MALFORMED', 'chain time must be seconds');
        return event.timestamp > o.now ? { ...o, now: event.timestamp } : o;
      case 'challengeRegistered':
      case 'challengeCleared':
      case 'checkpointed':
      case 'concluded':
      case 'reclaimed': {
        if (event.channelId === o.ledger.id) {
          if (event.kind === 'reclaimed' && !isFinalizedAt(o.onChain, Number.MAX_SAFE_INTEGER)) return o;
          if (event.kind === 'challengeCleared' || event.kind === 'checkpointed') {
            // a checkpoint registered a state newer than any we hold (our countersigned proposals
            // whose countersignatures never reached us): learn it, so we can challenge with it
            const ledger = withCheckpointedState(o.ledger, event);
            if (ledger !== o.ledger) o = { ...o, ledger };
          }
          const onChain = applyToRecord(o.onChain, o.ledger.fixedPart, event, heldFinalOutcome(o.ledger));
          if (onChain === o.onChain) return o;
          if (event.kind === 'reclaimed' && event.target === undefined) o = { ...o, foreignReclaimAt: o.now };
          let pending = o.pending;
          if (pending !== null && (pending.kind === 'challenge' || pending.kind === 'conclude')) {
            if (event.kind === 'concluded' || (event.kind === 'challengeRegistered' && onChain!.turnNumRecord >= pending.turnNum)) pending = null;
          }
          if (pending?.kind === 'reclaim' && onChain!.reclaimed.includes(pending.target)) pending = null;
          return { ...o, onChain, pending };
        }
        const v = o.virtuals.find((x) => x.id === event.channelId);
        if (v === undefined || event.kind === 'reclaimed') return o;
        const r = applyToRecord(o.targets[v.id] ?? null, v.fixedPart, event, v.finalOutcome);
        return r === (o.targets[v.id] ?? null) ? o : { ...o, targets: { ...o.targets, [v.id]: r! } };
      }
      case 'allocationUpdated':
      case 'deposited': {
        if (event.channelId !== o.ledger.id || event.kind !== 'allocationUpdated') return o;
        // transferAllAssets is the only payout we and our peers use; reclaims emit `Reclaimed`.
        if (!isFinalizedAt(o.onChain, Number.MAX_SAFE_INTEGER)) return o;
        if (o.transferred) return o;
        if (event.initialHoldings !== undefined && typeof event.initialHoldings !== 'bigint') fail('PROTOCOL_MALFORMED', 'initialHoldings must be a bigint');
        const transfer = { initialHoldings: event.initialHoldings ?? null, holdings: event.holdings };
        // reclaims someone else made are attributed first: the payout is computed from them
        const next = attributeBeforeTransfer(o);
        if (event.holdings === 0n || allReclaimed(o)) return { ...next, transferred: true, pending: null, transfer };
        if (next.onChain!.unresolvedReclaims > 0) return o;
        const current = next.onChain!.outcome === null ? null : currentLedgerOutcome(next);
        if (current === null || guaranteesOf(current).length > 0) return o;
        return { ...next, transferred: true, pending: null, transfer };
      }
      case 'channelStatus': {
        const rec = o.onChain;
        const finals = event.finalOutcomes ?? [];
        if (event.channelId !== o.ledger.id) {
          const v = o.virtuals.find((x) => x.id === event.channelId);
          if (v === undefined) return o;
          const known = v.finalOutcome === null ? finals : [v.finalOutcome, ...finals];
          const prior = o.targets[v.id] ?? null;
          const r = applyStatusToRecord(prior, v.fixedPart, event, known);
          // a target's status is worth keeping when it names the outcome (or answers a conclusion
          // we asked about); a bare "challenged by someone" would only hide the target from the
          // engine's settling of guarantee targets nobody put on chain
          if (r === prior || (r!.outcome === null && prior?.concluded !== true)) return o;
          return { ...o, targets: { ...o.targets, [v.id]: r! } };
        }
        if (rec === null || rec.unresolvedReclaims === 0) {
          const known = [...signedFinalOutcomes(o.ledger), ...finals];
          const onChain = applyStatusToRecord(rec, o.ledger.fixedPart, event, known, o.ledger.states.map((e) => e.state));
          if (onChain === rec) return o;
          // finalized already: a challenge or conclude of ours in flight is moot ('Channel finalized.')
          const moot = isFinalizedAt(onChain, o.now) && (o.pending?.kind === 'challenge' || o.pending?.kind === 'conclude');
          return { ...o, onChain, pending: moot ? null : o.pending };
        }
        if (rec.outcome === null) return o;
        if (typeof event.fingerprint !== 'bigint') fail('PROTOCOL_MALFORMED', 'fingerprint must be a bigint');
        let tries = 0;
        for (const set of combinations(reclaimCandidates(o), rec.unresolvedReclaims)) {
          if (++tries > MAX_RECLAIM_RESOLUTION_TRIES) break;
          const out = currentLedgerOutcome(o, [...rec.reclaimed, ...set]);
          if (out !== null && statusFingerprint(rec.stateHash, out) === event.fingerprint) return withResolvedReclaims(o, set);
        }
        return o;
      }
      default:
        return fail('PROTOCOL_MALFORMED', 'unexpected event for a ledger exit');
    }
  });
}
