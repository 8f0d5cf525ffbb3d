/**
 * Property test: the adjudicator's payout rule (compute_transfer_effects_and_interactions)
 * equals a small TypeScript model — allocations are served in order, each taking
 * min(amount, what is left), only selected ones are paid, guarantees are never paid.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { startFixture, type Fixture } from './lib/fixture.ts';
import { createRequire } from 'node:module';
import type { Contract, InterfaceAbi } from 'ethers';
import { ALLOCATION, deployRaw, guaranteeMetadata, type Allocation } from './lib/nitro.ts';

let f: Fixture;
let reference: Contract;
before(async () => {
  f = await startFixture();
  const ref = createRequire(import.meta.url)('@statechannels/nitro-protocol/dist/artifacts/contracts/NitroAdjudicator.sol/NitroAdjudicator.json') as { abi: InterfaceAbi; bytecode: string };
  reference = (await deployRaw(ref.abi, ref.bytecode, f.deployer)).contract;
});
after(async () => {
  await f?.stop();
});

type ModelResult = { newAmounts: bigint[]; exits: bigint[]; total: bigint; onlyZeros: boolean } | 'revert';

function model(holdings: bigint, allocations: Allocation[], indices: bigint[]): ModelResult {
  const all = indices.length === 0;
  let surplus = holdings;
  let k = 0;
  let total = 0n;
  const newAmounts: bigint[] = [];
  const exits: bigint[] = [];
  for (let i = 0; i < allocations.length; i++) {
    const a = allocations[i];
    if (!a) throw new Error('unreachable');
    const affords = a.amount < surplus ? a.amount : surplus;
    let remaining = a.amount;
    if (all || (k < indices.length && indices[k] === BigInt(i))) {
      if (a.allocationType === ALLOCATION.guarantee) return 'revert';
      remaining -= affords;
      exits.push(affords);
      total += affords;
      k++;
    }
    newAmounts.push(remaining);
    surplus -= affords;
  }
  if (k !== (all ? allocations.length : indices.length)) return 'revert';
  return { newAmounts, exits, total, onlyZeros: newAmounts.every((x) => x === 0n) };
}

const allocationArb = fc.record({
  destination: fc.constantFrom('0x' + '00'.repeat(12) + '11'.repeat(20), '0x' + 'ab'.repeat(32)),
  amount: fc.bigInt({ min: 0n, max: 20n }),
  allocationType: fc.constantFrom(0, 0, 0, 2),
  metadata: fc.constant('0x'),
});

test('compute_transfer_effects_and_interactions matches the model', async () => {
  const fn = f.adjudicator.getFunction('compute_transfer_effects_and_interactions');
  await fc.assert(
    fc.asyncProperty(
      fc.bigInt({ min: 0n, max: 60n }),
      fc.array(allocationArb, { maxLength: 5 }),
      fc.uniqueArray(fc.bigInt({ min: 0n, max: 5n }), { maxLength: 3 }).map((xs) => [...xs].sort((a, b) => (a < b ? -1 : 1))),
      async (holdings, allocations, indices) => {
        const expected = model(holdings, allocations, indices);
        if (expected === 'revert') {
          await assert.rejects(fn(holdings, allocations, indices));
          return;
        }
        const [newAllocations, onlyZeros, exitAllocations, total] = (await fn(holdings, allocations, indices)) as [unknown[][], boolean, unknown[][], bigint];
        assert.deepEqual(newAllocations.map((a) => a[1]), expected.newAmounts);
        assert.deepEqual(exitAllocations.map((a) => a[1]), expected.exits);
        assert.equal(total, expected.total);
        assert.equal(onlyZeros, expected.onlyZeros);
        assert.ok(total <= holdings);
      },
    ),
    { numRuns: 150, seed: 42 },
  );
});

test('without guarantees and with in-range indices, results equal the reference NitroAdjudicator', async () => {
  const ours = f.adjudicator.getFunction('compute_transfer_effects_and_interactions');
  const theirs = reference.getFunction('compute_transfer_effects_and_interactions');
  const plain = allocationArb.map((a) => ({ ...a, allocationType: 0 }));
  await fc.assert(
    fc.asyncProperty(
      fc.bigInt({ min: 0n, max: 60n }),
      fc.array(plain, { minLength: 1, maxLength: 5 }).chain((allocs) =>
        fc.tuple(
          fc.constant(allocs),
          fc.uniqueArray(fc.bigInt({ min: 0n, max: BigInt(allocs.length - 1) }), { maxLength: allocs.length }).map((xs) => [...xs].sort((a, b) => (a < b ? -1 : 1))),
        ),
      ),
      async (holdings, [allocations, indices]) => {
        const a = (await ours(holdings, allocations, indices)) as unknown;
        const b = (await theirs(holdings, allocations, indices)) as unknown;
        assert.deepEqual(JSON.parse(JSON.stringify(a, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))), JSON.parse(JSON.stringify(b, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))));
      },
    ),
    { numRuns: 100, seed: 7 },
  );
});

test('compute_reclaim_effects equals the reference NitroAdjudicator on valid inputs', async () => {
  const ours = f.adjudicator.getFunction('compute_reclaim_effects');
  const theirs = reference.getFunction('compute_reclaim_effects');
  const L = '0x' + '00'.repeat(12) + '11'.repeat(20);
  const R = '0x' + '00'.repeat(12) + '22'.repeat(20);
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.record({ destination: fc.constantFrom(L, R, '0x' + 'cd'.repeat(32)), amount: fc.bigInt({ min: 0n, max: 9n }), allocationType: fc.constant(0), metadata: fc.constant('0x') }), { maxLength: 4 }),
      fc.nat({ max: 4 }),
      fc.bigInt({ min: 0n, max: 9n }),
      fc.bigInt({ min: 0n, max: 9n }),
      fc.boolean(),
      async (others, pos, left, right, swap) => {
        const rest = [...others, { destination: L, amount: 1n, allocationType: 0, metadata: '0x' }, { destination: R, amount: 2n, allocationType: 0, metadata: '0x' }];
        if (swap) rest.reverse();
        const at = Math.min(pos, rest.length);
        const g = { destination: '0x' + 'ee'.repeat(32), amount: left + right, allocationType: ALLOCATION.guarantee, metadata: guaranteeMetadata(L, R) };
        const source = [...rest.slice(0, at), g, ...rest.slice(at)];
        const target = [
          { destination: L, amount: left, allocationType: 0, metadata: '0x' },
          { destination: R, amount: right, allocationType: 0, metadata: '0x' },
        ];
        const norm = (x: unknown) => JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as unknown;
        const a = norm(await ours(source, target, BigInt(at)));
        const b = norm(await theirs(source, target, BigInt(at)));
        assert.deepEqual(a, b);
        assert.equal((a as unknown[]).length, source.length - 1);
      },
    ),
    { numRuns: 60, seed: 3 },
  );
});
