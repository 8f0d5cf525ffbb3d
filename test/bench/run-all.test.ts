/**
 * `npm run bench`'s summary stays in step with the benchmarks' results files: summarizing the
 * committed `bench/results/*.json` (no benchmark is run) yields one markdown table with rows for
 * every benchmark, each with a measured baseline or an explicit note, and a verdict where a target exists.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const RUN_ALL = fileURLToPath(new URL('../../bench/run-all.ts', import.meta.url));

it('npm run bench summarizes every results file into one table (BENCH_SKIP_RUN)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-summary-'));
  try {
    const out = join(dir, 'summary.json');
    const { stdout } = await promisify(execFile)(process.execPath, [RUN_ALL], { env: { ...process.env, BENCH_SKIP_RUN: '1', BENCH_SUMMARY_OUT: out } });
    const lines = stdout.split('\n').filter((l) => l.startsWith('|'));
    assert.equal(lines[0], '| benchmark | metric | ours | baseline (same run) | ratio | target | result |');
    const s = JSON.parse(await readFile(out, 'utf8')) as { rows: { benchmark: string; baseline: string; result: string; target: string }[]; table: string; machine: { cores: number } };
    assert.equal(s.table.split('\n').length, lines.length);
    for (const b of ['vouchers', 'stream', 'hub', 'gas']) assert.ok(s.rows.some((r) => r.benchmark === b), `a ${b} row`);
    for (const r of s.rows) {
      assert.notEqual(r.baseline, '', 'every row names its baseline (or says why there is none)');
      if (r.target !== '') assert.match(r.result, /^(PASS|MISS)$/);
    }
    assert.ok(s.machine.cores >= 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
