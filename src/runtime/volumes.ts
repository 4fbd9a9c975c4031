/** Growing a PVC when its spec size grew, for every kind (shrinking is refused at admission). */
import { MERGE_PATCH } from './client.ts';
import type { ReconcileContext } from './controller.ts';
import { type KubeObject, Resources } from './types.ts';

const UNITS: Record<string, number> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  m: 1e-3,
};

export function parseQuantity(q: string): number {
  const m = /^([0-9.]+)([a-zA-Z]*)$/.exec(q);
  if (!m || UNITS[m[2]!] === undefined) throw new Error(`not a quantity: ${q}`);
  return Number(m[1]) * UNITS[m[2]!]!;
}

/** Patches the PVC's request up to `size` when the cache shows it smaller; true when it did. */
export async function growVolume(
  ctx: ReconcileContext,
  namespace: string,
  pvcName: string,
  size: string,
): Promise<boolean> {
  const pvc = ctx.cache.get<KubeObject & { spec?: { resources?: { requests?: { storage?: string } } } }>(
    Resources.PersistentVolumeClaim,
    namespace,
    pvcName,
  );
  const current = pvc?.spec?.resources?.requests?.storage;
  if (!pvc || !current || current === size || parseQuantity(size) <= parseQuantity(current)) return false;
  await ctx.client.patch(
    Resources.PersistentVolumeClaim,
    namespace,
    pvcName,
    { spec: { resources: { requests: { storage: size } } } },
    MERGE_PATCH,
  );
  ctx.log.info({ pvc: pvcName, from: current, to: size }, 'growing the volume');
  return true;
}
