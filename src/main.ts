#!/usr/bin/env node
/**
 * homeops-operator's command line. The operator (`run`) and the job runner (`job ...`) are
 * added by their issues; what is here works today.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrd } from './api/crdfile.ts';
import { buildCrds } from './api/crdgen.ts';

const USAGE = `usage: homeops-operator <command>

commands:
  crds      print the CustomResourceDefinitions (kubectl apply --server-side -f -)
  version   print the version
`;

function version(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}

export function main(argv: string[]): number {
  const [command] = argv;
  switch (command) {
    case 'crds':
      process.stdout.write([...buildCrds().values()].map((crd) => renderCrd(crd)).join('---\n'));
      return 0;
    case 'version':
      process.stdout.write(`${version()}\n`);
      return 0;
    case undefined:
    case '-h':
    case '--help':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) process.exitCode = main(process.argv.slice(2));
