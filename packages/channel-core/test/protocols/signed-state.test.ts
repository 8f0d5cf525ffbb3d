/**
 * Adding peers' signed states: senders pass on every signature they hold, ours included, so a
 * message mostly repeats signatures the channel already has. Those are not recovered again;
 * anything else is checked as before.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Signature, type State, isSluiceError, signState, protocols as P } from '../../src/index.ts';
import { alice, bob, irene, virtualPrefund } from './fixtures.ts';

const sign = (s: State, ...who: (typeof alice)[]): Signature[] => who.map((k) => signState(s, k.privateKey));

test('a signature already held on the same state is not recovered again; a new one is', () => {
  const pre = virtualPrefund(alice, irene, bob, 40n);
  const mine = P.signAndAdd(P.newChannel(pre, alice.address), pre, alice.privateKey).channel;
  // Bob echoes Alice's own signature with his: both end up held, as before
  const both = P.addSignedState(mine, pre, sign(pre, alice, bob));
  assert.deepEqual(P.entryAt(both, 0)!.signatures.map((s) => s !== null), [true, false, true]);

  // White-box proof that a held signature is taken as is: an (impossible) unrecoverable
  // signature held in Alice's slot is echoed back without a SIGNATURE_* error ...
  const junk = new Uint8Array(65).fill(0xff) as Signature;
  const e = P.entryAt(both, 0)!;
  const tampered: P.Channel = { ...both, states: both.states.map((x) => (x === e ? { ...x, signatures: [junk, null, e.signatures[2]!] } : x)) };
  assert.equal(P.addSignedState(tampered, pre, [junk]), tampered);
  // ... but the same bytes on another state, or beside a new signature that is bad, are checked
  const post = { ...pre, turnNum: 1 };
  assert.throws(() => P.addSignedState(tampered, post, [junk]), (err) => isSluiceError(err) && err.code.startsWith('SIGNATURE_'));
  const bad = new Uint8Array(65).fill(0xee) as Signature;
  assert.throws(() => P.addSignedState(tampered, pre, [junk, bad]), (err) => isSluiceError(err));
  // and a state that conflicts with the held one at that turn still conflicts
  const other = { ...pre, appData: '0x01' as State['appData'] };
  assert.throws(() => P.addSignedState(both, other, sign(other, irene)), (err) => isSluiceError(err) && err.code === 'PROTOCOL_CONFLICTING_STATE');
});
