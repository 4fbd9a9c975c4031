/**
 * GitOps health of the three kinds on real objects (test/fixtures/health, captured from the
 * operator running in a pod by test/e2e/helm.test.ts with HOMEOPS_CAPTURE_HEALTH=1):
 * - Argo CD: manifests/argocd/health.lua run by gopher-lua, the interpreter Argo CD embeds, with
 *   Argo CD's libraries (hack/tools/health);
 * - kstatus (Flux, kpt, cli-utils): sigs.k8s.io/cli-utils' status.Compute, built the same way.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toolDir } from '../../src/cmd/gen-chart.ts';

const repo = join(import.meta.dirname, '..', '..');
const fixtures = join(repo, 'test', 'fixtures', 'health');
const script = join(repo, 'manifests', 'argocd', 'health.lua');

let bin: string | undefined;
const health = () => (bin ??= join(toolDir('health'), 'health'));

type Obj = {
  metadata: { generation?: number };
  status?: { conditions?: { type: string; status: string; reason?: string; lastTransitionTime?: string }[] };
};
/**
 * A fixture as if captured just now: every condition's lastTransitionTime moved by the same
 * amount so that the newest is one second ago (the Argo CD check's timeout counts from it).
 */
function load(name: string): Obj {
  const o: Obj = JSON.parse(readFileSync(join(fixtures, `${name}.json`), 'utf8'));
  const conds = o.status?.conditions ?? [];
  const newest = Math.max(...conds.map((c) => Date.parse(c.lastTransitionTime ?? '') || 0));
  const shift = Date.now() - 1000 - newest;
  for (const c of conds)
    if (c.lastTransitionTime)
      c.lastTransitionTime = new Date(Date.parse(c.lastTransitionTime) + shift)
        .toISOString()
        .replace(/\.\d+Z$/, 'Z');
  return o;
}

function judge(o: Obj): { argocd: string; kstatus: string; message: string } {
  const dir = mkdtempSync(join(tmpdir(), 'homeops-health-'));
  const file = join(dir, 'obj.json');
  writeFileSync(file, JSON.stringify(o));
  const a = JSON.parse(execFileSync(health(), ['argocd', script, file], { encoding: 'utf8' }));
  const k = JSON.parse(execFileSync(health(), ['kstatus', file], { encoding: 'utf8' }));
  return { argocd: a.status, kstatus: k.status, message: a.message };
}

/** What each captured state must be, for Argo CD and for kstatus. */
const EXPECTED: Record<string, { argocd: string; kstatus: string }> = {
  'homeopsdatabase-ready': { argocd: 'Healthy', kstatus: 'Current' },
  'cachetier-ready': { argocd: 'Healthy', kstatus: 'Current' },
  'replicaset-ready': { argocd: 'Healthy', kstatus: 'Current' },
  // The operator was not running when the spec changed.
  'homeopsdatabase-not-observed': { argocd: 'Progressing', kstatus: 'InProgress' },
  // The primary's image cannot be pulled: Reconciling=True (recently), so still in progress.
  'homeopsdatabase-image-pull': { argocd: 'Progressing', kstatus: 'InProgress' },
  'replicaset-database-missing': { argocd: 'Progressing', kstatus: 'InProgress' },
  'cachetier-stalled': { argocd: 'Degraded', kstatus: 'Failed' },
  // Never reconciled (outside --namespaces): Argo CD waits; kstatus calls an object without
  // status or conditions Current by its rules (Flux users add healthCheckExprs, see the README).
  'cachetier-no-status': { argocd: 'Progressing', kstatus: 'Current' },
};

describe('GitOps health on captured objects', () => {
  it('has a fixture of every state, for all three kinds', () => {
    expect(
      readdirSync(fixtures)
        .filter((f) => f.endsWith('.json'))
        .map((f) => f.replace(/\.json$/, ''))
        .sort(),
    ).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, want] of Object.entries(EXPECTED))
    it(`${name}: Argo CD ${want.argocd}, kstatus ${want.kstatus}`, () => {
      const got = judge(load(name));
      expect({ argocd: got.argocd, kstatus: got.kstatus }).toEqual(want);
      expect(got.message).not.toBe('');
    });

  it('Argo CD: Ready=False still Reconciling turns Degraded after 10 minutes (kstatus leaves timeouts to the caller)', () => {
    const o = load('homeopsdatabase-image-pull');
    const ready = o.status!.conditions!.find((c) => c.type === 'Ready')!;
    ready.lastTransitionTime = new Date(Date.now() - 11 * 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    expect(judge(o)).toMatchObject({ argocd: 'Degraded', kstatus: 'InProgress' });
    ready.lastTransitionTime = new Date(Date.now() - 60_000).toISOString().replace(/\.\d+Z$/, 'Z');
    expect(judge(o)).toMatchObject({ argocd: 'Progressing' });
  });

  it('Ready=False with the operator done (Reconciling=False): Degraded for Argo CD at once; kstatus reads Ready=False as InProgress', () => {
    const o = load('homeopsdatabase-ready');
    for (const c of o.status!.conditions!) {
      if (c.type === 'Ready') Object.assign(c, { status: 'False', reason: 'PoolerUnavailable' });
      if (c.type === 'Reconciling') Object.assign(c, { status: 'False' });
    }
    expect(judge(o)).toMatchObject({ argocd: 'Degraded', kstatus: 'InProgress' });
  });

  it('both: a generation not yet observed outranks a Ready=True left from the previous one', () => {
    const o = load('homeopsdatabase-ready');
    o.metadata.generation = (o.metadata.generation ?? 1) + 1;
    expect(judge(o)).toMatchObject({ argocd: 'Progressing', kstatus: 'InProgress' });
  });
});
