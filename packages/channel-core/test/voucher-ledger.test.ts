import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  PayeeLedger,
  PayerLedger,
  SluiceError,
  isSluiceError,
  signVoucher,
  type Address,
  type ChannelId,
  type Voucher,
} from '../src/index.ts';
import { raw } from './vectors.ts';

const alice = raw.actors.alice;
const bob = raw.actors.bob;
const irene = raw.actors.irene;
const V = raw.channelIds['virtualAIB'] as ChannelId;
const OTHER = raw.channelIds['ledgerAI'] as ChannelId;

function setup(balance = 1000n) {
  const payer = new PayerLedger(alice.privateKey);
  payer.register({ channelId: V, payer: alice.address as Address, payee: bob.address as Address, balance });
  const payee = new PayeeLedger(bob.address as Address);
  payee.register({ channelId: V, payer: alice.address as Address, payee: bob.address as Address, balance });
  payee.markFunded(V);
  return { payer, payee };
}

test('payer: cumulative vouchers, refuses to exceed the balance, paid + remaining == balance', () => {
  const { payer } = setup(100n);
  assert.equal(payer.pay(V, 30n).amount, 30n);
  assert.equal(payer.pay(V, 70n).amount, 100n);
  assert.throws(() => payer.pay(V, 1n), (e) => isSluiceError(e, 'INSUFFICIENT_BALANCE'));
  assert.equal(payer.paid(V), 100n);
  assert.equal(payer.remaining(V), 0n);
  assert.throws(() => payer.pay(V, 0n), (e) => isSluiceError(e, 'INVALID_ARGUMENT'));
  assert.throws(() => payer.pay(OTHER, 1n), (e) => isSluiceError(e, 'CHANNEL_UNKNOWN'));
});

test('payer: only registers channels it pays on', () => {
  const payer = new PayerLedger(alice.privateKey);
  assert.throws(
    () => payer.register({ channelId: V, payer: bob.address as Address, payee: alice.address as Address, balance: 1n }),
    (e) => isSluiceError(e, 'INVALID_ARGUMENT'),
  );
});

test('payee: accepts increasing vouchers, reports duplicates and stale ones as no-ops', () => {
  const { payer, payee } = setup();
  const v1 = payer.pay(V, 10n);
  const v2 = payer.pay(V, 10n);
  assert.deepEqual(payee.receive(v1, { price: 10n }), { kind: 'accepted', voucher: v1, increase: 10n, total: 10n });
  assert.equal(payee.receive(v2, { price: 10n }).kind, 'accepted');
  assert.deepEqual(payee.receive(v2, { price: 10n }), { kind: 'duplicate', total: 20n });
  assert.deepEqual(payee.receive(v1, { price: 10n }), { kind: 'stale', total: 20n });
  assert.equal(payee.total(V), 20n);
  assert.equal(payee.best(V), v2);
});

function rejected(r: ReturnType<PayeeLedger['receive']>): string {
  assert.equal(r.kind, 'rejected');
  return r.kind === 'rejected' ? r.error.code : '';
}

test('payee: every refusal has its code and records nothing', () => {
  const { payer, payee } = setup(100n);
  const good = payer.pay(V, 10n);
  // unknown channel
  assert.equal(rejected(payee.receive(signVoucher(OTHER, 10n, alice.privateKey))), 'CHANNEL_UNKNOWN');
  // wrong signer
  assert.equal(rejected(payee.receive(signVoucher(V, 10n, irene.privateKey))), 'VOUCHER_BAD_SIGNATURE');
  // tampered amount
  assert.equal(rejected(payee.receive({ ...good, amount: 11n })), 'VOUCHER_BAD_SIGNATURE');
  // flipped v: a signature that would not ecrecover to the payer on-chain
  const flipped = Uint8Array.from(good.signature);
  flipped[64] = flipped[64] === 27 ? 28 : 27;
  assert.equal(rejected(payee.receive({ ...good, signature: flipped as Voucher['signature'] })), 'VOUCHER_BAD_SIGNATURE');
  // above the balance, even if signed
  assert.equal(rejected(payee.receive(signVoucher(V, 101n, alice.privateKey))), 'VOUCHER_EXCEEDS_BALANCE');
  // underpayment is reported and never recorded
  assert.equal(rejected(payee.receive(good, { price: 11n })), 'VOUCHER_UNDERPAYMENT');
  assert.equal(payee.total(V), 0n);
  assert.equal(payee.receive(good, { price: 10n }).kind, 'accepted');
  // closing channel
  assert.ok(payee.has(V));
  assert.ok(!payee.has(('0x' + '11'.repeat(32)) as typeof V));
  payee.markClosing(V);
  assert.equal(rejected(payee.receive(payer.pay(V, 10n))), 'CHANNEL_CLOSING');
  assert.equal(payee.total(V), 10n);
  payee.remove(V);
  assert.ok(!payee.has(V));
});

test('payee: not before funding, and not for channels paying someone else', () => {
  const payee = new PayeeLedger(bob.address as Address);
  payee.register({ channelId: V, payer: alice.address as Address, payee: bob.address as Address, balance: 10n });
  assert.equal(rejected(payee.receive(signVoucher(V, 1n, alice.privateKey))), 'CHANNEL_NOT_FUNDED');
  const irenesLedger = new PayeeLedger(irene.address as Address);
  irenesLedger.register({ channelId: V, payer: alice.address as Address, payee: bob.address as Address, balance: 10n }, { status: 'funded' });
  assert.equal(rejected(irenesLedger.receive(signVoucher(V, 1n, alice.privateKey))), 'VOUCHER_WRONG_PAYEE');
});

test('payee: restores the best voucher after a restart, refusing a forged one', () => {
  const { payer } = setup();
  const v = payer.pay(V, 50n);
  const channel = { channelId: V, payer: alice.address as Address, payee: bob.address as Address, balance: 1000n };
  const restored = new PayeeLedger(bob.address as Address);
  restored.register(channel, { status: 'funded', best: v });
  assert.equal(restored.total(V), 50n);
  assert.equal(restored.receive(v).kind, 'duplicate');
  const forged = new PayeeLedger(bob.address as Address);
  assert.throws(() => forged.register(channel, { best: { ...v, amount: 60n } }), (e) => e instanceof SluiceError);
});

test('property: any sequence of payments keeps payer and payee in agreement; replays never count twice', () => {
  fc.assert(
    fc.property(
      fc.array(fc.bigInt({ min: 1n, max: 50n }), { minLength: 1, maxLength: 12 }),
      fc.array(fc.nat(), { maxLength: 12 }),
      (increases, replays) => {
        const balance = 300n;
        const { payer, payee } = setup(balance);
        const sent: Voucher[] = [];
        for (const inc of increases) {
          if (payer.remaining(V) < inc) {
            assert.throws(() => payer.pay(V, inc), (e) => isSluiceError(e, 'INSUFFICIENT_BALANCE'));
            continue;
          }
          const v = payer.pay(V, inc);
          sent.push(v);
          assert.equal(payee.receive(v, { price: inc }).kind, 'accepted');
          // replay any earlier voucher: a no-op
          for (const r of replays) {
            const old = sent[r % sent.length]!;
            const res = payee.receive(old);
            assert.ok(res.kind === 'duplicate' || res.kind === 'stale');
          }
          assert.equal(payee.total(V), payer.paid(V));
          assert.equal(payer.paid(V) + payer.remaining(V), balance);
        }
      },
    ),
    { numRuns: 25 },
  );
});
