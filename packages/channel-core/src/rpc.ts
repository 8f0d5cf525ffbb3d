/**
 * Small JSON-RPC helpers shared by the node and the CLIs: reading a chain's id before anything
 * else is built, and naming an RPC endpoint in messages without its secrets (hosted endpoints
 * carry an API key in the path or the query, some credentials in the user info).
 */
import { SluiceError } from './errors.ts';

/**
 * The endpoint as messages and logs may show it: scheme, host and port; a path or query is
 * replaced by `/…` (it may hold an API key), user info is dropped. Not a URL to use.
 */
export function rpcUrlForDisplay(rpcUrl: string): string {
  let u: URL;
  try {
    u = new URL(rpcUrl);
  } catch {
    return '(an invalid URL)';
  }
  const rest = u.pathname !== '/' || u.search !== '' || u.hash !== '' ? '/…' : '';
  return `${u.protocol}//${u.host}${rest}`;
}

/**
 * One JSON-RPC call; its `result`, checked by `isResult`.
 * @throws SluiceError CHAIN_RPC when the endpoint cannot be reached or answers no such result
 */
async function rpcCall<T>(rpcUrl: string, method: string, params: unknown[], isResult: (x: unknown) => x is T, options: { timeoutMs?: number; signal?: AbortSignal }): Promise<T> {
  const where = rpcUrlForDisplay(rpcUrl);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  let res: Response;
  let text: string;
  try {
    res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      signal: options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]),
    });
    text = await res.text();
  } catch (e) {
    throw new SluiceError('CHAIN_RPC', `cannot reach the chain at ${where}`, { cause: e });
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const result = typeof body === 'object' && body !== null ? (body as { result?: unknown }).result : undefined;
  if (!isResult(result)) throw new SluiceError('CHAIN_RPC', `the chain at ${where} gave no answer to ${method} (HTTP ${res.status})`);
  return result;
}

const isQuantity = (x: unknown): x is string => typeof x === 'string' && /^0x[0-9a-fA-F]{1,64}$/.test(x);
const isBlock = (x: unknown): x is { timestamp: string } => typeof x === 'object' && x !== null && isQuantity((x as { timestamp?: unknown }).timestamp);

/**
 * `eth_chainId` of the RPC at `rpcUrl`.
 * @throws SluiceError CHAIN_RPC when the endpoint cannot be reached or gives no chain id (the
 *   message names the endpoint by {@link rpcUrlForDisplay})
 */
export async function readRpcChainId(rpcUrl: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<bigint> {
  return BigInt(await rpcCall(rpcUrl, 'eth_chainId', [], isQuantity, options));
}

/**
 * The chain's mean block time in seconds over its last `blocks` blocks (default 100), or
 * `undefined` when it has fewer than 2.
 * @throws SluiceError CHAIN_RPC
 */
export async function readBlockTime(rpcUrl: string, options: { blocks?: number; timeoutMs?: number; signal?: AbortSignal } = {}): Promise<number | undefined> {
  const head = Number(BigInt(await rpcCall(rpcUrl, 'eth_blockNumber', [], isQuantity, options)));
  const from = Math.max(0, head - (options.blocks ?? 100));
  if (head - from < 1) return undefined;
  const at = async (n: number): Promise<number> => Number(BigInt((await rpcCall(rpcUrl, 'eth_getBlockByNumber', [`0x${n.toString(16)}`, false], isBlock, options)).timestamp));
  const [t0, t1] = await Promise.all([at(from), at(head)]);
  return Math.max(0, t1 - t0) / (head - from);
}
