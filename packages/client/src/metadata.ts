/** Fetch and validate a provider's file metadata (`GET /files/:cid`). */
import { type Address, SluiceError, parseAddress } from '@sluice/channel-core';
import { CHUNK_SIZE, parseCid } from '@sluice/provider/content';
import { MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH, chunkCountOf, isMultiaddrString } from '@sluice/provider/wire';

/** Validated `GET /files/:cid` answer. */
export interface FileMetadata {
  readonly cid: string;
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
  readonly ws: string;
}

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
  const ws = o['ws'];
  if (typeof ws !== 'string' || !/^wss?:\/\//.test(ws)) throw bad('ws');
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
    name: typeof o['name'] === 'string' ? o['name'] : root,
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
 * Fetch the metadata of a source.
 * @throws SluiceError CONTENT_NOT_FOUND (404), PEER_TIMEOUT, ABORTED, DECODE_FAILED, INTERNAL (network)
 */
export async function fetchMetadata(source: Source, options: { signal?: AbortSignal; timeoutMs?: number } = {}): Promise<FileMetadata> {
  const url = metadataUrl(source);
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 15_000)];
  if (options.signal !== undefined) signals.push(options.signal);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.any(signals), headers: { accept: 'application/json' } });
  } catch (e) {
    if (options.signal?.aborted === true) throw new SluiceError('ABORTED', 'download cancelled', { cause: e });
    if ((e as Error).name === 'TimeoutError') throw new SluiceError('PEER_TIMEOUT', 'provider did not answer the metadata request', { cause: e });
    throw new SluiceError('PEER_TIMEOUT', `cannot reach the provider at ${url.origin}`, { cause: e });
  }
  if (res.status === 404) throw new SluiceError('CONTENT_NOT_FOUND', 'the provider does not serve this file');
  if (!res.ok) {
    // the provider's { error: { code, message } }, when it gives one (e.g. 503: it cannot be paid now)
    const err = (await res.json().catch(() => undefined)) as { error?: { code?: unknown; message?: unknown } } | undefined;
    const code = err?.error?.code;
    const message = err?.error?.message;
    if (res.status === 503 && typeof message === 'string') {
      throw new SluiceError(code === 'OVERLOADED' ? 'OVERLOADED' : 'PEER_TIMEOUT', `provider: ${message.slice(0, 300)}`);
    }
    throw new SluiceError('DECODE_FAILED', `provider metadata request failed with HTTP ${res.status}`);
  }
  let body: unknown;
  try {
    body = await res.json();
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', 'provider metadata is not JSON', { cause: e });
  }
  const cid = /\/files\/([^/]+)$/.exec(url.pathname)?.[1];
  return parseMetadata(body, cid === undefined ? undefined : decodeURIComponent(cid));
}
