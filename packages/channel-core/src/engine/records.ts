/**
 * What the engine keeps in the {@link Store}, and typed accessors. One objective record per
 * objective (the pure objective plus the engine's bookkeeping), one channel record per ledger
 * channel (kind `ledger`) and per virtual channel (kind `virtual`).
 */
import type { Address, ChannelId } from '../hex.ts';
import { sameAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import type { ObjectiveRecord, Store } from '../ports/store.ts';
import { type Channel, entryAt, fullState, signaturesOf } from '../protocols/channel.ts';
import type { ConsensusChannel, Guarantee } from '../protocols/ledger.ts';
import type { Objective } from '../protocols/objective.ts';
import type { ProtocolMessage, Transaction } from '../protocols/types.ts';
import { virtualChallengeId } from '../protocols/virtual-challenge.ts';
import { virtualDefundId } from '../protocols/virtual-defund.ts';
import { virtualFundId } from '../protocols/virtual-fund.ts';
import { directFundId } from '../protocols/direct-fund.ts';
import { directDefundId } from '../protocols/direct-defund.ts';
import { ledgerExitId } from '../protocols/ledger-exit.ts';

/** A message the objective sent; kept so it can be sent again after a restart or a timeout. */
export interface SentMessage {
  readonly to: Address;
  readonly message: ProtocolMessage;
}

/** The engine's record of one objective. */
export interface ObjectiveData {
  readonly objective: Objective;
  /** Latest message per (recipient, kind, turn): re-sent on restart and on timeout (receivers are idempotent). */
  readonly sent: readonly SentMessage[];
  /** Transactions asked for and not yet confirmed mined. */
  readonly pendingTxs: readonly Transaction[];
  readonly waitingFor: string;
  /** Clock time of the last progress (an event applied, the objective created, or the engine started with it: silence before a restart is not counted). */
  readonly progressAt: number;
  /** Set when the objective was rejected (why). */
  readonly failure?: { readonly code: string; readonly message: string };
  /** A ledger opening given up while nothing was at stake (see `directFundAbandonable`): a deposit seen later resumes it. */
  readonly abandoned?: boolean;
  /** Clock time the objective was created. */
  readonly createdAt?: number;
}

/** `failed`: the counterparty refused the ledger before anyone deposited. */
export type LedgerStatus = 'funding' | 'open' | 'closing' | 'closed' | 'failed';

export interface LedgerData {
  readonly ledgerId: ChannelId;
  readonly counterparty: Address;
  readonly asset: Address;
  /** My index in the ledger (0 = leader). */
  readonly myIndex: 0 | 1;
  readonly status: LedgerStatus;
  /** The consensus channel once funded. */
  readonly ledger: ConsensusChannel | null;
  /** Deposits agreed in the prefund. */
  readonly myDeposit: bigint;
  readonly counterpartyDeposit: bigint;
  /**
   * Once closed: what closing it paid us on chain — our allocation in the final state of a
   * cooperative close, our share of a ledger exit's payout. Absent while open, when not known (a
   * close concluded with a state we do not hold), and in records written before it existed.
   */
  readonly paidOut?: bigint;
}

export type VirtualStatus = 'funding' | 'funded' | 'closing' | 'closed' | 'failed';
export type VirtualRole = 'payer' | 'intermediary' | 'payee';

export interface VirtualData {
  readonly channelId: ChannelId;
  readonly role: VirtualRole;
  readonly payer: Address;
  readonly hub: Address;
  readonly payee: Address;
  readonly asset: Address;
  /** The payer's balance locked in the channel (what vouchers can pay). */
  readonly amount: bigint;
  readonly status: VirtualStatus;
  /** V once funded (postfund supported): the baseline of the defund. */
  readonly v: Channel | null;
  /** The amount the final state paid the payee (once closed). */
  readonly paid?: bigint;
}

export function toStoreStatus(o: Objective): ObjectiveRecord['status'] {
  return o.status === 'approved' ? 'active' : o.status === 'completed' ? 'completed' : 'failed';
}

/**
 * What an objective record holds in place of a ledger (consensus channel) that its ledger
 * record holds (see {@link putObjectiveData}).
 */
interface LedgerStoredApart {
  readonly storedApart: ChannelId;
}

function isStoredApart(x: unknown): x is LedgerStoredApart {
  return typeof x === 'object' && x !== null && typeof (x as { storedApart?: unknown }).storedApart === 'string';
}

/** `o` with each ledger it carries replaced by `f(ledger)`. */
function mapLedgers(o: Objective, f: (l: ConsensusChannel | LedgerStoredApart) => unknown): Objective {
  switch (o.type) {
    case 'virtualFund':
    case 'virtualDefund':
      return { ...o, toMyLeft: o.toMyLeft === null ? null : f(o.toMyLeft), toMyRight: o.toMyRight === null ? null : f(o.toMyRight) } as Objective;
    case 'ledgerTopUp':
    case 'guaranteeRemoval':
      return { ...o, ledger: f(o.ledger) } as Objective;
    default:
      return o;
  }
}

/**
 * What an objective record holds in place of a sent signed-state message built from one of the
 * objective's own channel entries (see {@link putObjectiveData}): that entry's channel and turn.
 */
interface SentStateRef {
  readonly kind: 'signedState';
  readonly objectiveId: string;
  readonly stateOf: ChannelId;
  readonly turnNum: number;
}

function isSentStateRef(m: unknown): m is SentStateRef {
  return typeof m === 'object' && m !== null && typeof (m as { stateOf?: unknown }).stateOf === 'string';
}

/** The channels (not ledgers) an objective signs states of. */
function channelsOf(o: Objective): readonly Channel[] {
  switch (o.type) {
    case 'virtualFund':
    case 'virtualDefund':
      return [o.v];
    case 'directFund':
    case 'directDefund':
      return [o.channel];
    default:
      return [];
  }
}

/**
 * `sent` as stored: a signed-state message the objective built from one of its channel entries
 * (same outcome object, so the same state) becomes a reference to that entry. The state is
 * ~2 KB of JSON, sent to each other participant and kept by every step of the objective.
 */
function compactSent(o: Objective, sent: readonly SentMessage[]): readonly (SentMessage | { readonly to: Address; readonly message: SentStateRef })[] {
  const channels = channelsOf(o);
  if (channels.length === 0) return sent;
  return sent.map((s) => {
    const m = s.message;
    if (m.kind !== 'signedState') return s;
    for (const ch of channels) {
      const e = entryAt(ch, m.state.turnNum);
      if (e !== undefined && e.state.outcome === m.state.outcome && e.state.appData === m.state.appData && ch.fixedPart.channelNonce === m.state.channelNonce) {
        return { to: s.to, message: { kind: 'signedState', objectiveId: m.objectiveId, stateOf: ch.id, turnNum: m.state.turnNum } };
      }
    }
    return s;
  });
}

/**
 * `sent` as used: references rebuilt from the channel entries (with every signature the entry
 * has by now, a superset of those sent). A reference to an entry pruned since (older than the
 * channel's latest supported state, which every participant signed) is dropped: nobody needs
 * that state any more.
 */
function expandSent(o: Objective, sent: readonly SentMessage[]): readonly SentMessage[] {
  if (!sent.some((s) => isSentStateRef(s.message))) return sent;
  const channels = channelsOf(o);
  return sent.flatMap((s): SentMessage[] => {
    const m: unknown = s.message;
    if (!isSentStateRef(m)) return [s];
    const ch = channels.find((c) => c.id === m.stateOf);
    const e = ch === undefined ? undefined : entryAt(ch, m.turnNum);
    if (ch === undefined || e === undefined) return [];
    return [{ to: s.to, message: { kind: 'signedState', objectiveId: m.objectiveId, state: fullState(ch, e.state), signatures: signaturesOf(e) } }];
  });
}

/**
 * Put back what an objective record holds apart: its ledgers (from their ledger records) and
 * its sent signed states (from its channel entries).
 * @throws SluiceError INTERNAL if such a ledger record is missing (a corrupt store)
 */
export function restoreObjectiveLedgers(store: Store, data: ObjectiveData): ObjectiveData {
  let apart = false;
  const objective = mapLedgers(data.objective, (l) => {
    if (!isStoredApart(l)) return l;
    apart = true;
    const ledger = getLedgerData(store, l.storedApart)?.ledger;
    if (ledger == null) throw new SluiceError('INTERNAL', 'an objective record refers to a missing ledger record', { details: { objectiveId: data.objective.id, ledgerId: l.storedApart } });
    return ledger;
  });
  const sent = expandSent(objective, data.sent);
  return apart || sent !== data.sent ? { ...data, objective, sent } : data;
}

export function getObjectiveData(store: Store, id: string): ObjectiveData | undefined {
  const data = store.getObjective(id)?.data as ObjectiveData | undefined;
  return data === undefined ? undefined : restoreObjectiveLedgers(store, data);
}

/**
 * Write an objective record. `ledgersApart` (lower-case ids) names ledgers the caller writes to
 * their own ledger records in the same transaction (or whose records already hold exactly this
 * copy): the objective record then refers to them instead of holding a copy. A ledger shared by
 * many virtual channels grows with them, and copying it into every step of every objective made
 * each step cost O(channels on the ledger). Readers get the ledger back from its record
 * ({@link getObjectiveData}, {@link restoreObjectiveLedgers}) — the copy the engine would use
 * anyway, since it cranks an objective with the latest ledger record. The engine does this for
 * finished (completed, failed) objectives too: read back, their ledgers are the ledger
 * records' current state, not the state when they finished. Sent signed states are stored as
 * references to the objective's own channel entries they were built from (see `compactSent`).
 */
export function putObjectiveData(store: Store, data: ObjectiveData, now: number, ledgersApart?: ReadonlySet<string>): void {
  const createdAt = data.createdAt ?? store.getObjective(data.objective.id)?.createdAt ?? now;
  const objective =
    ledgersApart === undefined || ledgersApart.size === 0
      ? data.objective
      : mapLedgers(data.objective, (l) => (!isStoredApart(l) && ledgersApart.has(l.id.toLowerCase()) ? { storedApart: l.id } : l));
  const stored = { ...data, objective, sent: compactSent(data.objective, data.sent) };
  store.putObjective({
    id: data.objective.id,
    type: data.objective.type,
    status: toStoreStatus(data.objective),
    data: stored,
    createdAt,
    updatedAt: now,
  });
}

/**
 * What a stored ledger record holds in place of its current state's guarantees: they are the
 * channel's parts, one row per guarantee keyed by target ({@link Store.syncChannelParts}).
 * A ledger carries a guarantee per open virtual channel on it, and each of its updates adds or
 * removes one: written whole, every open and close of a channel cost O(channels open) bytes.
 */
const GUARANTEES_APART = { storedApart: 'guarantees' } as const;

function guaranteesApart(x: unknown): boolean {
  return typeof x === 'object' && x !== null && (x as { storedApart?: unknown }).storedApart === GUARANTEES_APART.storedApart;
}

function withGuarantees(ld: LedgerData, guarantees: unknown): LedgerData {
  const l = ld.ledger!;
  return { ...ld, ledger: { ...l, current: { ...l.current, outcome: { ...l.current.outcome, guarantees: guarantees as Guarantee[] } } } };
}

/** A ledger record as read: guarantees kept apart put back (ordered by target, as the outcome has them). */
function readLedger(store: Store, ld: LedgerData): LedgerData {
  if (ld.ledger === null || !guaranteesApart(ld.ledger.current.outcome.guarantees)) return ld;
  if (store.listChannelParts === undefined) throw new SluiceError('INTERNAL', 'a ledger record keeps its guarantees apart but the store has no channel parts', { details: { ledgerId: ld.ledgerId } });
  return withGuarantees(ld, store.listChannelParts(ld.ledgerId).map((p) => p.data));
}

export function getLedgerData(store: Store, ledgerId: ChannelId): LedgerData | undefined {
  const r = store.getChannel(ledgerId);
  return r?.kind === 'ledger' ? readLedger(store, r.data as LedgerData) : undefined;
}

/** Write a ledger record: its guarantees as the channel's parts where the store has them (one row written per guarantee added). */
export function putLedgerData(store: Store, data: LedgerData, now: number): void {
  const l = data.ledger;
  if (l === null || store.syncChannelParts === undefined) {
    store.putChannel({ channelId: data.ledgerId, kind: 'ledger', data, updatedAt: now });
    return;
  }
  const parts = l.current.outcome.guarantees.map((g) => ({ key: g.target, fingerprint: `${g.amount}|${g.left}|${g.right}`, data: g }));
  store.transaction(() => {
    store.syncChannelParts!(data.ledgerId, parts);
    store.putChannel({ channelId: data.ledgerId, kind: 'ledger', data: withGuarantees(data, GUARANTEES_APART), updatedAt: now });
  });
}

export function listLedgerData(store: Store): LedgerData[] {
  return store.listChannels('ledger').map((r) => readLedger(store, r.data as LedgerData));
}

/** The ledger with `counterparty` in `asset` in one of `statuses` (one per counterparty and asset). */
export function findLedger(store: Store, counterparty: Address, asset: Address, statuses: readonly LedgerStatus[] = ['open']): LedgerData | undefined {
  return findLedgerIn(listLedgerData(store), counterparty, asset, statuses);
}

/**
 * The statuses the rule "one live ledger per counterparty and asset" counts: funding and open. A
 * ledger being closed does not (an exit on chain stays `closing` for its challenge duration, a
 * day by default), so business goes on in a new one meanwhile. Checked where a ledger is proposed
 * (`Node.createLedgerChannel`), joined, and resumed from an abandoned opening.
 */
export const ONE_PER_PEER_LEDGER_STATUSES: readonly LedgerStatus[] = ['funding', 'open'];

/** {@link findLedger} over a list of ledger records. */
export function findLedgerIn(ledgers: Iterable<LedgerData>, counterparty: Address, asset: Address, statuses: readonly LedgerStatus[] = ['open']): LedgerData | undefined {
  for (const l of ledgers) {
    if (statuses.includes(l.status) && sameAddress(l.counterparty, counterparty) && sameAddress(l.asset, asset)) return l;
  }
  return undefined;
}

/** Read access to ledger records (the engine serves it from a write-through cache). */
export interface LedgerView {
  get(ledgerId: ChannelId): LedgerData | undefined;
  list(): Iterable<LedgerData>;
}

export function getVirtualData(store: Store, channelId: ChannelId): VirtualData | undefined {
  const r = store.getChannel(channelId);
  return r?.kind === 'virtual' ? (r.data as VirtualData) : undefined;
}

export function putVirtualData(store: Store, data: VirtualData, now: number): void {
  store.putChannel({ channelId: data.channelId, kind: 'virtual', data, updatedAt: now });
}

/** Virtual channel records; with `statuses`, those in them (an indexed query where the store has one; callers still check). */
export function listVirtualData(store: Store, statuses?: readonly VirtualStatus[]): VirtualData[] {
  return store.listChannels('virtual', statuses).map((r) => r.data as VirtualData);
}

/** Every objective a virtual channel can have: their ids derive from the channel id. */
export function virtualObjectiveIds(channelId: ChannelId): string[] {
  return [virtualFundId(channelId), virtualDefundId(channelId), virtualChallengeId(channelId)];
}

const PRUNABLE_OBJECTIVE_ID = /^(?:(?:VirtualFund|VirtualDefund|VirtualChallenge|DirectFunding|DirectDefunding|LedgerExit)-(0x[0-9a-fA-F]{64})|LedgerTopUp-(0x[0-9a-fA-F]{64})-[0-9]{1,78}|GuaranteeRemoval-0x[0-9a-fA-F]{64}-(0x[0-9a-fA-F]{64}))$/;

/**
 * The channel an objective id belongs to when history retention may delete that channel's
 * records: a virtual channel's objectives ({@link virtualObjectiveIds}) and a ledger's
 * ({@link ledgerObjectiveIds}, and its top-ups). A guarantee removal belongs to its virtual
 * channel (pruned with it while the ledger stays open; with the ledger, by prefix, once closed).
 */
export function prunableChannelOfObjective(id: string): ChannelId | undefined {
  const m = PRUNABLE_OBJECTIVE_ID.exec(id);
  return m === null ? undefined : ((m[1] ?? m[2] ?? m[3]) as ChannelId);
}

/** A ledger's objectives whose ids derive from its id alone (top-ups add their target: see `ledgerTopUpPrefix`). */
export function ledgerObjectiveIds(ledgerId: ChannelId): string[] {
  return [directFundId(ledgerId), directDefundId(ledgerId), ledgerExitId(ledgerId)];
}

/** What every top-up objective id of a ledger starts with. */
export function ledgerTopUpPrefix(ledgerId: ChannelId): string {
  return `LedgerTopUp-${ledgerId}-`;
}
