/**
 * Reading one bounded, length-prefixed frame from a libp2p 3 stream.
 *
 * The reader never buffers more than `maxBody` plus the prefix: an oversize prefix, trailing
 * bytes, an early end or the signal firing all throw (the caller then aborts the stream).
 */
import type { Stream } from '@libp2p/interface';
import { SluiceError } from '../errors.ts';
import { readLengthPrefix } from './envelope.ts';

/**
 * Read exactly one frame body from `stream`.
 * @param maxBody - largest body accepted; a larger length prefix fails before the body is read
 * @throws SluiceError DECODE_FAILED (oversize, trailing bytes, early end), PEER_TIMEOUT or ABORTED
 */
export async function readFrame(stream: Stream, maxBody: number, signal: AbortSignal): Promise<Uint8Array> {
  if (signal.aborted) throw abortError(signal);
  let aborted: SluiceError | undefined;
  const onAbort = (): void => {
    aborted = abortError(signal);
    stream.abort(aborted);
  };
  signal.addEventListener('abort', onAbort, { once: true });
  const chunks: Uint8Array[] = [];
  let buffered = 0;
  let expected: { readonly length: number; readonly headerBytes: number } | undefined;
  try {
    for await (const chunk of stream) {
      const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray();
      chunks.push(bytes);
      buffered += bytes.length;
      if (expected === undefined) {
        expected = readLengthPrefix(concat(chunks, Math.min(buffered, 5)));
        if (expected === undefined) continue;
        if (expected.length > maxBody) {
          throw new SluiceError('DECODE_FAILED', 'frame exceeds the size limit', { details: { length: expected.length, max: maxBody } });
        }
      }
      const total = expected.headerBytes + expected.length;
      if (buffered > total) throw new SluiceError('DECODE_FAILED', 'trailing bytes after frame');
      if (buffered === total) return new Uint8Array(concat(chunks, total).subarray(expected.headerBytes));
    }
    throw new SluiceError('DECODE_FAILED', 'stream ended before a whole frame');
  } catch (e) {
    if (aborted !== undefined) throw aborted;
    throw e;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** The error for an aborted `signal`: PEER_TIMEOUT when its reason is a timeout, else ABORTED. */
export function abortError(signal: AbortSignal): SluiceError {
  const reason: unknown = signal.reason;
  return reason instanceof Error && reason.name === 'TimeoutError'
    ? new SluiceError('PEER_TIMEOUT', 'peer did not answer in time')
    : new SluiceError('ABORTED', 'aborted', { cause: reason });
}

function concat(chunks: Uint8Array[], upTo: number): Uint8Array {
  const first = chunks[0];
  if (chunks.length === 1 && first !== undefined) return first.subarray(0, upTo);
  const out = new Uint8Array(upTo);
  let o = 0;
  for (const c of chunks) {
    if (o >= upTo) break;
    const n = Math.min(c.length, upTo - o);
    out.set(c.subarray(0, n), o);
    o += n;
  }
  return out;
}

/** Write `bytes` and wait for the stream to drain if its buffer is full. */
export async function writeAll(stream: Stream, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  if (!stream.send(bytes)) await stream.onDrain({ signal });
}
