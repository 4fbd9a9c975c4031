/**
 * The local control plane behaves like a cluster: kwok nodes are Ready, a StatefulSet's pods
 * (with PVCs) become Ready, a Job completes, and the garbage collector deletes a child once
 * its owner is gone. The API server's /metrics and audit log, which later tests count requests
 * from, are reachable.
 */
import { existsSync, readFileSync } from 'node:fs';
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { installCrds } from '../support/crds.ts';
import {
  eventually,
  KWOK_SCHEDULING,
  kubeConfig,
  testNamespace,
  waitForServiceAccount,
} from '../support/kube.ts';

let kc: KubeConfig;
let ns: Awaited<ReturnType<typeof testNamespace>>;

beforeAll(async () => {
  kc = kubeConfig();
  ns = await testNamespace(kc, 'cluster');
  await waitForServiceAccount(kc, ns.name);
});
afterAll(() => ns?.cleanup());

describe('local control plane', () => {
  it('has tainted kwok nodes and a real node, all Ready', async () => {
    const nodes = (await kc.makeApiClient(CoreV1Api).listNode()).items;
    const kwok = nodes.filter((n) => n.metadata?.labels?.type === 'kwok');
    expect(kwok.length).toBeGreaterThan(0);
    for (const n of kwok) {
      expect(n.metadata?.annotations?.['kwok.x-k8s.io/node']).toBe('fake');
      // Ordinary pods go to the real node; only pods that tolerate this land on kwok.
      expect(n.spec?.taints).toContainEqual(
        expect.objectContaining({ key: 'kwok.x-k8s.io/node', effect: 'NoSchedule' }),
      );
    }
    const real = nodes.filter((n) => n.metadata?.labels?.type === 'real');
    expect(real.map((n) => n.metadata?.name)).toEqual(['homeops-node']);
    expect(real[0]!.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(real[0]!.status?.addresses).toContainEqual({ type: 'InternalIP', address: '198.18.0.1' });
    for (const n of nodes) expect(n.status?.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');
  });

  it('runs a StatefulSet with volume claims to Ready replicas', async () => {
    const apps = kc.makeApiClient(AppsV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: ns.name,
      body: {
        metadata: { name: 'pg' },
        spec: {
          replicas: 2,
          serviceName: 'pg',
          selector: { matchLabels: { app: 'pg' } },
          template: {
            metadata: { labels: { app: 'pg' } },
            spec: {
              ...KWOK_SCHEDULING,
              containers: [
                { name: 'postgres', image: 'postgres:15', readinessProbe: { tcpSocket: { port: 5432 } } },
              ],
            },
          },
          volumeClaimTemplates: [
            {
              metadata: { name: 'data' },
              spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
            },
          ],
        },
      },
    });
    const sts = await eventually(async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'pg', namespace: ns.name });
      return s.status?.readyReplicas === 2 ? s : undefined;
    }, 90_000);
    expect(sts.status?.readyReplicas).toBe(2);
    const pvcs = await kc
      .makeApiClient(CoreV1Api)
      .listNamespacedPersistentVolumeClaim({ namespace: ns.name });
    expect(pvcs.items.map((p) => p.status?.phase)).toEqual(['Bound', 'Bound']);
  });

  it('completes a Job', async () => {
    const batch = kc.makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns.name,
      body: {
        metadata: { name: 'once' },
        spec: {
          backoffLimit: 0,
          template: {
            spec: {
              ...KWOK_SCHEDULING,
              restartPolicy: 'Never',
              containers: [{ name: 'run', image: 'busybox' }],
            },
          },
        },
      },
    });
    const job = await eventually(async () => {
      const j = await batch.readNamespacedJob({ name: 'once', namespace: ns.name });
      return j.status?.succeeded === 1 ? j : undefined;
    }, 90_000);
    expect(job.status?.conditions?.find((c) => c.type === 'Complete')?.status).toBe('True');
  });

  it('garbage-collects a child after its owner is deleted', async () => {
    await installCrds(kc);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const owner = (await custom.createNamespacedCustomObject({
      group: 'homeops.io',
      version: 'v1alpha1',
      namespace: ns.name,
      plural: 'homeopsdatabases',
      body: { apiVersion: 'homeops.io/v1alpha1', kind: 'HomeOpsDatabase', metadata: { name: 'owner' } },
    })) as { metadata: { uid: string } };
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({
      namespace: ns.name,
      body: {
        metadata: {
          name: 'child',
          ownerReferences: [
            {
              apiVersion: 'homeops.io/v1alpha1',
              kind: 'HomeOpsDatabase',
              name: 'owner',
              uid: owner.metadata.uid,
              controller: true,
            },
          ],
        },
        data: { k: 'v' },
      },
    });
    await custom.deleteNamespacedCustomObject({
      group: 'homeops.io',
      version: 'v1alpha1',
      namespace: ns.name,
      plural: 'homeopsdatabases',
      name: 'owner',
    });
    const gone = await eventually(async () => {
      const list = await core.listNamespacedConfigMap({
        namespace: ns.name,
        fieldSelector: 'metadata.name=child',
      });
      return list.items.length === 0;
    }, 60_000);
    expect(gone).toBe(true);
  });

  it("serves the API server's /metrics and writes an audit log with user agents", async () => {
    const text = await kc
      .makeApiClient(CoreV1Api)
      .listNamespace()
      .then(() => fetchMetrics(kc));
    expect(text).toMatch(/^apiserver_request_total\{/m);
    const audit = inject('auditLog');
    expect(existsSync(audit)).toBe(true);
    const lines = readFileSync(audit, 'utf8').trim().split('\n');
    const events = lines.map((l) => JSON.parse(l));
    const ours = events.filter((e) => String(e.userAgent).startsWith('kubectl/'));
    expect(ours.length).toBeGreaterThan(0);
    expect(ours[0]).toHaveProperty('verb');
  });
});

async function fetchMetrics(kc: KubeConfig): Promise<string> {
  const cluster = kc.getCurrentCluster()!;
  const opts = { headers: {} as Record<string, string> };
  const https = await import('node:https');
  const user = kc.getCurrentUser()!;
  const fs = await import('node:fs');
  return new Promise((resolve, reject) => {
    https
      .get(
        `${cluster.server}/metrics`,
        {
          ca: fs.readFileSync(cluster.caFile!),
          cert: fs.readFileSync(user.certFile!),
          key: fs.readFileSync(user.keyFile!),
          ...opts,
        },
        (res) => {
          let body = '';
          res.on('data', (c) => {
            body += c;
          });
          res.on('end', () =>
            res.statusCode === 200 ? resolve(body) : reject(new Error(`GET /metrics: ${res.statusCode}`)),
          );
        },
      )
      .on('error', reject);
  });
}
