/** Writes crds/*.yaml from the zod schemas (`npm run gen:crds`); `--check` fails on drift. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrd } from '../api/crdfile.ts';
import { buildCrds } from '../api/crdgen.ts';

const dir = join(import.meta.dirname, '..', '..', 'crds');
const check = process.argv.includes('--check');
let stale = 0;
for (const [file, crd] of buildCrds()) {
  const path = join(dir, file);
  const text = renderCrd(crd);
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
