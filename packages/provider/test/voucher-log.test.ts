import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ChannelId, signVoucher } from '@sluice/channel-core';
import { VoucherLog } from '../src/service/index.ts';

const KEY = '0x' + '0a'.repeat(32);
const A = ('0x' + 'aa'.repeat(32)) as ChannelId;
const B = ('0x' + 'bb'.repeat(32)) as ChannelId;

describe('VoucherLog (provider best-voucher store)', () => {
  it('keeps the best voucher per channel across reopen; ignores lower amounts, a torn tail and bad CRCs; compacts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vlog-'));
    try {
      const path = join(dir, 'v.log');
      let log = await VoucherLog.open(path);
      await Promise.all([log.persist(signVoucher(A, 5n, KEY)), log.persist(signVoucher(B, 7n, KEY)), log.persist(signVoucher(A, 9n, KEY))]);
      await log.persist(signVoucher(A, 3n, KEY)); // lower: no-op
      assert.ok(log.commits <= 2, 'concurrent persists share commits');
      assert.equal(log.get(A)?.amount, 9n);
      await log.close();
      // a torn record at the tail and a record with a flipped byte
      const good = await readFile(path);
      const bad = Buffer.from(good.subarray(0, 133));
      bad[40] = (bad[40] ?? 0) ^ 1;
      await appendFile(path, Buffer.concat([bad, Buffer.from([1, 2, 3])]));
      log = await VoucherLog.open(path);
      assert.equal(log.get(A)?.amount, 9n);
      assert.equal(log.get(B)?.amount, 7n);
      assert.equal((await stat(path)).size % 133, 0, 'torn tail compacted away');
      for (let i = 10n; i < 60n; i++) await log.persist(signVoucher(A, i, KEY));
      await log.close();
      log = await VoucherLog.open(path, { compactAbove: 10 });
      assert.equal(log.get(A)?.amount, 59n);
      assert.equal((await stat(path)).size, 2 * 133, 'compacted to one record per channel');
      await log.close();
      // while running: the log is compacted between commits once it holds 4x the channels (and > compactAbove)
      log = await VoucherLog.open(path, { compactAbove: 20 });
      for (let i = 60n; i < 200n; i++) await log.persist(signVoucher(i % 2n === 0n ? A : B, i, KEY));
      assert.ok(log.compactions >= 5, `compacted ${log.compactions} times while running`);
      assert.ok((await stat(path)).size <= 21 * 133, 'the log stays bounded');
      await Promise.all(Array.from({ length: 30 }, (_, i) => log.persist(signVoucher(A, 200n + BigInt(i), KEY))));
      assert.equal(log.get(A)?.amount, 229n);
      await log.close();
      log = await VoucherLog.open(path);
      assert.deepEqual([log.get(A)?.amount, log.get(B)?.amount], [229n, 199n], 'every best voucher survives the compactions');
      await log.close();
      await writeFile(path, 'garbage that is not a log');
      log = await VoucherLog.open(path);
      assert.equal(log.get(A), undefined);
      await log.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
