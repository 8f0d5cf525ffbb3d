/**
 * Diagnostic (not a test, not a benchmark): how many durable (fsync'd) sqlite commits each party
 * makes per virtual channel open + close — hub (createHub in-process), Alice and Bob over real
 * libp2p on anvil with file stores. Explains where bench:hub's time goes.
 *
 *   node packages/hub/test/commit-count.ts
 */
import { join } from 'node:path';
import { privateKeyToAddress } from '@sluice/channel-core';
import { openSqliteStore } from '@sluice/channel-core/sqlite';
import { createNode, type NodeInit } from '@sluice/channel-core/node';
import { createHub } from '../src/hub.ts';
import { createLogger } from '../src/logger.ts';
import { startChain } from './helpers.ts';

type Store = ReturnType<typeof openSqliteStore>;
const WRITES = new Set(['putObjective', 'putChannel', 'putVoucherIfHigher', 'enqueueOutbox', 'rescheduleOutbox', 'removeOutbox', 'markSeen', 'setMeta', 'pruneSeen']);
function counting(inner: Store, counts: Map<string, number>): Store {
  let depth = 0;
  const inc = (k: string): void => void counts.set(k, (counts.get(k) ?? 0) + 1);
  return new Proxy(inner, {
    get(t, prop, r) {
      const v = Reflect.get(t, prop, r) as unknown;
      if (typeof v !== 'function') return v;
      const name = String(prop);
      return (...args: unknown[]) => {
        if (name === 'transaction') {
          if (depth === 0) inc('commit:transaction');
          depth++;
          try { return (v as (...a: unknown[]) => unknown).apply(t, args); } finally { depth--; }
        }
        if (WRITES.has(name) && depth === 0) inc(`commit:${name}`);
        return (v as (...a: unknown[]) => unknown).apply(t, args);
      };
    },
  });
}
const chain = await startChain();
const counts = { hub: new Map<string, number>(), alice: new Map<string, number>(), bob: new Map<string, number>() };
const st = (n: keyof typeof counts) => counting(openSqliteStore({ path: join(chain.dir, `${n}.db`) }), counts[n]);
const hubKey = chain.anvil.accounts[2]!;
const hub = createHub({ privateKey: hubKey, chain: { rpcUrl: chain.anvil.rpcUrl, adjudicator: chain.deployment.adjudicator, consensusApp: chain.deployment.consensusApp, virtualPaymentApp: chain.deployment.virtualPaymentApp, startBlock: chain.deployment.deployBlock, pollIntervalMs: 100 }, listen: ['/ip4/127.0.0.1/tcp/0'], policy: { maxLedgerDeposit: 10n ** 18n }, http: false }, { store: st('hub'), logger: createLogger('silent') });
await hub.start();
const init = (key: string): NodeInit => ({ privateKey: key, chain: { rpcUrl: chain.anvil.rpcUrl, adjudicator: chain.deployment.adjudicator, consensusApp: chain.deployment.consensusApp, virtualPaymentApp: chain.deployment.virtualPaymentApp, startBlock: chain.deployment.deployBlock, pollIntervalMs: 100 }, hub: { address: privateKeyToAddress(hubKey), multiaddrs: hub.multiaddrs() } });
const alice = createNode(init(chain.anvil.accounts[1]!), { store: st('alice') });
const bob = createNode(init(chain.anvil.accounts[3]!), { store: st('bob') });
await alice.start(); await bob.start();
await Promise.all([alice.createLedgerChannel({ counterparty: hub.address, deposit: 10n ** 18n }), bob.createLedgerChannel({ counterparty: hub.address, deposit: 0n, counterpartyDeposit: 10n ** 17n })]);
const funded = (id: string) => new Promise<void>((r) => { const off = bob.on('virtualChannelFunded', (e) => { if (e.channelId.toLowerCase() === id.toLowerCase()) { off(); r(); } }); });
for (let i = 0; i < 3; i++) { const { channelId } = await alice.createVirtualChannel({ payee: bob.address, amount: 1000n }); if (bob.getVirtualChannel(channelId)?.status !== 'funded') await funded(channelId); await alice.closeVirtualChannel(channelId); }
await new Promise((r) => setTimeout(r, 1500));
for (const m of Object.values(counts)) m.clear();
const K = 10;
let openMs = 0;
for (let i = 0; i < K; i++) {
  const t = performance.now();
  const { channelId } = await alice.createVirtualChannel({ payee: bob.address, amount: 1000n });
  openMs += performance.now() - t;
  if (bob.getVirtualChannel(channelId)?.status !== 'funded') await funded(channelId);
  await alice.closeVirtualChannel(channelId);
  await new Promise((r) => setTimeout(r, 300));
}
for (const [who, m] of Object.entries(counts)) {
  const total = [...m.values()].reduce((a, b) => a + b, 0);
  console.log(who, 'commits per open+close cycle:', (total / K).toFixed(1), JSON.stringify(Object.fromEntries([...m].map(([k, v]) => [k.replace('commit:', ''), +(v / K).toFixed(1)]))));
}
console.log('mean open ms (in-process, file stores):', (openMs / K).toFixed(1));
await alice.stop(); await bob.stop(); await hub.stop(); await chain.stop();
