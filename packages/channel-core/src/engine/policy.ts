/**
 * What a node agrees to when a peer proposes something: a ledger channel, or a virtual
 * channel through it (as hub) or to it (as payee). Explicit configuration, no defaults that
 * put money at risk: by default a node accepts ledgers that need no deposit from it, joins
 * virtual channels as payee, and never acts as a hub.
 */
import type { Address, ChannelId } from '../hex.ts';
import type { HubPolicyConfig } from '../protocols/hub-policy.ts';
import type { NonceWindow } from '../nonce.ts';

/** A peer asks us to open a ledger channel. */
export interface LedgerRequest {
  readonly ledgerId: ChannelId;
  readonly counterparty: Address;
  readonly asset: Address;
  /** What the prefund asks us to deposit. */
  readonly myDeposit: bigint;
  readonly counterpartyDeposit: bigint;
}

/** A payer asks us to join a virtual channel (as its hub or its payee). */
export interface VirtualChannelRequest {
  readonly channelId: ChannelId;
  readonly role: 'intermediary' | 'payee';
  readonly payer: Address;
  readonly hub: Address;
  readonly payee: Address;
  readonly asset: Address;
  /** The payer's balance in the channel. */
  readonly amount: bigint;
}

/**
 * Default of {@link EnginePolicy.maxLedgerGuarantees}. Measured (`npm run bench:gas`, guarantee
 * scaling table): with 256 guarantees a ledger challenge costs ~1.8 M gas and each reclaim
 * ~1.3 M (vs 0.11 M and 0.06 M with one), so every on-chain step stays far inside a block.
 */
export const DEFAULT_MAX_LEDGER_GUARANTEES = 256;

/**
 * Default of {@link EnginePolicy.challengeDurations}: 5 min to 30 days, for ledgers and virtual
 * channels alike. Below the minimum a party could finalize a stale state before our watchtower
 * answers (at 0 a challenge is final in its own block); above the maximum the adjudicator's
 * `block.timestamp + challengeDuration` overflows uint48 (every challenge reverts) or the
 * collateral stays locked for longer than anyone should wait.
 */
export const DEFAULT_CHALLENGE_DURATIONS = { ledger: [300, 30 * 86_400], virtual: [300, 30 * 86_400] } as const satisfies ChallengeDurations;

/**
 * Accepted challenge durations, seconds, inclusive `[min, max]`. An undefined `min` is the default
 * one ({@link DEFAULT_CHALLENGE_DURATIONS}), raised to {@link EnginePolicy.challengeDurationFloor}.
 */
export interface ChallengeDurations {
  readonly ledger: readonly [min: number | undefined, max: number];
  readonly virtual: readonly [min: number | undefined, max: number];
}

/** A decision: `true` to accept, or a reason to refuse. */
export type Decision = true | string;

export interface EnginePolicy {
  /**
   * Act as a hub (an intermediary of virtual channels) under this collateral policy. Absent:
   * the node refuses to be an intermediary.
   */
  readonly hub?: HubPolicyConfig;
  /**
   * Most guarantees (virtual channels funded or being funded) one of our ledgers may hold
   * (default {@link DEFAULT_MAX_LEDGER_GUARANTEES}). Checked, with the joins already approved,
   * before we sign a virtual channel's prefund: past it the virtual channel is refused with
   * LEDGER_FULL. Settling a ledger on chain costs gas linear in its guarantee count for every
   * channel it guarantees (the adjudicator's reclaim reads the whole outcome), and a ledger past
   * a few thousand guarantees cannot be challenged within a block at all.
   */
  readonly maxLedgerGuarantees?: number;
  /** Largest deposit a peer may ask of us when it opens a ledger with us (default 0). */
  readonly maxLedgerDeposit?: bigint;
  /** Extra check on a ledger request (after `maxLedgerDeposit`). */
  readonly acceptLedger?: (request: LedgerRequest) => Decision;
  /** Extra check on a virtual channel request (after the hub's collateral policy). Default: accept. */
  readonly acceptVirtualChannel?: (request: VirtualChannelRequest) => Decision;
  /**
   * Join a channel a peer opens (ledger or virtual) only while its nonce's time is within this
   * window of our clock (nonces made by `timedNonce`, as nodes make them); refused otherwise
   * (HUB_POLICY_REJECTED, with the times in the reason). With it, history retention also forgets
   * the ids of pruned channels once their nonces are older than `maxAgeMs` — a replayed prefund
   * of one is refused by the window — so what a node remembers of its history stays bounded.
   * Absent (the default): any nonce is joined and pruned ids are remembered forever. The hub
   * sets `DEFAULT_NONCE_WINDOW`.
   */
  readonly nonceWindow?: NonceWindow;
  /**
   * Challenge durations we join channels with (default {@link DEFAULT_CHALLENGE_DURATIONS});
   * a ledger or virtual channel a peer opens with one outside is refused (HUB_POLICY_REJECTED).
   */
  readonly challengeDurations?: Partial<ChallengeDurations>;
  /**
   * Seconds the default minimum challenge duration is raised to: the node sets it from its
   * confirmations and the chain's block time (`challengeDurationFloorS`), so that by default we
   * only join challenges we have time to answer. A minimum given in `challengeDurations` is kept
   * as it is (the hub warns at start when it is short).
   */
  readonly challengeDurationFloor?: number;
}

/** The challenge durations, seconds, we join `kind` channels with: `[min, max]`, inclusive. */
export function challengeDurationRange(policy: EnginePolicy, kind: 'ledger' | 'virtual'): readonly [number, number] {
  const [defaultMin, defaultMax] = DEFAULT_CHALLENGE_DURATIONS[kind];
  const [min, max] = policy.challengeDurations?.[kind] ?? [undefined, defaultMax];
  return [min ?? Math.max(defaultMin, policy.challengeDurationFloor ?? 0), max];
}

/** Refusal reason when `seconds` is outside the policy's range for `kind`; undefined when inside. */
export function challengeDurationRefusal(policy: EnginePolicy, kind: 'ledger' | 'virtual', seconds: number): string | undefined {
  const [min, max] = challengeDurationRange(policy, kind);
  if (seconds >= min && seconds <= max) return undefined;
  return `the ${kind === 'ledger' ? 'ledger' : 'virtual channel'}'s challenge duration ${seconds} s is outside what we accept (${min}..${max} s)`;
}

/** Apply the ledger part of the policy. */
export function decideLedger(policy: EnginePolicy, request: LedgerRequest): Decision {
  const max = policy.maxLedgerDeposit ?? 0n;
  if (request.myDeposit > max) return `the ledger asks us to deposit ${request.myDeposit}, more than our limit ${max}`;
  return policy.acceptLedger?.(request) ?? true;
}

/** Apply the virtual channel part of the policy (the hub's collateral checks run in the protocol). */
export function decideVirtualChannel(policy: EnginePolicy, request: VirtualChannelRequest): Decision {
  if (request.role === 'intermediary' && policy.hub === undefined) return 'this node is not a hub';
  return policy.acceptVirtualChannel?.(request) ?? true;
}
