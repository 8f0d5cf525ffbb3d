/**
 * Minimal Nitro Gen-2 encoding/signing helpers for contract tests and the gas bench
 * (ethers v6). The production implementation lives in packages/channel-core; these exist
 * so the contract suite does not depend on it.
 */
import {
  AbiCoder,
  Contract,
  ContractFactory,
  JsonRpcProvider,
  Wallet,
  getBytes,
  hashMessage,
  keccak256,
  toBeHex,
  zeroPadValue,
  type BaseContract,
  type ContractTransactionResponse,
  type InterfaceAbi,
  type Signer,
} from 'ethers';
import { loadArtifact, type ContractName } from '../../src/index.ts';

export type Hex = `0x${string}`;

export interface Allocation {
  destination: string;
  amount: bigint;
  allocationType: number;
  metadata: string;
}
export interface SingleAssetExit {
  asset: string;
  assetMetadata: { assetType: number; metadata: string };
  allocations: Allocation[];
}
export type Outcome = SingleAssetExit[];
export interface FixedPart {
  participants: string[];
  channelNonce: bigint;
  appDefinition: string;
  challengeDuration: number;
}
export interface VariablePart {
  outcome: Outcome;
  appData: string;
  turnNum: number;
  isFinal: boolean;
}
export interface Sig {
  v: number;
  r: string;
  s: string;
}
export interface SignedVariablePart {
  variablePart: VariablePart;
  sigs: Sig[];
}

export const ALLOCATION = { simple: 0, withdrawHelper: 1, guarantee: 2 } as const;
export const ETH = '0x0000000000000000000000000000000000000000';

const coder = AbiCoder.defaultAbiCoder();
export const OUTCOME_TYPE =
  'tuple(address asset, tuple(uint8 assetType, bytes metadata) assetMetadata, tuple(bytes32 destination, uint256 amount, uint8 allocationType, bytes metadata)[] allocations)[]';

export function channelId(fp: FixedPart): Hex {
  return keccak256(
    coder.encode(['address[]', 'uint64', 'address', 'uint48'], [fp.participants, fp.channelNonce, fp.appDefinition, fp.challengeDuration]),
  ) as Hex;
}

export function encodeOutcome(o: Outcome): Hex {
  return coder.encode([OUTCOME_TYPE], [o]) as Hex;
}

export function hashOutcome(o: Outcome): Hex {
  return keccak256(encodeOutcome(o)) as Hex;
}

export function hashState(fp: FixedPart, vp: VariablePart): Hex {
  return keccak256(
    coder.encode(['bytes32', 'bytes', OUTCOME_TYPE, 'uint48', 'bool'], [channelId(fp), vp.appData, vp.outcome, vp.turnNum, vp.isFinal]),
  ) as Hex;
}

/** EIP-191 signature over a 32-byte hash, v in {27, 28}. */
export function signHash(hash: string, privateKey: string): Sig {
  const sig = new Wallet(privateKey).signingKey.sign(hashMessage(getBytes(hash)));
  return { v: sig.v, r: sig.r, s: sig.s };
}

export function signState(fp: FixedPart, vp: VariablePart, keys: string[]): SignedVariablePart {
  const h = hashState(fp, vp);
  return { variablePart: vp, sigs: keys.map((k) => signHash(h, k)) };
}

export function challengerSig(fp: FixedPart, vp: VariablePart, key: string): Sig {
  return signHash(keccak256(coder.encode(['bytes32', 'string'], [hashState(fp, vp), 'forceMove'])), key);
}

export function voucherHash(cid: string, amount: bigint): Hex {
  return keccak256(coder.encode(['bytes32', 'uint256'], [cid, amount])) as Hex;
}

/** Redemption appData: abi.encode((uint256 amount, (uint8 v, bytes32 r, bytes32 s))). */
export function redemptionAppData(amount: bigint, sig: Sig): Hex {
  return coder.encode(['tuple(uint256,tuple(uint8,bytes32,bytes32))'], [[amount, [sig.v, sig.r, sig.s]]]) as Hex;
}

export function guaranteeMetadata(left: string, right: string): Hex {
  return coder.encode(['bytes32', 'bytes32'], [left, right]) as Hex;
}

/** An external destination: the address left-padded to 32 bytes. */
export function dest(address: string): Hex {
  return zeroPadValue(address, 32) as Hex;
}

export function simple(destination: string, amount: bigint): Allocation {
  return { destination, amount, allocationType: ALLOCATION.simple, metadata: '0x' };
}

export function guarantee(target: string, amount: bigint, left: string, right: string): Allocation {
  return { destination: target, amount, allocationType: ALLOCATION.guarantee, metadata: guaranteeMetadata(left, right) };
}

export function exit(asset: string, allocations: Allocation[]): SingleAssetExit {
  return { asset, assetMetadata: { assetType: 0, metadata: '0x' }, allocations };
}

/** A connected chain: provider, funded signers and helpers. */
export interface Chain {
  provider: JsonRpcProvider;
  wallets: Wallet[];
}

export function connect(rpcUrl: string, keys: string[]): Chain {
  const provider = new JsonRpcProvider(rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  const wallets = keys.map((k) => new Wallet(k, provider));
  return { provider, wallets };
}

export async function deploy(name: ContractName, signer: Signer): Promise<{ contract: Contract; gasUsed: bigint }> {
  const a = loadArtifact(name);
  return deployRaw(a.abi as InterfaceAbi, a.bytecode, signer);
}

export async function deployRaw(abi: InterfaceAbi, bytecode: string, signer: Signer): Promise<{ contract: Contract; gasUsed: bigint }> {
  const c = (await new ContractFactory(abi, bytecode, signer).deploy()) as BaseContract;
  const receipt = await c.deploymentTransaction()?.wait();
  if (!receipt) throw new Error('no deployment receipt');
  return { contract: new Contract(await c.getAddress(), abi, signer), gasUsed: receipt.gasUsed };
}

/** Sends a contract transaction, waits, and returns gas used (throws if it reverted). */
export async function gasOf(tx: Promise<ContractTransactionResponse>): Promise<bigint> {
  const receipt = await (await tx).wait();
  if (!receipt) throw new Error('no receipt');
  return receipt.gasUsed;
}

export async function increaseTime(provider: JsonRpcProvider, seconds: number): Promise<void> {
  await provider.send('evm_increaseTime', [seconds]);
  await provider.send('evm_mine', []);
}

export async function latestTimestamp(provider: JsonRpcProvider): Promise<number> {
  const b = await provider.getBlock('latest');
  if (!b) throw new Error('no block');
  return b.timestamp;
}

/** Returns the status word the adjudicator stores: turnNumRecord | finalizesAt | fingerprint. */
export function packStatus(turnNumRecord: bigint, finalizesAt: bigint, stateHash: string, outcomeHash: string): Hex {
  const fp = BigInt(keccak256(coder.encode(['bytes32', 'bytes32'], [stateHash, outcomeHash]))) & ((1n << 160n) - 1n);
  return toBeHex((turnNumRecord << 208n) | (finalizesAt << 160n) | fp, 32) as Hex;
}
