/**
 * The payment arithmetic of a session, shared by client and provider (pure). Chunk
 * `start + j` is paid for once the best accepted cumulative voucher amount is at least
 * `baseline + (j + 1) × pricePerChunk`.
 */
export interface SessionTerms {
  readonly start: number;
  readonly end: number;
  readonly pricePerChunk: bigint;
  readonly baseline: bigint;
}

/**
 * The cumulative voucher amount that pays for chunks `[start, upTo)`.
 * @throws RangeError when `upTo` is outside `[start, end]`
 */
export function amountFor(terms: SessionTerms, upTo: number): bigint {
  if (!Number.isInteger(upTo) || upTo < terms.start || upTo > terms.end) throw new RangeError('upTo must be in [start, end]');
  return terms.baseline + BigInt(upTo - terms.start) * terms.pricePerChunk;
}

/**
 * The exclusive end of the chunks a cumulative `amount` pays for: chunks
 * `[start, paidEnd)` may be sent. A free session (price 0) is paid through `end`.
 */
export function paidEnd(terms: SessionTerms, amount: bigint): number {
  if (terms.pricePerChunk === 0n) return terms.end;
  if (amount <= terms.baseline) return terms.start;
  const k = (amount - terms.baseline) / terms.pricePerChunk;
  const span = BigInt(terms.end - terms.start);
  return terms.start + Number(k < span ? k : span);
}

/** True iff the provider may send chunk `index` given the best accepted `amount`. */
export function mayServe(terms: SessionTerms, amount: bigint, index: number): boolean {
  return index >= terms.start && index < paidEnd(terms, amount);
}
