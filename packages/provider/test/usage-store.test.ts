import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChannelId } from '@sluice/channel-core';
import { openUsageStore } from '../src/service/usage-store.ts';

const id = (n: number): ChannelId => `0x${n.toString(16).padStart(64, '0')}` as ChannelId;

test('usage rows: retain() deletes the rows of channels no longer kept, durably; the others are untouched', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-usage-'));
  try {
    const path = join(dir, 'usage.db');
    const usage = openUsageStore(path);
    for (let n = 1; n <= 5; n++) usage.put({ channelId: id(n), consumed: BigInt(n) * 10n ** 18n, chunks: n, bytes: n * 262_144 });
    assert.equal(usage.retain(() => true), 0);
    assert.equal(usage.retain((c) => c !== id(2) && c !== id(4)), 2);
    assert.deepEqual(usage.list().map((u) => u.channelId), [id(1), id(3), id(5)]);
    usage.close();
    const again = openUsageStore(path);
    assert.deepEqual(again.list().map((u) => [u.channelId, u.consumed]), [[id(1), 10n ** 18n], [id(3), 3n * 10n ** 18n], [id(5), 5n * 10n ** 18n]]);
    again.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
