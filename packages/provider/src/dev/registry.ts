/**
 * A stand-in for the channel network while the engine's Node API is not wired: a shared
 * directory of virtual-channel records (one JSON file per channel, written atomically and
 * fsync'd). The client's dev adapter "opens" a channel by writing a funded record; the
 * provider's {@link LocalPayeeChannels} reads it. It moves no money and checks no
 * signatures of its own: it exists for tests and single-machine demos only.
 */
import { mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type Address,
  type ChannelId,
  SluiceError,
  parseAddress,
  parseBytes32,
} from '@sluice/channel-core';
import { writeFileAtomic } from '../content/fs-store.ts';

export type DevChannelStatus = 'proposed' | 'funded' | 'closing' | 'closed';

/** One virtual channel [payer, hub, payee] as the registry records it. */
export interface DevChannelRecord {
  readonly channelId: ChannelId;
  readonly payer: Address;
  readonly payee: Address;
  readonly hub: Address;
  readonly asset: Address;
  /** Amount the payer locked for the payee. */
  readonly balance: bigint;
  readonly status: DevChannelStatus;
}

function parseRecord(x: unknown): DevChannelRecord {
  if (typeof x !== 'object' || x === null) throw new TypeError('channel record is not an object');
  const r = x as Record<string, unknown>;
  const status = r['status'];
  if (status !== 'proposed' && status !== 'funded' && status !== 'closing' && status !== 'closed') throw new TypeError('bad status');
  const balance = r['balance'];
  if (typeof balance !== 'string' || !/^[0-9]{1,78}$/.test(balance)) throw new TypeError('bad balance');
  return {
    channelId: parseBytes32(r['channelId'], 'channelId'),
    payer: parseAddress(r['payer'], 'payer'),
    payee: parseAddress(r['payee'], 'payee'),
    hub: parseAddress(r['hub'], 'hub'),
    asset: parseAddress(r['asset'], 'asset'),
    balance: BigInt(balance),
    status,
  };
}

/** File-backed registry of dev virtual channels shared by a client and a provider. */
export class DevChannelRegistry {
  readonly dir: string;
  constructor(dir: string) {
    this.dir = dir;
  }

  #path(channelId: ChannelId): string {
    return join(this.dir, `${channelId.toLowerCase()}.json`);
  }

  /** Create or replace a record (atomic, fsync'd). */
  async put(record: DevChannelRecord): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const doc = { ...record, channelId: record.channelId.toLowerCase(), balance: record.balance.toString() };
    await writeFileAtomic(this.#path(record.channelId), JSON.stringify(doc), true);
  }

  /**
   * A record, or `undefined` when absent.
   * @throws SluiceError DECODE_FAILED when the file exists but is malformed
   */
  async get(channelId: ChannelId): Promise<DevChannelRecord | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path(parseBytes32(channelId, 'channelId')), 'utf8');
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return undefined;
      throw e;
    }
    try {
      return parseRecord(JSON.parse(text));
    } catch (e) {
      throw new SluiceError('DECODE_FAILED', 'dev channel record is malformed', { cause: e, details: { channelId } });
    }
  }

  /** Every readable record (malformed files are skipped). */
  async list(): Promise<DevChannelRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (e) {
      if ((e as { code?: string }).code === 'ENOENT') return [];
      throw e;
    }
    const out: DevChannelRecord[] = [];
    for (const n of names.sort()) {
      if (!/^0x[0-9a-f]{64}\.json$/.test(n)) continue;
      try {
        const r = await this.get(n.slice(0, -5) as ChannelId);
        if (r !== undefined) out.push(r);
      } catch {
        // skip
      }
    }
    return out;
  }

  /** Change a record's status. @throws SluiceError CHANNEL_UNKNOWN */
  async setStatus(channelId: ChannelId, status: DevChannelStatus): Promise<DevChannelRecord> {
    const r = await this.get(channelId);
    if (r === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'no such channel', { details: { channelId } });
    const next = { ...r, status };
    await this.put(next);
    return next;
  }
}
