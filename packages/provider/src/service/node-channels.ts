/**
 * {@link PayeeChannels} over the channel engine's Node API (`@sluice/channel-core/node`):
 * the provider's node is the payee of virtual channels that clients open through the hub.
 * `receiveVoucher` is the node's `receiveVoucherAsync` (an accepted voucher is fsync'd before
 * the promise resolves, in a group commit shared by the vouchers of one event-loop turn; a replay
 * resolves once the best voucher is durable), and `getVirtualChannel` reports `paid` only once
 * the vouchers it is receiving are durable;
 * `withdraw` closes our open ledger channels cooperatively (one transaction each).
 */
import { type Address, type ChannelId, type ReceiveResult, SluiceError, type Voucher, isSluiceError, sameAddress } from '@sluice/channel-core';
import type { LedgerChannelInfo, Node, VirtualChannelInfo } from '@sluice/channel-core/node';
import type { LedgerView, PayeeChannelView, PayeeChannels, SettleRequest, VirtualChannelStatus } from './channels.ts';
import { type DisputeView, disputeView } from '../fallback/disputes.ts';
import { type FallbackActivity, type FallbackTxView, type PayoutView, recordFallbackActivity } from '../fallback/activity.ts';
import { type ChannelSettleResult, type SettleReport, settleAll, settleOneVirtual } from '../fallback/settle-all.ts';
import { type LedgerRenewal, type LedgerRenewalInit, keepLedgerWithHub } from './ledger-renewal.ts';

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

/** What a closed ledger paid us (see {@link NodePayeeChannels.ledgers}), or null when not known. */
function paidOut(l: LedgerChannelInfo, payouts: readonly PayoutView[]): string | null {
  if (l.paidOut !== undefined) return l.paidOut.toString();
  const seen = payouts.findLast((p) => p.channelId.toLowerCase() === l.channelId.toLowerCase());
  if (seen !== undefined) return seen.mine;
  return l.guarantees === 0 ? l.myBalance.toString() : null;
}

export class NodePayeeChannels implements PayeeChannels {
  readonly #node: Node;
  readonly #activity: FallbackActivity;
  readonly #hub: { readonly address?: Address; readonly asset?: Address };
  /** Per channel, the latest voucher being received (committed, fsync pending). */
  readonly #receiving = new Map<ChannelId, Promise<ReceiveResult>>();
  #renewal: LedgerRenewal | undefined;
  readonly address: Address;

  /**
   * @param node - a started node (the caller owns its lifecycle)
   * @param hub - the hub and asset clients pay us through: only our ledger with it counts for
   *   {@link notReceiving} (default: any ledger)
   */
  constructor(node: Node, hub: { readonly address?: Address; readonly asset?: Address } = {}) {
    this.#node = node;
    this.#hub = hub;
    this.address = node.address;
    this.#activity = recordFallbackActivity(node);
  }

  notReceiving(): string | undefined {
    const { address: hub, asset } = this.#hub;
    const ledgers = this.#node.getLedgerChannels().filter((l) => (hub === undefined || sameAddress(l.counterparty, hub)) && (asset === undefined || sameAddress(l.asset, asset)));
    if (ledgers.some((l) => l.status === 'open' || l.status === 'funding')) return undefined;
    if (ledgers.length === 0) return 'we have no ledger channel with the hub';
    // the one that matters: one being closed, else a closed one, else the last (an opening refused, …)
    const status = (['closing', 'closed'] as const).find((x) => ledgers.some((l) => l.status === x)) ?? ledgers.at(-1)!.status;
    if (this.#renewal?.active === true) return `our ledger channel with the hub is ${status}: opening a new one (retried until the hub accepts it)`;
    return status === 'closed'
      ? 'our ledger channel with the hub is closed (settled or withdrawn): restart sluice-provider to open a new one'
      : `our ledger channel with the hub is ${status}: restart sluice-provider to open a new one`;
  }

  /**
   * Keep a ledger with the hub: open a new one whenever ours leaves `open` without our asking
   * (see {@link keepLedgerWithHub}); `withdraw` and `settleAll` stop it first. Once per instance.
   */
  keepLedger(init: LedgerRenewalInit): LedgerRenewal {
    if (this.#renewal !== undefined) throw new SluiceError('INVALID_ARGUMENT', 'the ledger with the hub is already kept');
    this.#renewal = keepLedgerWithHub(this.#node, init);
    return this.#renewal;
  }

  /** We wind down on purpose: a ledger we close must not be replaced. */
  async #stopRenewal(): Promise<void> {
    await this.#renewal?.stop();
  }

  /** Our recent fallback transactions and on-chain payouts (since this process started). */
  fallbackActivity(): { transactions: FallbackTxView[]; payouts: PayoutView[] } {
    return { transactions: this.#activity.transactions(), payouts: this.#activity.payouts() };
  }

  async stop(): Promise<void> {
    await this.#renewal?.stop();
    this.#activity.stop();
  }

  async getVirtualChannel(channelId: ChannelId): Promise<PayeeChannelView | undefined> {
    // The node shows a voucher as paid once committed, before its fsync: report the durable figure.
    await this.#receiving.get(channelId.toLowerCase() as ChannelId)?.catch(() => undefined);
    const v = this.#node.getVirtualChannel(channelId);
    return v === undefined ? undefined : view(v);
  }

  async receiveVoucher(voucher: Voucher, options: { price: bigint }): Promise<ReceiveResult> {
    // decided and committed at once, resolved once fsync'd (vouchers of one event-loop turn share
    // one fsync); a duplicate or stale result too resolves only once the best voucher is durable
    const received = this.#node.receiveVoucherAsync(voucher, { price: options.price });
    if (typeof voucher.channelId === 'string') {
      const id = voucher.channelId.toLowerCase() as ChannelId;
      this.#receiving.set(id, received);
      const settled = (): void => {
        if (this.#receiving.get(id) === received) this.#receiving.delete(id);
      };
      received.then(settled, settled);
    }
    return received;
  }

  async listVirtualChannels(): Promise<PayeeChannelView[]> {
    return this.#node.getVirtualChannels().filter((v) => v.role === 'payee' && sameAddress(v.payee, this.address)).map(view);
  }

  async earnings(): Promise<bigint> {
    // kept incrementally by the engine: no scan of the channels closed so far
    return this.#node.getPayeeEarnings().reduce((sum, e) => sum + e.amount, 0n);
  }

  async closeVirtualChannel(channelId: ChannelId): Promise<void> {
    await this.#node.closeVirtualChannel(channelId);
  }

  /**
   * Withdraw from every open (or closing) ledger: cooperative close when it guarantees no virtual
   * channel and the hub answers; on chain (`exitLedgerChannel`) when the hub is gone or `force`
   * (which also settles the virtual channels the ledger guarantees). Reports each ledger.
   */
  async withdraw(request: SettleRequest = {}): Promise<unknown> {
    await this.#stopRenewal();
    const results: { channelId: ChannelId; counterparty: Address; amount: string; status: string; mode?: string; objectiveIds?: readonly string[]; error?: string }[] = [];
    for (const l of this.#node.getLedgerChannels()) {
      if (l.status !== 'open' && l.status !== 'closing') continue;
      const base = { channelId: l.channelId, counterparty: l.counterparty, amount: l.myBalance.toString() };
      try {
        const r = await this.#node.exitLedgerChannel(l.channelId, {
          ...(request.force === true ? { force: true } : {}),
          ...(request.cooperativeTimeoutMs === undefined ? {} : { cooperativeTimeoutMs: request.cooperativeTimeoutMs }),
        });
        results.push(r.mode === 'cooperative' ? { ...base, status: 'closed', mode: 'cooperative' } : { ...base, status: 'settling on chain', mode: 'onChain', objectiveIds: r.objectiveIds });
      } catch (e) {
        results.push({ ...base, status: 'failed', error: isSluiceError(e) ? e.code : 'INTERNAL' });
      }
    }
    return { adapter: 'node', ledgers: results };
  }

  async settleVirtualChannel(channelId: ChannelId, request: SettleRequest): Promise<ChannelSettleResult> {
    return settleOneVirtual(this.#node, channelId, request);
  }

  async settleAll(request: SettleRequest): Promise<SettleReport> {
    await this.#stopRenewal();
    return settleAll(this.#node, request);
  }

  disputes(): DisputeView[] {
    return this.#node.getDisputes().map(disputeView);
  }

  /**
   * Our ledgers for `status`: a live one with its last agreed balances; a closed one without them
   * (the node keeps its last agreed state, which an on-chain exit does not pay as such) and with
   * what it paid us out when known: as the node recorded it when the close completed (kept across
   * restarts), else the payout seen by this process (on-chain exit), else, when the
   * ledger locked nothing, its last agreed balance (the final state of a cooperative close has that
   * outcome, and an exit registers it), else null.
   */
  ledgers(): LedgerView[] {
    const payouts = this.#activity.payouts();
    return this.#node.getLedgerChannels().map((l) => {
      const base = { channelId: l.channelId, counterparty: l.counterparty, asset: l.asset, status: l.status };
      if (l.status === 'closed') return { ...base, myBalance: null, counterpartyBalance: null, locked: null, guarantees: 0, paidOut: paidOut(l, payouts) };
      return { ...base, myBalance: l.myBalance.toString(), counterpartyBalance: l.counterpartyBalance.toString(), locked: l.locked.toString(), guarantees: l.guarantees };
    });
  }
}
