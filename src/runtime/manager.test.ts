import { KubeConfig } from '@kubernetes/client-node';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { Manager } from './manager.ts';
import { Resources } from './types.ts';

describe('Manager.informer', () => {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.0.1:1', skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  const manager = new Manager(loadConfig(['--leader-elect=false'], {}), kc, pino({ level: 'silent' }));

  it('keeps one informer per kind, and refuses a second, different scope instead of ignoring it', () => {
    const scoped = manager.informer(Resources.ConfigMap, { labelSelector: 'a=b' });
    expect(manager.informer(Resources.ConfigMap)).toBe(scoped);
    expect(manager.informer(Resources.ConfigMap, { labelSelector: 'a=b' })).toBe(scoped);
    expect(() => manager.informer(Resources.ConfigMap, { labelSelector: 'c=d' })).toThrow(/selector "a=b"/);
  });
});
