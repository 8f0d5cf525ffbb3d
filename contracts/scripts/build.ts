/**
 * Builds contracts/artifacts/<ContractName>.json (abi, bytecode, deployedBytecode, compiler
 * settings). Run: `npm run build:contracts` (or `node contracts/scripts/build.ts`).
 * Output is deterministic; test/artifacts.test.ts fails when committed artifacts are stale.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARTIFACTS_DIR, CONTRACT_NAMES, canonicalJson, compileContracts } from './compile.ts';

const artifacts = compileContracts();
mkdirSync(ARTIFACTS_DIR, { recursive: true });
for (const name of CONTRACT_NAMES) {
  const a = artifacts[name];
  writeFileSync(join(ARTIFACTS_DIR, `${name}.json`), canonicalJson(a));
  console.log(`${name}: ${(a.deployedBytecode.length - 2) / 2} bytes runtime, ${(a.bytecode.length - 2) / 2} bytes initcode`);
}
