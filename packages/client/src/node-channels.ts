/**
 * {@link PayerChannels} over the channel engine's Node API (`@sluice/channel-core/node`):
 * reuse a funded virtual channel to the provider with enough left, else make sure our
 * ledger channel with the hub can lock the deposit (open it, or top it up, within the
 * budget) and open a virtual channel [us, hub, provider]. `pay` is the node's (persisted
 * before it returns).
 */
import { type Address, type ChannelId, SluiceError, type Voucher, isSluiceError, protocols, sameAddress } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import type { EnsureChannelRequest, PayerChannelView, PayerChannels } from './channels.ts';

export interface NodePayerChannelsOptions {
  /**
   * The node's store (the one given to `createNode`), to read back the last voucher we
   * signed so it can be resent after a reconnect. Optional.
   */
  readonly store?: { getVoucher(channelId: ChannelId, role: 'payer' | 'payee'): { readonly amount: bigint; readonly signature: Uint8Array } | undefined };
  /** Deadline of channel operations (ms). */
  readonly timeoutMs?: number;
  /** How long to wait for a connection to the hub before depositing (ms, default 15 s). */
  readonly hubWaitMs?: number;
}

export class NodePayerChannels implements PayerChannels {
  readonly #node: Node;
  readonly #options: NodePayerChannelsOptions;
  readonly address: Address;

  constructor(node: Node, options: NodePayerChannelsOptions = {}) {
    this.#node = node;
    this.#options = options;
    this.address = node.address;
  }

  #view(channelId: ChannelId): PayerChannelView | undefined {
    const v = this.#node.getVirtualChannel(channelId);
    if (v === undefined || v.role !== 'payer') return undefined;
    return { channelId: v.channelId, payee: v.payee, asset: v.asset, balance: v.amount, paid: v.paid, open: v.status === 'funded' };
  }

  async getChannel(channelId: ChannelId): Promise<PayerChannelView | undefined> {
    return this.#view(channelId);
  }

  async ensureChannel(req: EnsureChannelRequest): Promise<PayerChannelView & { readonly opened: boolean }> {
    req.signal?.throwIfAborted();
    const call = { ...(req.signal === undefined ? {} : { signal: req.signal }), ...(this.#options.timeoutMs === undefined ? {} : { timeoutMs: this.#options.timeoutMs }) };
    // a deposit is credited once `confirmations` deep: on a public chain that takes minutes
    const chainCall = this.#options.timeoutMs === undefined ? call : { ...call, timeoutMs: this.#options.timeoutMs + this.#node.confirmationWaitMs };
    for (const v of this.#node.getVirtualChannels()) {
      if (v.role !== 'payer' || v.status !== 'funded' || !sameAddress(v.payee, req.payee) || !sameAddress(v.asset, req.asset)) continue;
      if (v.remaining >= req.amount) return { channelId: v.channelId, payee: v.payee, asset: v.asset, balance: v.amount, paid: v.paid, open: true, opened: false };
    }
    if (req.hub === null) throw new SluiceError('INVALID_ARGUMENT', 'the provider names no hub; cannot open a virtual channel');
    const hub = req.hub;
    let deposit = req.deposit;
    if (req.budget !== undefined && deposit > req.budget) {
      if (req.amount > req.budget) {
        throw new SluiceError('BUDGET_EXCEEDED', 'this download costs more than the budget', { details: { needed: req.amount.toString(), budget: req.budget.toString() } });
      }
      deposit = req.budget;
    }
    // Ledger with the hub: open it, or top it up so it can lock `deposit`. New money ≤ budget.
    const ledgerWithHub = () => this.#node.getLedgerChannels().find((l) => sameAddress(l.counterparty, hub) && sameAddress(l.asset, req.asset) && (l.status === 'open' || l.status === 'funding'));
    let ledger = ledgerWithHub();
    if (ledger?.status === 'funding') {
      // An opening still in progress (an earlier run's: e.g. one waiting for the hub to see our
      // last ledger's exit on chain): let it finish, then use it; it cannot be topped up before.
      await this.#node.engine.waitForObjective(protocols.directFundId(ledger.channelId), { ...chainCall, timeoutMs: chainCall.timeoutMs ?? 60_000 + this.#node.confirmationWaitMs });
      ledger = ledgerWithHub();
    }
    // A deposit made while the hub is away waits on chain until it returns (or a withdraw):
    // deposit only once our node is connected to it.
    if (ledger === undefined || ledger.myBalance < deposit) await this.#hubConnected(hub, req.signal);
    if (ledger === undefined) {
      await this.#node.createLedgerChannel({ counterparty: hub, asset: req.asset, deposit }, chainCall);
    } else if (ledger.myBalance < deposit) {
      const need = deposit - ledger.myBalance;
      if (req.budget !== undefined && need > req.budget) {
        throw new SluiceError('BUDGET_EXCEEDED', 'topping up the ledger with the hub would exceed the budget', { details: { needed: need.toString(), budget: req.budget.toString() } });
      }
      try {
        await this.#node.topUpLedgerChannel({ channelId: ledger.channelId, amount: need }, chainCall);
      } catch (e) {
        if (!isSluiceError(e, 'TOPUP_IN_PROGRESS')) throw e;
        // an earlier run's top-up: its deposit is on chain, it completes once the hub answers
        throw new SluiceError('OVERLOADED', 'an earlier top-up of our ledger with the hub is still in progress (its deposit is on chain and is credited once the hub answers): try again later. Only the hub\'s countersignature credits it: closing the ledger before that (`sluice withdraw --force`) leaves the deposit in the adjudicator', { cause: e });
      }
    }
    const { channelId } = await this.#node.createVirtualChannel({ hub, payee: req.payee, asset: req.asset, amount: deposit }, call);
    const view = this.#view(channelId);
    if (view === undefined) throw new SluiceError('INTERNAL', 'the virtual channel is not known after opening it');
    return { ...view, opened: true };
  }

  /**
   * Wait (at most `hubWaitMs`, default 15 s) until our node is connected to the hub; a node that
   * cannot tell (not libp2p) is taken at its word.
   * @throws SluiceError PEER_TIMEOUT (nothing was deposited), ABORTED
   */
  async #hubConnected(hub: Address, signal: AbortSignal | undefined): Promise<void> {
    const deadline = Date.now() + (this.#options.hubWaitMs ?? 15_000);
    for (;;) {
      const connected = this.#node.peerConnected(hub);
      if (connected !== false) return;
      if (signal?.aborted === true) throw new SluiceError('ABORTED', 'download cancelled');
      if (Date.now() >= deadline) {
        throw new SluiceError('PEER_TIMEOUT', `cannot reach the hub ${hub} (the provider's metadata names it): nothing was deposited; try again once it is up`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves once the voucher is durable (vouchers signed in one turn share one fsync). */
  async pay(channelId: ChannelId, increase: bigint): Promise<Voucher> {
    return this.#node.payAsync(channelId, increase);
  }

  lastVoucher(channelId: ChannelId): Voucher | undefined {
    const r = this.#options.store?.getVoucher(channelId.toLowerCase() as ChannelId, 'payer');
    return r === undefined ? undefined : ({ channelId: channelId.toLowerCase() as ChannelId, amount: r.amount, signature: r.signature } as Voucher);
  }

  async close(channelId: ChannelId): Promise<void> {
    await this.#node.closeVirtualChannel(channelId);
  }
}
