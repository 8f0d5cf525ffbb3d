/**
 * CID helpers for Sluice content: CIDv1, sha2-256, `raw` leaves and `dag-pb` interior
 * nodes. Hashing uses node:crypto (never a JS sha256).
 */
import { createHash } from 'node:crypto';
import { SluiceError } from '@sluice/channel-core';
import { CID } from 'multiformats/cid';
import * as Digest from 'multiformats/hashes/digest';
import { DAG_PB_CODE, RAW_CODE, SHA256_CODE } from './constants.ts';

export { CID };

/** sha2-256 of `bytes` with node:crypto. */
export function sha256(bytes: Uint8Array): Uint8Array {
  const d = createHash('sha256').update(bytes).digest();
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
}

/** CIDv1 of `bytes` under `codec` (`raw` by default), sha2-256. */
export function cidOf(bytes: Uint8Array, codec: number = RAW_CODE): CID {
  return CID.createV1(codec, Digest.create(SHA256_CODE, sha256(bytes)));
}

/**
 * True if `cid` is a CID Sluice serves: v1, sha2-256 with a 32-byte digest, codec raw or dag-pb.
 */
export function isSluiceCid(cid: CID): boolean {
  return (
    cid.version === 1 &&
    (cid.code === RAW_CODE || cid.code === DAG_PB_CODE) &&
    cid.multihash.code === SHA256_CODE &&
    cid.multihash.digest.length === 32
  );
}

/**
 * Parse a CID from its string or binary form, requiring {@link isSluiceCid}.
 * @throws SluiceError DECODE_FAILED
 */
export function parseCid(input: string | Uint8Array, name = 'cid'): CID {
  let cid: CID;
  try {
    cid = typeof input === 'string' ? CID.parse(input) : CID.decode(input);
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', `${name} is not a valid CID`, { cause: e });
  }
  if (!isSluiceCid(cid)) {
    throw new SluiceError('DECODE_FAILED', `${name} must be a CIDv1 (raw or dag-pb, sha2-256)`);
  }
  return cid;
}

/**
 * Check that `bytes` hash to `cid`'s digest (sha2-256 only).
 * @throws SluiceError CHUNK_HASH_MISMATCH when they do not; DECODE_FAILED for a non-sha2-256 CID
 */
export function verifyBlock(cid: CID, bytes: Uint8Array): void {
  if (cid.multihash.code !== SHA256_CODE || cid.multihash.digest.length !== 32) {
    throw new SluiceError('DECODE_FAILED', 'only sha2-256 CIDs can be verified', { details: { cid: cid.toString() } });
  }
  const got = sha256(bytes);
  const want = cid.multihash.digest;
  let d = 0;
  for (let i = 0; i < 32; i++) d |= got[i]! ^ want[i]!;
  if (d !== 0) {
    throw new SluiceError('CHUNK_HASH_MISMATCH', 'block does not match its CID', {
      details: { cid: cid.toString(), length: bytes.length },
    });
  }
}
