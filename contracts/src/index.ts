/**
 * @sluice/contracts — compiled artifacts of Sluice's Nitro-ABI contracts.
 *
 * ```ts
 * import { loadArtifact } from '@sluice/contracts';
 * const { abi, bytecode } = loadArtifact('NitroAdjudicator');
 * const factory = new ethers.ContractFactory(abi, bytecode, signer);
 * ```
 */
import { readFileSync } from 'node:fs';

/** Names of the contracts that have an artifact. */
export const CONTRACT_NAMES = ['NitroAdjudicator', 'ConsensusApp', 'VirtualPaymentApp', 'TestToken', 'StrictApproveToken'] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

/** A compiled contract: JSON ABI, creation bytecode and runtime bytecode (0x-hex). */
export interface ContractArtifact {
  contractName: ContractName;
  abi: readonly Record<string, unknown>[];
  bytecode: `0x${string}`;
  deployedBytecode: `0x${string}`;
}

const cache = new Map<ContractName, ContractArtifact>();

/**
 * Loads `contracts/artifacts/<name>.json` (built by `npm run build:contracts`).
 * @param name one of {@link CONTRACT_NAMES}
 * @returns the artifact (cached; treat as read-only)
 * @throws TypeError if `name` is not a known contract
 */
export function loadArtifact(name: ContractName): ContractArtifact {
  if (!(CONTRACT_NAMES as readonly string[]).includes(name)) throw new TypeError(`unknown contract name: ${String(name)}`);
  let a = cache.get(name);
  if (!a) {
    const raw = JSON.parse(readFileSync(new URL(`../artifacts/${name}.json`, import.meta.url), 'utf8')) as ContractArtifact;
    a = { contractName: name, abi: raw.abi, bytecode: raw.bytecode, deployedBytecode: raw.deployedBytecode };
    cache.set(name, a);
  }
  return a;
}
