/**
 * Where the download lands: a resume whose every chunk is verified finishes locally (F3); an
 * output that is a directory is refused before any deposit; without -o the provider's name
 * never replaces an existing file (F4); the provider's name and error text reach the
 * terminal made safe (F5).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { ZERO_ADDRESS, isSluiceError } from '@sluice/channel-core';
import { download, loadSidecar, saveSidecar } from '../src/index.ts';
import { main } from '../src/cli.ts';
import { ALICE_KEY, BOB, type Env, addRandomFile, aliceChannels, makeEnv } from './helpers.ts';
import { type FileView, fileView, honestScript, recordingChannels, scriptedProvider } from './scripted-provider.ts';

function sink(): Writable & { text: string } {
  const w = new Writable({ write(c, _e, cb) { w.text += c.toString(); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('output path', () => {
  let env: Env;
  let file: FileView;
  let bytes: Buffer;
  before(async () => {
    env = await makeEnv();
    const added = await addRandomFile(env, 3 * 262_144 + 5);
    bytes = added.bytes;
    file = await fileView(env.store, added.record.cid, added.record.size);
  });
  after(async () => {
    await env.cleanup();
  });

  /** `sluice get` of the file (free, served correctly) in `cwd`, the provider naming it `name`. */
  async function get(cwd: string, name: string, extra: string[] = []): Promise<{ code: number; stderr: string; stdout: string }> {
    const p = await scriptedProvider(file, 0n, honestScript(file, 0n, { metadata: (b) => ({ ...b, pricePerChunk: '0', name }) }));
    const stdout = sink();
    const stderr = sink();
    const old = process.cwd();
    process.chdir(cwd);
    try {
      const code = await main(['node', 'sluice', 'get', `${p.url}/files/${file.cid}`, '--key', ALICE_KEY, '--dev-channels', env.registry.dir, '--home', join(env.dir, 'home'), ...extra], { stdout, stderr });
      return { code, stderr: stderr.text, stdout: stdout.text };
    } finally {
      process.chdir(old);
      await p.close();
    }
  }

  it('F3: every chunk verified but the rename never happened: finished from disk, without connecting or paying', async () => {
    const out = join(env.dir, 'out', 'f3.bin');
    await mkdir(join(env.dir, 'out'), { recursive: true });
    const alice = aliceChannels(env, 'f3');
    const ch = await alice.ensureChannel({ payee: BOB, hub: null, asset: ZERO_ADDRESS, amount: 1000n, deposit: 1000n });
    await writeFile(`${out}.sluice-part`, bytes);
    await saveSidecar(`${out}.sluice-state`, { version: 1, cid: file.cid, size: file.size, chunks: file.leaves.length, channelId: ch.channelId, verified: file.leaves.length });
    const p = await scriptedProvider(file, 100n, honestScript(file, 100n));
    const r = await download({ url: `${p.url}/files/${file.cid}`, output: out, channels: alice });
    assert.equal(p.sessions(), 0, 'no session');
    assert.equal(r.paid, 0n);
    assert.equal(r.sessions, 0);
    assert.deepEqual(await readFile(out), bytes);
    assert.equal(await loadSidecar(`${out}.sluice-state`), undefined);

    // the same state with a bad last chunk on disk: a session from the last chunk re-verifies and repairs
    const out2 = join(env.dir, 'out', 'f3-bad.bin');
    const bad = Buffer.from(bytes);
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
    bad[1] = (bad[1] ?? 0) ^ 1; // and the first
    await writeFile(`${out2}.sluice-part`, bad);
    await saveSidecar(`${out2}.sluice-state`, { version: 1, cid: file.cid, size: file.size, chunks: file.leaves.length, channelId: ch.channelId, verified: file.leaves.length });
    const r2 = await download({ url: `${p.url}/files/${file.cid}`, output: out2, channels: alice });
    await p.close();
    await alice.stop();
    assert.deepEqual(await readFile(out2), bytes);
    assert.ok(r2.sessions >= 1);
  });

  it('an output that is a directory is refused before any channel is opened (with or without -o)', async () => {
    const p = await scriptedProvider(file, 100n, honestScript(file, 100n, { metadata: (b) => ({ ...b, name: 'adir' }) }));
    const alice = aliceChannels(env, 'dir');
    const channels = recordingChannels(alice);
    const dir = join(env.dir, 'out', 'a-directory');
    await mkdir(dir, { recursive: true });
    const e = await download({ url: `${p.url}/files/${file.cid}`, output: dir, channels }).then(() => undefined, (x: unknown) => x);
    assert.ok(isSluiceError(e, 'INVALID_ARGUMENT'), String(e));
    assert.match(e.message, /is a directory/);
    const cwd = join(env.dir, 'cwd-dir');
    await mkdir(join(cwd, 'adir'), { recursive: true });
    const old = process.cwd();
    process.chdir(cwd);
    const e2 = await download({ url: `${p.url}/files/${file.cid}`, channels }).then(() => undefined, (x: unknown) => x).finally(() => process.chdir(old));
    assert.ok(isSluiceError(e2, 'INVALID_ARGUMENT'), String(e2));
    assert.equal(channels.ensured.length, 0);
    await alice.stop();
    await p.close();
  });

  it('F4: without -o an existing file is never replaced (exit 2, names -o); -o replaces it; resume without -o still works', async () => {
    const cwd = join(env.dir, 'project');
    await mkdir(cwd, { recursive: true });
    await writeFile(join(cwd, 'Makefile'), 'all:\n\techo my build\n');
    const refused = await get(cwd, 'Makefile');
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /Makefile exists already.*-o/);
    assert.equal(await readFile(join(cwd, 'Makefile'), 'utf8'), 'all:\n\techo my build\n');

    const replaced = await get(cwd, 'Makefile', ['-o', 'Makefile', '-q']);
    assert.equal(replaced.code, 0, replaced.stderr);
    assert.deepEqual(await readFile(join(cwd, 'Makefile')), bytes);

    // an interrupted download of the same CID under the provider's name resumes
    await writeFile(join(cwd, 'data.bin.sluice-part'), bytes.subarray(0, 262_144));
    const alice = aliceChannels(env, 'f4');
    const ch = await alice.ensureChannel({ payee: BOB, hub: null, asset: ZERO_ADDRESS, amount: 0n, deposit: 0n });
    await alice.stop();
    await saveSidecar(join(cwd, 'data.bin.sluice-state'), { version: 1, cid: file.cid, size: file.size, chunks: file.leaves.length, channelId: ch.channelId, verified: 1 });
    const resumed = await get(cwd, 'data.bin');
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.match(resumed.stderr, /resuming: 1 chunk/);
    assert.deepEqual(await readFile(join(cwd, 'data.bin')), bytes);
  });

  it('F5: the provider\'s name and error text reach the terminal without control or bidi characters', async () => {
    const cwd = join(env.dir, 'term');
    await mkdir(cwd, { recursive: true });
    const r = await get(cwd, '\u001b]0;owned\u0007\u001b[2Jsaved /etc/passwd\u202e\u001b[8m');
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e]/, JSON.stringify(r.stderr));

    const p = await scriptedProvider(file, 0n, {
      metadata: (b) => ({ ...b, pricePerChunk: '0' }),
      onFrame(s, f) {
        if (f.type === 'hello') s.send({ type: 'error', code: 'CONTENT_NOT_FOUND', wireCode: 4200, message: '\u001b[2K\r\u001b[32msaved x.bin (all good)\u202e' });
      },
    });
    for (const json of [false, true]) {
      const stdout = sink();
      const stderr = sink();
      const code = await main(['node', 'sluice', 'get', `${p.url}/files/${file.cid}`, '-o', join(env.dir, 'out', 'f5.bin'), '-q', '--key', ALICE_KEY, '--dev-channels', env.registry.dir, '--home', join(env.dir, 'home'), ...(json ? ['--json'] : [])], { stdout, stderr });
      assert.equal(code, 6);
      const text = json ? (JSON.parse(stdout.text) as { error: { message: string } }).error.message : stderr.text;
      assert.match(text, /saved x\.bin/);
      assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u202e]/, JSON.stringify(text));
    }
    await p.close();
  });
});
