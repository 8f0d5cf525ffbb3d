/** `@sluice/provider/dev` — the shared dev channel registry (stand-in for the channel network). */
export * from './registry.ts';
