/**
 * An in-memory {@link ChainService} for unit tests of the engine: a holdings map, one block
 * per transaction, and the events a real adjudicator emits for deposits and cooperative
 * closes (`Deposited`, `Concluded`, `AllocationUpdated`). Challenges are recorded only as far
 * as `statusOf` and `ChallengeRegistered`/`Checkpointed` go; reclaim is not modelled.
 */
import type { Address, Bytes32, ChannelId, Hex } from '../hex.ts';
import type {
  ChainCallOptions,
  ChainEvent,
  ChainEventBatch,
  ChainService,
  ChainTransaction,
  ChannelStatus,
  EventStreamOptions,
  SignedState,
  TxResult,
} from '../chain.ts';
import { ZERO_BYTES32, assertBlockNumber, compareCursor, newestDeliverable, unpackStatus } from '../chain.ts';
import { parseAddress, sameAddress } from '../address.ts';
import { bytesToHex, concatBytes, hexToBytes, parseBytes32 } from '../hex.ts';
import { getChannelId, hashState, recoverStateSigner } from '../state.ts';
import { hashOutcome, type Outcome } from '../outcome.ts';
import { keccak256 } from '../keccak.ts';
import { SluiceError } from '../errors.ts';

export interface MemoryChainInit {
  readonly adjudicator?: Address;
  /** Chain time at block 0, seconds (default 1,700,000,000). */
  readonly startTime?: number;
  /** Seconds added per block (default 1). */
  readonly blockTime?: number;
  /** Check that every state of a transaction is signed by all participants (default true). */
  readonly checkSignatures?: boolean;
}

function revert(reason: string): SluiceError {
  return new SluiceError('CHAIN_REVERT', `reverted: ${reason}`, { details: { reason } });
}

function isExternal(destination: Bytes32): boolean {
  return destination.startsWith('0x000000000000000000000000');
}

/** The in-memory chain. Amounts paid out to external destinations are in {@link payouts}. */
export class MemoryChainService implements ChainService {
  readonly adjudicator: Address;
  /** `asset -> channelId -> amount` */
  readonly #holdings = new Map<string, Map<string, bigint>>();
  readonly #status = new Map<string, ChannelStatus>();
  readonly #events: ChainEvent[] = [];
  readonly #payouts = new Map<string, bigint>();
  readonly #waiters = new Set<() => void>();
  readonly #checkSignatures: boolean;
  readonly #blockTime: number;
  #block = 0;
  #time: number;

  constructor(init: MemoryChainInit = {}) {
    this.adjudicator = init.adjudicator ?? parseAddress('0x00000000000000000000000000000000000a11ce', 'adjudicator');
    this.#time = init.startTime ?? 1_700_000_000;
    this.#blockTime = init.blockTime ?? 1;
    this.#checkSignatures = init.checkSignatures ?? true;
  }

  /** Amount paid to an external destination (`asset`, padded address). */
  payouts(asset: Address, destination: Bytes32): bigint {
    return this.#payouts.get(`${asset.toLowerCase()}:${destination.toLowerCase()}`) ?? 0n;
  }

  /** Every event so far (copy). */
  get allEvents(): readonly ChainEvent[] {
    return [...this.#events];
  }

  /** Mine an empty block, advancing time by `seconds` (default the block time). */
  mine(seconds = this.#blockTime): number {
    this.#time += seconds;
    this.#block++;
    this.#notify();
    return this.#block;
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #held(asset: string, id: string): bigint {
    return this.#holdings.get(asset.toLowerCase())?.get(id) ?? 0n;
  }

  #setHeld(asset: string, id: string, v: bigint): void {
    const k = asset.toLowerCase();
    let m = this.#holdings.get(k);
    if (!m) this.#holdings.set(k, (m = new Map()));
    m.set(id, v);
  }

  static #check(opts: ChainCallOptions): void {
    if (opts.signal?.aborted) throw new SluiceError('ABORTED', 'aborted');
  }

  async holdings(asset: Address, channelId: ChannelId, opts: ChainCallOptions = {}): Promise<bigint> {
    MemoryChainService.#check(opts);
    return this.#held(asset, parseBytes32(channelId, 'channelId'));
  }

  async statusOf(channelId: ChannelId, opts: ChainCallOptions = {}): Promise<ChannelStatus> {
    MemoryChainService.#check(opts);
    return this.#status.get(parseBytes32(channelId, 'channelId')) ?? unpackStatus(ZERO_BYTES32);
  }

  async latestBlock(opts: ChainCallOptions = {}): Promise<{ number: number; timestamp: number }> {
    MemoryChainService.#check(opts);
    return { number: this.#block, timestamp: this.#time };
  }

  #requireSupported(s: SignedState, unanimous: boolean): ChannelId {
    const id = getChannelId(s.state);
    if (!this.#checkSignatures) return id;
    const signers = s.signatures.map((sig) => recoverStateSigner(s.state, sig));
    const n = s.state.participants.filter((p) => signers.some((x) => sameAddress(x, p))).length;
    if (unanimous ? n !== s.state.participants.length : n === 0) throw revert(unanimous ? '!unanimous' : 'not signed by a participant');
    return id;
  }

  #setStatus(id: ChannelId, turnNumRecord: number, finalizesAt: number, stateHash: Bytes32, outcome: Outcome): void {
    const fp = BigInt(bytesToHex(keccak256(concatBytes(hexToBytes(stateHash), hexToBytes(hashOutcome(outcome)))))) & ((1n << 160n) - 1n);
    const word = (BigInt(turnNumRecord) << 208n) | (BigInt(finalizesAt) << 160n) | fp;
    this.#status.set(id, unpackStatus(`0x${word.toString(16).padStart(64, '0')}` as Bytes32));
  }

  async submit(tx: ChainTransaction, opts: ChainCallOptions = {}): Promise<TxResult> {
    MemoryChainService.#check(opts);
    const block = this.#block + 1;
    const time = this.#time + this.#blockTime;
    const txHash = bytesToHex(keccak256(new TextEncoder().encode(`memory-tx-${block}`))) as Hex;
    const out: ChainEvent[] = [];
    const base = (): { blockNumber: number; logIndex: number; txHash: Hex } => ({ blockNumber: block, logIndex: out.length, txHash });
    switch (tx.kind) {
      case 'deposit': {
        const id = parseBytes32(tx.channelId, 'channelId');
        const asset = parseAddress(tx.asset, 'asset');
        const held = this.#held(asset, id);
        if (tx.expectedHeld !== undefined && held !== tx.expectedHeld) throw revert('held != expectedHeld');
        this.#setHeld(asset, id, held + tx.amount);
        out.push({ type: 'Deposited', ...base(), destination: id, asset, destinationHoldings: held + tx.amount });
        break;
      }
      case 'conclude':
      case 'concludeAndTransferAllAssets': {
        const s = tx.candidate.state;
        if (!s.isFinal) throw revert('State must be final');
        const id = this.#requireSupported(tx.candidate, true);
        const st = this.#status.get(id);
        if (st && st.finalizesAt !== 0 && st.finalizesAt <= time) throw revert('Channel finalized.');
        this.#setStatus(id, 0, time, ZERO_BYTES32, s.outcome);
        out.push({ type: 'Concluded', ...base(), channelId: id, finalizesAt: time });
        if (tx.kind === 'concludeAndTransferAllAssets') this.#transferAll(id, s.outcome, out, base);
        break;
      }
      case 'transferAllAssets': {
        const id = parseBytes32(tx.channelId, 'channelId');
        const st = this.#status.get(id);
        if (!st || st.finalizesAt === 0 || st.finalizesAt > time) throw revert('Channel not finalized.');
        this.#transferAll(id, tx.outcome, out, base);
        break;
      }
      case 'challenge':
      case 'checkpoint': {
        const c = tx.candidate;
        const id = this.#requireSupported(c, false); // simplified: any participant's signature
        const st = this.#status.get(id) ?? unpackStatus(ZERO_BYTES32);
        if (st.finalizesAt !== 0 && st.finalizesAt <= time) throw revert('Channel finalized.');
        if (tx.kind === 'challenge') {
          if (c.state.turnNum < st.turnNumRecord) throw revert('turnNumRecord decreased.');
          const finalizesAt = time + c.state.challengeDuration;
          this.#setStatus(id, c.state.turnNum, finalizesAt, hashState(c.state), c.state.outcome);
          out.push({
            type: 'ChallengeRegistered',
            ...base(),
            channelId: id,
            finalizesAt,
            proof: tx.proof.map((p) => ({ variablePart: p.state, signatures: p.signatures })),
            candidate: { variablePart: c.state, signatures: c.signatures },
          });
        } else {
          if (c.state.turnNum <= st.turnNumRecord) throw revert('turnNumRecord not increased.');
          const wasChallenged = st.finalizesAt !== 0;
          this.#status.set(id, unpackStatus(`0x${(BigInt(c.state.turnNum) << 208n).toString(16).padStart(64, '0')}` as Bytes32));
          // (the real port reads the candidate off the transaction's calldata)
          const candidate = { variablePart: c.state, signatures: c.signatures };
          out.push(wasChallenged
            ? { type: 'ChallengeCleared', ...base(), channelId: id, newTurnNumRecord: c.state.turnNum, candidate }
            : { type: 'Checkpointed', ...base(), channelId: id, newTurnNumRecord: c.state.turnNum, candidate });
        }
        break;
      }
      case 'reclaim':
        throw new SluiceError('INTERNAL', 'reclaim is not modelled by MemoryChainService');
    }
    this.#block = block;
    this.#time = time;
    this.#events.push(...out);
    this.#notify();
    try {
      opts.onSent?.(txHash);
    } catch {
      // the caller's bookkeeping
    }
    return { txHash, blockNumber: block, gasUsed: 0n };
  }

  /** Pay simple allocations in order from holdings (as much as is held), like Nitro. */
  #transferAll(id: ChannelId, outcome: Outcome, out: ChainEvent[], base: () => { blockNumber: number; logIndex: number; txHash: Hex }): void {
    outcome.forEach((exit, assetIndex) => {
      const initial = this.#held(exit.asset, id);
      let left = initial;
      for (const a of exit.allocations) {
        if (a.allocationType !== 0) continue;
        const pay = a.amount < left ? a.amount : left;
        left -= pay;
        if (pay === 0n) continue;
        if (isExternal(a.destination)) {
          const k = `${exit.asset.toLowerCase()}:${a.destination.toLowerCase()}`;
          this.#payouts.set(k, (this.#payouts.get(k) ?? 0n) + pay);
        } else {
          this.#setHeld(exit.asset, a.destination, this.#held(exit.asset, a.destination) + pay);
        }
      }
      this.#setHeld(exit.asset, id, left);
      out.push({ type: 'AllocationUpdated', ...base(), channelId: id, assetIndex: BigInt(assetIndex), initialHoldings: initial, finalHoldings: left });
    });
  }

  async *events(opts: EventStreamOptions): AsyncGenerator<ChainEventBatch, void, undefined> {
    assertBlockNumber(opts.fromBlock, 'fromBlock');
    const confirmations = Math.max(1, opts.confirmations ?? 1);
    const ids = opts.channelIds?.map((c) => c.toLowerCase());
    let next = opts.fromBlock;
    const signal = opts.signal;
    while (!signal?.aborted) {
      const safe = newestDeliverable(this.#block, confirmations);
      if (safe >= next) {
        const events = this.#events.filter(
          (e) =>
            e.blockNumber >= next &&
            e.blockNumber <= safe &&
            (opts.after === undefined || compareCursor(e, opts.after) > 0) &&
            (ids === undefined || ids.includes(('channelId' in e ? e.channelId : e.destination).toLowerCase())),
        );
        yield { fromBlock: next, toBlock: safe, events };
        next = safe + 1;
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.#waiters.delete(done);
          signal?.removeEventListener('abort', done);
          resolve();
        };
        this.#waiters.add(done);
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }
}

