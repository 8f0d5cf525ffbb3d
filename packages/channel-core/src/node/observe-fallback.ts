/**
 * Metrics and logs of the on-chain fallback, fed from a node's events: every challenge, answer,
 * fallback transaction and payout is counted in Prometheus and logged (pino-style logger) with
 * `channelId`, `objectiveId`, `txHash`. Shared by the hub and the provider
 * (`@sluice/channel-core/node/observe`); kept out of the `node` entry so nodes without metrics do
 * not load prom-client.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `sluice_challenges_total` | counter | `kind` (ledger, virtual), `role` (`us`: registered by our transaction, `peer`: by someone else) |
 * | `sluice_challenge_responses_total` | counter | `action` (checkpoint, challenge, conclude) |
 * | `sluice_fallback_transactions_total` | counter | `kind` (challenge, checkpoint, conclude, reclaim, transferAllAssets) |
 * | `sluice_fallback_gas_total` | counter | | gas used by our fallback transactions |
 * | `sluice_payouts_total` | counter | | ledgers paid out on chain |
 * | `sluice_payout_amount_total` | counter | | our share of those payouts (base units; float) |
 * | `sluice_disputes_open` | gauge | `kind`, `phase` | channels being settled on chain |
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Node, NodeEvent } from './index.ts';

/** The logger methods used (pino's signature). */
export interface FallbackLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface FallbackObserver {
  /** Unsubscribe from the node (the metrics stay registered). */
  stop(): void;
}

/** How long a `challengeRegistered` waits for our own `fallbackTransaction` to claim it. */
const ROLE_WAIT_MS = 15_000;

/**
 * Register the fallback metrics in `registry` and follow `node`'s events.
 * @param options.disputes - read at scrape time for `sluice_disputes_open` (default: `node.getDisputes()`)
 */
export function observeFallback(node: Pick<Node, 'onAny' | 'getDisputes'>, options: { registry: Registry; logger: FallbackLogger }): FallbackObserver {
  const registers = [options.registry];
  const log = options.logger;
  const challenges = new Counter({ name: 'sluice_challenges_total', help: 'Challenges registered on chain about our channels, by kind (ledger, virtual) and role (us: our transaction; peer: someone else)', labelNames: ['kind', 'role'] as const, registers });
  const responses = new Counter({ name: 'sluice_challenge_responses_total', help: 'Challenges answered by our watchtower, by action (checkpoint, challenge, conclude)', labelNames: ['action'] as const, registers });
  const txs = new Counter({ name: 'sluice_fallback_transactions_total', help: 'Fallback transactions we submitted and saw mined, by kind', labelNames: ['kind'] as const, registers });
  const gas = new Counter({ name: 'sluice_fallback_gas_total', help: 'Gas used by our fallback transactions', registers });
  const payouts = new Counter({ name: 'sluice_payouts_total', help: 'Ledger channels paid out on chain (transferAllAssets seen)', registers });
  const paid = new Counter({ name: 'sluice_payout_amount_total', help: 'Our share of on-chain payouts (asset base units; may lose precision above 2^53)', registers });
  new Gauge({
    name: 'sluice_disputes_open',
    help: 'Channels being settled on chain, by kind and phase (registering, challenge, finalized)',
    labelNames: ['kind', 'phase'] as const,
    registers,
    collect() {
      this.reset();
      this.set({ kind: 'ledger', phase: 'challenge' }, 0);
      this.set({ kind: 'virtual', phase: 'challenge' }, 0);
      let list: ReturnType<Node['getDisputes']> = [];
      try {
        list = node.getDisputes();
      } catch {
        // node not started
      }
      for (const d of list) this.inc({ kind: d.kind, phase: d.phase });
    },
  });
  const ourTxs = new Set<string>();
  const pending = new Map<string, { kind: 'ledger' | 'virtual'; timer: NodeJS.Timeout }>();
  const classify = (txHash: string, kind: 'ledger' | 'virtual', role: 'us' | 'peer'): void => {
    challenges.inc({ kind, role });
  };
  const onEvent = (e: NodeEvent): void => {
    switch (e.type) {
      case 'challengeRegistered': {
        const h = e.txHash.toLowerCase();
        log.warn({ channelId: e.channelId, kind: e.kind, turnNum: e.turnNum, finalizesAt: e.finalizesAt, txHash: e.txHash }, 'challenge registered on chain');
        if (ourTxs.has(h)) {
          ourTxs.delete(h);
          classify(h, e.kind, 'us');
        } else if (!pending.has(h)) {
          const timer = setTimeout(() => {
            pending.delete(h);
            classify(h, e.kind, 'peer');
          }, ROLE_WAIT_MS);
          timer.unref();
          pending.set(h, { kind: e.kind, timer });
        }
        break;
      }
      case 'challengeAnswered':
        responses.inc({ action: e.action });
        log.info({ channelId: e.channelId, action: e.action, turnNum: e.turnNum, challengedTurnNum: e.challengedTurnNum }, 'challenge answered');
        break;
      case 'fallbackStarted':
        log.warn({ objectiveId: e.objectiveId, channelId: e.channelId, type: e.objectiveType, reason: e.reason }, 'settling on chain');
        break;
      case 'fallbackTransaction': {
        const h = e.txHash.toLowerCase();
        txs.inc({ kind: e.kind });
        gas.inc(Number(e.gasUsed));
        log.info({ objectiveId: e.objectiveId, channelId: e.channelId, kind: e.kind, txHash: e.txHash, blockNumber: e.blockNumber, gasUsed: e.gasUsed.toString(), ...(e.targetChannelId === undefined ? {} : { targetChannelId: e.targetChannelId }) }, 'fallback transaction mined');
        if (e.kind === 'challenge') {
          const p = pending.get(h);
          if (p !== undefined) {
            clearTimeout(p.timer);
            pending.delete(h);
            classify(h, p.kind, 'us');
          } else {
            ourTxs.add(h); // its ChallengeRegistered comes later: classified (and forgotten) then
            if (ourTxs.size > 1024) ourTxs.delete(ourTxs.values().next().value!); // one that never came
          }
        }
        break;
      }
      case 'payout':
        payouts.inc();
        paid.inc(Number(e.mine));
        log.info({ channelId: e.channelId, asset: e.asset, amount: e.mine.toString(), amounts: e.amounts.map((a) => ({ participant: a.participant, amount: a.amount.toString() })) }, 'on-chain payout');
        break;
      case 'objectiveStalled':
        if (e.objectiveType === 'virtualChallenge' || e.objectiveType === 'ledgerExit') {
          log.warn({ objectiveId: e.objectiveId, channelId: e.channelId, reason: e.reason, waitingFor: e.waitingFor, detail: e.detail }, 'on-chain settlement stalled');
        }
        break;
      default:
        break;
    }
  };
  const off = node.onAny(onEvent);
  return {
    stop() {
      off();
      for (const p of pending.values()) clearTimeout(p.timer);
      pending.clear();
    },
  };
}
