import { describe, expect, it } from 'vitest';
import { fingerprint } from './builder.ts';

describe('fingerprint', () => {
  it('fingerprints what calls for a reconcile, not the status', () => {
    const a = {
      apiVersion: 'v',
      kind: 'K',
      metadata: { name: 'x', generation: 1 },
      status: { phase: 'Ready' },
    };
    expect(fingerprint(a)).toBe(fingerprint({ ...a, status: { phase: 'Failed' } }));
    expect(fingerprint(a)).not.toBe(fingerprint({ ...a, metadata: { ...a.metadata, generation: 2 } }));
    expect(fingerprint(a)).not.toBe(
      fingerprint({ ...a, metadata: { ...a.metadata, annotations: { k: 'v' } } }),
    );
  });
});
