/**
 * An objective stalled on a peer that stays away is reported each objective timeout (the event,
 * and its messages re-sent), but logged at warn only on its 1st, 2nd, 4th, 8th… stall: a hub with
 * dozens of objectives on an absent client logged thousands of warnings a minute (bench:chaos).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADDR, until, world } from './harness.ts';

test('a long stall is an event every timeout, a warning on the 1st, 2nd, 4th, 8th… time', async () => {
  const lines: { level: string; msg: string; fields: Record<string, unknown> }[] = [];
  const logger = {
    debug: (fields: object, msg: string) => void lines.push({ level: 'debug', msg, fields: fields as Record<string, unknown> }),
    info: (fields: object, msg: string) => void lines.push({ level: 'info', msg, fields: fields as Record<string, unknown> }),
    warn: (fields: object, msg: string) => void lines.push({ level: 'warn', msg, fields: fields as Record<string, unknown> }),
    error: (fields: object, msg: string) => void lines.push({ level: 'error', msg, fields: fields as Record<string, unknown> }),
  };
  const w = await world({ minDelayMs: 0, maxDelayMs: 3, seed: 3 }, { alice: { objectiveTimeoutMs: 40 } }, {}, {}, { alice: logger });
  try {
    const { alice, irene } = w.nodes;
    await irene.stop(); // the hub is away
    const opening = alice.createLedgerChannel({ counterparty: ADDR.irene, deposit: 100n }, { timeoutMs: 30_000 }).catch(() => {});
    const stalls = () => w.events.alice.filter((e) => e.type === 'objectiveStalled').length;
    await until(() => stalls() >= 10, 'ten stalls', 10_000);
    const logged = lines.filter((l) => l.msg === 'objective stalled');
    const n = Math.max(...logged.map((l) => l.fields['stalls'] as number));
    assert.ok(n >= 10, `${n} stalls logged`);
    assert.deepEqual(logged.filter((l) => l.level === 'warn').map((l) => l.fields['stalls']), [1, 2, 4, 8, ...(n >= 16 ? [16] : [])]);
    assert.equal(logged.filter((l) => l.level === 'debug').length, n - logged.filter((l) => l.level === 'warn').length);
    void opening;
  } finally {
    await w.stop();
  }
});
