/** Writes crds/*.yaml and docs/api.md from the zod schemas (`npm run gen:crds`); `--check` fails on drift. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildApiDocs } from '../api/apidocs.ts';
import { renderCrd } from '../api/crdfile.ts';
import { buildCrds } from '../api/crdgen.ts';

const repo = join(import.meta.dirname, '..', '..');
const check = process.argv.includes('--check');
const files = new Map<string, string>(
  [...buildCrds()].map(([file, crd]) => [join(repo, 'crds', file), renderCrd(crd)]),
);
files.set(join(repo, 'docs', 'api.md'), buildApiDocs());
let stale = 0;
for (const [path, text] of files) {
  if (check) {
    let current = '';
    try {
      current = readFileSync(path, 'utf8');
    } catch {}
    if (current !== text) {
      stale++;
      console.error(`${path} is stale: run npm run gen:crds`);
    }
  } else {
    writeFileSync(path, text);
    console.log(`wrote ${path}`);
  }
}
process.exit(stale ? 1 : 0);
