#!/usr/bin/env node
// Thin shim: Node >= 22.18 runs the TypeScript entry directly.
// node:sqlite's ExperimentalWarning is noise in the hub's JSON logs; other warnings still print.
const original = process.listeners('warning');
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name === 'ExperimentalWarning' && /SQLite/.test(w.message)) return;
  for (const l of original) l(w);
});
const { main } = await import('../src/cli.ts');
main(process.argv).then((code) => { process.exitCode = code; });
