/**
 * Direct handle on the `secp256k1` package's N-API binding (libsecp256k1), loaded the same
 * explicit way channel-core does, for "raw" measurements without any of our wrapping.
 */
import { createRequire } from 'node:module';
import { dirname } from 'node:path';

export interface RawSecp256k1 {
  publicKeyCreate(output: Uint8Array, seckey: Uint8Array): number;
  ecdsaSign(obj: { signature: Uint8Array; recid: number | null }, msg32: Uint8Array, seckey: Uint8Array): number;
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): number;
  ecdsaRecover(output: Uint8Array, sig: Uint8Array, recid: number, msg32: Uint8Array): number;
}

/** The raw binding; throws if the native prebuild cannot load. */
export function loadRawSecp256k1(): RawSecp256k1 {
  const require = createRequire(new URL('../../packages/channel-core/package.json', import.meta.url));
  const dir = dirname(require.resolve('secp256k1/package.json'));
  const nodeGypBuild = require('node-gyp-build') as (dir: string) => { Secp256k1: new () => RawSecp256k1 };
  return new (nodeGypBuild(dir).Secp256k1)();
}
