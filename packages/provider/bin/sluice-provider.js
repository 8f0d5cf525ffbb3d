#!/usr/bin/env node
// Thin shim: Node >= 22.18 runs the TypeScript entry directly. node:sqlite is stable
// enough for our use; keep its ExperimentalWarning out of user output.
const emitWarning = process.emitWarning;
process.emitWarning = function (warning, ...rest) {
  const text = typeof warning === 'string' ? warning : warning?.message;
  if (typeof text === 'string' && text.includes('SQLite is an experimental feature')) return;
  return emitWarning.call(process, warning, ...rest);
};
const { main } = await import('../src/cli.ts');
process.exitCode = await main(process.argv);
