/**
 * A `bench:hub` load worker thread: its share of the clients (each a full node with its own
 * libp2p node and sqlite file), their ledgers with the hub, then the throughput loop on command.
 * Warnings they log while the loop runs are counted and reported like the bench process's own.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createNode, type Node } from '@sluice/channel-core/node';
import { threadId } from 'node:worker_threads';
import { FundedTracker, countingLogger, driveLoad, windowProfiler, type FromWorker, type ToWorker, type WorkerSetup } from './hub-load.ts';

const setup = workerData as WorkerSetup;
const port = parentPort!;
const post = (m: FromWorker): void => port.postMessage(m);
const funded = new FundedTracker();
const warnings = new Map<string, number>();
let counting = false;

const logger = countingLogger('client', warnings, () => counting);

const clients: Node[] = setup.clients.map((c) => createNode({ ...setup.node, privateKey: c.key, store: c.storePath, ...(c.peers === undefined ? {} : { peers: c.peers }) }, { logger }));

port.on('message', (m: ToWorker) => {
  if (m.type === 'funded') funded.funded(m.channelId);
  else if (m.type === 'run') {
    counting = true;
    const prof = windowProfiler(`payers-thread-${threadId}`);
    void prof.start().then(() => driveLoad(clients, (i) => setup.clients[i]!.payee, funded, BigInt(setup.amount), m.deadline)).then(
      async (result) => {
        counting = false;
        await prof.stop();
        post({ type: 'done', result, warnings: [...warnings] });
      },
      (e: unknown) => post({ type: 'failed', message: e instanceof Error ? e.message : String(e) }),
    );
  } else if (m.type === 'stop') {
    void Promise.allSettled(clients.map((c) => c.stop())).then(() => post({ type: 'stopped' }));
  }
});

try {
  await Promise.all(clients.map((c) => c.start()));
  await Promise.all(clients.map((a) => a.createLedgerChannel({ counterparty: setup.hubAddress, deposit: BigInt(setup.deposit) })));
  post({ type: 'ready' });
} catch (e) {
  post({ type: 'failed', message: e instanceof Error ? e.message : String(e) });
}
