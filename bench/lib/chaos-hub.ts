/**
 * The `bench:chaos` hub: `sluice-hub start` (the real CLI, same flags and env), plus self-kills at
 * exact engine steps when CHAOS_SELF_KILL=`<probability>:<seed>` is set (see `self-kill.ts`). A
 * line `arm` or `disarm` on stdin switches them (the harness arms them once the ledgers are open,
 * and again after each restart; it disarms them before its checks).
 */
import { createInterface } from 'node:readline';
import { main } from '@sluice/hub/cli';
import { installSelfKill, parseSelfKill } from './self-kill.ts';

const spec = parseSelfKill(process.env['CHAOS_SELF_KILL']);
process.exitCode = await main(process.argv, undefined, {
  onStarted(hub) {
    if (spec === undefined) return;
    const s = installSelfKill(hub.node, spec, (line) => process.stderr.write(line + '\n'));
    void (async () => {
      for await (const line of createInterface({ input: process.stdin })) s.arm(line.trim() === 'arm');
    })();
  },
});
