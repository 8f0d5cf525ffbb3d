/**
 * Pure protocols (go-nitro `protocols/` style): objectives cranked as
 * `crank(objective, secrets) -> { objective, effects, waitingFor }` and fed with
 * `update(objective, event)`. No I/O: time, chain events and peer messages come in as data;
 * effects go out as data.
 */
export * from './types.ts';
export * from './channel.ts';
export * from './ledger.ts';
export * from './virtual-channel.ts';
export * from './hub-policy.ts';
export * from './direct-fund.ts';
export * from './direct-defund.ts';
export * from './virtual-fund.ts';
export * from './virtual-defund.ts';
export * from './ledger-topup.ts';
export * from './dispute.ts';
export * from './virtual-challenge.ts';
export * from './ledger-exit.ts';
export * from './watchtower.ts';
export * from './fallback.ts';
export * from './objective.ts';
export * from './guarantee-removal.ts';
