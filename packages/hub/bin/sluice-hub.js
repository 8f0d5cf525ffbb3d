#!/usr/bin/env node
// Thin shim: Node >= 22.18 runs the TypeScript entry directly.
import { main } from '../src/cli.ts';
main(process.argv).then((code) => { process.exitCode = code; });
