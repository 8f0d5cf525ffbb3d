/**
 * The deployment file: where Sluice's contracts live on one chain. `sluice deploy` writes it;
 * `sluice-hub start --deployment <file>` (and the other CLIs) read it. (`@sluice/channel-core/deployment`;
 * also exported as `@sluice/hub/deployment`.)
 *
 * ```json
 * { "chainId": 31337, "adjudicator": "0x…", "consensusApp": "0x…", "virtualPaymentApp": "0x…",
 *   "token": "0x…", "deployBlock": 1 }
 * ```
 */
import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { parseAddress } from './address.ts';
import { SluiceError } from './errors.ts';
import type { Address } from './hex.ts';

export interface Deployment {
  /** EIP-155 chain id. */
  readonly chainId: number;
  readonly adjudicator: Address;
  readonly consensusApp: Address;
  readonly virtualPaymentApp: Address;
  /** An ERC20 the deployment also made (test token on local chains). */
  readonly token?: Address;
  /** Block of the adjudicator's deployment: where event scans start. */
  readonly deployBlock: number;
}

function int(v: unknown, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) {
    throw new SluiceError('INVALID_ARGUMENT', `deployment.${name} must be a non-negative integer`);
  }
  return v;
}

function addr(v: unknown, name: string): Address {
  if (typeof v !== 'string') throw new SluiceError('INVALID_ARGUMENT', `deployment.${name} must be an address`);
  try {
    return parseAddress(v, `deployment.${name}`);
  } catch {
    throw new SluiceError('INVALID_ARGUMENT', `deployment.${name} must be a 0x-prefixed 20-byte address`);
  }
}

/**
 * Validate a parsed deployment object.
 * @throws SluiceError INVALID_ARGUMENT naming the bad field
 */
export function parseDeployment(x: unknown): Deployment {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) throw new SluiceError('INVALID_ARGUMENT', 'a deployment is a JSON object');
  const o = x as Record<string, unknown>;
  const d: Deployment = {
    chainId: int(o['chainId'], 'chainId'),
    adjudicator: addr(o['adjudicator'], 'adjudicator'),
    consensusApp: addr(o['consensusApp'], 'consensusApp'),
    virtualPaymentApp: addr(o['virtualPaymentApp'], 'virtualPaymentApp'),
    deployBlock: int(o['deployBlock'], 'deployBlock'),
    ...(o['token'] === undefined || o['token'] === null ? {} : { token: addr(o['token'], 'token') }),
  };
  return d;
}

/**
 * Read and validate a deployment file.
 * @throws SluiceError INVALID_ARGUMENT (unreadable, not JSON, bad field)
 */
export function readDeployment(path: string): Deployment {
  return parseDeployment(readJsonFile(path, 'deployment file'));
}

/**
 * Read and parse a JSON file a CLI was given (`what`: how errors name it, e.g. "config file").
 * @throws SluiceError INVALID_ARGUMENT (unreadable, not JSON)
 */
export function readJsonFile(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', `cannot read ${what} ${path}`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SluiceError('INVALID_ARGUMENT', `${what} ${path} is not JSON`);
  }
}

/** Write a deployment file atomically (fsync'd temp file, rename). */
export function writeDeployment(path: string, d: Deployment): void {
  const checked = parseDeployment(d);
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(checked, null, 2)}\n`);
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
