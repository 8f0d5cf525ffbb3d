/**
 * The objective union and generic `crank` / `update` dispatchers, so an engine can drive any
 * objective without knowing its type.
 */
import { type DirectFundObjective, crankDirectFund, updateDirectFund } from './direct-fund.ts';
import { type DirectDefundObjective, crankDirectDefund, updateDirectDefund } from './direct-defund.ts';
import { type VirtualFundObjective, crankVirtualFund, updateVirtualFund } from './virtual-fund.ts';
import { type VirtualDefundObjective, crankVirtualDefund, updateVirtualDefund } from './virtual-defund.ts';
import { type LedgerTopUpObjective, crankLedgerTopUp, updateLedgerTopUp } from './ledger-topup.ts';
import { type ConsensusChannel } from './ledger.ts';
import { fail } from './fail.ts';
import type { Effect, ObjectiveEvent, Secrets } from './types.ts';

export type Objective = DirectFundObjective | DirectDefundObjective | VirtualFundObjective | VirtualDefundObjective | LedgerTopUpObjective;

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
      return [o.ledger];
    default:
      return [];
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
    default:
      return o;
  }
}
