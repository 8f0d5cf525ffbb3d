/**
 * Shared fixture of the chain suites: a fresh anvil, Sluice's contracts deployed through
 * channel-core's own deploy helper, and one EthersChainService per actor
 * (Alice = client/payer, Irene = hub, Bob = provider).
 */
import { JsonRpcProvider, Wallet, Contract } from 'ethers';
import { startAnvil, type Anvil } from '../../contracts/test/lib/anvil.ts';
import { loadArtifact } from '../../contracts/src/index.ts';
import { EthersChainService, deployNitro, type NitroDeployment } from '@sluice/channel-core/ethers';
import {
  AllocationType,
  ZERO_ADDRESS,
  addressToDestination,
  getChannelId,
  parseAddress,
  signState,
  type Address,
  type Bytes32,
  type ChannelId,
  type FixedPart,
  type Hex,
  type Outcome,
  type SignedState,
  type State,
  type ChainEvent,
  type ChainService,
  type EventStreamOptions,
  consumeChainEvents,
} from './core.ts';

export interface Actor {
  name: string;
  key: Hex;
  address: Address;
  dest: Bytes32;
  wallet: Wallet;
  chain: EthersChainService;
}

export interface ChainFixture {
  anvil: Anvil;
  provider: JsonRpcProvider;
  deployment: Required<NitroDeployment>;
  deployer: Actor;
  alice: Actor;
  irene: Actor;
  bob: Actor;
  token: Contract;
  stop(): Promise<void>;
}

export const ETH = ZERO_ADDRESS;

export function connect(rpcUrl: string): JsonRpcProvider {
  return new JsonRpcProvider(rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
}

export function makeActor(name: string, key: Hex, provider: JsonRpcProvider, adjudicator: string, extra: { confirmations?: number } = {}): Actor {
  const wallet = new Wallet(key, provider);
  const address = parseAddress(wallet.address, 'address');
  return {
    name,
    key,
    address,
    dest: addressToDestination(address) as Bytes32,
    wallet,
    chain: new EthersChainService({ adjudicator, provider, signer: wallet, timeoutMs: 30_000, pollIntervalMs: 50, ...extra }),
  };
}

export async function startChain(): Promise<ChainFixture> {
  const anvil = await startAnvil();
  const provider = connect(anvil.rpcUrl);
  try {
    const keys = anvil.accounts as Hex[];
    const deployerWallet = new Wallet(keys[0]!, provider);
    const d = await deployNitro(deployerWallet, {
      adjudicator: loadArtifact('NitroAdjudicator'),
      consensusApp: loadArtifact('ConsensusApp'),
      virtualPaymentApp: loadArtifact('VirtualPaymentApp'),
      testToken: loadArtifact('TestToken'),
    });
    const deployment = d as Required<NitroDeployment>;
    const [deployer, alice, irene, bob] = (['deployer', 'alice', 'irene', 'bob'] as const).map((n, i) =>
      makeActor(n, keys[i]!, provider, deployment.adjudicator),
    ) as [Actor, Actor, Actor, Actor];
    const token = new Contract(deployment.testToken, loadArtifact('TestToken').abi as never, deployerWallet);
    for (const a of [alice, irene, bob]) await (await token.getFunction('mint')(a.address, 10n ** 24n)).wait();
    return {
      anvil,
      provider,
      deployment,
      deployer,
      alice,
      irene,
      bob,
      token,
      stop: async () => {
        provider.destroy();
        await anvil.stop();
      },
    };
  } catch (e) {
    provider.destroy();
    await anvil.stop();
    throw e;
  }
}

let nonce = 1n;
/** A fresh fixed part with a unique nonce. */
export function fixedPart(participants: readonly Actor[], appDefinition: Address, challengeDuration: number): FixedPart & { id: ChannelId } {
  const f: FixedPart = { participants: participants.map((p) => p.address), channelNonce: nonce++, appDefinition, challengeDuration };
  return { ...f, id: getChannelId(f) };
}

export function simple(destination: Bytes32, amount: bigint) {
  return { destination, amount, allocationType: AllocationType.simple, metadata: '0x' as Hex };
}

export function exit(asset: Address, allocations: Outcome[number]['allocations']): Outcome[number] {
  return { asset, assetMetadata: { assetType: 0, metadata: '0x' as Hex }, allocations };
}

export function state(f: FixedPart, outcome: Outcome, turnNum: number, isFinal = false, appData: Hex = '0x' as Hex): State {
  return {
    participants: f.participants,
    channelNonce: f.channelNonce,
    appDefinition: f.appDefinition,
    challengeDuration: f.challengeDuration,
    outcome,
    appData,
    turnNum,
    isFinal,
  };
}

/** Signed by the given actors with channel-core's signState. */
export function signed(s: State, by: readonly Actor[]): SignedState {
  return { state: s, signatures: by.map((a) => signState(s, a.key)) };
}

export async function increaseTime(provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds]);
  await provider.send('evm_mine', []);
}

export async function balance(f: ChainFixture, asset: Address, who: Address): Promise<bigint> {
  return f.alice.chain.balanceOf(asset, who);
}

/** Background consumer of a service's event stream, for assertions. */
export interface Collector {
  events: ChainEvent[];
  lastBlock: number;
  waitFor(pred: (e: ChainEvent) => boolean, timeoutMs?: number): Promise<ChainEvent>;
  stop(): Promise<void>;
}

export function collect(chain: ChainService, opts: Omit<EventStreamOptions, 'signal'>): Collector {
  const ctl = new AbortController();
  const events: ChainEvent[] = [];
  const waiters = new Set<() => void>();
  const c: Collector = {
    events,
    lastBlock: opts.fromBlock - 1,
    async waitFor(pred, timeoutMs = 20_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const hit = events.find(pred);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`event not seen; got ${events.map((e) => e.type).join(',')}`);
        await new Promise<void>((r) => {
          const t = setTimeout(r, 100);
          waiters.add(() => {
            clearTimeout(t);
            r();
          });
        });
      }
    },
    async stop() {
      ctl.abort();
      await done;
    },
  };
  const done = consumeChainEvents(chain, { ...opts, signal: ctl.signal }, (b) => {
    events.push(...b.events);
    c.lastBlock = b.toBlock;
    for (const w of [...waiters]) w();
    waiters.clear();
  });
  return c;
}
