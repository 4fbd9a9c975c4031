/**
 * What loading @kubernetes/client-node costs a process: its index (every generated API class
 * and model), against the three modules the operator takes through src/runtime/slimclient.ts.
 * Each in a fresh Node process, after a full GC: RSS, live heap, modules loaded.
 *   node bench/client-import.ts
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OPERATOR_NODE_FLAGS } from '../src/images.ts';

const dist = dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node'));
const mod = (f: string) => JSON.stringify(pathToFileURL(join(dist, f)).href);
// As the operator runs it: built (type stripping of the .ts would cost memory of its own).
execFileSync('npm', ['run', 'build'], { cwd: join(import.meta.dirname, '..'), stdio: 'ignore' });
const slim = JSON.stringify(pathToFileURL(join(import.meta.dirname, '../dist/runtime/slimclient.js')).href);
const measure = (body: string) => `
import { registerHooks } from 'node:module';
import { readFileSync } from 'node:fs';
const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const before = rss();
${body}
let n = 0;
registerHooks({ resolve(s, c, next) { const r = next(s, c); if (r.url.includes('/client-node/')) n++; return r; } });
await run();
globalThis.gc(); await new Promise((r) => setTimeout(r, 200)); globalThis.gc();
console.log(JSON.stringify({ before, after: rss(), heap: process.memoryUsage().heapUsed / 2 ** 20, modules: n }));
`;
const cases = {
  'the package index (import "@kubernetes/client-node")': measure(
    `const run = () => import(${mod('index.js')});`,
  ),
  'KubeConfig, Watch, ListWatch through slimclient.ts': measure(
    `const { installSlimClient } = await import(${slim}); installSlimClient();
const run = () => Promise.all([${mod('config.js')}, ${mod('watch.js')}, ${mod('cache.js')}].map((u) => import(u)));`,
  ),
};
for (const [name, source] of Object.entries(cases)) {
  const r = JSON.parse(
    execFileSync(
      process.execPath,
      [...OPERATOR_NODE_FLAGS, '--expose-gc', '--input-type=module', '-e', source],
      {
        encoding: 'utf8',
      },
    ),
  );
  console.log(
    `${name}: RSS ${r.before.toFixed(0)} -> ${r.after.toFixed(0)} MiB, live heap ${r.heap.toFixed(1)} MiB, ${r.modules} of client-node's modules resolved`,
  );
}
