/** channel-core's root entry and pure modules never import ethers' providers/contracts/signers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const SRC = fileURLToPath(new URL('../../packages/channel-core/src/', import.meta.url));
const FORBIDDEN = /\b(JsonRpcProvider|WebSocketProvider|BrowserProvider|AbstractProvider|Provider|Contract|ContractFactory|Wallet|Signer|NonceManager)\b/;

function* files(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else if (e.name.endsWith('.ts')) yield p;
  }
}

test('only src/ethers/** imports ethers providers, contracts or signers', () => {
  const offenders: string[] = [];
  for (const file of files(SRC)) {
    const rel = relative(SRC, file);
    if (rel.startsWith('ethers/')) continue;
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+'ethers(?:\/[^']*)?'/g)) {
      if (FORBIDDEN.test(m[1]!)) offenders.push(rel);
    }
  }
  assert.deepEqual(offenders, []);
});
