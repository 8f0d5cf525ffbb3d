/**
 * {@link ChainService} over ethers v6: typed transactions against a Nitro Gen-2
 * adjudicator, reads, and the adjudicator's events as a resumable stream.
 */
import {
  BaseWallet,
  Contract,
  Interface,
  ZeroAddress,
  isError,
  keccak256,
  type TransactionResponse,
  type InterfaceAbi,
  type Log,
  type Provider,
  type Signer,
  type TransactionReceipt,
} from 'ethers';
import type { Address, Bytes32, ChannelId, Hex } from '../hex.ts';
import type {
  ChainCallOptions,
  ChainEvent,
  ChainEventBatch,
  ChainService,
  ChainTransaction,
  ChannelStatus,
  EventCursor,
  EventStreamOptions,
  SignedState,
  TxResult,
} from '../chain.ts';
import { assertBlockNumber, compareCursor, newestDeliverable, unpackStatus } from '../chain.ts';
import { parseAddress } from '../address.ts';
import { assertUint, bytesToHex, parseBytes32 } from '../hex.ts';
import { encodeOutcome } from '../outcome.ts';
import { SluiceError, isSluiceError } from '../errors.ts';
import { ADJUDICATOR_ABI, ADJUDICATOR_EVENTS, ERC20_ABI } from './abi.ts';
import { decodeAdjudicatorLog, decodeCheckpointCall, toOutcomeStruct, toSigStruct, toSupportArgs } from './convert.ts';
import { guarded, sleep, toChainError } from './errors.ts';

export interface EthersChainServiceInit {
  /** The adjudicator's address. */
  readonly adjudicator: string;
  /** Used for reads, logs and receipts. */
  readonly provider: Provider;
  /** Sends transactions; without it the service is read-only (`submit` rejects with INVALID_ARGUMENT). */
  readonly signer?: Signer;
  /** Blocks a transaction must be deep before `submit` resolves (default 1 = mined). */
  readonly confirmations?: number;
  /** Default deadline of a call, ms (default 60,000). Per-call `timeoutMs` overrides it. */
  readonly timeoutMs?: number;
  /** Default event poll interval once caught up, ms (default 1,000). */
  readonly pollIntervalMs?: number;
  /** Default block range of one `eth_getLogs` (default 1,000). */
  readonly maxBlockRange?: number;
  /** More ABIs whose custom errors should be decoded in revert reasons (e.g. an app's). */
  readonly errorAbis?: readonly InterfaceAbi[];
}

const DEFAULT_TIMEOUT_MS = 60_000;

/**
 * The ethers v6 chain adapter.
 *
 * ```ts
 * const provider = new JsonRpcProvider(url, undefined, { staticNetwork: true });
 * const chain = new EthersChainService({ adjudicator, provider, signer: new Wallet(key, provider) });
 * await chain.deposit({ asset: ZERO_ADDRESS, channelId, amount: 10n }, { timeoutMs: 30_000 });
 * ```
 */
export class EthersChainService implements ChainService {
  readonly adjudicator: Address;
  readonly #provider: Provider;
  readonly #signer: Signer | undefined;
  readonly #read: Contract;
  readonly #write: Contract | undefined;
  readonly #iface: Interface;
  readonly #errorIfaces: readonly Interface[];
  readonly #confirmations: number;
  readonly #timeoutMs: number;
  readonly #pollIntervalMs: number;
  readonly #maxBlockRange: number;
  #sendQueue: Promise<unknown> = Promise.resolve();
  /** Per token (lower case): the last turn queued for the allowance ({@link #allowanceTurn}). */
  readonly #allowanceTurns = new Map<string, Promise<void>>();
  /** Per token (lower case): what our deposits sent and not yet settled will still draw from the allowance. */
  readonly #allowanceDrawn = new Map<string, bigint>();

  constructor(init: EthersChainServiceInit) {
    this.adjudicator = parseAddress(init.adjudicator, 'adjudicator');
    this.#provider = init.provider;
    this.#signer = init.signer;
    this.#iface = new Interface(ADJUDICATOR_ABI as string[]);
    this.#errorIfaces = [this.#iface, new Interface(ERC20_ABI as string[]), ...(init.errorAbis ?? []).map((a) => Interface.from(a))];
    this.#read = new Contract(this.adjudicator, this.#iface, init.provider);
    this.#write = init.signer ? new Contract(this.adjudicator, this.#iface, init.signer) : undefined;
    this.#confirmations = positiveInt(init.confirmations ?? 1, 'confirmations');
    this.#timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#pollIntervalMs = init.pollIntervalMs ?? 1000;
    this.#maxBlockRange = positiveInt(init.maxBlockRange ?? 1000, 'maxBlockRange');
  }

  #guard<T>(what: string, opts: ChainCallOptions, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
    return guarded(what, opts, this.#timeoutMs, this.#errorIfaces, fn);
  }

  // ------------------------------------------------------------ reads

  /** @inheritDoc */
  holdings(asset: Address, channelId: ChannelId, opts: ChainCallOptions = {}): Promise<bigint> {
    const a = arg(() => parseAddress(asset, 'asset'));
    const c = arg(() => parseBytes32(channelId, 'channelId'));
    return this.#guard('holdings', opts, async () => (await this.#read.getFunction('holdings').staticCall(a, c)) as bigint);
  }

  /** @inheritDoc */
  statusOf(channelId: ChannelId, opts: ChainCallOptions = {}): Promise<ChannelStatus> {
    const c = arg(() => parseBytes32(channelId, 'channelId'));
    return this.#guard('statusOf', opts, async () => unpackStatus((await this.#read.getFunction('statusOf').staticCall(c)) as Bytes32));
  }

  /** @inheritDoc */
  latestBlock(opts: ChainCallOptions = {}): Promise<{ number: number; timestamp: number }> {
    return this.#guard('getBlock', opts, async () => {
      const b = await this.#provider.getBlock('latest');
      if (!b) throw new SluiceError('CHAIN_RPC', 'getBlock returned no block');
      return { number: b.number, timestamp: b.timestamp };
    });
  }

  /** ERC20 (or native, for the zero address) balance of an account. */
  balanceOf(asset: Address, owner: Address, opts: ChainCallOptions = {}): Promise<bigint> {
    const a = arg(() => parseAddress(asset, 'asset'));
    const o = arg(() => parseAddress(owner, 'owner'));
    return this.#guard('balanceOf', opts, async () => {
      if (a === ZeroAddress) return this.#provider.getBalance(o);
      return (await new Contract(a, ERC20_ABI as string[], this.#provider).getFunction('balanceOf').staticCall(o)) as bigint;
    });
  }

  /**
   * Ask the adjudicator (and through it the channel's app) whether `candidate`, with `proof`,
   * is supported — a dry run before challenging or checkpointing.
   * @returns `{ supported, reason }`; an app that reverts gives `supported: false` and its reason
   */
  stateIsSupported(
    proof: readonly SignedState[],
    candidate: SignedState,
    opts: ChainCallOptions = {},
  ): Promise<{ supported: boolean; reason: string }> {
    const s = arg(() => toSupportArgs(proof, candidate));
    return this.#guard('stateIsSupported', opts, async () => {
      try {
        const [ok, reason] = (await this.#read.getFunction('stateIsSupported').staticCall(s.fixedPart, s.proof, s.candidate)) as [boolean, string];
        return { supported: ok, reason };
      } catch (e) {
        const err = toChainError(e, 'stateIsSupported', this.#errorIfaces);
        if (err.code === 'CHAIN_REVERT') return { supported: false, reason: String(err.details['reason']) };
        throw err;
      }
    });
  }

  // ------------------------------------------------------------ transactions

  /** @inheritDoc */
  async submit(tx: ChainTransaction, opts: ChainCallOptions = {}): Promise<TxResult> {
    switch (tx.kind) {
      case 'deposit':
        return this.#deposit(tx, opts);
      case 'challenge': {
        const s = arg(() => toSupportArgs(tx.proof, tx.candidate));
        const sig = arg(() => toSigStruct(tx.challengerSignature));
        return this.#send('challenge', [s.fixedPart, s.proof, s.candidate, sig], {}, opts);
      }
      case 'checkpoint': {
        const s = arg(() => toSupportArgs(tx.proof, tx.candidate));
        return this.#send('checkpoint', [s.fixedPart, s.proof, s.candidate], {}, opts);
      }
      case 'conclude':
      case 'concludeAndTransferAllAssets': {
        const s = arg(() => toSupportArgs([], tx.candidate));
        return this.#send(tx.kind, [s.fixedPart, s.candidate], {}, opts);
      }
      case 'transferAllAssets': {
        const c = arg(() => parseBytes32(tx.channelId, 'channelId'));
        const h = arg(() => parseBytes32(tx.stateHash, 'stateHash'));
        return this.#send('transferAllAssets', [c, toOutcomeStruct(tx.outcome), h], {}, opts);
      }
      case 'reclaim': {
        const args = arg(() => ({
          sourceChannelId: parseBytes32(tx.sourceChannelId, 'sourceChannelId'),
          sourceStateHash: parseBytes32(tx.sourceStateHash, 'sourceStateHash'),
          sourceOutcomeBytes: bytesToHex(encodeOutcome(tx.sourceOutcome)),
          sourceAssetIndex: index(tx.sourceAssetIndex, 'sourceAssetIndex'),
          indexOfTargetInSource: index(tx.indexOfTargetInSource, 'indexOfTargetInSource'),
          targetStateHash: parseBytes32(tx.targetStateHash, 'targetStateHash'),
          targetOutcomeBytes: bytesToHex(encodeOutcome(tx.targetOutcome)),
          targetAssetIndex: index(tx.targetAssetIndex, 'targetAssetIndex'),
        }));
        return this.#send('reclaim', [args], {}, opts);
      }
      default: {
        const never: never = tx;
        throw new SluiceError('INVALID_ARGUMENT', `unknown transaction kind ${(never as { kind?: unknown }).kind as string}`);
      }
    }
  }

  /** Deposit (ERC20: approve first if needed). See {@link DepositTx}. */
  deposit(tx: Omit<Extract<ChainTransaction, { kind: 'deposit' }>, 'kind'>, opts?: ChainCallOptions): Promise<TxResult> {
    return this.submit({ kind: 'deposit', ...tx }, opts);
  }
  /** Register a challenge. See {@link ChallengeTx}. */
  challenge(tx: Omit<Extract<ChainTransaction, { kind: 'challenge' }>, 'kind'>, opts?: ChainCallOptions): Promise<TxResult> {
    return this.submit({ kind: 'challenge', ...tx }, opts);
  }
  /** Checkpoint (clears a challenge). See {@link CheckpointTx}. */
  checkpoint(tx: Omit<Extract<ChainTransaction, { kind: 'checkpoint' }>, 'kind'>, opts?: ChainCallOptions): Promise<TxResult> {
    return this.submit({ kind: 'checkpoint', ...tx }, opts);
  }
  /** Conclude with a unanimous final state. */
  conclude(tx: Omit<Extract<ChainTransaction, { kind: 'conclude' }>, 'kind'>, opts?: ChainCallOptions): Promise<TxResult> {
    return this.submit({ kind: 'conclude', ...tx }, opts);
  }
  /** Conclude and pay out all assets. */
  concludeAndTransferAllAssets(
    tx: Omit<Extract<ChainTransaction, { kind: 'concludeAndTransferAllAssets' }>, 'kind'>,
    opts?: ChainCallOptions,
  ): Promise<TxResult> {
    return this.submit({ kind: 'concludeAndTransferAllAssets', ...tx }, opts);
  }
  /** Pay out a finalized channel. */
  transferAllAssets(tx: Omit<Extract<ChainTransaction, { kind: 'transferAllAssets' }>, 'kind'>, opts?: ChainCallOptions): Promise<TxResult> {
    return this.submit({ kind: 'transferAllAssets', ...tx }, opts);
  }
  /** Reclaim a finalized guarantee into its ledger. */
  reclaim(tx: Omit<Extract<ChainTransaction, { kind: 'reclaim' }>, 'kind'>, opts?: ChainCallOptions): Promise<TxResult> {
    return this.submit({ kind: 'reclaim', ...tx }, opts);
  }

  async #deposit(tx: Extract<ChainTransaction, { kind: 'deposit' }>, opts: ChainCallOptions): Promise<TxResult> {
    const asset = arg(() => parseAddress(tx.asset, 'asset'));
    const channelId = arg(() => parseBytes32(tx.channelId, 'channelId'));
    arg(() => assertUint(tx.amount, 'amount'));
    if (tx.expectedHeld !== undefined) arg(() => assertUint(tx.expectedHeld, 'expectedHeld'));
    const signer = this.#requireSigner();
    // one deadline for the whole operation (read, approve, deposit)
    const deadline = Date.now() + (opts.timeoutMs ?? this.#timeoutMs);
    const rest = (): ChainCallOptions => ({ ...(opts.signal ? { signal: opts.signal } : {}), timeoutMs: Math.max(1, deadline - Date.now()) });
    const expectedHeld = tx.expectedHeld ?? (await this.holdings(asset, channelId, rest()));
    if (asset === ZeroAddress) {
      return this.#send('deposit', [asset, channelId, expectedHeld, tx.amount], { value: tx.amount }, { ...rest(), ...(opts.onSent ? { onSent: opts.onSent } : {}) });
    }
    // ERC20: read the allowance, approve what is lacking, send the deposit — one deposit of this
    // token at a time up to its send. Interleaved, one deposit's approval overwrote another's, or
    // one deposit spent the allowance another had counted on, and the loser reverted.
    const key = asset.toLowerCase();
    const release = await this.#guard('allowance', rest(), (signal) => this.#allowanceTurn(key, signal));
    let drawing = false;
    try {
      const token = new Contract(asset, ERC20_ABI as string[], signer);
      const owner = await this.#guard('allowance', rest(), () => signer.getAddress());
      const allowance = await this.#guard('allowance', rest(), async () => (await token.getFunction('allowance').staticCall(owner, this.adjudicator)) as bigint);
      // our deposits already sent draw on this allowance before ours (their nonces are lower);
      // counted even once mined (until their receipt returns): at worst an approval too many.
      // An approval, sent after them, is mined after them too: it need only cover this deposit.
      const drawn = this.#allowanceDrawn.get(key) ?? 0n;
      // an approval need only be mined (1 confirmation) for the deposit to pass estimation: the
      // deposit's higher nonce keeps it behind the approval even through a reorg, and its own
      // receipt waits the full confirmations. (Waiting them here would hold this token's next
      // deposits for that long: minutes on Ethereum, per deposit.)
      const approve = async (amount: bigint): Promise<Hex> => (await this.#sendVia(token, 'approve', [this.adjudicator, amount], {}, rest(), 1)).txHash;
      let approveTxHash: Hex | undefined;
      if (allowance < drawn + tx.amount) {
        try {
          approveTxHash = await approve(tx.amount);
        } catch (e) {
          // a token that refuses to change a non-zero allowance to another non-zero value (USDT):
          // zero it first (mined after our pending deposits too, so it takes nothing from them)
          if (allowance === 0n || !isSluiceError(e, 'CHAIN_REVERT')) throw e;
          await approve(0n);
          approveTxHash = await approve(tx.amount);
        }
      }
      const onSent = (hash: Hex): void => {
        drawing = true;
        this.#allowanceDrawn.set(key, (this.#allowanceDrawn.get(key) ?? 0n) + tx.amount);
        release();
        opts.onSent?.(hash);
      };
      const res = await this.#send('deposit', [asset, channelId, expectedHeld, tx.amount], { value: 0n }, { ...rest(), onSent });
      return approveTxHash === undefined ? res : { ...res, approveTxHash };
    } finally {
      release();
      if (drawing) {
        const left = (this.#allowanceDrawn.get(key) ?? 0n) - tx.amount;
        if (left > 0n) this.#allowanceDrawn.set(key, left);
        else this.#allowanceDrawn.delete(key);
      }
    }
  }

  /**
   * Wait for this token's allowance to be ours: resolves, once every deposit queued before has
   * been sent or has failed, to the release (idempotent). If `signal` fires first it rejects, and
   * the turn passes on as soon as it comes.
   */
  #allowanceTurn(key: string, signal: AbortSignal): Promise<() => void> {
    const before = this.#allowanceTurns.get(key) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      done();
    };
    const tail = before.then(() => mine);
    this.#allowanceTurns.set(key, tail);
    void tail.then(() => {
      if (this.#allowanceTurns.get(key) === tail) this.#allowanceTurns.delete(key);
    });
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        void before.then(release);
        reject(signal.reason);
      };
      if (signal.aborted) return onAbort();
      signal.addEventListener('abort', onAbort, { once: true });
      void before.then(() => {
        signal.removeEventListener('abort', onAbort);
        if (!signal.aborted) resolve(release);
      });
    });
  }

  #requireSigner(): Signer {
    if (!this.#signer || !this.#write) throw new SluiceError('INVALID_ARGUMENT', 'this chain service has no signer (read-only)');
    return this.#signer;
  }

  #send(method: string, args: unknown[], overrides: Record<string, unknown>, opts: ChainCallOptions): Promise<TxResult> {
    this.#requireSigner();
    return this.#sendVia(this.#write as Contract, method, args, overrides, opts);
  }

  /**
   * Estimate, sign and send under a per-service lock (so concurrent submissions get distinct
   * nonces), then wait for `confirmations` outside the lock. A signer holding its key (an ethers
   * wallet) signs here, and `onSent` is told the hash before the transaction is broadcast: a caller
   * that records it there can never have a transaction out that it has no record of. Other signers
   * (a JSON-RPC account) send through the node, and `onSent` follows the node's answer.
   */
  async #sendVia(contract: Contract, method: string, args: unknown[], overrides: Record<string, unknown>, opts: ChainCallOptions, confirmations = this.#confirmations): Promise<TxResult> {
    return this.#guard(method, opts, async (signal) => {
      const send = async (): Promise<TransactionResponse> => {
        if (signal.aborted) throw signal.reason;
        const signer = contract.runner;
        if (!(signer instanceof BaseWallet) || signer.provider === null) {
          const resp = await contract.getFunction(method).send(...args, overrides);
          this.#tellSent(opts, resp.hash);
          return resp;
        }
        // estimate (a revert throws here), nonce, fees and chain id: what `send` would fill in
        const request = await signer.populateTransaction(await contract.getFunction(method).populateTransaction(...args, overrides));
        if (signal.aborted) throw signal.reason;
        const raw = await signer.signTransaction(request);
        this.#tellSent(opts, keccak256(raw));
        return signer.provider.broadcastTransaction(raw);
      };
      const p = this.#sendQueue.then(send, send);
      // the slot frees when the send settles, or when this call gives up (timeout/abort), so a
      // hung node cannot block later submissions beyond their own deadlines
      const released = new Promise<void>((resolve) => {
        if (signal.aborted) resolve();
        else signal.addEventListener('abort', () => resolve(), { once: true });
      });
      this.#sendQueue = Promise.race([p.then(noop, noop), released]);
      const resp = await p;
      let receipt: TransactionReceipt | null;
      try {
        receipt = await resp.wait(confirmations);
      } catch (e) {
        throw await this.#explainMinedRevert(e, resp, method);
      }
      if (!receipt) throw new SluiceError('CHAIN_RPC', `${method}: no receipt`);
      return { txHash: receipt.hash.toLowerCase() as Hex, blockNumber: receipt.blockNumber, gasUsed: receipt.gasUsed };
    });
  }

  #tellSent(opts: ChainCallOptions, hash: string): void {
    try {
      opts.onSent?.(hash.toLowerCase() as Hex);
    } catch {
      // the caller's bookkeeping: the transaction goes out either way
    }
  }

  /**
   * A transaction that passed estimation but reverted when mined (e.g. another deposit
   * landed first) carries no revert data in its receipt: replay it as a call at its block
   * to recover the reason.
   */
  async #explainMinedRevert(e: unknown, resp: TransactionResponse, method: string): Promise<unknown> {
    if (!isError(e, 'CALL_EXCEPTION') || !e.receipt) return e;
    const receipt = e.receipt;
    try {
      await this.#provider.call({ to: resp.to, from: resp.from, data: resp.data, value: resp.value, blockTag: receipt.blockNumber });
    } catch (replayed) {
      const err = toChainError(replayed, method, this.#errorIfaces);
      if (err.code === 'CHAIN_REVERT') {
        return new SluiceError('CHAIN_REVERT', err.message, { details: { ...err.details, txHash: receipt.hash.toLowerCase(), blockNumber: receipt.blockNumber }, cause: err.cause });
      }
    }
    return toChainError(e, method, this.#errorIfaces);
  }

  // ------------------------------------------------------------ events

  /** @inheritDoc */
  async *events(opts: EventStreamOptions): AsyncGenerator<ChainEventBatch, void, undefined> {
    assertBlockNumber(opts.fromBlock, 'fromBlock');
    const confirmations = positiveInt(opts.confirmations ?? 1, 'confirmations');
    const maxRange = positiveInt(opts.maxBlockRange ?? this.#maxBlockRange, 'maxBlockRange');
    const poll = opts.pollIntervalMs ?? this.#pollIntervalMs;
    const signal = opts.signal;
    const topic0 = ADJUDICATOR_EVENTS.map((n) => (this.#iface.getEvent(n) as { topicHash: string }).topicHash);
    const ids = opts.channelIds?.map((c) => arg(() => parseBytes32(c, 'channelIds[]')));
    const topics: (string[] | null)[] = ids && ids.length > 0 ? [topic0, ids] : [topic0];
    const callOpts: ChainCallOptions = signal ? { signal } : {};
    let last: EventCursor | undefined = opts.after;
    let next = opts.fromBlock;
    let failures = 0;
    let range = maxRange;
    /**
     * Hashes of the last blocks of recent batches, oldest first (at most {@link REORG_ANCHORS}).
     * Before each batch the newest must still be on the chain; if not, the chain was reorganised
     * deeper than `confirmations`: the stream goes back to the newest anchor still there and
     * delivers from the block after it again (handlers are idempotent), reporting `CHAIN_REORG`.
     */
    const anchors: { block: number; hash: string }[] = [];
    const hashOf = async (n: number): Promise<{ hash: string; parentHash: string }> =>
      this.#guard('getBlock', callOpts, async () => {
        const b = await this.#provider.getBlock(n);
        if (!b?.hash) throw new SluiceError('CHAIN_RPC', `getBlock(${n}) returned no block`);
        return { hash: b.hash, parentHash: b.parentHash };
      });
    const backoff = async (e: unknown): Promise<boolean> => {
      failures++;
      opts.onError?.(e instanceof Error ? e : new Error(String(e)));
      return sleep(Math.min(poll * 2 ** Math.min(failures, 5), 30_000), signal);
    };
    while (!signal?.aborted) {
      let head: number;
      try {
        head = await this.#guard('getBlockNumber', callOpts, () => this.#provider.getBlockNumber());
      } catch (e) {
        if (signal?.aborted || isSluiceError(e, 'ABORTED')) return;
        if (!(await backoff(e))) return;
        continue;
      }
      const safe = newestDeliverable(head, confirmations);
      if (safe < next) {
        if (!(await sleep(poll, signal))) return;
        continue;
      }
      while (next <= safe) {
        const to = Math.min(safe, next + range - 1);
        let logs: Log[];
        let anchor: { hash: string; parentHash: string };
        try {
          // the last block's hash first, then its logs: if the chain moves in between, the next
          // batch's check sees it (an unchanged block has unchanged ancestors)
          anchor = await hashOf(to);
          const top = anchors[anchors.length - 1];
          // is the last block we delivered still on the chain? (a one-block step reads it off its child)
          const topGone =
            top !== undefined && (to === top.block + 1 ? anchor.parentHash !== top.hash : (await hashOf(top.block)).hash !== top.hash);
          if (topGone) {
            let keep = anchors.length - 2;
            while (keep >= 0 && (await hashOf(anchors[keep]!.block)).hash !== anchors[keep]!.hash) keep--;
            const back = keep >= 0 ? anchors[keep]!.block : opts.fromBlock - 1;
            anchors.length = keep + 1;
            opts.onError?.(
              new SluiceError('CHAIN_REORG', `the chain was reorganised below block ${top.block}, deeper than ${confirmations} confirmation(s): events from block ${back + 1} are delivered again`, {
                details: { fromBlock: back + 1, toBlock: top.block, confirmations },
              }),
            );
            next = back + 1;
            last = { blockNumber: back, logIndex: Number.MAX_SAFE_INTEGER };
            continue;
          }
          logs = await this.#guard('getLogs', callOpts, () =>
            this.#provider.getLogs({ address: this.adjudicator, topics, fromBlock: next, toBlock: to }),
          );
        } catch (e) {
          if (signal?.aborted || isSluiceError(e, 'ABORTED')) return;
          // nodes cap log queries (range or result count): retry a smaller range
          range = Math.max(1, Math.floor(range / 2));
          if (!(await backoff(e))) return;
          continue;
        }
        failures = 0;
        range = Math.min(maxRange, range * 2);
        const seen = new Set<string>();
        const events: ChainEvent[] = [];
        for (const log of logs) {
          if (log.removed || log.blockNumber < next || log.blockNumber > to) continue;
          if (log.address.toLowerCase() !== this.adjudicator.toLowerCase()) continue;
          const key = `${log.blockNumber}:${log.index}`;
          if (seen.has(key)) continue;
          seen.add(key);
          if (last && compareCursor({ blockNumber: log.blockNumber, logIndex: log.index }, last) <= 0) continue;
          const ev = decodeAdjudicatorLog(this.#iface, log);
          if (ev) events.push(ev);
        }
        events.sort(compareCursor);
        // a checkpoint's log does not carry the state it registered: read it off the transaction
        // (an exiting participant may not hold that state: see the ledger exit)
        try {
          for (let i = 0; i < events.length; i++) {
            const ev = events[i]!;
            if (ev.type !== 'Checkpointed' && ev.type !== 'ChallengeCleared') continue;
            const tx = await this.#guard('getTransaction', callOpts, () => this.#provider.getTransaction(ev.txHash));
            if (tx === null || tx.to?.toLowerCase() !== this.adjudicator.toLowerCase()) continue;
            const candidate = decodeCheckpointCall(this.#iface, tx.data, ev.channelId, ev.newTurnNumRecord);
            if (candidate !== undefined) events[i] = { ...ev, candidate };
          }
        } catch (e) {
          if (signal?.aborted || isSluiceError(e, 'ABORTED')) return;
          if (!(await backoff(e))) return;
          continue;
        }
        if (signal?.aborted) return;
        const batch: ChainEventBatch = { fromBlock: next, toBlock: to, events };
        anchors.push({ block: to, hash: anchor.hash });
        if (anchors.length > REORG_ANCHORS) anchors.shift();
        yield batch;
        const tail = events[events.length - 1];
        if (tail) last = tail;
        next = to + 1;
      }
    }
  }
}

/** Batches whose last block's hash the event stream remembers (how far back a reorg can be followed). */
const REORG_ANCHORS = 64;

function noop(): void {}

function positiveInt(x: number, name: string): number {
  if (!Number.isSafeInteger(x) || x < 1) throw new SluiceError('INVALID_ARGUMENT', `${name} must be a positive integer`);
  return x;
}

function index(x: number, name: string): bigint {
  if (!Number.isSafeInteger(x) || x < 0) throw new RangeError(`${name} must be a non-negative integer`);
  return BigInt(x);
}

/** Run a boundary check, turning TypeError/RangeError into INVALID_ARGUMENT. */
function arg<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (isSluiceError(e)) throw e;
    throw new SluiceError('INVALID_ARGUMENT', e instanceof Error ? e.message : 'invalid argument', { cause: e });
  }
}
