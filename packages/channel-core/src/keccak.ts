/**
 * keccak256 for the hot path.
 *
 * `hash-wasm`'s WebAssembly Keccak is ~8x faster than pure JS on the 32-64 byte inputs
 * of vouchers and EIP-191 digests (0.7 us vs 5.6 us on our 2-core machines), which
 * matters when a voucher check costs ~60 us in total. The WASM instance is created once
 * at module load; if WebAssembly is unavailable we fall back to `@noble/hashes`.
 */
import { keccak_256 as nobleKeccak } from '@noble/hashes/sha3.js';
import { createKeccak } from 'hash-wasm';

type Hasher = Awaited<ReturnType<typeof createKeccak>>;

let wasm: Hasher | undefined;
try {
  wasm = await createKeccak(256);
} catch {
  wasm = undefined;
}

/** Which implementation {@link keccak256} uses. */
export const keccakBackend: 'wasm' | 'noble' = wasm === undefined ? 'noble' : 'wasm';

/** keccak256 of `data` as 32 fresh bytes. */
export const keccak256: (data: Uint8Array) => Uint8Array =
  wasm === undefined
    ? (data) => nobleKeccak(data)
    : (data) => {
        const h = wasm!;
        h.init();
        h.update(data);
        return h.digest('binary');
      };
