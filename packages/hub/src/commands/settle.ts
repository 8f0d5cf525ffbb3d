/**
 * `sluice-hub settle [--force] [--wait] [--json]`: wind the hub down — withdraw from every ledger
 * channel with its peers. Cooperative `closeLedgerChannel` for ledgers that fund no virtual
 * channel and whose peer answers; on chain (`exitLedgerChannel`: challenge, reclaim,
 * `transferAllAssets`) with `--force`, when the peer is gone, or after the cooperative timeout. A
 * hub settles virtual channels only on chain, so ledgers that still fund some need `--force`.
 *
 * It runs the hub's own node on the same store and listen addresses, so the hub must be stopped
 * first (it refuses when the hub's HTTP answers). Without `--wait` it returns once the on-chain
 * settlement is started: start the hub again and it finishes by itself (`sluice-hub status` shows
 * the time left).
 */
import { pino } from 'pino';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { type ChannelId, SluiceError, isSluiceError } from '@sluice/channel-core';
import type { Node, NodeEvent } from '@sluice/channel-core/node';
import { type HubConfig, addConfigOptions, configFromFlags } from '../config.ts';
import { openHub } from '../open-hub.ts';
import { formatSeconds } from '../status.ts';
import { COUNTERPARTY_ONLY, onChainState } from '@sluice/channel-core/node';

interface SettleIO {
  out(s: string): void;
  err(s: string): void;
  readonly env: Readonly<Record<string, string | undefined>>;
}

interface SettleFlags {
  force: boolean;
  wait: boolean;
  json: boolean;
  cooperativeTimeout?: number;
  pollMs: number;
  timeout?: number;
}

/** One ledger's result (amounts as decimal strings). */
export interface HubSettleResult {
  readonly channelId: ChannelId;
  readonly counterparty: string;
  readonly asset: string;
  readonly hubBalance: string;
  readonly mode: 'cooperative' | 'onChain' | 'failed';
  readonly objectiveIds?: readonly string[];
  readonly code?: string;
  readonly message?: string;
  /** Said instead of the usual line (a ledger opening given up with nothing of the hub's in it). */
  readonly note?: string;
}

function positiveInt(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer (milliseconds)');
  return n;
}

export function addSettleCommand(program: Command, io: SettleIO): Command {
  const cmd = program
    .command('settle')
    .description('withdraw from every ledger channel: cooperatively where the peer answers and no virtual channel is open, on chain with --force or when the peer is gone. Uses the same options as `start` (store, key, chain); stop the hub first.')
    .option('--force', 'go on chain at once: challenge every ledger (and the virtual channels they fund), reclaim, transferAllAssets', false)
    .option('--wait', 'wait for the on-chain payout (the challenge duration must pass), printing progress', false)
    .option('--json', 'print the result as JSON on stdout (logs and progress go to stderr)', false)
    .addOption(new Option('--cooperative-timeout <ms>', 'how long each cooperative close may take before going on chain').default(60_000).argParser(positiveInt))
    .addOption(new Option('--poll-ms <ms>', 'progress interval with --wait').default(5_000).argParser(positiveInt))
    .addOption(new Option('--timeout <ms>', 'give up waiting after this long (start the hub again to finish)').argParser(positiveInt));
  addConfigOptions(cmd);
  cmd.action(async (flags: Record<string, unknown>) => {
    const config = configFromFlags(flags, io.env);
    await runSettle(config, flags as unknown as SettleFlags, io);
  });
  return cmd;
}

async function hubAnswers(config: HubConfig): Promise<string | undefined> {
  const host = config.httpHost === '0.0.0.0' ? '127.0.0.1' : config.httpHost;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${config.httpPort}`;
  try {
    const r = await fetch(new URL('/healthz', url), { signal: AbortSignal.timeout(1_500) });
    const j = (await r.json()) as { address?: string };
    return typeof j.address === 'string' ? url : undefined;
  } catch {
    return undefined;
  }
}

function describe(e: NodeEvent): string | undefined {
  switch (e.type) {
    case 'fallbackTransaction':
      return `tx ${e.kind} ${e.txHash} (channel ${e.channelId}${e.targetChannelId === undefined ? '' : ` → ${e.targetChannelId}`}, gas ${e.gasUsed})`;
    case 'challengeRegistered':
      return `challenge registered on ${e.kind} ${e.channelId} at turn ${e.turnNum} (tx ${e.txHash})`;
    case 'payout':
      return `payout from ledger ${e.channelId}: ${e.amounts.map((a) => `${a.participant} ${a.amount}`).join(', ')} (hub ${e.mine})${e.unattributed === undefined ? '' : `; ${e.unattributed} more paid to the parties in a split this node cannot tell`}`;
    case 'fallbackStarted':
      return `settling ${e.channelId} on chain (${e.reason})`;
    default:
      return undefined;
  }
}

/**
 * Exit every live ledger of `node` (open, closing, and openings: one the hub deposited into is
 * exited on chain with its prefund, one with nothing of the hub's is given up); report each.
 */
export async function settleHubLedgers(node: Node, flags: Pick<SettleFlags, 'force' | 'cooperativeTimeout'>, progress: (s: string) => void = () => {}): Promise<HubSettleResult[]> {
  const results: HubSettleResult[] = [];
  for (const l of node.getLedgerChannels()) {
    if (l.status !== 'open' && l.status !== 'closing' && l.status !== 'funding') continue;
    const base = { channelId: l.channelId, counterparty: l.counterparty, asset: l.asset, hubBalance: l.myBalance.toString() };
    progress(`ledger ${l.channelId} with ${l.counterparty}: ${flags.force ? 'going on chain' : 'closing cooperatively'}…`);
    try {
      const r = await node.exitLedgerChannel(l.channelId, {
        ...(flags.force ? { force: true } : {}),
        ...(flags.cooperativeTimeout === undefined ? {} : { cooperativeTimeoutMs: flags.cooperativeTimeout }),
      });
      results.push(
        r.mode === 'cooperative' && r.openingGivenUp === true
          ? { ...base, hubBalance: '0', mode: 'cooperative', note: "opening given up: nothing of the hub's was deposited in it" }
          : r.mode === 'cooperative'
            ? { ...base, mode: 'cooperative' }
            : { ...base, mode: 'onChain', objectiveIds: r.objectiveIds },
      );
    } catch (e) {
      const message = isSluiceError(e, 'LEDGER_NOT_EMPTY') ? 'virtual channels are open in this ledger; a hub settles them only on chain: add --force' : e instanceof Error ? e.message : String(e);
      results.push({ ...base, mode: 'failed', code: isSluiceError(e) ? e.code : 'INTERNAL', message });
    }
  }
  return results;
}

async function runSettle(config: HubConfig, flags: SettleFlags, io: SettleIO): Promise<void> {
  const running = await hubAnswers(config);
  if (running !== undefined) throw new SluiceError('INVALID_ARGUMENT', `a hub answers at ${running}: stop it first (settle runs the hub's node on the same store)`);
  const { hub } = await openHub(config, io, { http: false }, { logDestination: pino.destination(2) });
  const events: string[] = [];
  const off = hub.node.onAny((e) => {
    const line = describe(e);
    if (line === undefined) return;
    events.push(line);
    io.err(line);
  });
  await hub.start();
  let paidOut = false;
  let results: Awaited<ReturnType<typeof settleHubLedgers>> = [];
  let onChain = false;
  try {
    results = await settleHubLedgers(hub.node, flags, (s) => io.err(s));
    onChain = results.some((r) => r.mode === 'onChain');
    const show = (): void => {
      for (const r of results) {
        io.out(
          r.mode === 'failed'
            ? `ledger ${r.channelId} (${r.counterparty})  FAILED: ${r.message ?? ''} (${r.code ?? 'INTERNAL'})`
            : r.note !== undefined
              ? `ledger ${r.channelId} (${r.counterparty})  ${r.note}`
              : r.mode === 'cooperative'
              ? `ledger ${r.channelId} (${r.counterparty})  closed cooperatively; hub withdrew ${r.hubBalance}`
              : `ledger ${r.channelId} (${r.counterparty})  settling ON CHAIN (hub balance ${r.hubBalance}); objectives ${(r.objectiveIds ?? []).join(', ')}`,
        );
      }
      if (results.length === 0) io.out('nothing to settle: no open ledger channel');
    };
    const disputes = (): unknown[] => hub.status().disputes;
    const ids = new Set(results.filter((r) => r.mode === 'onChain').map((r) => r.channelId.toLowerCase()));
    const openLedgers = (): number => hub.node.getLedgerChannels().filter((l) => ids.has(l.channelId.toLowerCase()) && l.status !== 'closed').length;
    if (!onChain || !flags.wait) {
      const state = onChain ? onChainState(hub.node.getDisputes(), openLedgers()) : 'paidOut';
      if (flags.json) io.out(JSON.stringify({ ledgers: results, onChain, state, disputes: disputes() }, null, 2));
      else {
        show();
        if (onChain && state === 'paidOut') io.out('settled: every ledger is closed and paid out');
        else if (state === 'counterpartyOnly') io.out(`\n${COUNTERPARTY_ONLY}: \`sluice-hub status\` shows it.`);
        else if (onChain) {
          const left = hub.node.getDisputes().map((d) => d.secondsLeft).filter((s): s is number => s !== null);
          io.out(`\nstarted on chain${left.length > 0 ? ` (about ${formatSeconds(Math.max(...left))} of chain time left)` : ''}: start the hub again (\`sluice-hub start\`, same store) and it finishes by itself — \`sluice-hub status\` shows the time left — or run \`sluice-hub settle --wait\`.`);
        }
      }
      return;
    }
    if (!flags.json) show();
    const deadline = flags.timeout === undefined ? Infinity : Date.now() + flags.timeout;
    let last = '';
    let othersOnly = 0;
    for (;;) {
      const ds = hub.node.getDisputes();
      const state = onChainState(ds, openLedgers());
      if (state === 'paidOut') break;
      // what is left waits on another participant on two polls in a row: waiting changes nothing
      othersOnly = state === 'counterpartyOnly' ? othersOnly + 1 : 0;
      if (othersOnly >= 2) throw new SluiceError('PEER_TIMEOUT', COUNTERPARTY_ONLY);
      const line = ds.map((d) => `${d.kind} ${d.channelId.slice(0, 10)}… ${d.phase}${d.secondsLeft === null ? '' : ` ${formatSeconds(d.secondsLeft)} left`} (${d.waitingFor}), hub ${d.amountsKnown === false ? 'not known yet' : d.mine}`).join('; ');
      if (line !== last) io.err(`waiting: ${line === '' ? 'ledger payout' : line}`);
      last = line;
      if (Date.now() > deadline) throw new SluiceError('PEER_TIMEOUT', 'still settling on chain: start the hub again to finish (`sluice-hub status` shows the time left)');
      await new Promise((r) => setTimeout(r, flags.pollMs));
    }
    paidOut = true;
  } finally {
    // stopping flushes the engine's last group: its events (the payout) reach `events` first
    await hub.stop();
    off();
  }
  if (paidOut) {
    if (flags.json) io.out(JSON.stringify({ ledgers: results, onChain, events, disputes: [] }, null, 2));
    else io.out('settled: every ledger is closed and paid out');
  }
}
