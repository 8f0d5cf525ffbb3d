/**
 * The provider keeps a ledger with its hub: when the one it has leaves `open` without our asking —
 * exited on chain by our node (the hub was silent past the peer timeout with a client's channel
 * in flight) or by the hub (we were unreachable) — a new one is opened beside it, asking the hub
 * for the same collateral. Before, the provider answered 503 "restart sluice-provider to open a
 * new one" until an operator did, for as long as the exit ran (a day by default) and after.
 *
 * Not after our own wind-down: `withdraw` and `settle` (admin API or CLI) stop the renewal first.
 * A refused or failed attempt is tried again with a backoff (5 s doubling to 5 min), each logged;
 * the hub caps the collateral it keeps toward one peer (`--max-peer-collateral`, default twice its
 * `--max-ledger-deposit`), so a provider whose ledger is exited again while the first exit still
 * runs may wait for that exit to end.
 */
import { type Address, type ChannelId, isSluiceError, sameAddress } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';

export interface LedgerRenewalLogger {
  info(obj: Record<string, unknown>, msg: string): void;
  warn(obj: Record<string, unknown>, msg: string): void;
}

export interface LedgerRenewalInit {
  readonly hub: Address;
  readonly asset: Address;
  /** The hub's deposit the new ledger asks for (as at start: `--hub-collateral`). */
  readonly hubCollateral: bigint;
  readonly logger: LedgerRenewalLogger;
  /** How often the ledger is checked (default 2 000 ms). */
  readonly checkEveryMs?: number;
  /** First wait after a failed attempt, doubled each time up to `maxBackoffMs` (default 5 000). */
  readonly backoffMs?: number;
  /** Default 300 000. */
  readonly maxBackoffMs?: number;
  /** Deadline of one attempt (default: the node's, its call timeout plus the confirmations' wait). */
  readonly attemptTimeoutMs?: number;
}

export interface LedgerRenewal {
  /** Renewals that opened a ledger, since start. */
  readonly renewed: number;
  /** Whether it still renews (false once stopped). */
  readonly active: boolean;
  /** Stop renewing; resolves once an attempt in progress has ended. */
  stop(): Promise<void>;
}

/** Start keeping a live ledger with the hub (the caller opened the first one). */
export function keepLedgerWithHub(node: Node, init: LedgerRenewalInit): LedgerRenewal {
  const backoff0 = init.backoffMs ?? 5_000;
  const maxBackoff = init.maxBackoffMs ?? 300_000;
  let active = true;
  let renewed = 0;
  let attempt: Promise<void> | undefined;
  let notBefore = 0;
  let backoff = backoff0;
  const abort = new AbortController();

  const ours = () => node.getLedgerChannels().filter((l) => sameAddress(l.counterparty, init.hub) && sameAddress(l.asset, init.asset));

  const renew = async (gone: readonly { channelId: ChannelId; status: string }[]): Promise<void> => {
    init.logger.info({ peer: init.hub, ledgers: gone.map((l) => `${l.channelId} ${l.status}`), amount: init.hubCollateral.toString() }, 'our ledger with the hub is no longer open: opening a new one');
    try {
      const { channelId } = await node.createLedgerChannel(
        { counterparty: init.hub, asset: init.asset, deposit: 0n, counterpartyDeposit: init.hubCollateral },
        { signal: abort.signal, ...(init.attemptTimeoutMs === undefined ? {} : { timeoutMs: init.attemptTimeoutMs }) },
      );
      renewed++;
      backoff = backoff0;
      init.logger.info({ peer: init.hub, channelId }, 'new ledger with the hub open: receiving payments again');
    } catch (e) {
      if (!active) return;
      notBefore = Date.now() + backoff;
      init.logger.warn(
        { peer: init.hub, code: isSluiceError(e) ? e.code : 'INTERNAL', reason: e instanceof Error ? e.message.slice(0, 300) : String(e), retryInMs: backoff },
        'could not open a new ledger with the hub; trying again later',
      );
      backoff = Math.min(backoff * 2, maxBackoff);
    }
  };

  const check = (): void => {
    if (!active || attempt !== undefined || Date.now() < notBefore) return;
    const ledgers = ours();
    if (ledgers.some((l) => l.status === 'open' || l.status === 'funding')) return;
    attempt = renew(ledgers).finally(() => (attempt = undefined));
  };
  const timer = setInterval(check, init.checkEveryMs ?? 2_000);
  timer.unref();

  return {
    get renewed() {
      return renewed;
    },
    get active() {
      return active;
    },
    async stop() {
      if (!active) return;
      active = false;
      clearInterval(timer);
      abort.abort();
      await attempt?.catch(() => {});
    },
  };
}
