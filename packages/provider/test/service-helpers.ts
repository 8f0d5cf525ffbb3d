/** Fixtures for service tests: a real provider on loopback and a raw wire-level client. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { type Address, type ChannelId, bytesToHex, privateKeyToAddress, signVoucher } from '@sluice/channel-core';
import type { VoucherVerifierPool } from '@sluice/channel-core/voucher-pool';
import { FsChunkStore, type FileRecord, importFile, parseCid } from '../src/content/index.ts';
import { DevChannelRegistry, type DevChannelStatus } from '../src/dev/index.ts';
import {
  type Logger,
  LocalPayeeChannels,
  VoucherLog,
  type ProviderService,
  type ProviderServiceInit,
  createProviderService,
  openUsageStore,
  type UsageStore,
} from '../src/service/index.ts';
import { END_OF_FILE, type ProviderFrame, decodeProviderFrame, encodeFrame } from '../src/wire/index.ts';

export const BOB_KEY = '0x' + '0b'.repeat(32);
export const ALICE_KEY = '0x' + '0a'.repeat(32);
export const MALLORY_KEY = '0x' + '0c'.repeat(32);
export const BOB = privateKeyToAddress(BOB_KEY);
export const ALICE = privateKeyToAddress(ALICE_KEY);
export const MALLORY = privateKeyToAddress(MALLORY_KEY);
export const ZERO = '0x0000000000000000000000000000000000000000' as Address;

export interface Fixture {
  readonly dir: string;
  readonly registry: DevChannelRegistry;
  readonly store: FsChunkStore;
  service: ProviderService;
  channels: LocalPayeeChannels;
  usage: UsageStore;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export async function startFixture(init: Partial<ProviderServiceInit> = {}, extra: { verifier?: VoucherVerifierPool; logger?: Logger } = {}): Promise<Fixture> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-provider-'));
  const registry = new DevChannelRegistry(join(dir, 'channels'));
  const store = await FsChunkStore.open({ dir: join(dir, 'store'), fsync: false });
  const vouchers = await VoucherLog.open(join(dir, 'vouchers.log'));
  const usage = openUsageStore(join(dir, 'usage.db'));
  const channels = new LocalPayeeChannels({ address: BOB, registry, store: vouchers, ...(extra.verifier === undefined ? {} : { verifier: extra.verifier }) });
  const service = createProviderService({ pricePerChunk: 1000n, adminToken: 'secret', ...init })({ store, channels, usage, ...(extra.logger === undefined ? {} : { logger: extra.logger }) });
  await service.start();
  const f: Fixture = {
    dir,
    registry,
    store,
    service,
    channels,
    usage,
    async stop() {
      await service.stop();
      usage.close();
      await vouchers.close();
    },
    async cleanup() {
      await rm(dir, { recursive: true, force: true });
    },
  };
  return f;
}

export async function addFile(f: Fixture, size: number): Promise<{ record: FileRecord; bytes: Buffer }> {
  await mkdir(join(f.dir, 'src'), { recursive: true });
  const path = join(f.dir, 'src', `${size}-${randomBytes(4).toString('hex')}`);
  const bytes = randomBytes(size);
  await writeFile(path, bytes);
  return { record: await importFile(path, { store: f.store }), bytes };
}

export async function openChannel(
  f: Fixture,
  opts: { balance?: bigint; status?: DevChannelStatus; payee?: Address; payer?: Address } = {},
): Promise<ChannelId> {
  const channelId = bytesToHex(randomBytes(32)) as string as ChannelId;
  await f.registry.put({
    channelId,
    payer: opts.payer ?? ALICE,
    payee: opts.payee ?? BOB,
    hub: ZERO,
    asset: ZERO,
    balance: opts.balance ?? 10n ** 12n,
    status: opts.status ?? 'funded',
  });
  return channelId;
}

/** A wire-level client that records every frame and the close. */
export interface Raw {
  readonly ws: WebSocket;
  readonly frames: ProviderFrame[];
  readonly closed: Promise<{ code: number; reason: string }>;
  send(bytes: Uint8Array | string): void;
  hello(channelId: ChannelId, root: string, start?: number, end?: number): void;
  voucher(channelId: ChannelId, amount: bigint, key?: string): void;
  /** Resolves when a frame matching `pred` has arrived. */
  waitFor(pred: (f: ProviderFrame) => boolean, timeoutMs?: number): Promise<ProviderFrame>;
  chunks(): number[];
}

export async function raw(f: Fixture, headers: Record<string, string> = {}): Promise<Raw> {
  const ws = new WebSocket(f.service.url.replace(/^http/, 'ws') + '/stream', { maxPayload: 1 << 20, headers });
  const frames: ProviderFrame[] = [];
  const waiters: { pred: (f: ProviderFrame) => boolean; resolve: (f: ProviderFrame) => void }[] = [];
  ws.on('message', (data: Buffer) => {
    const fr = decodeProviderFrame(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    frames.push(fr);
    for (const w of [...waiters]) if (w.pred(fr)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(fr);
    }
  });
  const closed = new Promise<{ code: number; reason: string }>((res) => ws.on('close', (code, reason) => res({ code, reason: reason.toString() })));
  ws.on('error', () => undefined);
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  const r: Raw = {
    ws,
    frames,
    closed,
    send(bytes) {
      ws.send(bytes);
    },
    hello(channelId, root, start = 0, end = END_OF_FILE) {
      ws.send(encodeFrame({ type: 'hello', version: 1, channelId, root: parseCid(root), start, end }));
    },
    voucher(channelId, amount, key = ALICE_KEY) {
      ws.send(encodeFrame({ type: 'voucher', voucher: signVoucher(channelId, amount, key) }));
    },
    waitFor(pred, timeoutMs = 5_000) {
      const hit = frames.find(pred);
      if (hit !== undefined) return Promise.resolve(hit);
      return new Promise((res, rej) => {
        const t = setTimeout(() => rej(new Error('timed out waiting for a frame')), timeoutMs);
        waiters.push({ pred, resolve: (fr) => { clearTimeout(t); res(fr); } });
      });
    },
    chunks() {
      return frames.flatMap((x) => (x.type === 'chunk' ? [x.index] : []));
    },
  };
  return r;
}

/** Read one sample of a Prometheus metric from /metrics (0 when absent). */
export async function metric(f: Fixture, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`${f.service.url}/metrics`)).text();
  const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',');
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const l = (m[2] ?? '').slice(1, -1);
    if (want === '' ? l === '' : l === want) return Number(m[3]);
  }
  return 0;
}
