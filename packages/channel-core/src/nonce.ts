/**
 * Channel nonces that carry the time they were made: `(unix seconds << 32) | 32 random bits`, in
 * Nitro's uint64 `channelNonce`. A node that joins channels only while their nonce is recent
 * (a {@link NonceWindow}) can never be made to join a channel it finished long ago by a replayed
 * prefund, so it need not remember finished channel ids forever (see ADR 0004, "history
 * retention"). The low half is random: channel ids stay unguessable (a forged prefund for a
 * guessed id could otherwise draw refusals that fail the real opening), and two channels of the
 * same participants collide only if they draw the same 32 bits in the same second (the node
 * draws again when that happens).
 */
import { randomBytes } from 'node:crypto';

/** How far a channel nonce's time may be from the joining node's clock. */
export interface NonceWindow {
  /** Oldest accepted nonce time, this long before now. */
  readonly maxAgeMs: number;
  /** Newest accepted nonce time, this long after now (clock skew). */
  readonly maxAheadMs: number;
}

/**
 * The window a hub applies by default: 1 hour old, 10 minutes ahead. A prefund is joined within
 * seconds of its nonce; the rest is room for slow links and clocks that are a little off.
 */
export const DEFAULT_NONCE_WINDOW: NonceWindow = { maxAgeMs: 3_600_000, maxAheadMs: 600_000 };

const SECONDS_MAX = 0xffff_ffff;
/** Past this far from the clock, a nonce is taken for one made without a time (an old node). */
const TIMELESS_MS = 30 * 86_400_000;

/** A channel nonce for a channel made at `nowMs` (low 32 bits: random unless `low32` is given). */
export function timedNonce(nowMs: number, low32?: number): bigint {
  const seconds = Math.floor(nowMs / 1000);
  if (!Number.isSafeInteger(seconds) || seconds < 0 || seconds > SECONDS_MAX) throw new RangeError('nowMs out of range for a timed nonce');
  const low = low32 ?? randomBytes(4).readUInt32BE(0);
  if (!Number.isInteger(low) || low < 0 || low > 0xffff_ffff) throw new RangeError('low32 must be a 32-bit unsigned integer');
  return (BigInt(seconds) << 32n) | BigInt(low);
}

/** The time (ms since the epoch) a timed nonce was made; garbage in, some time out. */
export function nonceTimeMs(nonce: bigint): number {
  return Number((nonce >> 32n) & 0xffff_ffffn) * 1000;
}

/**
 * Why a channel with this nonce may not be joined at `nowMs` under `window`, or `undefined` when
 * it may. (A nonce made without a time reads as a random time, almost always outside.)
 */
export function nonceOutsideWindow(nonce: bigint, nowMs: number, window: NonceWindow): string | undefined {
  const t = nonceTimeMs(nonce);
  if (Math.abs(t - nowMs) > TIMELESS_MS && (t < nowMs - window.maxAgeMs - 999 || t > nowMs + window.maxAheadMs)) {
    return 'the channel nonce carries no recent time (nodes put the time they open a channel in its nonce; this one reads as a time months away): upgrade the node that opened it, or check its clock';
  }
  const at = new Date(t).toISOString();
  if (t < nowMs - window.maxAgeMs - 999) {
    return `the channel nonce was made at ${at}, ${describe(nowMs - t)} ago by my clock (at most ${describe(window.maxAgeMs)}): open it again with a new nonce, and check the clocks`;
  }
  if (t > nowMs + window.maxAheadMs) {
    return `the channel nonce was made at ${at}, ${describe(t - nowMs)} ahead of my clock (at most ${describe(window.maxAheadMs)}): check the clocks`;
  }
  return undefined;
}

function describe(ms: number): string {
  if (ms >= 86_400_000) return `${Math.round(ms / 86_400_000)} d`;
  if (ms >= 3_600_000) return `${Math.round(ms / 360_000) / 10} h`;
  if (ms >= 60_000) return `${Math.round(ms / 6_000) / 10} min`;
  return `${Math.round(ms / 1000)} s`;
}
