/** A tiny client of the provider's admin API (bearer token), for `sluice-provider settle|status`. */
import { Option } from 'commander';
import { SluiceError } from '@sluice/channel-core';

export interface AdminTarget {
  readonly url: string;
  readonly adminToken?: string;
}

/** `--url` and `--admin-token` (same env vars as `start`). */
export function adminOptions(): Option[] {
  return [
    new Option('--url <url>', "the running provider's base URL").env('SLUICE_PROVIDER_URL').default('http://127.0.0.1:8080'),
    new Option('--admin-token <token>', 'bearer token of its admin API (as given to `start`)').env('SLUICE_ADMIN_TOKEN'),
  ];
}

/**
 * Call the admin API; resolves to the JSON body.
 * @throws SluiceError INVALID_ARGUMENT (no/wrong token), PEER_DISCONNECTED (unreachable), or the
 *   code the provider answered with
 */
export async function adminCall<T>(target: AdminTarget, method: 'GET' | 'POST', path: string, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<T> {
  if (target.adminToken === undefined || target.adminToken === '') throw new SluiceError('INVALID_ARGUMENT', 'give --admin-token (or SLUICE_ADMIN_TOKEN): the admin API of the running provider');
  let res: Response;
  const signals = [AbortSignal.timeout(options.timeoutMs ?? 30_000), ...(options.signal === undefined ? [] : [options.signal])];
  try {
    res = await fetch(new URL(path, target.url), { method, headers: { authorization: `Bearer ${target.adminToken}` }, signal: AbortSignal.any(signals) });
  } catch (e) {
    if (options.signal?.aborted === true) throw new SluiceError('ABORTED', 'interrupted', { cause: e });
    throw new SluiceError('PEER_DISCONNECTED', `cannot reach the provider at ${target.url} (is \`sluice-provider start\` running?)`, { cause: e });
  }
  const body = (await res.json().catch(() => ({}))) as { error?: { code?: string; message?: string } } & Record<string, unknown>;
  if (res.status === 401) throw new SluiceError('INVALID_ARGUMENT', 'the provider refused the admin token');
  if (res.status === 404 && body.error?.code === 'NOT_FOUND') throw new SluiceError('INVALID_ARGUMENT', `the provider at ${target.url} has no ${path} (older version?)`);
  if (!res.ok) {
    const code = typeof body.error?.code === 'string' ? body.error.code : 'INTERNAL';
    throw new SluiceError(code as never, body.error?.message ?? `the provider answered ${res.status}`);
  }
  return body as T;
}
