/**
 * Map the chain port's adjudicator events (`type`: `Deposited`, `AllocationUpdated`,
 * `Concluded`, ...) to the pure protocols' chain events (`kind`). Pure.
 */
import type { Address, ChannelId } from '../hex.ts';
import type { ChainEvent as PortChainEvent } from '../chain.ts';
import type { ChainEvent } from '../protocols/types.ts';

/** The channel an adjudicator event is about. */
export function eventChannelId(ev: PortChainEvent): ChannelId {
  return (ev.type === 'Deposited' ? ev.destination : ev.channelId).toLowerCase() as ChannelId;
}

/**
 * The protocol event for an adjudicator event, or undefined for events the cooperative
 * protocols do not consume (challenges, checkpoints, reclaims).
 * @param assetAt - the asset at `assetIndex` of the channel's outcome (AllocationUpdated names only the index)
 */
export function toProtocolEvent(ev: PortChainEvent, assetAt: (channelId: ChannelId, assetIndex: number) => Address | undefined): ChainEvent | undefined {
  const channelId = eventChannelId(ev);
  const at = { blockNumber: ev.blockNumber, logIndex: ev.logIndex };
  switch (ev.type) {
    case 'Deposited':
      return { kind: 'deposited', channelId, asset: ev.asset, holdings: ev.destinationHoldings, ...at };
    case 'AllocationUpdated': {
      const asset = assetAt(channelId, Number(ev.assetIndex));
      if (asset === undefined) return undefined;
      return { kind: 'allocationUpdated', channelId, asset, holdings: ev.finalHoldings, initialHoldings: ev.initialHoldings, ...at };
    }
    case 'Concluded':
      return { kind: 'concluded', channelId, ...at };
    default:
      return undefined;
  }
}
