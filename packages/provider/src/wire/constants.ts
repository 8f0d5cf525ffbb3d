/** Wire protocol version carried in HELLO. */
export const PROTOCOL_VERSION = 1;

/** Frame type bytes (the first byte of every frame). */
export const FrameType = {
  HELLO: 0x01,
  READY: 0x02,
  VOUCHER: 0x03,
  ACK: 0x04,
  BLOCK: 0x05,
  CHUNK: 0x06,
  ERROR: 0x07,
} as const;
export type FrameTypeByte = (typeof FrameType)[keyof typeof FrameType];

/** Largest chunk payload: one 256 KiB leaf. */
export const MAX_CHUNK_BYTES = 262_144;
/** Largest interior block carried by a BLOCK frame. */
export const MAX_BLOCK_BYTES = 65_536;
/** Largest CID (binary form) accepted in HELLO/BLOCK; Sluice CIDs are 36 bytes. */
export const MAX_CID_BYTES = 64;
/** Largest UTF-8 message in an ERROR frame. */
export const MAX_ERROR_MESSAGE_BYTES = 256;
/** `end` value in HELLO meaning "through the file's last chunk". */
export const END_OF_FILE = 0xffff_ffff;

/** Fixed part of each frame (type byte included). */
export const HELLO_FIXED_BYTES = 1 + 1 + 32 + 4 + 4 + 1; // type, version, channelId, start, end, cidLen
export const READY_BYTES = 1 + 4 + 4 + 4 + 4 + 8 + 32 + 32; // 89
export const VOUCHER_FRAME_BYTES = 1 + 129; // 130
export const ACK_BYTES = 1 + 4 + 32; // 37
export const BLOCK_FIXED_BYTES = 1 + 1; // type, cidLen
export const CHUNK_FIXED_BYTES = 1 + 4; // type, index
export const ERROR_FIXED_BYTES = 1 + 2; // type, code

/** Per-type maximum frame sizes. */
export const MAX_HELLO_BYTES = HELLO_FIXED_BYTES + MAX_CID_BYTES; // 107
export const MAX_BLOCK_FRAME_BYTES = BLOCK_FIXED_BYTES + MAX_CID_BYTES + MAX_BLOCK_BYTES; // 65,602
export const MAX_CHUNK_FRAME_BYTES = CHUNK_FIXED_BYTES + MAX_CHUNK_BYTES; // 262,149
export const MAX_ERROR_FRAME_BYTES = ERROR_FIXED_BYTES + MAX_ERROR_MESSAGE_BYTES; // 259

/** Largest frame of any type; set the WebSocket `maxPayload` to this. */
export const MAX_FRAME_BYTES = MAX_CHUNK_FRAME_BYTES;
