/**
 * Where the operator connects to reach a database Service. In a cluster, the Service's DNS
 * name. For local runs, where kwok simulates the pods, an endpoint map in the operator's own
 * configuration (never a resource field: whoever can edit a resource must not be able to send
 * the operator's credentials to another host) sends a Service address to a real local server.
 * Keys may use `*` for any run of characters within the key.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Endpoint } from './pg/client.ts';

const ADDRESS = /^([^:\s]+):([0-9]{1,5})$/;
export const endpointMapSchema = z.record(
  z.string().regex(ADDRESS, 'keys are host:port, such as db-rw.ns.svc:5432 (with * as a wildcard)'),
  z.string().regex(ADDRESS, 'values are host:port, such as 127.0.0.1:55432'),
);

export type EndpointMap = z.infer<typeof endpointMapSchema>;

export function loadEndpointMap(path: string | undefined): EndpointMap {
  if (!path) return {};
  const parsed = endpointMapSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success)
    throw new Error(
      `endpoint map ${path}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
    );
  return parsed.data;
}

const split = (address: string): Endpoint => {
  const m = ADDRESS.exec(address)!;
  return { host: m[1]!, port: Number(m[2]) };
};

const glob = (pattern: string) =>
  new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

/** The address to dial for `host:port`: an exact key wins over a wildcard one. */
export function resolveEndpoint(map: EndpointMap, host: string, port: number): Endpoint {
  const key = `${host}:${port}`;
  if (map[key]) return split(map[key]);
  for (const [pattern, target] of Object.entries(map))
    if (pattern.includes('*') && glob(pattern).test(key)) return split(target);
  return { host, port };
}

/** How the operator reaches a Service: its DNS name (in a pod), or its ClusterIP (on a node). */
export type ServiceAddressMode = 'dns' | 'cluster-ip';

const SERVICE_HOST =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.svc(\.cluster\.local)?$/;

/**
 * The address to dial: the endpoint map first (local runs against host-run servers), then, in
 * `cluster-ip` mode, a `NAME.NAMESPACE.svc` host as that Service's ClusterIP from the cache. An
 * operator run outside the cluster on a machine with kube-proxy (a node, the local harness)
 * reaches ClusterIPs but cannot resolve cluster DNS names; this needs no DNS change on the
 * machine. A Service not in the cache, or headless, is dialled by name.
 */
export function makeResolver(
  map: EndpointMap,
  mode: ServiceAddressMode,
  clusterIP: (namespace: string, name: string) => string | undefined,
): (host: string, port: number) => Endpoint {
  return (host, port) => {
    const mapped = resolveEndpoint(map, host, port);
    if (mapped.host !== host || mapped.port !== port || mode === 'dns') return mapped;
    const m = SERVICE_HOST.exec(host);
    const ip = m ? clusterIP(m[3]!, m[1]!) : undefined;
    return ip && ip !== 'None' ? { host: ip, port } : { host, port };
  };
}
