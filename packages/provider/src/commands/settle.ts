/**
 * `sluice-provider settle [--force] [--wait] [--json]`: get paid for every virtual channel and
 * withdraw from the ledger with the hub, through the running provider's admin API
 * (`POST /admin/settle`). Cooperative first; on chain when `--force` or when the payer or the hub
 * is gone (the channel node decides). Without `--wait` it returns once the on-chain settlement is
 * started (the provider's node finishes it by itself); with `--wait` it prints progress until the
 * payout.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { SluiceError } from '@sluice/channel-core';
import type { SettleReport } from '../fallback/settle-all.ts';
import { type DisputeView, formatSeconds, renderDisputes } from '../fallback/disputes.ts';
import { type FallbackTxView, type PayoutView, unattributedNote } from '../fallback/activity.ts';
import { renderSettleReport } from '../fallback/render.ts';
import { adminCall, adminOptions } from './admin-client.ts';
import type { ProviderStatus } from './status.ts';

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer (milliseconds)');
  return n;
}

interface SettleFlags {
  url: string;
  adminToken?: string;
  force: boolean;
  wait: boolean;
  json: boolean;
  cooperativeTimeout?: number;
  pollMs: number;
  timeout?: number;
}

type SettleBody = SettleReport & { disputes: DisputeView[]; transactions: FallbackTxView[]; payouts: PayoutView[] };

export function addSettleCommand(program: Command, out: { log(s: string): void; err(s: string): void }): Command {
  const cmd = program
    .command('settle')
    .description('get paid and withdraw: close every virtual channel (redeeming the best voucher) and the ledger with the hub, cooperatively first; on chain when --force or when the payer or hub is gone. Talks to the running provider (admin API).');
  for (const o of adminOptions()) cmd.addOption(o);
  cmd
    .option('--force', 'go on chain at once (no cooperative attempt)', false)
    .option('--wait', 'wait for the on-chain payout (the challenge duration must pass), printing progress', false)
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)', false)
    .addOption(new Option('--cooperative-timeout <ms>', 'how long each cooperative close may take before going on chain (default: the node\'s)').argParser(positiveInt))
    .addOption(new Option('--poll-ms <ms>', 'progress interval with --wait').default(5_000).argParser(positiveInt))
    .addOption(new Option('--timeout <ms>', 'give up waiting after this long (the settlement itself goes on)').argParser(positiveInt))
    .action(async (opts: SettleFlags) => {
      const q = new URLSearchParams();
      if (opts.force) q.set('force', '1');
      if (opts.cooperativeTimeout !== undefined) q.set('cooperativeTimeoutMs', String(opts.cooperativeTimeout));
      // the call can take a while: a silent peer is waited for (the cooperative timeout) before going on chain
      if (!opts.force) out.err(`closing cooperatively (a peer that does not answer within ${opts.cooperativeTimeout === undefined ? "the node's call timeout, 60 s by default" : `${opts.cooperativeTimeout} ms`} is settled on chain)…`);
      else out.err('going on chain…');
      const body = await adminCall<SettleBody>(opts, 'POST', `/admin/settle${q.size === 0 ? '' : `?${q}`}`, { timeoutMs: 15 * 60_000 });
      if (!opts.json) {
        out.log(renderSettleReport(body));
        if (body.disputes.length > 0) out.log(`\nin challenge / settling on chain\n${renderDisputes(body.disputes)}`);
      }
      if (!body.onChain || !opts.wait) {
        if (opts.json) out.log(JSON.stringify(body, null, 2));
        else if (body.onChain) {
          const left = body.disputes.map((d) => d.secondsLeft).filter((s): s is number => s !== null);
          out.log(`\nthe provider's node finishes this by itself${left.length > 0 ? ` (about ${formatSeconds(Math.max(...left))} of chain time left)` : ''}; check with \`sluice-provider status\`, or run \`sluice-provider settle --wait\` to wait for the payout.`);
        }
        return;
      }
      const final = await waitForPayout(opts, body, (s) => out.err(s));
      if (opts.json) out.log(JSON.stringify({ ...body, final }, null, 2));
      else {
        for (const t of final.transactions) out.log(`tx ${t.kind} ${t.txHash} (channel ${t.channelId}, gas ${t.gasUsed})`);
        for (const p of final.payouts) out.log(`payout from ledger ${p.channelId}: ${p.amounts.map((a) => `${a.participant} ${a.amount}`).join(', ')}; ours ${p.mine}${unattributedNote(p.unattributed)}`);
        out.log('settled: every channel is closed and paid out');
      }
    });
  return cmd;
}

/** Poll `/admin/status` until no dispute is left and the settled ledgers are closed. */
async function waitForPayout(opts: SettleFlags, body: SettleBody, progress: (s: string) => void): Promise<ProviderStatus> {
  const deadline = opts.timeout === undefined ? Infinity : Date.now() + opts.timeout;
  const ledgerIds = new Set(body.ledgers.filter((l) => l.mode === 'onChain').map((l) => l.channelId.toLowerCase()));
  let last = '';
  for (;;) {
    const s = await adminCall<ProviderStatus>(opts, 'GET', '/admin/status');
    const open = s.ledgers.filter((l) => ledgerIds.has(l.channelId.toLowerCase()) && l.status !== 'closed');
    if (s.disputes.length === 0 && open.length === 0) return s;
    const line = s.disputes.map((d) => `${d.kind} ${d.channelId.slice(0, 10)}… ${d.phase}${d.secondsLeft === null ? '' : ` ${formatSeconds(d.secondsLeft)} left`} (${d.waitingFor}), ours ${d.amountsKnown === false ? 'not known yet' : d.mine}`).join('; ');
    if (line !== last) progress(`waiting: ${line === '' ? 'ledger payout' : line}`);
    last = line;
    if (Date.now() > deadline) throw new SluiceError('PEER_TIMEOUT', 'still settling on chain; the provider goes on by itself (check `sluice-provider status`)');
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}
