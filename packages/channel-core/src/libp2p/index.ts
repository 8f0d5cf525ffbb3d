/**
 * `@sluice/channel-core/libp2p`: the libp2p adapter of the messaging port (TCP + Noise +
 * Yamux, secp256k1 identity = Ethereum address, acknowledged and retried from the durable
 * outbox, deduplicated, hub relaying).
 */
export {
  createLibp2pMessageService,
  type Libp2pMessageService,
  type Libp2pMessageServiceComponents,
  type Libp2pMessageServiceInit,
  type MessagingLogger,
  type PeerBookEntry,
  type RetryPolicy,
} from './service.ts';
export { libp2pPrivateKey, peerIdToAddress, tryPeerIdToAddress } from './identity.ts';
export {
  SLUICE_PROTOCOL,
  SLUICE_BATCH_PROTOCOL,
  SLUICE_SESSION_PROTOCOL,
  FrameDecoder,
  MAX_BATCH_ENVELOPES,
  decodeBatch,
  decodeAcks,
  encodeBatch,
  encodeAcks,
  MESSAGE_ID_RE,
  type Ack,
  type AckStatus,
  type Envelope,
  decodeAck,
  decodeEnvelope,
  encodeAck,
  encodeEnvelope,
  frame,
} from './envelope.ts';
