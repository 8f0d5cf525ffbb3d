/**
 * The objective union and generic `crank` / `update` dispatchers, so an engine can drive any
 * objective without knowing its type.
 */
import { type DirectFundObjective, crankDirectFund, updateDirectFund } from './direct-fund.ts';
import { type DirectDefundObjective, crankDirectDefund, updateDirectDefund, withdrawn } from './direct-defund.ts';
import { type VirtualFundObjective, crankVirtualFund, updateVirtualFund } from './virtual-fund.ts';
import { type VirtualDefundObjective, crankVirtualDefund, updateVirtualDefund } from './virtual-defund.ts';
import { type LedgerTopUpObjective, crankLedgerTopUp, updateLedgerTopUp } from './ledger-topup.ts';
import { type ConsensusChannel } from './ledger.ts';
import { type VirtualChallengeObjective, crankVirtualChallenge, updateVirtualChallenge, virtualChallengeNeedsStatus } from './virtual-challenge.ts';
import { type LedgerExitObjective, channelsNeedingStatus, crankLedgerExit, ledgerExitChannels, updateLedgerExit } from './ledger-exit.ts';
import { type GuaranteeRemovalObjective, crankGuaranteeRemoval, updateGuaranteeRemoval } from './guarantee-removal.ts';
import { challengeRunning } from './dispute.ts';
import { fail } from './fail.ts';
import type { ChannelId } from '../hex.ts';
import type { Effect, ObjectiveEvent, Secrets } from './types.ts';

export type Objective =
  | DirectFundObjective
  | DirectDefundObjective
  | VirtualFundObjective
  | VirtualDefundObjective
  | LedgerTopUpObjective
  | VirtualChallengeObjective
  | LedgerExitObjective
  | GuaranteeRemovalObjective;

/** Event kinds only the fallback objectives consume (the cooperative ones ignore them). */
const DISPUTE_EVENT_KINDS: ReadonlySet<string> = new Set(['challengeRegistered', 'challengeCleared', 'checkpointed', 'reclaimed', 'chainTime', 'channelStatus']);

export interface AnyCrankResult {
  readonly objective: Objective;
  readonly effects: readonly Effect[];
  readonly waitingFor: string;
}

/** Crank any objective. */
export function crank(o: Objective, secrets: Secrets): AnyCrankResult {
  switch (o.type) {
    case 'directFund':
      return crankDirectFund(o, secrets);
    case 'directDefund':
      return crankDirectDefund(o, secrets);
    case 'virtualFund':
      return crankVirtualFund(o, secrets);
    case 'virtualDefund':
      return crankVirtualDefund(o, secrets);
    case 'ledgerTopUp':
      return crankLedgerTopUp(o, secrets);
    case 'virtualChallenge':
      return crankVirtualChallenge(o, secrets);
    case 'ledgerExit':
      return crankLedgerExit(o, secrets);
    case 'guaranteeRemoval':
      return crankGuaranteeRemoval(o, secrets);
    default:
      return fail('INTERNAL', 'unknown objective type');
  }
}

/**
 * Feed an event to any objective.
 * @throws SluiceError only (see each objective's update)
 */
export function update(o: Objective, event: ObjectiveEvent): Objective {
  if (o.status !== 'approved') return o;
  const kind = (event as { kind?: unknown })?.kind as string;
  // a direct defund takes the chain status too (a conclusion by someone else: which final state?)
  if (o.type !== 'virtualChallenge' && o.type !== 'ledgerExit' && !(o.type === 'directDefund' && kind === 'channelStatus') && DISPUTE_EVENT_KINDS.has(kind)) return o;
  switch (o.type) {
    case 'directFund':
      return updateDirectFund(o, event);
    case 'directDefund':
      return updateDirectDefund(o, event);
    case 'virtualFund':
      return updateVirtualFund(o, event);
    case 'virtualDefund':
      return updateVirtualDefund(o, event);
    case 'ledgerTopUp':
      return updateLedgerTopUp(o, event);
    case 'virtualChallenge':
      return updateVirtualChallenge(o, event);
    case 'ledgerExit':
      return updateLedgerExit(o, event);
    case 'guaranteeRemoval':
      return updateGuaranteeRemoval(o, event);
    default:
      return fail('INTERNAL', 'unknown objective type');
  }
}

/** The ledgers an objective carries (for the engine to store back after a crank). */
export function ledgersOf(o: Objective): ConsensusChannel[] {
  switch (o.type) {
    case 'virtualFund':
    case 'virtualDefund':
      return [o.toMyLeft, o.toMyRight].filter((l): l is ConsensusChannel => l !== null);
    case 'ledgerTopUp':
    case 'guaranteeRemoval':
      return [o.ledger];
    default:
      return [];
  }
}

/**
 * Whether an objective whose last crank reported `waitingFor` could move on when one of its
 * ledgers changes (another objective's proposal or countersignature landing). False only for
 * waits on peers' signatures of the objective's own channel, which no ledger update gives: a
 * virtual fund before its prefund is complete or once funded, a virtual defund before its final
 * state is supported. Under load most objectives on a busy ledger wait like that, and re-cranking
 * all of them on each of its updates cost O(channels on the ledger) cranks per update.
 */
export function waitsOnLedgers(o: Objective, waitingFor: string): boolean {
  switch (o.type) {
    case 'virtualFund':
      return waitingFor !== 'WaitingForCompletePrefund' && waitingFor !== 'WaitingForCompletePostFund';
    case 'virtualDefund':
      return waitingFor !== 'WaitingForFinalStateProposal' && waitingFor !== 'WaitingForSupportedFinalState';
    default:
      return true;
  }
}

/**
 * Give an objective the engine's latest copy of one of its ledgers (another objective may have
 * advanced it). Objectives that do not use the ledger are returned unchanged.
 */
export function withLedger(o: Objective, ledger: ConsensusChannel): Objective {
  switch (o.type) {
    case 'virtualFund':
    case 'virtualDefund':
      if (o.toMyLeft?.id === ledger.id) return { ...o, toMyLeft: ledger };
      if (o.toMyRight?.id === ledger.id) return { ...o, toMyRight: ledger };
      return o;
    case 'ledgerTopUp':
    case 'guaranteeRemoval':
      return o.ledger.id === ledger.id ? { ...o, ledger } : o;
    default:
      return o;
  }
}

/**
 * The engine saw a submitted transaction fail (reverted, dropped, timed out): forget that it was
 * submitted so the next crank submits it again (with fresh `expectedHeld`). Other objectives are
 * returned unchanged.
 */
export function onTransactionFailed(o: Objective): Objective {
  switch (o.type) {
    case 'directFund':
      return { ...o, depositsSubmitted: [] };
    case 'directDefund':
      return { ...o, transactionSubmitted: false };
    case 'ledgerTopUp':
      return { ...o, depositSubmitted: false };
    case 'virtualChallenge':
      return { ...o, submitted: null };
    case 'ledgerExit':
      return { ...o, pending: null };
    default:
      return o;
  }
}

/**
 * The channels whose chain events (holdings, conclusions, disputes) an objective consumes: route
 * each chain event to every live objective listing its channel, and `chainTime` to every live
 * fallback objective.
 */
export function watchedChannels(o: Objective): ChannelId[] {
  switch (o.type) {
    case 'directFund':
    case 'directDefund':
      return [o.channel.id];
    case 'ledgerTopUp':
      return [o.ledger.id];
    case 'virtualChallenge':
      return [o.v.id];
    case 'ledgerExit':
      return ledgerExitChannels(o);
    default:
      return [];
  }
}

/**
 * The chain time (seconds) at which a fallback objective can make progress by time alone (a
 * challenge it waits on finalizes): re-crank it once the chain reaches that time (feed `chainTime`
 * first). Null when time alone does not help.
 */
export function wakeAt(o: Objective): number | null {
  if (o.status !== 'approved') return null;
  const times: number[] = [];
  if (o.type === 'virtualChallenge') {
    if (challengeRunning(o.onChain, o.now)) times.push(o.onChain!.finalizesAt);
  } else if (o.type === 'ledgerExit') {
    if (challengeRunning(o.onChain, o.now)) times.push(o.onChain!.finalizesAt);
    for (const r of Object.values(o.targets)) if (challengeRunning(r, o.now)) times.push(r.finalizesAt);
  }
  return times.length === 0 ? null : Math.min(...times);
}

/**
 * The channels whose `statusOf` the engine must read and feed to this objective (`channelStatus`
 * events) before it can move: a conclusion our events do not explain (a final state we signed but
 * do not hold with every signature), or a ledger's unattributed reclaim. Each is asked once (the
 * objective records the status it was fed).
 */
export function statusReadsNeeded(o: Objective): ChannelId[] {
  if (o.status !== 'approved') return [];
  switch (o.type) {
    case 'ledgerExit':
      return channelsNeedingStatus(o);
    case 'virtualChallenge':
      return virtualChallengeNeedsStatus(o);
    case 'directDefund':
      return o.channel.concluded && o.concludedWith === undefined && !withdrawn(o) ? [o.channel.id] : [];
    default:
      return [];
  }
}
