/**
 * The multiaddrs file metadata advertises: a node listening on every interface reports loopback,
 * container bridges and link-local addresses too, and possibly more than a client takes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_MULTIADDRS, MAX_MULTIADDR_LENGTH, advertisedMultiaddrs, multiaddrReach } from '../src/wire/index.ts';

const P = '/tcp/4001/p2p/16Uiu2HAmBob';

describe('advertised multiaddrs', () => {
  it('classifies public, private, loopback and unspecified addresses', () => {
    const cases: [string, ReturnType<typeof multiaddrReach>][] = [
      ['/ip4/203.0.113.7', 0],
      ['/dns4/provider.example.com', 0],
      ['/ip6/2001:db8::1', 0],
      ['/ip4/10.1.2.3', 1],
      ['/ip4/172.17.0.1', 1],
      ['/ip4/172.32.0.1', 0],
      ['/ip4/192.168.1.20', 1],
      ['/ip4/169.254.3.4', 1],
      ['/ip4/100.64.0.1', 1],
      ['/ip6/fe80::1', 1],
      ['/ip6/fd00::2', 1],
      ['/ip4/127.0.0.1', 2],
      ['/ip4/127.5.5.5', 2],
      ['/ip6/::1', 2],
      ['/ip4/0.0.0.0', undefined],
      ['/ip6/::', undefined],
    ];
    for (const [host, reach] of cases) assert.equal(multiaddrReach(`${host}${P}`), reach, host);
  });

  it('puts public before private before loopback, drops junk and duplicates, keeps at most 8', () => {
    const addrs = [
      `/ip4/127.0.0.1${P}`,
      `/ip6/::1${P}`,
      `/ip4/0.0.0.0${P}`,
      `/ip4/172.17.0.1${P}`,
      `/ip4/203.0.113.7${P}`,
      `/ip4/203.0.113.7${P}`,
      'not-a-multiaddr',
      `/ip4/1.2.3.4/tcp/1/${'x'.repeat(MAX_MULTIADDR_LENGTH)}`,
      ...Array.from({ length: 10 }, (_, i) => `/ip4/10.0.0.${i + 1}${P}`),
    ];
    const out = advertisedMultiaddrs(addrs);
    assert.equal(out.length, MAX_MULTIADDRS);
    assert.deepEqual(out, [`/ip4/203.0.113.7${P}`, `/ip4/172.17.0.1${P}`, ...Array.from({ length: 6 }, (_, i) => `/ip4/10.0.0.${i + 1}${P}`)]);
  });

  it('keeps loopback when that is all there is (one machine, tests, the demo)', () => {
    assert.deepEqual(advertisedMultiaddrs([`/ip4/127.0.0.1${P}`, `/ip6/::1${P}`]), [`/ip4/127.0.0.1${P}`, `/ip6/::1${P}`]);
    assert.deepEqual(advertisedMultiaddrs([]), []);
  });
});

describe('multiaddr flags (--hub-multiaddr, --listen, --announce)', () => {
  it('take repeated values and comma-separated lists (how their environment variables give several); refuse non-multiaddrs', async () => {
    const { multiaddrList, defaultList, addChainNodeOptions, addConfigFileOption } = await import('../src/node-setup-options.ts');
    // a given value replaces the default (it used to be added to it: an extra loopback listener)
    assert.deepEqual(multiaddrList('/ip4/0.0.0.0/tcp/4002', defaultList(['/ip4/127.0.0.1/tcp/0'])), ['/ip4/0.0.0.0/tcp/4002']);
    const { Command } = await import('commander');
    const parse = async (args: string[], config?: unknown): Promise<Record<string, unknown>> => {
      const cmd = addConfigFileOption(addChainNodeOptions(new Command('t').exitOverride()), 'T_CONFIG');
      let got: Record<string, unknown> = {};
      cmd.action((o: Record<string, unknown>) => void (got = o));
      const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
      const { tmpdir } = await import('node:os');
      const { join } = await import('node:path');
      const dir = config === undefined ? undefined : mkdtempSync(join(tmpdir(), 'sluice-cfg-'));
      try {
        if (dir !== undefined) {
          writeFileSync(join(dir, 'c.json'), JSON.stringify(config));
          args = [...args, '--config', join(dir, 'c.json')];
        }
        await cmd.parseAsync(['node', 't', ...args]);
      } finally {
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
      return got;
    };
    assert.deepEqual((await parse([]))['listen'], ['/ip4/127.0.0.1/tcp/0']);
    assert.deepEqual((await parse(['--listen', '/ip4/0.0.0.0/tcp/1', '--listen', '/ip4/0.0.0.0/tcp/2']))['listen'], ['/ip4/0.0.0.0/tcp/1', '/ip4/0.0.0.0/tcp/2']);
    // a JSON config file may give a list as an array
    assert.deepEqual((await parse([], { listen: ['/ip4/0.0.0.0/tcp/3', '/ip4/0.0.0.0/tcp/4'] }))['listen'], ['/ip4/0.0.0.0/tcp/3', '/ip4/0.0.0.0/tcp/4']);
    assert.deepEqual(multiaddrList('/ip4/1.2.3.4/tcp/1', undefined), ['/ip4/1.2.3.4/tcp/1']);
    assert.deepEqual(multiaddrList('/ip4/5.6.7.8/tcp/2, /dns4/hub.example/tcp/3', ['/ip4/1.2.3.4/tcp/1']), ['/ip4/1.2.3.4/tcp/1', '/ip4/5.6.7.8/tcp/2', '/dns4/hub.example/tcp/3']);
    for (const bad of ['', ' , ', 'ip4/1.2.3.4', '/ip4/1.2.3.4/tcp/1,nope', `/${'x'.repeat(MAX_MULTIADDR_LENGTH)}`]) {
      assert.throws(() => multiaddrList(bad, []), { code: 'commander.invalidArgument' }, JSON.stringify(bad));
    }
  });
});

describe('challenge duration flags (--ledger-challenge-duration, --virtual-challenge-duration)', () => {
  it('are seconds, from 1m to 365d; the virtual one only where the node opens virtual channels; none where it opens nothing', async () => {
    const { addChainNodeOptions } = await import('../src/node-setup-options.ts');
    const { Command } = await import('commander');
    const parse = async (opens: 'ledger' | 'ledger+virtual' | undefined, args: string[], env: Record<string, string> = {}): Promise<Record<string, unknown>> => {
      const cmd = addChainNodeOptions(new Command('t').exitOverride().configureOutput({ writeErr: () => {} }), 'T_', opens === undefined ? {} : { opens });
      let got: Record<string, unknown> = {};
      cmd.action((o: Record<string, unknown>) => void (got = o));
      const saved = { ...process.env };
      Object.assign(process.env, env);
      try {
        await cmd.parseAsync(['node', 't', ...args]);
      } finally {
        for (const k of Object.keys(env)) if (saved[k] === undefined) delete process.env[k];
      }
      return got;
    };
    const both = await parse('ledger+virtual', ['--ledger-challenge-duration', '2d', '--virtual-challenge-duration', '90m']);
    assert.deepEqual([both['ledgerChallengeDuration'], both['virtualChallengeDuration']], [172_800, 5_400]);
    const defaults = await parse('ledger+virtual', []);
    assert.deepEqual([defaults['ledgerChallengeDuration'], defaults['virtualChallengeDuration']], [undefined, undefined], "left out: the node's defaults");
    assert.equal((await parse('ledger', [], { T_LEDGER_CHALLENGE_DURATION: '12h' }))['ledgerChallengeDuration'], 43_200);
    await assert.rejects(parse('ledger', ['--virtual-challenge-duration', '1h']), { code: 'commander.unknownOption' });
    await assert.rejects(parse(undefined, ['--ledger-challenge-duration', '1d']), { code: 'commander.unknownOption' });
    for (const bad of ['0m', '30s', '366d', 'forever', '1w']) {
      await assert.rejects(parse('ledger', ['--ledger-challenge-duration', bad]), { code: 'commander.invalidArgument' }, bad);
    }
  });
});

describe('shortChallengeWarnings', () => {
  it('warns only for a given duration shorter than what our node joins', async () => {
    const { shortChallengeWarnings } = await import('../src/node-setup.ts');
    const node = { confirmations: 12, challengeDurations: { ledger: [360, 2_592_000], virtual: [360, 2_592_000] } as const };
    assert.deepEqual(shortChallengeWarnings(node, {}), [], 'the defaults (1d, 1h) are not checked');
    assert.deepEqual(shortChallengeWarnings(node, { ledger: 86_400, virtual: 360 }), []);
    const [w, ...rest] = shortChallengeWarnings(node, { ledger: 300, virtual: 3_600 });
    assert.equal(rest.length, 0);
    assert.match(w ?? '', /^warning: our ledger's challenge duration, 300 s, is shorter than our node accepts from others \(360 s at 12 confirmation\(s\)\)/);
    assert.match(shortChallengeWarnings(node, { virtual: 60 })[0] ?? '', /our virtual channels' challenge duration, 60 s/);
  });
});
