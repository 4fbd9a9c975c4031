/**
 * Replication lag, in bytes and in seconds, measured on a real primary and its members.
 *
 * Bytes: the primary's current WAL position (pg_current_wal_lsn) minus the member's replay
 * position (pg_last_wal_replay_lsn on the member; pg_stat_replication.replay_lsn when the member
 * cannot be reached).
 *
 * Seconds: how old the oldest change the member has not replayed is, read without a heartbeat:
 * - the member has replayed everything the primary had written when it was asked: 0 (an idle
 *   primary writes no WAL, so its members stay at 0 and nothing grows, unlike
 *   now() - pg_last_xact_replay_timestamp(), CloudNativePG#2003);
 * - otherwise the member is watched for up to `settleMs` (1 s): if it replays that position
 *   meanwhile, its lag is the time it took (a healthy member under writes);
 * - otherwise the lag is now - pg_last_xact_replay_timestamp() on the member (the commit time,
 *   on the primary's clock, of the last transaction it replayed), never below the time waited.
 *   Under writes this grows one second per second while replay is stuck. It is an upper bound:
 *   when the primary had been idle before the first change the member has not replayed, it
 *   counts that idle time too (at most until the next measurement that finds it caught up).
 * Cost in WAL: none; the operator writes nothing on the primary to measure.
 */
import type pg from 'pg';
import { type Endpoint, withClient } from '../../pg/client.ts';
import { reloadWhenDelivered } from '../homeopsdatabase/prober.ts';

/** A WAL position ("16/B374D848") as a byte offset. */
export function parseLsn(lsn: string): bigint {
  const m = /^([0-9A-Fa-f]{1,8})\/([0-9A-Fa-f]{1,8})$/.exec(lsn);
  if (!m) throw new Error(`not a WAL position: ${lsn}`);
  return (BigInt(`0x${m[1]}`) << 32n) | BigInt(`0x${m[2]}`);
}

export const lsnBytes = (ahead: string, behind: string) => {
  const d = parseLsn(ahead) - parseLsn(behind);
  return d > 0n ? Number(d) : 0;
};

export interface Login extends Endpoint {
  user: string;
  password: string;
  database: string;
}

export interface ReplicationRow {
  applicationName: string;
  state: string;
  replayLsn?: string;
}

export interface SlotRow {
  name: string;
  active: boolean;
  activePid?: number;
}

/** The primary as seen in one session. */
export interface PrimaryView {
  lsn: string;
  /** The primary's clock when `lsn` was read, and the operator's at the same moment (ms). */
  primaryNowMs: number;
  localNowMs: number;
  replication: ReplicationRow[];
  slots: SlotRow[];
}

export interface MemberMeasurement {
  replayLsn: string;
  paused: boolean;
  lagSeconds?: number;
  lagBytes: number;
}

const APPLICATION = 'homeops-operator-replicaset';

function session<T>(login: Login, timeoutMs: number, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  return withClient(
    {
      host: login.host,
      port: login.port,
      user: login.user,
      password: login.password,
      database: login.database,
      connectionTimeoutMillis: timeoutMs,
      statement_timeout: timeoutMs,
      query_timeout: timeoutMs,
      application_name: APPLICATION,
    },
    fn,
  );
}

/**
 * On the primary, in one session: makes the slots in `create` (reserving WAL at once, so the
 * member's base backup can use it), drops those in `drop` (ending a walsender still on one,
 * whose member is gone), then reads the WAL position, pg_stat_replication and the slots.
 */
export function syncPrimary(
  login: Login,
  wanted: { create: (slots: SlotRow[]) => string[]; drop: (slots: SlotRow[]) => string[] },
  timeoutMs = 5000,
): Promise<PrimaryView & { created: string[]; dropped: string[] }> {
  return session(login, timeoutMs, async (c) => {
    const readSlots = async () =>
      (
        await c.query<{ slot_name: string; active: boolean; active_pid: number | null }>(
          "SELECT slot_name, active, active_pid FROM pg_replication_slots WHERE slot_type = 'physical'",
        )
      ).rows.map((r) => ({
        name: r.slot_name,
        active: r.active,
        ...(r.active_pid !== null ? { activePid: r.active_pid } : {}),
      }));
    let slots = await readSlots();
    const created: string[] = [];
    const dropped: string[] = [];
    for (const name of wanted.create(slots)) {
      await c.query('SELECT pg_create_physical_replication_slot($1, true)', [name]);
      created.push(name);
    }
    for (const name of wanted.drop(slots)) {
      await dropSlot(c, name);
      dropped.push(name);
    }
    if (created.length || dropped.length) slots = await readSlots();
    const now = await c.query<{ lsn: string; now: Date }>(
      'SELECT pg_current_wal_lsn()::text AS lsn, clock_timestamp() AS now',
    );
    const localNowMs = Date.now();
    const rep = await c.query<{ application_name: string; state: string; replay_lsn: string | null }>(
      'SELECT application_name, state, replay_lsn::text FROM pg_stat_replication',
    );
    return {
      lsn: now.rows[0]!.lsn,
      primaryNowMs: now.rows[0]!.now.getTime(),
      localNowMs,
      replication: rep.rows.map((r) => ({
        applicationName: r.application_name,
        state: r.state,
        ...(r.replay_lsn ? { replayLsn: r.replay_lsn } : {}),
      })),
      slots,
      created,
      dropped,
    };
  });
}

/** Drops a slot, first ending the walsender on it (a member being removed may still hold it). */
async function dropSlot(c: pg.Client, name: string): Promise<void> {
  await c.query(
    'SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL',
    [name],
  );
  // A terminated walsender releases its slot a moment later.
  for (let attempt = 0; ; attempt++) {
    try {
      await c.query(
        'SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1',
        [name],
      );
      return;
    } catch (e) {
      // 55006: object_in_use (the slot is still active).
      if ((e as { code?: string }).code !== '55006' || attempt >= 20) throw e;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** Drops every slot `owned` picks (a ReplicaSet being deleted). */
export function dropSlots(
  login: Login,
  owned: (slot: string) => boolean,
  timeoutMs = 5000,
): Promise<string[]> {
  return session(login, timeoutMs, async (c) => {
    const slots = (await c.query<{ slot_name: string }>('SELECT slot_name FROM pg_replication_slots')).rows
      .map((r) => r.slot_name)
      .filter(owned);
    for (const s of slots) await dropSlot(c, s);
    return slots;
  });
}

/**
 * On a member: its replay position, whether replay is paused, and its lag against `primary`
 * (see the top of this file), watching it for up to `settleMs` when it is behind.
 */
export function measureMember(
  login: Login,
  primary: Pick<PrimaryView, 'lsn' | 'primaryNowMs' | 'localNowMs'>,
  opts: { settleMs?: number; pollMs?: number; timeoutMs?: number; configDigest?: string } = {},
): Promise<MemberMeasurement> {
  const settleMs = opts.settleMs ?? 1000;
  const pollMs = opts.pollMs ?? 100;
  return session(login, opts.timeoutMs ?? 5000, async (c) => {
    const first = (
      await c.query<{ replay: string | null; replayed_at: Date | null; paused: boolean; recovery: boolean }>(
        `SELECT pg_is_in_recovery() AS recovery, pg_last_wal_replay_lsn()::text AS replay,
                pg_last_xact_replay_timestamp() AS replayed_at,
                CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END AS paused`,
      )
    ).rows[0]!;
    if (!first.recovery || !first.replay)
      throw new Error('the member is not in recovery: it is not a replica');
    const target = parseLsn(primary.lsn);
    const onPrimaryClock = () => primary.primaryNowMs + (Date.now() - primary.localNowMs);
    // The last read: the replay position and the last replayed commit's time, and when.
    let last = { replay: first.replay, replayedAt: first.replayed_at, at: onPrimaryClock() };
    const started = Date.now();
    let waited = 0;
    while (parseLsn(last.replay) < target && waited < settleMs) {
      await new Promise((r) => setTimeout(r, pollMs));
      const row = (
        await c.query<{ replay: string; replayed_at: Date | null }>(
          'SELECT pg_last_wal_replay_lsn()::text AS replay, pg_last_xact_replay_timestamp() AS replayed_at',
        )
      ).rows[0]!;
      last = { replay: row.replay, replayedAt: row.replayed_at, at: onPrimaryClock() };
      waited = Date.now() - started;
    }
    // The member's postgresql.conf is the primary's: a setting PostgreSQL reloads is reloaded
    // here too, once the kubelet has delivered the file (no restart, no new base backup).
    if (opts.configDigest) await reloadWhenDelivered(c, opts.configDigest);
    return {
      replayLsn: last.replay,
      paused: first.paused,
      lagBytes: lsnBytes(primary.lsn, first.replay),
      ...lagSeconds({
        caughtUpAtFirst: parseLsn(first.replay) >= target,
        caughtUpAfterMs: parseLsn(last.replay) >= target ? waited : undefined,
        waitedMs: waited,
        replayedAtMs: last.replayedAt?.getTime(),
        nowOnPrimaryMs: last.at,
      }),
    };
  });
}

/** The seconds of lag from what measureMember saw. Pure. */
export function lagSeconds(o: {
  caughtUpAtFirst: boolean;
  caughtUpAfterMs: number | undefined;
  waitedMs: number;
  replayedAtMs: number | undefined;
  nowOnPrimaryMs: number;
}): { lagSeconds?: number } {
  if (o.caughtUpAtFirst) return { lagSeconds: 0 };
  if (o.caughtUpAfterMs !== undefined) return { lagSeconds: round(o.caughtUpAfterMs / 1000) };
  if (o.replayedAtMs === undefined) return {}; // nothing replayed since it started: not measurable
  return { lagSeconds: round(Math.max(o.waitedMs, o.nowOnPrimaryMs - o.replayedAtMs) / 1000) };
}

const round = (s: number) => Math.round(s * 1000) / 1000;
