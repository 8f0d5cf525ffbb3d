/**
 * `download()` — fetch a file by content identifier from a provider, paying per chunk on
 * a virtual channel and verifying every byte; resumable.
 */
import { createReadStream } from 'node:fs';
import { link, mkdir, open, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, resolve as resolvePath } from 'node:path';
import { type Address, type ChannelId, SluiceError, ZERO_ADDRESS, isSluiceError, sameAddress } from '@sluice/channel-core';
import { CHUNK_SIZE, type ChunkStore, type LeafRange, importStream, parseCid, verifyLeaf } from '@sluice/provider/content';
import type { PayerChannelView, PayerChannels } from './channels.ts';
import { type FileMetadata, type Source, fetchMetadata, metadataUrl } from './metadata.ts';
import { type SidecarState, loadSidecar, removeSidecar, saveSidecar } from './sidecar.ts';
import { streamFile } from './stream.ts';

/** Progress events, rendered by the CLI. */
export type DownloadProgress =
  | { readonly phase: 'metadata'; readonly meta: FileMetadata }
  | { readonly phase: 'channel'; readonly channelId: ChannelId; readonly reused: boolean; readonly balance: bigint; readonly paid: bigint }
  | { readonly phase: 'resume'; readonly verifiedChunks: number }
  | {
      readonly phase: 'chunk';
      readonly chunksDone: number;
      readonly chunksTotal: number;
      readonly bytesDone: number;
      readonly bytesTotal: number;
      /** Paid during this download (all sessions). */
      readonly paid: bigint;
    }
  | { readonly phase: 'retry'; readonly attempt: number; readonly error: SluiceError; readonly delayMs: number }
  | { readonly phase: 'done' };

export type DownloadOptions = Source & {
  /**
   * Output path, replaced if it exists (default: the provider's name for the file, made safe, in
   * the current directory; then an existing file is never replaced). A directory is refused.
   */
  readonly output?: string;
  readonly channels: PayerChannels;
  /**
   * The asset we agree to pay in (default the zero address: ETH). A provider asking for another
   * is refused (INVALID_ARGUMENT) before anything is deposited: prices and budgets are in this
   * asset's base units.
   */
  readonly asset?: Address;
  /** The source's metadata, when the caller fetched it already (checked against the source's CID). */
  readonly metadata?: FileMetadata;
  /** Refuse providers asking more per chunk (base units). */
  readonly maxPricePerChunk?: bigint;
  /** Prepaid window in chunks. Default 32. */
  readonly window?: number;
  /** Pay in steps of this many chunks (default max(1, window / 4)). */
  readonly payStep?: number;
  /** Most that may be locked in a new channel (base units). */
  readonly budget?: bigint;
  /** Extra locked in a new channel beyond the file's price, as a fraction (default 0.1). */
  readonly margin?: number;
  /** Close the virtual channel at the end (default false: keep it for reuse). */
  readonly closeChannel?: boolean;
  /** Reconnect this many times after a lost connection, resuming (default 5). */
  readonly retries?: number;
  /** Provider silent this long while we wait: PEER_TIMEOUT (default 30 s). */
  readonly stallTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: DownloadProgress) => void;
};

export interface DownloadResult {
  readonly cid: string;
  readonly output: string;
  readonly size: number;
  readonly chunks: number;
  readonly channelId: ChannelId;
  /** Paid during this call. */
  readonly paid: bigint;
  readonly pricePerChunk: bigint;
  /** Chunks found verified on disk from an earlier attempt. */
  readonly resumedChunks: number;
  /** Downloaded and paid for by an earlier run (whose `--close` failed): nothing fetched or paid now, the file not checked again. */
  readonly alreadyComplete?: true;
  readonly sessions: number;
  readonly elapsedMs: number;
}

// CHANNEL_NOT_FUNDED: our side of the virtual fund completed before the provider's (a provider
// older than its funding grace period answers that at once)
const RETRYABLE = new Set(['PEER_DISCONNECTED', 'OVERLOADED', 'CHANNEL_NOT_FUNDED']);

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((res, rej) => {
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      res();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(t);
      rej(new SluiceError('ABORTED', 'download cancelled'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Download a file.
 * @throws SluiceError PRICE_TOO_HIGH, BUDGET_EXCEEDED (also: the provider wrote off a window's worth
 *   of credit it did not deliver), CONTENT_NOT_FOUND, CHUNK_HASH_MISMATCH
 *   (provider sent wrong bytes: at most `window` chunks were paid for them), PEER_TIMEOUT (stall),
 *   PEER_DISCONNECTED (after the retries), ABORTED, INVALID_ARGUMENT (bad options, another asset,
 *   the output is a directory, or without `output` the provider's name exists already)
 */
export async function download(options: DownloadOptions): Promise<DownloadResult> {
  const t0 = performance.now();
  const window = options.window ?? 32;
  if (!Number.isSafeInteger(window) || window < 1 || window > 4096) throw new SluiceError('INVALID_ARGUMENT', 'window must be 1..4096 chunks');
  const payStep = Math.min(window, options.payStep ?? Math.max(1, Math.floor(window / 4)));
  const signal = options.signal;
  // A file downloaded earlier whose --close failed: with -o and the CID in the URL, finish
  // without asking the provider anything (it may be gone, or refuse: we only close our channel).
  const wanted = requestedCid(options);
  if (options.output !== undefined && wanted !== undefined) {
    const earlier = await finishEarlierDownload(options, resolvePath(options.output), t0, wanted);
    if (earlier !== undefined) return earlier;
  }
  const meta = options.metadata ?? (await fetchMetadata(options, signal === undefined ? {} : { signal }));
  if (wanted !== undefined && meta.cid !== wanted) throw new SluiceError('INVALID_ARGUMENT', 'the metadata given is for another file than the URL');
  options.onProgress?.({ phase: 'metadata', meta });
  const asset = options.asset ?? ZERO_ADDRESS;
  if (!sameAddress(meta.asset, asset)) {
    throw new SluiceError('INVALID_ARGUMENT', `the provider wants to be paid in asset ${meta.asset}, not ${asset === ZERO_ADDRESS ? 'ETH (the default)' : asset}; prices and budgets are in the asset's base units. Pass --asset ${meta.asset} to pay in it`, {
      details: { asset: meta.asset, expected: asset },
    });
  }
  if (options.maxPricePerChunk !== undefined && meta.pricePerChunk > options.maxPricePerChunk) {
    throw new SluiceError('PRICE_TOO_HIGH', `provider asks ${meta.pricePerChunk} per chunk, above the maximum ${options.maxPricePerChunk}`, {
      details: { price: meta.pricePerChunk.toString(), max: options.maxPricePerChunk.toString() },
    });
  }
  const output = resolvePath(options.output ?? safeName(meta.name, meta.cid));
  const replace = options.output !== undefined;
  if ((await stat(output).catch(() => undefined))?.isDirectory() === true) {
    throw new SluiceError('INVALID_ARGUMENT', `${output} is a directory; pass -o with the path of the file to write`, { details: { output } });
  }
  await mkdir(dirname(output), { recursive: true });
  const partPath = `${output}.sluice-part`;
  const sidecarPath = `${output}.sluice-state`;
  const root = parseCid(meta.cid);
  const price = meta.pricePerChunk;

  if (options.output === undefined || wanted === undefined) {
    const earlier = await finishEarlierDownload(options, output, t0, meta.cid);
    if (earlier !== undefined) return earlier;
  }
  // Resume state: only if it is for the same file and the part file exists.
  let state = await loadSidecar(sidecarPath);
  if (state !== undefined && (state.cid !== meta.cid || state.size !== meta.size || state.chunks !== meta.chunks)) state = undefined;
  const partExists = await stat(partPath).then(() => true, () => false);
  if (state !== undefined && !partExists) state = undefined;
  // The name came from the provider: never replace a file of the user's with it.
  if (!replace && (await stat(output).then(() => true, () => false))) throw existsError(output);

  // Every chunk verified, but the run stopped before the rename: check the part file against
  // the CID locally and finish without connecting or paying; if it does not match, a session
  // from the last chunk re-verifies what is on disk against the DAG and fetches what is bad.
  if (state !== undefined && state.verified === meta.chunks) {
    if (await partMatches(partPath, meta)) {
      const fh = await open(partPath, 'r+');
      try {
        await fh.truncate(meta.size);
        await fh.sync();
      } finally {
        await fh.close();
      }
      await placeFile(partPath, output, replace);
      if (options.closeChannel === true) await closeAfterDownload(options.channels, state.channelId, output);
      await removeSidecar(sidecarPath);
      options.onProgress?.({ phase: 'done' });
      return { cid: meta.cid, output, size: meta.size, chunks: meta.chunks, channelId: state.channelId, paid: 0n, pricePerChunk: price, resumedChunks: meta.chunks, sessions: 0, elapsedMs: performance.now() - t0 };
    }
    state = { ...state, verified: meta.chunks - 1 };
  }

  // Channel: reuse the one this download started on when it can still pay, else ensure one.
  const remainingCost = price * BigInt(meta.chunks - (state?.verified ?? 0));
  let channel: PayerChannelView | undefined;
  if (state !== undefined) {
    const c = await options.channels.getChannel(state.channelId);
    // a channel closed meanwhile (e.g. `sluice withdraw`) cannot pay, nor one to another payee or
    // in another asset (the same file from another provider): a new one resumes the file
    if (c !== undefined && c.open && c.balance - c.paid >= remainingCost && sameAddress(c.payee, meta.payee) && sameAddress(c.asset, meta.asset)) channel = c;
  }
  let reused = channel !== undefined;
  // What the next READY's baseline should be on this channel (undefined: not known).
  let expectBaseline = reused ? state?.expectBaseline : undefined;
  // ... and the channel's signed total then (see SidecarState.expectPaid)
  let expectPaid = reused ? state?.expectPaid : undefined;
  if (channel === undefined) {
    const marginFrac = options.margin ?? 0.1;
    const fileCost = price * BigInt(meta.chunks);
    const margin = (fileCost * BigInt(Math.round(marginFrac * 1000))) / 1000n;
    const deposit = fileCost + (margin > price * BigInt(window) ? margin : price * BigInt(window));
    const ensured = await options.channels.ensureChannel({
      payee: meta.payee,
      hub: meta.hub.address,
      asset: meta.asset,
      amount: remainingCost,
      deposit: options.budget !== undefined && deposit > options.budget && fileCost <= options.budget ? options.budget : deposit,
      ...(options.budget === undefined ? {} : { budget: options.budget }),
      ...(signal === undefined ? {} : { signal }),
    });
    channel = ensured;
    reused = !ensured.opened;
    if (ensured.opened) {
      expectBaseline = 0n; // nothing consumed on a channel we just opened
      expectPaid = ensured.paid;
    }
    if (state !== undefined) state = { ...state, channelId: channel.channelId };
  }
  options.onProgress?.({ phase: 'channel', channelId: channel.channelId, reused, balance: channel.balance, paid: channel.paid });
  const channelId = channel.channelId;

  let fh: FileHandle = await open(partPath, state === undefined ? 'w+' : 'r+');
  let verified = state?.verified ?? 0;
  const resumedFrom = verified;
  if (verified > 0) options.onProgress?.({ phase: 'resume', verifiedChunks: verified });
  let paidTotal = 0n;
  let sessions = 0;
  let leaves: readonly LeafRange[] = [];
  // Credit paid in this download that the provider wrote off without delivering (all runs).
  let lost = state?.lost ?? 0n;
  const save = (): Promise<void> =>
    saveSidecar(sidecarPath, {
      version: 1, cid: meta.cid, size: meta.size, chunks: meta.chunks, channelId, verified,
      ...(lost === 0n ? {} : { lost }),
      ...(expectBaseline === undefined ? {} : { expectBaseline }),
      ...(expectBaseline === undefined || expectPaid === undefined ? {} : { expectPaid }),
    } satisfies SidecarState);
  await save();

  try {
    for (let attempt = 0; ; attempt++) {
      let written = verified;
      let writeChain: Promise<void> = Promise.resolve();
      let writeError: unknown;
      let sinceSave = 0;
      const view = await options.channels.getChannel(channelId);
      if (view === undefined) throw new SluiceError('CHANNEL_UNKNOWN', 'the payment channel disappeared');
      // Another download on this channel since the expectation was recorded consumed at most what it paid.
      if (expectBaseline !== undefined && expectPaid !== undefined && view.paid > expectPaid) expectBaseline += view.paid - expectPaid;
      expectPaid = view.paid;
      sessions++;
      let session: { baseline: bigint; price: bigint; received: number } | undefined;
      try {
        await streamFile({
          wsUrl: meta.ws,
          channelId,
          root,
          size: meta.size,
          chunkCount: meta.chunks,
          pricePerChunk: price,
          start: verified,
          window,
          payStep,
          paidBefore: view.paid,
          channels: options.channels,
          stallTimeoutMs: options.stallTimeoutMs ?? 30_000,
          ...(signal === undefined ? {} : { signal }),
          onReady: (r) => {
            // Credit the provider wrote off: READY says more was consumed than earlier sessions delivered.
            if (expectBaseline !== undefined && r.baseline > expectBaseline) lost += r.baseline - expectBaseline;
            expectBaseline = undefined;
            session = { baseline: r.baseline, price: r.pricePerChunk, received: 0 };
            return sessionWindow(window, lost, r.pricePerChunk);
          },
          onResolved: async (ls) => {
            leaves = ls;
            // Re-verify what an earlier attempt left on disk before trusting it.
            const bad = await firstBadChunk(fh, ls, verified);
            if (bad < verified) {
              verified = bad;
              written = bad;
              await save();
              throw new ResumeRestart();
            }
          },
          onChunk: (leaf, data) => {
            if (session !== undefined) session.received++;
            const w = writeChain.then(async () => {
              if (writeError !== undefined) return;
              try {
                await fh.write(data, 0, data.length, leaf.offset);
                written = leaf.index + 1;
                verified = written;
                if (++sinceSave >= 32) {
                  sinceSave = 0;
                  await save();
                }
              } catch (e) {
                writeError = e;
              }
            });
            writeChain = w;
            options.onProgress?.({
              phase: 'chunk',
              chunksDone: leaf.index + 1,
              chunksTotal: meta.chunks,
              bytesDone: leaf.offset + leaf.length,
              bytesTotal: meta.size,
              paid: paidTotal,
            });
            return w;
          },
          written: () => written,
          onPaid: (inc) => {
            paidTotal += inc;
          },
        });
        await writeChain;
        if (writeError !== undefined) throw writeError;
        break;
      } catch (e) {
        await writeChain;
        // A session the provider ended (or broke): the next READY must not claim more consumed than it
        // delivered. One we ended ourselves (cancel, re-verify, write error) may have dropped chunks in flight.
        // (An ABORTED from the provider — ERROR or close code 4301 — is not ours.)
        const ours = e instanceof ResumeRestart || writeError !== undefined || (isSluiceError(e, 'ABORTED') && e.details['remote'] !== true);
        if (session !== undefined) {
          expectBaseline = ours ? undefined : session.baseline + BigInt(session.received) * session.price;
          expectPaid = (await options.channels.getChannel(channelId))?.paid;
        }
        await save();
        if (e instanceof ResumeRestart) {
          attempt--;
          continue;
        }
        if (writeError !== undefined) throw new SluiceError('INTERNAL', 'cannot write the output file', { cause: writeError });
        const retryable = isSluiceError(e) && RETRYABLE.has(e.code) && !(signal?.aborted ?? false);
        if (!retryable || attempt >= (options.retries ?? 5)) throw e;
        const delayMs = Math.min(3_000, 200 * 2 ** attempt);
        options.onProgress?.({ phase: 'retry', attempt: attempt + 1, error: e, delayMs });
        await sleep(delayMs, signal);
      }
    }
    if (leaves.length === 0) throw new SluiceError('INTERNAL', 'no session resolved the file');
    await fh.truncate(meta.size);
    await fh.sync();
    await fh.close();
    fh = undefined as unknown as FileHandle;
    // With --close, the sidecar says "complete, close pending" until the close is done.
    if (options.closeChannel === true) await saveSidecar(sidecarPath, { version: 1, cid: meta.cid, size: meta.size, chunks: meta.chunks, channelId, verified: meta.chunks, complete: true, price });
    await placeFile(partPath, output, replace);
    if (options.closeChannel !== true) await removeSidecar(sidecarPath);
  } finally {
    await fh?.close().catch(() => undefined);
  }
  if (options.closeChannel === true) {
    await closeAfterDownload(options.channels, channelId, output);
    await removeSidecar(sidecarPath);
  }
  options.onProgress?.({ phase: 'done' });
  return { cid: meta.cid, output, size: meta.size, chunks: meta.chunks, channelId, paid: paidTotal, pricePerChunk: price, resumedChunks: resumedFrom, sessions, elapsedMs: performance.now() - t0 };
}

class ResumeRestart extends Error {}

/**
 * The prepaid window of a session. Credit the provider wrote off during this download (paid,
 * never delivered) is tolerated up to one window in all: an honest provider whose connection
 * drops mid-stream writes off the chunks that were in flight, up to a window. Past it the client
 * stops. So over a whole download at most 2 × `window` chunks are paid without being verified:
 * `window` ahead in the current session, and at most one more window written off before it.
 * @throws SluiceError BUDGET_EXCEEDED when more than a window was written off
 */
function sessionWindow(window: number, lost: bigint, price: bigint): number {
  if (price === 0n || lost <= BigInt(window) * price) return window;
  const lostChunks = (lost + price - 1n) / price;
  throw new SluiceError('BUDGET_EXCEEDED', `the provider took ${lost} of credit (${lostChunks} chunk(s)) during this download without delivering chunks for it, more than the prepaid window of ${window}; stopped before paying more. Download from another provider, or run again with a larger --window to risk more`, {
    details: { lost: lost.toString(), window },
  });
}

function existsError(output: string): SluiceError {
  return new SluiceError('INVALID_ARGUMENT', `${output} exists already (the name is the provider's); not replacing it. Pass -o <file> to choose where to save the download (-o ${output} replaces it)`, { details: { output } });
}

/**
 * Move the complete part file to `output` and make the rename durable. Without `replace`, an
 * existing `output` is never replaced (a hard link fails if it exists; where links are not
 * supported, a check before the rename).
 * @throws SluiceError INVALID_ARGUMENT when `output` exists and may not be replaced
 */
async function placeFile(partPath: string, output: string, replace: boolean): Promise<void> {
  if (replace) {
    await rename(partPath, output);
  } else {
    try {
      await link(partPath, output);
      await unlink(partPath);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'EEXIST') throw existsError(output);
      if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV' && code !== 'EMLINK') throw e;
      if (await stat(output).then(() => true, () => false)) throw existsError(output);
      await rename(partPath, output);
    }
  }
  await fsyncDir(dirname(output));
}

/** A chunk store that keeps nothing: importing through it only computes the CID. */
const DISCARD: ChunkStore = {
  putBlock: async () => undefined,
  getBlock: async () => undefined,
  hasBlock: async () => false,
  putFile: async () => undefined,
  getFile: async () => undefined,
  listFiles: async () => [],
};

/** Whether the first `meta.size` bytes of the part file are the file of `meta.cid` (its CID recomputed from disk). */
async function partMatches(partPath: string, meta: FileMetadata): Promise<boolean> {
  try {
    const source = meta.size === 0 ? [] : createReadStream(partPath, { start: 0, end: meta.size - 1, highWaterMark: CHUNK_SIZE });
    const r = await importStream(source, { store: DISCARD });
    return r.size === meta.size && r.cid === meta.cid;
  } catch {
    return false;
  }
}

/** The canonical CID a source asks for, read from it without asking the provider (undefined if unreadable). */
function requestedCid(source: Source): string | undefined {
  try {
    const m = /\/files\/([^/]+)$/.exec(metadataUrl(source).pathname);
    return m === null ? undefined : parseCid(decodeURIComponent(m[1]!)).toString();
  } catch {
    return undefined;
  }
}

/**
 * A download of `output` completed earlier and paid for, whose `--close` failed (the resume state
 * says "complete"): never download or pay again. Finish a rename a crash interrupted, close the
 * channel if asked, and report it (`alreadyComplete`). `undefined` when there is no such state
 * (or it is for another file than `cid`).
 */
async function finishEarlierDownload(options: DownloadOptions, output: string, t0: number, cid: string): Promise<DownloadResult | undefined> {
  const sidecarPath = `${output}.sluice-state`;
  const state = await loadSidecar(sidecarPath);
  if (state?.complete !== true || state.cid !== cid) return undefined;
  const sizeIs = (p: string): Promise<boolean> => stat(p).then((s) => s.isFile() && s.size === state.size, () => false);
  const partPath = `${output}.sluice-part`;
  if (!(await sizeIs(output)) && (await sizeIs(partPath))) {
    // the part was complete, verified and fsync'd before this state was written: the rename was cut short
    await rename(partPath, output);
    await fsyncDir(dirname(output));
  }
  if (options.closeChannel === true) await closeAfterDownload(options.channels, state.channelId, output);
  await removeSidecar(sidecarPath);
  options.onProgress?.({ phase: 'done' });
  return {
    cid: state.cid, output, size: state.size, chunks: state.chunks, channelId: state.channelId, paid: 0n, pricePerChunk: state.price ?? 0n,
    resumedChunks: state.chunks, sessions: 0, alreadyComplete: true, elapsedMs: performance.now() - t0,
  };
}

/**
 * Close the download's virtual channel. A failure says the file is safe and that running the
 * same command again only closes.
 * @throws SluiceError CHANNEL_CLOSE_FAILED (ABORTED as is)
 */
async function closeAfterDownload(channels: PayerChannels, channelId: ChannelId, output: string): Promise<void> {
  // closing or closed already (an earlier attempt went on after its timeout, or `sluice withdraw`)
  const c = await channels.getChannel(channelId);
  if (c === undefined || !c.open) return;
  try {
    await channels.close(channelId);
  } catch (e) {
    if (isSluiceError(e, 'ABORTED')) throw e;
    if (isSluiceError(e, 'CHANNEL_CLOSING')) return; // it started closing meanwhile
    const why = isSluiceError(e) ? `${e.message} (${e.code})` : e instanceof Error ? e.message : String(e);
    throw new SluiceError('CHANNEL_CLOSE_FAILED', `the file is complete and saved as ${output}, but closing its channel failed: ${why}. Run the same command again to close it (nothing is downloaded or paid again), or \`sluice withdraw\``, { cause: e, details: { channelId } });
  }
}

/** Index of the first chunk in [0, count) whose bytes on disk do not match its leaf (count if all do). */
async function firstBadChunk(fh: FileHandle, leaves: readonly LeafRange[], count: number): Promise<number> {
  const buf = new Uint8Array(262_144);
  for (let i = 0; i < count; i++) {
    const leaf = leaves[i];
    if (leaf === undefined) return i;
    const { bytesRead } = await fh.read(buf, 0, leaf.length, leaf.offset);
    if (bytesRead !== leaf.length) return i;
    try {
      verifyLeaf(leaf, buf.subarray(0, leaf.length));
    } catch {
      return i;
    }
  }
  return count;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  } catch {
    // some platforms cannot fsync a directory
  }
}

/** A safe local file name from the provider's display name. */
export function safeName(name: string, cid: string): string {
  const base = name.split(/[\\/]/).pop() ?? '';
  const cleaned = base.replace(/[^\w.\- ]/g, '_').replace(/^\.+/, '');
  return cleaned === '' ? cid : cleaned;
}
