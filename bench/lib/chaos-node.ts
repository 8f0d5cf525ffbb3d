/**
 * A `bench:chaos` node (payer or payee) in its own process, driven over stdin/stdout with one
 * tagged-JSON line per request/response (`{"id":1,"method":"payAsync","params":[...]}`), like
 * test/e2e/node-process.ts, with the calls the real client and provider make (`payAsync`,
 * `receiveVoucherAsync`: durable before they resolve) and the queries the chaos checks need.
 * Warnings and errors of the node go to stderr as JSON lines (the parent keeps them in a log).
 *
 * Env: SLUICE_NODE_INIT — the NodeInit (tagged JSON); CHAOS_SELF_KILL — optional
 * `<probability>:<seed>`: self-kills at exact protocol points (`self-kill.ts`).
 */
import { createNode, type NodeInit } from '@sluice/channel-core/node';
import { serveStdio, writeStdioLine as write, type StdioMethods } from '@sluice/channel-core/node/stdio';
import { parseJson, stringifyJson } from '../../packages/channel-core/src/json.ts';
import { installSelfKill, parseSelfKill } from './self-kill.ts';

const init = parseJson(process.env['SLUICE_NODE_INIT'] ?? '') as NodeInit;
const line = (level: string) => (obj: object, msg: string): void => {
  try {
    process.stderr.write(stringifyJson({ t: new Date().toISOString(), level, msg, ...obj }) + '\n');
  } catch {
    process.stderr.write(`${level} ${msg}\n`);
  }
};
const node = createNode(init, { logger: { debug() {}, info() {}, warn: line('warn'), error: line('error') } });
node.onAny((e) => {
  if (e.type === 'objectiveFailed' || e.type === 'objectiveStalled' || e.type === 'fallbackTransaction' || e.type === 'challengeRegistered' || e.type === 'fallbackStarted' || e.type === 'payout') line('event')(e, e.type);
});

await node.start();
// the harness arms self-kills (`arm`) once the ledgers are open, and disarms them before the checks
const selfKill = parseSelfKill(process.env['CHAOS_SELF_KILL']);
const switchKills = selfKill === undefined ? undefined : installSelfKill(node, selfKill, (l) => process.stderr.write(l + '\n'));
write({ ready: { address: node.address, multiaddrs: node.multiaddrs() } });

const methods: StdioMethods = {
  createLedgerChannel: (a: never, o: never) => node.createLedgerChannel(a, o),
  topUpLedgerChannel: (a: never, o: never) => node.topUpLedgerChannel(a, o),
  createVirtualChannel: (a: never, o: never) => node.createVirtualChannel(a, o),
  payAsync: (id: never, increase: never) => node.payAsync(id, increase),
  receiveVoucherAsync: (v: never, o: never) => node.receiveVoucherAsync(v, o),
  closeVirtualChannel: (id: never, o: never) => node.closeVirtualChannel(id, o),
  closeLedgerChannel: (id: never, o: never) => node.closeLedgerChannel(id, o),
  settleVirtualChannel: (id: never, o: never) => node.settleVirtualChannel(id, o),
  exitLedgerChannel: (id: never, o: never) => node.exitLedgerChannel(id, o),
  arm: (on: never) => switchKills?.arm(on),
  getDisputes: () => node.getDisputes(),
  getLedgerChannels: () => node.getLedgerChannels(),
  getVirtualChannels: () => node.getVirtualChannels(),
  getVirtualChannel: (id: never) => node.getVirtualChannel(id),
  /** `<objective id> <what it waits for>` of every objective in progress. */
  activeObjectives: () => node.engine.activeObjectives().map((o) => `${o.id} ${node.engine.objective(o.id)?.waitingFor ?? '?'}`),
  stop: async () => {
    await node.stop();
    setImmediate(() => process.exit(0));
    return true;
  },
};

await serveStdio(methods);
