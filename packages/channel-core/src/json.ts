/**
 * JSON that round-trips the core's values: `bigint` as `{"$n":"123"}` and `Uint8Array` as
 * `{"$b":"0x..."}`. Used for persisted records and node-to-node messages.
 */
import { bytesToHex, hexToBytes } from './hex.ts';

/** Serialize, tagging bigints and byte arrays. */
export function stringifyJson(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    if (raw instanceof Uint8Array) return { $b: bytesToHex(raw) };
    return v;
  });
}

/**
 * Parse JSON written by {@link stringifyJson}.
 * @throws SyntaxError on invalid JSON, TypeError on a malformed tag
 */
export function parseJson(text: string): unknown {
  return JSON.parse(text, (_key, v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1) {
        if (keys[0] === '$n') {
          if (typeof o['$n'] !== 'string' || !/^-?(0|[1-9][0-9]{0,78})$/.test(o['$n'])) throw new TypeError('bad bigint tag');
          return BigInt(o['$n']);
        }
        if (keys[0] === '$b') {
          if (typeof o['$b'] !== 'string') throw new TypeError('bad bytes tag');
          return hexToBytes(o['$b'], 'bytes');
        }
      }
    }
    return v;
  });
}
