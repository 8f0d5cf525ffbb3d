/**
 * `@sluice/provider/wire` — the client↔provider WebSocket frame codec and the bounds of the
 * multiaddrs file metadata advertises (pure; no sockets).
 * The protocol is specified in docs/protocol.md.
 */
export * from './constants.ts';
export * from './codes.ts';
export * from './frames.ts';
export * from './flow.ts';
export * from './multiaddrs.ts';
