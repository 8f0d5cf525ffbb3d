/**
 * `@sluice/channel-core/keys`: the node's secp256k1 key on disk.
 *
 * Keys live in an encrypted JSON keystore (Web3 Secret Storage, as written by ethers v6: scrypt +
 * AES-128-CTR), created with mode 0600 and written atomically. The passphrase comes from the
 * environment (`SLUICE_PASSPHRASE` by default) or the caller (a TTY prompt in the CLIs). A dev mode
 * hands out anvil's well-known funded accounts, and refuses anything but a local chain.
 *
 * Errors never contain keys or passphrases.
 */
import { HDNodeWallet, encryptKeystoreJson, decryptKeystoreJson, isKeystoreJson, randomBytes, type KeystoreAccount } from 'ethers';
import { chmodSync, mkdirSync, openSync, writeSync, fsyncSync, closeSync, readFileSync, renameSync, statSync, existsSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { type Address, bytesToHex, hexToBytes } from '../hex.ts';
import { parseAddress, parsePrivateKey, privateKeyToAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import { LOCAL_CHAIN_IDS } from '../chain.ts';

export const DEFAULT_PASSPHRASE_ENV = 'SLUICE_PASSPHRASE';

/** The mnemonic anvil (and hardhat) derive their funded dev accounts from. Public knowledge; dev only. */
export const ANVIL_MNEMONIC = 'test test test test test test test test test test test junk';

/** Chain ids that count as local development chains (anvil/hardhat). */
export { LOCAL_CHAIN_IDS };

export interface KeyFileOptions {
  /** scrypt cost N (default 2^17 as in ethers; tests may lower it). */
  readonly scryptN?: number;
  /** Overwrite an existing file (default false). */
  readonly overwrite?: boolean;
}

function atomicWrite0600(path: string, text: string, overwrite: boolean): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!overwrite && existsSync(path)) {
    throw new SluiceError('INVALID_ARGUMENT', `key file already exists: ${path} (refusing to overwrite)`);
  }
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
  const dfd = openSync(dirname(path), 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function checkPassphrase(passphrase: string): void {
  if (typeof passphrase !== 'string' || passphrase.length < 8) {
    throw new SluiceError('INVALID_ARGUMENT', 'the passphrase must be at least 8 characters');
  }
}

/**
 * Encrypt `privateKey` into a keystore at `path` (mode 0600, atomic, fsync'd).
 * @returns the key's address
 * @throws SluiceError INVALID_ARGUMENT (weak passphrase, file exists), TypeError (bad key)
 */
export async function writeKeyFile(path: string, privateKey: Uint8Array | string, passphrase: string, options: KeyFileOptions = {}): Promise<Address> {
  checkPassphrase(passphrase);
  const key = parsePrivateKey(privateKey);
  const address = privateKeyToAddress(key);
  const account: KeystoreAccount = { address, privateKey: bytesToHex(key) };
  const json = await encryptKeystoreJson(account, passphrase, options.scryptN === undefined ? {} : { scrypt: { N: options.scryptN } });
  atomicWrite0600(path, `${json}\n`, options.overwrite ?? false);
  return address;
}

/** Create a new random key at `path`. @returns its address */
export async function newKeyFile(path: string, passphrase: string, options: KeyFileOptions = {}): Promise<Address> {
  return writeKeyFile(path, randomBytes(32), passphrase, options);
}

/** The address in a keystore, without decrypting it. @throws SluiceError INVALID_ARGUMENT */
export function keyFileAddress(path: string): Address {
  const json = readKeystore(path);
  const addr = (JSON.parse(json) as { address?: unknown }).address;
  if (typeof addr !== 'string' || !/^(0x)?[0-9a-fA-F]{40}$/.test(addr)) {
    throw new SluiceError('INVALID_ARGUMENT', `no address in key file ${path}`);
  }
  return parseAddress(addr.startsWith('0x') ? addr : `0x${addr}`, 'key file address');
}

function readKeystore(path: string): string {
  let json: string;
  try {
    const st = statSync(path);
    if (st.size > 64 * 1024) throw new Error('too large');
    json = readFileSync(path, 'utf8');
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', `cannot read key file ${path}`, { cause: e instanceof Error ? new Error(e.message) : undefined });
  }
  if (!isKeystoreJson(json)) throw new SluiceError('INVALID_ARGUMENT', `${path} is not an encrypted JSON keystore`);
  return json;
}

/**
 * Decrypt a keystore.
 * @returns the 32-byte private key and its address
 * @throws SluiceError INVALID_ARGUMENT on a wrong passphrase or unreadable file (never echoing either)
 */
export async function readKeyFile(path: string, passphrase: string): Promise<{ privateKey: Uint8Array; address: Address }> {
  const json = readKeystore(path);
  let account: KeystoreAccount;
  try {
    account = await decryptKeystoreJson(json, passphrase);
  } catch {
    throw new SluiceError('INVALID_ARGUMENT', `wrong passphrase for key file ${path}`);
  }
  const privateKey = hexToBytes(account.privateKey, 'privateKey');
  return { privateKey, address: privateKeyToAddress(privateKey) };
}

/** The passphrase from the environment, if set. */
export function passphraseFromEnv(env: NodeJS.ProcessEnv = process.env, name = DEFAULT_PASSPHRASE_ENV): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/**
 * Anvil's funded dev account `index` (0-9), only for a local chain.
 * @throws SluiceError INVALID_ARGUMENT when `chainId` is not a local chain id
 */
export function devAccount(index: number, chainId: bigint): { privateKey: Uint8Array; address: Address } {
  if (!LOCAL_CHAIN_IDS.includes(chainId)) {
    throw new SluiceError('INVALID_ARGUMENT', `dev keys are only for a local chain (chain id ${chainId} is not one of ${LOCAL_CHAIN_IDS.join(', ')})`);
  }
  if (!Number.isInteger(index) || index < 0 || index > 9) throw new RangeError('dev account index must be 0-9');
  const wallet = HDNodeWallet.fromPhrase(ANVIL_MNEMONIC, undefined, `m/44'/60'/0'/0/${index}`);
  const privateKey = hexToBytes(wallet.privateKey, 'privateKey');
  return { privateKey, address: privateKeyToAddress(privateKey) };
}

/**
 * Ask a question on the terminal (stderr) and read the answer from stdin without echoing it,
 * for passphrases. The caller checks `process.stdin.isTTY` first.
 */
export async function promptHidden(question: string): Promise<string> {
  process.stderr.write(question);
  let muted = true;
  const output = new Writable({
    write(chunk, _enc, cb) {
      if (!muted) process.stderr.write(chunk as Buffer);
      cb();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    return await new Promise<string>((done) => rl.question('', done));
  } finally {
    muted = false;
    rl.close();
    process.stderr.write('\n');
  }
}
