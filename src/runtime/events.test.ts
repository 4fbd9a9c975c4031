import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { KubeClient } from './client.ts';
import { isNamespaceTerminating, KubeApiError } from './errors.ts';
import { EventRecorder, microTime } from './events.ts';

/** The API server's own refusal (k8s.io/apiserver NamespaceLifecycle admission). */
const terminating = () =>
  new KubeApiError(
    403,
    'Forbidden',
    'events.events.k8s.io "db-x7k2p" is forbidden: unable to create new content in namespace e2e-1 because it is being terminated',
    'POST',
    '/apis/events.k8s.io/v1/namespaces/e2e-1/events',
  );
const rbac = () =>
  new KubeApiError(
    403,
    'Forbidden',
    'events.events.k8s.io is forbidden: User "x" cannot create resource',
    'POST',
    '/',
  );

function recorderWith(err: Error) {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (l: string) => lines.push(JSON.parse(l)) });
  const client = { create: () => Promise.reject(err) } as unknown as KubeClient;
  return { recorder: new EventRecorder(client, 'c', 'i', log), lines };
}

const obj = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'db', namespace: 'e2e-1', uid: 'u' } };
const event = { type: 'Normal' as const, reason: 'Ready', note: 'n', action: 'a' };

describe('refusals because a namespace is being deleted', () => {
  it('are recognised directly and as the cause of another error, and only those', () => {
    expect(isNamespaceTerminating(terminating())).toBe(true);
    expect(isNamespaceTerminating(new Error('wrapped', { cause: terminating() }))).toBe(true);
    expect(isNamespaceTerminating(rbac())).toBe(false);
    expect(isNamespaceTerminating(new Error('because it is being terminated'))).toBe(false);
    expect(isNamespaceTerminating(undefined)).toBe(false);
  });

  it('leave no warning when an Event cannot be made; another refusal still warns', async () => {
    const quiet = recorderWith(terminating());
    await quiet.recorder.record(obj, event);
    expect(quiet.lines.filter((l) => l.level >= 40)).toEqual([]);
    const loud = recorderWith(rbac());
    await loud.recorder.record(obj, event);
    expect(loud.lines.filter((l) => l.level >= 40).map((l) => l.msg)).toEqual(['could not record event']);
  });
});

describe('microTime', () => {
  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(new Date('2026-11-26T10:00:00.123Z'))).toBe('2026-11-26T10:00:00.123000Z');
  });
});
