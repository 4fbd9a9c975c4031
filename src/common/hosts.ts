/** In-cluster DNS names the operator (and applications) connect to. */
export function serviceHost(owner: { metadata: { namespace?: string } }, service: string): string {
  return `${service}.${owner.metadata.namespace}.svc`;
}
