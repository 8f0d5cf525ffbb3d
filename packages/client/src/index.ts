/**
 * `@sluice/client` — verified, pay-per-chunk, resumable downloads from Sluice providers.
 */
export * from './channels.ts';
export * from './dev-channels.ts';
export * from './download.ts';
export * from './exit-codes.ts';
export * from './metadata.ts';
export * from './node-channels.ts';
export * from './sidecar.ts';
export * from './stream.ts';
