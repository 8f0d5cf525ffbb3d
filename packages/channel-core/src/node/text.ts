/** Plain-text helpers the CLIs share: status and dispute views, option parsing. */
import { SluiceError } from '../errors.ts';

/** `1h 02m 03s` of chain time, `-` when no challenge runs. */
export function formatSeconds(s: number | null): string {
  if (s === null) return '-';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  return h > 0 ? `${h}h ${String(m).padStart(2, '0')}m ${String(sec).padStart(2, '0')}s` : m > 0 ? `${m}m ${String(sec).padStart(2, '0')}s` : `${sec}s`;
}

/** `0x12345678…abcd` for long ids. */
export function shortId(id: string): string {
  return id.length > 14 ? `${id.slice(0, 8)}…${id.slice(-4)}` : id;
}

/** A plain text table (columns padded, a dash rule under the head). */
export function textTable(head: string[], rows: string[][]): string {
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [line(head), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A retention period: `90m`, `12h`, `7d` (at least a minute) in ms, or `forever` / `never` → null.
 * @throws SluiceError INVALID_ARGUMENT
 */
export function parseRetention(text: string): number | null {
  const s = text.trim().toLowerCase();
  if (s === 'forever' || s === 'never') return null;
  const m = /^([0-9]{1,6})(m|h|d)$/.exec(s);
  if (m === null || Number(m[1]) === 0) throw new SluiceError('INVALID_ARGUMENT', 'must be a duration such as 90m, 12h or 7d (at least 1m), or "forever"');
  return Number(m[1]) * UNITS[m[2]!]!;
}

/**
 * A challenge duration: a {@link parseRetention} period from 1 minute to 365 days, in seconds.
 * @throws SluiceError INVALID_ARGUMENT (malformed: parseRetention's message; `forever` or longer
 *   than 365 days: the range)
 */
export function parseChallengeDuration(text: string): number {
  const ms = parseRetention(text);
  if (ms === null || ms > 365 * 86_400_000) throw new SluiceError('INVALID_ARGUMENT', 'must be a duration from 1m to 365d, such as 5m, 24h or 30d');
  return ms / 1000;
}

/** `7d`, `12h`, `90m` (the largest unit that divides it), or `forever`. */
export function formatRetention(ms: number | null): string {
  if (ms === null) return 'forever';
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / 60_000)}m`;
}

/**
 * Whether `text` is an absolute URL with one of `schemes` and a host (`http://x`, not `http:x` or
 * `http:///x`). The apps' URL options all check with this.
 */
export function isUrlWith(text: string, schemes: readonly string[] = ['http:', 'https:']): boolean {
  if (!URL.canParse(text)) return false;
  const u = new URL(text);
  return schemes.includes(u.protocol) && u.host !== '' && new RegExp(`^${u.protocol}//[^/]`, 'i').test(text);
}
