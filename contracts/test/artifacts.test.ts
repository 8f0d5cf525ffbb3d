import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { Interface, type InterfaceAbi } from 'ethers';
import { ARTIFACTS_DIR, CONTRACT_NAMES, canonicalJson, compileContracts } from '../scripts/compile.ts';
import { loadArtifact } from '../src/index.ts';

const require = createRequire(import.meta.url);
const REF = '@statechannels/nitro-protocol/dist/artifacts/contracts';

function refAbi(name: string): InterfaceAbi {
  return (require(`${REF}/${name}.sol/${name}.json`) as { abi: InterfaceAbi }).abi;
}

/** `function name(types) -> (types) mutability` for functions, topic signature for events. */
function surface(abi: InterfaceAbi): { functions: string[]; events: string[] } {
  const i = Interface.from(abi);
  const functions: string[] = [];
  const events: string[] = [];
  i.forEachFunction((f) => functions.push(`${f.selector} ${f.format('sighash')} -> (${f.outputs.map((o) => o.format('sighash')).join(',')}) ${f.stateMutability}`));
  i.forEachEvent((e) => events.push(`${e.topicHash} ${e.format('sighash')} indexed=[${e.inputs.map((p) => p.indexed).join(',')}]`));
  return { functions: functions.sort(), events: events.sort() };
}

test('committed artifacts are up to date with the Solidity sources (npm run build:contracts)', () => {
  const fresh = compileContracts();
  for (const name of CONTRACT_NAMES) {
    const committed = readFileSync(join(ARTIFACTS_DIR, `${name}.json`), 'utf8');
    assert.equal(committed, canonicalJson(fresh[name]), `${name}.json is stale: run npm run build:contracts`);
  }
});

for (const name of ['NitroAdjudicator', 'ConsensusApp', 'VirtualPaymentApp'] as const) {
  test(`${name} ABI matches the reference @statechannels/nitro-protocol@2.0.1-alpha.6`, () => {
    const ours = surface(loadArtifact(name).abi as InterfaceAbi);
    const ref = surface(refAbi(name));
    // selectors, full signatures, outputs and state mutability must all be identical
    assert.deepEqual(ours.functions, ref.functions);
    assert.deepEqual(ours.events, ref.events);
  });
}

test('loadArtifact rejects unknown names and returns abi + bytecode', () => {
  assert.throws(() => loadArtifact('Nope' as never), TypeError);
  const a = loadArtifact('TestToken');
  assert.match(a.bytecode, /^0x[0-9a-f]+$/);
  assert.ok(a.abi.length > 0);
});
