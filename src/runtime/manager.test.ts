import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { Manager } from './manager.ts';
import { MANAGED_SELECTOR, Resources } from './types.ts';

// An API server nobody answers at: these tests only declare.
const kc = new KubeConfig();
kc.loadFromOptions({
  clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
  users: [{ name: 'u' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});

describe('Manager.informer', () => {
  const manager = new Manager(loadConfig(['--leader-elect=false'], {}), kc, pino({ level: 'silent' }));

  it('keeps one informer per kind, and refuses a second, different scope instead of ignoring it', () => {
    const scoped = manager.informer(Resources.ConfigMap, { labelSelector: 'a=b' });
    expect(manager.informer(Resources.ConfigMap)).toBe(scoped);
    expect(manager.informer(Resources.ConfigMap, { labelSelector: 'a=b' })).toBe(scoped);
    expect(() => manager.informer(Resources.ConfigMap, { labelSelector: 'c=d' })).toThrow(/selector "a=b"/);
  });
});

describe('ControllerBuilder caches', () => {
  it('caches owned kinds and `caches` kinds by the managed-by label; a watch shares that cache', () => {
    const manager = new Manager(loadConfig(['--leader-elect=false'], {}), kc, pino({ level: 'silent' }));
    manager
      .controller('x')
      .for(Resources.CacheTier)
      .owns(Resources.ConfigMap)
      .caches(Resources.Pod)
      .watches(Resources.Pod, () => [])
      .complete({ reconcile: async () => undefined });
    // The same scope asked for again is the same informer; a cluster-wide one is refused.
    const cm = manager.informer(Resources.ConfigMap, { labelSelector: MANAGED_SELECTOR });
    expect(manager.informer(Resources.ConfigMap)).toBe(cm);
    expect(() => manager.informer(Resources.Pod, { labelSelector: '' })).toThrow(/selector/);
    expect(() => manager.informer(Resources.ConfigMap, { labelSelector: 'a=b' })).toThrow(
      new RegExp(`selector "${MANAGED_SELECTOR}"`),
    );
    // The kind a controller is for is not label-scoped: users make those.
    expect(() => manager.informer(Resources.CacheTier, { labelSelector: MANAGED_SELECTOR })).toThrow(
      /selector ""/,
    );
  });
});
