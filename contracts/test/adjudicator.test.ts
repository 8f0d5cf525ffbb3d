import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Contract } from 'ethers';
import { startFixture, TestChannel, eventsOf, type Fixture } from './lib/fixture.ts';
import {
  ETH,
  challengerSig,
  encodeOutcome,
  exit,
  guarantee,
  hashOutcome,
  increaseTime,
  latestTimestamp,
  packStatus,
  simple,
  type Outcome,
} from './lib/nitro.ts';

const ZERO32 = '0x' + '00'.repeat(32);
let f: Fixture;
let adj: Contract;

before(async () => {
  f = await startFixture();
  adj = f.adjudicator;
});
after(async () => {
  await f?.stop();
});

function ledger(duration = 100): TestChannel {
  return new TestChannel([f.alice, f.bob], f.addresses.consensusApp, duration);
}
const as = (c: Contract, w: Fixture['alice']): Contract => c.connect(w.wallet) as Contract;
async function ethBalance(a: string): Promise<bigint> {
  return f.chain.provider.getBalance(a);
}
async function tokenBalance(a: string): Promise<bigint> {
  return (await f.token.getFunction('balanceOf')(a)) as bigint;
}
async function held(asset: string, id: string): Promise<bigint> {
  return (await adj.getFunction('holdings')(asset, id)) as bigint;
}
async function deposit(asset: string, id: string, amount: bigint, by = f.alice): Promise<void> {
  const h = await held(asset, id);
  await (await as(adj, by).getFunction('deposit')(asset, id, h, amount, { value: asset === ETH ? amount : 0n })).wait();
}
/** Challenges with a unanimously signed ConsensusApp state and returns its hash. */
async function challengeWith(c: TestChannel, outcome: Outcome, turnNum: number): Promise<string> {
  const vp = c.state(outcome, turnNum);
  await (await adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp), challengerSig(c.fixedPart, vp, f.alice.key))).wait();
  return c.hash(vp);
}

describe('deposit', () => {
  test('ETH: first and second deposit update holdings and emit Deposited', async () => {
    const c = ledger();
    let ev = await eventsOf(adj, as(adj, f.alice).getFunction('deposit')(ETH, c.id, 0n, 5n, { value: 5n }));
    assert.deepEqual(ev.map((e) => [e.name, ...e.args]), [['Deposited', c.id, ETH, 5n]]);
    ev = await eventsOf(adj, as(adj, f.bob).getFunction('deposit')(ETH, c.id, 5n, 7n, { value: 7n }));
    assert.deepEqual(ev.map((e) => [e.name, ...e.args]), [['Deposited', c.id, ETH, 12n]]);
    assert.equal(await held(ETH, c.id), 12n);
  });
  test('ERC20: pulls tokens with transferFrom', async () => {
    const c = ledger();
    const before = await tokenBalance(f.alice.address);
    await deposit(f.addresses.token, c.id, 50n);
    assert.equal(await held(f.addresses.token, c.id), 50n);
    assert.equal(await tokenBalance(f.alice.address), before - 50n);
  });
  test('rejects a wrong expectedHeld', async () => {
    const c = ledger();
    await deposit(ETH, c.id, 5n);
    await assert.rejects(as(adj, f.bob).getFunction('deposit')(ETH, c.id, 0n, 5n, { value: 5n }), /held != expectedHeld/);
    await assert.rejects(as(adj, f.bob).getFunction('deposit')(ETH, c.id, 6n, 5n, { value: 5n }), /held != expectedHeld/);
  });
  test('rejects wrong msg.value, ETH sent with an ERC20 deposit, and external destinations', async () => {
    const c = ledger();
    await assert.rejects(as(adj, f.alice).getFunction('deposit')(ETH, c.id, 0n, 5n, { value: 4n }), /Incorrect msg.value/);
    await assert.rejects(as(adj, f.alice).getFunction('deposit')(f.addresses.token, c.id, 0n, 5n, { value: 1n }), /Incorrect msg.value/);
    await assert.rejects(as(adj, f.alice).getFunction('deposit')(ETH, f.bob.dest, 0n, 5n, { value: 5n }), /Deposit to external destination/);
  });
  test('rejects an ERC20 deposit without allowance or balance', async () => {
    const c = ledger();
    const poor = f.chain.wallets[5];
    assert.ok(poor);
    await assert.rejects((adj.connect(poor) as Contract).getFunction('deposit')(f.addresses.token, c.id, 0n, 5n), /token transfer failed/);
  });
});

describe('challenge / checkpoint', () => {
  test('challenge registers status, emits ChallengeRegistered; checkpoint clears it', async () => {
    const c = ledger(100);
    const outcome = [exit(ETH, [simple(f.alice.dest, 5n), simple(f.bob.dest, 5n)])];
    const vp = c.state(outcome, 3);
    const ev = await eventsOf(adj, adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp), challengerSig(c.fixedPart, vp, f.bob.key)));
    const now = BigInt(await latestTimestamp(f.chain.provider));
    assert.equal(ev.length, 1);
    assert.equal(ev[0]?.name, 'ChallengeRegistered');
    assert.equal(ev[0]?.args[1], now + 100n);
    // the event carries the candidate (and proof) so the other side can respond
    const cand = ev[0]?.args[3] as unknown as [[unknown, string, bigint, boolean], unknown[]];
    assert.equal(cand[0][2], 3n);
    assert.equal(cand[1].length, 2);
    assert.equal((ev[0]?.args[2] as unknown[]).length, 0);
    assert.equal(await adj.getFunction('statusOf')(c.id), packStatus(3n, now + 100n, c.hash(vp), hashOutcome(outcome)));
    const [turn, fin] = (await adj.getFunction('unpackStatus')(c.id)) as bigint[];
    assert.deepEqual([turn, fin], [3n, now + 100n]);

    // a stale or equal turn cannot replace a challenge
    const same = c.state(outcome, 3);
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(same), challengerSig(c.fixedPart, same, f.alice.key)), /turnNumRecord not increased/);
    await assert.rejects(adj.getFunction('checkpoint')(c.fixedPart, [], c.sign(c.state(outcome, 2))), /turnNumRecord not increased/);

    const vp4 = c.state(outcome, 4);
    const cl = await eventsOf(adj, adj.getFunction('checkpoint')(c.fixedPart, [], c.sign(vp4)));
    assert.deepEqual(cl.map((e) => [e.name, ...e.args]), [['ChallengeCleared', c.id, 4n]]);
    assert.equal(await adj.getFunction('statusOf')(c.id), packStatus(4n, 0n, ZERO32, ZERO32));

    // open again: checkpoint emits Checkpointed; challenge with a lower turn is refused, equal is allowed
    const cp = await eventsOf(adj, adj.getFunction('checkpoint')(c.fixedPart, [], c.sign(c.state(outcome, 6))));
    assert.deepEqual(cp.map((e) => [e.name, ...e.args]), [['Checkpointed', c.id, 6n]]);
    const vp5 = c.state(outcome, 5);
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp5), challengerSig(c.fixedPart, vp5, f.alice.key)), /turnNumRecord decreased/);
    await challengeWith(c, outcome, 6);
  });

  test('a higher-turn challenge replaces a running challenge', async () => {
    const c = ledger(100);
    const outcome = [exit(ETH, [simple(f.alice.dest, 1n)])];
    await challengeWith(c, outcome, 1);
    const h = await challengeWith(c, outcome, 2);
    const now = BigInt(await latestTimestamp(f.chain.provider));
    assert.equal(await adj.getFunction('statusOf')(c.id), packStatus(2n, now + 100n, h, hashOutcome(outcome)));
  });

  test('under-signed, wrongly signed and malformed signatures are refused', async () => {
    const c = ledger();
    const outcome = [exit(ETH, [simple(f.alice.dest, 1n)])];
    const vp = c.state(outcome, 1);
    const csig = challengerSig(c.fixedPart, vp, f.alice.key);
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp, [0]), csig), /!unanimous/);
    const byIrene = { variablePart: vp, sigs: [...c.sign(vp, [0]).sigs, ...new TestChannel([f.irene], f.addresses.consensusApp, 1).sign(vp).sigs] };
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], byIrene, csig), /!unanimous/);
    const badV = c.sign(vp);
    const s0 = badV.sigs[0];
    assert.ok(s0);
    s0.v = 29;
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], badV, csig), /Invalid signature/);
    // a proof is not allowed by the ConsensusApp
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [c.sign(vp)], c.sign(vp), csig), /\|proof\|!=0/);
    // the challenger must be a participant, signing the forceMove message for this state
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp), challengerSig(c.fixedPart, vp, f.irene.key)), /Challenger is not a participant/);
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp), c.sign(vp).sigs[0]), /Challenger is not a participant/);
  });

  test('an appDefinition without code cannot support anything', async () => {
    const c = new TestChannel([f.alice, f.bob], '0x000000000000000000000000000000000000dEaD', 10);
    const vp = c.state([], 1);
    await assert.rejects(adj.getFunction('stateIsSupported')(c.fixedPart, [], c.sign(vp)));
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp), challengerSig(c.fixedPart, vp, f.alice.key)));
  });

  test('after the timeout the channel is finalized: no challenge, checkpoint or conclude', async () => {
    const c = ledger(50);
    const outcome = [exit(ETH, [simple(f.alice.dest, 1n)])];
    await challengeWith(c, outcome, 1);
    await increaseTime(f.chain.provider, 51);
    const vp = c.state(outcome, 2);
    await assert.rejects(adj.getFunction('challenge')(c.fixedPart, [], c.sign(vp), challengerSig(c.fixedPart, vp, f.alice.key)), /Channel finalized/);
    await assert.rejects(adj.getFunction('checkpoint')(c.fixedPart, [], c.sign(vp)), /Channel finalized/);
    await assert.rejects(adj.getFunction('conclude')(c.fixedPart, c.sign(c.state(outcome, 3, true))), /Channel finalized/);
  });
});

describe('conclude', () => {
  test('needs a final state signed by everyone', async () => {
    const c = ledger();
    const outcome = [exit(ETH, [simple(f.alice.dest, 1n)])];
    await assert.rejects(adj.getFunction('conclude')(c.fixedPart, c.sign(c.state(outcome, 5, false))), /State must be final/);
    await assert.rejects(adj.getFunction('conclude')(c.fixedPart, c.sign(c.state(outcome, 5, true), [1])), /!unanimous/);
    const ev = await eventsOf(adj, adj.getFunction('conclude')(c.fixedPart, c.sign(c.state(outcome, 5, true))));
    const now = BigInt(await latestTimestamp(f.chain.provider));
    assert.deepEqual(ev.map((e) => [e.name, ...e.args]), [['Concluded', c.id, now]]);
    assert.equal(await adj.getFunction('statusOf')(c.id), packStatus(0n, now, ZERO32, hashOutcome(outcome)));
    await assert.rejects(adj.getFunction('conclude')(c.fixedPart, c.sign(c.state(outcome, 6, true))), /Channel finalized/);
  });

  test('concludes during a challenge', async () => {
    const c = ledger();
    const outcome = [exit(ETH, [simple(f.alice.dest, 1n)])];
    await challengeWith(c, outcome, 1);
    await (await adj.getFunction('conclude')(c.fixedPart, c.sign(c.state(outcome, 2, true)))).wait();
  });

  test('concludeAndTransferAllAssets pays ETH and ERC20, clears the status', async () => {
    const c = ledger();
    await deposit(ETH, c.id, 10n);
    await deposit(f.addresses.token, c.id, 30n, f.bob);
    const outcome = [
      exit(ETH, [simple(f.alice.dest, 4n), simple(f.bob.dest, 6n)]),
      exit(f.addresses.token, [simple(f.alice.dest, 10n), simple(f.bob.dest, 20n)]),
    ];
    const [ea, eb, ta, tb] = [await ethBalance(f.alice.address), await ethBalance(f.bob.address), await tokenBalance(f.alice.address), await tokenBalance(f.bob.address)];
    const ev = await eventsOf(adj, as(adj, f.irene).getFunction('concludeAndTransferAllAssets')(c.fixedPart, c.sign(c.state(outcome, 9, true))));
    assert.deepEqual(ev.map((e) => e.name), ['Concluded', 'AllocationUpdated', 'AllocationUpdated']);
    assert.deepEqual(ev[1]?.args, [c.id, 0n, 10n, 0n]);
    assert.deepEqual(ev[2]?.args, [c.id, 1n, 30n, 0n]);
    assert.equal(await ethBalance(f.alice.address), ea + 4n);
    assert.equal(await ethBalance(f.bob.address), eb + 6n);
    assert.equal(await tokenBalance(f.alice.address), ta + 10n);
    assert.equal(await tokenBalance(f.bob.address), tb + 20n);
    assert.equal(await held(ETH, c.id), 0n);
    assert.equal(await adj.getFunction('statusOf')(c.id), ZERO32);
  });

  test('underfunded: pays in priority order and keeps the rest claimable', async () => {
    const c = ledger();
    await deposit(ETH, c.id, 7n);
    const outcome = [exit(ETH, [simple(f.alice.dest, 5n), simple(f.bob.dest, 5n)])];
    const [ea, eb] = [await ethBalance(f.alice.address), await ethBalance(f.bob.address)];
    await (await as(adj, f.irene).getFunction('concludeAndTransferAllAssets')(c.fixedPart, c.sign(c.state(outcome, 1, true)))).wait();
    assert.equal(await ethBalance(f.alice.address), ea + 5n);
    assert.equal(await ethBalance(f.bob.address), eb + 2n);
    const rest = [exit(ETH, [simple(f.alice.dest, 0n), simple(f.bob.dest, 3n)])];
    const now = BigInt(await latestTimestamp(f.chain.provider));
    assert.equal(await adj.getFunction('statusOf')(c.id), packStatus(0n, now, ZERO32, hashOutcome(rest)));
    // topping up later lets Bob take the remainder
    await deposit(ETH, c.id, 3n);
    await (await as(adj, f.irene).getFunction('transferAllAssets')(c.id, rest, ZERO32)).wait();
    assert.equal(await ethBalance(f.bob.address), eb + 5n);
    assert.equal(await adj.getFunction('statusOf')(c.id), ZERO32);
  });
});

describe('transferAllAssets / transfer', () => {
  test('transferAllAssets after a challenge times out; refuses before, and with a wrong outcome', async () => {
    const c = ledger(30);
    await deposit(ETH, c.id, 10n);
    const outcome = [exit(ETH, [simple(f.alice.dest, 3n), simple(f.bob.dest, 7n)])];
    const h = await challengeWith(c, outcome, 4);
    await assert.rejects(adj.getFunction('transferAllAssets')(c.id, outcome, h), /Channel not finalized/);
    await increaseTime(f.chain.provider, 31);
    const wrong = [exit(ETH, [simple(f.alice.dest, 0n), simple(f.bob.dest, 10n)])];
    await assert.rejects(adj.getFunction('transferAllAssets')(c.id, wrong, h), /incorrect fingerprint/);
    await assert.rejects(adj.getFunction('transferAllAssets')(c.id, outcome, ZERO32), /incorrect fingerprint/);
    const eb = await ethBalance(f.bob.address);
    await (await as(adj, f.irene).getFunction('transferAllAssets')(c.id, outcome, h)).wait();
    assert.equal(await ethBalance(f.bob.address), eb + 7n);
    assert.equal(await held(ETH, c.id), 0n);
  });

  test('transferAllAssets refuses an outcome containing a guarantee', async () => {
    const c = ledger(10);
    await deposit(ETH, c.id, 10n);
    const outcome = [exit(ETH, [simple(f.alice.dest, 5n), guarantee(ledger().id, 5n, f.alice.dest, f.bob.dest)])];
    const h = await challengeWith(c, outcome, 1);
    await increaseTime(f.chain.provider, 11);
    await assert.rejects(adj.getFunction('transferAllAssets')(c.id, outcome, h), /cannot transfer a guarantee/);
  });

  test('transfer pays selected indices, respecting priority, and credits channel destinations', async () => {
    const c = ledger(10);
    const other = ledger();
    await deposit(ETH, c.id, 8n);
    const outcome = [exit(ETH, [simple(f.alice.dest, 5n), simple(f.bob.dest, 5n), simple(other.id, 2n)])];
    const h = await challengeWith(c, outcome, 1);
    await increaseTime(f.chain.provider, 11);
    const bytes = encodeOutcome(outcome);
    await assert.rejects(adj.getFunction('transfer')(0, c.id, bytes, h, [1n, 0n]), /Indices must be sorted/);
    await assert.rejects(adj.getFunction('transfer')(0, c.id, bytes, h, [1n, 1n]), /Indices must be sorted/);
    await assert.rejects(adj.getFunction('transfer')(0, c.id, bytes, h, [7n]), /Index out of range/);
    await assert.rejects(adj.getFunction('transfer')(0, c.id, encodeOutcome([exit(ETH, [simple(f.bob.dest, 8n)])]), h, [0n]), /incorrect fingerprint/);

    // Bob (index 1) gets only what Alice's priority leaves: 8 - 5 = 3
    const eb = await ethBalance(f.bob.address);
    const ev = await eventsOf(adj, as(adj, f.irene).getFunction('transfer')(0, c.id, bytes, h, [1n]));
    assert.deepEqual(ev.map((e) => [e.name, ...e.args]), [['AllocationUpdated', c.id, 0n, 8n, 5n]]);
    assert.equal(await ethBalance(f.bob.address), eb + 3n);
    const after1 = [exit(ETH, [simple(f.alice.dest, 5n), simple(f.bob.dest, 2n), simple(other.id, 2n)])];
    const [, , fp] = (await adj.getFunction('unpackStatus')(c.id)) as bigint[];
    const expectStatus = BigInt(packStatus(0n, 0n, h, hashOutcome(after1)));
    assert.equal(fp, expectStatus);

    // top up, then pay Alice and the other channel in one go
    await deposit(ETH, c.id, 4n);
    const ea = await ethBalance(f.alice.address);
    await (await as(adj, f.irene).getFunction('transfer')(0, c.id, encodeOutcome(after1), h, [0n, 2n])).wait();
    assert.equal(await ethBalance(f.alice.address), ea + 5n);
    assert.equal(await held(ETH, other.id), 2n);
    assert.equal(await held(ETH, c.id), 2n);
  });

  test('transfer refuses to pay out a guarantee', async () => {
    const c = ledger(10);
    await deposit(ETH, c.id, 10n);
    const outcome = [exit(ETH, [simple(f.alice.dest, 5n), guarantee(ledger().id, 5n, f.alice.dest, f.bob.dest)])];
    const h = await challengeWith(c, outcome, 1);
    await increaseTime(f.chain.provider, 11);
    await assert.rejects(adj.getFunction('transfer')(0, c.id, encodeOutcome(outcome), h, [1n]), /cannot transfer a guarantee/);
    // the simple allocation alone can still be paid
    await (await adj.getFunction('transfer')(0, c.id, encodeOutcome(outcome), h, [0n])).wait();
    assert.equal(await held(ETH, c.id), 5n);
  });
});
