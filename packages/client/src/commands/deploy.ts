/**
 * `sluice deploy` — deploy Sluice's contracts (NitroAdjudicator, ConsensusApp,
 * VirtualPaymentApp, optionally the test ERC20) to any EVM chain and write the deployment file
 * that `sluice-hub start --deployment`, `sluice-provider start --deployment` and
 * `sluice get --deployment` read (format: `@sluice/channel-core/deployment`).
 *
 * The deployer key comes from an encrypted keystore (`--key-file`, passphrase from
 * `$SLUICE_PASSPHRASE` or a TTY prompt) or, on a local chain only (31337/1337), one of anvil's
 * funded dev accounts (`--dev-account`).
 */
import { resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { SluiceError } from '@sluice/channel-core';
import type { Deployment } from '@sluice/channel-core/deployment';
import { readRpcChainId } from '@sluice/channel-core/rpc';
import { type CommandIo, type CommandResult, addConfigFileOption, getPassphrase, reportError } from './io.ts';

interface DeployOptions {
  rpcUrl: string;
  chainId?: number;
  keyFile?: string;
  devAccount?: number;
  token: boolean;
  out: string;
  confirmations: number;
  timeout: number;
  json: boolean;
}

function nonNegInt(name: string, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n > max) throw new InvalidArgumentError(`${name} must be an integer 0..${max}`);
    return n;
  };
}

/** Register `sluice deploy` on `program`. */
export function addDeployCommand(program: Command, io: CommandIo, result: CommandResult, signal: AbortSignal): void {
  const cmd = program
    .command('deploy')
    .description('deploy the Sluice contracts to a chain and write the deployment file the hub, provider and client read. Precedence: flag > env > config file > default')
    .addOption(new Option('--rpc-url <url>', 'JSON-RPC URL of the chain').env('SLUICE_RPC_URL').default('http://127.0.0.1:8545'))
    .addOption(new Option('--chain-id <id>', 'expected chain id; refuse to deploy if the RPC serves another chain (default: whatever the RPC serves)').env('SLUICE_CHAIN_ID').argParser(nonNegInt('chain-id')))
    .addOption(new Option('--key-file <file>', 'encrypted JSON keystore of the deployer (see `sluice keys`); passphrase from $SLUICE_PASSPHRASE or a TTY prompt, never a flag').env('SLUICE_KEY_FILE'))
    .addOption(new Option('--dev-account <n>', "use anvil's funded dev account n (0-9) as the deployer; refused unless the chain is local (31337 or 1337)").env('SLUICE_DEV_ACCOUNT').argParser(nonNegInt('dev-account', 9)))
    .addOption(new Option('--token', 'also deploy the test ERC20 (TestToken) and record it as "token"').env('SLUICE_DEPLOY_TOKEN').default(false))
    .addOption(new Option('--out <file>', 'where to write the deployment file (atomically)').env('SLUICE_DEPLOYMENT').default('deployment.json'))
    .addOption(new Option('--confirmations <n>', 'blocks each deployment must be deep before the next').env('SLUICE_CONFIRMATIONS').default(1).argParser((v) => { const n = nonNegInt('confirmations', 64)(v); if (n < 1) throw new InvalidArgumentError('confirmations must be 1..64'); return n; }))
    .addOption(new Option('--timeout <ms>', 'give up on one deployment transaction after this long').env('SLUICE_DEPLOY_TIMEOUT_MS').default(120_000).argParser(nonNegInt('timeout')))
    .option('--json', 'print {"ok", "out", "deployment"} as one JSON line', false);
  addConfigFileOption(cmd, 'SLUICE_DEPLOY_CONFIG');
  cmd.action(async () => {
    const opts = cmd.opts<DeployOptions>();
    try {
      const out = resolve(opts.out);
      const deployment = await deploy(opts, signal);
      const { writeDeployment } = await import('@sluice/channel-core/deployment');
      writeDeployment(out, deployment);
      if (opts.json) io.stdout.write(`${JSON.stringify({ ok: true, out, deployment })}\n`);
      else {
        io.stdout.write(`wrote ${out}\n`);
        for (const [k, v] of Object.entries(deployment)) io.stdout.write(`  ${k.padEnd(18)} ${String(v)}\n`);
      }
    } catch (e) {
      result.code = e instanceof SluiceError && e.code === 'INVALID_ARGUMENT' ? 2 : e instanceof SluiceError && e.code === 'ABORTED' ? 130 : 1;
      reportError(io, opts.json, e, result.code);
    }
  });
}

async function deploy(opts: DeployOptions, signal: AbortSignal): Promise<Deployment> {
  // Loaded here, not at start-up: `sluice get` and `--help` should not pay for ethers and the artifacts.
  const [{ JsonRpcProvider, Wallet }, { bytesToHex }, { devAccount, readKeyFile }, { deployNitro }, { loadArtifact }] = await Promise.all([
    import('ethers'),
    import('@sluice/channel-core'),
    import('@sluice/channel-core/keys'),
    import('@sluice/channel-core/ethers'),
    import('@sluice/contracts'),
  ]);
  if ((opts.keyFile === undefined) === (opts.devAccount === undefined)) {
    throw new SluiceError('INVALID_ARGUMENT', 'give exactly one deployer: --key-file <file> or --dev-account <n> (local chains only)');
  }
  const provider = new JsonRpcProvider(opts.rpcUrl, undefined, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 100 });
  try {
    const chainId = await readRpcChainId(opts.rpcUrl);
    if (opts.chainId !== undefined && BigInt(opts.chainId) !== chainId) {
      throw new SluiceError('INVALID_ARGUMENT', `the RPC serves chain ${chainId}, not --chain-id ${opts.chainId}`);
    }
    const key = opts.devAccount !== undefined
      ? devAccount(opts.devAccount, chainId).privateKey
      : (await readKeyFile(resolve(opts.keyFile!), await getPassphrase(`passphrase for ${opts.keyFile!}: `))).privateKey;
    const signer = new Wallet(bytesToHex(key), provider);
    const d = await deployNitro(
      signer,
      {
        adjudicator: loadArtifact('NitroAdjudicator'),
        consensusApp: loadArtifact('ConsensusApp'),
        virtualPaymentApp: loadArtifact('VirtualPaymentApp'),
        ...(opts.token ? { testToken: loadArtifact('TestToken') } : {}),
      },
      { confirmations: opts.confirmations, timeoutMs: opts.timeout, signal },
    );
    if (d.consensusApp === undefined || d.virtualPaymentApp === undefined) throw new SluiceError('CHAIN_RPC', 'deployment incomplete');
    return {
      chainId: Number(chainId),
      adjudicator: d.adjudicator,
      consensusApp: d.consensusApp,
      virtualPaymentApp: d.virtualPaymentApp,
      ...(d.testToken === undefined ? {} : { token: d.testToken }),
      deployBlock: d.deployBlock,
    };
  } finally {
    provider.destroy();
  }
}
