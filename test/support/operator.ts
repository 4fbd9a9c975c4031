/** A Manager for tests: one namespace, no leader election, no HTTP ports, quiet logs. */
import type { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { loadConfig } from '../../src/runtime/config.ts';
import { Manager } from '../../src/runtime/manager.ts';

export function testManager(kc: KubeConfig, namespace: string, identity: string): Manager {
  const config = {
    ...loadConfig([], {}),
    namespaces: [namespace],
    leaderElect: false,
    metricsPort: 0,
    healthPort: 0,
    identity,
  };
  return new Manager(config, kc, pino({ level: 'warn' }));
}
