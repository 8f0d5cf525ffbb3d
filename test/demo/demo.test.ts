/**
 * `npm run demo` is the main job: run it for real, non-interactively (no TTY: plain lines, the
 * summary as JSON), and check what it claims; then interrupt it midway with SIGINT and check that
 * every process it started is gone and its work directory removed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const DEMO = fileURLToPath(new URL('../../scripts/demo.ts', import.meta.url));

interface Run {
  code: number | string;
  stdout: string;
  stderr: string;
}

/** Pids of live processes whose command line mentions `needle` (Linux /proc). */
function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      const state = /^\S+ \(.*\) (\S)/.exec(readFileSync(`/proc/${d}/stat`, 'utf8'))?.[1];
      if (cmd.includes(needle) && state !== 'Z') out.push(Number(d));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const state = /^\S+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
    return state !== 'Z';
  } catch {
    return false;
  }
}

function runDemo(args: string[], onStderrLine?: (line: string, child: ReturnType<typeof spawn>) => void): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [DEMO, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let buf = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        onStderrLine?.(line, child);
      }
    });
    child.on('close', (code, signal) => resolve({ code: code ?? signal ?? -1, stdout, stderr }));
  });
}

function workdirOf(text: string): string {
  const m = /work dir\s+(\S+)/.exec(text);
  assert.ok(m, `no work dir line in:\n${text}`);
  return m[1]!;
}

function pidsOf(text: string): number[] {
  return [...text.matchAll(/\(pid ([0-9]+)\)/g)].map((m) => Number(m[1]));
}

describe('npm run demo', { timeout: 300_000 }, () => {
  it('runs the main job end to end and exits 0 with a true summary, leaving nothing behind', async () => {
    const price = 1_000_000_000_000n;
    const r = await runDemo(['--json', '--size-mib', '4', '--price', price.toString(), '--window', '8']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    const s = JSON.parse(r.stdout.trim().split('\n').pop()!) as {
      ok: boolean; fileBytes: number; chunks: number; verified: boolean; paidWei: string; earnedWei: string; withdrawnWei: string;
      vouchersAccepted: number; transactions: { count: number; channelCount: number; gas: string }; endToEndMBps: number;
    };
    assert.equal(s.ok, true);
    assert.equal(s.fileBytes, 4 * 1_048_576);
    assert.equal(s.chunks, 16);
    assert.equal(s.verified, true);
    assert.equal(BigInt(s.paidWei), 16n * price);
    assert.equal(BigInt(s.earnedWei), 16n * price);
    assert.equal(BigInt(s.withdrawnWei), 16n * price, 'Bob received his earnings on chain');
    assert.ok(s.vouchersAccepted >= 1 && s.vouchersAccepted <= 16, String(s.vouchersAccepted));
    // deploy (3) + Irene's and Alice's ledger deposits + Bob's withdrawal: nothing per chunk.
    assert.ok(s.transactions.channelCount >= 2 && s.transactions.channelCount <= 6, JSON.stringify(s.transactions));
    assert.ok(BigInt(s.transactions.gas) > 0n);
    assert.ok(s.endToEndMBps > 0);
    for (const line of ['[1/8] chain', '[4/8] content', '[7/8] download', '[8/8] withdraw', 'Summary', 'on-chain txs', 'throughput']) assert.ok(r.stderr.includes(line), line);
    // no TTY: the client printed plain lines, no progress bar escape codes
    assert.match(r.stderr, /\| saved .*paid/);
    assert.ok(!r.stderr.includes('\u001b['), 'no ANSI escapes without a TTY');
    const dir = workdirOf(r.stderr);
    assert.equal(existsSync(dir), false, 'work dir removed');
    const pids = pidsOf(r.stderr);
    assert.equal(pids.length, 3, 'anvil, hub, provider');
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still running`);
    assert.deepEqual(processesMentioning(dir), []);
  });

  it('Ctrl-C (SIGINT) midway: exits 130, stops every process it started and removes its files', async () => {
    let dir: string | undefined;
    let before: number[] = [];
    let sent = false;
    const r = await runDemo(['--json', '--size-mib', '64', '--window', '2'], (line, child) => {
      if (dir === undefined && line.includes('work dir')) dir = workdirOf(line);
      // The client has just been started: chain, hub, provider and client are all running.
      if (!sent && line.includes('[7/8] download') && dir !== undefined) {
        sent = true;
        before = processesMentioning(dir);
        child.kill('SIGINT');
      }
    });
    assert.equal(sent, true, `never reached the download:\n${r.stderr}`);
    assert.equal(r.code, 130, r.stderr);
    assert.match(r.stderr, /interrupted/);
    assert.ok(before.length >= 2, `hub and provider (and the client) were running: ${before.join(',')}`);
    const pids = [...new Set([...before, ...pidsOf(r.stderr)])];
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} still running`);
    assert.deepEqual(processesMentioning(dir!), []);
    assert.equal(existsSync(dir!), false, 'work dir removed');
    assert.equal(r.stdout, '', 'no summary');
  });

  it('its output closed midway (npm run demo | head -1): stops every process it started and removes its files', async () => {
    const child = spawn(process.execPath, [DEMO, '--size-mib', '1'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let dir: string | undefined;
    let before: number[] = [];
    let closed = false;
    let buf = '';
    child.stderr.resume();
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      if (dir === undefined && buf.includes('[1/8]')) dir = workdirOf(buf); // the work dir line is complete
      // the hub has started (anvil and hub running): close our end of its stdout
      if (!closed && dir !== undefined && buf.includes('[5/8] hub')) {
        closed = true;
        before = processesMentioning(dir);
        child.stdout.destroy();
      }
    });
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    assert.equal(closed, true, 'never reached the hub step');
    assert.equal(code, 1);
    assert.ok(before.length >= 1, `the hub was running: ${before.join(',')}`);
    for (const pid of before) assert.equal(alive(pid), false, `pid ${pid} still running`);
    assert.deepEqual(processesMentioning(dir!), []);
    assert.equal(existsSync(dir!), false, 'work dir removed');
  });

  it('refuses a bad option with exit 2 and the usage text', async () => {
    const r = await runDemo(['--size-mib', 'lots']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--size-mib must be/);
    assert.match(r.stderr, /npm run demo/);
    const free = await runDemo(['--price', '0']);
    assert.equal(free.code, 2);
    assert.match(free.stderr, /--price must be a positive integer/);
  });
});
