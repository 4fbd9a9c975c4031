/**
 * A Manager for tests: one namespace, no leader election, no HTTP ports, quiet logs. It runs as
 * the operator's ServiceAccount, bound to the chart's rules only (test/setup/global.ts), so a
 * controller needing a verb the role lacks fails its test.
 */
import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { inject } from 'vitest';
import { loadConfig } from '../../src/runtime/config.ts';
import { Manager } from '../../src/runtime/manager.ts';

/** The operator's identity in the tests: its ServiceAccount's token. */
export function operatorKubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject('operatorKubeconfig'));
  return kc;
}

export function testManager(namespace: string, identity: string): Manager {
  const config = {
    ...loadConfig([], {}),
    namespaces: [namespace],
    leaderElect: false,
    metricsPort: 0,
    healthPort: 0,
    identity,
  };
  return new Manager(config, operatorKubeConfig(), pino({ level: 'warn' }));
}
