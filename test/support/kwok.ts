/** Placement on the kwok nodes, for tests and benchmarks (no vitest import: bench/ uses it). */
/**
 * Scheduling onto the kwok nodes (tainted, so ordinary pods run on the real node): for tests and
 * benchmarks whose pods are simulated, and whose servers are host-run behind an endpoint map.
 */
export const KWOK_SCHEDULING = {
  nodeSelector: { type: 'kwok' },
  tolerations: [{ key: 'kwok.x-k8s.io/node', operator: 'Exists' as const, effect: 'NoSchedule' as const }],
};

/** A HomeOpsDatabase spec whose primary and pooler pods go to the kwok nodes. */
export function onKwok(spec: Record<string, unknown> = {}): Record<string, unknown> {
  const part = (k: string) => ({ ...((spec[k] as object | undefined) ?? {}), scheduling: KWOK_SCHEDULING });
  return { ...spec, postgres: part('postgres'), pooler: part('pooler') };
}
