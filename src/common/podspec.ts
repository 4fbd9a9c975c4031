/** Pieces of a pod spec every kind's pods share: security, placement, the roll checksum. */

/** The pod-template annotation whose change rolls the pods: a checksum of their config and Secrets. */
export const CHECKSUM_ANNOTATION = 'homeops.io/config-checksum';

/** Where a kind's pods may run, as its spec's `scheduling` says. */
export interface Scheduling {
  nodeSelector?: Record<string, string>;
  tolerations?: unknown[];
  affinity?: unknown;
}

/** nodeSelector, tolerations and affinity for a pod spec, only those the spec sets. */
export function placement<S extends Scheduling>(s: S | undefined) {
  return {
    ...(s?.nodeSelector ? { nodeSelector: s.nodeSelector } : {}),
    ...(s?.tolerations ? { tolerations: s.tolerations } : {}),
    ...(s?.affinity ? { affinity: s.affinity } : {}),
  };
}

/** Non-root, no privilege escalation, no capabilities, read-only root filesystem. */
export function containerSecurity(uid: number) {
  return {
    runAsNonRoot: true,
    runAsUser: uid,
    runAsGroup: uid,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  };
}
