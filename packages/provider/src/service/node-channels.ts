/**
 * {@link PayeeChannels} over the channel engine's Node API (`@sluice/channel-core/node`):
 * the provider's node is the payee of virtual channels that clients open through the hub.
 * `receiveVoucher` is the node's (it persists an accepted voucher, fsync'd, before it
 * returns); `withdraw` closes our open ledger channels cooperatively (one transaction each).
 */
import { type Address, type ChannelId, type ReceiveResult, type Voucher, isSluiceError, sameAddress } from '@sluice/channel-core';
import type { Node, VirtualChannelInfo } from '@sluice/channel-core/node';
import type { PayeeChannelView, PayeeChannels, VirtualChannelStatus } from './channels.ts';

function status(s: VirtualChannelInfo['status']): VirtualChannelStatus {
  switch (s) {
    case 'funding':
      return 'proposed';
    case 'funded':
      return 'funded';
    case 'closing':
      return 'closing';
    default:
      return 'closed';
  }
}

function view(v: VirtualChannelInfo): PayeeChannelView {
  return { channelId: v.channelId, payer: v.payer, payee: v.payee, balance: v.amount, asset: v.asset, status: status(v.status), paid: v.paid };
}

export class NodePayeeChannels implements PayeeChannels {
  readonly #node: Node;
  readonly address: Address;

  /** @param node - a started node (the caller owns its lifecycle) */
  constructor(node: Node) {
    this.#node = node;
    this.address = node.address;
  }

  async getVirtualChannel(channelId: ChannelId): Promise<PayeeChannelView | undefined> {
    const v = this.#node.getVirtualChannel(channelId);
    return v === undefined ? undefined : view(v);
  }

  async receiveVoucher(voucher: Voucher, options: { price: bigint }): Promise<ReceiveResult> {
    return this.#node.receiveVoucher(voucher, { price: options.price });
  }

  async listVirtualChannels(): Promise<PayeeChannelView[]> {
    return this.#node.getVirtualChannels().filter((v) => v.role === 'payee' && sameAddress(v.payee, this.address)).map(view);
  }

  async closeVirtualChannel(channelId: ChannelId): Promise<void> {
    await this.#node.closeVirtualChannel(channelId);
  }

  /** Close every open ledger channel that no longer guarantees a virtual channel; report each. */
  async withdraw(): Promise<unknown> {
    const results: { channelId: ChannelId; counterparty: Address; amount: string; status: string; error?: string }[] = [];
    for (const l of this.#node.getLedgerChannels()) {
      if (l.status !== 'open') continue;
      try {
        if (l.guarantees > 0) throw new Error('the ledger still funds virtual channels; close them first');
        await this.#node.closeLedgerChannel(l.channelId);
        results.push({ channelId: l.channelId, counterparty: l.counterparty, amount: l.myBalance.toString(), status: 'closed' });
      } catch (e) {
        results.push({ channelId: l.channelId, counterparty: l.counterparty, amount: l.myBalance.toString(), status: 'failed', error: isSluiceError(e) ? e.code : 'INTERNAL' });
      }
    }
    return { adapter: 'node', ledgers: results };
  }
}
