/**
 * The sending end of a protocol 1.2.0 session ({@link SLUICE_SESSION_PROTOCOL}): one
 * long-lived libp2p stream to one next hop, carrying BATCH frames out and ACKS frames back.
 *
 * The receiver answers batches strictly in stream order, so an ACKS frame belongs to the
 * oldest unanswered batch; its ids are checked against that batch. Anything unexpected (an
 * ACKS frame with no batch waiting, other ids, a malformed or oversize frame), an expired or
 * aborted exchange, and the stream closing all end the session: every unanswered exchange
 * fails (the outbox retries it; receivers deduplicate) and the next exchange opens a new
 * stream.
 */
import type { Connection, Stream } from '@libp2p/interface';
import { SluiceError } from '../errors.ts';
import { type Ack, type Envelope, FrameDecoder, MAX_ACKS_BYTES, decodeAcks, encodeBatch, frame } from './envelope.ts';
import { abortError, writeAll } from './frame-stream.ts';

interface Waiting {
  readonly ids: readonly string[];
  resolve(acks: Ack[]): void;
  reject(e: Error): void;
}

export class OutboundSession {
  readonly connection: Connection;
  readonly #stream: Stream;
  readonly #decoder = new FrameDecoder(MAX_ACKS_BYTES);
  readonly #waiting: Waiting[] = [];
  #ended: Error | undefined;

  /**
   * @param stream - a freshly opened {@link SLUICE_SESSION_PROTOCOL} stream
   * @param onEnd - called once when the session ends (to forget it)
   */
  constructor(stream: Stream, connection: Connection, onEnd: () => void) {
    this.#stream = stream;
    this.connection = connection;
    stream.maxReadBufferLength = 4 * (MAX_ACKS_BYTES + 8);
    stream.addEventListener('message', (evt) => {
      const data = evt.data;
      this.#onData(data instanceof Uint8Array ? data : data.subarray());
    });
    stream.addEventListener(
      'close',
      (evt) => {
        this.#end(evt.error ?? new SluiceError('PEER_TIMEOUT', 'session stream closed'));
        onEnd();
      },
      { once: true },
    );
  }

  /** Whether the session can take no more exchanges. */
  get ended(): boolean {
    return this.#ended !== undefined || this.#stream.status !== 'open';
  }

  /** Exchanges written and not yet answered. */
  get inFlight(): number {
    return this.#waiting.length;
  }

  /**
   * Send one batch and wait for its acknowledgements (one per envelope, in order). If `signal`
   * fires first the whole session is aborted (its stream cannot skip an answer).
   * @throws SluiceError PEER_TIMEOUT / ABORTED / DECODE_FAILED, or the stream's error
   */
  async exchange(envelopes: readonly Envelope[], signal: AbortSignal): Promise<Ack[]> {
    if (this.#ended !== undefined) throw this.#ended;
    if (signal.aborted) throw abortError(signal);
    const body = frame(encodeBatch(envelopes));
    const answered = new Promise<Ack[]>((resolve, reject) => this.#waiting.push({ ids: envelopes.map((e) => e.id), resolve, reject }));
    const onAbort = (): void => this.abort(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      await writeAll(this.#stream, body, signal);
      return await answered;
    } catch (e) {
      const err = e instanceof Error ? e : new SluiceError('INTERNAL', 'session exchange failed');
      this.abort(err);
      throw this.#ended ?? err;
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  /** End the session: reset the stream, fail every unanswered exchange. Idempotent. */
  abort(error: Error): void {
    this.#end(error);
    if (this.#stream.status === 'open') this.#stream.abort(error);
  }

  /** Close gracefully (no exchange may be waiting). */
  async close(): Promise<void> {
    this.#end(new SluiceError('ABORTED', 'session closed'));
    await this.#stream.close().catch(() => this.#stream.abort(new Error('close failed')));
  }

  #onData(chunk: Uint8Array): void {
    if (this.#ended !== undefined) return;
    try {
      for (const body of this.#decoder.push(chunk)) {
        const waiting = this.#waiting.shift();
        if (waiting === undefined) throw new SluiceError('DECODE_FAILED', 'acknowledgements with no batch waiting');
        const acks = decodeAcks(body);
        if (acks.length !== waiting.ids.length || acks.some((a, i) => a.id !== waiting.ids[i])) {
          waiting.reject(new SluiceError('DECODE_FAILED', 'acknowledgements for other messages'));
          throw new SluiceError('DECODE_FAILED', 'acknowledgements for other messages');
        }
        waiting.resolve(acks);
      }
    } catch (e) {
      this.abort(e instanceof Error ? e : new SluiceError('DECODE_FAILED', 'bad acknowledgement frame'));
    }
  }

  #end(error: Error): void {
    if (this.#ended !== undefined) return;
    this.#ended = error;
    for (const w of this.#waiting.splice(0)) w.reject(error);
  }
}
