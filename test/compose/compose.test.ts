/**
 * docker-compose.yml and the Dockerfile, checked without Docker: the compose file is parsed with
 * `yaml`, the services, their order (depends_on), the shared volume and the deployment path must
 * line up, and every CLI invocation in a service command — exec form or inside `sh -c` — must
 * name a subcommand and flags that the real CLI's `--help` lists (anvil's too).
 */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { devAccount } from '@sluice/channel-core/keys';
import { libp2pPrivateKey } from '@sluice/channel-core/libp2p';
import { anvilBinaryPath } from '@sluice/contracts/anvil';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const BINS: Record<string, string> = {
  sluice: `${ROOT}packages/client/bin/sluice.js`,
  'sluice-hub': `${ROOT}packages/hub/bin/sluice-hub.js`,
  'sluice-provider': `${ROOT}packages/provider/bin/sluice-provider.js`,
};

interface Service {
  command?: string[] | string;
  depends_on?: Record<string, { condition: string }>;
  volumes?: string[];
  profiles?: string[];
  networks?: Record<string, { ipv4_address?: string } | null>;
  healthcheck?: { test: string[] };
  restart?: string;
}
interface Compose {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
  networks: Record<string, unknown>;
}

/** Split a shell word list (no expansions evaluated; quotes removed). */
function shellWords(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      assert.ok(end > i, `unbalanced quote in: ${s}`);
      cur += s.slice(i + 1, end);
      i = end;
      inWord = true;
    } else if (/\s/.test(c)) {
      if (inWord) out.push(cur);
      cur = '';
      inWord = false;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) out.push(cur);
  return out;
}

/** The CLI invocations in a command: the exec form itself, or each `&&`/`||`/`;` segment of `sh -c`. */
function invocations(command: string[] | string | undefined): string[][] {
  if (command === undefined) return [];
  const argv = typeof command === 'string' ? shellWords(command) : command;
  if (argv[0] === 'sh' && argv[1] === '-c') {
    const script = argv[2] ?? '';
    // split on shell operators outside quotes
    const segments: string[] = [];
    let cur = '';
    let quote: string | undefined;
    for (let i = 0; i < script.length; i++) {
      const c = script[i]!;
      if (quote !== undefined) {
        if (c === quote) quote = undefined;
        cur += c;
      } else if (c === '"' || c === "'") {
        quote = c;
        cur += c;
      } else if ((c === '&' && script[i + 1] === '&') || (c === '|' && script[i + 1] === '|')) {
        segments.push(cur);
        cur = '';
        i++;
      } else if (c === ';' || c === '(' || c === ')') {
        segments.push(cur);
        cur = '';
      } else cur += c;
    }
    segments.push(cur);
    return segments
      .map((seg) => shellWords(seg.replace(/\s>\s*\S+\s*$/, ' ')))
      .map((w) => (w[0] === 'exec' ? w.slice(1) : w))
      .filter((w) => w.length > 0);
  }
  return [argv];
}

const helpCache = new Map<string, string>();
async function help(bin: string, args: string[]): Promise<string> {
  const key = `${bin} ${args.join(' ')}`;
  let h = helpCache.get(key);
  if (h === undefined) {
    const file = bin === 'anvil' ? anvilBinaryPath() : process.execPath;
    const argv = bin === 'anvil' ? ['--help'] : [BINS[bin]!, ...args, '--help'];
    h = (await run(file, argv, { maxBuffer: 8 * 1024 * 1024 })).stdout;
    helpCache.set(key, h);
  }
  return h;
}

/** Long flags documented in a --help text. */
function flagsIn(text: string): Set<string> {
  return new Set([...text.matchAll(/(?:^|[\s,[])(--[a-z0-9][a-z0-9-]*)/gm)].map((m) => m[1]!));
}

/** `--flag` tokens of an invocation (`--flag=value` counts as `--flag`). */
function usedFlags(words: string[]): string[] {
  return words.filter((w) => w.startsWith('--')).map((w) => w.split('=')[0]!);
}

function flagValue(words: string[], flag: string): string | undefined {
  const i = words.indexOf(flag);
  return i < 0 ? undefined : words[i + 1];
}

describe('docker-compose.yml', () => {
  let compose: Compose;
  let all: { service: string; words: string[] }[];
  before(() => {
    compose = parse(readFileSync(`${ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as Compose;
    all = Object.entries(compose.services).flatMap(([service, s]) => invocations(s.command).map((words) => ({ service, words })));
  });

  it('has the chain, deploy, hub and provider services, and a client behind a profile', () => {
    assert.deepEqual(Object.keys(compose.services).sort(), ['chain', 'client', 'deploy', 'hub', 'provider']);
    assert.deepEqual(compose.services['client']!.profiles, ['client']);
    for (const s of ['chain', 'deploy', 'hub', 'provider']) assert.equal(compose.services[s]!.profiles, undefined, s);
    assert.equal(compose.services['deploy']!.restart, 'no', 'deploy is one-shot');
  });

  it('starts them in order: chain healthy → deploy done → hub healthy → provider healthy → client', () => {
    const dep = (s: string): Record<string, { condition: string }> => compose.services[s]!.depends_on ?? {};
    assert.deepEqual(dep('deploy'), { chain: { condition: 'service_healthy' } });
    assert.deepEqual(dep('hub'), { deploy: { condition: 'service_completed_successfully' } });
    assert.deepEqual(dep('provider'), { hub: { condition: 'service_healthy' } });
    assert.deepEqual(dep('client'), { provider: { condition: 'service_healthy' } });
    for (const s of ['chain', 'hub', 'provider']) assert.ok(compose.services[s]!.healthcheck !== undefined, `${s} has a healthcheck`);
  });

  it('shares one volume: deploy writes the deployment file where hub, provider and client read it', () => {
    assert.ok('shared' in compose.volumes);
    for (const [name, s] of Object.entries(compose.services)) assert.ok(s.volumes?.includes('shared:/shared'), `${name} mounts shared:/shared`);
    const deploy = all.find((x) => x.service === 'deploy' && x.words[0] === 'sluice' && x.words[1] === 'deploy');
    assert.ok(deploy, 'deploy runs `sluice deploy`');
    const out = flagValue(deploy.words, '--out');
    assert.match(out ?? '', /^\/shared\//);
    for (const svc of ['hub', 'provider', 'client']) {
      const inv = all.find((x) => x.service === svc && flagValue(x.words, '--deployment') !== undefined);
      assert.ok(inv, `${svc} is given --deployment`);
      assert.equal(flagValue(inv.words, '--deployment'), out, `${svc} reads the file deploy writes`);
      assert.equal(flagValue(inv.words, '--rpc-url'), 'http://chain:8545', `${svc} talks to the chain service`);
    }
    const catalog = all.find((x) => x.service === 'provider' && x.words[1] === 'add');
    assert.ok(catalog, 'provider imports a sample file');
    assert.match(String((compose.services['provider']!.command as string[])[2]), /> \/shared\/catalog\.json/);
    assert.match(String((compose.services['client']!.command as string[])[2]), /\/shared\/catalog\.json/);
  });

  it('every CLI invocation uses a subcommand and flags the real CLI documents in --help', async () => {
    const seen = new Set<string>();
    for (const { service, words } of all) {
      const bin = words[0]!;
      if (!(bin in BINS) && bin !== 'anvil') continue;
      seen.add(bin);
      let documented: Set<string>;
      if (bin === 'anvil') documented = flagsIn(await help('anvil', []));
      else {
        const sub = words[1]!;
        const top = await help(bin, []);
        assert.match(top, new RegExp(`^\\s+${sub}\\b`, 'm'), `${service}: \`${bin} ${sub}\` is a command of ${bin}`);
        documented = flagsIn(await help(bin, [sub]));
      }
      for (const f of usedFlags(words)) assert.ok(documented.has(f), `${service}: ${bin} ${words[1]} has no ${f} in its --help`);
    }
    assert.deepEqual([...seen].sort(), ['anvil', 'sluice', 'sluice-hub', 'sluice-provider']);
  });

  it('the provider and client reach the hub at its fixed address, as the key it runs with', () => {
    const hubIp = compose.services['hub']!.networks?.['sluice']?.ipv4_address;
    assert.ok(hubIp !== undefined);
    const hub = all.find((x) => x.service === 'hub')!.words;
    assert.equal(flagValue(hub, '--announce'), `/ip4/${hubIp}/tcp/4001`);
    const dev = devAccount(Number(flagValue(hub, '--dev-account')), 31337n);
    const peerId = peerIdFromPrivateKey(libp2pPrivateKey(dev.privateKey)).toString();
    const provider = all.find((x) => x.service === 'provider' && x.words[1] === 'start')!.words;
    assert.equal(flagValue(provider, '--hub-address'), dev.address);
    assert.equal(flagValue(provider, '--hub-multiaddr'), `/ip4/${hubIp}/tcp/4001/p2p/${peerId}`);
    const chain = all.find((x) => x.service === 'deploy')!.words;
    assert.equal(flagValue(chain, '--chain-id'), '31337', 'dev accounts only on a local chain');
  });
});

describe('Dockerfile', () => {
  it('builds the workspace on node:24-bookworm-slim with npm ci, copying every workspace manifest first', () => {
    const text = readFileSync(`${ROOT}Dockerfile`, 'utf8');
    assert.match(text, /^FROM node:24-bookworm-slim$/m);
    assert.match(text, /^RUN npm ci\b/m);
    const workspaces = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { workspaces: string[] }).workspaces;
    const ci = text.indexOf('RUN npm ci');
    for (const w of workspaces) {
      const at = text.indexOf(`COPY ${w}/package.json`);
      assert.ok(at >= 0 && at < ci, `${w}/package.json is copied before npm ci`);
    }
    const patches = text.indexOf('COPY patches/ patches/');
    assert.ok(patches >= 0 && patches < ci, 'patches/ is copied before npm ci (its postinstall applies them)');
    assert.ok(text.indexOf('COPY . .') > ci);
    const ignore = readFileSync(`${ROOT}.dockerignore`, 'utf8');
    assert.match(ignore, /^node_modules$/m);
  });
});
