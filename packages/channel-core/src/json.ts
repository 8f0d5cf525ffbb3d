/**
 * JSON that round-trips the core's values: `bigint` as `{"$n":"123"}` and `Uint8Array` as
 * `{"$b":"0x..."}`. Used for persisted records and node-to-node messages.
 *
 * Both directions avoid `JSON.stringify`'s replacer and `JSON.parse`'s reviver, which call back
 * into JavaScript for every value (the engine writes a whole objective record, several KiB,
 * per protocol step, and parses every peer message): values are converted in a plain walk and
 * the native parser/serializer does the rest. The output and the accepted inputs are exactly
 * those of the replacer/reviver formulation (see test/json.test.ts, which keeps it as the oracle).
 */
import { bytesToHex, hexToBytes } from './hex.ts';

/** Deeper than this, {@link stringifyJson} leaves the work to `JSON.stringify` and a replacer. */
const MAX_WALK_DEPTH = 200;

/** The replacer formulation: used for values the fast walk does not handle itself. */
function stringifyWithReplacer(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    if (raw instanceof Uint8Array) return { $b: bytesToHex(raw) };
    return v;
  });
}

/** Thrown (and caught) when the walk meets something it leaves to the replacer formulation. */
const UNUSUAL: unique symbol = Symbol('unusual');

/**
 * A copy of `v` in which bigints and byte arrays are replaced by their tags; plain objects and
 * arrays are copied, other primitives kept. Anything with a `toJSON`, a boxed primitive or a very
 * deep value throws {@link UNUSUAL} (the caller then uses the replacer formulation).
 */
function tagged(v: unknown, depth: number): unknown {
  if (typeof v === 'bigint') return { $n: v.toString() };
  if (v === null || typeof v !== 'object') return v;
  if (v instanceof Uint8Array) return { $b: bytesToHex(v) };
  if (depth > MAX_WALK_DEPTH) throw UNUSUAL;
  if (Array.isArray(v)) {
    const out: unknown[] = new Array(v.length);
    for (let i = 0; i < v.length; i++) out[i] = tagged(v[i], depth + 1);
    return out;
  }
  const o = v as Record<string, unknown>;
  if (typeof o['toJSON'] === 'function' || v instanceof Number || v instanceof String || v instanceof Boolean || v instanceof BigInt) throw UNUSUAL;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o)) {
    const t = tagged(o[k], depth + 1);
    // define, not assign: a key named "__proto__" must stay an own property
    if (k === '__proto__') Object.defineProperty(out, k, { value: t, enumerable: true, writable: true, configurable: true });
    else out[k] = t;
  }
  return out;
}

/** Serialize, tagging bigints and byte arrays. */
export function stringifyJson(value: unknown): string {
  let plain: unknown;
  try {
    plain = tagged(value, 0);
  } catch (e) {
    if (e !== UNUSUAL) throw e;
    return stringifyWithReplacer(value);
  }
  return JSON.stringify(plain);
}

const BIGINT_TAG_RE = /^-?(0|[1-9][0-9]{0,78})$/;

/** Replace `{"$n"}` / `{"$b"}` tags in a freshly parsed value, children first (as a reviver would). */
function untag(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') {
        const r = untag(x);
        if (r !== x) v[i] = r;
      }
    }
    return v;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  for (const k of keys) {
    const x = o[k];
    if (x !== null && typeof x === 'object') {
      const r = untag(x);
      if (r !== x) Object.defineProperty(o, k, { value: r, enumerable: true, writable: true, configurable: true });
    }
  }
  if (keys.length === 1) {
    if (keys[0] === '$n') {
      if (typeof o['$n'] !== 'string' || !BIGINT_TAG_RE.test(o['$n'])) throw new TypeError('bad bigint tag');
      return BigInt(o['$n']);
    }
    if (keys[0] === '$b') {
      if (typeof o['$b'] !== 'string') throw new TypeError('bad bytes tag');
      return hexToBytes(o['$b'], 'bytes');
    }
  }
  return o;
}

/**
 * Parse JSON written by {@link stringifyJson}.
 * @throws SyntaxError on invalid JSON, TypeError on a malformed tag
 */
export function parseJson(text: string): unknown {
  return untag(JSON.parse(text));
}
