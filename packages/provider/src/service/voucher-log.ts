/**
 * Durable best-voucher store for the provider: an append-only log of 133-byte records
 * (129-byte wire voucher + CRC-32), written and `fdatasync`ed on libuv's thread pool so
 * the event loop keeps serving while the disk flushes. Commits are grouped: every voucher
 * that arrives while a flush is in flight goes into the next write+fdatasync together
 * (across all channels and sessions). `persist()` resolves only once its record is on
 * stable storage — decide, then persist, then serve.
 *
 * Opening reads the log back (a torn tail record or a bad CRC is ignored), keeps the
 * highest amount per channel, and compacts the file when it has grown well past that — at open
 * and, between commits, while running (a provider that runs for months does not grow it forever).
 * Measured against sqlite (synchronous=FULL, one blocking commit per voucher): see
 * docs/adr/0006-provider-durability-and-window.md.
 */
import { type FileHandle, open, rename } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { type ChannelId, type Voucher, VOUCHER_WIRE_LENGTH, deserializeVoucher, serializeVoucher } from '@sluice/channel-core';

const RECORD = VOUCHER_WIRE_LENGTH + 4;

/** The port LocalPayeeChannels persists through. */
export interface PayeeVoucherStore {
  /** Best persisted voucher of a channel. */
  get(channelId: ChannelId): Voucher | undefined;
  /** Make `voucher` durable (if it is higher than the stored one); resolves once it is on stable storage. */
  persist(voucher: Voucher): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  readonly bytes: Uint8Array;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

export class VoucherLog implements PayeeVoucherStore {
  readonly path: string;
  readonly #best = new Map<ChannelId, Voucher>();
  #fh: FileHandle;
  /** Compact when the log holds more records than this and 4 x the channels (at open, and while running). */
  readonly #compactAbove: number;
  #queue: Pending[] = [];
  #flushing = false;
  #closed = false;
  /** Commits (write + fdatasync) done; for metrics and tests. */
  commits = 0;
  records = 0;

  /** Compactions done while running (not at open); for tests. */
  compactions = 0;

  private constructor(path: string, fh: FileHandle, compactAbove: number) {
    this.path = path;
    this.#fh = fh;
    this.#compactAbove = compactAbove;
  }

  #needsCompaction(): boolean {
    return this.records > Math.max(this.#compactAbove, 4 * this.#best.size);
  }

  static async open(path: string, options: { compactAbove?: number } = {}): Promise<VoucherLog> {
    mkdirSync(dirname(path), { recursive: true });
    const fh = await open(path, 'a+');
    const log = new VoucherLog(path, fh, options.compactAbove ?? 4096);
    const data = await fh.readFile();
    let n = 0;
    for (let off = 0; off + RECORD <= data.length; off += RECORD) {
      const rec = data.subarray(off, off + RECORD);
      const body = rec.subarray(0, VOUCHER_WIRE_LENGTH);
      if (crc32(body) !== rec.readUInt32BE(VOUCHER_WIRE_LENGTH)) continue;
      let v: Voucher;
      try {
        v = deserializeVoucher(body);
      } catch {
        continue;
      }
      n++;
      const id = v.channelId.toLowerCase() as ChannelId;
      const prev = log.#best.get(id);
      if (prev === undefined || v.amount > prev.amount) log.#best.set(id, v);
    }
    log.records = n;
    if (data.length % RECORD !== 0 || log.#needsCompaction()) await log.#compact();
    return log;
  }

  get(channelId: ChannelId): Voucher | undefined {
    return this.#best.get(channelId.toLowerCase() as ChannelId);
  }

  list(): Voucher[] {
    return [...this.#best.values()];
  }

  persist(voucher: Voucher): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('voucher log is closed'));
    const id = voucher.channelId.toLowerCase() as ChannelId;
    const prev = this.#best.get(id);
    if (prev !== undefined && prev.amount >= voucher.amount) return Promise.resolve();
    const bytes = new Uint8Array(RECORD);
    serializeVoucher(voucher, bytes, 0);
    new DataView(bytes.buffer).setUint32(VOUCHER_WIRE_LENGTH, crc32(bytes.subarray(0, VOUCHER_WIRE_LENGTH)));
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({
        bytes,
        resolve: () => {
          const cur = this.#best.get(id);
          if (cur === undefined || voucher.amount > cur.amount) this.#best.set(id, voucher);
          resolve();
        },
        reject,
      });
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        try {
          const buf = Buffer.allocUnsafe(batch.length * RECORD);
          batch.forEach((p, i) => buf.set(p.bytes, i * RECORD));
          await this.#fh.write(buf, 0, buf.length);
          await this.#fh.datasync();
          this.commits++;
          this.records += batch.length;
          for (const p of batch) p.resolve();
        } catch (e) {
          for (const p of batch) p.reject(e);
        }
        // A long-running provider's log grows by one record per voucher: rewrite it as the best
        // voucher per channel once it is 4x that (amortised O(1) per voucher). Here, between
        // batches, nothing else writes; vouchers arriving meanwhile wait for the next batch. A
        // crash mid-way leaves the old log or the new one (rename), both holding every best voucher.
        if (this.#needsCompaction()) {
          try {
            await this.#compact();
            this.compactions++;
          } catch {
            // the log at `path` (old or new) holds every best voucher; reopen it for appends if the
            // swap closed it. If even that fails, the next batch's write rejects its persists.
            if (this.#fh.fd === -1) this.#fh = await open(this.path, 'a+').catch(() => this.#fh);
          }
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  async #compact(): Promise<void> {
    const tmp = join(dirname(this.path), `.${Date.now()}.vouchers.tmp`);
    const fh = await open(tmp, 'w');
    const vs = [...this.#best.values()];
    const buf = Buffer.alloc(vs.length * RECORD);
    vs.forEach((v, i) => {
      serializeVoucher(v, buf, i * RECORD);
      buf.writeUInt32BE(crc32(buf.subarray(i * RECORD, i * RECORD + VOUCHER_WIRE_LENGTH)), i * RECORD + VOUCHER_WIRE_LENGTH);
    });
    await fh.write(buf, 0, buf.length);
    await fh.sync();
    await fh.close();
    await this.#fh.close();
    await rename(tmp, this.path);
    const d = await open(dirname(this.path), 'r');
    await d.sync().catch(() => undefined);
    await d.close();
    this.#fh = await open(this.path, 'a+');
    this.records = vs.length;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    while (this.#flushing || this.#queue.length > 0) await new Promise((r) => setTimeout(r, 1));
    this.#closed = true;
    await this.#fh.close();
  }
}

/** {@link PayeeVoucherStore} over channel-core's sqlite `Store` (synchronous=FULL: one blocking fsync'd commit per voucher). */
export function sqliteVoucherStore(store: {
  putVoucherIfHigher(record: { channelId: ChannelId; role: 'payer' | 'payee'; amount: bigint; signature: Uint8Array; updatedAt: number }): boolean;
  getVoucher(channelId: ChannelId, role: 'payer' | 'payee'): { readonly amount: bigint; readonly signature: Uint8Array } | undefined;
  close(): void;
}): PayeeVoucherStore {
  return {
    get(channelId) {
      const id = channelId.toLowerCase() as ChannelId;
      const r = store.getVoucher(id, 'payee');
      return r === undefined ? undefined : ({ channelId: id, amount: r.amount, signature: r.signature } as Voucher);
    },
    async persist(v) {
      store.putVoucherIfHigher({ channelId: v.channelId.toLowerCase() as ChannelId, role: 'payee', amount: v.amount, signature: v.signature, updatedAt: Date.now() });
    },
    async close() {
      store.close();
    },
  };
}
