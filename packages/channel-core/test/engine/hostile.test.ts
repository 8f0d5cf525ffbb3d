/**
 * A peer's bad messages never crash the engine: garbage bytes, oversize payloads, wrong
 * versions, malformed fields, states signed by the wrong key, messages for unknown
 * objectives, and conflicting proposals are acknowledged, reported as `messageRejected` and
 * dropped, while the honest objectives go on.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type Hex, type State, getChannelId, signState, protocols as P, addressToDestination, type Bytes32 } from '../../src/index.ts';
import { stringifyJson } from '../../src/json.ts';
import { decodeWireMessage, encodeWireMessage, MAX_WIRE_BYTES } from '../../src/engine/index.ts';
import { ADDR, CONSENSUS_APP, ETH, KEYS, VIRTUAL_PAYMENT_APP, openLedgers, until, world } from './harness.ts';

const enc = new TextEncoder();

function prefund(participants: string[], amounts: bigint[], app: string, nonce = 99n): State {
  return {
    participants: participants as unknown as State["participants"],
    channelNonce: nonce,
    appDefinition: app as State['appDefinition'],
    challengeDuration: 3600,
    appData: '0x' as Hex,
    outcome: [
      {
        asset: ETH,
        assetMetadata: { assetType: 0, metadata: '0x' as Hex },
        allocations: amounts.map((amount, i) => ({
          destination: addressToDestination(participants[i === amounts.length - 1 ? participants.length - 1 : i] as never) as Bytes32,
          amount,
          allocationType: 0 as const,
          metadata: '0x' as Hex,
        })),
      },
    ],
    turnNum: 0,
    isFinal: false,
  };
}

test('decodeWireMessage refuses hostile payloads with PROTOCOL_MALFORMED or a signature code', () => {
  const good = prefund([ADDR.alice, ADDR.irene], [10n, 0n], CONSENSUS_APP);
  const sig = signState(good, KEYS.alice);
  const ok = encodeWireMessage({ kind: 'signedState', objectiveId: P.directFundId(getChannelId(good)), state: good, signatures: [sig] });
  assert.equal(decodeWireMessage(ok).kind, 'signedState');
  const raw = (x: unknown): Uint8Array => enc.encode(typeof x === 'string' ? x : stringifyJson(x));
  const base = { kind: 'signedState', objectiveId: P.directFundId(getChannelId(good)), state: good, signatures: [sig] };
  const hostile: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['not utf-8', new Uint8Array([0xff, 0xfe, 0xfd])],
    ['not json', raw('{{{')],
    ['null', raw('null')],
    ['array', raw('[1,2]')],
    ['oversize', new Uint8Array(MAX_WIRE_BYTES + 1)],
    ['wrong version', raw({ v: 2, m: base })],
    ['no message', raw({ v: 1 })],
    ['unknown kind', raw({ v: 1, m: { ...base, kind: 'boom' } })],
    ['bad objective id', raw({ v: 1, m: { ...base, objectiveId: 'DirectFunding-0x12' } })],
    ['objective id injection', raw({ v: 1, m: { ...base, objectiveId: '__proto__' } })],
    ['no signatures', raw({ v: 1, m: { ...base, signatures: [] } })],
    ['too many signatures', raw({ v: 1, m: { ...base, signatures: Array(9).fill(sig) } })],
    ['signature as hex string', raw({ v: 1, m: { ...base, signatures: ['0x' + '11'.repeat(65)] } })],
    ['short signature', raw({ v: 1, m: { ...base, signatures: [sig.slice(0, 64)] } })],
    ['turnNum negative', raw({ v: 1, m: { ...base, state: { ...good, turnNum: -1 } } })],
    ['turnNum float', raw({ v: 1, m: { ...base, state: { ...good, turnNum: 1.5 } } })],
    ['nonce as number', raw({ v: 1, m: { ...base, state: { ...good, channelNonce: 5 } } })],
    ['amount negative', raw({ v: 1, m: { ...base, state: { ...good, outcome: [{ ...good.outcome[0], allocations: [{ ...good.outcome[0]!.allocations[0], amount: -1n }] }] } } })],
    ['amount too big', raw({ v: 1, m: { ...base, state: { ...good, outcome: [{ ...good.outcome[0], allocations: [{ ...good.outcome[0]!.allocations[0], amount: 1n << 256n }] }] } } })],
    ['one participant', raw({ v: 1, m: { ...base, state: { ...good, participants: [ADDR.alice] } } })],
    ['bad address', raw({ v: 1, m: { ...base, state: { ...good, participants: [ADDR.alice, '0x1234'] } } })],
    ['isFinal string', raw({ v: 1, m: { ...base, state: { ...good, isFinal: 'no' } } })],
    ['appData odd hex', raw({ v: 1, m: { ...base, state: { ...good, appData: '0x123' } } })],
    ['proposal unknown type', raw({ v: 1, m: { kind: 'ledgerProposal', objectiveId: base.objectiveId, signedProposal: { ledgerId: getChannelId(good), turnNum: 2, proposal: { type: 'steal' }, signature: sig } } })],
    ['countersignature missing', raw({ v: 1, m: { kind: 'ledgerCountersignature', objectiveId: base.objectiveId } })],
  ];
  for (const [name, bytes] of hostile) {
    assert.throws(
      () => decodeWireMessage(bytes),
      (e: unknown) => e instanceof Error && 'code' in e && /^(PROTOCOL_MALFORMED|SIGNATURE_)/.test(String((e as { code: unknown }).code)),
      name,
    );
  }
});

test('bad peer messages are dropped without crashing, honest objectives complete', async () => {
  const w = await world({ minDelayMs: 0, maxDelayMs: 5, seed: 3 });
  try {
    const { alice, irene, bob } = w.nodes;
    const mallory = w.net.service(ADDR.mallory);
    mallory.onMessage(() => {}); // Mallory hears the rejections of her requests
    await mallory.start();
    const send = (to: string, bytes: Uint8Array): Promise<string> => mallory.send(to as never, bytes);

    // garbage and malformed
    await send(ADDR.irene, enc.encode('garbage'));
    await send(ADDR.irene, new Uint8Array(MAX_WIRE_BYTES + 10));
    // a ledger prefund with Irene "signed" by Bob's key but claiming to come from Alice (wrong signer)
    const forged = prefund([ADDR.alice, ADDR.irene], [10n, 0n], CONSENSUS_APP, 1234n);
    await send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: P.directFundId(getChannelId(forged)), state: forged, signatures: [signState(forged, KEYS.mallory)] }));
    // a ledger asking Irene for a deposit beyond her policy... signed properly by Mallory
    const greedy = prefund([ADDR.mallory, ADDR.irene], [0n, 10n ** 30n], CONSENSUS_APP, 5n);
    await send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: P.directFundId(getChannelId(greedy)), state: greedy, signatures: [signState(greedy, KEYS.mallory)] }));
    // a ledger with the wrong app
    const wrongApp = prefund([ADDR.mallory, ADDR.bob], [1n, 0n], VIRTUAL_PAYMENT_APP, 6n);
    await send(ADDR.bob, encodeWireMessage({ kind: 'signedState', objectiveId: P.directFundId(getChannelId(wrongApp)), state: wrongApp, signatures: [signState(wrongApp, KEYS.mallory)] }));
    // unknown objectives
    const unknownId = `VirtualDefund-0x${'ab'.repeat(32)}`;
    await send(ADDR.bob, encodeWireMessage({ kind: 'signedState', objectiveId: unknownId, state: forged, signatures: [signState(forged, KEYS.mallory)] }));
    await send(ADDR.alice, encodeWireMessage({ kind: 'ledgerCountersignature', objectiveId: `DirectDefunding-0x${'cd'.repeat(32)}`, countersignature: { ledgerId: `0x${'cd'.repeat(32)}` as Bytes32, turnNum: 3, signature: signState(forged, KEYS.mallory) } }));

    // the honest flow goes on
    const { ai, ib } = await openLedgers(w, 500n, 500n);
    const { channelId: v } = await alice.createVirtualChannel({ payee: ADDR.bob, amount: 100n });
    await until(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded at bob');

    // Mallory, knowing V's id, injects a final state paying Bob everything, signed by herself
    const vState = alice.engine.objective(P.virtualFundId(v))!.objective as P.VirtualFundObjective;
    const fp = vState.v.fixedPart;
    const fake: State = { ...fp, appData: '0x' as Hex, turnNum: 2, isFinal: true, outcome: [{ ...vState.v.states[0]!.state.outcome[0]!, allocations: vState.v.states[0]!.state.outcome[0]!.allocations.map((a, i) => ({ ...a, amount: i === 0 ? 0n : 100n })) }] };
    await send(ADDR.alice, encodeWireMessage({ kind: 'signedState', objectiveId: P.virtualDefundId(v), state: fake, signatures: [signState(fake, KEYS.mallory)] }));
    await send(ADDR.irene, encodeWireMessage({ kind: 'signedState', objectiveId: P.virtualDefundId(v), state: fake, signatures: [signState(fake, KEYS.mallory)] }));
    // and a conflicting ledger proposal on L_IB for V, signed by herself
    await send(ADDR.irene, encodeWireMessage({
      kind: 'ledgerProposal',
      objectiveId: P.virtualFundId(v),
      signedProposal: { ledgerId: ib, turnNum: 99, proposal: { type: 'remove', target: v, leftAmount: 0n }, signature: signState(fake, KEYS.mallory) },
    }));
    await w.net.idle(5_000).catch(() => {});
    assert.equal(alice.getVirtualChannel(v)?.status, 'funded', 'the fake final state did not close V');

    alice.pay(v, 30n);
    bob.receiveVoucher(alice.pay(v, 0n + 10n));
    const { paid } = await alice.closeVirtualChannel(v);
    assert.equal(paid, 40n);
    await until(() => irene.getLedgerChannel(ib)?.locked === 0n && bob.getLedgerChannel(ib)?.myBalance === 40n, 'paid through the hub');
    assert.equal(irene.getLedgerChannel(ai)?.myBalance, 40n);

    const rejected = [...w.events.alice, ...w.events.irene, ...w.events.bob].filter((e) => e.type === 'messageRejected');
    const codes = new Set(rejected.map((e) => (e.type === 'messageRejected' ? e.code : '')));
    assert.ok(rejected.length >= 8, `rejections reported (${rejected.length})`);
    for (const c of ['PROTOCOL_MALFORMED', 'HUB_POLICY_REJECTED']) assert.ok(codes.has(c), `has ${c}: ${[...codes].join(',')}`);
    assert.ok([...codes].some((c) => c === 'PROTOCOL_WRONG_SIGNER' || c === 'PROTOCOL_UNACCEPTABLE_STATE'), [...codes].join(','));
    assert.equal(irene.getLedgerChannels().length, 2, 'no ledger from the forged or greedy requests');
  } finally {
    await w.stop();
  }
});
