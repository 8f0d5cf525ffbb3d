/**
 * Ledger channels (go-nitro's `consensus_channel`): a 2-party ConsensusApp channel whose
 * outcome is `[leader balance, follower balance, ...guarantees sorted by target]` in one
 * asset. Only the leader (participant 0) proposes; the follower countersigns proposals
 * strictly in turn order, so both always agree on the latest doubly-signed state.
 *
 * Proposals:
 * - `add`: lock `guarantee.amount` for a virtual channel, `leftDeposit` from the party
 *   whose destination is `guarantee.left`, the rest from `guarantee.right`;
 * - `remove`: drop the guarantee, paying `leftAmount` to left and the rest to right;
 * - `topUp`: credit `amount` to one party after an extra on-chain deposit (Sluice extension).
 */
import { type Address, type Bytes32, type ChannelId, bytesToHex, parseBytes32 } from '../hex.ts';
import { sameAddress } from '../address.ts';
import type { Signature } from '../signature.ts';
import { type Outcome, AllocationType, decodeGuaranteeMetadata, encodeGuaranteeMetadata } from '../outcome.ts';
import { type FixedPart, type State, hashStateBytes, recoverStateSigner, signState } from '../state.ts';
import { type Channel, latestSupportedState } from './channel.ts';
import { fail, guardPeerInput } from './fail.ts';
import type { Destination } from './types.ts';

export interface Balance {
  readonly destination: Destination;
  readonly amount: bigint;
}

/** Funds locked in a ledger for a virtual channel `target`, paid back to `left`/`right`. */
export interface Guarantee {
  readonly target: ChannelId;
  readonly amount: bigint;
  readonly left: Destination;
  readonly right: Destination;
}

export interface LedgerOutcome {
  readonly asset: Address;
  readonly leader: Balance;
  readonly follower: Balance;
  /** Sorted by target, unique. */
  readonly guarantees: readonly Guarantee[];
}

export type Proposal =
  | { readonly type: 'add'; readonly guarantee: Guarantee; readonly leftDeposit: bigint }
  | { readonly type: 'remove'; readonly target: ChannelId; readonly leftAmount: bigint }
  | { readonly type: 'topUp'; readonly destination: Destination; readonly amount: bigint };

/** A proposal and the leader's signature on the ledger state it produces at `turnNum`. */
export interface SignedProposal {
  readonly ledgerId: ChannelId;
  readonly turnNum: number;
  readonly proposal: Proposal;
  readonly signature: Signature;
}

/** The follower's signature on the state produced by the proposal at `turnNum`. */
export interface Countersignature {
  readonly ledgerId: ChannelId;
  readonly turnNum: number;
  readonly signature: Signature;
}

export interface ConsensusState {
  readonly turnNum: number;
  readonly outcome: LedgerOutcome;
  /** [leader, follower] */
  readonly signatures: readonly [Signature, Signature];
}

export interface ConsensusChannel {
  readonly id: ChannelId;
  readonly fixedPart: FixedPart;
  /** 0 = leader, 1 = follower. */
  readonly myIndex: 0 | 1;
  readonly current: ConsensusState;
  /** Proposals beyond `current`, consecutive turns starting at `current.turnNum + 1`. */
  readonly queue: readonly SignedProposal[];
}

const LEDGER_APP_DATA = '0x' as const;

// ---------------------------------------------------------------- outcome mapping

/** The Nitro outcome of a ledger outcome. */
export function ledgerOutcomeToOutcome(lo: LedgerOutcome): Outcome {
  return [
    {
      asset: lo.asset,
      assetMetadata: { assetType: 0, metadata: '0x' as never },
      allocations: [
        { destination: lo.leader.destination, amount: lo.leader.amount, allocationType: AllocationType.simple, metadata: '0x' as never },
        { destination: lo.follower.destination, amount: lo.follower.amount, allocationType: AllocationType.simple, metadata: '0x' as never },
        ...lo.guarantees.map((g) => ({
          destination: g.target,
          amount: g.amount,
          allocationType: AllocationType.guarantee,
          metadata: encodeGuaranteeMetadata({ left: g.left, right: g.right }),
        })),
      ],
    },
  ];
}

/**
 * Read a ledger outcome from a Nitro outcome of a 2-party channel.
 * @throws SluiceError PROTOCOL_MALFORMED when it is not `[leader, follower, ...guarantees]` in one asset
 */
export function ledgerOutcomeFromOutcome(outcome: Outcome, fixedPart: FixedPart): LedgerOutcome {
  return guardPeerInput('ledger outcome', () => {
    if (outcome.length !== 1) fail('PROTOCOL_MALFORMED', 'a ledger outcome has exactly one asset');
    const exit = outcome[0]!;
    const [l, f, ...gs] = exit.allocations;
    const leaderDest = dest(fixedPart.participants[0]!);
    const followerDest = dest(fixedPart.participants[1]!);
    if (l === undefined || f === undefined || l.allocationType !== 0 || f.allocationType !== 0 || l.destination !== leaderDest || f.destination !== followerDest) {
      fail('PROTOCOL_MALFORMED', 'a ledger outcome starts with the leader and follower balances');
    }
    const guarantees = gs.map((a) => {
      if (a.allocationType !== AllocationType.guarantee) fail('PROTOCOL_MALFORMED', 'ledger allocations after the balances must be guarantees');
      const { left, right } = decodeGuaranteeMetadata(a.metadata);
      assertSides(left, right, leaderDest, followerDest);
      return { target: a.destination, amount: a.amount, left, right };
    });
    for (let i = 1; i < guarantees.length; i++) {
      if (guarantees[i - 1]!.target >= guarantees[i]!.target) fail('PROTOCOL_MALFORMED', 'ledger guarantees must be sorted by target and unique');
    }
    return {
      asset: exit.asset,
      leader: { destination: leaderDest, amount: l.amount },
      follower: { destination: followerDest, amount: f.amount },
      guarantees,
    };
  });
}

function dest(a: Address): Destination {
  return `0x000000000000000000000000${a.slice(2).toLowerCase()}` as Destination;
}

function assertSides(left: Bytes32, right: Bytes32, a: Destination, b: Destination): void {
  if (!((left === a && right === b) || (left === b && right === a))) {
    fail('LEDGER_PROPOSAL_INVALID', "a guarantee's left and right must be the ledger's two parties");
  }
}

/** Sum of everything the ledger allocates (invariant under add/remove). */
export function ledgerTotal(lo: LedgerOutcome): bigint {
  let t = lo.leader.amount + lo.follower.amount;
  for (const g of lo.guarantees) t += g.amount;
  return t;
}

// ---------------------------------------------------------------- proposals

/**
 * Apply a proposal to an outcome.
 * @throws SluiceError LEDGER_PROPOSAL_INVALID when it does not apply
 */
export function applyProposal(lo: LedgerOutcome, p: Proposal): LedgerOutcome {
  return guardPeerInput('ledger proposal', () => {
    switch (p.type) {
      case 'add': {
        const g = p.guarantee;
        const target = parseBytes32(g.target, 'target');
        nonNegative(g.amount, 'amount');
        nonNegative(p.leftDeposit, 'leftDeposit');
        assertSides(g.left, g.right, lo.leader.destination, lo.follower.destination);
        if (lo.guarantees.some((x) => x.target === target)) fail('LEDGER_PROPOSAL_INVALID', 'the ledger already guarantees this channel', { target });
        if (p.leftDeposit > g.amount) fail('LEDGER_PROPOSAL_INVALID', 'leftDeposit exceeds the guarantee amount');
        const leftIsLeader = g.left === lo.leader.destination;
        const fromLeader = leftIsLeader ? p.leftDeposit : g.amount - p.leftDeposit;
        const fromFollower = g.amount - fromLeader;
        if (lo.leader.amount < fromLeader || lo.follower.amount < fromFollower) {
          fail('LEDGER_PROPOSAL_INVALID', 'insufficient balance in the ledger for this guarantee', { target });
        }
        const guarantees = [...lo.guarantees, { target, amount: g.amount, left: g.left, right: g.right }].sort((a, b) =>
          a.target < b.target ? -1 : 1,
        );
        return {
          ...lo,
          leader: { ...lo.leader, amount: lo.leader.amount - fromLeader },
          follower: { ...lo.follower, amount: lo.follower.amount - fromFollower },
          guarantees,
        };
      }
      case 'remove': {
        const target = parseBytes32(p.target, 'target');
        nonNegative(p.leftAmount, 'leftAmount');
        const g = lo.guarantees.find((x) => x.target === target);
        if (g === undefined) fail('LEDGER_PROPOSAL_INVALID', 'the ledger has no guarantee for this channel', { target });
        if (p.leftAmount > g.amount) fail('LEDGER_PROPOSAL_INVALID', 'leftAmount exceeds the guarantee amount', { target });
        const leftIsLeader = g.left === lo.leader.destination;
        const toLeader = leftIsLeader ? p.leftAmount : g.amount - p.leftAmount;
        return {
          ...lo,
          leader: { ...lo.leader, amount: lo.leader.amount + toLeader },
          follower: { ...lo.follower, amount: lo.follower.amount + (g.amount - toLeader) },
          guarantees: lo.guarantees.filter((x) => x.target !== target),
        };
      }
      case 'topUp': {
        if (typeof p.amount !== 'bigint' || p.amount <= 0n) fail('LEDGER_PROPOSAL_INVALID', 'a top-up amount must be positive');
        if (p.destination === lo.leader.destination) return { ...lo, leader: { ...lo.leader, amount: lo.leader.amount + p.amount } };
        if (p.destination === lo.follower.destination) return { ...lo, follower: { ...lo.follower, amount: lo.follower.amount + p.amount } };
        return fail('LEDGER_PROPOSAL_INVALID', 'a top-up must credit one of the ledger parties');
      }
      default:
        return fail('PROTOCOL_MALFORMED', 'unknown proposal type');
    }
  });
}

function nonNegative(x: unknown, name: string): void {
  if (typeof x !== 'bigint' || x < 0n) fail('PROTOCOL_MALFORMED', `${name} must be a non-negative bigint`);
}

/** Structural equality of two proposals. */
export function sameProposal(a: Proposal, b: Proposal): boolean {
  if (a.type === 'add' && b.type === 'add') {
    return (
      a.leftDeposit === b.leftDeposit &&
      a.guarantee.target === b.guarantee.target &&
      a.guarantee.amount === b.guarantee.amount &&
      a.guarantee.left === b.guarantee.left &&
      a.guarantee.right === b.guarantee.right
    );
  }
  if (a.type === 'remove' && b.type === 'remove') return a.target === b.target && a.leftAmount === b.leftAmount;
  if (a.type === 'topUp' && b.type === 'topUp') return a.destination === b.destination && a.amount === b.amount;
  return false;
}

/** The channel a proposal concerns (the guarantee target), or null for a top-up. */
export function proposalTarget(p: Proposal): ChannelId | null {
  return p.type === 'add' ? p.guarantee.target : p.type === 'remove' ? p.target : null;
}

// ---------------------------------------------------------------- the consensus channel

/** The full ledger state at a turn. */
export function ledgerState(ch: Pick<ConsensusChannel, 'fixedPart'>, turnNum: number, lo: LedgerOutcome): State {
  return { ...ch.fixedPart, appData: LEDGER_APP_DATA as never, outcome: ledgerOutcomeToOutcome(lo), turnNum, isFinal: false };
}

/**
 * A ledger from a funded 2-party channel: its latest supported state (postfund or later) becomes
 * the consensus.
 * @throws SluiceError INVALID_ARGUMENT if the channel is not 2-party or has no supported postfund
 */
export function newConsensusChannel(channel: Channel): ConsensusChannel {
  if (channel.fixedPart.participants.length !== 2) fail('INVALID_ARGUMENT', 'a ledger channel has exactly two participants');
  const s = latestSupportedState(channel);
  if (s === undefined || s.state.turnNum < 1 || s.state.isFinal) fail('INVALID_ARGUMENT', 'a ledger needs a supported, non-final postfund state');
  const outcome = ledgerOutcomeFromOutcome(s.state.outcome, channel.fixedPart);
  return {
    id: channel.id,
    fixedPart: channel.fixedPart,
    myIndex: channel.myIndex as 0 | 1,
    current: { turnNum: s.state.turnNum, outcome, signatures: [s.signatures[0]!, s.signatures[1]!] },
    queue: [],
  };
}

export function isLeader(ch: ConsensusChannel): boolean {
  return ch.myIndex === 0;
}

/** Address of the counterparty. */
export function counterparty(ch: ConsensusChannel): Address {
  return ch.fixedPart.participants[1 - ch.myIndex]!;
}

export function myDestination(ch: ConsensusChannel): Destination {
  return dest(ch.fixedPart.participants[ch.myIndex]!);
}

/** The outcome once every queued proposal is applied. */
export function pendingOutcome(ch: ConsensusChannel): LedgerOutcome {
  let lo = ch.current.outcome;
  for (const sp of ch.queue) lo = applyProposal(lo, sp.proposal);
  return lo;
}

/** Turn of the last queued proposal, or of the consensus when none is queued. */
export function latestTurn(ch: ConsensusChannel): number {
  return ch.queue.length === 0 ? ch.current.turnNum : ch.queue[ch.queue.length - 1]!.turnNum;
}

/** True when the agreed (doubly-signed) outcome holds a guarantee for `target`. */
export function consensusIncludes(ch: ConsensusChannel, target: ChannelId): boolean {
  return ch.current.outcome.guarantees.some((g) => g.target === target);
}

/** The queued proposal matching `p`, if any. */
export function queuedProposal(ch: ConsensusChannel, p: Proposal): SignedProposal | undefined {
  return ch.queue.find((sp) => sameProposal(sp.proposal, p));
}

/** Balance of a destination in the pending outcome. */
export function pendingBalanceOf(ch: ConsensusChannel, destination: Destination): bigint {
  const lo = pendingOutcome(ch);
  if (lo.leader.destination === destination) return lo.leader.amount;
  if (lo.follower.destination === destination) return lo.follower.amount;
  return 0n;
}

/** The consensus state (doubly signed) as a full state with its signatures. */
export function consensusSignedState(ch: ConsensusChannel): { state: State; signatures: readonly Signature[] } {
  return { state: ledgerState(ch, ch.current.turnNum, ch.current.outcome), signatures: ch.current.signatures };
}

/**
 * Leader: propose `p` on top of the queue and sign the resulting state.
 * @throws SluiceError PROTOCOL_BAD_ROLE_OR_STATUS (not the leader), LEDGER_PROPOSAL_INVALID
 */
export function propose(
  ch: ConsensusChannel,
  p: Proposal,
  privateKey: Uint8Array | string,
): { ledger: ConsensusChannel; signedProposal: SignedProposal } {
  if (!isLeader(ch)) fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'only the ledger leader proposes');
  const lo = applyProposal(pendingOutcome(ch), p);
  const turnNum = latestTurn(ch) + 1;
  const signature = signState(ledgerState(ch, turnNum, lo), privateKey);
  const signedProposal: SignedProposal = { ledgerId: ch.id, turnNum, proposal: p, signature };
  return { ledger: { ...ch, queue: [...ch.queue, signedProposal] }, signedProposal };
}

/**
 * Follower: queue the leader's signed proposal after checking ledger, turn, signer and that it applies.
 * A duplicate of a queued or already agreed proposal is ignored.
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, PROTOCOL_NOT_READY (a later turn arrived first: deliver
 *   again later), PROTOCOL_CONFLICTING_STATE, PROTOCOL_WRONG_SIGNER, LEDGER_PROPOSAL_INVALID, PROTOCOL_MALFORMED
 */
export function receiveProposal(ch: ConsensusChannel, sp: SignedProposal): ConsensusChannel {
  return guardPeerInput('ledger proposal', () => {
    if (isLeader(ch)) fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'the ledger leader does not receive proposals');
    if (sp.ledgerId !== ch.id) fail('PROTOCOL_WRONG_CHANNEL', 'proposal is for another ledger', { ledgerId: ch.id });
    if (!Number.isSafeInteger(sp.turnNum)) fail('PROTOCOL_MALFORMED', 'proposal turnNum must be an integer');
    if (sp.turnNum <= ch.current.turnNum) return ch; // already agreed (a re-send)
    const queued = ch.queue.find((q) => q.turnNum === sp.turnNum);
    if (queued !== undefined) {
      if (sameProposal(queued.proposal, sp.proposal) && bytesToHex(queued.signature) === bytesToHex(sp.signature)) return ch;
      fail('PROTOCOL_CONFLICTING_STATE', 'a different proposal is queued at this turn', { turnNum: sp.turnNum });
    }
    const expected = latestTurn(ch) + 1;
    if (sp.turnNum > expected) fail('PROTOCOL_NOT_READY', 'proposal arrived ahead of an earlier one', { turnNum: sp.turnNum, expected });
    const lo = applyProposal(pendingOutcome(ch), sp.proposal);
    const signer = recoverStateSigner(ledgerState(ch, sp.turnNum, lo), sp.signature);
    if (!sameAddress(signer, ch.fixedPart.participants[0]!)) fail('PROTOCOL_WRONG_SIGNER', 'proposal is not signed by the ledger leader');
    return { ...ch, queue: [...ch.queue, { ...sp, proposal: sp.proposal }] };
  });
}

/** Follower: the next proposal waiting for my countersignature, if any. */
export function nextProposal(ch: ConsensusChannel): SignedProposal | undefined {
  return ch.queue[0];
}

/**
 * Follower: countersign the next queued proposal — only if it is exactly `expected` (no blind
 * countersigning). The signed state becomes the consensus.
 * @throws SluiceError PROTOCOL_BAD_ROLE_OR_STATUS, LEDGER_PROPOSAL_UNEXPECTED
 */
export function signNextProposal(
  ch: ConsensusChannel,
  expected: Proposal,
  privateKey: Uint8Array | string,
): { ledger: ConsensusChannel; countersignature: Countersignature } {
  if (isLeader(ch)) fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'only the ledger follower countersigns');
  const head = ch.queue[0];
  if (head === undefined || !sameProposal(head.proposal, expected)) {
    fail('LEDGER_PROPOSAL_UNEXPECTED', 'the next ledger proposal is not the expected one', { ledgerId: ch.id });
  }
  const lo = applyProposal(ch.current.outcome, head.proposal);
  const signature = signState(ledgerState(ch, head.turnNum, lo), privateKey);
  return {
    ledger: { ...ch, current: { turnNum: head.turnNum, outcome: lo, signatures: [head.signature, signature] }, queue: ch.queue.slice(1) },
    countersignature: { ledgerId: ch.id, turnNum: head.turnNum, signature },
  };
}

/**
 * Leader: accept the follower's countersignature; the countersigned state becomes the consensus.
 * A stale countersignature (turn already agreed) is ignored.
 * @throws SluiceError PROTOCOL_WRONG_CHANNEL, PROTOCOL_WRONG_TURN, PROTOCOL_WRONG_SIGNER, PROTOCOL_MALFORMED
 */
export function receiveCountersignature(ch: ConsensusChannel, cs: Countersignature): ConsensusChannel {
  return guardPeerInput('ledger countersignature', () => {
    if (!isLeader(ch)) fail('PROTOCOL_BAD_ROLE_OR_STATUS', 'only the ledger leader receives countersignatures');
    if (cs.ledgerId !== ch.id) fail('PROTOCOL_WRONG_CHANNEL', 'countersignature is for another ledger', { ledgerId: ch.id });
    if (!Number.isSafeInteger(cs.turnNum)) fail('PROTOCOL_MALFORMED', 'countersignature turnNum must be an integer');
    if (cs.turnNum <= ch.current.turnNum) return ch;
    const at = ch.queue.findIndex((sp) => sp.turnNum === cs.turnNum);
    if (at < 0) fail('PROTOCOL_WRONG_TURN', 'no proposal of mine at this turn', { turnNum: cs.turnNum });
    let lo = ch.current.outcome;
    for (let i = 0; i <= at; i++) lo = applyProposal(lo, ch.queue[i]!.proposal);
    const signer = recoverStateSigner(ledgerState(ch, cs.turnNum, lo), cs.signature);
    if (!sameAddress(signer, ch.fixedPart.participants[1]!)) fail('PROTOCOL_WRONG_SIGNER', 'countersignature is not by the ledger follower');
    return { ...ch, current: { turnNum: cs.turnNum, outcome: lo, signatures: [ch.queue[at]!.signature, cs.signature] }, queue: ch.queue.slice(at + 1) };
  });
}

/** The consensus as a {@link Channel} value (e.g. to defund the ledger); holdings unknown. */
export function ledgerToChannel(ch: ConsensusChannel): Channel {
  const state = ledgerState(ch, ch.current.turnNum, ch.current.outcome);
  const hash = bytesToHex(hashStateBytes(state, ch.id)) as string as Bytes32;
  return {
    id: ch.id,
    fixedPart: ch.fixedPart,
    myIndex: ch.myIndex,
    states: [{ state: { outcome: state.outcome, appData: state.appData, turnNum: state.turnNum, isFinal: false }, hash, signatures: [...ch.current.signatures] }],
    holdings: {},
    concluded: false,
    chainCursor: null,
  };
}

