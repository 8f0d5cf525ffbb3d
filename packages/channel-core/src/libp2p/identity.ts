/**
 * A Sluice node's secp256k1 key is its libp2p identity, so a remote peer id proves the remote
 * Ethereum address: libp2p secp256k1 peer ids embed the (compressed) public key, and Noise
 * proves possession of it during the handshake.
 */
import { privateKeyFromRaw } from '@libp2p/crypto/keys';
import type { PeerId, PrivateKey } from '@libp2p/interface';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { parsePrivateKey, publicKeyToAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import type { Address } from '../hex.ts';

/**
 * The libp2p private key for a raw 32-byte secp256k1 key (the same key that signs states).
 * @throws TypeError if `privateKey` is not 32 bytes (the key is never echoed)
 */
export function libp2pPrivateKey(privateKey: Uint8Array | string): PrivateKey {
  const raw = parsePrivateKey(privateKey);
  const key = privateKeyFromRaw(raw);
  if (key.type !== 'secp256k1') throw new TypeError('privateKey must be a secp256k1 key');
  return key;
}

/**
 * The Ethereum address proven by a libp2p peer id.
 * @throws SluiceError PROTOCOL_WRONG_SIGNER if the peer's key is not secp256k1
 */
export function peerIdToAddress(peerId: PeerId): Address {
  if (peerId.type !== 'secp256k1') {
    throw new SluiceError('PROTOCOL_WRONG_SIGNER', 'peer identity is not a secp256k1 key', { details: { peerType: peerId.type } });
  }
  // Decompressing the key is a modular square root (~0.2 ms in JS); it ran for every inbound
  // stream. Peer ids repeat, so remember the answer (bounded; the key bytes are the cache key).
  const raw = peerId.publicKey.raw;
  const key = bytesKey(raw);
  const cached = addressCache.get(key);
  if (cached !== undefined) return cached;
  const uncompressed = raw.length === 65 ? raw : secp256k1.Point.fromBytes(raw).toBytes(false);
  const address = publicKeyToAddress(uncompressed);
  if (addressCache.size >= ADDRESS_CACHE_MAX) addressCache.delete(addressCache.keys().next().value!);
  addressCache.set(key, address);
  return address;
}

const ADDRESS_CACHE_MAX = 4096;
const addressCache = new Map<string, Address>();

function bytesKey(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** The address of a peer id, or `undefined` when it cannot prove one. */
export function tryPeerIdToAddress(peerId: PeerId): Address | undefined {
  try {
    return peerIdToAddress(peerId);
  } catch {
    return undefined;
  }
}
