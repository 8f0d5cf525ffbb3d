/**
 * `@sluice/provider/service` — the provider service: HTTP catalog/metadata/metrics/admin
 * (express) and the paid WebSocket stream (ws) on one port.
 */
export * from './channels.ts';
export * from './files.ts';
export * from './http.ts';
export * from './local-channels.ts';
export * from './metrics.ts';
export * from './server.ts';
export * from './session.ts';
export * from './usage-store.ts';
export * from './voucher-log.ts';
export * from './node-channels.ts';
export * from './ledger-renewal.ts';
