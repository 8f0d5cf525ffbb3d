/**
 * `sluice-provider status [--json]`: the running provider's virtual channels (earnings), ledger
 * channels and the channels in challenge (time left, what each side will get), from its admin API.
 */
import type { Command } from 'commander';
import { type DisputeView, renderDisputes, shortId, textTable } from '../fallback/disputes.ts';
import type { FallbackTxView, PayoutView } from '../fallback/activity.ts';
import type { LedgerView } from '../service/channels.ts';
import { adminCall, adminOptions } from './admin-client.ts';

/** Body of `GET /admin/status`. */
export interface ProviderStatus {
  readonly payee: string;
  readonly virtualChannels: { channelId: string; payer: string; asset: string; status: string; balance: string; earned: string }[];
  /** Balances null for a closed ledger; `paidOut` what it paid us (null: not known). */
  readonly ledgers: LedgerView[];
  readonly disputes: DisputeView[];
  readonly transactions: FallbackTxView[];
  readonly payouts: PayoutView[];
}

/**
 * A ledger's row: a closed ledger holds nothing any more, so no balances, and in `mine` what it
 * paid us out (`paid out N`, or `paid out: not known`).
 */
function ledgerRow(l: LedgerView): string[] {
  const head = [shortId(l.channelId), shortId(l.counterparty), shortId(l.asset), l.status];
  if (l.status === 'closed') return [...head, l.paidOut == null ? 'paid out: not known' : `paid out ${l.paidOut}`, '-', '-', '-'];
  return [...head, l.myBalance ?? '-', l.counterpartyBalance ?? '-', l.locked ?? '-', String(l.guarantees)];
}

/** Human-readable provider status. */
export function renderProviderStatus(s: ProviderStatus): string {
  const out: string[] = [`provider ${s.payee}`, '', `ledger channels (${s.ledgers.length})`];
  out.push(s.ledgers.length === 0 ? '  none' : textTable(['channel', 'hub', 'asset', 'status', 'mine', 'hub balance', 'locked', 'guarantees'], s.ledgers.map(ledgerRow)));
  const open = s.virtualChannels.filter((v) => v.status !== 'closed');
  out.push('', `virtual channels not closed (${open.length} of ${s.virtualChannels.length})`);
  out.push(open.length === 0 ? '  none' : textTable(['channel', 'payer', 'status', 'balance', 'earned'], open.map((v) => [shortId(v.channelId), shortId(v.payer), v.status, v.balance, v.earned])));
  out.push('', `in challenge / settling on chain (${s.disputes.length})`, renderDisputes(s.disputes));
  if (s.transactions.length > 0) {
    out.push('', 'fallback transactions (since the provider started)');
    out.push(textTable(['kind', 'channel', 'tx', 'gas'], s.transactions.map((t) => [t.kind, shortId(t.channelId), t.txHash, t.gasUsed])));
  }
  for (const p of s.payouts) out.push(`payout from ledger ${p.channelId}: ours ${p.mine}`);
  return out.join('\n');
}

export function addStatusCommand(program: Command, out: { log(s: string): void }): Command {
  const cmd = program
    .command('status')
    .description("show the running provider's channels, the channels in challenge (time left, amounts each side will get) and recent on-chain transactions (admin API)");
  for (const o of adminOptions()) cmd.addOption(o);
  cmd.option('--json', 'print the status as JSON', false).action(async (opts: { url: string; adminToken?: string; json: boolean }) => {
    const s = await adminCall<ProviderStatus>(opts, 'GET', '/admin/status');
    out.log(opts.json ? JSON.stringify(s, null, 2) : renderProviderStatus(s));
  });
  return cmd;
}
