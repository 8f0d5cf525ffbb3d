/**
 * `@sluice/provider/wire` — the client↔provider WebSocket frame codec (pure; no sockets).
 * The protocol is specified in docs/protocol.md.
 */
export * from './constants.ts';
export * from './codes.ts';
export * from './frames.ts';
export * from './flow.ts';
