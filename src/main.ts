#!/usr/bin/env node
/**
 * homeops-operator's command line. The operator (`run`) and the job runner (`job ...`) are
 * added by their issues; what is here works today.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderCrd } from './api/crdfile.ts';
import { buildCrds } from './api/crdgen.ts';
import { errorText } from './runtime/errors.ts';
import { installSlimClient } from './runtime/slimclient.ts';

const USAGE = `usage: homeops-operator <command>

commands:
  run       run the operator (flags: see src/runtime/README.md; --endpoint-map for local runs)
  job       run one job of the job runner (job migrate ...)
  crds      print the CustomResourceDefinitions (kubectl apply --server-side -f -)
  version   print the version
`;

async function run(argv: string[]): Promise<number> {
  // The client's module itself, not its index (which imports every generated API).
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const { makeLogger } = await import('./logging.ts');
  const { loadConfig } = await import('./runtime/config.ts');
  const { Manager } = await import('./runtime/manager.ts');
  const { loadEndpointMap } = await import('./endpoints.ts');
  const { registerControllers } = await import('./controllers/index.ts');
  let config: ReturnType<typeof loadConfig>;
  let endpointMap: ReturnType<typeof loadEndpointMap>;
  try {
    config = loadConfig(argv);
    endpointMap = loadEndpointMap(config.endpointMap);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 2;
  }
  const log = makeLogger(config.logLevel, config.identity);
  const kc = new KubeConfig();
  if (config.kubeconfig) kc.loadFromFile(config.kubeconfig);
  else kc.loadFromDefault();
  const manager = new Manager(config, kc, log);
  registerControllers(manager, config, endpointMap);
  manager.handleSignals();
  try {
    await manager.start();
  } catch (e) {
    log.fatal({ err: errorText(e) }, 'could not start');
    return 1;
  }
  log.info(
    { version: version(), namespaces: config.namespaces, endpointMap: Object.keys(endpointMap).length },
    'homeops-operator running',
  );
  await manager.stopped;
  // exit(), not return: sockets of finished probes or watches must not keep a stopped operator
  // alive. Non-zero after a lost lease (its Deployment restarts it as a standby).
  process.exit(manager.exitCode);
}

function version(): string {
  const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'package.json'), 'utf8'));
  return String(pkg.version);
}

export function main(argv: string[]): number | Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'run':
      return run(argv.slice(1));
    case 'job':
      return import('./jobs/cli.ts').then((m) => m.runJob(argv.slice(1)));
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

if (import.meta.main) {
  // Before the first import of the client (every one of them is dynamic, below main).
  installSlimClient();
  // exitCode, not exit(): a large `crds` output to a pipe must be flushed first. `run` exits itself.
  Promise.resolve(main(process.argv.slice(2))).then((code) => {
    process.exitCode = code;
  });
}
