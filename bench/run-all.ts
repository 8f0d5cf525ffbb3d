/**
 * `npm run bench` — run the vouchers, stream, hub and gas benchmarks one after another (each is
 * also runnable alone: `npm run bench:<name>`), then print ONE markdown table built from
 * `bench/results/*.json` — benchmark, metric, ours, the baseline measured in the same run, the
 * ratio, the target and PASS/MISS — and write it with the machine it ran on to
 * `bench/results/summary.json`.
 *
 * Each benchmark's own output is captured and shown only if it fails. Knobs (environment):
 *   BENCH_ONLY=vouchers,gas   run only these (the table still covers every results file present)
 *   BENCH_SKIP_RUN=1          run nothing, summarize the existing results files
 *   BENCH_SUMMARY_OUT=<file>  write the summary there instead of bench/results/summary.json
 *   BENCH_QUICK=1             shorter runs (stream 64 MiB × 3, hub 30 opens / 5 s, file store only);
 *                             explicit BENCH_STREAM_* / HUB_BENCH_* variables still win
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, platform, arch } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const RESULTS = join(HERE, 'results');
const BENCHES = ['vouchers', 'stream', 'hub', 'gas'] as const;
type Bench = (typeof BENCHES)[number];

export interface Row {
  readonly benchmark: Bench;
  readonly metric: string;
  readonly ours: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly target: string;
  readonly result: 'PASS' | 'MISS' | '';
}

const QUICK_ENV: Record<string, string> = {
  BENCH_STREAM_MIB: '64',
  BENCH_STREAM_REPS: '3',
  HUB_BENCH_N: '30',
  HUB_BENCH_SECONDS: '5',
  HUB_BENCH_STORES: 'file',
};

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function readJson(name: Bench): unknown {
  const p = join(RESULTS, `${name}.json`);
  if (!existsSync(p)) return undefined;
  try {
    return JSON.parse(readFileSync(p, 'utf8')) as unknown;
  } catch {
    return undefined;
  }
}

type J = Record<string, unknown>;
const obj = (x: unknown): J => (typeof x === 'object' && x !== null ? (x as J) : {});
const num = (x: unknown): number | undefined => (typeof x === 'number' && Number.isFinite(x) ? x : undefined);

/** Rows of the vouchers benchmark: sign/verify vs ethers v6, verify vs raw libsecp256k1, the worker pool. */
export function voucherRows(data: unknown): Row[] {
  const d = obj(data);
  const r = obj(d['results']);
  const ops = (k: string): number | undefined => num(obj(r[k])['opsPerSec']);
  const targets = Array.isArray(d['targets']) ? (d['targets'] as J[]) : [];
  const target = (prefix: string): { goal: string; result: Row['result'] } => {
    const t = targets.find((x) => String(x['name']).startsWith(prefix));
    return t === undefined ? { goal: '', result: '' } : { goal: String(t['goal']), result: t['result'] === 'PASS' ? 'PASS' : 'MISS' };
  };
  const row = (metric: string, ours: number | undefined, base: number | undefined, baseName: string, t: { goal: string; result: Row['result'] }): Row | undefined =>
    ours === undefined
      ? undefined
      : {
          benchmark: 'vouchers',
          metric,
          ours: `${fmt(ours)} /s`,
          baseline: base === undefined ? '—' : `${fmt(base)} /s (${baseName})`,
          ratio: base === undefined ? '—' : `${fmt(ours / base, 2)}×`,
          target: t.goal,
          result: t.result,
        };
  return [
    row('voucher sign, 1 core', ops('sign'), ops('ethersSign'), 'ethers v6', target('sign rate')),
    row('voucher verify, 1 core', ops('verify'), ops('ethersVerify'), 'ethers v6', target('full verify vs ethers')),
    row('voucher verify vs raw libsecp256k1 verify', ops('verify'), ops('rawVerify'), 'raw ecdsaVerify', target('full verify vs raw')),
    // Strict verification must recover (v is the parity of R.y, which ecdsa_verify never checks):
    // raw recover is its real ceiling (ADR 0002). Informational, no target.
    row('voucher verify vs raw libsecp256k1 recover (the strict ceiling)', ops('verify'), ops('rawRecover'), 'raw ecdsaRecover', { goal: '', result: '' }),
    row('voucher verify, pool of 2 workers', ops('pool2'), ops('verify'), 'one core', target('pool, 2 workers')),
  ].filter((x): x is Row => x !== undefined);
}

/** Rows of the stream benchmark: paid MB/s per window against unpaid in the same run. */
export function streamRows(data: unknown): Row[] {
  const d = obj(data);
  const rows = Array.isArray(d['rows']) ? (d['rows'] as J[]) : [];
  const unpaid = rows.find((x) => x['window'] === null || x['window'] === undefined);
  const base = num(unpaid?.['mbPerSec']);
  const out: Row[] = [];
  for (const x of rows) {
    if (x === unpaid) continue;
    const mb = num(x['mbPerSec']);
    if (mb === undefined) continue;
    const isDefault = String(x['name']).includes('default');
    const ratio = base === undefined ? undefined : mb / base;
    out.push({
      benchmark: 'stream',
      metric: `paid stream, window ${String(x['window'])}${isDefault ? ' (default)' : ''}, ${String(d['fileMiB'] ?? '?')} MiB`,
      ours: `${fmt(mb)} MB/s`,
      baseline: base === undefined ? '—' : `${fmt(base)} MB/s (unpaid)`,
      ratio: ratio === undefined ? '—' : `${fmt(ratio * 100, 1)} %`,
      target: isDefault ? '≥ 90 % of unpaid' : '',
      result: isDefault && ratio !== undefined ? (ratio >= 0.9 ? 'PASS' : 'MISS') : '',
    });
  }
  return out;
}

/** Rows of the hub benchmark: 1-client open latency and 50-client opens/s (file store; :memory: as the baseline when measured). */
export function hubRows(data: unknown): Row[] {
  const d = obj(data);
  const results = Array.isArray(d['results']) ? (d['results'] as J[]) : [];
  const targets = obj(d['targets']);
  const file = results.find((x) => x['stores'] === 'file') ?? results[0];
  if (file === undefined) return [];
  const mem = results.find((x) => x['stores'] === 'memory' && x !== file);
  const p50 = (x: J | undefined): number | undefined => num(obj(obj(obj(x?.['sequential'])['openMs']))['p50']);
  const p99 = (x: J | undefined): number | undefined => num(obj(obj(obj(x?.['sequential'])['openMs']))['p99']);
  const rate = (x: J | undefined): number | undefined => num(obj(x?.['throughput'])['opensPerSec']);
  const clients = num(obj(d['config'])['clients']) ?? 50;
  const out: Row[] = [];
  const tP50 = num(targets['openP50Ms']);
  const tRate = num(targets['opensPerSec']);
  const f50 = p50(file);
  if (f50 !== undefined) {
    const m = p50(mem);
    out.push({
      benchmark: 'hub',
      metric: `virtual channel open, 1 client, p50 (p99 ${fmt(p99(file) ?? NaN)} ms)`,
      ours: `${fmt(f50, 1)} ms`,
      baseline: m === undefined ? 'go-nitro ≈ 6 ms in-process (quoted, not measured)' : `${fmt(m, 1)} ms (:memory: stores)`,
      ratio: m === undefined ? '—' : `${fmt(f50 / m, 2)}×`,
      target: tP50 === undefined ? '' : `≤ ${tP50} ms`,
      result: tP50 === undefined ? '' : f50 <= tP50 ? 'PASS' : 'MISS',
    });
  }
  const fr = rate(file);
  if (fr !== undefined) {
    const m = rate(mem);
    out.push({
      benchmark: 'hub',
      metric: `opens/s, ${clients} concurrent clients (open + close)`,
      ours: `${fmt(fr, 1)} /s`,
      baseline: m === undefined ? '—' : `${fmt(m, 1)} /s (:memory: stores)`,
      ratio: m === undefined ? '—' : `${fmt(fr / m, 2)}×`,
      target: tRate === undefined ? '' : `≥ ${tRate} /s`,
      result: tRate === undefined ? '' : fr >= tRate ? 'PASS' : 'MISS',
    });
  }
  const hubMs = num(obj(file['throughput'])['hubCpuMsPerCycle']);
  if (hubMs !== undefined) {
    const m = num(obj(mem?.['throughput'])['hubCpuMsPerCycle']);
    out.push({
      benchmark: 'hub',
      metric: 'hub CPU per open + close under that load (→ open+close cycles/s on one core)',
      ours: `${fmt(hubMs, 1)} ms (→ ${fmt(1000 / hubMs, 0)} /s)`,
      baseline: m === undefined ? '—' : `${fmt(m, 1)} ms (:memory: stores)`,
      ratio: m === undefined ? '—' : `${fmt(hubMs / m, 2)}×`,
      target: '',
      result: '',
    });
  }
  return out;
}

/** Rows of the gas benchmark: ours vs the reference adjudicator deployed on the same chain. */
export function gasRows(data: unknown): Row[] {
  const rows = Array.isArray(data) ? (data as J[]) : [];
  const out: Row[] = [];
  for (const x of rows) {
    const ours = num(x['ours']);
    const ref = num(x['referenceMeasured']);
    if (ours === undefined) continue;
    const isRefOnly = String(x['key']) === 'erc20Approve'; // the token's own approve, not our contract
    out.push({
      benchmark: 'gas',
      metric: String(x['label'] ?? x['key']),
      ours: `${fmt(ours)} gas`,
      baseline: ref === undefined ? '—' : `${fmt(ref)} gas (nitro-protocol reference)`,
      ratio: ref === undefined ? '—' : `${fmt(ours / ref, 3)}×`,
      target: isRefOnly ? '' : '≤ reference',
      result: isRefOnly || ref === undefined ? '' : ours <= ref ? 'PASS' : 'MISS',
    });
  }
  return out;
}

/** Every row from whatever results files exist. */
export function summarize(read: (b: Bench) => unknown = readJson): Row[] {
  return [...voucherRows(read('vouchers')), ...streamRows(read('stream')), ...hubRows(read('hub')), ...gasRows(read('gas'))];
}

/** The rows as one markdown table. */
export function markdown(rows: readonly Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines = ['| benchmark | metric | ours | baseline (same run) | ratio | target | result |', '|---|---|---:|---:|---:|---|---|'];
  for (const r of rows) lines.push(`| ${r.benchmark} | ${esc(r.metric)} | ${esc(r.ours)} | ${esc(r.baseline)} | ${r.ratio} | ${esc(r.target)} | ${r.result === '' ? '' : `**${r.result}**`} |`);
  return lines.join('\n');
}

function runOne(name: Bench, env: NodeJS.ProcessEnv): Promise<{ code: number; seconds: number; output: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(HERE, `${name}.ts`)], { stdio: ['ignore', 'pipe', 'pipe'], env });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const onSig = (): void => {
      child.kill('SIGINT');
    };
    process.once('SIGINT', onSig);
    child.on('close', (code) => {
      process.off('SIGINT', onSig);
      resolve({ code: code ?? 1, seconds: (performance.now() - t0) / 1000, output });
    });
  });
}

async function main(): Promise<number> {
  const only = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const toRun = process.env['BENCH_SKIP_RUN'] === '1' ? [] : BENCHES.filter((b) => only === undefined || only.includes(b));
  const env: NodeJS.ProcessEnv = process.env['BENCH_QUICK'] === '1' ? { ...QUICK_ENV, ...process.env } : { ...process.env };
  const ran: { name: Bench; seconds: number; ok: boolean }[] = [];
  let failed = false;
  const t0 = performance.now();
  const loadBefore = loadavg().map((x) => Number(x.toFixed(2)));
  for (const name of toRun) {
    process.stderr.write(`bench: ${name} ... `);
    const r = await runOne(name, env);
    ran.push({ name, seconds: Number(r.seconds.toFixed(1)), ok: r.code === 0 });
    if (r.code === 0) process.stderr.write(`done in ${r.seconds.toFixed(0)} s\n`);
    else {
      failed = true;
      process.stderr.write(`FAILED (exit ${r.code}) after ${r.seconds.toFixed(0)} s:\n${r.output.split('\n').slice(-30).join('\n')}\n`);
    }
  }
  const rows = summarize();
  const table = markdown(rows);
  const cpu = cpus();
  const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, node: process.version, platform: platform(), arch: arch(), loadavgBefore: loadBefore, loadavgAfter: loadavg().map((x) => Number(x.toFixed(2))) };
  const sources: Record<string, string | null> = {};
  for (const b of BENCHES) {
    const d = obj(readJson(b));
    sources[b] = typeof d['date'] === 'string' ? d['date'] : existsSync(join(RESULTS, `${b}.json`)) ? 'present (undated)' : null;
  }
  const summary = {
    date: new Date().toISOString(),
    machine,
    quick: process.env['BENCH_QUICK'] === '1',
    ran,
    seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    sources,
    pass: rows.filter((r) => r.result === 'PASS').length,
    miss: rows.filter((r) => r.result === 'MISS').length,
    rows,
    table,
  };
  const out = process.env['BENCH_SUMMARY_OUT'] ?? join(RESULTS, 'summary.json');
  writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`${table}\n\n`);
  process.stdout.write(`${summary.pass} PASS, ${summary.miss} MISS — ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}/${machine.arch}, load average ${machine.loadavgBefore[0]} before / ${machine.loadavgAfter[0]} after; ${summary.seconds} s${summary.quick ? ' (BENCH_QUICK)' : ''}. Written to ${out}\n`);
  return failed ? 1 : 0;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) process.exitCode = await main();
