/**
 * Both parties of a ledger top up at the same moment, on a real chain (anvil, ERC-20) over real
 * libp2p: one deposit reverts (expectedHeld), its top-up is tried again on top of the other, and
 * both deposits end credited once, each to its depositor (the ledger total equals the holdings).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Node } from '@sluice/channel-core/node';
import { startE2E, until, type E2E } from './lib.ts';

let e: E2E;
before(async () => {
  e = await startE2E();
});
after(async () => {
  await e?.stop();
});

test('leader and follower top up one ledger at once: both credited, ledger total == holdings', async () => {
  const { alice: A, irene: I } = e.chain;
  const irene: Node = await e.start(I, { policy: { hub: { maxGuarantee: 10n ** 21n }, maxLedgerDeposit: 10n ** 21n } });
  const alice = await e.start(A, { hub: { address: I.address, multiaddrs: irene.multiaddrs() } });
  const deposit = 10n ** 18n;
  const { channelId: ai } = await alice.createLedgerChannel({ counterparty: I.address, asset: e.token, deposit });
  await until(() => irene.getLedgerChannel(ai)?.status === 'open', 'irene sees the ledger open');

  const mine = 2n * 10n ** 17n;
  const theirs = 3n * 10n ** 17n;
  const results = await Promise.all([
    alice.topUpLedgerChannel({ channelId: ai, amount: mine }, { timeoutMs: 30_000 }).then(() => 'ok', (x) => `${x.code}: ${x.message}`),
    irene.topUpLedgerChannel({ channelId: ai, amount: theirs }, { timeoutMs: 30_000 }).then(() => 'ok', (x) => `${x.code}: ${x.message}`),
  ]);
  assert.deepEqual(results, ['ok', 'ok']);
  const held = await e.chain.alice.chain.holdings(e.token, ai);
  assert.equal(held, deposit + mine + theirs);
  await until(() => alice.getLedgerChannel(ai)?.counterpartyBalance === theirs && irene.getLedgerChannel(ai)?.counterpartyBalance === deposit + mine, 'both credited at both');
  const l = alice.getLedgerChannel(ai)!;
  assert.equal(l.myBalance + l.counterpartyBalance + l.locked, held);
  assert.equal(l.myBalance, deposit + mine);
});
