/** Sluice's fixed chunk size: 256 KiB, the size of every leaf but a file's last. */
export const CHUNK_SIZE = 262_144;

/** Maximum children per interior node in the balanced layout (kubo's and js-ipfs' default). */
export const MAX_CHILDREN_PER_NODE = 174;

/** Multicodec code of `raw` (leaves). */
export const RAW_CODE = 0x55;
/** Multicodec code of `dag-pb` (interior UnixFS nodes). */
export const DAG_PB_CODE = 0x70;
/** Multihash code of sha2-256. */
export const SHA256_CODE = 0x12;

/**
 * Upper bound on the encoded size of an interior dag-pb block we accept. Our own nodes
 * are ≤ ~11 KiB (174 links); the bound leaves room and caps hostile input.
 */
export const MAX_INTERIOR_BLOCK_BYTES = 65_536;

/** Maximum links per interior node accepted by the resolver (hostile-input bound). */
export const MAX_LINKS_PER_NODE = 1024;

/** Maximum DAG depth accepted by the resolver (174^8 chunks is ~2^59 bytes). */
export const MAX_DAG_DEPTH = 8;

/** Largest chunk index representable on the wire (uint32); a file has at most this many chunks. */
export const MAX_CHUNKS = 0xffff_ffff;
