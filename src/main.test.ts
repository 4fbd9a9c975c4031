import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { main } from './main.ts';

afterEach(() => vi.restoreAllMocks());

describe('command line', () => {
  it('prints the three CRDs as one YAML stream', () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    expect(main(['crds'])).toBe(0);
    const docs = parseAllDocuments(out.mock.calls.map((c) => String(c[0])).join('')).map((d) => d.toJS());
    expect(docs.map((d) => d.metadata.name)).toEqual([
      'homeopsdatabases.homeops.io',
      'cachetiers.homeops.io',
      'replicasets.homeops.io',
    ]);
  });

  it('refuses an unknown command with exit code 2 and the usage', () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(main(['frobnicate'])).toBe(2);
    expect(String(err.mock.calls[0]?.[0])).toContain('unknown command "frobnicate"');
  });

  it('prints the job usage with exit code 0 for job --help, and refuses an unknown job with it', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await main(['job', '--help'])).toBe(0);
    expect(String(out.mock.calls[0]?.[0])).toMatch(/^usage: homeops-operator job/);
    expect(await main(['job', 'frobnicate'])).not.toBe(0);
    expect(String(err.mock.calls[0]?.[0])).toContain('unknown job "frobnicate"');
  });
});
