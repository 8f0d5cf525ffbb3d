/**
 * The Sluice node-to-node wire format (protocol {@link SLUICE_PROTOCOL}).
 *
 * One libp2p stream carries one exchange: the sender writes one MSG frame, the receiver
 * answers with one ACK frame, both close. A frame is `varint(length) || body`:
 *
 * ```
 * MSG  body: 0x01 | flags u8 (bit0: has from) | idLen u8 | id (ascii) | to (20) | [from (20)] | payload
 * ACK  body: 0x02 | status u8 (0 ok, 1 retry, 2 reject) | idLen u8 | id | reasonLen u8 | reason (ascii)
 * ```
 *
 * `from` is present only on relayed envelopes (the original sender, asserted by the relay);
 * a direct sender is the authenticated remote peer. Every decoder here is total: it returns
 * a value or throws {@link SluiceError} `DECODE_FAILED`, never anything else.
 */
import { checksumAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import { type Address, hexToBytes } from '../hex.ts';

/** The one versioned protocol id of Sluice node messaging. */
export const SLUICE_PROTOCOL = '/sluice/nitro/1.0.0';

const KIND_MSG = 0x01;
const KIND_ACK = 0x02;
const FLAG_FROM = 0x01;

/** Message ids: 1..128 characters of `[A-Za-z0-9._:-]` (no `/`, which relay ids use). */
export const MESSAGE_ID_RE = /^[A-Za-z0-9._:-]{1,128}$/;

/** Largest ACK body we ever need to read. */
export const MAX_ACK_BYTES = 1 + 1 + 1 + 128 + 1 + 255;

/** Bytes a MSG envelope adds to its payload, at most. */
export const ENVELOPE_OVERHEAD = 1 + 1 + 1 + 128 + 20 + 20;

export interface Envelope {
  readonly id: string;
  readonly to: Address;
  /** Original sender, present only when relayed. */
  readonly from?: Address;
  readonly payload: Uint8Array;
}

export type AckStatus = 'ok' | 'retry' | 'reject';

export interface Ack {
  readonly id: string;
  readonly status: AckStatus;
  /** Short machine-readable reason (never internals). */
  readonly reason: string;
}

const STATUS_CODES: Record<AckStatus, number> = { ok: 0, retry: 1, reject: 2 };
const STATUS_NAMES: readonly AckStatus[] = ['ok', 'retry', 'reject'];
const ASCII_RE = /^[\x20-\x7e]*$/;

function malformed(message: string): SluiceError {
  return new SluiceError('DECODE_FAILED', `malformed sluice frame: ${message}`);
}

/** @throws TypeError unless `id` is a valid message id */
export function assertMessageId(id: unknown, name = 'id'): asserts id is string {
  if (typeof id !== 'string' || !MESSAGE_ID_RE.test(id)) throw new TypeError(`${name} must match ${MESSAGE_ID_RE.source}`);
}

function asciiBytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function readAscii(bytes: Uint8Array, start: number, length: number): string {
  let s = '';
  for (let i = start; i < start + length; i++) s += String.fromCharCode(bytes[i]!);
  return s;
}

/** Encode the body of a MSG frame (without the length prefix). */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  assertMessageId(envelope.id);
  const hasFrom = envelope.from !== undefined;
  const size = 3 + envelope.id.length + 20 + (hasFrom ? 20 : 0) + envelope.payload.length;
  const out = new Uint8Array(size);
  let o = 0;
  out[o++] = KIND_MSG;
  out[o++] = hasFrom ? FLAG_FROM : 0;
  out[o++] = envelope.id.length;
  out.set(asciiBytes(envelope.id), o);
  o += envelope.id.length;
  out.set(hexToBytes(envelope.to, 'to'), o);
  o += 20;
  if (envelope.from !== undefined) {
    out.set(hexToBytes(envelope.from, 'from'), o);
    o += 20;
  }
  out.set(envelope.payload, o);
  return out;
}

/** Decode a MSG body. The payload is a copy (safe to keep). @throws SluiceError DECODE_FAILED */
export function decodeEnvelope(body: Uint8Array): Envelope {
  if (body.length < 3) throw malformed('short');
  if (body[0] !== KIND_MSG) throw malformed('not a message');
  const flags = body[1]!;
  if ((flags & ~FLAG_FROM) !== 0) throw malformed('unknown flags');
  const idLen = body[2]!;
  let o = 3;
  if (idLen < 1 || idLen > 128 || body.length < o + idLen + 20) throw malformed('bad id length');
  const id = readAscii(body, o, idLen);
  if (!MESSAGE_ID_RE.test(id)) throw malformed('bad id');
  o += idLen;
  const to = checksumAddress(body.subarray(o, o + 20));
  o += 20;
  let from: Address | undefined;
  if ((flags & FLAG_FROM) !== 0) {
    if (body.length < o + 20) throw malformed('short from');
    from = checksumAddress(body.subarray(o, o + 20));
    o += 20;
  }
  const payload = new Uint8Array(body.subarray(o)); // a plain copy, even when `body` is a Buffer
  return from === undefined ? { id, to, payload } : { id, to, from, payload };
}

/** Encode the body of an ACK frame. */
export function encodeAck(ack: Ack): Uint8Array {
  const reason = ASCII_RE.test(ack.reason) ? ack.reason.slice(0, 255) : 'invalid-reason';
  // An ACK for a frame we could not parse carries a placeholder id.
  const id = MESSAGE_ID_RE.test(ack.id) ? ack.id : '-';
  const out = new Uint8Array(4 + id.length + reason.length);
  out[0] = KIND_ACK;
  out[1] = STATUS_CODES[ack.status];
  out[2] = id.length;
  out.set(asciiBytes(id), 3);
  out[3 + id.length] = reason.length;
  out.set(asciiBytes(reason), 4 + id.length);
  return out;
}

/** Decode an ACK body. @throws SluiceError DECODE_FAILED */
export function decodeAck(body: Uint8Array): Ack {
  if (body.length < 4 || body[0] !== KIND_ACK) throw malformed('not an ack');
  const status = STATUS_NAMES[body[1]!];
  if (status === undefined) throw malformed('bad ack status');
  const idLen = body[2]!;
  if (idLen < 1 || idLen > 128 || body.length < 4 + idLen) throw malformed('bad ack id');
  const id = readAscii(body, 3, idLen);
  const reasonLen = body[3 + idLen]!;
  if (body.length !== 4 + idLen + reasonLen) throw malformed('bad ack length');
  const reason = readAscii(body, 4 + idLen, reasonLen);
  if (!ASCII_RE.test(reason)) throw malformed('bad ack reason');
  return { id, status, reason };
}

/** Prefix `body` with its unsigned LEB128 length. */
export function frame(body: Uint8Array): Uint8Array {
  let n = body.length;
  const header: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    header.push(b);
  } while (n > 0);
  const out = new Uint8Array(header.length + body.length);
  out.set(header, 0);
  out.set(body, header.length);
  return out;
}

/**
 * Parse a frame's length prefix.
 * @returns `{ length, headerBytes }`, or `undefined` if more bytes are needed
 * @throws SluiceError DECODE_FAILED on a prefix longer than 5 bytes
 */
export function readLengthPrefix(bytes: Uint8Array): { readonly length: number; readonly headerBytes: number } | undefined {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= bytes.length) return undefined;
    const b = bytes[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if ((b & 0x80) === 0) return { length: value, headerBytes: i + 1 };
  }
  throw malformed('length prefix too long');
}

// ---------------------------------------------------------------- batches (protocol 1.1.0)

/**
 * Protocol 1.1.0: one stream carries one BATCH exchange — the sender writes one BATCH frame of
 * up to {@link MAX_BATCH_ENVELOPES} MSG bodies for one next hop, the receiver handles them in
 * order and answers with one ACKS frame holding one ACK per message, in the same order.
 *
 * ```
 * BATCH body: 0x03 | count u16 (1..MAX_BATCH_ENVELOPES) | count × (varint(len) | MSG body)
 * ACKS  body: 0x04 | count u16 | count × (varint(len) | ACK body)
 * ```
 */
export const SLUICE_BATCH_PROTOCOL = '/sluice/nitro/1.1.0';

/** Most messages in one BATCH frame. */
export const MAX_BATCH_ENVELOPES = 64;

const KIND_BATCH = 0x03;
const KIND_ACKS = 0x04;

/** Bytes a BATCH frame adds around its MSG bodies, at most. */
export const BATCH_OVERHEAD = 3 + 5 * MAX_BATCH_ENVELOPES;

/** Largest ACKS body we ever need to read. */
export const MAX_ACKS_BYTES = 3 + MAX_BATCH_ENVELOPES * (5 + MAX_ACK_BYTES);

function concatFramed(kind: number, bodies: readonly Uint8Array[]): Uint8Array {
  if (bodies.length < 1 || bodies.length > MAX_BATCH_ENVELOPES) throw new RangeError(`a batch holds 1..${MAX_BATCH_ENVELOPES} entries`);
  const framed = bodies.map(frame);
  const out = new Uint8Array(3 + framed.reduce((n, f) => n + f.length, 0));
  out[0] = kind;
  out[1] = bodies.length >> 8;
  out[2] = bodies.length & 0xff;
  let o = 3;
  for (const f of framed) {
    out.set(f, o);
    o += f.length;
  }
  return out;
}

function splitFramed(body: Uint8Array, kind: number, what: string): Uint8Array[] {
  if (body.length < 3 || body[0] !== kind) throw malformed(`not a ${what}`);
  const count = (body[1]! << 8) | body[2]!;
  if (count < 1 || count > MAX_BATCH_ENVELOPES) throw malformed(`bad ${what} count`);
  const out: Uint8Array[] = [];
  let o = 3;
  for (let i = 0; i < count; i++) {
    const p = readLengthPrefix(body.subarray(o, o + 5));
    if (p === undefined) throw malformed(`short ${what}`);
    o += p.headerBytes;
    if (o + p.length > body.length) throw malformed(`short ${what} entry`);
    out.push(body.subarray(o, o + p.length));
    o += p.length;
  }
  if (o !== body.length) throw malformed(`trailing bytes in ${what}`);
  return out;
}

/** Encode the body of a BATCH frame. @throws RangeError on 0 or too many envelopes, TypeError on a bad id */
export function encodeBatch(envelopes: readonly Envelope[]): Uint8Array {
  return concatFramed(KIND_BATCH, envelopes.map(encodeEnvelope));
}

/** Decode a BATCH body (each MSG as {@link decodeEnvelope}). @throws SluiceError DECODE_FAILED */
export function decodeBatch(body: Uint8Array): Envelope[] {
  return splitFramed(body, KIND_BATCH, 'batch').map(decodeEnvelope);
}

/** Encode the body of an ACKS frame. */
export function encodeAcks(acks: readonly Ack[]): Uint8Array {
  return concatFramed(KIND_ACKS, acks.map(encodeAck));
}

/** Decode an ACKS body. @throws SluiceError DECODE_FAILED */
export function decodeAcks(body: Uint8Array): Ack[] {
  return splitFramed(body, KIND_ACKS, 'acks').map(decodeAck);
}

// ---------------------------------------------------------------- sessions (protocol 1.2.0)

/**
 * Protocol 1.2.0: one long-lived stream per next hop (opened by the sender, kept while the
 * connection lives) carries a sequence of the 1.1.0 exchanges: the sender writes BATCH frames
 * (it may write the next before the previous one is acknowledged), the receiver handles them
 * strictly in stream order and answers each with one ACKS frame, in the same order. The frame
 * bodies are exactly those of 1.1.0; only the stream's lifetime differs. That saves, per
 * exchange, the stream open (yamux SYN, multistream-select), both FINs and the window updates,
 * each of which is its own Noise message and socket write.
 */
export const SLUICE_SESSION_PROTOCOL = '/sluice/nitro/1.2.0';

/**
 * An incremental decoder of length-prefixed frames (a stream's bytes in, whole frame bodies
 * out). It never holds more than one partial frame: a length prefix over `maxBody` throws
 * before any of that body is buffered. Pure; no I/O.
 */
export class FrameDecoder {
  readonly #maxBody: number;
  #buffer: Uint8Array = new Uint8Array(0);

  constructor(maxBody: number) {
    this.#maxBody = maxBody;
  }

  /** Bytes held of an incomplete frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /**
   * Append `chunk` and return the bodies of every frame it completes, in order.
   * @throws SluiceError DECODE_FAILED on an oversize or malformed length prefix (the decoder is then unusable)
   */
  push(chunk: Uint8Array): Uint8Array[] {
    let data: Uint8Array;
    if (this.#buffer.length === 0) data = chunk;
    else {
      data = new Uint8Array(this.#buffer.length + chunk.length);
      data.set(this.#buffer, 0);
      data.set(chunk, this.#buffer.length);
    }
    const out: Uint8Array[] = [];
    let o = 0;
    while (o < data.length) {
      const p = readLengthPrefix(data.subarray(o, o + 5));
      if (p === undefined) break;
      if (p.length > this.#maxBody) {
        this.#buffer = new Uint8Array(0);
        throw new SluiceError('DECODE_FAILED', 'frame exceeds the size limit', { details: { length: p.length, max: this.#maxBody } });
      }
      const end = o + p.headerBytes + p.length;
      if (end > data.length) break;
      out.push(data.slice(o + p.headerBytes, end));
      o = end;
    }
    this.#buffer = o === data.length ? new Uint8Array(0) : data.slice(o);
    return out;
  }
}
