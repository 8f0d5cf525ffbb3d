/**
 * What the demo cost on chain: every transaction in a block range, with its gas, grouped by
 * who sent it (the deployer, Alice, Irene, Bob). Read straight from the node, so the summary
 * counts what happened, not what we expected to happen.
 */
import type { JsonRpcProvider } from 'ethers';

export interface TxRow {
  readonly block: number;
  readonly hash: string;
  readonly from: string;
  readonly to: string | null;
  readonly gasUsed: bigint;
  readonly fee: bigint;
  readonly status: number;
}

/** Every transaction mined in blocks `from..to` (inclusive), with receipts. */
export async function transactionsIn(provider: JsonRpcProvider, from: number, to: number): Promise<TxRow[]> {
  const rows: TxRow[] = [];
  for (let b = from; b <= to; b++) {
    const block = await provider.getBlock(b, false);
    if (block === null) continue;
    for (const hash of block.transactions) {
      const r = await provider.getTransactionReceipt(hash);
      if (r === null) continue;
      rows.push({ block: b, hash, from: r.from.toLowerCase(), to: r.to?.toLowerCase() ?? null, gasUsed: r.gasUsed, fee: r.gasUsed * r.gasPrice, status: r.status ?? 0 });
    }
  }
  return rows;
}

/** Count and gas of the rows sent by each named address; `other` for the rest. */
export function bySender(rows: readonly TxRow[], names: Readonly<Record<string, string>>): { name: string; count: number; gas: bigint }[] {
  const out = new Map<string, { name: string; count: number; gas: bigint }>();
  for (const r of rows) {
    const name = names[r.from] ?? 'other';
    const e = out.get(name) ?? { name, count: 0, gas: 0n };
    e.count++;
    e.gas += r.gasUsed;
    out.set(name, e);
  }
  return [...out.values()];
}
