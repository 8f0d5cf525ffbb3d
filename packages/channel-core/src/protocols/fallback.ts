/**
 * When to leave the cooperative path, and which fallback objectives to start. Pure: the engine
 * supplies the triggers as data (a peer silent past its timeout, a user's `--force`, a
 * `ChallengeRegistered` on one of our channels) together with the channels it holds.
 *
 * Closure rule: a ledger's payout needs every guarantee in it reclaimed, which needs each
 * guaranteed virtual channel finalized; so exiting a ledger settles the virtual channels it
 * guarantees. The other direction is not closed here: a virtual channel settled on chain leaves
 * the other ledgers that guarantee it open — once V is finalized their two parties remove the
 * guarantee cooperatively with V's on-chain outcome (`guarantee-removal.ts`), and only a peer that
 * stays silent or refuses gets that ledger exited (the engine's `peerStalled` trigger).
 */
import type { Address, ChannelId } from '../hex.ts';
import { sameAddress } from '../address.ts';
import type { Voucher } from '../voucher.ts';
import { type Channel, latestSupportedState } from './channel.ts';
import { type ConsensusChannel, counterparty } from './ledger.ts';
import { type LedgerExitObjective, ledgerExitId, newLedgerExit, updateLedgerExit } from './ledger-exit.ts';
import { type VirtualChallengeObjective, newVirtualChallenge, updateVirtualChallenge, virtualChallengeId } from './virtual-challenge.ts';
import { dest, virtualAmounts } from './virtual-channel.ts';
import { type ChallengeResponse, decideChallengeResponse } from './watchtower.ts';
import type { ChallengeRegisteredEvent, ConcludedEvent, Secrets } from './types.ts';

// ---------------------------------------------------------------- the decision

export interface GoOnChainInput {
  /** The user asked for it (`settle --force`, `withdraw --force`). */
  readonly force?: boolean;
  /** The counterparty stayed silent past the engine's timeout during an objective that needs it (after retries). */
  readonly peerStalled?: boolean;
  /** A challenge runs on this channel that we cannot (or chose not to) clear with a checkpoint. */
  readonly challengeRunning?: boolean;
  /**
   * A virtual channel is being settled on chain (a challenge registered on it). Settles that V
   * only: the ledgers guaranteeing it drop the guarantee by on-chain proof once V is finalized.
   */
  readonly virtualOnChain?: boolean;
}

export type GoOnChainDecision =
  | { readonly onChain: false; readonly reason: 'cooperative' }
  | { readonly onChain: true; readonly reason: 'forced' | 'peerStalled' | 'challengeRunning' | 'virtualOnChain' };

/**
 * Cooperative first: go on chain only when forced, when the peer is gone, or when the chain already
 * decides (a challenge we cannot clear runs, or a guaranteed virtual channel is settled there).
 * A stale challenge answered with `checkpoint` keeps the cooperative path.
 */
export function shouldGoOnChain(input: GoOnChainInput): GoOnChainDecision {
  if (input.force === true) return { onChain: true, reason: 'forced' };
  if (input.challengeRunning === true) return { onChain: true, reason: 'challengeRunning' };
  if (input.virtualOnChain === true) return { onChain: true, reason: 'virtualOnChain' };
  if (input.peerStalled === true) return { onChain: true, reason: 'peerStalled' };
  return { onChain: false, reason: 'cooperative' };
}

// ---------------------------------------------------------------- the plan

/** A virtual channel the node holds, with the payee's best voucher. */
export interface HeldVirtual {
  readonly channel: Channel;
  readonly bestVoucher?: Voucher | null;
}

export interface FallbackContext {
  /** Our ledgers (latest consensus). */
  readonly ledgers: readonly ConsensusChannel[];
  /** Our open virtual channels. */
  readonly virtuals: readonly HeldVirtual[];
  /**
   * Virtual channels still being funded whose prefund (at least) every participant signed. A
   * challenge registered on one of them settles it on chain (with its virtual challenge: the
   * funding is over), and so does a stalled participant when a ledger we keep (not exited for
   * it) guarantees the channel; an exiting ledger does not (a ledger exit resolves its
   * guarantees' targets itself). Before, such a challenge went unanswered: the payer's open waited
   * for a postfund that would never come, and could not follow V on chain to agree to the removal
   * of its guarantee by proof (found by `bench:chaos`); and a payee that vanished after the
   * prefund left the payer's guarantee locked in its ledger.
   */
  readonly opening?: readonly HeldVirtual[];
  /** Ids of the objectives already live (the plan never creates one twice). */
  readonly live: readonly string[];
  /** Current chain time (seconds). */
  readonly now: number;
}

export type FallbackTrigger =
  /** The engine's timeout for `peer` expired (after retries) during an objective that needs it. */
  | { readonly kind: 'peerStalled'; readonly peer: Address }
  /** A user command: settle this channel (a ledger or a virtual channel) on chain, or every channel. */
  | { readonly kind: 'userForce'; readonly channelId?: ChannelId }
  /** A `ChallengeRegistered` on one of our channels. */
  | { readonly kind: 'challengeRegistered'; readonly event: ChallengeRegisteredEvent }
  /**
   * A `Concluded` on one of our virtual channels: finalized at once, with a final state we may not
   * hold. Our virtual challenge follows it (learning the outcome), so the guarantees leave our
   * ledgers by proof — without it we noticed only at the peer timeout, and a payee's removal by
   * proof could time out on a hub that had not noticed yet.
   */
  | { readonly kind: 'virtualConcluded'; readonly event: ConcludedEvent };

export interface FallbackPlan {
  readonly decision: GoOnChainDecision;
  /** New objectives to persist and crank (already fed the triggering event and chain time). */
  readonly create: readonly (LedgerExitObjective | VirtualChallengeObjective)[];
  /**
   * For a challenge on a ledger we are not exiting: the watchtower's answer. Submit it only when
   * its action is `checkpoint` (that keeps the cooperative path; nothing is created). Any other
   * move (counter-challenge, conclude) is made by the created ledger exit, which was fed the
   * event — never submit both. Challenges on virtual channels are answered by the virtual
   * challenge objective (created here or live).
   */
  readonly respond: ChallengeResponse | null;
}

/**
 * What we put into `l`'s guarantee of V (0n: none, or no guarantee): its left side deposits the
 * payer's balance in V, its right side the payee's (`expectedAdd`).
 */
function ourStake(l: ConsensusChannel, v: Channel): bigint {
  const g = l.current.outcome.guarantees.find((x) => x.target === v.id);
  const s = latestSupportedState(v);
  if (g === undefined || s === undefined) return 0n;
  const me = dest(l.fixedPart.participants[l.myIndex]!);
  try {
    const a = virtualAmounts(s.state.outcome, v.fixedPart);
    return g.left === me ? a.payer : g.right === me ? a.payee : 0n;
  } catch {
    return 0n;
  }
}

function guarantees(l: ConsensusChannel, v: ChannelId): boolean {
  return l.current.outcome.guarantees.some((g) => g.target === v);
}

/**
 * Which fallback objectives to start for a trigger.
 * @throws SluiceError PROTOCOL_MALFORMED (malformed challenge event), INVALID_ARGUMENT (bad held data)
 */
export function fallbackPlan(ctx: FallbackContext, trigger: FallbackTrigger, secrets: Secrets): FallbackPlan {
  const ledgerIds = new Set<ChannelId>();
  const virtualIds = new Set<ChannelId>();
  let decision: GoOnChainDecision;
  let respond: ChallengeResponse | null = null;

  switch (trigger.kind) {
    case 'peerStalled': {
      for (const l of ctx.ledgers) if (sameAddress(counterparty(l), trigger.peer)) ledgerIds.add(l.id);
      const withPeer = (v: HeldVirtual): boolean => v.channel.fixedPart.participants.some((p, i) => i !== v.channel.myIndex && sameAddress(p, trigger.peer));
      for (const v of ctx.virtuals) if (withPeer(v)) virtualIds.add(v.channel.id);
      // A channel still being opened with the stalled peer, whose guarantee holds funds of ours in
      // a ledger we keep (the payer's deposit, when the payee vanished after the prefund; the hub's
      // collateral toward the payee, when the payer did): its funding will not complete, and only
      // V's outcome on chain frees that guarantee by proof. (A ledger exited here resolves its
      // guarantees' targets itself; a guarantee of the counterparty's funds is its to free.)
      for (const v of ctx.opening ?? []) {
        if (withPeer(v) && ctx.ledgers.some((l) => !ledgerIds.has(l.id) && ourStake(l, v.channel) > 0n)) virtualIds.add(v.channel.id);
      }
      decision = shouldGoOnChain({ peerStalled: true });
      break;
    }
    case 'userForce': {
      const id = trigger.channelId?.toLowerCase();
      for (const l of ctx.ledgers) if (id === undefined || l.id === id) ledgerIds.add(l.id);
      for (const v of ctx.virtuals) if (v.channel.id === id) virtualIds.add(v.channel.id);
      decision = shouldGoOnChain({ force: true });
      break;
    }
    case 'virtualConcluded': {
      const id = trigger.event.channelId;
      const virtual = ctx.virtuals.find((v) => v.channel.id === id) ?? ctx.opening?.find((v) => v.channel.id === id);
      if (virtual === undefined) return { decision: shouldGoOnChain({}), create: [], respond: null };
      virtualIds.add(virtual.channel.id);
      decision = shouldGoOnChain({ virtualOnChain: true });
      break;
    }
    case 'challengeRegistered': {
      const ev = trigger.event;
      const ledger = ctx.ledgers.find((l) => l.id === ev.channelId);
      const virtual = ctx.virtuals.find((v) => v.channel.id === ev.channelId) ?? ctx.opening?.find((v) => v.channel.id === ev.channelId);
      if (ledger !== undefined) {
        // exiting already: the live ledger exit answers (counter-challenges) by itself
        const exiting = ctx.live.includes(ledgerExitId(ledger.id));
        const answer = exiting ? null : decideChallengeResponse({ channel: newLedgerExit({ ledger }).ledger }, ev, ctx.now, secrets);
        if (answer?.action === 'checkpoint') {
          respond = answer;
          decision = shouldGoOnChain({});
        } else {
          // the counterparty registered our latest state (it is leaving), or it is too late to answer,
          // or we hold a final state to conclude with: the ledger is settled on chain either way, and
          // the ledger exit (fed this event) makes our move and collects
          respond = answer;
          ledgerIds.add(ledger.id);
          decision = shouldGoOnChain({ challengeRunning: true });
        }
      } else if (virtual !== undefined) {
        virtualIds.add(virtual.channel.id);
        decision = shouldGoOnChain({ virtualOnChain: true });
      } else {
        return { decision: shouldGoOnChain({}), create: [], respond: { action: 'none', reason: 'otherChannel' } };
      }
      break;
    }
  }

  if (decision.onChain) {
    // closure: a ledger being exited settles the virtual channels it guarantees (one direction
    // only: a virtual channel settled on chain does not exit the other ledgers guaranteeing it)
    for (const l of ctx.ledgers) {
      if (!ledgerIds.has(l.id)) continue;
      for (const g of l.current.outcome.guarantees) if (ctx.virtuals.some((v) => v.channel.id === g.target)) virtualIds.add(g.target);
    }
  }

  const event = trigger.kind === 'challengeRegistered' || trigger.kind === 'virtualConcluded' ? trigger.event : undefined;
  const time = { kind: 'chainTime', timestamp: ctx.now, blockNumber: 0 } as const;
  const create: (LedgerExitObjective | VirtualChallengeObjective)[] = [];
  // (a channel still being opened is among `virtualIds` only when the challenge is on it, or its
  // stalled participant keeps it from funding while a ledger we keep guarantees it)
  for (const v of [...ctx.virtuals, ...(ctx.opening ?? [])]) {
    if (!virtualIds.has(v.channel.id) || ctx.live.includes(virtualChallengeId(v.channel.id))) continue;
    const payee = v.channel.myIndex === v.channel.fixedPart.participants.length - 1;
    let o = newVirtualChallenge({ v: v.channel, bestVoucher: payee ? (v.bestVoucher ?? null) : null, now: ctx.now });
    if (event !== undefined) o = updateVirtualChallenge(o, event);
    create.push(updateVirtualChallenge(o, time));
  }
  for (const l of ctx.ledgers) {
    if (!ledgerIds.has(l.id) || ctx.live.includes(ledgerExitId(l.id))) continue;
    const virtuals = ctx.virtuals.filter((v) => guarantees(l, v.channel.id)).map((v) => v.channel);
    let o = newLedgerExit({ ledger: l, virtuals, now: ctx.now });
    if (event !== undefined) o = updateLedgerExit(o, event);
    create.push(o);
  }
  return { decision, create, respond };
}
