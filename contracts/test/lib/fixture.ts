/**
 * A fresh anvil with Sluice's contracts deployed and three funded actors:
 * Alice (client/payer), Irene (hub), Bob (provider). Used by the contract tests and bench.
 */
import type { Contract, Wallet, Log, ContractTransactionResponse } from 'ethers';
import { startAnvil, type Anvil } from './anvil.ts';
import {
  connect,
  channelId,
  deploy,
  dest,
  hashState,
  signState,
  type Chain,
  type FixedPart,
  type Hex,
  type Outcome,
  type SignedVariablePart,
  type VariablePart,
} from './nitro.ts';

export interface Actor {
  wallet: Wallet;
  address: string;
  key: string;
  /** external destination (address as bytes32) */
  dest: Hex;
}

export interface Fixture {
  anvil: Anvil;
  chain: Chain;
  deployer: Wallet;
  adjudicator: Contract;
  consensusApp: Contract;
  virtualPaymentApp: Contract;
  token: Contract;
  alice: Actor;
  irene: Actor;
  bob: Actor;
  addresses: { adjudicator: string; consensusApp: string; virtualPaymentApp: string; token: string };
  stop(): Promise<void>;
}

export function actor(wallet: Wallet): Actor {
  return { wallet, address: wallet.address, key: wallet.privateKey, dest: dest(wallet.address) };
}

export async function startFixture(): Promise<Fixture> {
  const anvil = await startAnvil();
  try {
    const chain = connect(anvil.rpcUrl, anvil.accounts);
    const [deployer, a, i, b] = chain.wallets;
    if (!deployer || !a || !i || !b) throw new Error('need 4 accounts');
    const adjudicator = (await deploy('NitroAdjudicator', deployer)).contract;
    const consensusApp = (await deploy('ConsensusApp', deployer)).contract;
    const virtualPaymentApp = (await deploy('VirtualPaymentApp', deployer)).contract;
    const token = (await deploy('TestToken', deployer)).contract;
    const addresses = {
      adjudicator: await adjudicator.getAddress(),
      consensusApp: await consensusApp.getAddress(),
      virtualPaymentApp: await virtualPaymentApp.getAddress(),
      token: await token.getAddress(),
    };
    for (const w of [deployer, a, i, b]) {
      await (await (token.connect(w) as Contract).getFunction('mint')(w.address, 10n ** 24n)).wait();
      await (await (token.connect(w) as Contract).getFunction('approve')(addresses.adjudicator, 2n ** 255n)).wait();
    }
    return {
      anvil,
      chain,
      deployer,
      adjudicator,
      consensusApp,
      virtualPaymentApp,
      token,
      alice: actor(a),
      irene: actor(i),
      bob: actor(b),
      addresses,
      stop: async () => {
        chain.provider.destroy();
        await anvil.stop();
      },
    };
  } catch (e) {
    await anvil.stop();
    throw e;
  }
}

let nonce = 1000n;
/** A channel description with a fresh nonce, plus state/sign helpers. */
export class TestChannel {
  readonly fixedPart: FixedPart;
  readonly id: Hex;
  readonly keys: string[];
  constructor(participants: Actor[], appDefinition: string, challengeDuration: number, channelNonce?: bigint) {
    this.fixedPart = { participants: participants.map((p) => p.address), channelNonce: channelNonce ?? nonce++, appDefinition, challengeDuration };
    this.id = channelId(this.fixedPart);
    this.keys = participants.map((p) => p.key);
  }
  state(outcome: Outcome, turnNum: number, isFinal = false, appData = '0x'): VariablePart {
    return { outcome, appData, turnNum, isFinal };
  }
  /** Signed by all participants, or by those at `by` (indices). */
  sign(vp: VariablePart, by?: number[]): SignedVariablePart {
    const keys = by ? by.map((i) => this.keys[i] ?? '') : this.keys;
    return signState(this.fixedPart, vp, keys);
  }
  hash(vp: VariablePart): Hex {
    return hashState(this.fixedPart, vp);
  }
}

/** Waits for the tx and returns the adjudicator's decoded events (name + args). */
export async function eventsOf(
  contract: Contract,
  tx: Promise<ContractTransactionResponse>,
): Promise<{ name: string; args: unknown[]; gasUsed: bigint }[] & { gasUsed: bigint }> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error('no receipt');
  const target = (await contract.getAddress()).toLowerCase();
  const out = receipt.logs
    .filter((l: Log) => l.address.toLowerCase() === target)
    .map((l: Log) => {
      const p = contract.interface.parseLog(l);
      return { name: p?.name ?? '?', args: p ? [...p.args] : [], gasUsed: receipt.gasUsed };
    });
  return Object.assign(out, { gasUsed: receipt.gasUsed });
}
