/**
 * A Sluice node in its own process, driven over stdin/stdout with one tagged-JSON line per
 * request/response (`{"id":1,"method":"createLedgerChannel","params":[...]}`), and every
 * engine event written as `{"event":{...}}`. Used by the kill/restart suite.
 *
 * Env: SLUICE_NODE_INIT — the NodeInit (tagged JSON); SLUICE_KILL_ON — optional
 * `<eventType>:<objectiveId prefix>[:<waitingFor>]`: the process SIGKILLs itself, synchronously
 * inside the event listener, the first time a matching event is emitted (a crash at an exact
 * point of an objective, with whatever is committed at that point).
 */
import { createNode, type NodeInit } from '@sluice/channel-core/node';
import { serveStdio, writeStdioLine as write, type StdioMethods } from '@sluice/channel-core/node/stdio';
import { parseJson } from '../../packages/channel-core/src/json.ts';

const init = parseJson(process.env['SLUICE_NODE_INIT'] ?? '') as NodeInit;
const killOn = process.env['SLUICE_KILL_ON']?.split(':');
const node = createNode(init);

node.onAny((e) => {
  write({ event: e });
  if (killOn !== undefined && e.type === killOn[0] && 'objectiveId' in e && e.objectiveId.startsWith(killOn[1] ?? '')) {
    if (killOn[2] === undefined || ('waitingFor' in e && e.waitingFor === killOn[2])) process.kill(process.pid, 'SIGKILL');
  }
});

await node.start();
write({ ready: { address: node.address, multiaddrs: node.multiaddrs() } });

const methods: StdioMethods = {
  createLedgerChannel: (a: never, o: never) => node.createLedgerChannel(a, o),
  createVirtualChannel: (a: never, o: never) => node.createVirtualChannel(a, o),
  receiveVoucher: (v: never, o: never) => node.receiveVoucher(v, o),
  pay: (id: never, increase: never) => node.pay(id, increase),
  closeVirtualChannel: (id: never) => node.closeVirtualChannel(id),
  closeLedgerChannel: (id: never) => node.closeLedgerChannel(id),
  settleVirtualChannel: (id: never, o: never) => node.settleVirtualChannel(id, o),
  exitLedgerChannel: (id: never, o: never) => node.exitLedgerChannel(id, o),
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
