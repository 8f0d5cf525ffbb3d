/** `sluice-hub status`: fetch a running hub's /status and render it. */
import { SluiceError } from '@sluice/channel-core';
import type { HubStatus } from './hub.ts';
import { formatRetention, formatSeconds, shortId as short, textTable as table } from '@sluice/channel-core/node/text';

/**
 * GET `<url>/status`.
 * @throws SluiceError PEER_DISCONNECTED (hub unreachable), DECODE_FAILED (not a status)
 */
export async function fetchStatus(url: string, options: { timeoutMs?: number } = {}): Promise<HubStatus> {
  let res: Response;
  try {
    res = await fetch(new URL('/status', url), { signal: AbortSignal.timeout(options.timeoutMs ?? 10_000) });
  } catch (e) {
    throw new SluiceError('PEER_DISCONNECTED', `cannot reach the hub at ${url}`, { cause: e });
  }
  if (!res.ok) throw new SluiceError('PEER_DISCONNECTED', `the hub at ${url} answered ${res.status}`);
  const body = (await res.json()) as Partial<HubStatus>;
  if (typeof body.address !== 'string' || !Array.isArray(body.ledgers) || !Array.isArray(body.virtualChannels)) {
    throw new SluiceError('DECODE_FAILED', `${url}/status is not a Sluice hub status`);
  }
  return body as HubStatus;
}

export { formatSeconds } from '@sluice/channel-core/node/text';

/** `open 2, closed 3` (empty when there is nothing to count). */
function countsText(counts: Record<string, number>): string {
  return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
}

/** Human-readable status. Amounts in base units. */
export function renderStatus(s: HubStatus): string {
  const out: string[] = [];
  out.push(`hub ${s.address}  peer ${s.peerId ?? '-'}`);
  for (const m of s.multiaddrs) out.push(`  ${m}`);
  const ledgerCounts = countsText(s.ledgerCounts ?? {});
  out.push('', `ledger channels (${s.ledgers.length}${ledgerCounts === '' ? '' : `; all: ${ledgerCounts}`})`);
  out.push(
    s.ledgers.length === 0
      ? '  none'
      : table(
          ['channel', 'peer', 'asset', 'status', 'turn', 'hub balance', 'peer balance', 'locked', 'guarantees'],
          s.ledgers.map((l) => [short(l.channelId), short(l.counterparty), short(l.asset), l.status, String(l.turnNum), l.hubBalance, l.peerBalance, l.locked, s.maxLedgerGuarantees === undefined ? String(l.guarantees) : `${l.guarantees}/${s.maxLedgerGuarantees}`]),
        ),
  );
  const counts = countsText(s.virtualChannelCounts);
  out.push('', `virtual channels open (${s.virtualChannels.length}${counts === '' ? '' : `; all: ${counts}`})`);
  out.push(
    s.virtualChannels.length === 0
      ? '  none'
      : table(['channel', 'payer', 'payee', 'asset', 'amount', 'status'], s.virtualChannels.map((v) => [short(v.channelId), short(v.payer), short(v.payee), short(v.asset), v.amount, v.status])),
  );
  out.push('', 'collateral');
  out.push(
    s.collateral.length === 0
      ? '  none'
      : table(['asset', 'locked', 'free', 'cap', 'in unopened ledgers', 'their cap'], s.collateral.map((c) => [c.asset, c.locked, c.free, c.cap ?? '-', c.inOpenings ?? '-', c.openingCap ?? '-'])),
  );
  const disputes = s.disputes ?? [];
  out.push('', `in challenge / settling on chain (${disputes.length})`);
  out.push(
    disputes.length === 0
      ? '  none'
      : table(
          ['channel', 'kind', 'phase', 'time left', 'waiting for', 'amounts (participant=amount)', 'hub gets', 'locked'],
          // amountsKnown false: a postfund the payee can still replace with its redemption (not the payout)
          disputes.map((d) => [
            short(d.channelId),
            d.kind,
            d.phase,
            formatSeconds(d.secondsLeft),
            d.waitingFor,
            d.amountsKnown === false ? 'not known yet (the payee can still redeem its vouchers)' : d.amounts.map((a) => `${short(a.participant)}=${a.amount}`).join(' '),
            d.amountsKnown === false ? '?' : d.mine,
            d.locked,
          ]),
        ),
  );
  out.push('', `objectives in flight: ${s.objectivesInFlight}`);
  if (s.history !== undefined) {
    const h = s.history;
    out.push(`history: closed channels kept ${h.retainMs === null ? 'forever' : `for ${formatRetention(h.retainMs)}`}; deleted so far: ${h.prunedChannels} channels, ${h.prunedObjectives} objectives`);
  }
  return out.join('\n');
}
