/**
 * `bench:chaos` self-kills: at every engine event of a node, with probability `p`, the process
 * SIGKILLs itself synchronously inside the listener — half the time in a committed-listener (the
 * step is committed, not yet fsync'd, nothing of it has left the process), half the time once it is
 * durable (its messages may be on their way): crashes at exact protocol points. Used by the chaos
 * payers and payees (`chaos-node.ts`) and the chaos hub (`chaos-hub.ts`).
 */
import type { Node } from '@sluice/channel-core/node';
import { seededRandom } from '@sluice/channel-core/memory';
import { stringifyJson } from '../../packages/channel-core/src/json.ts';

/** Parse `<probability>:<seed>` (env `CHAOS_SELF_KILL`); undefined when unset. */
export function parseSelfKill(spec: string | undefined): { p: number; seed: number } | undefined {
  if (spec === undefined || spec === '') return undefined;
  const [p, seed] = spec.split(':');
  return { p: Number(p), seed: Number(seed ?? 1) >>> 0 };
}

/**
 * Arm self-kills on `node`; returns the switch (the harness arms them once the ledgers are open
 * and disarms them before its checks). `log` writes one line to the process's log.
 */
export function installSelfKill(node: Node, spec: { p: number; seed: number }, log: (line: string) => void): { arm(on: boolean): void } {
  let armed = false;
  const rnd = seededRandom(spec.seed);
  const die = (when: string) => (e: { type: string }): void => {
    if (!armed || rnd() >= spec.p) return;
    log(stringifyJson({ t: new Date().toISOString(), level: 'chaos', msg: `self-kill ${when} ${e.type}`, event: e }));
    process.kill(process.pid, 'SIGKILL');
  };
  node.engine.onCommitted(die('committed'));
  node.onAny(die('durable'));
  return {
    arm(on) {
      armed = on;
    },
  };
}
