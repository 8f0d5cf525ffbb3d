/**
 * @sluice/channel-core — Nitro Gen-2 states, outcomes, signatures and vouchers,
 * byte-exact with go-nitro's nitro-protocol, plus the pure payer/payee voucher ledgers.
 *
 * This entry point is pure (no I/O); adapters live under subpath exports.
 */
export * from './errors.ts';
export * from './hex.ts';
export * from './address.ts';
export * from './signature.ts';
export * from './outcome.ts';
export * from './state.ts';
export * from './voucher.ts';
export { keccak256, keccakBackend } from './keccak.ts';
export { cryptoBackend, useCryptoBackend, type Secp256k1Backend } from './secp256k1.ts';
export * from './voucher-ledger.ts';
export * from './nonce.ts';
export * as protocols from './protocols/index.ts';
/** Default cap on the guarantees (virtual channels) one ledger holds; see EnginePolicy.maxLedgerGuarantees. */
export { DEFAULT_CHALLENGE_DURATIONS, DEFAULT_MAX_LEDGER_GUARANTEES } from './engine/policy.ts';
