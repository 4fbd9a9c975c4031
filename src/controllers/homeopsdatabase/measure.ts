/**
 * The probes of a database's primary and PgBouncer, at most `probeConcurrency` databases at
 * once, once per monitoring interval (or at once when what Kubernetes shows changed); the last
 * measurement of each database is kept in memory until `forget`. The first probe of a database
 * also prepares it for monitoring (pg_stat_statements, the pooler's auth function): the one
 * write the probes make, on PostgreSQL, never on the API.
 */
import type { HomeOpsDatabase } from '../../api/v1alpha1/index.ts';
import { median } from '../../common/figures.ts';
import { serviceHost } from '../../common/hosts.ts';
import { type ReachOptions, serviceResolver } from '../../common/reach.ts';
import type { DefaultImages } from '../../images.ts';
import type { RetryPolicy } from '../../pg/client.ts';
import { classifyPgError } from '../../pg/errors.ts';
import { keyOf, type ReconcileContext } from '../../runtime/controller.ts';
import { errorText } from '../../runtime/errors.ts';
import { Semaphore } from '../../runtime/semaphore.ts';
import type { KubeObject } from '../../runtime/types.ts';
import { postgresImage } from './builders.ts';
import { ensureExtensions } from './ensureextensions.ts';
import { declaredExtensions } from './extensions.ts';
import type { DatabaseMetrics } from './metrics.ts';
import { dbNames, POOLER_PORT, POSTGRES_PORT } from './names.ts';
import type { ClusterView, Measured } from './observe.ts';
import type { ParameterCheck } from './parameters.ts';
import { POOLER_AUTH_SQL } from './pgconfig.ts';
import {
  checkParameters,
  ensureMonitoringObjects,
  type ProbeTarget,
  probePooler,
  probePrimary,
  syncConfig,
  timescaleOf,
} from './prober.ts';
import type { SecretRole } from './secrets.ts';

type Db = HomeOpsDatabase & KubeObject;

/** How many probes' response times the status' median covers. */
const RESPONSE_WINDOW = 5;

export interface ProbeOptions extends ReachOptions {
  /** Images used where a resource names none (the messages name the image). */
  images?: DefaultImages;
  /** How many databases are probed at once. */
  probeConcurrency?: number;
  probeTimeoutMs?: number;
  retry?: RetryPolicy;
}

export class Probes {
  private readonly opts: ProbeOptions;
  private readonly metrics: DatabaseMetrics;
  private readonly probes: Semaphore;
  /**
   * The last probe of each database, by namespace/name: of which object (uid), when, under which
   * view, and what it measured.
   */
  private readonly lastProbe = new Map<
    string,
    { uid: string; at: number; key: string; measured: Measured; responses: number[] }
  >();
  /** The last parameter check of each database: of which change, and PostgreSQL's verdict. */
  private readonly checked = new Map<string, { input: string; check: ParameterCheck }>();
  /** Databases whose monitoring objects (pg_stat_statements, the pooler auth function) exist: their uids by key. */
  private readonly prepared = new Map<string, string>();
  /**
   * Databases whose declared extensions were made on the server's current start: of which
   * object, declaration and start, by key. Until one of those changes, one dropped by hand is
   * reported, not made again.
   */
  private readonly declared = new Map<string, string>();

  constructor(opts: ProbeOptions, metrics: DatabaseMetrics) {
    this.opts = opts;
    this.metrics = metrics;
    this.probes = new Semaphore(opts.probeConcurrency ?? 4);
  }

  /**
   * The probes' figures: measured again once per monitoring interval, or at once when what
   * Kubernetes shows changed (the pods' readiness, the spec, the credentials); otherwise the
   * last measurement. A child's status update
   * wakes the database often while it starts; each wake need not cost a round of queries.
   */
  async measureWhenDue(
    db: Db,
    secrets: { credentials: Record<SecretRole, { username: string; password: string }>; digest: string },
    seen: ClusterView,
    ctx: ReconcileContext,
  ): Promise<{ measured: Measured; responseMedianMs?: number; nextProbeMs: number }> {
    const interval = db.spec.monitoring.intervalSeconds * 1000;
    const key = JSON.stringify([
      db.metadata.generation,
      seen.configDigest,
      seen.primaryPodReady,
      seen.poolerReadyInstances > 0,
      secrets.digest,
    ]);
    const last = this.lastProbe.get(keyOf(db));
    const age = last ? Date.now() - last.at : Infinity;
    // 10 % early is on time: the requeue that brings the key back is not to the millisecond.
    const mine = last?.uid === db.metadata.uid ? last : undefined;
    if (mine && mine.key === key && age < interval * 0.9)
      return {
        measured: mine.measured,
        responseMedianMs: median(mine.responses),
        nextProbeMs: interval - age,
      };
    const endTimer = this.metrics.probeDuration.startTimer();
    const measured = await this.measure(db, secrets.credentials, seen, ctx);
    endTimer({ result: measured.primaryError || measured.poolerError ? 'error' : 'ok' });
    const rt = measured.primary?.responseMs;
    const responses = [...(mine?.responses ?? []), ...(rt === undefined ? [] : [rt])].slice(-RESPONSE_WINDOW);
    this.lastProbe.set(keyOf(db), { uid: db.metadata.uid!, at: Date.now(), key, measured, responses });
    return { measured, responseMedianMs: median(responses), nextProbeMs: interval };
  }

  /** Probes the primary and PgBouncer (at most probeConcurrency databases at once). */
  private async measure(
    db: Db,
    credentials: Record<SecretRole, { username: string; password: string }>,
    seen: ClusterView,
    ctx: ReconcileContext,
  ): Promise<Measured> {
    const n = dbNames(db);
    const resolve = serviceResolver(this.opts, ctx.cache);
    const superuser = credentials.superuser;
    const target: ProbeTarget = {
      ...resolve(serviceHost(db, n.rwService), POSTGRES_PORT),
      user: superuser.username,
      password: superuser.password,
      database: db.spec.database.name,
    };
    const out: Measured = {};
    await this.probes.run(async () => {
      try {
        if (this.prepared.get(keyOf(db)) !== db.metadata.uid) {
          await ensureMonitoringObjects(target, POOLER_AUTH_SQL, this.opts.probeTimeoutMs).then(
            () => this.prepared.set(keyOf(db), db.metadata.uid!),
            (e) => ctx.log.warn({ err: errorText(e) }, 'could not create the monitoring objects'),
          );
        }
        const wants = declaredExtensions(db);
        out.primary = await probePrimary(target, {
          slowQueryMs: db.spec.monitoring.slowQueryMs,
          timeoutMs: this.opts.probeTimeoutMs,
          retry: this.opts.retry,
          extensions: wants.map((w) => w.name),
          archiving: !!db.spec.backup,
        });
        const declaration = JSON.stringify([db.metadata.uid, wants, out.primary.extensions.startedAt]);
        const made = await ensureExtensions(target, wants, out.primary.extensions, {
          image: postgresImage(db, this.opts.images),
          act: this.declared.get(keyOf(db)) !== declaration,
          timeoutMs: this.opts.probeTimeoutMs,
        });
        if (!made.failed) this.declared.set(keyOf(db), declaration);
        // Read again after what was made: TimescaleDB made just now is in status at once.
        out.primary = { ...out.primary, extensions: made.server, timescale: timescaleOf(made.server) };
        out.extensions = made.states;
        if (seen.configDigest)
          out.config = await syncConfig(target, seen.configDigest, { timeoutMs: this.opts.probeTimeoutMs });
      } catch (e) {
        out.primaryError = classifyPgError(e);
      }
      if (db.spec.pooler.enabled && seen.poolerReadyInstances > 0) {
        const auth = credentials.pooler;
        try {
          out.pooler = await probePooler(
            {
              ...resolve(serviceHost(db, n.pooler), POOLER_PORT),
              user: auth.username,
              password: auth.password,
              database: 'pgbouncer',
            },
            { timeoutMs: this.opts.probeTimeoutMs, retry: this.opts.retry },
          );
        } catch (e) {
          out.poolerError = classifyPgError(e);
        }
      }
    });
    return out;
  }

  /**
   * Asks the primary whether it takes `changed` (PostgreSQL's verdict is kept per database and
   * change: a held change costs one round of queries, not one per reconcile).
   */
  async checkParameters(
    db: Db,
    credentials: Record<SecretRole, { username: string; password: string }>,
    changed: Record<string, string>,
    ctx: ReconcileContext,
  ): Promise<ParameterCheck> {
    const last = this.knownCheck(db, changed);
    if (last) return last;
    const superuser = credentials.superuser;
    const target: ProbeTarget = {
      ...serviceResolver(this.opts, ctx.cache)(serviceHost(db, dbNames(db).rwService), POSTGRES_PORT),
      user: superuser.username,
      password: superuser.password,
      database: db.spec.database.name,
    };
    try {
      const refused = await this.probes.run(() =>
        checkParameters(target, changed, { timeoutMs: this.opts.probeTimeoutMs, retry: this.opts.retry }),
      );
      this.checked.set(keyOf(db), { input: JSON.stringify([db.metadata.uid, changed]), check: { refused } });
      return { refused };
    } catch (e) {
      return { error: classifyPgError(e).message };
    }
  }

  /** Keeps a verdict on a change that was not asked of PostgreSQL (a start that failed with it). */
  remember(db: Db, changed: Record<string, string>, check: ParameterCheck): void {
    this.checked.set(keyOf(db), { input: JSON.stringify([db.metadata.uid, changed]), check });
  }

  /** PostgreSQL's verdict on this very change, if it was asked already. */
  knownCheck(db: Db, changed: Record<string, string>): ParameterCheck | undefined {
    const last = this.checked.get(keyOf(db));
    return last?.input === JSON.stringify([db.metadata.uid, changed]) ? last.check : undefined;
  }

  /** The database is gone: its last measurements too. */
  forget(namespace: string | undefined, name: string): void {
    const key = keyOf({ metadata: { namespace, name } });
    this.checked.delete(key);
    this.prepared.delete(key);
    this.declared.delete(key);
    this.lastProbe.delete(key);
  }
}
