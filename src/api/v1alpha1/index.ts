export * from './backup.ts';
export * from './cachetier.ts';
export * from './common.ts';
export * from './homeopsdatabase.ts';
export * from './replicaset.ts';

import { cacheTierKind } from './cachetier.ts';
import { homeOpsDatabaseKind } from './homeopsdatabase.ts';
import { replicaSetKind } from './replicaset.ts';

/** The three kinds, in the order CRDs are written and installed. */
export const KINDS = [homeOpsDatabaseKind, cacheTierKind, replicaSetKind] as const;
