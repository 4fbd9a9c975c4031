/**
 * client-node without its generated API, for the operator's process. The operator uses three of
 * client-node's modules: KubeConfig (credentials), Watch and ListWatch. But `dist/config.js`
 * imports two functions from `gen/index.js`, whose index imports every generated API class and
 * model, and `dist/cache.js` imports the model serializer to pass a label selector through as
 * the string it is. Loading them costs about 40 MiB of RSS and 16 MiB of live heap (their
 * source text, kept for lazy compilation) in a process that calls none of them.
 *
 * A module resolve hook (`node:module` registerHooks) gives those two imports a module with
 * exactly what they take, read from the client's own files: `createConfiguration` and
 * `ServerConfiguration` from their generated files, and a serializer that passes a string
 * through as the generated one does for primitives. Each is installed only after checking the
 * importing file still imports just that (a client upgrade that imports more loads the whole
 * module, as published). The operator's entry installs it before its first import of the
 * client; tests load the whole client.
 */
import { readFileSync } from 'node:fs';
import { createRequire, registerHooks } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The generated files the two functions config.js takes live in. */
const GEN_EXPORTS: Record<string, string> = {
  createConfiguration: './configuration.js',
  ServerConfiguration: './servers.js',
};
const SLIM = '?homeops-slim';

interface Redirect {
  /** The importing file, relative to client-node's dist/. */
  from: string;
  /** The specifier it imports. */
  spec: string;
  /** The module given instead. */
  source: string;
}

/**
 * The redirects the installed client allows, from its files' text: for each, the importing file
 * must import only what the replacement exports.
 */
export function slimRedirects(dist: string): Redirect[] {
  const out: Redirect[] = [];
  const config = readFileSync(join(dist, 'config.js'), 'utf8');
  const names = /import\s*\{([^}]*)\}\s*from\s*'\.\/gen\/index\.js'/.exec(config)?.[1];
  const taken = names
    ?.split(',')
    .map((n) => n.trim())
    .filter(Boolean);
  if (taken?.length && taken.every((n) => GEN_EXPORTS[n]))
    out.push({
      from: 'config.js',
      spec: './gen/index.js',
      source: taken.map((n) => `export { ${n} } from '${GEN_EXPORTS[n]}';`).join('\n'),
    });
  const cache = readFileSync(join(dist, 'cache.js'), 'utf8');
  const uses = cache.match(/ObjectSerializer\.\w+\([^)]*\)/g) ?? [];
  if (
    /import\s*\{\s*ObjectSerializer\s*\}\s*from\s*'\.\/serializer\.js'/.test(cache) &&
    uses.length > 0 &&
    uses.every((u) => /^ObjectSerializer\.serialize\([^,]+,\s*'string'\)$/.test(u))
  )
    out.push({
      from: 'cache.js',
      spec: './serializer.js',
      // The generated serializer returns a primitive as it is.
      source: 'export const ObjectSerializer = { serialize: (data) => data };',
    });
  return out;
}

let installed: Redirect[] | undefined;

/** Installs the redirects (once); returns those installed. */
export function installSlimClient(): Redirect[] {
  if (installed) return installed;
  const dist = dirname(createRequire(import.meta.url).resolve('@kubernetes/client-node'));
  const redirects = slimRedirects(dist);
  const byParent = new Map(redirects.map((r) => [`${pathToFileURL(join(dist, r.from)).href}\0${r.spec}`, r]));
  const sources = new Map<string, string>();
  registerHooks({
    resolve(specifier, context, next) {
      const r = context.parentURL && byParent.get(`${context.parentURL}\0${specifier}`);
      if (!r) return next(specifier, context);
      // The real file's URL (so its relative imports resolve as before), marked.
      const url = `${new URL(specifier, context.parentURL).href}${SLIM}`;
      sources.set(url, r.source);
      return { url, format: 'module', shortCircuit: true };
    },
    load(url, context, next) {
      const source = sources.get(url);
      return source === undefined ? next(url, context) : { format: 'module', source, shortCircuit: true };
    },
  });
  installed = redirects;
  return redirects;
}
