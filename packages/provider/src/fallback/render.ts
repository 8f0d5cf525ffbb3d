/** Text of a settle report (what `sluice-provider settle` and `sluice withdraw` print). */
import type { SettleReport, ChannelSettleResult } from './settle-all.ts';

function line(r: ChannelSettleResult): string {
  const head = `${r.kind === 'virtual' ? 'virtual channel' : 'ledger channel '} ${r.channelId}`;
  switch (r.mode) {
    case 'cooperative':
      if (r.note !== undefined) return `${head}  ${r.note}`;
      return `${head}  closed cooperatively${r.paid === undefined ? '' : `, payee paid ${r.paid}`}${r.amount === undefined ? '' : `, our balance ${r.amount} withdrawn`}`;
    case 'onChain':
      return `${head}  settling ON CHAIN${r.amount === undefined ? '' : ` (our balance ${r.amount})`}; objectives ${(r.objectiveIds ?? []).join(', ')}`;
    case 'failed':
      return `${head}  FAILED: ${r.message ?? ''} (${r.code ?? 'INTERNAL'})`;
  }
}

/** One line per channel, then a summary. */
export function renderSettleReport(report: SettleReport): string {
  const all = [...report.virtualChannels, ...report.ledgers];
  if (all.length === 0) return 'nothing to settle: no open virtual or ledger channel';
  const out = all.map(line);
  const failed = all.filter((r) => r.mode === 'failed').length;
  if (report.onChain) out.push('', 'on chain: the payout comes after the challenge duration (then reclaim and transferAllAssets).');
  if (failed > 0) out.push(`${failed} channel(s) failed; run again (add --force to go on chain at once).`);
  return out.join('\n');
}
