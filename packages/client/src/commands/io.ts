/**
 * What the `sluice` subcommands in this folder need from their surroundings: output streams,
 * the environment, and a TTY prompt for passphrases (never a flag). Kept apart from `cli.ts`
 * so commands do not import the program that registers them.
 */
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { SluiceError } from '@sluice/channel-core';
import { promptHidden } from '@sluice/channel-core/keys';

/** The environment variable holding the key passphrase (as in `@sluice/channel-core/keys`). */
const DEFAULT_PASSPHRASE_ENV = 'SLUICE_PASSPHRASE';

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean };
}

/** Where a command writes its exit code (the program's result object). */
export interface CommandResult {
  code: number;
}

/**
 * The passphrase from `$SLUICE_PASSPHRASE`, else a prompt on the terminal (not echoed).
 * @param confirm - ask twice and require both to match (for new keys)
 * @throws SluiceError INVALID_ARGUMENT when neither is available or the two entries differ
 */
export async function getPassphrase(question: string, confirm = false, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env[DEFAULT_PASSPHRASE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY) {
    throw new SluiceError('INVALID_ARGUMENT', `a passphrase is needed: set ${DEFAULT_PASSPHRASE_ENV} or run on a terminal`);
  }
  const first = await promptHidden(question);
  if (confirm && (await promptHidden('repeat the passphrase: ')) !== first) throw new SluiceError('INVALID_ARGUMENT', 'the passphrases differ');
  return first;
}


/**
 * Apply a JSON config file to a command: each key is an option's camelCase name; a value is
 * used only where neither a flag nor the environment set the option (flag > env > file > default).
 * @throws SluiceError INVALID_ARGUMENT (unreadable, not a JSON object, unknown key)
 */
export function applyConfigFile(cmd: Command, path: string): void {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SluiceError('INVALID_ARGUMENT', `cannot read config file ${path} (JSON expected)`, { cause: e });
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SluiceError('INVALID_ARGUMENT', `config file ${path} must hold a JSON object`);
  const known = new Map(cmd.options.map((o) => [o.attributeName(), o]));
  for (const [k, v] of Object.entries(json)) {
    const opt = known.get(k);
    if (opt === undefined || k === 'config') throw new SluiceError('INVALID_ARGUMENT', `config file ${path}: unknown option "${k}"`);
    const source = cmd.getOptionValueSource(k);
    if (source === 'cli' || source === 'env') continue;
    const text = typeof v === 'string' ? v : JSON.stringify(v);
    const parse = (opt as unknown as { parseArg?: (value: string, previous: unknown) => unknown }).parseArg;
    let value: unknown;
    try {
      value = typeof v === 'boolean' ? v : parse === undefined ? text : parse(text, undefined);
    } catch (e) {
      throw new SluiceError('INVALID_ARGUMENT', `config file ${path}: ${k}: ${e instanceof Error ? e.message : String(e)}`);
    }
    cmd.setOptionValueWithSource(k, value, 'config');
  }
}

/** Print an error as one JSON line (`--json`) or a `sluice:` line on stderr. */
export function reportError(io: CommandIo, json: boolean, e: unknown, exitCode: number): void {
  const code = e instanceof SluiceError ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code, message }, exitCode })}\n`);
  else io.stderr.write(`sluice: ${message}${e instanceof SluiceError ? ` (${code})` : ''}\n`);
}

/**
 * Give `cmd` a `--config <file>` option (and `envName`) whose JSON object sets any other option of
 * the command by its camelCase name; flags and environment variables win over the file.
 */
export function addConfigFileOption(cmd: Command, envName: string): Command {
  cmd.addOption(new Option('--config <file>', 'JSON config file setting any option of this command by its camelCase name, e.g. {"rpcUrl": "…", "window": 64}; flags and environment variables win').env(envName));
  cmd.hook('preAction', (self) => {
    const path = self.getOptionValue('config') as string | undefined;
    if (path !== undefined) applyConfigFile(self, path);
  });
  return cmd;
}
