/** Fetch and validate a provider's file metadata (`GET /files/:cid`). */
import { type Address, SluiceError, parseAddress } from '@sluice/channel-core';
import { isUrlWith } from '@sluice/channel-core/node/text';
import { CHUNK_SIZE, parseCid } from '@sluice/provider/content';
import { MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH, chunkCountOf, isMultiaddrString } from '@sluice/provider/wire';
import { peerText } from './peer-text.ts';

/** Validated `GET /files/:cid` answer. */
export interface FileMetadata {
  readonly cid: string;
  /** The provider's display name for the file, made safe to print ({@link peerText}; at most {@link MAX_NAME_BYTES} bytes as sent). */
  readonly name: string;
  readonly size: number;
  readonly chunkSize: number;
  readonly chunks: number;
  readonly pricePerChunk: bigint;
  readonly asset: Address;
  readonly payee: Address;
  readonly hub: { readonly address: Address | null; readonly multiaddrs: readonly string[] };
  /** The payee's channel node (libp2p), when the provider gives it: our node sends it the channel's messages directly. */
  readonly payeeMultiaddrs: readonly string[];
  /** The session WebSocket URL: ws: or wss:, with a host (parsed with `new URL`). */
  readonly ws: string;
}

/** Largest metadata body read (bytes): a document is well under 4 KiB; more is refused. */
export const MAX_METADATA_BYTES = 65_536;
/** Longest file name taken from metadata, in UTF-8 bytes (a file name's usual limit). */
export const MAX_NAME_BYTES = 255;
/** Longest `ws` URL taken from metadata. */
export const MAX_WS_URL_LENGTH = 2048;

/**
 * At most {@link MAX_MULTIADDRS} multiaddrs of one peer are taken from metadata (the first ones:
 * providers list them best first), each at most {@link MAX_MULTIADDR_LENGTH} characters; a list
 * longer than {@link MAX_MULTIADDR_LIST} is refused outright.
 */
export { MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH };
export const MAX_MULTIADDR_LIST = 64;

/** Where to download from: a metadata URL, or a CID plus the provider's base URL. */
export type Source = { readonly url: string } | { readonly cid: string; readonly provider: string };

/** The metadata URL of a source. @throws SluiceError INVALID_ARGUMENT */
export function metadataUrl(source: Source): URL {
  try {
    if ('url' in source) {
      const u = new URL(source.url);
      if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new TypeError('not http(s)');
      if (!/\/files\/[^/]+$/.test(u.pathname)) throw new TypeError('not a /files/<cid> URL');
      return u;
    }
    const cid = parseCid(source.cid).toString();
    const base = new URL(source.provider);
    return new URL(`/files/${cid}`, base);
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', 'expected a URL like http://host:port/files/<cid> (or a CID and a provider URL)', { cause: e });
  }
}

function bad(what: string): SluiceError {
  return new SluiceError('DECODE_FAILED', `provider metadata is malformed: ${what}`);
}

/**
 * An optional list of multiaddr strings: absent → []; every entry a bounded multiaddr string;
 * the first {@link MAX_MULTIADDRS} kept (a node listening on every interface can report more).
 */
function multiaddrList(x: unknown, what: string): string[] {
  if (x === undefined || x === null) return [];
  if (!Array.isArray(x) || x.length > MAX_MULTIADDR_LIST) throw bad(what);
  if (!x.every(isMultiaddrString)) throw bad(what);
  return (x as string[]).slice(0, MAX_MULTIADDRS);
}

/**
 * The metadata's `ws` URL, parsed: `ws://` or `wss://` with a host ({@link isUrlWith}, the check
 * of every URL option of the apps), bounded. Stricter than WHATWG parsing, which also takes
 * `ws:host`, `ws:/host`, `ws:///host` or leading spaces for `ws://host`: a provider's metadata
 * always has `//` (sluice-provider serializes a URL), so only hand-made documents are refused.
 */
function wsUrl(x: unknown): string {
  if (typeof x !== 'string' || x.length > MAX_WS_URL_LENGTH) throw bad('ws');
  if (!isUrlWith(x, ['ws:', 'wss:'])) throw bad('ws (not a ws:// or wss:// URL with a host)');
  return new URL(x).href;
}

/** Parse and check a metadata document. @throws SluiceError DECODE_FAILED */
export function parseMetadata(x: unknown, expectedCid?: string): FileMetadata {
  if (typeof x !== 'object' || x === null) throw bad('not an object');
  const o = x as Record<string, unknown>;
  const cid = o['cid'];
  if (typeof cid !== 'string') throw bad('cid');
  let root: string;
  try {
    root = parseCid(cid).toString();
  } catch {
    throw bad('cid');
  }
  if (expectedCid !== undefined && root !== parseCid(expectedCid).toString()) throw bad('cid is not the one requested');
  const size = o['size'];
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad('size');
  const chunks = o['chunks'];
  if (chunks !== chunkCountOf(size)) throw bad('chunks does not match size');
  if (o['chunkSize'] !== CHUNK_SIZE) throw bad('chunkSize');
  const price = o['pricePerChunk'];
  if (typeof price !== 'string' || !/^[0-9]{1,78}$/.test(price)) throw bad('pricePerChunk');
  const ws = wsUrl(o['ws']);
  const name = o['name'];
  if (name !== undefined && (typeof name !== 'string' || Buffer.byteLength(name, 'utf8') > MAX_NAME_BYTES)) throw bad(`name (a string of at most ${MAX_NAME_BYTES} bytes)`);
  const hub = o['hub'] as Record<string, unknown> | undefined;
  let payee: Address;
  let asset: Address;
  let hubAddress: Address | null = null;
  try {
    payee = parseAddress(o['payee'], 'payee');
    asset = parseAddress(o['asset'], 'asset');
    if (hub !== undefined && hub !== null && hub['address'] !== null && hub['address'] !== undefined) hubAddress = parseAddress(hub['address'], 'hub');
  } catch {
    throw bad('address');
  }
  const multiaddrs = multiaddrList(hub?.['multiaddrs'], 'hub.multiaddrs');
  const payeeMultiaddrs = multiaddrList(o['payeeMultiaddrs'], 'payeeMultiaddrs');
  return {
    cid: root,
    name: typeof name === 'string' && name !== '' ? peerText(name, MAX_NAME_BYTES) : root,
    size,
    chunkSize: CHUNK_SIZE,
    chunks,
    pricePerChunk: BigInt(price),
    asset,
    payee,
    hub: { address: hubAddress, multiaddrs },
    payeeMultiaddrs,
    ws,
  };
}

/**
 * Fetch the metadata of a source. The body is read up to {@link MAX_METADATA_BYTES} within the
 * same timeout as the request.
 * @throws SluiceError CONTENT_NOT_FOUND (404), PEER_TIMEOUT (unreachable, or no complete answer in time),
 *   ABORTED, DECODE_FAILED (malformed or too large), OVERLOADED (503 at capacity)
 */
export async function fetchMetadata(source: Source, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<FileMetadata> {
  const url = metadataUrl(source);
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 15_000)];
  if (options.signal !== undefined) signals.push(options.signal);
  const signal = AbortSignal.any(signals);
  const failed = (e: unknown, what: string): SluiceError => {
    if (options.signal?.aborted === true) return new SluiceError('ABORTED', 'download cancelled', { cause: e });
    if (signal.aborted) return new SluiceError('PEER_TIMEOUT', `provider did not ${what} in time`, { cause: e });
    return new SluiceError('PEER_TIMEOUT', `cannot reach the provider at ${url.origin}`, { cause: e });
  };
  let res: Response;
  try {
    res = await fetch(url, { signal, headers: { accept: 'application/json' } });
  } catch (e) {
    throw failed(e, 'answer the metadata request');
  }
  if (res.status === 404) {
    await res.body?.cancel().catch(() => undefined);
    throw new SluiceError('CONTENT_NOT_FOUND', 'the provider does not serve this file');
  }
  if (!res.ok) {
    // the provider's { error: { code, message } }, when it gives one (e.g. 503: it cannot be paid now)
    const err = (await readJson(res).catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
    const code = err?.error?.code;
    const message = err?.error?.message;
    if (res.status === 503 && typeof message === 'string') {
      throw new SluiceError(code === 'OVERLOADED' ? 'OVERLOADED' : 'PEER_TIMEOUT', `provider: ${peerText(message)}`);
    }
    throw new SluiceError('DECODE_FAILED', `provider metadata request failed with HTTP ${res.status}`);
  }
  let body: unknown;
  try {
    body = await readJson(res);
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    if (signal.aborted) throw failed(e, 'send its metadata');
    throw new SluiceError('DECODE_FAILED', 'provider metadata is not JSON', { cause: e });
  }
  const cid = /\/files\/([^/]+)$/.exec(url.pathname)?.[1];
  return parseMetadata(body, cid === undefined ? undefined : decodeURIComponent(cid));
}

/**
 * A response body as JSON, reading at most {@link MAX_METADATA_BYTES} (a larger
 * content-length is refused before reading).
 * @throws SluiceError DECODE_FAILED when the body is too large; the reader's error otherwise
 */
async function readJson(res: Response): Promise<unknown> {
  const tooLarge = (): SluiceError => new SluiceError('DECODE_FAILED', `provider metadata is larger than ${MAX_METADATA_BYTES} bytes`);
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (declared > MAX_METADATA_BYTES) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge();
  }
  if (res.body === null) return JSON.parse('');
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      n += value.length;
      if (n > MAX_METADATA_BYTES) throw tooLarge();
      parts.push(value);
    }
  } finally {
    if (n > MAX_METADATA_BYTES) await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(parts)));
}
