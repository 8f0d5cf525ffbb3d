/**
 * Watchtower decision: what to do about a `ChallengeRegistered` on one of our channels. Pure; the
 * engine runs it for every such event (also when catching up after a restart) and submits the
 * returned transaction before `finalizesAt`.
 */
import type { Voucher } from '../voucher.ts';
import type { Channel } from './channel.ts';
import { guardPeerInput } from './fail.ts';
import { bestExitMove, moveTransaction, registeredState } from './dispute.ts';
import type { ChallengeRegisteredEvent, Secrets, Transaction } from './types.ts';

/** What we hold of a channel: its states, and for V's payee the payer's best voucher. */
export interface HeldChannel {
  readonly channel: Channel;
  readonly bestVoucher?: Voucher | null;
}

export type ChallengeResponse =
  | {
      readonly action: 'none';
      /**
       * `otherChannel`: not this channel; `finalized`: too late (the chain time passed
       * `finalizesAt`); `upToDate`: the registered state is at least as new as anything we can
       * register; `nothingHeld`: we hold no supported state.
       */
      readonly reason: 'otherChannel' | 'finalized' | 'upToDate' | 'nothingHeld';
    }
  | {
      /**
       * `checkpoint`: clear the challenge with our newer state and keep the channel open (a ledger
       * we are not exiting); `challenge`: counter-challenge with our newer state (a virtual
       * channel, or a ledger we are exiting anyway); `conclude`: finalize at once with the
       * unanimous final state we hold.
       */
      readonly action: 'checkpoint' | 'challenge' | 'conclude';
      readonly tx: Transaction;
      /** The turn our transaction registers. */
      readonly turnNum: number;
      /** The turn the challenge registered. */
      readonly challengedTurnNum: number;
    };

export interface ChallengeResponseOptions {
  /** We are settling this channel on chain anyway: counter-challenge instead of checkpointing. */
  readonly exiting?: boolean;
}

/**
 * Decide how to answer a challenge at chain time `now`.
 *
 * - too late (finalized), or nothing newer held → nothing;
 * - we hold a unanimous final state → `conclude` (final at once, the agreed outcome);
 * - our best registrable state ({@link bestExitMove}: the latest supported state; for V's payee
 *   the voucher redemption at turn 2) has a higher turn than the registered one → a ledger we keep
 *   is `checkpoint`ed (the cooperative path goes on); a virtual channel, or a ledger we are exiting,
 *   is counter-challenged, so it finalizes with our state;
 * - never a state that pays us less than a newer one we hold (see {@link bestExitMove}).
 *
 * @throws SluiceError PROTOCOL_MALFORMED (malformed event), INVALID_ARGUMENT (a voucher not redeemable on V)
 */
export function decideChallengeResponse(
  held: HeldChannel,
  event: ChallengeRegisteredEvent,
  now: number,
  secrets: Secrets,
  options: ChallengeResponseOptions = {},
): ChallengeResponse {
  const { channel } = held;
  if (event.channelId !== channel.id) return { action: 'none', reason: 'otherChannel' };
  const registered = registeredState(channel.fixedPart, event);
  if (event.finalizesAt <= now) return { action: 'none', reason: 'finalized' };
  const move = guardPeerInput('held channel', () => bestExitMove(channel, secrets.privateKey, held.bestVoucher === undefined ? undefined : { bestVoucher: held.bestVoucher }));
  if (move === undefined) return { action: 'none', reason: 'nothingHeld' };
  const challengedTurnNum = registered.turnNum;
  if (move.kind === 'conclude') {
    return { action: 'conclude', tx: moveTransaction(channel.id, move, 'challenge', secrets.privateKey), turnNum: move.turnNum, challengedTurnNum };
  }
  if (move.turnNum <= challengedTurnNum) return { action: 'none', reason: 'upToDate' };
  const virtual = channel.fixedPart.participants.length > 2;
  const as = virtual || options.exiting === true ? 'challenge' : 'checkpoint';
  return { action: as, tx: moveTransaction(channel.id, move, as, secrets.privateKey), turnNum: move.turnNum, challengedTurnNum };
}
