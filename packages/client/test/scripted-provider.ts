/**
 * A scriptable provider for hostile-provider tests: real HTTP (metadata) and WebSocket
 * (sessions) on loopback, each frame handled by a script. `honestScript` serves a file
 * correctly; tests override the metadata or the session to inject one fault.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { CHUNK_SIZE, type ChunkStore, parseCid, resolveFromStore, type LeafRange, type CID } from '@sluice/provider/content';
import { type ClientFrame, decodeClientFrame, encodeFrame } from '@sluice/provider/wire';
import type { EnsureChannelRequest, PayerChannels } from '../src/index.ts';
import { BOB, type Env, addRandomFile, makeEnv } from './helpers.ts';

export interface FileView {
  readonly cid: string;
  readonly size: number;
  readonly leaves: readonly LeafRange[];
  readonly interior: readonly CID[];
  readonly blocks: ReadonlyMap<string, Uint8Array>;
  chunk(i: number): Promise<Uint8Array>;
}

export async function fileView(store: ChunkStore, cid: string, size: number): Promise<FileView> {
  const f = await resolveFromStore(store, parseCid(cid), { size });
  return {
    cid, size, leaves: f.leaves, interior: f.interior, blocks: f.blocks,
    chunk: async (i) => Uint8Array.from((await store.getBlock(f.leaves[i]!.cid)) ?? []),
  };
}

/** A test environment holding one random file of `chunks` chunks, and that file's view. */
export async function envWithFile(chunks: number): Promise<{ env: Env; file: FileView }> {
  const env = await makeEnv();
  const { record } = await addRandomFile(env, chunks * CHUNK_SIZE);
  return { env, file: await fileView(env.store, record.cid, record.size) };
}

export interface Session {
  readonly ws: WebSocket;
  readonly n: number;
  send(f: Parameters<typeof encodeFrame>[0]): void;
  ready(opts: { start: number; price: bigint; baseline: bigint }): void;
}

export interface Script {
  metadata?: (base: Record<string, unknown>) => unknown;
  rawMetadata?: (res: import('node:http').ServerResponse) => void;
  onFrame(s: Session, f: ClientFrame): void | Promise<void>;
}

export async function scriptedProvider(file: FileView, price: bigint, script: Script): Promise<{ url: string; sessions: () => number; close(): Promise<void> }> {
  let sessions = 0;
  const server: Server = createServer((_req, res) => {
    if (script.rawMetadata !== undefined) return script.rawMetadata(res);
    const a = server.address() as AddressInfo;
    const base = {
      cid: file.cid, name: 'x.bin', size: file.size, chunkSize: CHUNK_SIZE, chunks: file.leaves.length, pricePerChunk: price.toString(),
      asset: '0x0000000000000000000000000000000000000000', payee: BOB, hub: { address: null, multiaddrs: [] },
      ws: `ws://127.0.0.1:${a.port}/stream`,
    };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(script.metadata ? script.metadata(base) : base));
  });
  const wss = new WebSocketServer({ server });
  wss.on('connection', (ws) => {
    const n = sessions++;
    const s: Session = {
      ws, n,
      send: (f) => { if (ws.readyState === ws.OPEN) ws.send(encodeFrame(f)); },
      ready: ({ start, price: p, baseline }) => {
        s.send({ type: 'ready', start, end: file.leaves.length, chunkCount: file.leaves.length, interiorBlocks: file.interior.length, fileSize: file.size, pricePerChunk: p, baseline });
        for (const c of file.interior) s.send({ type: 'block', cid: c, data: Uint8Array.from(file.blocks.get(c.toString()) ?? []) });
      },
    };
    let chain: Promise<void> = Promise.resolve();
    ws.on('message', (data: Buffer) => {
      chain = chain.then(() => script.onFrame(s, decodeClientFrame(new Uint8Array(data)))).catch(() => ws.terminate());
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', () => res()));
  const a = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${a.port}`,
    sessions: () => sessions,
    async close() {
      for (const c of wss.clients) c.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}

/** An honest session: READY with the given terms, then chunks as paid. */
export function honestScript(file: FileView, price: bigint, extra: Partial<Script> = {}): Script {
  return {
    ...extra,
    async onFrame(s, f) {
      const st = s as Session & { next?: number; start?: number };
      if (f.type === 'hello') {
        st.start = f.start; st.next = f.start;
        s.ready({ start: f.start, price, baseline: 0n });
        if (price === 0n) while (st.next! < file.leaves.length) { const i = st.next!++; s.send({ type: 'chunk', index: i, data: await file.chunk(i) }); }
        return;
      }
      if (f.type === 'voucher') {
        const upTo = Math.min(file.leaves.length, st.start! + (price === 0n ? file.leaves.length : Number(f.voucher.amount / price)));
        s.send({ type: 'ack', paidEnd: upTo, amount: f.voucher.amount });
        while (st.next! < upTo) { const i = st.next!++; s.send({ type: 'chunk', index: i, data: await file.chunk(i) }); }
      }
    },
  };
}

/** A payer port that records every `ensureChannel` request (what would be deposited) and forwards all calls. */
export function recordingChannels(inner: PayerChannels): PayerChannels & { readonly ensured: EnsureChannelRequest[] } {
  const ensured: EnsureChannelRequest[] = [];
  return {
    ensured,
    address: inner.address,
    ensureChannel: (r) => {
      ensured.push(r);
      return inner.ensureChannel(r);
    },
    getChannel: (id) => inner.getChannel(id),
    pay: (id, n) => inner.pay(id, n),
    lastVoucher: (id) => inner.lastVoucher(id),
    close: (id) => inner.close(id),
    stop: async () => inner.stop?.(),
  };
}
