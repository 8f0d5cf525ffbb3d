/**
 * An independent reference for the DAG `ipfs add --cid-version=1` builds, written from
 * the specs only (no ipfs-unixfs, dag-pb or multiformats code): hand-encoded protobuf
 * (UnixFS `Data`, dag-pb `PBNode`/`PBLink` in canonical links-first order), CIDv1 bytes,
 * RFC 4648 base32, and kubo's balanced layout transcribed from go-unixfs
 * `importer/balanced/builder.go` (Layout + fillNodeRec: depth-first fill, unlike the JS
 * importer's level-by-level batching).
 */
import { createHash } from 'node:crypto';

export const REF_CHUNK = 262_144;
export const REF_MAX_LINKS = 174;

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return out;
}

function sha256(b: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(b).digest());
}

/** CIDv1 bytes: version 1, codec, multihash (sha2-256 = 0x12, length 32). */
export function cidV1Bytes(codec: 0x55 | 0x70, block: Uint8Array): Uint8Array {
  return Uint8Array.from([0x01, codec, 0x12, 0x20, ...sha256(block)]);
}

const B32 = 'abcdefghijklmnopqrstuvwxyz234567';
/** Multibase `b` + RFC 4648 lowercase base32 without padding. */
export function base32Cid(bytes: Uint8Array): string {
  let out = 'b';
  let bits = 0;
  let acc = 0;
  for (const byte of bytes) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(acc >> (bits - 5)) & 31];
      bits -= 5;
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += B32[(acc << (5 - bits)) & 31];
  return out;
}

interface RefNode {
  readonly cid: Uint8Array;
  /** File bytes under this node. */
  readonly fileSize: number;
  /** Cumulative DAG size (dag-pb Tsize): block length plus children's Tsize. */
  readonly tsize: number;
  readonly links: number;
}

/** UnixFS Data: Type=File (field 1), filesize (field 3), blocksizes (field 4, unpacked). */
function unixfsFileData(fileSize: number, blockSizes: readonly number[]): Uint8Array {
  const out = [0x08, 0x02, 0x18, ...varint(fileSize)];
  for (const s of blockSizes) out.push(0x20, ...varint(s));
  return Uint8Array.from(out);
}

/** dag-pb PBNode: Links (field 2) first, each {Hash (1), Name (2) = "", Tsize (3)}, then Data (1). */
function pbNode(children: readonly RefNode[]): Uint8Array {
  const out: number[] = [];
  for (const c of children) {
    const link = [0x0a, ...varint(c.cid.length), ...c.cid, 0x12, 0x00, 0x18, ...varint(c.tsize)];
    out.push(0x12, ...varint(link.length), ...link);
  }
  const data = unixfsFileData(
    children.reduce((a, c) => a + c.fileSize, 0),
    children.map((c) => c.fileSize),
  );
  out.push(0x0a, ...varint(data.length), ...data);
  return Uint8Array.from(out);
}

function interior(children: readonly RefNode[]): RefNode {
  const block = pbNode(children);
  return {
    cid: cidV1Bytes(0x70, block),
    fileSize: children.reduce((a, c) => a + c.fileSize, 0),
    tsize: block.length + children.reduce((a, c) => a + c.tsize, 0),
    links: children.length,
  };
}

/** Root CID string and shape of `data` as kubo `ipfs add --cid-version=1` would build it. */
export function referenceRoot(data: Uint8Array): { cid: string; depth: number; rootLinks: number; leaves: string[] } {
  const leaves: RefNode[] = [];
  for (let o = 0; o < data.length || leaves.length === 0; o += REF_CHUNK) {
    const chunk = data.subarray(o, Math.min(o + REF_CHUNK, data.length));
    leaves.push({ cid: cidV1Bytes(0x55, chunk), fileSize: chunk.length, tsize: chunk.length, links: 0 });
  }
  const leafCids = leaves.map((l) => base32Cid(l.cid));
  let next = 0;
  const fill = (children: RefNode[], depth: number): RefNode => {
    while (children.length < REF_MAX_LINKS && next < leaves.length) {
      children.push(depth === 1 ? leaves[next++]! : fill([], depth - 1));
    }
    return interior(children);
  };
  let root = leaves[next++]!;
  let depth = 0;
  for (let d = 1; next < leaves.length; d++) {
    root = fill([root], d);
    depth = d;
  }
  return { cid: base32Cid(root.cid), depth, rootLinks: root.links, leaves: leafCids };
}

/** Deterministic pseudo-random bytes (AES-128-CTR keystream of a seed). */
export async function pseudoRandom(length: number, seed: number): Promise<Uint8Array> {
  const { createCipheriv } = await import('node:crypto');
  const key = new Uint8Array(16);
  new DataView(key.buffer).setUint32(0, seed);
  const c = createCipheriv('aes-128-ctr', key, new Uint8Array(16));
  return new Uint8Array(c.update(new Uint8Array(length)));
}
