import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devAccount, keyFileAddress, newKeyFile, readKeyFile, writeKeyFile, passphraseFromEnv } from '../src/keys/index.ts';
import { isSluiceError } from '../src/index.ts';
import { raw } from './vectors.ts';

const fast = { scryptN: 1024 };

test('keys: a keystore is written 0600, holds no plaintext key, and decrypts only with the passphrase', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-keys-'));
  try {
    const path = join(dir, 'sub', 'alice.json');
    const alice = raw.actors.alice;
    const address = await writeKeyFile(path, alice.privateKey, 'correct horse', fast);
    assert.equal(address, alice.address);
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const text = readFileSync(path, 'utf8');
    assert.ok(!text.includes(alice.privateKey.slice(2)), 'no plaintext key in the file');
    assert.equal(keyFileAddress(path), alice.address);
    const back = await readKeyFile(path, 'correct horse');
    assert.equal(back.address, alice.address);
    await assert.rejects(readKeyFile(path, 'bad-secret-123'), (e) => isSluiceError(e, 'INVALID_ARGUMENT') && !String(e).includes('bad-secret-123'));
    await assert.rejects(writeKeyFile(path, alice.privateKey, 'correct horse', fast), (e) => isSluiceError(e, 'INVALID_ARGUMENT'));
    await assert.rejects(newKeyFile(join(dir, 'b.json'), 'short', fast), (e) => isSluiceError(e, 'INVALID_ARGUMENT'));
    const b = await newKeyFile(join(dir, 'b.json'), 'another passphrase', fast);
    assert.equal(keyFileAddress(join(dir, 'b.json')), b);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('keys: dev accounts are anvil\'s, and only for a local chain', () => {
  assert.equal(devAccount(0, 31337n).address, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266');
  assert.equal(devAccount(1, 31337n).address, '0x70997970C51812dc3A010C7d01b50e0d17dc79C8');
  assert.throws(() => devAccount(0, 1n), (e) => isSluiceError(e, 'INVALID_ARGUMENT'));
  assert.equal(passphraseFromEnv({ SLUICE_PASSPHRASE: 'x' }), 'x');
  assert.equal(passphraseFromEnv({}), undefined);
});
