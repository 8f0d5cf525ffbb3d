/**
 * Voucher throughput: channel-core (libsecp256k1 and @noble paths) vs raw libsecp256k1 vs
 * ethers v6 (the straightforward baseline), and the worker-thread verifier pool.
 *
 *   npm run bench:vouchers     # prints one markdown table, writes bench/results/vouchers.json
 *
 * Every row is measured in this run, on the main thread (one core) unless it says
 * otherwise. Each measurement: 200 ms warm-up, then 3 rounds of 0.5 s, best round kept
 * (shared machines: interference only slows rounds down). Every verified voucher is
 * distinct and its result is checked. Total runtime is ~25 s.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AbiCoder, SigningKey, Wallet, getBytes, keccak256 as ethersKeccak, recoverAddress, hashMessage, version as ethersVersion } from 'ethers';
import {
  type ChannelId,
  type Voucher,
  cryptoBackend,
  ethSignedMessageDigest,
  hashVoucherBytes,
  hexToBytes,
  keccakBackend,
  privateKeyToAddress,
  signVoucher,
  signatureToHex,
  useCryptoBackend,
  verifyVoucher,
} from '../packages/channel-core/src/index.ts';
import { createVoucherVerifierPool } from '../packages/channel-core/src/voucher-pool.ts';
import { loadRawSecp256k1 } from './lib/libsecp256k1.ts';
import { type Rate, measureAsync, measureSync } from './lib/timing.ts';

const here = dirname(fileURLToPath(import.meta.url));
const RESULTS = join(here, 'results', 'vouchers.json');
const started = performance.now();

// ---------------------------------------------------------------- fixtures
const ALICE_KEY = '0x' + '5c'.repeat(31) + '01';
const alice = privateKeyToAddress(ALICE_KEY);
const wallet = new Wallet(ALICE_KEY);
const CHANNEL = ('0x' + 'a1'.repeat(32)) as ChannelId;
const VOUCHERS = 8192; // distinct cumulative vouchers, cycled through
const vouchers: Voucher[] = Array.from({ length: VOUCHERS }, (_, i) => signVoucher(CHANNEL, 10n ** 12n * BigInt(i + 1), ALICE_KEY));
const abi = AbiCoder.defaultAbiCoder();

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`benchmark self-check failed: ${what}`);
}

// ethers' straightforward path must agree with ours byte for byte
{
  const v = vouchers[3]!;
  const hash = ethersKeccak(abi.encode(['bytes32', 'uint256'], [v.channelId, v.amount]));
  check(wallet.signMessageSync(getBytes(hash)).toLowerCase() === signatureToHex(v.signature), 'ethers signature == channel-core signature');
}
const ethersSigs = vouchers.map((v) => signatureToHex(v.signature));

// raw libsecp256k1 inputs: precomputed digest, 64-byte sig, recid, 65-byte public key
const raw = loadRawSecp256k1();
const digests = vouchers.map((v) => ethSignedMessageDigest(hashVoucherBytes(v.channelId, v.amount)));
const sig64 = vouchers.map((v) => v.signature.subarray(0, 64));
const recids = vouchers.map((v) => v.signature[64]! - 27);
const pubkey = new Uint8Array(65);
check(raw.publicKeyCreate(pubkey, hexToBytes(ALICE_KEY)) === 0, 'publicKeyCreate');
const aliceKeyBytes = hexToBytes(ALICE_KEY);

const mask = VOUCHERS - 1;
const rows = new Map<string, Rate>();
function record(key: string, rate: Rate): Rate {
  rows.set(key, rate);
  process.stderr.write(`  ${key.padEnd(22)} ${Math.round(rate.opsPerSec).toString().padStart(7)} ops/s  [${rate.rounds.map((r) => Math.round(r)).join(', ')}]\n`);
  return rate;
}

process.stderr.write(`measuring (backend ${cryptoBackend().name}, keccak ${keccakBackend}) …\n`);

// ---------------------------------------------------------------- channel-core, libsecp256k1
useCryptoBackend('libsecp256k1');
const sign = record('sign', measureSync((i) => void signVoucher(CHANNEL, 10n ** 12n * BigInt(i + 1), ALICE_KEY)));
check(verifyVoucher(vouchers[0]!, alice), 'warm payer cache');
const verify = record(
  'verify',
  measureSync((i) => check(verifyVoucher(vouchers[i & mask]!, alice), 'verifyVoucher')),
);

// ---------------------------------------------------------------- raw libsecp256k1
const rawSign = record(
  'rawSign',
  measureSync((i) => {
    const obj = { signature: new Uint8Array(64), recid: null as number | null };
    check(raw.ecdsaSign(obj, digests[i & mask]!, aliceKeyBytes) === 0, 'ecdsaSign');
  }),
);
const rawVerify = record(
  'rawVerify',
  measureSync((i) => check(raw.ecdsaVerify(sig64[i & mask]!, digests[i & mask]!, pubkey) === 0, 'ecdsaVerify')),
);
const recovered = Buffer.alloc(65);
const rawRecover = record(
  'rawRecover',
  measureSync((i) => {
    const k = i & mask;
    check(raw.ecdsaRecover(recovered, sig64[k]!, recids[k]!, digests[k]!) === 0 && recovered[64] === pubkey[64], 'ecdsaRecover');
  }),
);

// ---------------------------------------------------------------- ethers v6 baseline
const ethersSign = record(
  'ethersSign',
  measureSync((i) => {
    const hash = ethersKeccak(abi.encode(['bytes32', 'uint256'], [CHANNEL, 10n ** 12n * BigInt(i + 1)]));
    void wallet.signMessageSync(getBytes(hash));
  }, {}, 8),
);
const ethersVerify = record(
  'ethersVerify',
  measureSync((i) => {
    const k = i & mask;
    const v = vouchers[k]!;
    const hash = ethersKeccak(abi.encode(['bytes32', 'uint256'], [v.channelId, v.amount]));
    check(recoverAddress(hashMessage(getBytes(hash)), ethersSigs[k]!) === alice, 'ethers recoverAddress');
  }, {}, 8),
);
void SigningKey; // (Wallet.signMessageSync is SigningKey.sign over hashMessage)

// ---------------------------------------------------------------- @noble path
useCryptoBackend('noble');
const nobleSign = record('nobleSign', measureSync((i) => void signVoucher(CHANNEL, 10n ** 12n * BigInt(i + 1), ALICE_KEY), {}, 8));
const nobleVerify = record('nobleVerify', measureSync((i) => check(verifyVoucher(vouchers[i & mask]!, alice), 'noble verifyVoucher'), {}, 8));
useCryptoBackend('libsecp256k1');

// ---------------------------------------------------------------- worker pool
const CHUNK = 256;
const chunks: Voucher[][] = [];
for (let i = 0; i < VOUCHERS; i += CHUNK) chunks.push(vouchers.slice(i, i + CHUNK));
/**
 * `api`: 'many' = verifyMany per 256-voucher chunk; 'single' = 256 individual verify() calls
 * per step (the pool coalesces them into batches).
 */
async function poolRate(size: number, api: 'many' | 'single', batchSize = CHUNK): Promise<Rate> {
  const pool = createVoucherVerifierPool({ size, batchSize, maxQueue: 1 << 16 });
  try {
    check((await pool.verifyMany(chunks[0]!, alice)).every(Boolean), 'pool warm-up');
    return await measureAsync(async (i) => {
      const chunk = chunks[i % chunks.length]!;
      const res = api === 'many' ? await pool.verifyMany(chunk, alice) : await Promise.all(chunk.map((v) => pool.verify(v, alice)));
      for (const ok of res) check(ok, 'pool verify');
      return res.length;
    }, 3 * size);
  } finally {
    await pool.close();
  }
}
const pool1 = record('pool1', await poolRate(1, 'many'));
const pool2 = record('pool2', await poolRate(2, 'many'));
const pool2single = record('pool2single', await poolRate(2, 'single'));
const pool2unbatched = record('pool2unbatched', await poolRate(2, 'single', 1));

// ---------------------------------------------------------------- report
const n0 = (x: number) => Math.round(x).toLocaleString('en-US');
const us = (r: Rate) => r.usPerOp.toFixed(r.usPerOp < 100 ? 1 : 0);
const x = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const pct = (a: number, b: number) => `${((100 * a) / b).toFixed(1)} %`;
const pass = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');

interface Target {
  readonly name: string;
  readonly measured: string;
  readonly goal: string;
  readonly ok: boolean;
}
const targets: Target[] = [
  { name: 'full verify vs raw libsecp256k1 verify', measured: pct(verify.opsPerSec, rawVerify.opsPerSec), goal: '≥ 90 %', ok: verify.opsPerSec >= 0.9 * rawVerify.opsPerSec },
  { name: 'full verify vs ethers v6 verify', measured: x(verify.opsPerSec, ethersVerify.opsPerSec), goal: '≥ 20×', ok: verify.opsPerSec >= 20 * ethersVerify.opsPerSec },
  { name: 'sign rate', measured: `${n0(sign.opsPerSec)} /s`, goal: '≥ 20,000 /s', ok: sign.opsPerSec >= 20_000 },
  { name: 'pool, 2 workers vs one core (main-thread verify)', measured: x(pool2.opsPerSec, verify.opsPerSec), goal: '≥ 1.70×', ok: pool2.opsPerSec >= 1.7 * verify.opsPerSec },
];

const lines: string[] = [
  '| measurement | where | ops/s | µs/op | ratio | target | result |',
  '|---|---|---:|---:|---|---|---|',
];
function row(name: string, where: string, r: Rate, ratio: string, target = '', result = ''): void {
  lines.push(`| ${name} | ${where} | ${n0(r.opsPerSec)} | ${us(r)} | ${ratio} | ${target} | ${result} |`);
}
row('sign — channel-core `signVoucher` (libsecp256k1)', '1 core', sign, `${x(sign.opsPerSec, ethersSign.opsPerSec)} ethers`, '≥ 20,000 /s', pass(targets[2]!.ok));
row('sign — channel-core, @noble path', '1 core', nobleSign, `${x(nobleSign.opsPerSec, ethersSign.opsPerSec)} ethers`);
row('sign — raw libsecp256k1 `ecdsaSign` (precomputed digest)', '1 core', rawSign, `${pct(sign.opsPerSec, rawSign.opsPerSec)} of it is signVoucher`);
row('sign — **ethers v6 baseline** (AbiCoder + keccak256 + `Wallet.signMessageSync`)', '1 core', ethersSign, '1.00×');
row('verify — channel-core `verifyVoucher`, strict (libsecp256k1)', '1 core', verify, `${x(verify.opsPerSec, ethersVerify.opsPerSec)} ethers`, '≥ 20× ethers', pass(targets[1]!.ok));
row('verify — channel-core, @noble path', '1 core', nobleVerify, `${x(nobleVerify.opsPerSec, ethersVerify.opsPerSec)} ethers`);
row('verify — raw libsecp256k1 `ecdsaVerify` (precomputed digest, sig, pubkey; checks no v)', '1 core', rawVerify, `verifyVoucher = ${pct(verify.opsPerSec, rawVerify.opsPerSec)} of it`, '≥ 90 %', pass(targets[0]!.ok));
row('verify — raw libsecp256k1 `ecdsaRecover` (precomputed; the strict-verify bound)', '1 core', rawRecover, `verifyVoucher = ${pct(verify.opsPerSec, rawRecover.opsPerSec)} of it`);
row('verify — **ethers v6 baseline** (AbiCoder + keccak256 + `recoverAddress(hashMessage)`)', '1 core', ethersVerify, '1.00×');
row('verify — pool, 1 worker (`verifyMany`, 256/batch)', '1 worker + main', pool1, `${x(pool1.opsPerSec, verify.opsPerSec)} one core`);
row('verify — pool, 2 workers (`verifyMany`, 256/batch)', '2 workers + main', pool2, `${x(pool2.opsPerSec, verify.opsPerSec)} one core, ${x(pool2.opsPerSec, pool1.opsPerSec)} 1 worker`, '≥ 1.70× one core', pass(targets[3]!.ok));
row('verify — pool, 2 workers, individual `verify()` calls (coalesced into batches)', '2 workers + main', pool2single, `${x(pool2single.opsPerSec, verify.opsPerSec)} one core`);
row('verify — pool, 2 workers, `batchSize: 1` (one postMessage per voucher)', '2 workers + main', pool2unbatched, `${x(pool2unbatched.opsPerSec, verify.opsPerSec)} one core`);
const table = lines.join('\n');

const cpu = cpus()[0]?.model ?? 'unknown';
const load = loadavg().map((l) => l.toFixed(2)).join(' ');
const seconds = (performance.now() - started) / 1000;
console.log(table);
console.log('');
console.log(
  `Targets: ${targets.filter((t) => t.ok).length}/${targets.length} PASS. ${cpu}, ${cpus().length} cores, Node ${process.version}, ` +
    `backend ${cryptoBackend().name} + keccak ${keccakBackend}, ethers ${ethersVersion}; best of 3 × 0.5 s rounds after 0.2 s warm-up; ` +
    `load avg ${load}; ${seconds.toFixed(1)} s total.`,
);
console.log(
  'Strict verify must recover (ecrecover uses v = the parity of R.y); ecdsaVerify only checks x(R) mod n, which is the same for R and −R, ' +
    'so no ecdsaVerify-based check can confirm v: raw recover, not raw verify, is the ceiling for a strict verifier.',
);

/** Version of a package as channel-core resolves it (its own node_modules first, then the root's). */
function pkgVersion(name: string): string {
  for (const base of ['../packages/channel-core/node_modules/', '../node_modules/']) {
    try {
      return (JSON.parse(readFileSync(new URL(`${base}${name}/package.json`, import.meta.url), 'utf8')) as { version: string }).version;
    } catch {
      // try the next location
    }
  }
  return 'unknown';
}
const json = {
  benchmark: 'vouchers',
  date: new Date().toISOString(),
  machine: { cpu, cores: cpus().length, availableParallelism: availableParallelism(), node: process.version, platform: process.platform, arch: process.arch, loadavg: loadavg() },
  backends: {
    channelCore: cryptoBackend(),
    keccak: keccakBackend,
    libsecp256k1Binding: `secp256k1@${pkgVersion('secp256k1')} (N-API, loaded via node-gyp-build)`,
    noble: `@noble/curves@${pkgVersion('@noble/curves')}`,
    ethers: ethersVersion,
  },
  method: { warmupMs: 200, roundMs: 500, rounds: 3, kept: 'best round', distinctVouchers: VOUCHERS, poolBatch: CHUNK },
  results: Object.fromEntries([...rows].map(([k, r]) => [k, { opsPerSec: Math.round(r.opsPerSec), usPerOp: +r.usPerOp.toFixed(2), rounds: r.rounds.map(Math.round) }])),
  ratios: {
    verifyVsRawVerify: verify.opsPerSec / rawVerify.opsPerSec,
    verifyVsRawRecover: verify.opsPerSec / rawRecover.opsPerSec,
    verifyVsEthers: verify.opsPerSec / ethersVerify.opsPerSec,
    signVsEthers: sign.opsPerSec / ethersSign.opsPerSec,
    pool2VsOneCore: pool2.opsPerSec / verify.opsPerSec,
    pool1VsOneCore: pool1.opsPerSec / verify.opsPerSec,
    pool2VsPool1: pool2.opsPerSec / pool1.opsPerSec,
    pool2SingleCallsVsOneCore: pool2single.opsPerSec / verify.opsPerSec,
    pool2UnbatchedVsOneCore: pool2unbatched.opsPerSec / verify.opsPerSec,
  },
  targets: targets.map((t) => ({ ...t, result: t.ok ? 'PASS' : 'MISS' })),
  table,
  seconds,
};
mkdirSync(dirname(RESULTS), { recursive: true });
writeFileSync(RESULTS, JSON.stringify(json, null, 2) + '\n');
