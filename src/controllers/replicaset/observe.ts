/**
 * What a ReplicaSet's reconcile sees, without writing anything: the database it follows (from
 * the cache), the login on its primary, the members' pods, and each member's replication row
 * and lag measured on it (reads on PostgreSQL only).
 */
import { type HomeOpsDatabase, homeOpsDatabase, type ReplicaSet } from '../../api/v1alpha1/index.ts';
import { serviceHost } from '../../common/hosts.ts';
import { ownerName } from '../../common/labels.ts';
import { podProblem } from '../../common/pods.ts';
import { type ReachOptions, serviceResolver } from '../../common/reach.ts';
import { classifyPgError } from '../../pg/errors.ts';
import type { ReconcileContext } from '../../runtime/controller.ts';
import { errorText } from '../../runtime/errors.ts';
import { type KubeObject, Resources } from '../../runtime/types.ts';
import { dbNames, POSTGRES_PORT, SUPERUSER } from '../homeopsdatabase/names.ts';
import { asRunning } from '../homeopsdatabase/parameters.ts';
import { readCredentials, secretsDigest } from '../homeopsdatabase/secrets.ts';
import { type Login, measureMember, type PrimaryView } from './lag.ts';
import { ordinalOf, READ_LABEL, READ_LABEL_VALUE, rsNames } from './names.ts';
import type { Failure, MemberView, Observation } from './status.ts';

export type Rs = ReplicaSet & KubeObject;
export type Pod = KubeObject & {
  status?: {
    podIP?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    containerStatuses?: {
      name: string;
      state?: { waiting?: { reason?: string; message?: string } };
      lastState?: { terminated?: { message?: string } };
    }[];
  };
};

/** How the operator reaches the primary and the members, and its sessions' timing. */
export interface ObserveOptions extends ReachOptions {
  /** Connection and statement timeout of the operator's sessions with the primary and members. */
  timeoutMs?: number;
  /** How long a member that is behind is watched for catching up before its lag is read from timestamps. */
  settleMs?: number;
  /** The digest of the members' postgresql.conf (the database's in force): reloaded once delivered. */
  configDigest?: string;
}

const podReady = (p: Pod | undefined) =>
  !!p &&
  !p.metadata.deletionTimestamp &&
  !!p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True');

/** A pod's problem, with the termination message a failed base backup left (its reason first). */
function memberProblem(pod: Pod): Failure | undefined {
  const p = podProblem(pod);
  const message = pod.status?.containerStatuses?.[0]?.lastState?.terminated?.message?.trim();
  // The last failure stays the member's state while the kubelet retries (a new attempt is
  // running, or waiting out its backoff), so the state does not flap with each attempt.
  const m = message && /^(BaseBackupFailed): (.*)$/s.exec(message);
  if (m) return { reason: m[1]!, message: m[2]!.trim() };
  return p;
}

/** The database it follows, from the cache, and what its status says of the primary. */
export function observeDatabase(
  rs: Rs,
  ctx: ReconcileContext,
): { object?: HomeOpsDatabase; view: Observation['database'] } {
  const ns = rs.metadata.namespace!;
  const name = rs.spec.databaseRef.name;
  const raw = ctx.cache.get<KubeObject>(Resources.HomeOpsDatabase, ns, name);
  if (!raw || raw.metadata.deletionTimestamp)
    return {
      view: {
        state: 'Missing',
        message: raw
          ? `HomeOpsDatabase ${name} is being deleted`
          : `HomeOpsDatabase ${name} not found in namespace ${ns}`,
      },
    };
  const parsed = homeOpsDatabase.safeParse(raw);
  if (!parsed.success)
    return { view: { state: 'Missing', message: `HomeOpsDatabase ${name} has an invalid spec` } };
  // The members share the primary's postgresql.conf: the parameters in force, not a held change.
  const object = asRunning({ ...parsed.data, metadata: raw.metadata } as HomeOpsDatabase, ctx);
  const primary = (
    raw.status as
      | { conditions?: { type: string; status: string; reason?: string; message?: string }[] }
      | undefined
  )?.conditions?.find((c) => c.type === 'PrimaryAvailable');
  return primary?.status === 'True'
    ? {
        object,
        view: { state: 'Ready', message: `HomeOpsDatabase ${name}'s primary is available` },
      }
    : {
        object,
        view: {
          state: 'NotReady',
          message: `waiting for HomeOpsDatabase ${name}'s primary${primary ? `: ${primary.reason}: ${primary.message}` : ''}`,
        },
      };
}

/** The superuser login on the primary (through its -rw Service) and the replication Secret's digest. */
export function primaryAccess(
  db: HomeOpsDatabase,
  ctx: ReconcileContext,
  reach: ReachOptions,
): { login?: Login; digest: string; error?: string } {
  const ns = db.metadata.namespace!;
  const dn = dbNames(db);
  const superuser = ctx.cache.get(Resources.Secret, ns, dn.superuserSecret);
  const replication = ctx.cache.get(Resources.Secret, ns, dn.replicationSecret);
  const digest = secretsDigest([replication]);
  if (!superuser) return { digest, error: `Secret ${dn.superuserSecret} not found` };
  let password: string;
  try {
    password = readCredentials(superuser, SUPERUSER).password;
  } catch (e) {
    return { digest, error: (e as Error).message };
  }
  const resolve = serviceResolver(reach, ctx.cache);
  return {
    digest,
    login: {
      ...resolve(serviceHost(db, dn.rwService), POSTGRES_PORT),
      user: SUPERUSER,
      password,
      database: 'postgres',
    },
  };
}

/**
 * The members' pods: the StatefulSet's (the owner index), or, with no StatefulSet in the cache
 * (deleted, its pods possibly still going), those of the namespace with the ReplicaSet's label.
 */
export function memberPods(rs: Rs, sts: KubeObject | undefined, ctx: ReconcileContext): Map<number, Pod> {
  const out = new Map<number, Pod>();
  const candidates = sts?.metadata.uid
    ? ctx.cache.owned<Pod>(Resources.Pod, sts.metadata.uid)
    : ctx.cache.list<Pod>(Resources.Pod, rs.metadata.namespace);
  for (const p of candidates) {
    if (ownerName('ReplicaSet', p) !== rs.metadata.name) continue;
    const i = ordinalOf(rs, p.metadata.name!);
    if (i !== undefined) out.set(i, p);
  }
  return out;
}

/** Each wanted member: its pod, its pg_stat_replication row, and its lag measured on it. */
export async function observeMembers(
  rs: Rs,
  pods: Map<number, Pod>,
  primary: PrimaryView | undefined,
  login: Login | undefined,
  ctx: ReconcileContext,
  opts: ObserveOptions,
): Promise<MemberView[]> {
  const n = rsNames(rs);
  return Promise.all(
    Array.from({ length: rs.spec.replicas }, async (_, i): Promise<MemberView> => {
      const name = n.pod(i);
      const pod = pods.get(i);
      const ready = podReady(pod);
      const replication = primary?.replication.find((r) => r.applicationName === name);
      const view: MemberView = {
        name,
        pod: !!pod && !pod.metadata.deletionTimestamp,
        podReady: ready,
        wasIn: pod?.metadata.labels?.[READ_LABEL] === READ_LABEL_VALUE,
        ...(replication ? { replication } : {}),
      };
      if (pod && !ready) {
        const problem = memberProblem(pod);
        if (problem) view.problem = problem;
      }
      if (primary && replication && ready && pod?.status?.podIP && login) {
        const target = opts.endpointMap[`${name}:${POSTGRES_PORT}`];
        const [host, port] = target ? target.split(':') : [pod.status.podIP, String(POSTGRES_PORT)];
        try {
          view.measurement = await measureMember({ ...login, host: host!, port: Number(port) }, primary, {
            timeoutMs: opts.timeoutMs,
            settleMs: opts.settleMs,
            ...(opts.configDigest ? { configDigest: opts.configDigest } : {}),
          });
        } catch (e) {
          view.measureError = classifyPgError(e).message;
          ctx.log.debug({ member: name, err: errorText(view.measureError) }, 'member not measured');
        }
      }
      return view;
    }),
  );
}
