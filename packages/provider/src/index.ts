/**
 * @sluice/provider — channel-independent foundations of the Sluice provider:
 * the UnixFS-compatible content store (`./content`) and the client↔provider
 * WebSocket wire codec (`./wire`).
 */
export * from './content/index.ts';
export * from './wire/index.ts';
export * from './fallback/index.ts';
