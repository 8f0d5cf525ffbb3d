/**
 * Whom a stalled virtual channel blames (`silentPeers`, pure): the hub's postfund waits on the far
 * end, so a hub known alive is not blamed while the payer or payee is missing too; a hub not known
 * alive is (messages to the far end may go through it), and so is a hub that alone is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { protocols as P } from '../../src/index.ts';
import { silentPeers } from '../../src/engine/index.ts';
import type { Address } from '../../src/hex.ts';
import { alice, bob, fundedLedger, irene, virtualPrefund } from '../protocols/fixtures.ts';

const [aiA, aiI] = fundedLedger(alice, irene, 100n, 100n, 1n);
const [ibI, ibB] = fundedLedger(irene, bob, 100n, 10n, 2n);
const pre = virtualPrefund(alice, irene, bob, 40n);
const atAlice = P.newVirtualFund({ prefund: pre, myAddress: alice.address, toMyRight: aiA });
const atIrene = P.newVirtualFund({ prefund: pre, myAddress: irene.address, toMyLeft: aiI, toMyRight: ibI, hubPolicy: {} });
const atBob = P.newVirtualFund({ prefund: pre, myAddress: bob.address, toMyLeft: ibB });

/** `o` with V's state of `turnNum` signed by the parties in `signed` (placeholders: only presence counts). */
function signedBy(o: P.VirtualFundObjective, turnNum: number, signed: readonly Address[]): P.VirtualFundObjective {
  const signatures = o.v.fixedPart.participants.map((p) => (signed.includes(p) ? ('0x01' as never) : null));
  return { ...o, v: { ...o.v, states: [{ state: { ...pre, turnNum }, signatures }] } } as unknown as P.VirtualFundObjective;
}

const alive = (...peers: Address[]) => (p: Address): boolean => peers.includes(p);

test('postfund: a hub known alive is not blamed while the payee is missing too; a hub not known alive is', () => {
  const o = signedBy(atAlice, 1, [alice.address]);
  assert.deepEqual(silentPeers(o, 'WaitingForCompletePostFund'), [irene.address, bob.address], 'no liveness known: everyone missing');
  assert.deepEqual(silentPeers(o, 'WaitingForCompletePostFund', alive(irene.address)), [bob.address]);
  assert.deepEqual(silentPeers(o, 'WaitingForCompletePostFund', alive()), [irene.address, bob.address]);
});

test('a hub that alone is missing is blamed, alive or not', () => {
  const o = signedBy(atAlice, 1, [alice.address, bob.address]);
  assert.deepEqual(silentPeers(o, 'WaitingForCompletePostFund', alive(irene.address)), [irene.address]);
  assert.deepEqual(silentPeers(o, 'WaitingForCompletePostFund', alive()), [irene.address]);
});

test('the payee blames the payer, not a live hub, for a missing prefund; the hub blames the ends as before', () => {
  assert.deepEqual(silentPeers(signedBy(atBob, 0, [bob.address]), 'WaitingForCompletePrefund', alive(irene.address)), [alice.address]);
  assert.deepEqual(silentPeers(signedBy(atIrene, 1, [irene.address]), 'WaitingForCompletePostFund', alive(alice.address, bob.address)), [alice.address, bob.address]);
});

test('a final state proposal comes from an end: a live hub is not blamed for its absence', () => {
  assert.deepEqual(silentPeers(atBob, 'WaitingForFinalStateProposal', alive(irene.address)), [alice.address]);
  assert.deepEqual(silentPeers(atBob, 'WaitingForFinalStateProposal'), [alice.address, irene.address]);
});
