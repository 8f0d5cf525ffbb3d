/**
 * End-to-end fixture: anvil with Sluice's contracts (test/chain/lib.ts), and Sluice nodes
 * (channel-core's Node API) over real libp2p on loopback with sqlite stores in a temp dir.
 * Alice = client/payer, Irene = hub, Bob = provider/payee. Payments use the test ERC20 so
 * token balances are exact (gas is paid in ETH).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createNode, type Node, type NodeInit } from '@sluice/channel-core/node';
import type { Address } from '@sluice/channel-core';
import { startChain, type Actor, type ChainFixture } from '../chain/lib.ts';

export interface E2E {
  readonly chain: ChainFixture;
  readonly dir: string;
  readonly token: Address;
  /** Node init for an actor (real adapters from rpcUrl/addresses). */
  init(actor: Actor, extra?: Partial<NodeInit>): NodeInit;
  /** Create and start an in-process node. */
  start(actor: Actor, extra?: Partial<NodeInit>): Promise<Node>;
  tokenBalance(who: Address): Promise<bigint>;
  stop(): Promise<void>;
}

export async function startE2E(): Promise<E2E> {
  const chain = await startChain();
  const dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const nodes: Node[] = [];
  const token = chain.deployment.testToken as Address;
  const init = (actor: Actor, extra: Partial<NodeInit> = {}): NodeInit => ({
    privateKey: actor.key,
    chain: {
      rpcUrl: chain.anvil.rpcUrl,
      adjudicator: chain.deployment.adjudicator as Address,
      consensusApp: chain.deployment.consensusApp as Address,
      virtualPaymentApp: chain.deployment.virtualPaymentApp as Address,
      startBlock: chain.deployment.deployBlock,
      pollIntervalMs: 50,
      timeoutMs: 30_000,
    },
    store: join(dir, `${actor.name}.db`),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    callTimeoutMs: 60_000,
    objectiveTimeoutMs: 10_000,
    messagingRetry: { initialBackoffMs: 50, maxBackoffMs: 500 },
    txRetryDelayMs: 200,
    ...extra,
  });
  return {
    chain,
    dir,
    token,
    init,
    async start(actor, extra = {}) {
      const node = createNode(init(actor, extra));
      await node.start();
      nodes.push(node);
      return node;
    },
    tokenBalance: (who) => chain.alice.chain.balanceOf(token, who),
    async stop() {
      for (const n of nodes.reverse()) await n.stop().catch(() => {});
      await chain.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolve when `pred` holds (polling). */
export async function until(pred: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const start = Date.now();
  while (!(await pred())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
