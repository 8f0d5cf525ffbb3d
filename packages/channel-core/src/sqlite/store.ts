/**
 * The embedded durable store: `node:sqlite` in WAL mode. Versioned migrations run on open
 * (PRAGMA user_version).
 *
 * Durability policy (see docs/adr/0004-engine-and-durability.md, "Messaging bookkeeping"):
 *
 * - **Durable (fsync'd before the call returns):** every `transaction`, and every other write
 *   made outside one — objectives, channels, vouchers (`putVoucherIfHigher`), `enqueueOutbox`,
 *   `setMeta`. These run with `synchronous=FULL`: the WAL is fsync'd at commit.
 * - **Relaxed (committed, not fsync'd):** the messaging layer's bookkeeping when called outside a
 *   transaction — `rescheduleOutbox`, `removeOutbox`, `markSeen`, `pruneSeen`. Each runs as its
 *   own autocommit with `synchronous=NORMAL` (on the same connection, switched back to FULL
 *   right after). In WAL mode that is atomic and never corrupts the database; a crash of the
 *   process loses nothing (the WAL is in the OS page cache), and a power loss can lose only the
 *   relaxed commits made after the last fsync — which the next FULL commit (or checkpoint) makes
 *   durable too, because it fsyncs the whole WAL. Losing them only means: a message that was
 *   already acknowledged is sent again (a lost `removeOutbox`), sooner than its backoff (a lost
 *   `rescheduleOutbox`), or a re-delivered message id is not recognised as a duplicate (a lost
 *   `markSeen`) — all harmless because receivers are idempotent (ADR 0004 "Re-send is always
 *   safe": the engine re-sends the same content under new ids anyway).
 * - Called *inside* a `transaction`, every write joins it and is exactly as durable as it.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { closeSync, fsync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Address, ChannelId } from '../hex.ts';
import { parseJson, stringifyJson } from '../json.ts';
import { SluiceError } from '../errors.ts';
import type {
  ChannelRecord,
  ObjectiveRecord,
  ObjectiveStatus,
  OutboxRecord,
  Store,
  TransactionOptions,
  VoucherRecord,
} from '../ports/store.ts';

/** Meta key written by `sync()` (a durable commit needs a write to fsync the WAL). */
const SYNC_KEY = 'store.sync';

/** Ordered migrations; index i upgrades user_version i -> i+1. Append only. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE objectives (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, status TEXT NOT NULL,
    data TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL
  );
  CREATE INDEX objectives_status ON objectives(status);
  CREATE TABLE channels (
    channel_id TEXT PRIMARY KEY, kind TEXT NOT NULL, data TEXT NOT NULL, updated_at INTEGER NOT NULL
  );
  CREATE TABLE vouchers (
    channel_id TEXT NOT NULL, role TEXT NOT NULL, amount TEXT NOT NULL, signature BLOB NOT NULL,
    updated_at INTEGER NOT NULL, PRIMARY KEY (channel_id, role)
  );
  CREATE TABLE outbox (
    id TEXT PRIMARY KEY, recipient TEXT NOT NULL, payload BLOB NOT NULL, created_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL, next_attempt_at INTEGER NOT NULL
  );
  CREATE INDEX outbox_due ON outbox(next_attempt_at);
  CREATE TABLE seen (
    sender TEXT NOT NULL, id TEXT NOT NULL, seen_at INTEGER NOT NULL, PRIMARY KEY (sender, id)
  );
  CREATE INDEX seen_at ON seen(seen_at);
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  `,
  // 2: the relay asks "anything queued for this recipient?" per relayed batch
  `
  CREATE INDEX outbox_recipient ON outbox(recipient);
  `,
  // 3: rows beside a channel record (a ledger's guarantees), written one by one
  `
  CREATE TABLE channel_parts (
    channel_id TEXT NOT NULL, key TEXT NOT NULL, fingerprint TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (channel_id, key)
  ) WITHOUT ROWID;
  `,
  // 4: a channel's status (its data's) as a column, indexed with the kind: the open channels are
  // listed without reading every channel record ever written
  `
  ALTER TABLE channels ADD COLUMN status TEXT;
  UPDATE channels SET status = json_extract(data, '$.status') WHERE json_valid(data) AND json_type(data, '$.status') = 'text';
  CREATE INDEX channels_kind_status ON channels(kind, status);
  `,
  // 5: history retention — closed channels are found by age through the status index, and the
  // virtual channels whose records were deleted are remembered (never opened again)
  `
  DROP INDEX channels_kind_status;
  CREATE INDEX channels_kind_status_updated ON channels(kind, status, updated_at);
  CREATE TABLE retired_channels (channel_id TEXT PRIMARY KEY, retired_at INTEGER NOT NULL) WITHOUT ROWID;
  `,
  // 6: the time in a retired channel's nonce (when known): an id whose nonce is older than the
  // node's nonce window can be forgotten (a replay is refused by the window)
  `
  ALTER TABLE retired_channels ADD COLUMN nonce_time INTEGER;
  CREATE INDEX retired_channels_nonce_time ON retired_channels(nonce_time) WHERE nonce_time IS NOT NULL;
  `,
];

/** `data.status` when it is a string (the indexed status column), else null. */
function statusOf(data: unknown): string | null {
  const s = typeof data === 'object' && data !== null ? (data as { status?: unknown }).status : undefined;
  return typeof s === 'string' ? s : null;
}

export interface SqliteStoreInit {
  /** Database file; ':memory:' for a throw-away store. Parent directories are created. */
  readonly path: string;
  /**
   * Refuse to open a store another process (or another open store here) holds: two nodes on one
   * store would both sign and send from it. The lock is an exclusive SQLite lock on `<path>.lock`,
   * held until `close()` and released by the OS if the process dies (never stale).
   * @default false
   */
  readonly lock?: boolean;
}

/**
 * Take the exclusive lock of a store file (see {@link SqliteStoreInit.lock}).
 * @throws SluiceError INVALID_ARGUMENT when another process holds it
 */
function lockStore(path: string): DatabaseSync {
  const lock = new DatabaseSync(`${path}.lock`);
  try {
    lock.exec('PRAGMA locking_mode = EXCLUSIVE'); // kept after the transaction, until close
    lock.exec('BEGIN EXCLUSIVE');
    lock.exec('COMMIT');
  } catch (e) {
    lock.close();
    if ((e as { errcode?: number }).errcode === 5) {
      throw new SluiceError('INVALID_ARGUMENT', `the store ${path} is in use by another process (a second hub, provider or client on the same store, data directory or --home?): stop it first`, { cause: e });
    }
    throw e;
  }
  return lock;
}

type Row = Record<string, unknown>;

function u8(x: unknown): Uint8Array {
  return x instanceof Uint8Array ? new Uint8Array(x) : new Uint8Array(0);
}

/** Opens (and migrates) a store. @throws SluiceError INTERNAL if the schema is newer than this code */
export function openSqliteStore(init: SqliteStoreInit): Store {
  if (init.path !== ':memory:') mkdirSync(dirname(init.path), { recursive: true });
  const lock = init.lock === true && init.path !== ':memory:' ? lockStore(init.path) : undefined;
  let db: DatabaseSync | undefined;
  try {
    db = new DatabaseSync(init.path);
    db.exec('PRAGMA journal_mode = WAL');
    db.exec('PRAGMA synchronous = FULL');
    db.exec('PRAGMA foreign_keys = ON');
    db.exec('PRAGMA busy_timeout = 5000');
    migrate(db);
  } catch (e) {
    try {
      db?.close();
    } catch {
      // not open
    }
    lock?.close();
    throw e;
  }

  const stmts = new Map<string, StatementSync>();
  const q = (sql: string): StatementSync => {
    let s = stmts.get(sql);
    if (s === undefined) {
      s = db.prepare(sql);
      stmts.set(sql, s);
    }
    return s;
  };
  const putMeta = (key: string, value: string): void => void q('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value);
  let depth = 0;
  const durable = init.path !== ':memory:';
  /** Keys and fingerprints of each channel's parts as committed or about to be (see syncChannelParts); cleared on any rollback. */
  const partsCache = new Map<ChannelId, Map<string, string>>();
  /** A 'beforeSend' transaction committed since the last fsync'd commit. */
  let unsynced = false;
  let syncs = 0;
  /**
   * Asynchronous group commit (`syncAsync`): 'beforeSend' commits are numbered; `durableSeq` is
   * the highest one known to be on disk. The WAL is fsync'd through a descriptor of our own on
   * the libuv thread pool: with synchronous=NORMAL, a committed transaction lives in the WAL (made
   * durable by that fsync) or, once checkpointed, in the database file (which SQLite fsyncs after
   * every checkpoint at that level, and the WAL before it). Opened after a first durable write,
   * so the WAL file (and its directory entry) exists on disk.
   */
  let commitSeq = 0;
  let durableSeq = 0;
  let walFd: number | undefined;
  let walSync: Promise<void> | undefined;
  let walSyncSeq = 0;
  if (durable) {
    putMeta(SYNC_KEY, '0');
    try {
      walFd = openSync(`${init.path}-wal`, 'r');
    } catch {
      walFd = undefined; // no WAL file to fsync: syncAsync falls back to the blocking sync()
    }
  }
  const fsyncWal = (fd: number): Promise<void> => new Promise((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
  /**
   * Run a single bookkeeping write as a relaxed commit (see the module comment): WAL append
   * without fsync. Inside a transaction it simply joins that transaction.
   */
  const relaxed = <T>(fn: () => T): T => {
    if (depth > 0 || !durable) return fn();
    db.exec('PRAGMA synchronous = NORMAL');
    try {
      return fn();
    } finally {
      db.exec('PRAGMA synchronous = FULL');
    }
  };

  const toObjective = (r: Row): ObjectiveRecord => ({
    id: r['id'] as string,
    type: r['type'] as string,
    status: r['status'] as ObjectiveStatus,
    data: parseJson(r['data'] as string),
    createdAt: Number(r['created_at']),
    updatedAt: Number(r['updated_at']),
  });
  const toChannel = (r: Row): ChannelRecord => ({
    channelId: r['channel_id'] as ChannelId,
    kind: r['kind'] as string,
    data: parseJson(r['data'] as string),
    updatedAt: Number(r['updated_at']),
  });
  const toVoucher = (r: Row): VoucherRecord => ({
    channelId: r['channel_id'] as ChannelId,
    role: r['role'] as VoucherRecord['role'],
    amount: BigInt(r['amount'] as string),
    signature: u8(r['signature']),
    updatedAt: Number(r['updated_at']),
  });
  const toOutbox = (r: Row): OutboxRecord => ({
    id: r['id'] as string,
    to: r['recipient'] as Address,
    payload: u8(r['payload']),
    createdAt: Number(r['created_at']),
    attempts: Number(r['attempts']),
    nextAttemptAt: Number(r['next_attempt_at']),
  });

  const store: Store = {
    transaction<T>(fn: () => T, options?: TransactionOptions): T {
      if (depth > 0) {
        // nested: a savepoint — atomic on its own, committed (and as durable) with the outer one
        const name = `sluice_sp${depth}`;
        db.exec(`SAVEPOINT ${name}`);
        depth++;
        try {
          const out = fn();
          db.exec(`RELEASE ${name}`);
          return out;
        } catch (e) {
          partsCache.clear();
          if (db.isTransaction) {
            db.exec(`ROLLBACK TO ${name}`);
            db.exec(`RELEASE ${name}`);
          }
          throw e;
        } finally {
          depth--;
        }
      }
      // Group commit: WAL append now, fsync at the next sync() or durable commit. (The safety
      // level can only change outside a transaction.)
      const relaxedTx = durable && options?.durability === 'relaxed';
      const deferred = durable && options?.durability === 'beforeSend';
      if (deferred || relaxedTx) db.exec('PRAGMA synchronous = NORMAL');
      try {
        db.exec('BEGIN IMMEDIATE');
        depth++;
        try {
          const out = fn();
          db.exec('COMMIT');
          if (!relaxedTx) {
            commitSeq++;
            if (deferred) unsynced = true;
            else durableSeq = commitSeq; // a FULL commit fsyncs the whole WAL
          }
          return out;
        } catch (e) {
          partsCache.clear();
          if (db.isTransaction) db.exec('ROLLBACK');
          throw e;
        } finally {
          depth--;
        }
      } finally {
        if (deferred || relaxedTx) db.exec('PRAGMA synchronous = FULL');
      }
    },
    sync() {
      if (!unsynced || depth > 0) return;
      // A durable (FULL) commit fsyncs the whole WAL, so it covers every earlier relaxed or
      // deferred commit. It must write something: an empty transaction writes no WAL frame.
      putMeta(SYNC_KEY, String(++syncs));
      unsynced = false;
      durableSeq = commitSeq;
    },
    async syncAsync() {
      const target = commitSeq;
      if (!durable || durableSeq >= target) return;
      if (walFd === undefined) {
        store.sync!();
        return;
      }
      while (durableSeq < target) {
        if (walSync !== undefined) {
          // an fsync is running: it covers us if it started after our commit, else wait and go again
          const covers = walSyncSeq >= target;
          await walSync;
          if (covers) return;
          continue;
        }
        if (walFd === undefined) throw new SluiceError('INTERNAL', 'store closed');
        const fd: number = walFd;
        const seq = commitSeq;
        walSyncSeq = seq;
        walSync = fsyncWal(fd).then(
          () => {
            durableSeq = Math.max(durableSeq, seq);
            if (durableSeq >= commitSeq) unsynced = false;
          },
          (e: unknown) => {
            throw new SluiceError('INTERNAL', 'fsync of the store failed', { cause: e });
          },
        ).finally(() => {
          walSync = undefined;
        });
        await walSync;
      }
    },
    putObjective(o) {
      q(`INSERT INTO objectives (id, type, status, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT(id) DO UPDATE SET type = excluded.type, status = excluded.status, data = excluded.data, updated_at = excluded.updated_at`).run(
        o.id, o.type, o.status, stringifyJson(o.data), o.createdAt, o.updatedAt,
      );
    },
    getObjective(id) {
      const r = q('SELECT * FROM objectives WHERE id = ?').get(id) as Row | undefined;
      return r === undefined ? undefined : toObjective(r);
    },
    hasObjective(id) {
      return q('SELECT 1 AS x FROM objectives WHERE id = ?').get(id) !== undefined;
    },
    listObjectives(status) {
      const rows = (status === undefined
        ? q('SELECT * FROM objectives ORDER BY created_at, id').all()
        : q('SELECT * FROM objectives WHERE status = ? ORDER BY created_at, id').all(status)) as Row[];
      return rows.map(toObjective);
    },
    putChannel(c) {
      q(`INSERT INTO channels (channel_id, kind, data, updated_at, status) VALUES (?, ?, ?, ?, ?)
         ON CONFLICT(channel_id) DO UPDATE SET kind = excluded.kind, data = excluded.data, updated_at = excluded.updated_at, status = excluded.status`).run(
        c.channelId, c.kind, stringifyJson(c.data), c.updatedAt, statusOf(c.data),
      );
    },
    getChannel(channelId) {
      const r = q('SELECT * FROM channels WHERE channel_id = ?').get(channelId) as Row | undefined;
      return r === undefined ? undefined : toChannel(r);
    },
    listChannels(kind, statuses) {
      if (statuses !== undefined) {
        if (statuses.length === 0) return [];
        const marks = statuses.map(() => '?').join(', ');
        const rows = (kind === undefined
          ? q(`SELECT * FROM channels WHERE status IN (${marks}) ORDER BY channel_id`).all(...statuses)
          : q(`SELECT * FROM channels WHERE kind = ? AND status IN (${marks}) ORDER BY channel_id`).all(kind, ...statuses)) as Row[];
        return rows.map(toChannel);
      }
      const rows = (kind === undefined
        ? q('SELECT * FROM channels ORDER BY channel_id').all()
        : q('SELECT * FROM channels WHERE kind = ? ORDER BY channel_id').all(kind)) as Row[];
      return rows.map(toChannel);
    },
    listStaleChannelIds(kind, statuses, updatedBefore, limit, after) {
      if (statuses.length === 0 || limit <= 0) return [];
      const marks = statuses.map(() => '?').join(', ');
      const rows = (after === undefined
        ? q(`SELECT channel_id, updated_at FROM channels WHERE kind = ? AND status IN (${marks}) AND updated_at < ? ORDER BY updated_at, channel_id LIMIT ?`).all(kind, ...statuses, updatedBefore, limit)
        : q(`SELECT channel_id, updated_at FROM channels WHERE kind = ? AND status IN (${marks}) AND updated_at < ? AND (updated_at > ? OR (updated_at = ? AND channel_id > ?)) ORDER BY updated_at, channel_id LIMIT ?`).all(
            kind, ...statuses, updatedBefore, after.updatedAt, after.updatedAt, after.channelId, limit,
          )) as Row[];
      return rows.map((r) => ({ channelId: r['channel_id'] as ChannelId, updatedAt: Number(r['updated_at']) }));
    },
    retire(channelIds, objectiveIds, now, objectivePrefixes = [], nonceTimes = []) {
      store.transaction(() => {
        const delObjective = q('DELETE FROM objectives WHERE id = ?');
        for (const id of objectiveIds) delObjective.run(id);
        // a prefix as a key range (the primary key index), not LIKE
        const delPrefix = q('DELETE FROM objectives WHERE id >= ? AND id < ?');
        for (const p of objectivePrefixes) if (p !== '') delPrefix.run(p, `${p}\uffff`);
        const delChannel = q('DELETE FROM channels WHERE channel_id = ?');
        const delParts = q('DELETE FROM channel_parts WHERE channel_id = ?');
        const delVouchers = q('DELETE FROM vouchers WHERE channel_id = ?');
        const tomb = q('INSERT OR IGNORE INTO retired_channels (channel_id, retired_at, nonce_time) VALUES (?, ?, ?)');
        for (const [i, id] of channelIds.entries()) {
          delChannel.run(id);
          delParts.run(id);
          delVouchers.run(id);
          partsCache.delete(id);
          tomb.run(id.toLowerCase(), now, nonceTimes[i] ?? null);
        }
      }, { durability: 'relaxed' });
    },
    forgetRetired(nonceTimeBefore, limit) {
      if (limit <= 0) return { forgotten: 0 };
      return store.transaction(
        () => {
          const rows = q('SELECT channel_id, nonce_time FROM retired_channels WHERE nonce_time < ? ORDER BY nonce_time LIMIT ?').all(nonceTimeBefore, limit) as Row[];
          if (rows.length === 0) return { forgotten: 0 };
          const del = q('DELETE FROM retired_channels WHERE channel_id = ?');
          for (const r of rows) del.run(r['channel_id'] as string);
          return { forgotten: rows.length, newestNonceTime: Number(rows[rows.length - 1]!['nonce_time']) };
        },
        { durability: 'relaxed' },
      );
    },
    isRetired(channelId) {
      return q('SELECT 1 AS x FROM retired_channels WHERE channel_id = ?').get(channelId.toLowerCase()) !== undefined;
    },
    syncChannelParts(channelId, parts) {
      store.transaction(() => {
        // what the table holds for the channel: from the cache (a rolled-back transaction clears
        // it), else read once
        let known = partsCache.get(channelId);
        if (known === undefined) {
          known = new Map<string, string>();
          for (const r of q('SELECT key, fingerprint FROM channel_parts WHERE channel_id = ?').all(channelId) as Row[]) known.set(r['key'] as string, r['fingerprint'] as string);
        }
        const next = new Map<string, string>();
        const put = q(`INSERT INTO channel_parts (channel_id, key, fingerprint, data) VALUES (?, ?, ?, ?)
           ON CONFLICT(channel_id, key) DO UPDATE SET fingerprint = excluded.fingerprint, data = excluded.data`);
        for (const p of parts) {
          if (known.get(p.key) !== p.fingerprint) put.run(channelId, p.key, p.fingerprint, stringifyJson(p.data));
          next.set(p.key, p.fingerprint);
        }
        const del = q('DELETE FROM channel_parts WHERE channel_id = ? AND key = ?');
        for (const key of known.keys()) if (!next.has(key)) del.run(channelId, key);
        partsCache.set(channelId, next);
      });
    },
    countChannels(kind) {
      const out: Record<string, number> = {};
      for (const r of q('SELECT status, count(*) AS n FROM channels WHERE kind = ? AND status IS NOT NULL GROUP BY status').all(kind) as Row[]) out[r['status'] as string] = Number(r['n']);
      return out;
    },
    listChannelParts(channelId) {
      return (q('SELECT key, data FROM channel_parts WHERE channel_id = ? ORDER BY key').all(channelId) as Row[]).map((r) => ({ key: r['key'] as string, data: parseJson(r['data'] as string) }));
    },
    putVoucherIfHigher(v) {
      return store.transaction(() => {
        const cur = q('SELECT amount FROM vouchers WHERE channel_id = ? AND role = ?').get(v.channelId, v.role) as Row | undefined;
        if (cur !== undefined && BigInt(cur['amount'] as string) >= v.amount) return false;
        q(`INSERT INTO vouchers (channel_id, role, amount, signature, updated_at) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT(channel_id, role) DO UPDATE SET amount = excluded.amount, signature = excluded.signature, updated_at = excluded.updated_at`).run(
          v.channelId, v.role, v.amount.toString(), v.signature, v.updatedAt,
        );
        return true;
      });
    },
    getVoucher(channelId, role) {
      const r = q('SELECT * FROM vouchers WHERE channel_id = ? AND role = ?').get(channelId, role) as Row | undefined;
      return r === undefined ? undefined : toVoucher(r);
    },
    listVouchers(role) {
      const rows = (role === undefined
        ? q('SELECT * FROM vouchers ORDER BY channel_id, role').all()
        : q('SELECT * FROM vouchers WHERE role = ? ORDER BY channel_id').all(role)) as Row[];
      return rows.map(toVoucher);
    },
    enqueueOutbox(m) {
      q('INSERT INTO outbox (id, recipient, payload, created_at, attempts, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)').run(
        m.id, m.to, m.payload, m.createdAt, m.attempts, m.nextAttemptAt,
      );
    },
    dueOutbox(now, limit) {
      return (q('SELECT * FROM outbox WHERE next_attempt_at <= ? ORDER BY rowid LIMIT ?').all(now, limit) as Row[]).map(toOutbox);
    },
    rescheduleOutbox(id, nextAttemptAt, attempts) {
      if (attempts === undefined) relaxed(() => q('UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ? WHERE id = ?').run(nextAttemptAt, id));
      else relaxed(() => q('UPDATE outbox SET attempts = ?, next_attempt_at = ? WHERE id = ?').run(attempts, nextAttemptAt, id));
    },
    removeOutbox(id) {
      relaxed(() => q('DELETE FROM outbox WHERE id = ?').run(id));
    },
    countOutbox() {
      return Number((q('SELECT count(*) AS n FROM outbox').get() as Row)['n']);
    },
    hasOutboxFor(to) {
      return q('SELECT 1 AS x FROM outbox WHERE recipient = ? LIMIT 1').get(to) !== undefined;
    },
    countOutboxFor(to) {
      return Number((q('SELECT count(*) AS n FROM outbox WHERE recipient = ?').get(to) as Row)['n']);
    },
    countOutboxWithPrefix(prefix) {
      if (prefix === '') return Number((q('SELECT count(*) AS n FROM outbox').get() as Row)['n']);
      // a range on the primary key: ids >= prefix and < prefix with its last character incremented
      const end = prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
      return Number((q('SELECT count(*) AS n FROM outbox WHERE id >= ? AND id < ?').get(prefix, end) as Row)['n']);
    },
    markSeen(from, id, now) {
      const r = relaxed(() => q('INSERT OR IGNORE INTO seen (sender, id, seen_at) VALUES (?, ?, ?)').run(from.toLowerCase(), id, now));
      return Number(r.changes) === 1;
    },
    hasSeen(from, id) {
      return q('SELECT 1 AS x FROM seen WHERE sender = ? AND id = ?').get(from.toLowerCase(), id) !== undefined;
    },
    pruneSeen(before) {
      relaxed(() => q('DELETE FROM seen WHERE seen_at < ?').run(before));
    },
    getMeta(key) {
      const r = q('SELECT value FROM meta WHERE key = ?').get(key) as Row | undefined;
      return r === undefined ? undefined : (r['value'] as string);
    },
    setMeta(key, value) {
      putMeta(key, value);
    },
    close() {
      stmts.clear();
      db.close();
      lock?.close();
      if (walFd !== undefined) {
        const fd = walFd;
        walFd = undefined;
        // never close a descriptor an fsync is still using (its number could be reused meanwhile)
        if (walSync === undefined) closeSync(fd);
        else void walSync.catch(() => {}).finally(() => closeSync(fd));
      }
    },
  };
  return store;
}

function migrate(db: DatabaseSync): void {
  const version = Number((db.prepare('PRAGMA user_version').get() as Row)['user_version']);
  if (version > MIGRATIONS.length) {
    throw new SluiceError('INTERNAL', `store schema version ${version} is newer than this software (${MIGRATIONS.length})`);
  }
  for (let v = version; v < MIGRATIONS.length; v++) {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(MIGRATIONS[v]!);
      db.exec(`PRAGMA user_version = ${v + 1}`);
      db.exec('COMMIT');
    } catch (e) {
      db.exec('ROLLBACK');
      throw e;
    }
  }
}

/** The schema version this code migrates to. */
export const STORE_SCHEMA_VERSION = MIGRATIONS.length;
