/**
 * The hub benchmarks' chain set-up: the Sluice contracts deployed to a local anvil by its first
 * dev account, and the deployment file `sluice-hub start --deployment` reads, written in `dir`.
 */
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { JsonRpcProvider, Wallet } from 'ethers';
import type { Anvil } from '@sluice/contracts/anvil';
import { loadArtifact } from '@sluice/contracts';
import { deployNitro } from '@sluice/channel-core/ethers';

export type LocalDeployment = Awaited<ReturnType<typeof deployNitro>>;

/** @param opts.testToken - also deploy the test ERC20 (`mint` is open to anyone), named in the deployment file as `token` (the hub then keeps ledgers in it) */
export async function deployLocal(anvil: Anvil, dir: string, opts: { testToken?: boolean } = {}): Promise<{ d: LocalDeployment; deploymentFile: string }> {
  const provider = new JsonRpcProvider(anvil.rpcUrl, 31337, { staticNetwork: true, cacheTimeout: -1, pollingInterval: 50 });
  try {
    const d = await deployNitro(new Wallet(anvil.accounts[0]!, provider), {
      adjudicator: loadArtifact('NitroAdjudicator'),
      consensusApp: loadArtifact('ConsensusApp'),
      virtualPaymentApp: loadArtifact('VirtualPaymentApp'),
      ...(opts.testToken === true ? { testToken: loadArtifact('TestToken') } : {}),
    });
    const deploymentFile = join(dir, 'deployment.json');
    writeFileSync(deploymentFile, JSON.stringify({ chainId: 31337, adjudicator: d.adjudicator, consensusApp: d.consensusApp, virtualPaymentApp: d.virtualPaymentApp, deployBlock: d.deployBlock, ...(d.testToken === undefined ? {} : { token: d.testToken }) }));
    return { d, deploymentFile };
  } finally {
    provider.destroy();
  }
}
