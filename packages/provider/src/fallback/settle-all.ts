/**
 * Settle everything a payer or payee node holds with its hub: every open virtual channel
 * (`settleVirtualChannel`: cooperative close first, on chain when forced or when the peer is
 * gone), then every ledger (`exitLedgerChannel`: cooperative `closeLedgerChannel`, or on chain).
 * The Node API decides cooperative vs on chain; this only orders the calls and reports. Used by
 * the provider's admin API (`sluice-provider settle`) and by `sluice withdraw`.
 */
import { type Address, type ChannelId, isSluiceError } from '@sluice/channel-core';
import type { Node, SettleOptions } from '@sluice/channel-core/node';

export interface SettleAllOptions {
  /** Go on chain at once (no cooperative attempt). */
  readonly force?: boolean;
  /** How long each cooperative attempt may take before going on chain (default: the node's). */
  readonly cooperativeTimeoutMs?: number;
  /** Only channels with this counterparty (ledgers) / hub (virtual channels). */
  readonly hub?: Address;
  /** Also exit the ledgers (default true). The provider's `/admin/channels/:id/close` does not. */
  readonly ledgers?: boolean;
  readonly signal?: AbortSignal;
  /** Called when a channel's settle starts and ends. */
  readonly onProgress?: (p: SettleProgress) => void;
}

export type SettleProgress =
  | { readonly phase: 'start'; readonly kind: 'virtual' | 'ledger'; readonly channelId: ChannelId }
  | { readonly phase: 'done'; readonly result: ChannelSettleResult };

/** How one channel went. Amounts are decimal strings. */
export interface ChannelSettleResult {
  readonly channelId: ChannelId;
  readonly kind: 'virtual' | 'ledger';
  /** `cooperative` (done), `onChain` (fallback objectives started), or `failed`. */
  readonly mode: 'cooperative' | 'onChain' | 'failed';
  /** Virtual, cooperative: what the payee was paid. */
  readonly paid?: string;
  /** Ledger: our balance in it (what we withdraw when it closes cooperatively). */
  readonly amount?: string;
  readonly objectiveIds?: readonly string[];
  /** Said instead of the usual line (e.g. a ledger opening given up with nothing in it). */
  readonly note?: string;
  /** SluiceError code when failed. */
  readonly code?: string;
  readonly message?: string;
}

export interface SettleReport {
  readonly virtualChannels: readonly ChannelSettleResult[];
  readonly ledgers: readonly ChannelSettleResult[];
  /** True when some channel went on chain: the payout comes after the challenge duration. */
  readonly onChain: boolean;
}

function failed(channelId: ChannelId, kind: 'virtual' | 'ledger', e: unknown): ChannelSettleResult {
  return { channelId, kind, mode: 'failed', code: isSluiceError(e) ? e.code : 'INTERNAL', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Settle one virtual channel (payer or payee side).
 * @throws nothing: failures are reported in the result
 */
export async function settleOneVirtual(node: Node, channelId: ChannelId, options: SettleAllOptions = {}): Promise<ChannelSettleResult> {
  const opts: SettleOptions = {
    ...(options.force === true ? { force: true } : {}),
    ...(options.cooperativeTimeoutMs === undefined ? {} : { cooperativeTimeoutMs: options.cooperativeTimeoutMs }),
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  };
  try {
    const r = await node.settleVirtualChannel(channelId, opts);
    return r.mode === 'cooperative'
      ? { channelId, kind: 'virtual', mode: 'cooperative', ...(r.paid === undefined ? {} : { paid: r.paid.toString() }) }
      : { channelId, kind: 'virtual', mode: 'onChain', objectiveIds: r.objectiveIds };
  } catch (e) {
    return failed(channelId, 'virtual', e);
  }
}

/**
 * Settle every open virtual channel we pay or are paid on, then (unless `ledgers: false`) exit
 * every ledger that is open or closing. Channels already settling on chain are included (the
 * calls are idempotent and report `onChain`).
 */
export async function settleAll(node: Node, options: SettleAllOptions = {}): Promise<SettleReport> {
  const hubOk = (a: Address): boolean => options.hub === undefined || a.toLowerCase() === options.hub.toLowerCase();
  const virtualChannels: ChannelSettleResult[] = [];
  for (const v of node.getVirtualChannels()) {
    if (v.role === 'intermediary' || !hubOk(v.hub)) continue;
    if (v.status !== 'funded' && v.status !== 'closing') continue;
    options.onProgress?.({ phase: 'start', kind: 'virtual', channelId: v.channelId });
    const r = await settleOneVirtual(node, v.channelId, options);
    virtualChannels.push(r);
    options.onProgress?.({ phase: 'done', result: r });
  }
  const ledgers: ChannelSettleResult[] = [];
  if (options.ledgers !== false) {
    for (const l of node.getLedgerChannels()) {
      // openings too: one whose peer vanished after our deposit is exited with the prefund
      if (!hubOk(l.counterparty) || (l.status !== 'open' && l.status !== 'closing' && l.status !== 'funding')) continue;
      options.onProgress?.({ phase: 'start', kind: 'ledger', channelId: l.channelId });
      let r: ChannelSettleResult;
      try {
        const x = await node.exitLedgerChannel(l.channelId, {
          ...(options.force === true ? { force: true } : {}),
          ...(options.cooperativeTimeoutMs === undefined ? {} : { cooperativeTimeoutMs: options.cooperativeTimeoutMs }),
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        });
        r = x.mode === 'cooperative' && x.openingGivenUp === true
          ? { channelId: l.channelId, kind: 'ledger', mode: 'cooperative', note: 'opening given up: nothing of ours was deposited in it' }
          : x.mode === 'cooperative'
          ? { channelId: l.channelId, kind: 'ledger', mode: 'cooperative', amount: l.myBalance.toString() }
          : { channelId: l.channelId, kind: 'ledger', mode: 'onChain', amount: l.myBalance.toString(), objectiveIds: x.objectiveIds };
      } catch (e) {
        r = failed(l.channelId, 'ledger', e);
      }
      ledgers.push(r);
      options.onProgress?.({ phase: 'done', result: r });
    }
  }
  return { virtualChannels, ledgers, onChain: [...virtualChannels, ...ledgers].some((r) => r.mode === 'onChain') };
}

/** True while the node has fallback objectives running or ledgers/virtual channels closing. */
export function settling(node: Node): boolean {
  return node.getDisputes().length > 0;
}
