/**
 * Channels being settled on chain, as JSON (amounts as decimal strings) and as a human table.
 * Shared by `sluice-provider status`, `sluice status` and the provider's admin API.
 */
import type { Address, ChannelId } from '@sluice/channel-core';
import type { DisputeInfo } from '@sluice/channel-core/node';
import { formatSeconds, shortId, textTable } from '@sluice/channel-core/node/text';

/** A {@link DisputeInfo} with amounts as decimal strings (JSON-safe). */
export interface DisputeView {
  readonly channelId: ChannelId;
  readonly kind: 'ledger' | 'virtual';
  readonly objectiveId: string;
  readonly phase: 'registering' | 'challenge' | 'finalized';
  readonly waitingFor: string;
  readonly turnNumRecord: number | null;
  readonly finalizesAt: number | null;
  readonly secondsLeft: number | null;
  readonly chainTime: number;
  readonly amounts: readonly { readonly participant: Address; readonly amount: string }[];
  readonly mine: string;
  readonly locked: string;
}

/** JSON-safe view of a dispute. */
export function disputeView(d: DisputeInfo): DisputeView {
  return {
    channelId: d.channelId,
    kind: d.kind,
    objectiveId: d.objectiveId,
    phase: d.phase,
    waitingFor: d.waitingFor,
    turnNumRecord: d.turnNumRecord,
    finalizesAt: d.finalizesAt,
    secondsLeft: d.secondsLeft,
    chainTime: d.chainTime,
    amounts: d.amounts.map((a) => ({ participant: a.participant, amount: a.amount.toString() })),
    mine: d.mine.toString(),
    locked: d.locked.toString(),
  };
}

export { formatSeconds, shortId, textTable } from '@sluice/channel-core/node/text';

/**
 * Human table of disputes: channel, kind, phase, time left (chain time), what each participant
 * gets (`0xabcd…1234=N` each), our share and what is still locked in guarantees.
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
      d.amounts.map((a) => `${shortId(a.participant)}=${a.amount}`).join(' '),
      d.mine,
      d.locked,
    ]),
  );
}
