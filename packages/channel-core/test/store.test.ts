import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openMemoryStore, openSqliteStore, STORE_SCHEMA_VERSION } from '../src/sqlite/index.ts';
import { LAST_BLOCK_KEY } from '../src/ports/store.ts';
import { parseJson, stringifyJson } from '../src/json.ts';
import { type Address, type ChannelId, isSluiceError } from '../src/index.ts';

const A = '0xc7e8d8CEEDb0b5D21Da18308EB61F06faafA1137' as Address;
const C = `0x${'ab'.repeat(32)}` as ChannelId;

test('json codec round-trips bigints and bytes, rejecting malformed tags', () => {
  const v = { a: 2n ** 255n, b: new Uint8Array([1, 2, 3]), c: [1n, 'x', { d: -5n }], e: null };
  assert.deepEqual(parseJson(stringifyJson(v)), v);
  assert.throws(() => parseJson('{"$n":"1.5"}'), TypeError);
  assert.throws(() => parseJson('{"$b":"zz"}'), TypeError);
});

test('store: objectives, channels, vouchers (only higher), outbox, dedupe, meta', () => {
  const s = openMemoryStore();
  s.putObjective({ id: 'o1', type: 'DirectFund', status: 'active', data: { x: 1n }, createdAt: 1, updatedAt: 1 });
  s.putObjective({ id: 'o1', type: 'DirectFund', status: 'completed', data: { x: 2n }, createdAt: 1, updatedAt: 2 });
  assert.deepEqual(s.getObjective('o1')?.data, { x: 2n });
  assert.equal(s.listObjectives('active').length, 0);
  assert.equal(s.listObjectives('completed').length, 1);
  assert.equal(s.hasObjective?.('o1'), true);
  assert.equal(s.hasObjective?.('o2'), false);

  s.putChannel({ channelId: C, kind: 'virtual', data: { turn: 1 }, updatedAt: 5 });
  assert.equal(s.listChannels('virtual')[0]?.channelId, C);
  assert.equal(s.getChannel(`0x${'00'.repeat(32)}` as ChannelId), undefined);

  const sig = new Uint8Array(65).fill(7);
  assert.equal(s.putVoucherIfHigher({ channelId: C, role: 'payee', amount: 10n, signature: sig, updatedAt: 1 }), true);
  assert.equal(s.putVoucherIfHigher({ channelId: C, role: 'payee', amount: 10n, signature: sig, updatedAt: 2 }), false);
  assert.equal(s.putVoucherIfHigher({ channelId: C, role: 'payee', amount: 9n, signature: sig, updatedAt: 2 }), false);
  assert.equal(s.putVoucherIfHigher({ channelId: C, role: 'payee', amount: 2n ** 256n - 1n, signature: sig, updatedAt: 3 }), true);
  assert.equal(s.getVoucher(C, 'payee')?.amount, 2n ** 256n - 1n);
  assert.deepEqual(s.getVoucher(C, 'payee')?.signature, sig);

  s.enqueueOutbox({ id: 'm1', to: A, payload: new Uint8Array([1]), createdAt: 1, attempts: 0, nextAttemptAt: 0 });
  s.enqueueOutbox({ id: 'm2', to: A, payload: new Uint8Array([2]), createdAt: 2, attempts: 0, nextAttemptAt: 100 });
  assert.deepEqual(s.dueOutbox(50, 10).map((m) => m.id), ['m1']);
  s.rescheduleOutbox('m1', 200);
  assert.deepEqual(s.dueOutbox(150, 10).map((m) => m.id), ['m2']);
  assert.equal(s.dueOutbox(1000, 10).find((m) => m.id === 'm1')?.attempts, 1);
  s.removeOutbox('m1');
  assert.equal(s.countOutbox(), 1);
  for (const id of ['relay/0xab/1', 'relay/0xab/2', 'relay/0xab0/1', 'relay/0xaa/1', 'relay/0xac']) {
    s.enqueueOutbox({ id, to: A, payload: new Uint8Array([3]), createdAt: 3, attempts: 0, nextAttemptAt: 0 });
  }
  assert.equal(s.countOutboxWithPrefix!('relay/0xab/'), 2);
  assert.equal(s.countOutboxWithPrefix!('relay/0xab'), 3);
  assert.equal(s.countOutboxWithPrefix!('relay/'), 5);
  assert.equal(s.countOutboxWithPrefix!(''), 6);
  for (const id of ['relay/0xab/1', 'relay/0xab/2', 'relay/0xab0/1', 'relay/0xaa/1', 'relay/0xac']) s.removeOutbox(id);

  assert.equal(s.markSeen(A, 'x', 1), true);
  assert.equal(s.markSeen(A.toLowerCase() as Address, 'x', 2), false);
  s.pruneSeen(10);
  assert.equal(s.markSeen(A, 'x', 11), true);

  s.setMeta(LAST_BLOCK_KEY, '42');
  assert.equal(s.getMeta(LAST_BLOCK_KEY), '42');
  s.close();
});

test('store: channel parts — rows written only when new or changed (by fingerprint), deleted when gone, listed by key', () => {
  const s = openMemoryStore();
  const D = `0x${'cd'.repeat(32)}` as ChannelId;
  s.syncChannelParts!(C, [{ key: 'b', fingerprint: '1', data: { v: 1n } }, { key: 'a', fingerprint: '1', data: { v: 2n } }]);
  s.syncChannelParts!(D, [{ key: 'a', fingerprint: '9', data: 'other channel' }]);
  assert.deepEqual(s.listChannelParts!(C), [{ key: 'a', data: { v: 2n } }, { key: 'b', data: { v: 1n } }]);
  // same fingerprint: the row is left alone (its data is not even looked at); a new one is written
  s.syncChannelParts!(C, [{ key: 'a', fingerprint: '1', data: 'ignored' }, { key: 'b', fingerprint: '2', data: { v: 3n } }, { key: 'c', fingerprint: '1', data: 4n }]);
  assert.deepEqual(s.listChannelParts!(C), [{ key: 'a', data: { v: 2n } }, { key: 'b', data: { v: 3n } }, { key: 'c', data: 4n }]);
  // a key no longer given is deleted; other channels' parts are untouched
  s.syncChannelParts!(C, [{ key: 'c', fingerprint: '1', data: 4n }]);
  assert.deepEqual(s.listChannelParts!(C).map((p) => p.key), ['c']);
  s.syncChannelParts!(C, []);
  assert.deepEqual(s.listChannelParts!(C), []);
  assert.deepEqual(s.listChannelParts!(D), [{ key: 'a', data: 'other channel' }]);
  // a rolled-back sync leaves nothing, and the next one writes everything again
  assert.throws(() => s.transaction(() => {
    s.syncChannelParts!(C, [{ key: 'x', fingerprint: '1', data: 1n }]);
    throw new Error('boom');
  }));
  assert.deepEqual(s.listChannelParts!(C), []);
  s.syncChannelParts!(C, [{ key: 'x', fingerprint: '1', data: 1n }]);
  assert.deepEqual(s.listChannelParts!(C), [{ key: 'x', data: 1n }]);
  s.close();
});

test('store: a failed transaction leaves nothing behind', () => {
  const s = openMemoryStore();
  assert.throws(() =>
    s.transaction(() => {
      s.setMeta('a', '1');
      throw new Error('boom');
    }),
  );
  assert.equal(s.getMeta('a'), undefined);
  s.close();
});

test('store: committed writes survive SIGKILL of the writing process; migrations are versioned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  try {
    const path = join(dir, 'node.db');
    const storeUrl = new URL('../src/sqlite/index.ts', import.meta.url).href;
    const script = `
      import { openSqliteStore } from ${JSON.stringify(storeUrl)};
      const s = openSqliteStore({ path: ${JSON.stringify(path)} });
      for (let i = 0; i < 50; i++) s.putVoucherIfHigher({ channelId: '0x${'cd'.repeat(32)}', role: 'payee', amount: BigInt(i + 1), signature: new Uint8Array(65), updatedAt: i });
      s.setMeta('done', 'yes');
      process.kill(process.pid, 'SIGKILL');
    `;
    const r = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const s = openSqliteStore({ path });
    assert.equal(s.getMeta('done'), 'yes');
    assert.equal(s.getVoucher(`0x${'cd'.repeat(32)}` as ChannelId, 'payee')?.amount, 50n);
    s.close();
    const again = openSqliteStore({ path }); // reopening does not re-run migrations
    again.close();
    assert.ok(STORE_SCHEMA_VERSION >= 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: a nested transaction is a savepoint — a failing one leaves none of its writes, the outer one commits the rest', () => {
  for (const path of [':memory:', join(mkdtempSync(join(tmpdir(), 'sluice-store-')), 'sp.db')]) {
    const s = openSqliteStore({ path });
    s.transaction(() => {
      s.setMeta('before', '1');
      assert.throws(() => s.transaction(() => {
        s.setMeta('inner', 'x');
        s.transaction(() => s.setMeta('innermost', 'y'));
        throw new Error('step failed');
      }), /step failed/);
      s.transaction(() => s.setMeta('after', '2'));
    }, { durability: 'beforeSend' });
    assert.deepEqual(['before', 'inner', 'innermost', 'after'].map((k) => s.getMeta(k)), ['1', undefined, undefined, '2']);
    // an outer failure still rolls back everything, savepoints included
    assert.throws(() => s.transaction(() => {
      s.transaction(() => s.setMeta('lost', '3'));
      throw new Error('outer failed');
    }), /outer failed/);
    assert.equal(s.getMeta('lost'), undefined);
    s.close();
    if (path !== ':memory:') rmSync(dirname(path), { recursive: true, force: true });
  }
});

test('store: syncAsync makes earlier group commits durable off the event loop, shared by concurrent callers', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  try {
    const path = join(dir, 'node.db');
    const s = openSqliteStore({ path });
    await s.syncAsync!(); // nothing pending: resolves at once
    // relaxed bookkeeping in a transaction: atomic, and nothing for sync() to make durable
    s.enqueueOutbox({ id: 'r1', to: A, payload: new Uint8Array([1]), createdAt: 1, attempts: 0, nextAttemptAt: 1 });
    assert.throws(() => s.transaction(() => {
      s.removeOutbox('r1');
      throw new Error('rolled back');
    }, { durability: 'relaxed' }), /rolled back/);
    assert.equal(s.countOutbox(), 1);
    s.transaction(() => s.removeOutbox('r1'), { durability: 'relaxed' });
    assert.equal(s.countOutbox(), 0);
    s.sync!();
    assert.equal(s.getMeta('store.sync'), '0');
    s.transaction(() => s.setMeta('a', '1'), { durability: 'beforeSend' });
    const first = s.syncAsync!();
    s.transaction(() => s.setMeta('b', '2'), { durability: 'beforeSend' }); // after the first fsync started
    const second = s.syncAsync!();
    const third = s.syncAsync!();
    await Promise.all([first, second, third]);
    // everything is durable now: the blocking sync has nothing to write
    s.sync!();
    assert.equal(s.getMeta('store.sync'), '0');
    // a blocking sync covers what an async one would
    s.transaction(() => s.setMeta('c', '3'), { durability: 'beforeSend' });
    s.sync!();
    assert.equal(s.getMeta('store.sync'), '1');
    await s.syncAsync!();
    // close while an fsync runs: the descriptor is closed once it is done, nothing throws
    s.transaction(() => s.setMeta('d', '4'), { durability: 'beforeSend' });
    const late = s.syncAsync!();
    s.close();
    await late;
    const again = openSqliteStore({ path });
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => again.getMeta(k)), ['1', '2', '3', '4']);
    again.close();
    // :memory: stores have nothing to sync
    const m = openSqliteStore({ path: ':memory:' });
    m.transaction(() => m.setMeta('x', '1'), { durability: 'beforeSend' });
    await m.syncAsync!();
    m.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: relaxed bookkeeping and group commit (beforeSend + sync) on a file store; SIGKILL loses none of it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  try {
    const path = join(dir, 'node.db');
    const s = openSqliteStore({ path });
    // a deferred transaction is atomic and visible at once; a failed one leaves nothing and the
    // connection is back to durable commits (a later transaction and autocommit work)
    s.transaction(() => s.setMeta('g1', 'a'), { durability: 'beforeSend' });
    assert.equal(s.getMeta('g1'), 'a');
    assert.throws(() => s.transaction(() => {
      s.setMeta('g2', 'b');
      throw new Error('boom');
    }, { durability: 'beforeSend' }), /boom/);
    assert.equal(s.getMeta('g2'), undefined);
    s.transaction(() => s.transaction(() => s.setMeta('g3', 'c'), { durability: 'beforeSend' })); // nested joins the outer
    assert.equal(s.getMeta('store.sync'), '0'); // written (durably) at open, so the WAL file exists for syncAsync
    s.sync?.(); // one durable commit covering the deferred one
    assert.equal(s.getMeta('store.sync'), '1');
    s.sync?.(); // nothing pending: no write
    assert.equal(s.getMeta('store.sync'), '1');
    // relaxed bookkeeping outside a transaction
    s.enqueueOutbox({ id: 'm1', to: A, payload: new Uint8Array([1]), createdAt: 1, attempts: 0, nextAttemptAt: 1 });
    s.enqueueOutbox({ id: 'm2', to: A, payload: new Uint8Array([2]), createdAt: 2, attempts: 0, nextAttemptAt: 2 });
    s.rescheduleOutbox('m1', 99);
    s.removeOutbox('m2');
    assert.equal(s.markSeen(A, 'x', 5), true);
    assert.equal(s.markSeen(A, 'x', 6), false);
    assert.equal(s.hasSeen?.(A, 'x'), true);
    assert.equal(s.hasSeen?.(A, 'y'), false);
    s.close();
    // a killed process keeps relaxed and deferred commits (they are in the WAL; only power loss can drop them)
    const storeUrl = new URL('../src/sqlite/index.ts', import.meta.url).href;
    const script = `
      import { openSqliteStore } from ${JSON.stringify(storeUrl)};
      const s = openSqliteStore({ path: ${JSON.stringify(path)} });
      s.transaction(() => s.setMeta('deferred', 'yes'), { durability: 'beforeSend' });
      s.removeOutbox('m1');
      s.markSeen('${A}', 'z', 7);
      process.kill(process.pid, 'SIGKILL');
    `;
    const r = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { encoding: 'utf8' });
    assert.equal(r.signal, 'SIGKILL', r.stderr);
    const t = openSqliteStore({ path });
    assert.equal(t.getMeta('deferred'), 'yes');
    assert.equal(t.getMeta('g3'), 'c');
    assert.equal(t.countOutbox(), 0);
    assert.equal(t.hasSeen?.(A, 'z'), true);
    t.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: channels listed and counted by status from an indexed column; migration 4 fills it for records written before it', async () => {
  const { DatabaseSync } = await import('node:sqlite');
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-'));
  try {
    const path = join(dir, 'node.db');
    const id = (n: number): ChannelId => `0x${n.toString(16).padStart(64, '0')}` as ChannelId;
    const s = openSqliteStore({ path });
    const statuses = ['funding', 'funded', 'closing', 'closed', 'failed', 'closed'];
    statuses.forEach((status, i) => s.putChannel({ channelId: id(i + 1), kind: 'virtual', data: { status, amount: BigInt(i) }, updatedAt: i }));
    s.putChannel({ channelId: id(100), kind: 'ledger', data: { status: 'open' }, updatedAt: 9 });
    s.putChannel({ channelId: id(101), kind: 'virtual', data: { noStatus: true }, updatedAt: 9 });
    const open = (st: typeof s): string[] => st.listChannels('virtual', ['funding', 'funded', 'closing']).map((r) => (r.data as { status: string }).status);
    assert.deepEqual(open(s), ['funding', 'funded', 'closing']);
    assert.equal(s.listChannels('virtual', ['closed']).length, 2);
    assert.deepEqual(s.listChannels('virtual', []), []);
    assert.equal(s.listChannels('virtual').length, 7, 'without statuses: every record');
    assert.deepEqual(s.countChannels?.('virtual'), { funding: 1, funded: 1, closing: 1, closed: 2, failed: 1 });
    assert.deepEqual(s.countChannels?.('ledger'), { open: 1 });
    // a status change moves the record between the lists
    s.putChannel({ channelId: id(1), kind: 'virtual', data: { status: 'closed' }, updatedAt: 10 });
    assert.deepEqual(open(s), ['funded', 'closing']);
    s.close();

    // the same records as a version-3 store holds them (no status column), then reopened
    const raw = new DatabaseSync(path);
    raw.exec('DROP INDEX channels_kind_status_updated; DROP INDEX retired_channels_nonce_time; DROP TABLE retired_channels; ALTER TABLE channels DROP COLUMN status; PRAGMA user_version = 3;');
    raw.close();
    const migrated = openSqliteStore({ path });
    assert.deepEqual(open(migrated), ['funded', 'closing']);
    assert.equal(migrated.listChannels('virtual', ['closed']).length, 3);
    assert.equal(migrated.listChannels('ledger', ['open']).length, 1);
    assert.deepEqual(migrated.countChannels?.('virtual'), { funded: 1, closing: 1, closed: 3, failed: 1 });
    migrated.close();
    assert.equal(STORE_SCHEMA_VERSION, 6);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('store: history retention — stale closed channels listed by age through the index, retired with their parts, vouchers and objectives, and remembered', () => {
  const s = openMemoryStore();
  try {
    const id = (n: number): ChannelId => `0x${n.toString(16).padStart(64, 'A')}` as ChannelId;
    // updated at 50, 10, 30 (closed), 5 (failed), 1 (funded: open), 2 (a ledger)
    const rows: [number, string, string, number][] = [[1, 'virtual', 'closed', 50], [2, 'virtual', 'closed', 10], [3, 'virtual', 'closed', 30], [4, 'virtual', 'failed', 5], [5, 'virtual', 'funded', 1], [6, 'ledger', 'closed', 2]];
    for (const [n, kind, status, at] of rows) s.putChannel({ channelId: id(n), kind, data: { status }, updatedAt: at });
    const stale = (before: number, limit: number, after?: { channelId: ChannelId; updatedAt: number }): ChannelId[] => s.listStaleChannelIds!('virtual', ['closed', 'failed'], before, limit, after).map((c) => c.channelId);
    assert.deepEqual(stale(40, 10), [id(4), id(2), id(3)], 'oldest first, before the cut-off, of the kind and statuses');
    assert.deepEqual(stale(100, 2), [id(4), id(2)], 'at most limit');
    assert.deepEqual(s.listStaleChannelIds!('virtual', ['closed'], 100, 2)[0], { channelId: id(2), updatedAt: 10 });
    assert.deepEqual(stale(100, 2, { channelId: id(2), updatedAt: 10 }), [id(3), id(1)], 'after a cursor');
    s.putChannel({ channelId: id(7), kind: 'virtual', data: { status: 'closed' }, updatedAt: 10 });
    assert.deepEqual(stale(100, 5, { channelId: id(2), updatedAt: 10 }), [id(7), id(3), id(1)], 'same time: by id');
    assert.deepEqual(s.listStaleChannelIds!('virtual', [], 100, 2), []);
    assert.deepEqual(s.listStaleChannelIds!('virtual', ['closed'], 100, 0), []);

    s.syncChannelParts!(id(2), [{ key: 'k', fingerprint: '1', data: { x: 1 } }]);
    s.putVoucherIfHigher({ channelId: id(2), role: 'payee', amount: 5n, signature: new Uint8Array(65), updatedAt: 1 });
    s.putVoucherIfHigher({ channelId: id(3), role: 'payer', amount: 5n, signature: new Uint8Array(65), updatedAt: 1 });
    s.putObjective({ id: `VirtualFund-${id(2)}`, type: 'virtualFund', status: 'completed', data: {}, createdAt: 1, updatedAt: 2 });
    s.putObjective({ id: `VirtualFund-${id(5)}`, type: 'virtualFund', status: 'completed', data: {}, createdAt: 1, updatedAt: 2 });
    assert.equal(s.isRetired!(id(2)), false);
    s.retire!([id(2), id(3)], [`VirtualFund-${id(2)}`, 'no-such-objective'], 99);
    assert.equal(s.getChannel(id(2)), undefined);
    assert.equal(s.getChannel(id(3)), undefined);
    assert.deepEqual(s.listChannelParts!(id(2)), []);
    assert.equal(s.getVoucher(id(2), 'payee'), undefined);
    assert.equal(s.getVoucher(id(3), 'payer'), undefined);
    assert.equal(s.getObjective(`VirtualFund-${id(2)}`), undefined);
    assert.notEqual(s.getObjective(`VirtualFund-${id(5)}`), undefined, 'other objectives stay');
    assert.notEqual(s.getChannel(id(1)), undefined, 'other channels stay');
    assert.equal(s.isRetired!(id(2)), true);
    assert.equal(s.isRetired!(id(2).toUpperCase().replace('0X', '0x') as ChannelId), true, 'case-insensitive');
    assert.equal(s.isRetired!(id(1)), false);
    assert.deepEqual(stale(40, 10), [id(4), id(7)]);
    // objectives by id prefix (a ledger's top-ups), as a key range: only that prefix
    for (const oid of [`LedgerTopUp-${id(6)}-5`, `LedgerTopUp-${id(6)}-70`, `LedgerTopUp-${id(1)}-5`]) s.putObjective({ id: oid, type: 'ledgerTopUp', status: 'completed', data: {}, createdAt: 1, updatedAt: 2 });
    s.retire!([id(6)], [], 99, [`LedgerTopUp-${id(6)}-`]);
    assert.equal(s.getObjective(`LedgerTopUp-${id(6)}-5`), undefined);
    assert.equal(s.getObjective(`LedgerTopUp-${id(6)}-70`), undefined);
    assert.notEqual(s.getObjective(`LedgerTopUp-${id(1)}-5`), undefined);
    assert.equal(s.getChannel(id(6)), undefined);
    // retiring again is harmless; parts re-synced after a retire start from nothing
    s.retire!([id(2)], [], 100);
    s.syncChannelParts!(id(2), [{ key: 'k', fingerprint: '1', data: { x: 1 } }]);
    assert.equal(s.listChannelParts!(id(2)).length, 1, 'the parts cache was cleared with the rows');
    // retired ids with their nonce times: forgotten oldest first once before the cut-off, at most
    // `limit` at a time; ids retired without a nonce time are kept for good
    s.retire!([id(8), id(9), id(10)], [], 100, [], [5_000, undefined, 7_000]);
    assert.deepEqual(s.forgetRetired!(5_000, 10), { forgotten: 0 }, 'strictly before');
    assert.deepEqual(s.forgetRetired!(10_000, 1), { forgotten: 1, newestNonceTime: 5_000 });
    assert.deepEqual([8, 9, 10].map((n) => s.isRetired!(id(n))), [false, true, true]);
    assert.deepEqual(s.forgetRetired!(Number.MAX_SAFE_INTEGER, 10), { forgotten: 1, newestNonceTime: 7_000 });
    assert.deepEqual([8, 9, 10, 2, 3].map((n) => s.isRetired!(id(n))), [false, true, false, true, true]);
    assert.deepEqual(s.forgetRetired!(Number.MAX_SAFE_INTEGER, 0), { forgotten: 0 });
  } finally {
    s.close();
  }
});

test('store lock: a second open of a locked store is refused, here or in another process, until the first closes or dies', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-store-lock-'));
  try {
    const path = join(dir, 'node.db');
    const storeUrl = new URL('../src/sqlite/index.ts', import.meta.url).href;
    const other = (): { status: number | null; stdout: string; stderr: string } =>
      spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', `
        import { openSqliteStore } from ${JSON.stringify(storeUrl)};
        try { openSqliteStore({ path: ${JSON.stringify(path)}, lock: true }).close(); console.log('opened'); }
        catch (e) { console.log(e.code + ': ' + e.message); }
      `], { encoding: 'utf8' });
    const first = openSqliteStore({ path, lock: true });
    first.setMeta('k', 'v');
    assert.throws(() => openSqliteStore({ path, lock: true }), (e: unknown) => isSluiceError(e, 'INVALID_ARGUMENT') && /is in use by another process .*stop it first/.test(e.message));
    const r = other();
    assert.match(r.stdout, /^INVALID_ARGUMENT: the store .*node\.db is in use by another process/, r.stderr);
    first.close();
    assert.match(other().stdout, /^opened/, 'free once closed');
    // a holder that dies releases it (the OS drops its locks): never a stale lock
    const killed = spawnSync(process.execPath, ['--no-warnings', '--input-type=module', '-e', `
      import { openSqliteStore } from ${JSON.stringify(storeUrl)};
      openSqliteStore({ path: ${JSON.stringify(path)}, lock: true });
      process.kill(process.pid, 'SIGKILL');
    `], { encoding: 'utf8' });
    assert.equal(killed.signal, 'SIGKILL');
    const again = openSqliteStore({ path, lock: true });
    assert.equal(again.getMeta('k'), 'v');
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
