import { describe, expect, it } from 'vitest';
import { fitName } from './names.ts';

describe('fitName', () => {
  it('is BASE-SUFFIX when that fits', () => {
    expect(fitName('db', 'maintain', 52)).toBe('db-maintain');
    expect(fitName('a'.repeat(43), 'maintain', 52)).toBe(`${'a'.repeat(43)}-maintain`);
  });

  it('keeps two long names with a common prefix apart, within the limit', () => {
    const a = fitName(`${'x'.repeat(50)}a`, 'refresh-abc123', 52);
    const b = fitName(`${'x'.repeat(50)}b`, 'refresh-abc123', 52);
    expect(a).not.toBe(b);
    for (const n of [a, b]) {
      expect(n.length).toBe(52);
      expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      expect(n.endsWith('-refresh-abc123')).toBe(true);
    }
    // The same name always maps to the same child.
    expect(fitName(`${'x'.repeat(50)}a`, 'refresh-abc123', 52)).toBe(a);
  });
});
