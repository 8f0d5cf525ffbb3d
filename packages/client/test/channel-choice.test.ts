/**
 * Channel choices the provider's metadata drives: a resumed download reuses its channel only
 * when payee and asset still match (F8); the asset is the user's choice (`asset`, `--asset`),
 * a provider asking for another is refused before anything is deposited (F9).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { type Address, isSluiceError, privateKeyToAddress } from '@sluice/channel-core';
import { FsChunkStore, importFile } from '@sluice/provider/content';
import { DevPayerChannels, download, loadSidecar } from '../src/index.ts';
import { main } from '../src/cli.ts';
import { ALICE_KEY, type Env, addRandomFile, makeEnv, startProvider } from './helpers.ts';
import { fileView, honestScript, recordingChannels, scriptedProvider } from './scripted-provider.ts';

const WBTC = '0x2260FAC5E5542a773Aa44fBCfeDf7C193bc2C599' as Address;

function sink(): Writable & { text: string } {
  const w = new Writable({ write(c, _e, cb) { w.text += c.toString(); cb(); } }) as Writable & { text: string };
  w.text = '';
  return w;
}

describe('channel choices', () => {
  let env: Env;
  before(async () => {
    env = await makeEnv();
  });
  after(async () => {
    await env.cleanup();
  });

  it('F8: the same file resumed from another provider gets a channel to that provider (the old one pays Bob)', async () => {
    const { path, record, bytes } = await addRandomFile(env, 40 * 262_144);
    const bob = await startProvider(env, { pricePerChunk: 10n });
    const dir2 = await mkdtemp(join(tmpdir(), 'sluice-carol-'));
    const store2 = await FsChunkStore.open({ dir: join(dir2, 'provider', 'store'), fsync: false });
    await importFile(path, { store: store2 });
    const carol = await startProvider({ dir: dir2, registry: env.registry, store: store2, cleanup: () => rm(dir2, { recursive: true, force: true }) }, { pricePerChunk: 10n }, privateKeyToAddress('0x' + '0c'.repeat(32)));
    const alice = new DevPayerChannels({ privateKey: randomBytes(32), registry: env.registry, dbPath: join(env.dir, 'f8.db') });
    const out = join(env.dir, 'out', 'f8.bin');
    const ac = new AbortController();
    await download({
      url: `${bob.service.url}/files/${record.cid}`, output: out, channels: alice, window: 4, signal: ac.signal,
      onProgress: (p) => { if (p.phase === 'chunk' && p.chunksDone >= 36) ac.abort(); },
    }).catch(() => undefined);
    await bob.stop();
    const bobChannel = (await loadSidecar(`${out}.sluice-state`))!.channelId;
    let reused: boolean | undefined;
    const r = await download({
      url: `${carol.service.url}/files/${record.cid}`, output: out, channels: alice, window: 4,
      onProgress: (p) => { if (p.phase === 'channel') reused = p.reused; },
    });
    await carol.stop();
    await alice.stop();
    await rm(dir2, { recursive: true, force: true });
    assert.equal(reused, false);
    assert.notEqual(r.channelId, bobChannel);
    assert.ok(r.resumedChunks >= 32, `resumed from ${r.resumedChunks}`);
    assert.deepEqual(await readFile(out), bytes);
  });

  it('F9: a provider asking for another asset than ours is refused before any deposit; asset: pins it', async () => {
    const { record } = await addRandomFile(env, 3 * 262_144);
    const file = await fileView(env.store, record.cid, record.size);
    const p = await scriptedProvider(file, 10n, honestScript(file, 10n, { metadata: (b) => ({ ...b, asset: WBTC }) }));
    const alice = new DevPayerChannels({ privateKey: randomBytes(32), registry: env.registry, dbPath: join(env.dir, 'f9.db') });
    const channels = recordingChannels(alice);
    const url = `${p.url}/files/${file.cid}`;
    const e = await download({ url, output: join(env.dir, 'out', 'f9.bin'), channels }).then(() => undefined, (x: unknown) => x);
    assert.ok(isSluiceError(e, 'INVALID_ARGUMENT'), String(e));
    assert.match(e.message, new RegExp(`--asset ${WBTC}`));
    assert.equal(channels.ensured.length, 0, 'nothing deposited');
    const ok = await download({ url, output: join(env.dir, 'out', 'f9.bin'), channels, asset: WBTC });
    assert.equal(ok.paid, 30n);
    assert.equal(channels.ensured[0]?.asset, WBTC);

    // the CLI: --asset (and SLUICE_ASSET), default ETH; shown in --help
    const run = async (args: string[], env2: Record<string, string> = {}): Promise<{ code: number; stderr: string; stdout: string }> => {
      const saved = { ...process.env };
      Object.assign(process.env, env2);
      const stdout = sink();
      const stderr = sink();
      try {
        const code = await main(['node', 'sluice', ...args], { stdout, stderr });
        return { code, stderr: stderr.text, stdout: stdout.text };
      } finally {
        for (const k of Object.keys(env2)) if (saved[k] === undefined) delete process.env[k];
      }
    };
    const common = [url, '-q', '--key', ALICE_KEY, '--dev-channels', env.registry.dir, '--home', join(env.dir, 'home')];
    const refused = await run(['get', ...common, '-o', join(env.dir, 'out', 'f9-cli.bin')]);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--asset 0x2260/);
    const pinned = await run(['get', ...common, '-o', join(env.dir, 'out', 'f9-cli.bin'), '--asset', WBTC.toLowerCase()]);
    assert.equal(pinned.code, 0, pinned.stderr);
    const viaEnv = await run(['get', ...common, '-o', join(env.dir, 'out', 'f9-env.bin')], { SLUICE_ASSET: WBTC });
    assert.equal(viaEnv.code, 0, viaEnv.stderr);
    assert.equal((await run(['get', ...common, '--asset', 'eth'])).code, 2);
    const help = await run(['get', '--help']);
    assert.match(help.stdout, /--asset <address>/);
    assert.match(help.stdout, /SLUICE_ASSET/);
    await alice.stop();
    await p.close();
  });
});
