/**
 * Binary frames of the client↔provider WebSocket protocol (one frame per WebSocket
 * binary message, big-endian integers). See docs/protocol.md for the byte layouts and
 * the session flow. `decodeFrame` checks every length and type before use and throws
 * only {@link SluiceError}s; `encodeFrame` throws TypeError/RangeError on bad arguments.
 */
import {
  type ChannelId,
  type SluiceErrorCode,
  type Voucher,
  MAX_UINT256,
  SluiceError,
  VOUCHER_WIRE_LENGTH,
  bytesToHex,
  deserializeVoucher,
  hexToBytes,
  parseBytes32,
  readUint256,
  serializeVoucher,
  writeUint256,
} from '@sluice/channel-core';
import type { CID } from 'multiformats/cid';
import { isSluiceCid, parseCid } from '../content/cid.ts';
import { CHUNK_SIZE, DAG_PB_CODE } from '../content/constants.ts';
import { sluiceCodeOfWire } from './codes.ts';
import {
  ACK_BYTES,
  BLOCK_FIXED_BYTES,
  CHUNK_FIXED_BYTES,
  END_OF_FILE,
  ERROR_FIXED_BYTES,
  FrameType,
  HELLO_FIXED_BYTES,
  MAX_BLOCK_BYTES,
  MAX_CHUNK_BYTES,
  MAX_CID_BYTES,
  MAX_ERROR_MESSAGE_BYTES,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  READY_BYTES,
  VOUCHER_FRAME_BYTES,
} from './constants.ts';

/** Client → provider: open a session for chunks `[start, end)` of `root`, paid on `channelId`. */
export interface HelloFrame {
  readonly type: 'hello';
  readonly version: number;
  /** The virtual channel the client pays on. */
  readonly channelId: ChannelId;
  readonly root: CID;
  readonly start: number;
  /** Exclusive; {@link END_OF_FILE} means through the last chunk. */
  readonly end: number;
}

/** Provider → client: the session's terms. */
export interface ReadyFrame {
  readonly type: 'ready';
  readonly start: number;
  /** Exclusive, ≤ chunkCount (never {@link END_OF_FILE}). */
  readonly end: number;
  /** Leaves in the whole file. */
  readonly chunkCount: number;
  /** Number of BLOCK frames that follow READY (distinct interior blocks of the file's DAG). */
  readonly interiorBlocks: number;
  readonly fileSize: number;
  readonly pricePerChunk: bigint;
  /** Cumulative amount already paid on the channel before this session. */
  readonly baseline: bigint;
}

/** Client → provider: a cumulative voucher. */
export interface VoucherFrame {
  readonly type: 'voucher';
  readonly voucher: Voucher;
}

/** Provider → client: a voucher was accepted; chunks `[start, paidEnd)` are paid for. */
export interface AckFrame {
  readonly type: 'ack';
  readonly paidEnd: number;
  /** The best accepted cumulative amount. */
  readonly amount: bigint;
}

/** Provider → client: one interior (dag-pb) block of the file's DAG. */
export interface BlockFrame {
  readonly type: 'block';
  readonly cid: CID;
  /** A view into the received message (not copied). */
  readonly data: Uint8Array;
}

/** Provider → client: one paid chunk (leaf) of the file. */
export interface ChunkFrame {
  readonly type: 'chunk';
  readonly index: number;
  /** A view into the received message (not copied). */
  readonly data: Uint8Array;
}

/** Either direction: a fatal error; the sender closes the socket with the same code. */
export interface ErrorFrame {
  readonly type: 'error';
  /** The Sluice code; INTERNAL when this version does not know `wireCode`. */
  readonly code: SluiceErrorCode;
  /** The uint16 on the wire (4000–4999). */
  readonly wireCode: number;
  readonly message: string;
}

export type Frame = HelloFrame | ReadyFrame | VoucherFrame | AckFrame | BlockFrame | ChunkFrame | ErrorFrame;
/** Frames a client may send. */
export type ClientFrame = HelloFrame | VoucherFrame | ErrorFrame;
/** Frames a provider may send. */
export type ProviderFrame = ReadyFrame | AckFrame | BlockFrame | ChunkFrame | ErrorFrame;

// ---------------------------------------------------------------------------------------
// decoding

function fail(message: string, details: Record<string, unknown> = {}): never {
  throw new SluiceError('DECODE_FAILED', message, { details });
}

function tooLarge(what: string, length: number, max: number): never {
  throw new SluiceError('FRAME_TOO_LARGE', `${what} is too large`, { details: { length, max } });
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function readCid(b: Uint8Array, lenAt: number, what: string): { cid: CID; end: number } {
  const len = b[lenAt]!;
  if (len === 0 || len > MAX_CID_BYTES) fail(`${what} CID length is out of range`, { cidLength: len });
  const from = lenAt + 1;
  if (b.length < from + len) fail(`${what} frame is truncated`, { length: b.length });
  return { cid: parseCid(b.subarray(from, from + len), `${what} CID`), end: from + len };
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Chunks of a file of `size` bytes (an empty file has one empty chunk). */
export function chunkCountOf(size: number): number {
  return size === 0 ? 1 : Math.ceil(size / CHUNK_SIZE);
}

/**
 * Parse one frame. The returned `data` fields are views into `bytes`.
 * @throws SluiceError DECODE_FAILED (truncated, bad lengths, trailing bytes, unknown type,
 *   bad values), FRAME_TOO_LARGE, WIRE_VERSION_UNSUPPORTED (HELLO), VOUCHER_MALFORMED (VOUCHER)
 */
export function decodeFrame(bytes: Uint8Array): Frame {
  if (!(bytes instanceof Uint8Array)) fail('frame must be binary');
  const n = bytes.length;
  if (n === 0) fail('empty frame');
  if (n > MAX_FRAME_BYTES) tooLarge('frame', n, MAX_FRAME_BYTES);
  const d = dv(bytes);
  const type = bytes[0]!;
  switch (type) {
    case FrameType.HELLO: {
      if (n < 2) fail('HELLO frame is truncated', { length: n });
      const version = bytes[1]!;
      if (version !== PROTOCOL_VERSION) {
        throw new SluiceError('WIRE_VERSION_UNSUPPORTED', `wire version ${version} is not supported (this peer speaks ${PROTOCOL_VERSION})`, {
          details: { version, supported: [PROTOCOL_VERSION] },
        });
      }
      if (n < HELLO_FIXED_BYTES) fail('HELLO frame is truncated', { length: n });
      const { cid: root, end: cidEnd } = readCid(bytes, HELLO_FIXED_BYTES - 1, 'HELLO');
      if (n !== cidEnd) fail('HELLO frame has trailing bytes', { length: n, expected: cidEnd });
      const start = d.getUint32(34);
      const end = d.getUint32(38);
      if (start >= end) fail('HELLO chunk range is empty', { start, end });
      return { type: 'hello', version, channelId: bytesToHex(bytes.subarray(2, 34)) as string as ChannelId, root, start, end };
    }
    case FrameType.READY: {
      if (n !== READY_BYTES) fail('READY frame has the wrong length', { length: n, expected: READY_BYTES });
      const start = d.getUint32(1);
      const end = d.getUint32(5);
      const chunkCount = d.getUint32(9);
      const interiorBlocks = d.getUint32(13);
      const size = d.getBigUint64(17);
      if (size > BigInt(Number.MAX_SAFE_INTEGER)) fail('READY file size is out of range');
      const fileSize = Number(size);
      if (chunkCount !== chunkCountOf(fileSize)) fail('READY chunk count does not match the file size', { chunkCount, fileSize });
      if (!(start < end && end <= chunkCount)) fail('READY chunk range is invalid', { start, end, chunkCount });
      if (chunkCount === 1 ? interiorBlocks !== 0 : interiorBlocks < 1 || interiorBlocks > chunkCount) {
        fail('READY interior block count is invalid', { interiorBlocks, chunkCount });
      }
      return {
        type: 'ready',
        start,
        end,
        chunkCount,
        interiorBlocks,
        fileSize,
        pricePerChunk: readUint256(bytes, 25),
        baseline: readUint256(bytes, 57),
      };
    }
    case FrameType.VOUCHER: {
      if (n !== VOUCHER_FRAME_BYTES) {
        throw new SluiceError('VOUCHER_MALFORMED', `VOUCHER frame must be ${VOUCHER_FRAME_BYTES} bytes`, { details: { length: n } });
      }
      return { type: 'voucher', voucher: deserializeVoucher(bytes, 1) };
    }
    case FrameType.ACK: {
      if (n !== ACK_BYTES) fail('ACK frame has the wrong length', { length: n, expected: ACK_BYTES });
      return { type: 'ack', paidEnd: d.getUint32(1), amount: readUint256(bytes, 5) };
    }
    case FrameType.BLOCK: {
      if (n < BLOCK_FIXED_BYTES) fail('BLOCK frame is truncated', { length: n });
      const { cid, end } = readCid(bytes, 1, 'BLOCK');
      if (cid.code !== DAG_PB_CODE) fail('BLOCK must carry a dag-pb block');
      const size = n - end;
      if (size === 0) fail('BLOCK frame has no data');
      if (size > MAX_BLOCK_BYTES) tooLarge('BLOCK data', size, MAX_BLOCK_BYTES);
      return { type: 'block', cid, data: bytes.subarray(end) };
    }
    case FrameType.CHUNK: {
      if (n < CHUNK_FIXED_BYTES) fail('CHUNK frame is truncated', { length: n });
      // n ≤ MAX_FRAME_BYTES already bounds the data to MAX_CHUNK_BYTES
      return { type: 'chunk', index: d.getUint32(1), data: bytes.subarray(CHUNK_FIXED_BYTES) };
    }
    case FrameType.ERROR: {
      if (n < ERROR_FIXED_BYTES) fail('ERROR frame is truncated', { length: n });
      const wireCode = d.getUint16(1);
      if (wireCode < 4000 || wireCode > 4999) fail('ERROR code is out of range', { wireCode });
      const size = n - ERROR_FIXED_BYTES;
      if (size > MAX_ERROR_MESSAGE_BYTES) tooLarge('ERROR message', size, MAX_ERROR_MESSAGE_BYTES);
      let message: string;
      try {
        message = utf8.decode(bytes.subarray(ERROR_FIXED_BYTES));
      } catch {
        fail('ERROR message is not UTF-8');
      }
      return { type: 'error', code: sluiceCodeOfWire(wireCode) ?? 'INTERNAL', wireCode, message };
    }
    default:
      fail('unknown frame type', { frameType: type });
  }
}

const CLIENT_TYPES: ReadonlySet<string> = new Set(['hello', 'voucher', 'error']);
const PROVIDER_TYPES: ReadonlySet<string> = new Set(['ready', 'ack', 'block', 'chunk', 'error']);

/**
 * Decode a frame received by a provider (sent by a client).
 * @throws SluiceError WIRE_UNEXPECTED_FRAME for a provider-only frame, plus {@link decodeFrame}'s
 */
export function decodeClientFrame(bytes: Uint8Array): ClientFrame {
  const f = decodeFrame(bytes);
  if (!CLIENT_TYPES.has(f.type)) throw new SluiceError('WIRE_UNEXPECTED_FRAME', `a client does not send ${f.type.toUpperCase()}`);
  return f as ClientFrame;
}

/**
 * Decode a frame received by a client (sent by a provider).
 * @throws SluiceError WIRE_UNEXPECTED_FRAME for a client-only frame, plus {@link decodeFrame}'s
 */
export function decodeProviderFrame(bytes: Uint8Array): ProviderFrame {
  const f = decodeFrame(bytes);
  if (!PROVIDER_TYPES.has(f.type)) throw new SluiceError('WIRE_UNEXPECTED_FRAME', `a provider does not send ${f.type.toUpperCase()}`);
  return f as ProviderFrame;
}

// ---------------------------------------------------------------------------------------
// encoding

function assertU32(x: unknown, name: string): asserts x is number {
  if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > 0xffff_ffff) throw new RangeError(`${name} must be a uint32`);
}

function assertU256(x: unknown, name: string): asserts x is bigint {
  if (typeof x !== 'bigint') throw new TypeError(`${name} must be a bigint`);
  if (x < 0n || x > MAX_UINT256) throw new RangeError(`${name} must be a uint256`);
}

function cidBytes(cid: CID, name: string, codec?: number): Uint8Array {
  if (cid === null || typeof cid !== 'object' || !isSluiceCid(cid)) throw new TypeError(`${name} must be a CIDv1 (raw or dag-pb, sha2-256)`);
  if (codec !== undefined && cid.code !== codec) throw new TypeError(`${name} must be a dag-pb CID`);
  if (cid.bytes.length > MAX_CID_BYTES) throw new RangeError(`${name} is too long`);
  return cid.bytes;
}

function assertData(x: unknown, name: string, max: number, min: number): asserts x is Uint8Array {
  if (!(x instanceof Uint8Array)) throw new TypeError(`${name} must be a Uint8Array`);
  if (x.length > max || x.length < min) throw new RangeError(`${name} must be ${min}..${max} bytes`);
}

const utf8e = new TextEncoder();

/**
 * Encode one frame. Validates every field; the same invariants `decodeFrame` checks hold.
 * @throws TypeError / RangeError naming the bad field
 */
export function encodeFrame(frame: Frame): Uint8Array {
  switch (frame.type) {
    case 'hello': {
      if (frame.version !== PROTOCOL_VERSION) throw new RangeError(`version must be ${PROTOCOL_VERSION}`);
      const id = hexToBytes(parseBytes32(frame.channelId, 'channelId'), 'channelId');
      const cid = cidBytes(frame.root, 'root');
      assertU32(frame.start, 'start');
      assertU32(frame.end, 'end');
      if (frame.start >= frame.end) throw new RangeError('start must be < end');
      const out = new Uint8Array(HELLO_FIXED_BYTES + cid.length);
      const d = dv(out);
      out[0] = FrameType.HELLO;
      out[1] = frame.version;
      out.set(id, 2);
      d.setUint32(34, frame.start);
      d.setUint32(38, frame.end);
      out[42] = cid.length;
      out.set(cid, 43);
      return out;
    }
    case 'ready': {
      for (const k of ['start', 'end', 'chunkCount', 'interiorBlocks'] as const) assertU32(frame[k], k);
      if (!Number.isSafeInteger(frame.fileSize) || frame.fileSize < 0) throw new RangeError('fileSize must be a non-negative safe integer');
      if (frame.chunkCount !== chunkCountOf(frame.fileSize)) throw new RangeError('chunkCount does not match fileSize');
      if (!(frame.start < frame.end && frame.end <= frame.chunkCount)) throw new RangeError('start < end <= chunkCount is required');
      if (frame.chunkCount === 1 ? frame.interiorBlocks !== 0 : frame.interiorBlocks < 1 || frame.interiorBlocks > frame.chunkCount) {
        throw new RangeError('interiorBlocks is inconsistent with chunkCount');
      }
      assertU256(frame.pricePerChunk, 'pricePerChunk');
      assertU256(frame.baseline, 'baseline');
      const out = new Uint8Array(READY_BYTES);
      const d = dv(out);
      out[0] = FrameType.READY;
      d.setUint32(1, frame.start);
      d.setUint32(5, frame.end);
      d.setUint32(9, frame.chunkCount);
      d.setUint32(13, frame.interiorBlocks);
      d.setBigUint64(17, BigInt(frame.fileSize));
      writeUint256(out, 25, frame.pricePerChunk);
      writeUint256(out, 57, frame.baseline);
      return out;
    }
    case 'voucher': {
      const out = new Uint8Array(VOUCHER_FRAME_BYTES);
      out[0] = FrameType.VOUCHER;
      const sig = frame.voucher.signature;
      if (!(sig instanceof Uint8Array) || sig.length !== 65) throw new TypeError('voucher signature must be 65 bytes');
      serializeVoucher(frame.voucher, out, 1);
      if (out.length !== 1 + VOUCHER_WIRE_LENGTH) throw new RangeError('voucher wire form has the wrong length');
      return out;
    }
    case 'ack': {
      assertU32(frame.paidEnd, 'paidEnd');
      assertU256(frame.amount, 'amount');
      const out = new Uint8Array(ACK_BYTES);
      out[0] = FrameType.ACK;
      dv(out).setUint32(1, frame.paidEnd);
      writeUint256(out, 5, frame.amount);
      return out;
    }
    case 'block': {
      const cid = cidBytes(frame.cid, 'cid', DAG_PB_CODE);
      assertData(frame.data, 'data', MAX_BLOCK_BYTES, 1);
      const out = new Uint8Array(BLOCK_FIXED_BYTES + cid.length + frame.data.length);
      out[0] = FrameType.BLOCK;
      out[1] = cid.length;
      out.set(cid, 2);
      out.set(frame.data, 2 + cid.length);
      return out;
    }
    case 'chunk': {
      assertU32(frame.index, 'index');
      assertData(frame.data, 'data', MAX_CHUNK_BYTES, 0);
      const out = new Uint8Array(CHUNK_FIXED_BYTES + frame.data.length);
      out[0] = FrameType.CHUNK;
      dv(out).setUint32(1, frame.index);
      out.set(frame.data, CHUNK_FIXED_BYTES);
      return out;
    }
    case 'error': {
      const w = frame.wireCode;
      if (!Number.isInteger(w) || w < 4000 || w > 4999) throw new RangeError('wireCode must be in 4000..4999');
      const known = sluiceCodeOfWire(w);
      if (known !== undefined && known !== frame.code) throw new RangeError(`wireCode ${w} is ${known}, not ${frame.code}`);
      if (typeof frame.message !== 'string') throw new TypeError('message must be a string');
      const msg = utf8e.encode(frame.message);
      if (msg.length > MAX_ERROR_MESSAGE_BYTES) throw new RangeError(`message must be at most ${MAX_ERROR_MESSAGE_BYTES} UTF-8 bytes`);
      const out = new Uint8Array(ERROR_FIXED_BYTES + msg.length);
      out[0] = FrameType.ERROR;
      dv(out).setUint16(1, w);
      out.set(msg, ERROR_FIXED_BYTES);
      return out;
    }
    default: {
      const t: never = frame;
      throw new TypeError(`unknown frame type ${(t as { type?: unknown }).type as string}`);
    }
  }
}

/** Whether `end` in a HELLO means "to the end of the file". */
export function isEndOfFile(end: number): boolean {
  return end === END_OF_FILE;
}
