/** Reading a resource's conditions in a test. */

/** The condition of `type` in `o.status.conditions`, if any. */
export function cond<C extends { type: string }>(
  o: { status?: { conditions?: C[] } | undefined },
  type: string,
): C | undefined {
  return o.status?.conditions?.find((c) => c.type === type);
}
