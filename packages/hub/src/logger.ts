/**
 * Logging: pino with fixed keys (`channelId`, `objectiveId`, `peer`, `amount`) and redaction of
 * anything key- or passphrase-shaped, plus a tap that turns the engine's and messaging's log
 * lines into metrics (relayed messages, error codes) without changing them.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config.ts';

/** Field names never written (defence in depth: nothing should pass them to the logger). */
export const REDACT_PATHS = [
  'privateKey',
  'key',
  'passphrase',
  'password',
  'secret',
  '*.privateKey',
  '*.key',
  '*.passphrase',
  '*.password',
  '*.secret',
];

/** A pino logger for the hub. `amount` values (bigint) are written as decimal strings. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const opts = {
    level,
    base: { service: 'sluice-hub' },
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    formatters: {
      log(obj: Record<string, unknown>): Record<string, unknown> {
        let out: Record<string, unknown> | undefined;
        for (const [k, v] of Object.entries(obj)) {
          if (typeof v === 'bigint') (out ??= { ...obj })[k] = v.toString();
        }
        return out ?? obj;
      },
    },
  };
  return destination === undefined ? pino(opts) : pino(opts, destination);
}

/** The logger interface the engine and messaging take. */
export interface PlainLogger {
  debug(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Wrap `logger` for the node: every line still goes to `logger`; `onLine` sees it first
 * (whatever the level) so metrics count relays and errors even when debug lines are dropped.
 */
export function tapLogger(logger: Logger, onLine: (level: 'debug' | 'info' | 'warn' | 'error', obj: Record<string, unknown>, msg: string) => void): PlainLogger {
  const wrap =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (obj: object, msg: string): void => {
      try {
        onLine(level, obj as Record<string, unknown>, msg);
      } catch {
        // metrics must never break logging
      }
      logger[level](obj, msg);
    };
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') };
}
