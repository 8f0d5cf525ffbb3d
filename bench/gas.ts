/**
 * Gas benchmark: Sluice's adjudicator vs the reference NitroAdjudicator
 * (@statechannels/nitro-protocol@2.0.1-alpha.6), measured on the same fresh anvil, next to
 * the figures recorded by go-nitro's gas benchmark.
 *
 *   npm run bench:gas              # print table (+ the engine-executed virtual sad path, + sad-exit gas vs a ledger's
 *                                  # guarantee count), write bench/results/gas.json and gas-guarantees.json, diff vs snapshot
 *   npm run bench:gas -- --update  # also rewrite bench/gas-snapshot.json
 *
 * Exits 1 if any of our rows costs more than bench/gas-snapshot.json says.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { JsonRpcProvider, Wallet } from 'ethers';
import { measureGas, measureGuaranteeScaling, type GasRow } from '../contracts/test/lib/gas.ts';
import { startAnvil } from '../contracts/test/lib/anvil.ts';
import { loadArtifact } from '../contracts/src/index.ts';
import { deployNitro } from '@sluice/channel-core/ethers';
import { createNode, type Node, type NodeInit } from '@sluice/channel-core/node';
import { ZERO_ADDRESS, parseAddress, type Address, type Hex } from '@sluice/channel-core';

const here = dirname(fileURLToPath(import.meta.url));
const SNAPSHOT = join(here, 'gas-snapshot.json');
const RESULTS = join(here, 'results', 'gas.json');
const RESULTS_GUARANTEES = join(here, 'results', 'gas-guarantees.json');

const fmt = (n: number | null) => (n === null ? 'n/a' : n.toLocaleString('en-US'));
const ratio = (a: number, b: number | null) => (b ? (a / b).toFixed(3) : 'n/a');

function table(rows: GasRow[]): string {
  const lines = [
    '| operation | ours | reference (measured) | reference (go-nitro recorded) | ours / ref measured | ours / ref recorded |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(`| ${r.label} | ${fmt(r.ours)} | ${fmt(r.referenceMeasured)} | ${fmt(r.referenceRecorded)} | ${ratio(r.ours, r.referenceMeasured)} | ${ratio(r.ours, r.referenceRecorded)} |`);
    const parts = Object.keys(r.parts.ours);
    for (const p of parts) {
      lines.push(`| &nbsp;&nbsp;↳ ${p} | ${fmt(r.parts.ours[p] ?? null)} | ${fmt(r.parts.reference?.[p] ?? null)} | | ${ratio(r.parts.ours[p] ?? 0, r.parts.reference?.[p] ?? null)} | |`);
    }
  }
  return lines.join('\n');
}

/**
 * The virtually-funded sad path as executed by our engine: Alice pays Bob 7 vouchers on V
 * through Irene (ETH), Irene vanishes, Bob runs `settleVirtualChannel(V, { force: true })` and
 * his engine challenges L_IB and V (voucher redemption), waits out the challenge durations
 * (anvil time travel), reclaims V's guarantee into L_IB and calls `transferAllAssets`. The sum
 * is the gasUsed of the transactions Bob's engine submitted (its `fallbackTransaction` events),
 * next to the reference total for the same four operations.
 */
async function measureEngineSadPath(): Promise<{ total: number; parts: Record<string, number> }> {
  const anvil = await startAnvil();
  const nodes: Node[] = [];
  const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  try {
    const keys = anvil.accounts as Hex[];
    const d = await deployNitro(new Wallet(keys[0]!, provider), {
      adjudicator: loadArtifact('NitroAdjudicator'),
      consensusApp: loadArtifact('ConsensusApp'),
      virtualPaymentApp: loadArtifact('VirtualPaymentApp'),
    });
    const deployBlock = await provider.getBlockNumber();
    const init = (key: Hex, extra: Partial<NodeInit> = {}): NodeInit => ({
      privateKey: key,
      chain: {
        rpcUrl: anvil.rpcUrl,
        adjudicator: parseAddress(d.adjudicator, 'adjudicator'),
        consensusApp: parseAddress(d.consensusApp, 'consensusApp'),
        virtualPaymentApp: parseAddress(d.virtualPaymentApp, 'virtualPaymentApp'),
        startBlock: deployBlock,
        pollIntervalMs: 50,
      },
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ledgerChallengeDuration: 600,
      virtualChallengeDuration: 300,
      messagingRetry: { initialBackoffMs: 50, maxBackoffMs: 500 },
      txRetryDelayMs: 200,
      ...extra,
    });
    const start = async (i: NodeInit): Promise<Node> => {
      const n = createNode(i);
      await n.start();
      nodes.push(n);
      return n;
    };
    const irene = await start(init(keys[2]!, { policy: { hub: {}, maxLedgerDeposit: 10n ** 21n } }));
    const hub = { address: irene.address, multiaddrs: irene.multiaddrs() };
    const alice = await start(init(keys[1]!, { hub }));
    const bob = await start(init(keys[3]!, { hub }));
    const gas: Record<string, number> = {};
    const seen: string[] = [];
    bob.on('fallbackTransaction', (x) => {
      const label = `${x.kind} ${x.channelId === v ? 'V' : 'L'}`;
      seen.push(label);
      gas[label] = (gas[label] ?? 0) + Number(x.gasUsed);
    });
    const [, { channelId: ib }] = await Promise.all([
      alice.createLedgerChannel({ counterparty: irene.address, asset: ZERO_ADDRESS, deposit: 10n ** 18n }),
      bob.createLedgerChannel({ counterparty: irene.address, asset: ZERO_ADDRESS, deposit: 0n, counterpartyDeposit: 4n * 10n ** 17n }),
    ]);
    const wait = async (pred: () => boolean | Promise<boolean>, what: string): Promise<void> => {
      const t0 = Date.now();
      while (!(await pred())) {
        if (Date.now() - t0 > 120_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    await wait(() => irene.getLedgerChannels().filter((l) => l.status === 'open').length === 2, 'ledgers open');
    const { channelId: v } = await alice.createVirtualChannel({ payee: bob.address, asset: ZERO_ADDRESS as Address, amount: 2n * 10n ** 17n });
    await wait(() => bob.getVirtualChannel(v)?.status === 'funded', 'V funded');
    for (let i = 0; i < 7; i++) bob.receiveVoucher(alice.pay(v, 10n ** 15n), { price: 10n ** 15n });
    await irene.stop();
    // Bob leaves his ledger on chain: its exit settles the V it guarantees too (challenge L and V).
    // (Settling V alone now leaves L open: V's guarantee would leave L by proof once V finalizes.)
    await bob.exitLedgerChannel(ib, { force: true });
    await wait(() => seen.includes('challenge L') && seen.includes('challenge V'), 'challenges registered');
    await provider.send('evm_increaseTime', [700]);
    await provider.send('evm_mine', []);
    await wait(() => bob.getLedgerChannel(ib)?.status === 'closed', 'L_IB paid out');
    const total = Object.values(gas).reduce((a, b) => a + b, 0);
    return { total, parts: gas };
  } finally {
    for (const n of nodes.reverse()) await n.stop().catch(() => {});
    provider.destroy();
    await anvil.stop();
  }
}

const rows = await measureGas();
console.log(table(rows));
const engine = await measureEngineSadPath();
const REFERENCE_SAD_VIRTUAL = 470_520;
console.log(
  `\nvirtual sad path as executed by our engine (Bob: ${Object.entries(engine.parts).map(([k, g]) => `${k} ${fmt(g)}`).join(' + ')}): ` +
    `${fmt(engine.total)} gas vs reference ${fmt(REFERENCE_SAD_VIRTUAL)} (go-nitro recorded) = ${ratio(engine.total, REFERENCE_SAD_VIRTUAL)}` +
    `; reference adjudicator measured here ${fmt(rows.find((r) => r.key === 'sadExitVirtual')?.referenceMeasured ?? null)}`,
);
// Why a ledger's guarantee count is capped (policy maxLedgerGuarantees, hub --max-ledger-guarantees).
const scaling = await measureGuaranteeScaling([1, 16, 64, 128, 256, 512]);
const one = scaling[0]!;
console.log(
  '\nledger sad exit vs the guarantees it holds (our adjudicator; the reclaim of one channel passes the ledger\'s whole outcome; ' +
    'transferAllAssets runs once every guarantee is reclaimed):\n\n' +
    '| guarantees | outcome bytes | challenge L | reclaim one channel | ratio to 1 guarantee | transferAllAssets L | all channels out (upper bound) |\n|---:|---:|---:|---:|---:|---:|---:|',
);
for (const r of scaling) {
  console.log(`| ${r.guarantees} | ${fmt(r.outcomeBytes)} | ${fmt(r.challengeL)} | ${fmt(r.reclaimOne)} | ${ratio(r.reclaimOne, one.reclaimOne)}× | ${fmt(r.transferAllAssetsL)} | ${fmt(r.exitAllUpperBound)} |`);
}
const perGuarantee = Math.round((scaling.at(-1)!.reclaimOne - one.reclaimOne) / (scaling.at(-1)!.guarantees - 1));
console.log(`\neach guarantee adds ≈ ${fmt(perGuarantee)} gas to every reclaim through the ledger; the default cap is 256 guarantees.`);
mkdirSync(dirname(RESULTS_GUARANTEES), { recursive: true });
writeFileSync(RESULTS_GUARANTEES, JSON.stringify({ rows: scaling, reclaimGasPerGuarantee: perGuarantee }, null, 2) + '\n');

const notes = [...new Set(rows.flatMap((r) => (r.note ? [r.note] : [])))];
for (const n of notes) console.log(`\nNOTE: ${n}`);
console.log(
  '\nReference (go-nitro recorded) figures come from go-nitro packages/nitro-protocol/gas-benchmarks (hardhat, older fork);' +
    ' the measured columns run both adjudicators on this anvil with the same scenarios. ERC20 rows use our TestToken for both.',
);

mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(
  RESULTS,
  JSON.stringify(
    [
      ...rows,
      {
        key: 'sadExitVirtualEngine',
        label: 'virtual sad exit as executed by our engine (Bob: challenge L, challenge V, reclaim L, transferAllAssets L)',
        ours: engine.total,
        referenceMeasured: rows.find((r) => r.key === 'sadExitVirtual')?.referenceMeasured ?? null,
        referenceRecorded: REFERENCE_SAD_VIRTUAL,
        parts: { ours: engine.parts, reference: null },
        note: 'not in the regression snapshot: calldata gas varies by a few hundred with random nonces and signatures',
      },
    ],
    null,
    2,
  ) + '\n',
);

const snapshotOf = (rs: GasRow[]) => Object.fromEntries(rs.map((r) => [r.key, r.ours]));
if (process.argv.includes('--update') || !existsSync(SNAPSHOT)) {
  writeFileSync(SNAPSHOT, JSON.stringify(snapshotOf(rows), null, 2) + '\n');
  console.log(`\nwrote ${SNAPSHOT}`);
} else {
  const snap = JSON.parse(readFileSync(SNAPSHOT, 'utf8')) as Record<string, number>;
  let regressed = false;
  console.log('\n| operation | snapshot | now | diff |\n|---|---:|---:|---:|');
  for (const r of rows) {
    const s = snap[r.key];
    const d = s === undefined ? null : r.ours - s;
    if (d !== null && d > 0) regressed = true;
    console.log(`| ${r.label} | ${fmt(s ?? null)} | ${fmt(r.ours)} | ${d === null ? 'new' : (d > 0 ? '+' : '') + d} |`);
  }
  if (regressed) {
    console.error('\nGAS REGRESSION vs bench/gas-snapshot.json (run with --update if intended)');
    process.exitCode = 1;
  }
}
