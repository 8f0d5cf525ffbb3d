/**
 * Deterministic compilation of contracts/solidity/*.sol with the pinned `solc` npm package
 * (no compiler download at run time). Used by scripts/build.ts and by the staleness test.
 *
 * Choices (see docs/adr/0003-contracts-compilation.md):
 *  - optimizer on, `runs` = OPTIMIZER_RUNS, viaIR = VIA_IR;
 *  - metadata hash "none" and no CBOR trailer, so bytecode depends only on the sources;
 *  - artifacts are JSON with sorted keys and a trailing newline.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import solc from 'solc';

export const SOLIDITY_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'solidity');
export const ARTIFACTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'artifacts');

export const OPTIMIZER_RUNS = 200;
export const VIA_IR = true;
export const EVM_VERSION = 'cancun';

/** Contracts that get an artifact (everything else is a library or an interface). */
export const CONTRACT_NAMES = ['NitroAdjudicator', 'ConsensusApp', 'VirtualPaymentApp', 'TestToken', 'StrictApproveToken'] as const;
export type ContractName = (typeof CONTRACT_NAMES)[number];

export interface CompiledArtifact {
  contractName: string;
  sourceName: string;
  abi: unknown[];
  bytecode: `0x${string}`;
  deployedBytecode: `0x${string}`;
  compiler: { version: string; optimizerRuns: number; viaIR: boolean; evmVersion: string };
}

interface SolcOutput {
  errors?: { severity: string; formattedMessage: string }[];
  contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>>;
}

/** Compiles every source and returns artifacts keyed by contract name. Throws on any compiler error. */
export function compileContracts(): Record<ContractName, CompiledArtifact> {
  const files = readdirSync(SOLIDITY_DIR).filter((f) => f.endsWith('.sol')).sort();
  const sources: Record<string, { content: string }> = {};
  for (const f of files) sources[f] = { content: readFileSync(join(SOLIDITY_DIR, f), 'utf8') };
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      optimizer: { enabled: true, runs: OPTIMIZER_RUNS },
      viaIR: VIA_IR,
      evmVersion: EVM_VERSION,
      metadata: { bytecodeHash: 'none', appendCBOR: false },
      outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  if (errors.length > 0) throw new Error('solc failed:\n' + errors.map((e) => e.formattedMessage).join('\n'));
  const version = String(solc.version());
  const result = {} as Record<ContractName, CompiledArtifact>;
  for (const [sourceName, contracts] of Object.entries(output.contracts)) {
    for (const [name, c] of Object.entries(contracts)) {
      if (!(CONTRACT_NAMES as readonly string[]).includes(name)) continue;
      result[name as ContractName] = {
        contractName: name,
        sourceName: `contracts/solidity/${sourceName}`,
        abi: c.abi,
        bytecode: `0x${c.evm.bytecode.object}`,
        deployedBytecode: `0x${c.evm.deployedBytecode.object}`,
        compiler: { version, optimizerRuns: OPTIMIZER_RUNS, viaIR: VIA_IR, evmVersion: EVM_VERSION },
      };
    }
  }
  for (const name of CONTRACT_NAMES) if (!result[name]) throw new Error(`solc produced no ${name}`);
  return result;
}

/** Canonical JSON: object keys sorted recursively, 2-space indent, trailing newline. */
export function canonicalJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(sort(value), null, 2) + '\n';
}
