/**
 * What the `sluice` subcommands in this folder need from their surroundings: output streams,
 * the environment, and a TTY prompt for passphrases (never a flag). Kept apart from `cli.ts`
 * so commands do not import the program that registers them.
 */
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


/** Print an error as one JSON line (`--json`) or a `sluice:` line on stderr. */
export function reportError(io: CommandIo, json: boolean, e: unknown, exitCode: number): void {
  const code = e instanceof SluiceError ? e.code : 'INTERNAL';
  const message = e instanceof Error ? e.message : String(e);
  if (json) io.stdout.write(`${JSON.stringify({ ok: false, error: { code, message }, exitCode })}\n`);
  else io.stderr.write(`sluice: ${message}${e instanceof SluiceError ? ` (${code})` : ''}\n`);
}

export { addConfigFileOption, applyConfigFile } from '@sluice/provider/node-setup-options';
