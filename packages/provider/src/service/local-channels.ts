/**
 * {@link PayeeChannels} adapter built on channel-core's {@link PayeeLedger}, a durable
 * {@link PayeeVoucherStore} (an accepted voucher is on stable storage before
 * `receiveVoucher` resolves) and the {@link DevChannelRegistry}
 * for channel records. Signature checks can run on a worker pool
 * (`@sluice/channel-core/voucher-pool`) so they stay off the event loop.
 *
 * Stand-in for the engine's Node API (see `node-channels.ts`): it moves no money;
 * `closeVirtualChannel` marks the record closing and `withdraw` reports the totals.
 */
import {
  type Address,
  type ChannelId,
  PayeeLedger,
  type ReceiveResult,
  SluiceError,
  type Voucher,
  parseBytes32,
  sameAddress,
  verifyVoucher,
} from '@sluice/channel-core';
import type { VoucherVerifierPool } from '@sluice/channel-core/voucher-pool';
import type { DevChannelRecord, DevChannelRegistry } from '../dev/registry.ts';
import type { PayeeChannelView, PayeeChannels } from './channels.ts';
import type { PayeeVoucherStore } from './voucher-log.ts';

export interface LocalPayeeChannelsInit {
  /** Our payee address. */
  readonly address: Address;
  readonly registry: DevChannelRegistry;
  /** Durable store of the best voucher per channel. */
  readonly store: PayeeVoucherStore;
  /** Optional worker pool for signature checks; inline `verifyVoucher` otherwise. */
  readonly verifier?: VoucherVerifierPool;
}

export class LocalPayeeChannels implements PayeeChannels {
  readonly address: Address;
  readonly #registry: DevChannelRegistry;
  readonly #store: PayeeVoucherStore;
  readonly #verifier: VoucherVerifierPool | undefined;
  readonly #ledger: PayeeLedger;
  readonly #records = new Map<ChannelId, DevChannelRecord>();
  readonly #locks = new Map<ChannelId, Promise<unknown>>();

  constructor(init: LocalPayeeChannelsInit) {
    this.address = init.address;
    this.#registry = init.registry;
    this.#store = init.store;
    this.#verifier = init.verifier;
    this.#ledger = new PayeeLedger(init.address);
  }

  /** Load (or refresh) a channel from the registry into the ledger, restoring its best voucher. */
  async #load(channelId: ChannelId): Promise<DevChannelRecord | undefined> {
    const rec = await this.#registry.get(channelId);
    if (rec === undefined) return undefined;
    const id = rec.channelId.toLowerCase() as ChannelId;
    if (!this.#records.has(id)) {
      const best = this.#store.get(id);
      this.#ledger.register(
        { channelId: id, payer: rec.payer, payee: rec.payee, balance: rec.balance },
        best === undefined ? {} : { best },
      );
    }
    if (rec.status === 'funded') this.#ledger.markFunded(id);
    if (rec.status === 'closing' || rec.status === 'closed') this.#ledger.markClosing(id);
    this.#records.set(id, rec);
    return rec;
  }

  #view(rec: DevChannelRecord): PayeeChannelView {
    return {
      channelId: rec.channelId,
      payer: rec.payer,
      payee: rec.payee,
      balance: rec.balance,
      asset: rec.asset,
      status: rec.status,
      paid: this.#ledger.total(rec.channelId),
    };
  }

  async getVirtualChannel(channelId: ChannelId): Promise<PayeeChannelView | undefined> {
    const id = parseBytes32(channelId, 'channelId').toLowerCase() as ChannelId;
    const rec = await this.#load(id);
    return rec === undefined ? undefined : this.#view(rec);
  }

  async listVirtualChannels(): Promise<PayeeChannelView[]> {
    const out: PayeeChannelView[] = [];
    for (const r of await this.#registry.list()) {
      if (!sameAddress(r.payee, this.address)) continue;
      const rec = await this.#load(r.channelId);
      if (rec !== undefined) out.push(this.#view(rec));
    }
    return out;
  }

  async receiveVoucher(voucher: Voucher, options: { price: bigint }): Promise<ReceiveResult> {
    const id = voucher.channelId.toLowerCase() as ChannelId;
    if (!this.#records.has(id)) await this.#load(id);
    return this.#serialize(id, async () => {
      // Cheap checks first (no signature), then the signature (maybe on a worker), then
      // decide again under the channel's lock, persist, and only then record in memory.
      const pre = this.#ledger.evaluate(voucher, { price: options.price, verify: () => true });
      if (pre.kind !== 'accepted') return pre;
      const rec = this.#records.get(id);
      if (rec === undefined) return pre;
      const ok = this.#verifier === undefined ? verifyVoucher(voucher, rec.payer) : await this.#verifier.verify(voucher, rec.payer);
      if (!ok) return { kind: 'rejected', error: new SluiceError('VOUCHER_BAD_SIGNATURE', 'voucher is not signed by the payer', { details: { channelId: id } }) } as const;
      const decided = this.#ledger.evaluate(voucher, { price: options.price, verify: () => true });
      if (decided.kind !== 'accepted') return decided;
      await this.#store.persist(voucher);
      return this.#ledger.receive(voucher, { price: options.price, verify: () => true });
    });
  }

  async closeVirtualChannel(channelId: ChannelId): Promise<void> {
    const id = parseBytes32(channelId, 'channelId').toLowerCase() as ChannelId;
    await this.#serialize(id, async () => {
      const rec = await this.#registry.setStatus(id, 'closing');
      await this.#load(rec.channelId);
    });
  }

  async withdraw(): Promise<unknown> {
    const channels = await this.listVirtualChannels();
    const total = channels.reduce((a, c) => a + c.paid, 0n);
    return { adapter: 'local', note: 'dev channels move no money; totals only', total: total.toString(), channels: channels.length };
  }

  async #serialize<T>(id: ChannelId, fn: () => Promise<T>): Promise<T> {
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.#locks.set(id, tail);
    try {
      return await run;
    } finally {
      if (this.#locks.get(id) === tail) this.#locks.delete(id);
    }
  }
}
