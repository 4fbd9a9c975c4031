import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { slimRedirects } from './slimclient.ts';

const dist = dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node'));

describe('client-node without its generated API', () => {
  it('redirects both imports of the installed client (a client upgrade that changes them fails here)', () => {
    expect(slimRedirects(dist).map((r) => `${r.from} ${r.spec}`)).toEqual([
      'config.js ./gen/index.js',
      'cache.js ./serializer.js',
    ]);
  });

  it('leaves an import alone when the importing file takes more than the replacement has', () => {
    const copy = mkdtempSync(join(tmpdir(), 'slim-'));
    cpSync(join(dist, 'config.js'), join(copy, 'config.js'));
    cpSync(join(dist, 'cache.js'), join(copy, 'cache.js'));
    const config = readFileSync(join(copy, 'config.js'), 'utf8');
    writeFileSync(
      join(copy, 'config.js'),
      config.replace(
        "ServerConfiguration, } from './gen/index.js'",
        "ServerConfiguration, CoreV1Api } from './gen/index.js'",
      ),
    );
    const cache = readFileSync(join(copy, 'cache.js'), 'utf8');
    writeFileSync(join(copy, 'cache.js'), `${cache}\nObjectSerializer.deserialize(x, 'V1Pod');\n`);
    expect(slimRedirects(copy)).toEqual([]);
  });

  it('the operator process: KubeConfig, Watch and ListWatch work, and no generated API or model is loaded', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slim-'));
    const kubeconfig = join(dir, 'kubeconfig');
    writeFileSync(
      kubeconfig,
      `apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: 'https://127.0.0.1:6443', certificate-authority-data: ${Buffer.from('CA').toString('base64')}}}]
users: [{name: u, user: {token: secret-token}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
current-context: x
`,
    );
    const script = join(dir, 'check.ts');
    writeFileSync(
      script,
      `import { registerHooks } from 'node:module';
import { installSlimClient } from ${JSON.stringify(join(import.meta.dirname, 'slimclient.ts'))};
const loaded: string[] = [];
installSlimClient();
// Registered last, so it sees every resolution first.
registerHooks({ resolve(s, c, next) { const r = next(s, c); loaded.push(r.url); return r; } });
const { KubeConfig } = await import(${JSON.stringify(pathToFileURL(join(dist, 'config.js')).href)});
const { Watch } = await import(${JSON.stringify(pathToFileURL(join(dist, 'watch.js')).href)});
const { ListWatch } = await import(${JSON.stringify(pathToFileURL(join(dist, 'cache.js')).href)});
const kc = new KubeConfig();
kc.loadFromFile(${JSON.stringify(kubeconfig)});
const opts: { ca?: Buffer; headers?: Record<string, string> } = {};
await kc.applyToHTTPSOptions(opts);
let query: Record<string, string> = {};
const watch = { watch: async (_p: string, q: Record<string, string>) => { query = q; return { abort() {} }; } };
const lw = new ListWatch('/api/v1/pods', watch as never, async () => ({ metadata: { resourceVersion: '7' }, items: [] }), false, 'a=b');
await lw.start();
console.log(JSON.stringify({
  server: kc.getCurrentCluster()?.server,
  ca: String(opts.ca),
  auth: opts.headers?.Authorization === 'Bearer secret-token',
  watch: typeof Watch,
  query,
  generated: loaded.filter((u) => /\\/gen\\/(apis|models|types)\\//.test(u)).length,
  slim: loaded.filter((u) => u.includes('?homeops-slim')).map((u) => u.replace(/.*client-node\\/dist\\//, '')),
  modules: loaded.filter((u) => u.includes('client-node')).length,
}));
`,
    );
    const out = JSON.parse(execFileSync(process.execPath, [script], { cwd: dir, encoding: 'utf8' }));
    expect(out).toMatchObject({
      server: 'https://127.0.0.1:6443',
      ca: 'CA',
      auth: true,
      watch: 'function',
      query: { resourceVersion: '7', labelSelector: 'a=b' },
      generated: 0,
      slim: ['gen/index.js?homeops-slim', 'serializer.js?homeops-slim'],
    });
    // The whole client is about a thousand modules.
    expect(out.modules).toBeLessThan(100);
  });
});
