/**
 * Resume: a cancelled download and a provider *process* killed mid-download (SIGKILL, then
 * restarted on the same port and data). The client continues from the chunks verified on
 * disk, finishes byte-identical, and pays at most a window more than the file's price.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { isSluiceError } from '@sluice/channel-core';
import { download } from '../src/index.ts';
import { BOB, type Env, type RunningProvider, addRandomFile, aliceChannels, makeEnv, startProvider } from './helpers.ts';

const BIN = fileURLToPath(new URL('../../provider/bin/sluice-provider.js', import.meta.url));
const PRICE = 1000n;

function runCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((res) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.on('close', (code) => res({ code: code ?? -1, stdout, stderr }));
  });
}

async function startCli(args: string[]): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, [BIN, 'start', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const rl = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((res, rej) => {
    const t = setTimeout(() => rej(new Error('provider did not start')), 15_000);
    rl.on('line', (line) => {
      try {
        const o = JSON.parse(line) as { listening?: string };
        if (typeof o.listening === 'string') {
          clearTimeout(t);
          res(o.listening);
        }
      } catch {
        // log line
      }
    });
    child.once('exit', (code) => rej(new Error(`provider exited with ${code}`)));
  });
  return { child, url };
}

describe('resume', () => {
  let env: Env;
  before(async () => {
    env = await makeEnv();
  });
  after(async () => {
    await env.cleanup();
  });

  it('a cancelled download resumes from verified chunks on disk and finishes', async () => {
    const bob: RunningProvider = await startProvider(env, { pricePerChunk: PRICE });
    try {
      const { record, bytes } = await addRandomFile(env, 40 * 262_144 + 9);
      const out = join(env.dir, 'out', 'cancelled.bin');
      const url = `${bob.service.url}/files/${record.cid}`;
      const alice = aliceChannels(env);
      const ac = new AbortController();
      await assert.rejects(
        download({ url, output: out, channels: alice, window: 4, signal: ac.signal, onProgress: (e) => { if (e.phase === 'chunk' && e.chunksDone >= 15) ac.abort(); } }),
        (e: unknown) => isSluiceError(e, 'ABORTED'),
      );
      const r = await download({ url, output: out, channels: alice, window: 4 });
      assert.ok(r.resumedChunks >= 15, `resumed from ${r.resumedChunks}`);
      assert.deepEqual(await readFile(out), bytes);
      const ch = await alice.getChannel(r.channelId);
      const total = ch?.paid ?? 0n;
      assert.ok(total >= BigInt(record.chunks) * PRICE);
      assert.ok(total <= BigInt(record.chunks + 4) * PRICE, `paid ${total}: at most one window more than the file`);
      assert.equal((await bob.channels.getVirtualChannel(r.channelId))?.paid, total, 'provider holds exactly what the client signed');
      await alice.stop();
    } finally {
      await bob.stop();
    }
  });

  it('provider process killed (SIGKILL) mid-download and restarted: the client resumes and finishes', async () => {
    const data = join(env.dir, 'cli-provider');
    const src = join(env.dir, 'src', 'killme.bin');
    await mkdir(join(env.dir, 'src'), { recursive: true });
    const bytes = randomBytes(96 * 262_144 + 1234);
    await writeFile(src, bytes);
    const added = await runCli(['add', src, '--data', data, '--json']);
    assert.equal(added.code, 0, added.stderr);
    const [entry] = JSON.parse(added.stdout) as { cid: string; chunks: number }[];
    assert.ok(entry !== undefined);
    const args = ['--data', data, '--dev-channels', env.registry.dir, '--address', BOB, '--price', PRICE.toString(), '--log-level', 'silent'];
    let p = await startCli([...args, '--port', '0']);
    const port = new URL(p.url).port;
    const out = join(env.dir, 'out', 'killme.bin');
    const alice = aliceChannels(env, 'alice-kill');
    let killed = false;
    let restarted: Promise<void> | undefined;
    const window = 8;
    try {
      const r = await download({
        url: `${p.url}/files/${entry.cid}`,
        output: out,
        channels: alice,
        window,
        retries: 8,
        onProgress: (e) => {
          if (e.phase === 'chunk' && e.chunksDone >= 30 && !killed) {
            killed = true;
            p.child.kill('SIGKILL');
            restarted = new Promise<void>((res) => p.child.once('exit', () => res())).then(async () => {
              p = await startCli([...args, '--port', port]);
            });
          }
        },
      });
      await restarted;
      assert.ok(killed);
      assert.ok(r.sessions >= 2, `sessions: ${r.sessions}`);
      assert.deepEqual(await readFile(out), bytes);
      const total = (await alice.getChannel(r.channelId))?.paid ?? 0n;
      // Bounded both ways (ADR 0006): the provider may re-serve for free what it sent after its
      // last usage flush (≤ 8 chunks); the client may pay again for chunks lost in flight (≤ window).
      assert.ok(total >= BigInt(entry.chunks - 8) * PRICE, `paid ${total}`);
      assert.ok(total <= BigInt(entry.chunks + window) * PRICE, `paid ${total}: at most one window more than the file's ${BigInt(entry.chunks) * PRICE}`);
      // The restarted provider holds the client's best voucher (nothing earned was lost).
      const earnings = (await (await fetch(`${p.url}/metrics`)).text()).match(/sluice_provider_earnings (\d+)/)?.[1];
      assert.equal(BigInt(earnings ?? '0'), total);
    } finally {
      await alice.stop();
      await restarted;
      p.child.kill('SIGTERM');
      await new Promise((res) => p.child.once('exit', res));
    }
  });
});
