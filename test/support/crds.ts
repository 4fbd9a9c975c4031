import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  ApiextensionsV1Api,
  type KubeConfig,
  type V1CustomResourceDefinition,
} from '@kubernetes/client-node';
import { parse } from 'yaml';
import { eventually, FIELD_MANAGER, kubectl } from './kube.ts';

const crdDir = join(import.meta.dirname, '..', '..', 'crds');

/** Installs (server-side applies) the generated CRDs and waits until they are Established. */
export async function installCrds(kc: KubeConfig): Promise<V1CustomResourceDefinition[]> {
  const crds = readdirSync(crdDir)
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => parse(readFileSync(join(crdDir, f), 'utf8')) as V1CustomResourceDefinition);
  // kubectl, as users install them: client-node's typed serializer would drop the schema keys
  // whose model names differ from the JSON ones (default, x-kubernetes-validations...).
  await kubectl(
    'apply',
    '--server-side',
    '--force-conflicts',
    '--field-manager',
    FIELD_MANAGER,
    '-f',
    crdDir,
  );
  const api = kc.makeApiClient(ApiextensionsV1Api);
  return Promise.all(
    crds.map((crd) =>
      eventually(async () => {
        const got = await api.readCustomResourceDefinition({ name: crd.metadata!.name! });
        const established = got.status?.conditions?.find((c) => c.type === 'Established')?.status === 'True';
        return established ? got : undefined;
      }, 30_000),
    ),
  );
}
