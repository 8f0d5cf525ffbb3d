/**
 * The resume sidecar: a small JSON file next to the partial download saying which file it
 * is, which channel pays for it and how many leading chunks are on disk. The count is a
 * hint: on resume every one of those chunks is re-verified against its leaf CID before
 * it is trusted, so a stale or hostile sidecar can cost a re-download, never bad bytes.
 */
import { readFile, rm } from 'node:fs/promises';
import { SluiceError, type ChannelId } from '@sluice/channel-core';
import { writeFileAtomic } from '@sluice/provider/content';

export interface SidecarState {
  readonly version: 1;
  readonly cid: string;
  readonly size: number;
  readonly chunks: number;
  readonly channelId: ChannelId;
  /** Leading chunks written to the part file (re-verified on resume). */
  readonly verified: number;
  /**
   * The file is complete and saved under its name; only closing its channel is left (`--close`
   * failed). A re-run then only closes: nothing is downloaded or paid again.
   */
  readonly complete?: true;
  /** With `complete`: the price per chunk paid (for the report of the close-only re-run). */
  readonly price?: bigint;
  /**
   * Credit paid during this download that the provider wrote off without delivering chunks
   * for it (a later READY's `baseline` above what the earlier sessions received): it counts
   * against the prepaid window for the rest of the download, across runs.
   */
  readonly lost?: bigint;
  /**
   * The `baseline` the next session on `channelId` should announce: set when a session ended
   * other than by our own cancel (what it started from + the chunks it delivered × price).
   */
  readonly expectBaseline?: bigint;
  /**
   * The channel's signed total when `expectBaseline` was recorded. Another download on the same
   * channel since then (the client reuses a channel for the same provider) consumed at most what
   * it paid beyond this, so the expectation rises by that much.
   */
  readonly expectPaid?: bigint;
}

const AMOUNT = /^[0-9]{1,78}$/;
const amountField = (x: unknown): bigint | undefined => {
  if (x === undefined) return undefined;
  if (typeof x !== 'string' || !AMOUNT.test(x)) throw new TypeError('bad sidecar');
  return BigInt(x);
};

export async function loadSidecar(path: string): Promise<SidecarState | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: string }).code === 'ENOENT') return undefined;
    throw e;
  }
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    if (o['version'] !== 1 || typeof o['cid'] !== 'string' || typeof o['channelId'] !== 'string' || !/^0x[0-9a-f]{64}$/i.test(o['channelId'])) throw new TypeError('bad sidecar');
    const size = o['size'];
    const chunks = o['chunks'];
    const verified = o['verified'];
    if (!Number.isSafeInteger(size) || !Number.isSafeInteger(chunks) || !Number.isSafeInteger(verified) || (verified as number) < 0 || (verified as number) > (chunks as number)) throw new TypeError('bad sidecar');
    if (o['complete'] !== undefined && (o['complete'] !== true || verified !== chunks)) throw new TypeError('bad sidecar');
    const price = amountField(o['price']);
    const lost = amountField(o['lost']);
    const expectBaseline = amountField(o['expectBaseline']);
    const expectPaid = amountField(o['expectPaid']);
    return {
      version: 1, cid: o['cid'], size: size as number, chunks: chunks as number, channelId: o['channelId'] as ChannelId, verified: verified as number,
      ...(o['complete'] === true ? { complete: true as const } : {}),
      ...(price === undefined ? {} : { price }),
      ...(lost === undefined ? {} : { lost }),
      ...(expectBaseline === undefined ? {} : { expectBaseline }),
      ...(expectPaid === undefined ? {} : { expectPaid }),
    };
  } catch (e) {
    throw new SluiceError('DECODE_FAILED', `resume state ${path} is malformed; delete it to start over`, { cause: e });
  }
}

export async function saveSidecar(path: string, state: SidecarState): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(state, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)), false);
}

export async function removeSidecar(path: string): Promise<void> {
  await rm(path, { force: true });
}
