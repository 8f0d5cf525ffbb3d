/**
 * Gas benchmark: Sluice's adjudicator vs the reference NitroAdjudicator
 * (@statechannels/nitro-protocol@2.0.1-alpha.6), measured on the same fresh anvil, next to
 * the figures recorded by go-nitro's gas benchmark.
 *
 *   npm run bench:gas              # print table, write bench/results/gas.json, diff vs snapshot
 *   npm run bench:gas -- --update  # also rewrite bench/gas-snapshot.json
 *
 * Exits 1 if any of our rows costs more than bench/gas-snapshot.json says.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureGas, type GasRow } from '../contracts/test/lib/gas.ts';

const here = dirname(fileURLToPath(import.meta.url));
const SNAPSHOT = join(here, 'gas-snapshot.json');
const RESULTS = join(here, 'results', 'gas.json');

const fmt = (n: number | null) => (n === null ? 'n/a' : n.toLocaleString('en-US'));
const ratio = (a: number, b: number | null) => (b ? (a / b).toFixed(3) : 'n/a');

function table(rows: GasRow[]): string {
  const lines = [
    '| operation | ours | reference (measured) | reference (go-nitro recorded) | ours / ref measured | ours / ref recorded |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.label} | ${fmt(r.ours)} | ${fmt(r.referenceMeasured)} | ${fmt(r.referenceRecorded)} | ${ratio(r.ours, r.referenceMeasured)} | ${ratio(r.ours, r.referenceRecorded)} |`);
    const parts = Object.keys(r.parts.ours);
    for (const p of parts) {
      lines.push(`| &nbsp;&nbsp;↳ ${p} | ${fmt(r.parts.ours[p] ?? null)} | ${fmt(r.parts.reference?.[p] ?? null)} | | ${ratio(r.parts.ours[p] ?? 0, r.parts.reference?.[p] ?? null)} | |`);
    }
  }
  return lines.join('\n');
}

const rows = await measureGas();
console.log(table(rows));
const notes = [...new Set(rows.flatMap((r) => (r.note ? [r.note] : [])))];
for (const n of notes) console.log(`\nNOTE: ${n}`);
console.log(
  '\nReference (go-nitro recorded) figures come from go-nitro packages/nitro-protocol/gas-benchmarks (hardhat, older fork);' +
    ' the measured columns run both adjudicators on this anvil with the same scenarios. ERC20 rows use our TestToken for both.',
);

mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, JSON.stringify(rows, null, 2) + '\n');

const snapshotOf = (rs: GasRow[]) => Object.fromEntries(rs.map((r) => [r.key, r.ours]));
if (process.argv.includes('--update') || !existsSync(SNAPSHOT)) {
  writeFileSync(SNAPSHOT, JSON.stringify(snapshotOf(rows), null, 2) + '\n');
  console.log(`\nwrote ${SNAPSHOT}`);
} else {
  const snap = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, number>;
  let regressed = false;
  console.log('\n| operation | snapshot | now | diff |\n|---|---:|---:|---:|');
  for (const r of rows) {
    const s = snap[r.key];
    const d = s === undefined ? null : r.ours - s;
    if (d !== null && d > 0) regressed = true;
    console.log(`| ${r.label} | ${fmt(s ?? null)} | ${fmt(r.ours)} | ${d === null ? 'new' : (d > 0 ? '+' : '') + d} |`);
  }
  if (regressed) {
    console.error('\nGAS REGRESSION vs bench/gas-snapshot.json (run with --update if intended)');
    process.exitCode = 1;
  }
}
