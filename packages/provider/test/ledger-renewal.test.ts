/**
 * The provider keeps a ledger with its hub (NodePayeeChannels.keepLedger, `--renew-ledger on`):
 * real engines on the in-memory network and chain. A ledger the hub exits on chain (we were
 * unreachable) is replaced by a new one, asking for the same collateral; a refused attempt is
 * retried; our own withdraw stops it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Address, ZERO_ADDRESS, privateKeyToAddress } from '@sluice/channel-core';
import { MemoryChainService, createMemoryNetwork } from '@sluice/channel-core/memory';
import { type Node, createNode } from '@sluice/channel-core/node';
import { openMemoryStore } from '@sluice/channel-core/sqlite';
import { NodePayeeChannels } from '../src/service/index.ts';

const HUB_KEY = '0xa4ade440a3f357caff796d63d5bf93d94afdf734e978588f6e7a50bda8f64bf2';
const BOB_KEY = '0x1c821f7627a08bf65826d8421025816e6b26208f9975ac706a0d581ebb08a4e6';
const CHAIN = { consensusApp: '0x00000000000000000000000000000000000000C0' as Address, virtualPaymentApp: '0x00000000000000000000000000000000000000D0' as Address, startBlock: 0 };
const HUB = privateKeyToAddress(HUB_KEY);

async function until(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function logLines() {
  const lines: { level: string; msg: string; obj: Record<string, unknown> }[] = [];
  return {
    lines,
    logger: {
      info: (obj: Record<string, unknown>, msg: string) => void lines.push({ level: 'info', msg, obj }),
      warn: (obj: Record<string, unknown>, msg: string) => void lines.push({ level: 'warn', msg, obj }),
    },
  };
}

async function world(acceptLedger: () => true | string = () => true) {
  const net = createMemoryNetwork({ minDelayMs: 0, maxDelayMs: 3, seed: 5 });
  const chain = new MemoryChainService();
  const make = (key: string, extra: object): Node =>
    createNode({ privateKey: key, chain: CHAIN, objectiveTimeoutMs: 2_000, callTimeoutMs: 5_000, txRetryDelayMs: 50, ...extra }, { store: openMemoryStore(), chain, messaging: net.service(privateKeyToAddress(key)) });
  const hub = make(HUB_KEY, { policy: { hub: {}, maxLedgerDeposit: 10n ** 24n, acceptLedger } });
  const bob = make(BOB_KEY, { hub: { address: HUB, multiaddrs: [] } });
  await hub.start();
  await bob.start();
  const ledgersWithHub = () => bob.getLedgerChannels().filter((l) => l.counterparty === HUB);
  return {
    hub,
    bob,
    ledgersWithHub,
    async stop() {
      await bob.stop();
      await hub.stop();
      net.close();
    },
  };
}

test('a ledger the hub exits on chain is replaced by a new one with the same collateral; our withdraw stops the renewal', async () => {
  const w = await world();
  const { hub, bob } = w;
  const channels = new NodePayeeChannels(bob, { address: HUB, asset: ZERO_ADDRESS });
  try {
    const { channelId: first } = await bob.createLedgerChannel({ counterparty: HUB, deposit: 0n, counterpartyDeposit: 500n });
    await until(() => hub.getLedgerChannel(first)?.status === 'open', 'the first ledger open at the hub');
    const { lines, logger } = logLines();
    const renewal = channels.keepLedger({ hub: HUB, asset: ZERO_ADDRESS, hubCollateral: 500n, logger, checkEveryMs: 20 });

    // the hub gives up on us and exits our ledger on chain
    assert.equal((await hub.exitLedgerChannel(first, { force: true })).mode, 'onChain');
    await until(() => renewal.renewed === 1, 'a new ledger opened');
    const fresh = w.ledgersWithHub().find((l) => l.status === 'open')!;
    assert.notEqual(fresh.channelId, first);
    assert.equal(bob.getLedgerChannel(first)?.status, 'closing');
    assert.equal(fresh.counterpartyBalance, 500n, 'the hub put its collateral in again');
    await until(() => hub.getLedgerChannel(fresh.channelId)?.status === 'open', 'the new ledger open at the hub');
    assert.equal(channels.notReceiving(), undefined);
    assert.deepEqual(
      lines.map((l) => l.msg),
      ['our ledger with the hub is no longer open: opening a new one', 'new ledger with the hub open: receiving payments again'],
    );

    // our own wind-down: the ledger closes and is not replaced
    await channels.withdraw();
    assert.equal(renewal.active, false);
    await until(() => bob.getLedgerChannel(fresh.channelId)?.status === 'closed', 'the new ledger closed cooperatively');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(w.ledgersWithHub().length, 2, 'no third ledger');
    assert.match(channels.notReceiving()!, /: restart sluice-provider to open a new one/);
  } finally {
    await channels.stop();
    await w.stop();
  }
});

test('a renewal the hub refuses is retried with a backoff, logged, until it accepts', async () => {
  let open = false;
  const w = await world(() => (open ? true : 'not taking new ledgers right now'));
  const { hub, bob } = w;
  const channels = new NodePayeeChannels(bob, { address: HUB, asset: ZERO_ADDRESS });
  try {
    open = true;
    const { channelId: first } = await bob.createLedgerChannel({ counterparty: HUB, deposit: 0n, counterpartyDeposit: 500n });
    await until(() => hub.getLedgerChannel(first)?.status === 'open', 'the first ledger open at the hub');
    open = false;
    const { lines, logger } = logLines();
    const renewal = channels.keepLedger({ hub: HUB, asset: ZERO_ADDRESS, hubCollateral: 500n, logger, checkEveryMs: 20, backoffMs: 50, maxBackoffMs: 100 });
    assert.equal((await bob.exitLedgerChannel(first, { force: true })).mode, 'onChain');
    await until(() => lines.filter((l) => l.level === 'warn').length >= 2, 'two refused attempts');
    assert.match(channels.notReceiving()!, /is closing: opening a new one/);
    const refused = lines.find((l) => l.level === 'warn')!;
    assert.equal(refused.msg, 'could not open a new ledger with the hub; trying again later');
    assert.equal(refused.obj['code'], 'HUB_POLICY_REJECTED');
    assert.match(String(refused.obj['reason']), /not taking new ledgers right now/);
    open = true;
    await until(() => renewal.renewed === 1, 'the ledger renewed once the hub accepts');
    assert.equal(channels.notReceiving(), undefined);
  } finally {
    await channels.stop();
    await w.stop();
  }
});
