/**
 * A `bench:chaos` node (payer or payee) in its own process, driven over stdin/stdout with one
 * tagged-JSON line per request/response (`{"id":1,"method":"payAsync","params":[...]}`), like
 * test/e2e/node-process.ts, with the calls the real client and provider make (`payAsync`,
 * `receiveVoucherAsync`: durable before they resolve) and the queries the chaos checks need.
 * Warnings and errors of the node go to stderr as JSON lines (the parent keeps them in a log).
 *
 * Env: SLUICE_NODE_INIT — the NodeInit (tagged JSON); CHAOS_SELF_KILL — optional
 * `<probability>:<seed>`: at every engine event, with that probability, the process SIGKILLs
 * itself synchronously inside the listener — half the time in a committed-listener (the step is
 * committed, not yet fsync'd, nothing of it has left the process), half the time once it is
 * durable (its messages may be on their way) — crashes at exact protocol points.
 */
import { createNode, type NodeInit } from '@sluice/channel-core/node';
import { serveStdio, writeStdioLine as write, type StdioMethods } from '@sluice/channel-core/node/stdio';
import { parseJson, stringifyJson } from '../../packages/channel-core/src/json.ts';

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
let armed = false; // the harness arms it (`arm`) once the ledgers are open, disarms it before the checks
const selfKill = process.env['CHAOS_SELF_KILL']?.split(':');
if (selfKill !== undefined) {
  const p = Number(selfKill[0]);
  let a = Number(selfKill[1] ?? 1) >>> 0;
  const rnd = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const die = (when: string) => (e: { type: string }): void => {
    if (!armed || rnd() >= p) return;
    process.stderr.write(stringifyJson({ t: new Date().toISOString(), level: 'chaos', msg: `self-kill ${when} ${e.type}`, event: e }) + '\n');
    process.kill(process.pid, 'SIGKILL');
  };
  node.engine.onCommitted(die('committed'));
  node.onAny(die('durable'));
}
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
  arm: (on: never) => void (armed = on),
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
