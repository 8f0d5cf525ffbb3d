/**
 * Drive a node from another process over a line protocol (`@sluice/channel-core/node/stdio`):
 * one tagged-JSON line per request on the input, `{"id":1,"method":"pay","params":[...]}`, and one
 * per answer on the output, `{"id":1,"result":...}` or `{"id":1,"error":{"code","message"}}`.
 * Requests run concurrently; answers come in the order they settle. Tagged JSON (`json.ts`) carries
 * bigints and byte strings both ways. The kill/restart suite (`test/e2e/node-process.ts`) and
 * `bench:chaos` (`bench/lib/chaos-node.ts`) run their nodes this way.
 *
 * A result that is a rejected outcome (`{ kind: 'rejected', error }`) goes out as
 * `{ kind: 'rejected', code }`: the error object itself does not survive JSON.
 */
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { parseJson, stringifyJson } from '../json.ts';

/** The methods a peer process may call, by name. */
export type StdioMethods = Readonly<Record<string, (...args: never[]) => unknown>>;

/** Longest request line accepted (longer ones are answered with `PROTOCOL_MALFORMED`). */
export const MAX_STDIO_LINE = 1 << 20;

/** Write one tagged-JSON line. */
export function writeStdioLine(x: unknown, output: Writable = process.stdout): void {
  output.write(stringifyJson(x) + '\n');
}

function errorOf(e: unknown): { code: string; message: string } {
  const code = (e as { code?: unknown } | null)?.code;
  return { code: typeof code === 'string' ? code : 'unknown', message: e instanceof Error ? e.message : String(e) };
}

/**
 * Answer requests from `input` until it ends. A line that is not a request (not JSON, no numeric
 * `id`, no string `method`, `params` not an array, too long) is answered with `PROTOCOL_MALFORMED`
 * (with its `id` when it could be read); an unknown method with `UNKNOWN_METHOD`. Only own properties of
 * `methods` are callable.
 */
export async function serveStdio(methods: StdioMethods, opts: { input?: Readable; output?: Writable } = {}): Promise<void> {
  const output = opts.output ?? process.stdout;
  const answer = (x: unknown): void => writeStdioLine(x, output);
  for await (const line of createInterface({ input: opts.input ?? process.stdin, crlfDelay: Infinity })) {
    if (line.trim() === '') continue;
    let req: { id?: unknown; method?: unknown; params?: unknown };
    try {
      if (line.length > MAX_STDIO_LINE) throw new Error(`request line longer than ${MAX_STDIO_LINE} characters`);
      req = parseJson(line) as typeof req;
      if (req === null || typeof req !== 'object') throw new Error('a request is a JSON object');
    } catch (e) {
      answer({ id: null, error: { code: 'PROTOCOL_MALFORMED', message: e instanceof Error ? e.message : String(e) } });
      continue;
    }
    const id = typeof req.id === 'number' && Number.isSafeInteger(req.id) ? req.id : null;
    const params = req.params ?? [];
    if (id === null || typeof req.method !== 'string' || !Array.isArray(params)) {
      answer({ id, error: { code: 'PROTOCOL_MALFORMED', message: 'a request has a numeric id, a string method and an array of params' } });
      continue;
    }
    const name = req.method;
    const fn = Object.hasOwn(methods, name) ? methods[name] : undefined;
    if (fn === undefined) {
      answer({ id, error: { code: 'UNKNOWN_METHOD', message: `unknown method ${name}` } });
      continue;
    }
    void (async () => {
      try {
        const result = await (fn as (...a: unknown[]) => unknown)(...params);
        const rejected = result !== null && typeof result === 'object' && 'kind' in result && result.kind === 'rejected';
        answer({ id, result: rejected ? { kind: 'rejected', code: errorOf((result as { error?: unknown }).error).code } : result });
      } catch (e) {
        answer({ id, error: errorOf(e) });
      }
    })();
  }
}
