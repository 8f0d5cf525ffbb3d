/**
 * The secp256k1 backend behind every signature in Sluice.
 *
 * The hot path (voucher sign/verify/recover) uses libsecp256k1 through the `secp256k1`
 * npm package's N-API binding, loaded *explicitly*: that package silently falls back to
 * pure-JS `elliptic` (25-30x slower) when its binding is missing, so we never import its
 * index. When the binding cannot load (or `SLUICE_CRYPTO=noble` is set), we fall back
 * deliberately to `@noble/curves`. Both produce identical bytes (RFC 6979 nonces, low-s).
 * {@link cryptoBackend} reports which one is active so apps can log and export it.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { secp256k1 as noble } from '@noble/curves/secp256k1.js';

/** A deterministic (RFC 6979), low-s secp256k1 implementation over 32-byte digests. */
export interface Secp256k1Backend {
  readonly name: 'libsecp256k1' | 'noble';
  /** Sign a 32-byte digest: 64-byte `r||s` (low-s) and recovery id 0/1. */
  sign(digest: Uint8Array, privateKey: Uint8Array): { readonly signature: Uint8Array; readonly recovery: number };
  /** Recover the 65-byte uncompressed public key, or `undefined` if no key recovers. */
  recover(digest: Uint8Array, signature64: Uint8Array, recovery: number): Uint8Array | undefined;
  /** Verify `r||s` (low-s only) against a 65-byte uncompressed public key. */
  verify(digest: Uint8Array, signature64: Uint8Array, publicKey: Uint8Array): boolean;
  /** 65-byte uncompressed public key of a private key. @throws RangeError if invalid */
  publicKey(privateKey: Uint8Array): Uint8Array;
}

interface NativeAddon {
  privateKeyVerify(seckey: Uint8Array): number;
  publicKeyCreate(output: Uint8Array, seckey: Uint8Array): number;
  ecdsaSign(obj: { signature: Uint8Array; recid: number | null }, msg32: Uint8Array, seckey: Uint8Array): number;
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): number;
  ecdsaRecover(output: Uint8Array, sig: Uint8Array, recid: number, msg32: Uint8Array): number;
}

function invalidKey(): RangeError {
  return new RangeError('privateKey is not a valid secp256k1 private key');
}

function makeNative(addon: NativeAddon): Secp256k1Backend {
  return {
    name: 'libsecp256k1',
    sign(digest, privateKey) {
      const obj = { signature: new Uint8Array(64), recid: null as number | null };
      if (addon.ecdsaSign(obj, digest, privateKey) !== 0 || obj.recid === null) throw invalidKey();
      return { signature: obj.signature, recovery: obj.recid };
    },
    recover(digest, signature64, recovery) {
      const out = Buffer.allocUnsafe(65);
      return addon.ecdsaRecover(out, signature64, recovery, digest) === 0 ? new Uint8Array(out.buffer, out.byteOffset, 65) : undefined;
    },
    verify(digest, signature64, publicKey) {
      return addon.ecdsaVerify(signature64, digest, publicKey) === 0;
    },
    publicKey(privateKey) {
      if (privateKey.length !== 32 || addon.privateKeyVerify(privateKey) !== 0) throw invalidKey();
      const out = new Uint8Array(65);
      if (addon.publicKeyCreate(out, privateKey) !== 0) throw invalidKey();
      return out;
    },
  };
}

/** The pure-JS backend (also what browsers get). */
export const nobleBackend: Secp256k1Backend = {
  name: 'noble',
  sign(digest, privateKey) {
    let sig: Uint8Array;
    try {
      sig = noble.sign(digest, privateKey, { prehash: false, lowS: true, format: 'recovered' });
    } catch {
      throw invalidKey();
    }
    // 'recovered' format is recovery byte followed by r||s
    return { signature: sig.subarray(1, 65), recovery: sig[0]! };
  },
  recover(digest, signature64, recovery) {
    const rec = new Uint8Array(65);
    rec[0] = recovery;
    rec.set(signature64, 1);
    try {
      return toUncompressed(noble.recoverPublicKey(rec, digest, { prehash: false }));
    } catch {
      return undefined;
    }
  },
  verify(digest, signature64, publicKey) {
    try {
      return noble.verify(signature64, digest, publicKey, { prehash: false, lowS: true, format: 'compact' });
    } catch {
      return false;
    }
  },
  publicKey(privateKey) {
    try {
      return noble.getPublicKey(privateKey, false);
    } catch {
      throw invalidKey();
    }
  },
};

function toUncompressed(pub: Uint8Array): Uint8Array {
  return pub.length === 65 ? pub : noble.Point.fromBytes(pub).toBytes(false);
}

let nativeLoadError: string | undefined;

function loadNative(): Secp256k1Backend | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = dirname(require.resolve('secp256k1/package.json'));
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => { Secp256k1: new () => NativeAddon };
    return makeNative(new (nodeGypBuild(dir).Secp256k1)());
  } catch (e) {
    nativeLoadError = e instanceof Error ? e.message : String(e);
    return undefined;
  }
}

/** The native backend, or `undefined` when libsecp256k1 cannot load here. */
export const nativeBackend: Secp256k1Backend | undefined = loadNative();

let active: Secp256k1Backend =
  process.env['SLUICE_CRYPTO'] === 'noble' || nativeBackend === undefined ? nobleBackend : nativeBackend;

/** The backend in use and, if native failed to load, why. */
export function cryptoBackend(): { readonly name: Secp256k1Backend['name']; readonly nativeLoadError?: string } {
  return nativeLoadError === undefined ? { name: active.name } : { name: active.name, nativeLoadError };
}

/** The active backend (module-internal hot path and tests). */
export function secp(): Secp256k1Backend {
  return active;
}

/** Select the backend explicitly (tests, benchmarks). @throws Error if native is unavailable */
export function useCryptoBackend(name: Secp256k1Backend['name']): void {
  if (name === 'libsecp256k1') {
    if (nativeBackend === undefined) throw new Error(`libsecp256k1 is unavailable: ${nativeLoadError ?? 'unknown'}`);
    active = nativeBackend;
  } else {
    active = nobleBackend;
  }
}
