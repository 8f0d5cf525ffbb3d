import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { parseJson, stringifyJson } from '../src/json.ts';
import { serveStdio, MAX_STDIO_LINE, type StdioMethods } from '../src/node/stdio.ts';

/** Serve `methods`, send `lines`, close the input; the answers, parsed, in the order written. */
async function exchange(methods: StdioMethods, lines: string[]): Promise<Record<string, unknown>[]> {
  const input = new PassThrough();
  const output = new PassThrough();
  const chunks: string[] = [];
  output.on('data', (c: Buffer) => chunks.push(c.toString('utf8')));
  const served = serveStdio(methods, { input, output });
  for (const l of lines) input.write(l + '\n');
  input.end();
  await served;
  await new Promise((r) => setTimeout(r, 20)); // calls still settling after the input ended
  return chunks.join('').split('\n').filter((l) => l !== '').map((l) => parseJson(l) as Record<string, unknown>);
}

test('stdio: calls by name with tagged-JSON params and results (bigints survive)', async () => {
  const out = await exchange({ add: (a: never, b: never) => (a as bigint) + (b as bigint) }, [stringifyJson({ id: 7, method: 'add', params: [2n ** 70n, 1n] })]);
  assert.deepEqual(out, [{ id: 7, result: 2n ** 70n + 1n }]);
});

test('stdio: a thrown error is answered with its code; a rejected outcome with its code only', async () => {
  const methods: StdioMethods = {
    boom: () => {
      throw Object.assign(new Error('no funds'), { code: 'INSUFFICIENT_FUNDS' });
    },
    refuse: async () => ({ kind: 'rejected', error: Object.assign(new Error('x'), { code: 'HUB_POLICY_REJECTED' }) }),
  };
  const out = await exchange(methods, [JSON.stringify({ id: 1, method: 'boom', params: [] }), JSON.stringify({ id: 2, method: 'refuse' })]);
  assert.deepEqual(
    out.sort((a, b) => (a['id'] as number) - (b['id'] as number)),
    [
      { id: 1, error: { code: 'INSUFFICIENT_FUNDS', message: 'no funds' } },
      { id: 2, result: { kind: 'rejected', code: 'HUB_POLICY_REJECTED' } },
    ],
  );
});

test('stdio: malformed lines, inherited names and unknown methods are answered, never called', async () => {
  let called = 0;
  const methods: StdioMethods = { ok: () => ++called };
  const out = await exchange(methods, [
    'not json',
    '[1,2]',
    JSON.stringify({ id: 'x', method: 'ok' }),
    JSON.stringify({ id: 3, method: 'ok', params: 'nope' }),
    JSON.stringify({ id: 4, method: 'constructor', params: [] }),
    JSON.stringify({ id: 5, method: 'toString', params: [] }),
    JSON.stringify({ id: 6, method: 'ok', params: ['x'.repeat(MAX_STDIO_LINE)] }),
    '',
    JSON.stringify({ id: 8, method: 'ok', params: [] }),
  ]);
  const codes = out.map((a) => `${String(a['id'])} ${(a['error'] as { code?: string } | undefined)?.code ?? 'ok'}`);
  assert.deepEqual(codes, [
    'null PROTOCOL_MALFORMED',
    'null PROTOCOL_MALFORMED',
    'null PROTOCOL_MALFORMED',
    '3 PROTOCOL_MALFORMED',
    '4 UNKNOWN_METHOD',
    '5 UNKNOWN_METHOD',
    'null PROTOCOL_MALFORMED',
    '8 ok',
  ]);
  assert.equal(called, 1);
});
