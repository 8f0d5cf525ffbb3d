/**
 * What each channel has *consumed*: the cumulative price of the chunks the provider has
 * sent on it. A session's READY `baseline` is this value, so a prepaid but unsent window
 * is credit for the next session (a resumed download never pays twice for it).
 *
 * Durability: `node:sqlite` in WAL mode with `synchronous=NORMAL` — a committed write
 * survives a process crash (kill -9); on power loss the last few writes may roll back,
 * which only lowers `consumed` (the provider may re-serve up to a window of paid chunks
 * for free: bounded loss, on the provider's side). See docs/adr/0006.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ChannelId } from '@sluice/channel-core';

export interface ChannelUsage {
  readonly channelId: ChannelId;
  /** Cumulative price of the chunks sent on the channel. */
  readonly consumed: bigint;
  readonly chunks: number;
  readonly bytes: number;
}

export interface UsageStore {
  get(channelId: ChannelId): ChannelUsage | undefined;
  put(usage: ChannelUsage): void;
  list(): ChannelUsage[];
  /**
   * Delete the rows of channels `keep` says no to (one transaction): the channel node's history
   * retention deleted those channels, and a closed channel has no sessions left to credit.
   * @returns how many rows were deleted
   */
  retain(keep: (channelId: ChannelId) => boolean): number;
  close(): void;
}

/** Open (or create) the usage database; `':memory:'` for a throw-away one. */
export function openUsageStore(path: string): UsageStore {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  db.exec('PRAGMA synchronous = NORMAL');
  db.exec('PRAGMA busy_timeout = 5000');
  db.exec('CREATE TABLE IF NOT EXISTS usage (channel_id TEXT PRIMARY KEY, consumed TEXT NOT NULL, chunks INTEGER NOT NULL, bytes INTEGER NOT NULL)');
  const getQ: StatementSync = db.prepare('SELECT channel_id, consumed, chunks, bytes FROM usage WHERE channel_id = ?');
  const putQ: StatementSync = db.prepare(
    'INSERT INTO usage (channel_id, consumed, chunks, bytes) VALUES (?, ?, ?, ?) ON CONFLICT(channel_id) DO UPDATE SET consumed = excluded.consumed, chunks = excluded.chunks, bytes = excluded.bytes',
  );
  const listQ: StatementSync = db.prepare('SELECT channel_id, consumed, chunks, bytes FROM usage ORDER BY channel_id');
  const idsQ: StatementSync = db.prepare('SELECT channel_id FROM usage');
  const deleteQ: StatementSync = db.prepare('DELETE FROM usage WHERE channel_id = ?');
  const row = (r: Record<string, unknown>): ChannelUsage => ({
    channelId: String(r['channel_id']) as ChannelId,
    consumed: BigInt(String(r['consumed'])),
    chunks: Number(r['chunks']),
    bytes: Number(r['bytes']),
  });
  let open = true;
  return {
    get(channelId) {
      const r = getQ.get(channelId.toLowerCase()) as Record<string, unknown> | undefined;
      return r === undefined ? undefined : row(r);
    },
    put(u) {
      putQ.run(u.channelId.toLowerCase(), u.consumed.toString(), u.chunks, u.bytes);
    },
    list() {
      return (listQ.all() as Record<string, unknown>[]).map(row);
    },
    retain(keep) {
      const gone = (idsQ.all() as Record<string, unknown>[]).map((r) => String(r['channel_id']) as ChannelId).filter((id) => !keep(id));
      if (gone.length === 0) return 0;
      db.exec('BEGIN');
      try {
        for (const id of gone) deleteQ.run(id);
        db.exec('COMMIT');
      } catch (e) {
        db.exec('ROLLBACK');
        throw e;
      }
      return gone.length;
    },
    close() {
      if (open) db.close();
      open = false;
    },
  };
}
