import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseJson, stringifyJson } from '../src/json.ts';
import { bytesToHex, hexToBytes } from '../src/hex.ts';

// The replacer/reviver formulation json.ts used before (and whose output the store and the wire
// hold): the oracle the faster walk must match exactly.
function oracleStringify(value: unknown): string {
  return JSON.stringify(value, function (this: Record<string, unknown>, key: string, v: unknown) {
    const raw = this[key];
    if (typeof raw === 'bigint') return { $n: raw.toString() };
    if (raw instanceof Uint8Array) return { $b: bytesToHex(raw) };
    return v;
  });
}
function oracleParse(text: string): unknown {
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

function outcomeOf<T>(f: () => T): { ok: T } | { err: string } {
  try {
    return { ok: f() };
  } catch (e) {
    return { err: `${(e as Error).name}: ${(e as Error).message}` };
  }
}

const key = fc.oneof(fc.string(), fc.constantFrom('$n', '$b', '__proto__', 'toString', 'constructor', ''));
const leaf = fc.oneof(
  fc.constant(null),
  fc.constant(undefined),
  fc.boolean(),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.bigInt({ min: -(1n << 300n), max: 1n << 300n }),
  fc.uint8Array({ maxLength: 70 }),
);
const value = fc.letrec((tie) => ({
  v: fc.oneof({ depthSize: 'small' }, leaf, fc.array(tie('v'), { maxLength: 5 }), fc.dictionary(key, tie('v'), { maxKeys: 5 }), fc.record({ $n: tie('v') }), fc.record({ $b: tie('v') })),
})).v;

test('stringifyJson is byte-identical to the replacer formulation for any value', () => {
  fc.assert(fc.property(value, (v) => void assert.deepEqual(outcomeOf(() => stringifyJson(v)), outcomeOf(() => oracleStringify(v)))), { numRuns: 2000 });
});

test('stringifyJson handles toJSON, boxed primitives, class instances, Buffers, __proto__ keys and cycles like the replacer formulation', () => {
  class Thing {
    a = 1n;
    b = new Uint8Array([1, 2]);
  }
  const withProto = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as unknown;
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic['self'] = cyclic;
  const deep: unknown[] = [];
  let cur = deep;
  for (let i = 0; i < 500; i++) {
    const next: unknown[] = [1n];
    cur.push(next);
    cur = next;
  }
  const cases: unknown[] = [
    { d: new Date(0), n: 5n },
    { t: { toJSON: () => ({ inner: 7n, bytes: new Uint8Array([9]) }) } },
    // eslint-disable-next-line no-new-wrappers
    { boxed: new Number(3), s: new String('x'), b: new Boolean(false) },
    new Thing(),
    { buf: Buffer.from([1, 2, 3]) },
    withProto,
    { m: new Map([[1, 2]]), set: new Set([1]), f: () => 1, sym: Symbol('s'), u16: new Uint16Array([1, 2]) },
    [undefined, () => 1, Symbol('s'), Number.NaN, -0, Infinity, 1e21],
    deep,
    cyclic,
    7n,
    new Uint8Array(0),
  ];
  for (const c of cases) assert.deepEqual(outcomeOf(() => stringifyJson(c)), outcomeOf(() => oracleStringify(c)));
});

test('parseJson gives what the reviver formulation gives (values and errors) for any text', () => {
  const texts = fc.oneof(
    value.map((v) => outcomeOf(() => oracleStringify(v))).filter((r): r is { ok: string } => 'ok' in r && r.ok !== undefined).map((r) => r.ok),
    fc.constantFrom(
      '{"$n":"12"}',
      '{"$n":12}',
      '{"$n":"012"}',
      '{"$n":"-0"}',
      '{"$n":"1","x":1}',
      '{"$b":"0x0a"}',
      '{"$b":"0xzz"}',
      '{"$b":"0x0"}',
      '{"$b":5}',
      '{"$b":{"$n":"1"}}',
      '{"$n":{"$b":"0x"}}',
      '[{"$n":"1"},{"a":{"$b":"0x01ff"}}]',
      '{"__proto__":{"$n":"5"},"k":{"$b":"0x00"}}',
      '{"__proto__":{"polluted":true}}',
      'not json',
      '',
      '"x"',
      '[[[[{"$n":"99999999999999999999999999999999999999999999999999999999999999999999999999999"}]]]]',
    ),
  );
  fc.assert(
    fc.property(texts, (t) => {
      const got = outcomeOf(() => parseJson(t));
      const want = outcomeOf(() => oracleParse(t));
      assert.deepEqual(got, want);
      if ('ok' in got && got.ok !== null && typeof got.ok === 'object') {
        assert.equal(Object.getPrototypeOf(got.ok), Object.getPrototypeOf((want as { ok: unknown }).ok));
      }
    }),
    { numRuns: 2000 },
  );
});

test('parseJson keeps "__proto__" as an own property and never changes a prototype', () => {
  const v = parseJson('{"__proto__":{"$n":"5"},"a":{"__proto__":{"$b":"0x01"}}}') as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(v), Object.prototype);
  assert.ok(Object.hasOwn(v, '__proto__'));
  assert.equal(Object.getOwnPropertyDescriptor(v, '__proto__')?.value, 5n);
  const a = v['a'] as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(a), Object.prototype);
  assert.deepEqual(Object.getOwnPropertyDescriptor(a, '__proto__')?.value, new Uint8Array([1]));
  assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
});
