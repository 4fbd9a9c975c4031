/** Plain Kubernetes objects every kind's builders make the same way: a Service, a PDB. Pure. */
import type { KubeObject } from './types.ts';

type Meta = KubeObject['metadata'];

/** A Service with one TCP port named `port.name` (targetPort by name); headless publishes not-Ready pods too. */
export function serviceObject(
  metadata: Meta,
  opts: { selector: Record<string, string>; port: { name: string; port: number }; headless?: boolean },
): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata,
    spec: {
      ...(opts.headless ? { clusterIP: 'None', publishNotReadyAddresses: true } : { type: 'ClusterIP' }),
      selector: opts.selector,
      ports: [{ name: opts.port.name, port: opts.port.port, targetPort: opts.port.name, protocol: 'TCP' }],
    },
  };
}

export function pdbObject(
  metadata: Meta,
  selector: Record<string, string>,
  budget: { minAvailable: number } | { maxUnavailable: number },
): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata,
    spec: { ...budget, selector: { matchLabels: selector } },
  };
}

/** A pod's security context: non-root, the RuntimeDefault seccomp profile, volumes owned by `fsGroup`. */
export function podSecurityContext(fsGroup: number) {
  return {
    fsGroup,
    fsGroupChangePolicy: 'OnRootMismatch',
    runAsNonRoot: true,
    seccompProfile: { type: 'RuntimeDefault' },
  };
}

/** A StatefulSet's one volume claim template, `data`, of `storage.size` (its class when set). */
export function dataClaimTemplate(
  labels: Record<string, string>,
  storage: { size: string; storageClassName?: string },
) {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolumeClaim',
    metadata: { name: 'data', labels },
    spec: {
      accessModes: ['ReadWriteOnce'],
      resources: { requests: { storage: storage.size } },
      ...(storage.storageClassName ? { storageClassName: storage.storageClassName } : {}),
    },
  };
}
