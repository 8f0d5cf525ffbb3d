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
 * `eth_chainId` of the RPC at `rpcUrl`.
 * @throws SluiceError CHAIN_RPC when the endpoint cannot be reached or gives no chain id (the
 *   message names the endpoint by {@link rpcUrlForDisplay})
 */
export async function readRpcChainId(rpcUrl: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<bigint> {
  const where = rpcUrlForDisplay(rpcUrl);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? 10_000);
  let res: Response;
  let text: string;
  try {
    res = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
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
  if (typeof result !== 'string' || !/^0x[0-9a-fA-F]{1,64}$/.test(result)) {
    throw new SluiceError('CHAIN_RPC', `the chain at ${where} gave no chain id (eth_chainId, HTTP ${res.status})`);
  }
  return BigInt(result);
}
