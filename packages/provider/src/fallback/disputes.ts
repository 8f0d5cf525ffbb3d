/**
 * Channels being settled on chain, as JSON (amounts as decimal strings) and as a human table.
 * Shared by `sluice-provider status`, `sluice status` and the provider's admin API.
 */
import type { DisputeView } from '@sluice/channel-core/node';
import { formatSeconds, shortId, textTable } from '@sluice/channel-core/node/text';

export { type DisputeView, type OnChainState, COUNTERPARTY_ONLY, disputeView, onChainState } from '@sluice/channel-core/node';

export { formatSeconds, shortId, textTable } from '@sluice/channel-core/node/text';

/** What the amounts column says while the payout can still change (`amountsKnown` false). */
export const AMOUNTS_NOT_KNOWN = 'not known yet (the payee can still redeem its vouchers)';

/**
 * Human table of disputes: channel, kind, phase, time left (chain time), what each participant
 * gets (`0xabcd…1234=N` each), our share and what is still locked in guarantees. While the payout
 * can still change (a postfund registered or registering, which the payee can replace with its
 * voucher redemption), amounts say {@link AMOUNTS_NOT_KNOWN} and ours `?`, rather than the
 * payer's whole deposit.
 */
export function renderDisputes(list: readonly DisputeView[]): string {
  if (list.length === 0) return '  none';
  return textTable(
    ['channel', 'kind', 'phase', 'time left', 'waiting for', 'amounts (participant=amount)', 'mine', 'locked'],
    list.map((d) => [
      shortId(d.channelId),
      d.kind,
      d.phase,
      formatSeconds(d.secondsLeft),
      d.waitingFor,
      d.amountsKnown === false ? AMOUNTS_NOT_KNOWN : d.amounts.map((a) => `${shortId(a.participant)}=${a.amount}`).join(' '),
      d.amountsKnown === false ? '?' : d.mine,
      d.locked,
    ]),
  );
}

