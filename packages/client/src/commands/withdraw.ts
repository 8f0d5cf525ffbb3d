/**
 * `sluice withdraw [--force] [--wait] [--json]`: get our money back from the hub. Settles every
 * virtual channel we pay on (cooperative close: the payee gets what we paid; on chain when forced
 * or when the hub/provider is gone), then closes our ledger with the hub (cooperative
 * `closeLedgerChannel`, or on chain with `exitLedgerChannel`). On chain, our node must run to
 * finish (reclaim, transferAllAssets after the challenge duration): `--wait` keeps it running and
 * prints progress; otherwise run `sluice withdraw --wait` or `sluice status` later.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { SluiceError } from '@sluice/channel-core';
import type { Node } from '@sluice/channel-core/node';
import { COUNTERPARTY_ONLY, activityOf, describeActivity, formatSeconds, onChainState, renderDisputes, renderSettleReport, settleAll, type SettleReport, disputeView } from '@sluice/provider';
import { type NodeCommandOptions, addNodeCommandOptions, startNode } from './node-command.ts';
import { clientStatus } from './status.ts';

interface Io {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

interface WithdrawOptions extends NodeCommandOptions {
  force: boolean;
  wait: boolean;
  json: boolean;
  cooperativeTimeout?: number;
  pollMs: number;
  timeout?: number;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer (milliseconds)');
  return n;
}

/**
 * Our top-ups whose deposit the hub has not credited yet: closing their ledger now pays out the
 * last agreed state and leaves the deposit in the adjudicator for good.
 */
function uncreditedTopUps(node: Pick<Node, 'engine'>): { channelId: string; amount: bigint }[] {
  return node.engine
    .activeObjectives()
    .flatMap((o) => (o.type === 'ledgerTopUp' && o.ledger.myIndex === o.depositor ? [{ channelId: o.ledger.id, amount: o.amount }] : []));
}

/**
 * Before a withdraw: refuse while a top-up of ours is uncredited (closing would lose its deposit),
 * unless `force`, then warn.
 * @throws SluiceError LEDGER_NOT_EMPTY
 */
export function checkUncreditedTopUps(node: Pick<Node, 'engine'>, force: boolean, warn: (s: string) => void): void {
  const pending = uncreditedTopUps(node);
  if (pending.length === 0) return;
  const what = pending.map((p) => `a top-up of ${p.amount} we deposited into ledger ${p.channelId} is not credited by the hub yet`).join('; ');
  if (!force) {
    throw new SluiceError('LEDGER_NOT_EMPTY', `${what}. Closing the ledger now would leave that deposit in the adjudicator for good: wait until the hub answers (the deposit is credited then; see \`sluice status\`), or run \`sluice withdraw --force\` to close it on chain without the deposit`);
  }
  warn(`warning: ${what}; --force: closing without it (the deposit stays in the adjudicator)`);
}

/** Ledgers of the report settled on chain that are not closed yet. */
function openOnChainLedgers(node: Node, report: SettleReport): number {
  const ids = new Set(report.ledgers.filter((l) => l.mode === 'onChain').map((l) => l.channelId.toLowerCase()));
  return node.getLedgerChannels().filter((l) => ids.has(l.channelId.toLowerCase()) && l.status !== 'closed').length;
}

/**
 * Wait until no dispute is left and every ledger we exited on chain is closed (true), or until
 * what is left can only be finished by the counterparty (`counterpartyOnly` on two polls in a row:
 * waiting longer changes nothing), the timeout or an abort (false).
 */
async function waitForPayout(node: Node, report: SettleReport, opts: WithdrawOptions, progress: (s: string) => void, signal: AbortSignal): Promise<boolean> {
  const deadline = opts.timeout === undefined ? Infinity : Date.now() + opts.timeout;
  let last = '';
  let othersOnly = 0;
  for (;;) {
    const ds = node.getDisputes();
    const state = onChainState(ds, openOnChainLedgers(node, report));
    if (state === 'paidOut') return true;
    othersOnly = state === 'counterpartyOnly' ? othersOnly + 1 : 0;
    if (othersOnly >= 2) {
      progress(COUNTERPARTY_ONLY);
      return false;
    }
    const line = ds.map((d) => `${d.kind} ${d.channelId.slice(0, 10)}… ${d.phase}${d.secondsLeft === null ? '' : ` ${formatSeconds(d.secondsLeft)} left`} (${d.waitingFor}), ours ${d.amountsKnown === false ? 'not known yet' : d.mine}`).join('; ');
    if (line !== last) progress(`waiting: ${line === '' ? 'ledger payout' : line}`);
    last = line;
    if (Date.now() > deadline || signal.aborted) return false;
    await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

/**
 * Without --wait: keep the node up until no challenge (or conclude) of ours is still to be mined,
 * so "settling on chain" is true when we exit; at most `limitMs`. (A dispute in its `registering`
 * phase that waits on another participant is not ours to mine.)
 * @returns whether every challenge is registered
 */
async function waitForRegistration(node: Node, progress: (s: string) => void, signal: AbortSignal, limitMs = 120_000): Promise<boolean> {
  const deadline = Date.now() + limitMs;
  let said = false;
  for (;;) {
    const pending = node.getDisputes().filter((d) => d.waitingFor === 'WaitingForChallengeRegistered');
    if (pending.length === 0) return true;
    if (!said) progress(`registering ${pending.length} challenge(s) on chain…`);
    said = true;
    if (Date.now() > deadline || signal.aborted) return false;
    await new Promise((r) => setTimeout(r, 250));
  }
}

export function addWithdrawCommand(program: Command, io: Io, result: { code: number }, signal: AbortSignal): Command {
  const cmd = program
    .command('withdraw')
    .description('settle our virtual channels and close our ledger with the hub, getting our remaining deposit back: cooperatively first, on chain with --force or when the hub is gone')
    .option('--force', 'go on chain at once (no cooperative attempt)', false)
    .option('--wait', 'keep our node running until the on-chain payout (the challenge duration must pass), printing progress', false)
    .option('--json', 'print the result as JSON on stdout (progress goes to stderr)', false)
    .addOption(new Option('--cooperative-timeout <ms>', 'how long each cooperative close may take before going on chain').default(30_000).argParser(positiveInt))
    .addOption(new Option('--poll-ms <ms>', 'progress interval with --wait').default(5_000).argParser(positiveInt))
    .addOption(new Option('--timeout <ms>', 'stop waiting after this long (run again to finish)').argParser(positiveInt));
  addNodeCommandOptions(cmd);
  cmd.action(async (opts: WithdrawOptions) => {
    const progress = (s: string): void => void io.stderr.write(`${s}\n`);
    const { node, stop } = await startNode(opts, { signal, warn: progress });
    const off = node.onAny((e) => {
      const a = activityOf(e);
      if (a !== undefined) progress(describeActivity(a));
    });
    try {
      checkUncreditedTopUps(node, opts.force, progress);
      const report = await settleAll(node, {
        ...(opts.force ? { force: true } : {}),
        ...(opts.cooperativeTimeout === undefined ? {} : { cooperativeTimeoutMs: opts.cooperativeTimeout }),
        signal,
        onProgress: (p) => {
          if (p.phase === 'start') progress(`${p.kind} channel ${p.channelId}: ${opts.force ? 'going on chain' : 'closing cooperatively'}…`);
        },
      });
      const failed = [...report.virtualChannels, ...report.ledgers].some((r) => r.mode === 'failed');
      result.code = failed ? 1 : 0;
      if (!opts.json) io.stdout.write(`${renderSettleReport(report)}\n`);
      if (report.onChain && opts.wait) {
        const done = await waitForPayout(node, report, opts, progress, signal);
        if (!done) result.code = 1;
        const s = clientStatus(node);
        if (opts.json) io.stdout.write(`${JSON.stringify({ ...report, done, status: s }, null, 2)}\n`);
        else {
          const othersOnly = !done && onChainState(node.getDisputes(), openOnChainLedgers(node, report)) === 'counterpartyOnly';
          io.stdout.write(done ? 'withdrawn: every channel is closed and paid out\n' : othersOnly ? `${COUNTERPARTY_ONLY}\n` : 'still settling on chain: run `sluice withdraw --wait` again to finish\n');
        }
        return;
      }
      const registered = report.onChain ? await waitForRegistration(node, progress, signal) : true;
      const disputes = node.getDisputes().map(disputeView);
      const state = report.onChain ? onChainState(node.getDisputes(), openOnChainLedgers(node, report)) : 'paidOut';
      if (opts.json) io.stdout.write(`${JSON.stringify({ ...report, registered, state, disputes }, null, 2)}\n`);
      else if (state === 'paidOut' && report.onChain) io.stdout.write('withdrawn: every channel is closed and paid out\n');
      else if (state === 'counterpartyOnly') io.stdout.write(`\n${renderDisputes(disputes)}\n\n${COUNTERPARTY_ONLY}: check with \`sluice status\`.\n`);
      else if (report.onChain) {
        const left = disputes.map((d) => d.secondsLeft).filter((x): x is number => x !== null);
        const when = left.length > 0 ? ` (after about ${formatSeconds(Math.max(...left))} of chain time)` : '';
        io.stdout.write(`\nin challenge / settling on chain\n${renderDisputes(disputes)}\n\n${registered ? '' : 'a challenge transaction is not mined yet; '}our node finishes this when it runs${when}: run \`sluice withdraw --wait\` then, or check with \`sluice status\`.\n`);
      }
    } finally {
      off();
      await stop();
    }
  });
  return cmd;
}
