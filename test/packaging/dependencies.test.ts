/**
 * Every package imports at run time only what its package.json lists under `dependencies`:
 * a devDependency (or an undeclared package that the monorepo happens to hoist) works here and
 * breaks for anyone who installs the package on its own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGES = ['packages/channel-core', 'packages/provider', 'packages/client', 'packages/hub', 'contracts'];
const BUILTIN = new Set(builtinModules);

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) return sources(p);
    return /\.ts$/.test(name) && !/\.d\.ts$/.test(name) ? [p] : [];
  });
}

/** Bare specifiers a file imports (static, dynamic, re-exports), type-only imports left out. */
function importsOf(text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+'([^']+)'/gm)) if (m[2] === undefined) out.push(m[3]!);
  for (const m of text.matchAll(/^\s*import\s+'([^']+)'/gm)) out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*'([^']+)'\s*\)/g)) out.push(m[1]!);
  return out.filter((s) => !s.startsWith('.') && !s.startsWith('node:') && !BUILTIN.has(s));
}

const packageName = (spec: string): string => spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');

describe('package dependencies', () => {
  for (const dir of PACKAGES) {
    it(`${dir}: everything src/ imports at run time is a dependency`, () => {
      const pkg = JSON.parse(readFileSync(join(ROOT, dir, 'package.json'), 'utf8')) as { name: string; dependencies?: Record<string, string> };
      const deps = new Set([pkg.name, ...Object.keys(pkg.dependencies ?? {})]);
      const missing = new Map<string, string>();
      for (const file of sources(join(ROOT, dir, 'src'))) {
        for (const spec of importsOf(readFileSync(file, 'utf8'))) {
          const name = packageName(spec);
          if (!deps.has(name) && !missing.has(name)) missing.set(name, file.slice(ROOT.length));
        }
      }
      assert.deepEqual([...missing].map(([name, file]) => `${name} (imported by ${file})`), []);
    });
  }
});
