import { describe, expect, it } from 'vitest';
import { readPassword } from './password.ts';

describe('readPassword', () => {
  const secret = (data: Record<string, string>) => ({
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 's' },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
  });
  it('takes a password, and names what is wrong without the value', () => {
    expect(readPassword(secret({ password: 'abc' }))).toEqual({ password: 'abc' });
    expect(readPassword(secret({ pass: 'abc' }))).toMatchObject({ reason: 'InvalidSecret' });
    const bad = readPassword(secret({ password: 'a "quoted" one' }));
    expect(bad).toMatchObject({ reason: 'InvalidSecret' });
    expect(JSON.stringify(bad)).not.toContain('quoted');
  });
});
