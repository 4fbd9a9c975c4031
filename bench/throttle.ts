/**
 * A benchmark's operator under throttling (HOMEOPS_BENCH_THROTTLE): it runs as its own
 * ServiceAccount (the chart's cluster rules, and the leader-election Role), with leader
 * election, and
 * - `apf`: its requests on an API Priority and Fairness level of the smallest share (1, no
 *   borrowing) that rejects (429 with Retry-After) what it cannot seat: the API server's own
 *   throttling, not a simulation;
 * - `503=P`: through the fault proxy (test/support/faultproxy.ts), which answers P % of its
 *   requests (watches excepted) with 503 and Retry-After 1;
 * or both (`apf,503=20`). `report` says what happened: 429s and 503s met, the Lease kept.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { stringify } from 'yaml';
import { LEADER_RULES, WATCH_RULES } from '../src/deploy/rbac.ts';
import { apfObjects } from '../test/support/apf.ts';
import { type FaultProxy, startFaultProxy } from '../test/support/faultproxy.ts';

const NAMESPACE = 'homeops-bench-operator';
const ACCOUNT = 'homeops-operator';

export interface Throttle {
  /** The operator's kubeconfig (its ServiceAccount, through the proxy with `503=`). */
  kubeconfig: string;
  /** Its flags for leader election. */
  args: string[];
  report(metricsPort: number): Promise<string[]>;
  close(): Promise<void>;
}

export async function throttle(spec: string, adminKubeconfig: string, id: string): Promise<Throttle> {
  const apf = spec.split(',').includes('apf');
  const fail = Number(/503=(\d+)/.exec(spec)?.[1] ?? 0);
  const kubectl = (args: string[], input?: string) =>
    execFileSync(
      'bash',
      [
        '-c',
        `eval "$(${join(import.meta.dirname, '..', 'hack/cluster.sh')} env)"; kubectl "$@"`,
        '--',
        ...args,
      ],
      {
        encoding: 'utf8',
        input,
        maxBuffer: 256 * 1024 * 1024,
        stdio: ['pipe', 'pipe', 'inherit'],
      },
    ).trim();
  const name = `homeops-bench-${id}`;
  const leader = { name: 'homeops-operator-leader', namespace: NAMESPACE };
  const subject = { kind: 'ServiceAccount', name: ACCOUNT, namespace: NAMESPACE };
  const objects: object[] = [
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } },
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: ACCOUNT, namespace: NAMESPACE } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'homeops-bench-operator' },
      rules: WATCH_RULES,
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'homeops-bench-operator' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'homeops-bench-operator' },
      subjects: [subject],
    },
    { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: leader, rules: LEADER_RULES },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: leader,
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: leader.name },
      subjects: [subject],
    },
  ];
  if (apf) objects.push(...apfObjects(name, { name: ACCOUNT, namespace: NAMESPACE }));
  kubectl(
    ['apply', '--server-side', '--force-conflicts', '-f', '-'],
    objects.map((o) => stringify(o)).join('---\n'),
  );
  const token = kubectl(['create', 'token', ACCOUNT, '-n', NAMESPACE, '--duration', '2h']);
  const admin = new KubeConfig();
  admin.loadFromFile(adminKubeconfig);
  let proxy: FaultProxy | undefined;
  let operator: KubeConfig;
  if (fail > 0) {
    proxy = await startFaultProxy(new URL(admin.getCurrentCluster()!.server), ({ url }) =>
      !url.includes('watch=true') && Math.random() * 100 < fail ? { status: 503, retryAfter: 1 } : undefined,
    );
    operator = proxy.kubeConfig(token);
  } else {
    operator = new KubeConfig();
    operator.loadFromOptions({
      clusters: [admin.getCurrentCluster()!],
      users: [{ name: ACCOUNT, token }],
      contexts: [{ name: 'operator', cluster: admin.getCurrentCluster()!.name, user: ACCOUNT }],
      currentContext: 'operator',
    });
  }
  const file = join(adminKubeconfig, '..', `bench-operator-${id}.kubeconfig`);
  writeFileSync(file, operator.exportConfig(), { mode: 0o600 });
  const lease = `bench-${id}`;
  return {
    kubeconfig: file,
    args: [
      '--leader-elect=true',
      `--leader-election-namespace=${NAMESPACE}`,
      `--leader-election-id=${lease}`,
    ],
    async report(metricsPort: number) {
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const sum = (re: RegExp) =>
        metrics
          .split('\n')
          .filter((l) => re.test(l))
          .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
      const out = [
        `operator retried after 429/503: ${sum(/^homeops_rest_client_throttled_total\{/)} (by code: ${metrics
          .split('\n')
          .filter((l) => l.startsWith('homeops_rest_client_throttled_total{'))
          .join('; ')})`,
        `leader: ${sum(/^leader_election_master_status/)} (1 = this operator holds the Lease)`,
      ];
      const l = JSON.parse(kubectl(['get', 'lease', lease, '-n', NAMESPACE, '-o', 'json']));
      out.push(
        `Lease ${lease}: holder ${l.spec?.holderIdentity}, transitions ${l.spec?.leaseTransitions ?? 0}`,
      );
      if (apf) {
        const rejected = kubectl(['get', '--raw', '/metrics'])
          .split('\n')
          .filter(
            (x) => x.startsWith('apiserver_flowcontrol_rejected_requests_total{') && x.includes(`"${name}"`),
          )
          .reduce((n, x) => n + Number(x.split(' ').at(-1)), 0);
        out.push(`APF rejected (429) for the operator's FlowSchema: ${rejected}`);
      }
      if (proxy) {
        const injected = proxy.seen.filter((s) => s.injected).length;
        out.push(`proxy: ${injected} of ${proxy.seen.length} requests answered 503`);
      }
      return out;
    },
    async close() {
      await proxy?.close();
      if (apf) kubectl(['delete', 'flowschema,prioritylevelconfiguration', name, '--ignore-not-found']);
    },
  };
}
