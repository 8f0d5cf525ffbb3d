/**
 * `sluice status [--json]`: our ledger channels with hubs, virtual channels, and the channels in
 * challenge (phase, chain time left, what each side will get). It starts our channel node on its
 * store (catching up with the chain; a running on-chain settlement makes progress meanwhile).
 */
import type { Command } from 'commander';
import type { LedgerChannelInfo, Node } from '@sluice/channel-core/node';
import { type DisputeView, disputeView, renderDisputes, shortId, textTable } from '@sluice/provider';
import { type NodeCommandOptions, addNodeCommandOptions, startNode } from './node-command.ts';

interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

/** The JSON of `sluice status --json` (amounts as decimal strings). */
export interface ClientStatus {
  readonly address: string;
  /**
   * Balances are the last agreed state's while the ledger is live; a closed ledger holds nothing
   * any more, so they are null, and `paidOut` says what closing it paid us: as the node recorded
   * it when the close completed (a cooperative close's final state, an on-chain exit's payout),
   * else — a ledger closed before nodes recorded it — its last agreed balance when it locked
   * nothing, else null (see the chain, or `withdraw`'s report).
   */
  readonly ledgers: { channelId: string; hub: string; asset: string; status: string; myBalance: string | null; hubBalance: string | null; locked: string | null; guarantees: number; paidOut?: string | null }[];
  readonly virtualChannels: { channelId: string; role: string; payee: string; asset: string; status: string; amount: string; paid: string; remaining: string }[];
  readonly disputes: DisputeView[];
}

export function clientStatus(node: Node): ClientStatus {
  return {
    address: node.address,
    ledgers: node.getLedgerChannels().map(ledgerView),
    virtualChannels: node.getVirtualChannels().map((v) => ({ channelId: v.channelId, role: v.role, payee: v.payee, asset: v.asset, status: v.status, amount: v.amount.toString(), paid: v.paid.toString(), remaining: v.remaining.toString() })),
    disputes: node.getDisputes().map(disputeView),
  };
}

function ledgerView(l: LedgerChannelInfo): ClientStatus['ledgers'][number] {
  const head = { channelId: l.channelId, hub: l.counterparty, asset: l.asset, status: l.status };
  if (l.status === 'closed') return { ...head, myBalance: null, hubBalance: null, locked: null, guarantees: 0, paidOut: l.paidOut !== undefined ? l.paidOut.toString() : l.guarantees === 0 ? l.myBalance.toString() : null };
  return { ...head, myBalance: l.myBalance.toString(), hubBalance: l.counterpartyBalance.toString(), locked: l.locked.toString(), guarantees: l.guarantees };
}

function ledgerRow(l: ClientStatus['ledgers'][number]): string[] {
  const head = [shortId(l.channelId), shortId(l.hub), shortId(l.asset), l.status];
  if (l.status === 'closed') return [...head, l.paidOut == null ? 'paid out: not known' : `paid out ${l.paidOut}`, '-', '-'];
  return [...head, l.myBalance ?? '-', l.hubBalance ?? '-', l.locked ?? '-'];
}

export function renderClientStatus(s: ClientStatus): string {
  const out = [`client ${s.address}`, '', `ledger channels (${s.ledgers.length})`];
  out.push(s.ledgers.length === 0 ? '  none' : textTable(['channel', 'hub', 'asset', 'status', 'mine', 'hub balance', 'locked'], s.ledgers.map(ledgerRow)));
  const open = s.virtualChannels.filter((v) => v.status !== 'closed');
  out.push('', `virtual channels not closed (${open.length} of ${s.virtualChannels.length})`);
  out.push(open.length === 0 ? '  none' : textTable(['channel', 'role', 'payee', 'status', 'locked', 'paid', 'remaining'], open.map((v) => [shortId(v.channelId), v.role, shortId(v.payee), v.status, v.amount, v.paid, v.remaining])));
  out.push('', `in challenge / settling on chain (${s.disputes.length})`, renderDisputes(s.disputes));
  return out.join('\n');
}

export function addStatusCommand(program: Command, io: Io, result: { code: number }): Command {
  const cmd = program
    .command('status')
    .description('show our channels with the hub and the channels in challenge: phase, chain time left, what each side will get (runs our channel node briefly)')
    .option('--json', 'print the status as JSON', false);
  addNodeCommandOptions(cmd);
  cmd.action(async (opts: NodeCommandOptions & { json: boolean }) => {
    const { node, stop } = await startNode(opts, { warn: (s) => void io.stderr.write(`${s}\n`) });
    try {
      const s = clientStatus(node);
      io.stdout.write(`${opts.json ? JSON.stringify(s, null, 2) : renderClientStatus(s)}\n`);
      result.code = 0;
    } finally {
      await stop();
    }
  });
  return cmd;
}
