/**
 * `sluice keys new|import|address` — the node key as an encrypted JSON keystore (Web3 Secret
 * Storage via ethers: scrypt + AES-128-CTR), written atomically with mode 0600. The passphrase
 * comes from `$SLUICE_PASSPHRASE` or a TTY prompt, never from a flag; an imported private key
 * comes from `$SLUICE_KEY`, standard input, or a TTY prompt, never from a flag either.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command, Option } from 'commander';
import { SluiceError } from '@sluice/channel-core';
import { type CommandIo, type CommandResult, getPassphrase, reportError } from './io.ts';

interface KeysOptions {
  keyFile: string;
  json: boolean;
  force?: boolean;
}

/** Where `sluice keys new|import` write the key, and where get/status/withdraw look for one when no key flag is given. */
export const DEFAULT_KEY_FILE = join(homedir(), '.sluice', 'key.json');

function keyFileOption(): Option {
  return new Option('--key-file <file>', 'the keystore file').env('SLUICE_KEY_FILE').default(DEFAULT_KEY_FILE);
}

/** "key file already exists" from the keys module, with the flag that replaces it named. */
function withForceHint(e: unknown): unknown {
  if (!(e instanceof SluiceError) || !e.message.startsWith('key file already exists')) return e;
  return new SluiceError(e.code, `${e.message}: --force replaces it (the key in it is then lost unless you have a copy)`, { cause: e });
}

async function readStdin(): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of process.stdin) parts.push(c as Buffer);
  return Buffer.concat(parts).toString('utf8').trim();
}

/** The private key to import: $SLUICE_KEY, else piped stdin, else a TTY prompt (not echoed). */
async function privateKeyToImport(): Promise<string> {
  const env = process.env['SLUICE_KEY'];
  if (env !== undefined && env !== '') return env.trim();
  if (!process.stdin.isTTY) {
    const text = await readStdin();
    if (text === '') throw new SluiceError('INVALID_ARGUMENT', 'no private key: set SLUICE_KEY or pipe the 0x-hex key on standard input');
    return text;
  }
  const { createInterface } = await import('node:readline');
  const { Writable } = await import('node:stream');
  process.stderr.write('private key (0x-hex, not echoed): ');
  const rl = createInterface({ input: process.stdin, output: new Writable({ write: (_c, _e, cb) => cb() }), terminal: true });
  try {
    return (await new Promise<string>((done) => rl.question('', done))).trim();
  } finally {
    rl.close();
    process.stderr.write('\n');
  }
}

function print(io: CommandIo, opts: KeysOptions, address: string, file: string, verb: string): void {
  if (opts.json) io.stdout.write(`${JSON.stringify({ ok: true, address, keyFile: file })}\n`);
  else if (verb === '') io.stdout.write(`${address}\n`);
  else io.stdout.write(`${verb} ${file}\naddress ${address}\n`);
}

/** Register `sluice keys` and its subcommands on `program`. */
export function addKeysCommand(program: Command, io: CommandIo, result: CommandResult): void {
  const keys = program
    .command('keys')
    .description('manage the node key: an encrypted JSON keystore (mode 0600); passphrase from $SLUICE_PASSPHRASE or a TTY prompt, never a flag');

  keys
    .command('new')
    .description('create a new random key in an encrypted keystore and print its address')
    .addOption(keyFileOption())
    .option('--force', 'overwrite an existing key file (the old key is lost unless backed up)', false)
    .option('--json', 'print {"ok", "address", "keyFile"} as one JSON line', false)
    .action(async (opts: KeysOptions) => {
      try {
        const file = resolve(opts.keyFile);
        const pass = await getPassphrase(`passphrase for the new key ${file}: `, true);
        const { newKeyFile } = await import('@sluice/channel-core/keys');
        const address = await newKeyFile(file, pass, { overwrite: opts.force === true });
        print(io, opts, address, file, 'wrote');
      } catch (e) {
        result.code = exit(e);
        reportError(io, opts.json, withForceHint(e), result.code);
      }
    });

  keys
    .command('import')
    .description('encrypt an existing private key into a keystore; the key is read from $SLUICE_KEY, standard input, or a TTY prompt (never a flag)')
    .addOption(keyFileOption())
    .option('--force', 'overwrite an existing key file', false)
    .option('--json', 'print {"ok", "address", "keyFile"} as one JSON line', false)
    .action(async (opts: KeysOptions) => {
      try {
        const file = resolve(opts.keyFile);
        const key = await privateKeyToImport();
        const pass = await getPassphrase(`passphrase for ${file}: `, true);
        let address: string;
        try {
          const { writeKeyFile } = await import('@sluice/channel-core/keys');
          address = await writeKeyFile(file, key, pass, { overwrite: opts.force === true });
        } catch (e) {
          if (e instanceof SluiceError) throw e;
          throw new SluiceError('INVALID_ARGUMENT', 'the private key must be 32 bytes, 0x-hex');
        }
        print(io, opts, address, file, 'wrote');
      } catch (e) {
        result.code = exit(e);
        reportError(io, opts.json, withForceHint(e), result.code);
      }
    });

  keys
    .command('address')
    .description("print a keystore's address (no passphrase needed: the address is stored in clear)")
    .addOption(keyFileOption())
    .option('--json', 'print {"ok", "address", "keyFile"} as one JSON line', false)
    .action(async (opts: KeysOptions) => {
      try {
        const file = resolve(opts.keyFile);
        const { keyFileAddress } = await import('@sluice/channel-core/keys');
        print(io, opts, keyFileAddress(file), file, '');
      } catch (e) {
        result.code = exit(e);
        reportError(io, opts.json, e, result.code);
      }
    });
}

function exit(e: unknown): number {
  return e instanceof SluiceError && e.code === 'INVALID_ARGUMENT' ? 2 : 1;
}
