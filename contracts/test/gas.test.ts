/**
 * Gas regression guard: gas is deterministic on a fresh anvil, so any row costing more
 * than bench/gas-snapshot.json fails. After an intended change: `npm run bench:gas -- --update`.
 * Also checks we stay at or below the reference adjudicator measured in the same run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { measureGas } from './lib/gas.ts';

test('gas: no regression vs bench/gas-snapshot.json, and not above the reference', async () => {
  const snapshot = JSON.parse(readFileSync(new URL('../../bench/gas-snapshot.json', import.meta.url), 'utf8')) as Record<string, number>;
  const rows = await measureGas();
  for (const r of rows) {
    const s = snapshot[r.key];
    assert.ok(s !== undefined, `snapshot lacks ${r.key}`);
    assert.ok(r.ours <= s, `${r.label}: ${r.ours} gas > snapshot ${s}`);
    if (r.key !== 'erc20Approve' && r.referenceMeasured !== null) {
      assert.ok(r.ours <= r.referenceMeasured, `${r.label}: ${r.ours} gas > reference ${r.referenceMeasured}`);
    }
  }
});
