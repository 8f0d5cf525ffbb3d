/** Test fixtures: a real provider service (HTTP + ws on loopback) and a dev-channel client. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { type Address, privateKeyToAddress } from '@sluice/channel-core';
import { FsChunkStore, importFile, type FileRecord } from '@sluice/provider/content';
import { DevChannelRegistry } from '@sluice/provider/dev';
import {
  LocalPayeeChannels,
  VoucherLog,
  type ProviderService,
  type ProviderServiceInit,
  createProviderService,
  openUsageStore,
  type UsageStore,
} from '@sluice/provider/service';
import { DevPayerChannels } from '../src/index.ts';

export const BOB_KEY = '0x' + '0b'.repeat(32);
export const ALICE_KEY = '0x' + '0a'.repeat(32);
export const BOB = privateKeyToAddress(BOB_KEY);
export const ALICE = privateKeyToAddress(ALICE_KEY);

export interface Env {
  readonly dir: string;
  readonly registry: DevChannelRegistry;
  readonly store: FsChunkStore;
  cleanup(): Promise<void>;
}

export async function makeEnv(prefix = 'sluice-test-'): Promise<Env> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const registry = new DevChannelRegistry(join(dir, 'channels'));
  const store = await FsChunkStore.open({ dir: join(dir, 'provider', 'store'), fsync: false });
  return { dir, registry, store, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

export interface RunningProvider {
  readonly service: ProviderService;
  readonly channels: LocalPayeeChannels;
  readonly usage: UsageStore;
  stop(): Promise<void>;
}

export async function startProvider(env: Env, init: Partial<ProviderServiceInit> = {}, payee: Address = BOB): Promise<RunningProvider> {
  const vouchers = await VoucherLog.open(join(env.dir, 'provider', 'vouchers.log'));
  const usage = openUsageStore(join(env.dir, 'provider', 'usage.db'));
  const channels = new LocalPayeeChannels({ address: payee, registry: env.registry, store: vouchers });
  const service = createProviderService({ pricePerChunk: 1000n, adminToken: 'secret', ...init })({ store: env.store, channels, usage });
  await service.start();
  return {
    service,
    channels,
    usage,
    async stop() {
      await service.stop();
      usage.close();
      await vouchers.close();
    },
  };
}

export function aliceChannels(env: Env, name = 'alice'): DevPayerChannels {
  return new DevPayerChannels({ privateKey: ALICE_KEY, registry: env.registry, dbPath: join(env.dir, name, 'payer.db') });
}

/** Write `size` pseudo-random bytes to a file and import it into the provider's store. */
export async function addRandomFile(env: Env, size: number, name = `f-${size}.bin`): Promise<{ path: string; record: FileRecord; bytes: Buffer }> {
  const path = join(env.dir, 'src', name);
  const { mkdir } = await import('node:fs/promises');
  await mkdir(join(env.dir, 'src'), { recursive: true });
  const bytes = randomBytes(size);
  await writeFile(path, bytes);
  const record = await importFile(path, { store: env.store });
  return { path, record, bytes };
}

/**
 * A disk that needs `ms` per chunk, one write at a time, for `streamFile`'s `onChunk` and
 * `written`; `maxBacklog` is the most chunks received and not yet written, `drained()` settles
 * once every write is done.
 */
export function slowDisk(ms: number): { onChunk: () => Promise<void>; written: () => number; readonly maxBacklog: number; readonly maxGapMs: number; drained: () => Promise<void> } {
  let written = 0;
  let received = 0;
  let maxBacklog = 0;
  let maxGapMs = 0;
  let last: number | undefined;
  let chain: Promise<void> = Promise.resolve();
  return {
    onChunk: () => {
      received++;
      const now = performance.now();
      if (last !== undefined) maxGapMs = Math.max(maxGapMs, now - last);
      last = now;
      maxBacklog = Math.max(maxBacklog, received - written);
      chain = chain.then(() => new Promise<void>((res) => setTimeout(() => { written++; res(); }, ms)));
      return chain;
    },
    written: () => written,
    get maxBacklog() {
      return maxBacklog;
    },
    /** Longest time between two chunks received (how long the client stopped reading at most). */
    get maxGapMs() {
      return maxGapMs;
    },
    drained: () => chain,
  };
}
