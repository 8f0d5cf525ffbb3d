/**
 * {@link PayerChannels} over the dev channel registry (`@sluice/provider/dev`): opening a
 * channel writes a funded record the provider's `LocalPayeeChannels` can read. Vouchers
 * are signed by channel-core's {@link PayerLedger}; the last voucher per channel is kept
 * in a small `node:sqlite` database (WAL, synchronous=NORMAL: it survives a process
 * crash; a power loss may forget the last few, which only makes us re-learn the amount
 * from the provider). No money moves: for tests and single-machine demos until the
 * engine's Node API is wired (`node-channels.ts`).
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import {
  type Address,
  type ChannelId,
  PayerLedger,
  type Signature,
  SluiceError,
  type Voucher,
  bytesToHex,
  sameAddress,
} from '@sluice/channel-core';
import type { DevChannelRegistry } from '@sluice/provider/dev';
import type { EnsureChannelRequest, PayerChannelView, PayerChannels } from './channels.ts';

export interface DevPayerChannelsInit {
  readonly privateKey: Uint8Array | string;
  readonly registry: DevChannelRegistry;
  /** Database of our last vouchers; ':memory:' for a throw-away one. */
  readonly dbPath: string;
}

export class DevPayerChannels implements PayerChannels {
  readonly address: Address;
  readonly #ledger: PayerLedger;
  readonly #registry: DevChannelRegistry;
  readonly #db: DatabaseSync;
  readonly #put: StatementSync;
  readonly #get: StatementSync;
  readonly #known = new Set<ChannelId>();

  constructor(init: DevPayerChannelsInit) {
    this.#ledger = new PayerLedger(init.privateKey);
    this.address = this.#ledger.address;
    this.#registry = init.registry;
    if (init.dbPath !== ':memory:') mkdirSync(dirname(init.dbPath), { recursive: true });
    this.#db = new DatabaseSync(init.dbPath);
    this.#db.exec('PRAGMA journal_mode = WAL');
    this.#db.exec('PRAGMA synchronous = NORMAL');
    this.#db.exec('CREATE TABLE IF NOT EXISTS payer_vouchers (channel_id TEXT PRIMARY KEY, amount TEXT NOT NULL, signature BLOB NOT NULL)');
    this.#put = this.#db.prepare('INSERT INTO payer_vouchers (channel_id, amount, signature) VALUES (?, ?, ?) ON CONFLICT(channel_id) DO UPDATE SET amount = excluded.amount, signature = excluded.signature');
    this.#get = this.#db.prepare('SELECT amount, signature FROM payer_vouchers WHERE channel_id = ?');
  }

  async #register(channelId: ChannelId): Promise<PayerChannelView | undefined> {
    const id = channelId.toLowerCase() as ChannelId;
    const rec = await this.#registry.get(id);
    if (rec === undefined || !sameAddress(rec.payer, this.address)) return undefined;
    if (!this.#known.has(id)) {
      const row = this.#get.get(id) as { amount: string; signature: Uint8Array } | undefined;
      const last: Voucher | undefined = row === undefined ? undefined : { channelId: id, amount: BigInt(row.amount), signature: new Uint8Array(row.signature) as Signature };
      this.#ledger.register({ channelId: id, payer: rec.payer, payee: rec.payee, balance: rec.balance }, last);
      this.#known.add(id);
    }
    return { channelId: id, payee: rec.payee, asset: rec.asset, balance: rec.balance, paid: this.#ledger.paid(id), open: rec.status === 'funded' };
  }

  async getChannel(channelId: ChannelId): Promise<PayerChannelView | undefined> {
    return this.#register(channelId);
  }

  async ensureChannel(req: EnsureChannelRequest): Promise<PayerChannelView & { readonly opened: boolean }> {
    req.signal?.throwIfAborted();
    for (const rec of await this.#registry.list()) {
      if (rec.status !== 'funded' || !sameAddress(rec.payer, this.address) || !sameAddress(rec.payee, req.payee) || !sameAddress(rec.asset, req.asset)) continue;
      const view = await this.#register(rec.channelId);
      if (view !== undefined && view.balance - view.paid >= req.amount) return { ...view, opened: false };
    }
    if (req.deposit < req.amount) throw new RangeError('deposit must cover amount');
    if (req.budget !== undefined && req.deposit > req.budget) {
      throw new SluiceError('BUDGET_EXCEEDED', 'opening a channel for this download needs more than the budget', {
        details: { needed: req.deposit.toString(), budget: req.budget.toString() },
      });
    }
    const channelId = bytesToHex(randomBytes(32)) as string as ChannelId;
    await this.#registry.put({
      channelId,
      payer: this.address,
      payee: req.payee,
      hub: req.hub ?? ('0x0000000000000000000000000000000000000000' as Address),
      asset: req.asset,
      balance: req.deposit,
      status: 'funded',
    });
    const view = await this.#register(channelId);
    if (view === undefined) throw new SluiceError('INTERNAL', 'channel vanished after opening');
    return { ...view, opened: true };
  }

  async pay(channelId: ChannelId, increase: bigint): Promise<Voucher> {
    const id = channelId.toLowerCase() as ChannelId;
    if (!this.#known.has(id)) await this.#register(id);
    const v = this.#ledger.pay(id, increase);
    this.#put.run(id, v.amount.toString(), v.signature);
    return v;
  }

  lastVoucher(channelId: ChannelId): Voucher | undefined {
    const id = channelId.toLowerCase() as ChannelId;
    return this.#known.has(id) ? this.#ledger.lastVoucher(id) : undefined;
  }

  async close(channelId: ChannelId): Promise<void> {
    await this.#registry.setStatus(channelId, 'closing');
  }

  async stop(): Promise<void> {
    if (this.#db.isOpen) this.#db.close();
  }
}
