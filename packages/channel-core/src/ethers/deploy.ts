/**
 * Deploy a Nitro adjudicator, its apps and optionally a test token from artifacts passed
 * in (e.g. `loadArtifact` of `@sluice/contracts`), so channel-core does not depend on them.
 */
import { ContractFactory, type InterfaceAbi, type Signer } from 'ethers';
import type { Address } from '../hex.ts';
import type { ChainCallOptions } from '../chain.ts';
import { parseAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import { guarded } from './errors.ts';

/** A compiled contract: JSON ABI and creation bytecode. */
export interface DeployableArtifact {
  readonly abi: InterfaceAbi | readonly Record<string, unknown>[];
  readonly bytecode: string;
}

export interface NitroArtifacts {
  readonly adjudicator: DeployableArtifact;
  readonly consensusApp?: DeployableArtifact;
  readonly virtualPaymentApp?: DeployableArtifact;
  readonly testToken?: DeployableArtifact;
}

export interface NitroDeployment {
  readonly adjudicator: Address;
  /** Block of the adjudicator's deployment: where an event stream starts. */
  readonly deployBlock: number;
  readonly consensusApp?: Address;
  readonly virtualPaymentApp?: Address;
  readonly testToken?: Address;
}

export interface DeployOptions extends ChainCallOptions {
  /** Blocks each deployment must be deep (default 1). */
  readonly confirmations?: number;
}

/**
 * Deploy one contract (no constructor arguments) and wait for it.
 * @throws SluiceError CHAIN_REVERT / CHAIN_RPC / CHAIN_TIMEOUT / ABORTED
 */
export async function deployContract(
  signer: Signer,
  artifact: DeployableArtifact,
  opts: DeployOptions = {},
): Promise<{ address: Address; blockNumber: number }> {
  return guarded('deploy', opts, 120_000, [], async () => {
    const factory = new ContractFactory(artifact.abi as InterfaceAbi, artifact.bytecode, signer);
    const contract = await factory.deploy();
    const receipt = await contract.deploymentTransaction()?.wait(opts.confirmations ?? 1);
    if (!receipt?.contractAddress) throw new SluiceError('CHAIN_RPC', 'deployment gave no receipt');
    return { address: parseAddress(receipt.contractAddress, 'contractAddress'), blockNumber: receipt.blockNumber };
  });
}

/**
 * Deploy the adjudicator and whichever apps/token artifacts are given, one after another.
 * @throws SluiceError CHAIN_REVERT / CHAIN_RPC / CHAIN_TIMEOUT / ABORTED
 */
export async function deployNitro(signer: Signer, artifacts: NitroArtifacts, opts: DeployOptions = {}): Promise<NitroDeployment> {
  const adj = await deployContract(signer, artifacts.adjudicator, opts);
  const out: { -readonly [K in keyof NitroDeployment]: NitroDeployment[K] } = { adjudicator: adj.address, deployBlock: adj.blockNumber };
  if (artifacts.consensusApp) out.consensusApp = (await deployContract(signer, artifacts.consensusApp, opts)).address;
  if (artifacts.virtualPaymentApp) out.virtualPaymentApp = (await deployContract(signer, artifacts.virtualPaymentApp, opts)).address;
  if (artifacts.testToken) out.testToken = (await deployContract(signer, artifacts.testToken, opts)).address;
  return out;
}
