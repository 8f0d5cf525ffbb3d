/**
 * The hub's configuration: one table of options, each settable by flag, environment variable
 * (`SLUICE_HUB_*`) or JSON config file, with a default. Precedence: flag > env > file > default.
 * {@link resolveConfig} is pure (tests call it directly); the CLI feeds it commander's flags,
 * `process.env` and the parsed `--config` file.
 */
import { readJsonFile } from '@sluice/channel-core/deployment';
import { type Address, DEFAULT_CHALLENGE_DURATIONS, DEFAULT_MAX_LEDGER_GUARANTEES, SluiceError, parseAddress } from '@sluice/channel-core';
import { isUrlWith, parseChallengeDuration, parseRetention } from '@sluice/channel-core/node/text';
import { type Command, Option } from 'commander';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The resolved configuration of `sluice-hub start` (and `status`). */
export interface HubConfig {
  readonly rpcUrl: string;
  readonly chainId: number | undefined;
  readonly deployment: string | undefined;
  readonly adjudicator: Address | undefined;
  readonly consensusApp: Address | undefined;
  readonly virtualPaymentApp: Address | undefined;
  readonly startBlock: number | undefined;
  readonly keyFile: string | undefined;
  readonly devAccount: number | undefined;
  readonly listen: readonly string[];
  readonly announce: readonly string[];
  readonly maxConnections: number;
  readonly inboundPerHost: number;
  readonly store: string;
  readonly maxPerChannel: bigint;
  readonly collateralCap: bigint | undefined;
  readonly maxLedgerGuarantees: number;
  readonly maxLedgerDeposit: bigint;
  /** undefined: 4 × maxLedgerDeposit. */
  readonly maxOpeningCollateral: bigint | undefined;
  /** undefined: 2 × maxLedgerDeposit. */
  readonly maxPeerCollateral: bigint | undefined;
  readonly requiredApp: Address | undefined;
  readonly httpHost: string;
  readonly httpPort: number;
  readonly logLevel: LogLevel;
  readonly chainPollMs: number;
  /** undefined: the chain's default (1 on a local chain, 12 elsewhere). */
  readonly confirmations: number | undefined;
  readonly objectiveTimeoutMs: number;
  readonly prefundTimeoutMs: number;
  /** History retention in ms; null: keep everything. */
  readonly retainHistory: number | null;
  /** Oldest channel nonce joined, ms; null: any (no nonce window). */
  readonly nonceMaxAge: number | null;
  /** Shortest challenge duration of a ledger or virtual channel the hub joins, seconds. */
  /** Undefined: 5 min, raised on a slow chain (see `HubInit.policy.challengeDurations`). */
  readonly minChallengeDuration: number | undefined;
  /** Longest challenge duration of a ledger or virtual channel the hub joins, seconds. */
  readonly maxChallengeDuration: number;
  /** Assets the hub keeps ledgers in; undefined: ETH and the deployment's token; null: any. */
  readonly assets: readonly Address[] | null | undefined;
  /** Peers the hub deposits collateral toward; undefined: any. */
  readonly collateralPeers: readonly Address[] | undefined;
}

export type ConfigKey = keyof HubConfig;
/** Where a value came from. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

export interface OptionSpec<K extends ConfigKey = ConfigKey> {
  readonly key: K;
  /** commander flag, e.g. `--rpc-url <url>`. */
  readonly flag: string;
  readonly env: string;
  readonly description: string;
  /** Shown in --help. */
  readonly defaultText: string;
  readonly default: HubConfig[K];
  /** Parse one raw value (flag/env string, or a config-file value). */
  readonly parse: (raw: unknown, from: string) => HubConfig[K];
  /** Repeatable flag / comma-separated env / array in the file. */
  readonly list?: boolean;
}

function bad(from: string, what: string): never {
  throw new SluiceError('INVALID_ARGUMENT', `${from}: ${what}`);
}
function str(raw: unknown, from: string): string {
  if (typeof raw === 'number') return String(raw);
  if (typeof raw !== 'string' || raw === '') bad(from, 'must be a non-empty string');
  return raw;
}
function uint(raw: unknown, from: string): bigint {
  const s = typeof raw === 'bigint' ? raw.toString() : str(raw, from);
  if (!/^[0-9]{1,78}$/.test(s)) bad(from, 'must be a non-negative integer in base units (e.g. wei)');
  const v = BigInt(s);
  if (v >> 256n !== 0n) bad(from, 'must fit in uint256');
  return v;
}
function int(min: number, max: number): (raw: unknown, from: string) => number {
  return (raw, from) => {
    const s = str(raw, from);
    if (!/^[0-9]+$/.test(s)) bad(from, `must be an integer ${min}..${max}`);
    const n = Number(s);
    if (!Number.isSafeInteger(n) || n < min || n > max) bad(from, `must be an integer ${min}..${max}`);
    return n;
  };
}
function address(raw: unknown, from: string): Address {
  const s = str(raw, from);
  try {
    return parseAddress(s, from);
  } catch {
    return bad(from, 'must be a 0x-prefixed 20-byte address');
  }
}
function url(raw: unknown, from: string): string {
  const s = str(raw, from);
  if (!isUrlWith(s, ['http:', 'https:', 'ws:', 'wss:'])) bad(from, 'must be an http(s):// or ws(s):// URL');
  return s;
}
function multiaddrs(raw: unknown, from: string): string[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : bad(from, 'must be a multiaddr or a list of them');
  const out = items.map((x) => str(typeof x === 'string' ? x.trim() : x, from));
  for (const m of out) if (!m.startsWith('/')) bad(from, `"${m}" is not a multiaddr (e.g. /ip4/0.0.0.0/tcp/4001)`);
  return out;
}
function logLevel(raw: unknown, from: string): LogLevel {
  const s = str(raw, from);
  if (!(LOG_LEVELS as readonly string[]).includes(s)) bad(from, `must be one of ${LOG_LEVELS.join(', ')}`);
  return s as LogLevel;
}
/** A retention period (`90m`, `12h`, `7d`, `forever`): `parseRetention`, with the error naming its source. */
function retention(raw: unknown, from: string): number | null {
  const text = str(raw, from);
  try {
    return parseRetention(text);
  } catch (e) {
    return bad(from, e instanceof Error ? e.message : 'bad duration');
  }
}
/** A challenge duration (`5m`, `24h`, `30d`), in seconds, within the adjudicator's reach. */
function challengeDuration(raw: unknown, from: string): number {
  const text = str(raw, from);
  try {
    return parseChallengeDuration(text);
  } catch (e) {
    return bad(from, e instanceof Error ? e.message : 'bad duration');
  }
}
/** A list of addresses (repeatable flag, comma-separated env, array in the file). */
function addressList(raw: unknown, from: string): readonly Address[] {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : bad(from, 'must be an address or a list of them');
  return items.map((x) => address(typeof x === 'string' ? x.trim() : x, from));
}
/** `--asset`: addresses, or `any` (null: every asset). */
function assetList(raw: unknown, from: string): readonly Address[] | null {
  const items = Array.isArray(raw) ? raw : typeof raw === 'string' ? raw.split(',') : undefined;
  if (items?.length === 1 && typeof items[0] === 'string' && items[0].trim() === 'any') return null;
  return addressList(raw, from);
}
const optional =
  <T>(p: (raw: unknown, from: string) => T) =>
  (raw: unknown, from: string): T | undefined =>
    p(raw, from);

function spec<K extends ConfigKey>(s: OptionSpec<K>): OptionSpec<K> {
  return s;
}

/** Every option of `sluice-hub start`, in --help order. */
export const OPTIONS: readonly OptionSpec[] = [
  spec({ key: 'rpcUrl', flag: '--rpc-url <url>', env: 'SLUICE_HUB_RPC_URL', description: 'JSON-RPC URL of the chain', default: 'http://127.0.0.1:8545', defaultText: 'http://127.0.0.1:8545', parse: url }),
  spec({ key: 'chainId', flag: '--chain-id <id>', env: 'SLUICE_HUB_CHAIN_ID', description: 'expected chain id (checked against the RPC and the deployment file)', default: undefined, defaultText: 'from --deployment, else the RPC', parse: optional(int(1, 2 ** 53 - 1)) }),
  spec({ key: 'deployment', flag: '--deployment <file>', env: 'SLUICE_HUB_DEPLOYMENT', description: 'deployment JSON { chainId, adjudicator, consensusApp, virtualPaymentApp, token?, deployBlock } (written by `sluice deploy`)', default: undefined, defaultText: 'none', parse: optional(str) }),
  spec({ key: 'adjudicator', flag: '--adjudicator <address>', env: 'SLUICE_HUB_ADJUDICATOR', description: 'NitroAdjudicator address (overrides the deployment file)', default: undefined, defaultText: 'from --deployment', parse: optional(address) }),
  spec({ key: 'consensusApp', flag: '--consensus-app <address>', env: 'SLUICE_HUB_CONSENSUS_APP', description: 'ConsensusApp address (ledger channels)', default: undefined, defaultText: 'from --deployment', parse: optional(address) }),
  spec({ key: 'virtualPaymentApp', flag: '--virtual-payment-app <address>', env: 'SLUICE_HUB_VIRTUAL_PAYMENT_APP', description: 'VirtualPaymentApp address (virtual channels)', default: undefined, defaultText: 'from --deployment', parse: optional(address) }),
  spec({ key: 'startBlock', flag: '--start-block <n>', env: 'SLUICE_HUB_START_BLOCK', description: 'first block to scan for channel events on a fresh store', default: undefined, defaultText: "the deployment's deployBlock, else the latest block", parse: optional(int(0, 2 ** 53 - 1)) }),
  spec({ key: 'keyFile', flag: '--key-file <file>', env: 'SLUICE_HUB_KEY_FILE', description: 'encrypted JSON keystore of the hub key; passphrase from $SLUICE_HUB_PASSPHRASE, $SLUICE_PASSPHRASE or a TTY prompt (never a flag)', default: undefined, defaultText: 'none (required unless --dev-account)', parse: optional(str) }),
  spec({ key: 'devAccount', flag: '--dev-account <n>', env: 'SLUICE_HUB_DEV_ACCOUNT', description: "use anvil's well-known funded account n (0-9); refused unless the chain id is 31337 or 1337", default: undefined, defaultText: 'none', parse: optional(int(0, 9)) }),
  spec({ key: 'listen', flag: '--listen <multiaddr>', env: 'SLUICE_HUB_LISTEN', description: 'libp2p listen multiaddr (repeatable; env: comma-separated)', default: ['/ip4/127.0.0.1/tcp/4001'], defaultText: '/ip4/127.0.0.1/tcp/4001', parse: multiaddrs, list: true }),
  spec({ key: 'announce', flag: '--announce <multiaddr>', env: 'SLUICE_HUB_ANNOUNCE', description: 'multiaddr to announce instead of the listen addresses (repeatable)', default: [], defaultText: 'the listen addresses', parse: multiaddrs, list: true }),
  spec({ key: 'maxConnections', flag: '--max-connections <n>', env: 'SLUICE_HUB_MAX_CONNECTIONS', description: "most libp2p connections kept open (every client and provider keeps one; past it new ones are refused and libp2p prunes old ones); libp2p's own default is 300", default: 10_000, defaultText: '10000', parse: int(1, 1_000_000) }),
  spec({ key: 'inboundPerHost', flag: '--inbound-per-host <n>', env: 'SLUICE_HUB_INBOUND_PER_HOST', description: 'new libp2p connections accepted per second from one IP address; more are refused and the peers retry with backoff (raise it for many peers behind one NAT)', default: 5, defaultText: "5 (libp2p's)", parse: int(1, 1_000_000) }),
  spec({ key: 'store', flag: '--store <file>', env: 'SLUICE_HUB_STORE', description: 'sqlite store (WAL, synchronous=FULL: every commit fsync\'d): channels, signed states, outbox; ":memory:" = not durable, for tests and benchmarks only', default: './sluice-hub.db', defaultText: './sluice-hub.db', parse: str }),
  spec({ key: 'maxPerChannel', flag: '--max-per-channel <units>', env: 'SLUICE_HUB_MAX_PER_CHANNEL', description: 'largest guarantee the hub backs for one virtual channel, base units', default: 10n ** 18n, defaultText: '1000000000000000000', parse: uint }),
  spec({ key: 'collateralCap', flag: '--collateral-cap <units>', env: 'SLUICE_HUB_COLLATERAL_CAP', description: 'total collateral the hub keeps locked in open virtual channels, per asset, base units', default: undefined, defaultText: 'no cap beyond the ledger balances', parse: optional(uint) }),
  spec({ key: 'maxLedgerGuarantees', flag: '--max-ledger-guarantees <n>', env: 'SLUICE_HUB_MAX_LEDGER_GUARANTEES', description: 'most virtual channels one ledger funds at a time (a payer\'s concurrent channels; a provider\'s concurrent paying clients); more are refused with LEDGER_FULL. Settling a ledger on chain costs ~5,300 gas per guarantee for each channel it funds', default: DEFAULT_MAX_LEDGER_GUARANTEES, defaultText: String(DEFAULT_MAX_LEDGER_GUARANTEES), parse: int(1, 1024) }),
  spec({ key: 'maxLedgerDeposit', flag: '--max-ledger-deposit <units>', env: 'SLUICE_HUB_MAX_LEDGER_DEPOSIT', description: 'largest deposit (collateral) a peer may ask of the hub when it opens a ledger', default: 0n, defaultText: '0', parse: uint }),
  spec({ key: 'maxOpeningCollateral', flag: '--max-opening-collateral <units>', env: 'SLUICE_HUB_MAX_OPENING_COLLATERAL', description: 'most collateral (per asset, base units) the hub keeps in ledgers not open yet, including openings being exited on chain because their peer vanished after the hub deposited; a collateral request past it is refused (bounds what identities that ask for collateral and vanish can lock up, a day each)', default: undefined, defaultText: '4 × --max-ledger-deposit', parse: optional(uint) }),
  spec({ key: 'maxPeerCollateral', flag: '--max-peer-collateral <units>', env: 'SLUICE_HUB_MAX_PEER_COLLATERAL', description: 'most collateral (per asset, base units) the hub keeps in one peer\'s ledgers, counting those being closed (an exit on chain holds the deposit for the ledger challenge duration); a collateral request past it is refused (bounds what a peer that exits and reopens its ledger again and again can lock up)', default: undefined, defaultText: '2 × --max-ledger-deposit', parse: optional(uint) }),
  spec({ key: 'assets', flag: '--asset <address>', env: 'SLUICE_HUB_ASSETS', description: 'asset the hub keeps ledgers in (repeatable; the zero address is ETH; env: comma-separated); a ledger proposed in another asset is refused; "any" accepts every asset', default: undefined, defaultText: "ETH and the deployment's token", parse: assetList, list: true }),
  spec({ key: 'collateralPeers', flag: '--collateral-peer <address>', env: 'SLUICE_HUB_COLLATERAL_PEERS', description: 'peer the hub deposits collateral toward when its ledger asks for some, up to --max-ledger-deposit (repeatable; env: comma-separated): your providers; others still open ledgers without a hub deposit', default: undefined, defaultText: 'any peer', parse: optional(addressList), list: true }),
  spec({ key: 'requiredApp', flag: '--required-app <address>', env: 'SLUICE_HUB_REQUIRED_APP', description: 'virtual channels must run on this VirtualPaymentApp', default: undefined, defaultText: 'the configured VirtualPaymentApp', parse: optional(address) }),
  spec({ key: 'httpHost', flag: '--http-host <host>', env: 'SLUICE_HUB_HTTP_HOST', description: 'interface of the /healthz, /status and /metrics HTTP server', default: '127.0.0.1', defaultText: '127.0.0.1', parse: str }),
  spec({ key: 'httpPort', flag: '--http-port <port>', env: 'SLUICE_HUB_HTTP_PORT', description: 'port of the HTTP server (0 = any free port)', default: 9464, defaultText: '9464', parse: int(0, 65535) }),
  spec({ key: 'logLevel', flag: '--log-level <level>', env: 'SLUICE_HUB_LOG_LEVEL', description: `pino log level (${LOG_LEVELS.join('|')})`, default: 'info', defaultText: 'info', parse: logLevel }),
  spec({ key: 'chainPollMs', flag: '--chain-poll-ms <ms>', env: 'SLUICE_HUB_CHAIN_POLL_MS', description: 'chain polling interval', default: 1000, defaultText: '1000', parse: int(10, 3_600_000) }),
  spec({ key: 'confirmations', flag: '--confirmations <n>', env: 'SLUICE_HUB_CONFIRMATIONS', description: 'blocks a chain event (deposit, challenge, payout) must be deep before the hub acts on it (1-256); where blocks can be reorganised, a deposit reorganised away after the ledger opened is collateral-backed credit the peer never paid for', default: undefined, defaultText: 'by chain id: 1 on a local chain (31337, 1337), 12 elsewhere', parse: optional(int(1, 256)) }),
  spec({ key: 'retainHistory', flag: '--retain-history <duration>', env: 'SLUICE_HUB_RETAIN_HISTORY', description: 'delete the records of virtual channels closed longer ago than this (90m, 12h, 7d; each is ~12 KB, and their ids are kept so they can never be reopened); "forever" keeps everything', default: 7 * 86_400_000, defaultText: '7d', parse: retention }),
  spec({ key: 'nonceMaxAge', flag: '--nonce-max-age <duration>', env: 'SLUICE_HUB_NONCE_MAX_AGE', description: 'join a ledger or virtual channel only if the time in its nonce (nodes put their clock there) is at most this old and at most 10m ahead of the hub\'s clock (30m, 1h, 2d); retention then forgets the ids of pruned channels once their nonces are older, as a replayed prefund is refused anyway; "forever": any nonce, pruned ids kept for good', default: 3_600_000, defaultText: '1h', parse: retention }),
  spec({ key: 'minChallengeDuration', flag: '--min-challenge-duration <duration>', env: 'SLUICE_HUB_MIN_CHALLENGE_DURATION', description: "shortest challenge duration of a ledger or virtual channel the hub joins (5m, 24h, 30d); shorter ones are refused: the hub's watchtower must be able to answer a stale challenge before it finalizes (at 0 it is final in its own block). Raise it to what your hub's worst outage could be", default: undefined, defaultText: '5m, or twice the time to answer a challenge at --confirmations if longer (6m on Ethereum at 12)', parse: optional(challengeDuration) }),
  spec({ key: 'maxChallengeDuration', flag: '--max-challenge-duration <duration>', env: 'SLUICE_HUB_MAX_CHALLENGE_DURATION', description: 'longest challenge duration of a ledger or virtual channel the hub joins; longer ones are refused (the hub\'s collateral in them would be locked that long on chain, and near 2^48 s no challenge can succeed at all)', default: DEFAULT_CHALLENGE_DURATIONS.ledger[1], defaultText: '30d', parse: challengeDuration }),
  spec({ key: 'objectiveTimeoutMs', flag: '--objective-timeout-ms <ms>', env: 'SLUICE_HUB_OBJECTIVE_TIMEOUT_MS', description: 'report a stalled objective and re-send its messages after this long', default: 30_000, defaultText: '30000', parse: int(100, 86_400_000) }),
  spec({ key: 'prefundTimeoutMs', flag: '--prefund-timeout-ms <ms>', env: 'SLUICE_HUB_PREFUND_TIMEOUT_MS', description: 'give up a virtual channel whose payee has not signed its prefund this long after the hub joined (the hub signs last, so nobody holds a complete prefund; payer and payee are told), or whose prefund is complete but whose guarantee neither ledger proposed this long after its last progress (nothing is locked for it)', default: 60_000, defaultText: '60000', parse: int(1_000, 86_400_000) }),
];

/**
 * commander names a parsed flag after the flag itself (`--asset` → `asset`), which is not always
 * the option's key (`assets`): pick each option's value out of commander's parsed flags by its
 * attribute name, keyed by the option's key (what {@link resolveConfig} takes).
 */
export function flagsByKey(parsed: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const o of OPTIONS) {
    const v = parsed[new Option(o.flag).attributeName()];
    if (v !== undefined) out[o.key] = v;
  }
  return out;
}

/** Flag/env of the config file itself (not settable from the file). */
export const CONFIG_FILE_OPTION = { flag: '--config <file>', env: 'SLUICE_HUB_CONFIG', description: 'JSON config file setting any option below by its camelCase name, e.g. {"rpcUrl": "…", "listen": ["…"], "maxPerChannel": "1000"}' };

export interface ResolveInput {
  /** commander's parsed flags (only the ones given; keys are the camelCase option keys). */
  readonly flags?: Readonly<Record<string, unknown>>;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** The parsed config file. */
  readonly file?: Readonly<Record<string, unknown>>;
}

/**
 * Merge flags, environment, config file and defaults (in that precedence).
 * @returns the config and where each value came from
 * @throws SluiceError INVALID_ARGUMENT naming the flag / variable / file key
 */
export function resolveConfig(input: ResolveInput): { config: HubConfig; sources: Record<ConfigKey, ConfigSource> } {
  const flags = input.flags ?? {};
  const env = input.env ?? {};
  const file = input.file ?? {};
  const known = new Set<string>(OPTIONS.map((o) => o.key));
  for (const k of Object.keys(file)) if (!known.has(k)) throw new SluiceError('INVALID_ARGUMENT', `config file: unknown option "${k}"`);
  const out: Record<string, unknown> = {};
  const sources = {} as Record<ConfigKey, ConfigSource>;
  for (const o of OPTIONS) {
    const flagName = o.flag.split(' ')[0]!;
    const f = flags[o.key];
    const e = env[o.env];
    const fv = file[o.key];
    if (f !== undefined && !(Array.isArray(f) && f.length === 0)) {
      out[o.key] = o.parse(f, flagName);
      sources[o.key] = 'flag';
    } else if (e !== undefined && e !== '') {
      out[o.key] = o.parse(e, o.env);
      sources[o.key] = 'env';
    } else if (fv !== undefined && fv !== null) {
      out[o.key] = o.parse(fv, `config file "${o.key}"`);
      sources[o.key] = 'file';
    } else {
      out[o.key] = o.default;
      sources[o.key] = 'default';
    }
  }
  if (out['minChallengeDuration'] !== undefined && (out['minChallengeDuration'] as number) > (out['maxChallengeDuration'] as number)) {
    throw new SluiceError('INVALID_ARGUMENT', '--min-challenge-duration must not exceed --max-challenge-duration');
  }
  return { config: out as unknown as HubConfig, sources };
}

/**
 * Read a JSON config file.
 * @throws SluiceError INVALID_ARGUMENT
 */
export function readConfigFile(path: string): Record<string, unknown> {
  const json = readJsonFile(path, 'config file');
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new SluiceError('INVALID_ARGUMENT', `config file ${path} must hold a JSON object`);
  return json as Record<string, unknown>;
}

/** An option's help text, in commander's own style: `… (default: X, env: Y)`. */
export function helpText(o: { description: string; env: string; defaultText?: string }): string {
  return `${o.description} (${o.defaultText === undefined ? '' : `default: ${o.defaultText}, `}env: ${o.env})`;
}

function collect(v: string, prev: string[] | undefined): string[] {
  return [...(prev ?? []), v];
}

/** Add `--config` and every option of {@link OPTIONS} to a command (`start`, `settle`). */
export function addConfigOptions(cmd: Command): Command {
  cmd.addOption(new Option(CONFIG_FILE_OPTION.flag, helpText({ ...CONFIG_FILE_OPTION, defaultText: 'none' })));
  for (const o of OPTIONS) {
    const opt = new Option(o.flag, helpText(o));
    if (o.list === true) opt.argParser(collect);
    cmd.addOption(opt);
  }
  return cmd;
}

/**
 * The config a command's parsed flags give, with the environment and the `--config` file (flag,
 * else `SLUICE_HUB_CONFIG`).
 * @throws SluiceError INVALID_ARGUMENT
 */
export function configFromFlags(flags: Readonly<Record<string, unknown>>, env: Readonly<Record<string, string | undefined>>): HubConfig {
  const path = typeof flags['config'] === 'string' ? flags['config'] : env[CONFIG_FILE_OPTION.env];
  const file = path === undefined || path === '' ? {} : readConfigFile(path);
  return resolveConfig({ flags: flagsByKey(flags), env, file }).config;
}
