/**
 * The local data plane is real: a streaming replica whose lag is measured on the primary after
 * a burst of writes, PgBouncer with the guide's pool settings answering SHOW POOLS, and Redis
 * with the guide's memory and persistence policy answering INFO.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dataplane, superuserConfig, testDatabase, withClient } from '../support/dataplane.ts';
import { eventually } from '../support/kube.ts';

let db: Awaited<ReturnType<typeof testDatabase>>;
beforeAll(async () => {
  db = await testDatabase('dataplane');
});
afterAll(() => db?.cleanup());

describe('streaming replica', () => {
  it('replays a burst of writes, with lag measured on the primary', async () => {
    const env = dataplane();
    await withClient(db.config, async (c) => {
      await c.query('CREATE TABLE burst (id bigint PRIMARY KEY, payload text NOT NULL)');
      await c.query(`INSERT INTO burst SELECT g, repeat('x', 200) FROM generate_series(1, 200000) g`);
    });
    const target = await withClient(superuserConfig(), async (c) => {
      const { rows } = await c.query('SELECT pg_current_wal_lsn()::text AS lsn');
      return rows[0].lsn as string;
    });
    // The replica catches up: its replay position passes the primary's position after the burst.
    const replica = superuserConfig({ port: Number(env.HOMEOPS_PG_REPLICA_PORT), database: db.name });
    await eventually(
      () =>
        withClient(replica, async (c) => {
          const { rows } = await c.query('SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS caught_up', [
            target,
          ]);
          return rows[0].caught_up === true;
        }),
      60_000,
    );
    const count = await withClient(replica, (c) => c.query('SELECT count(*)::int AS n FROM burst'));
    expect(count.rows[0].n).toBe(200000);
    // The primary measured the replay lag of that burst.
    const stat = await withClient(superuserConfig(), (c) =>
      c.query(
        `SELECT state, EXTRACT(EPOCH FROM replay_lag)::float8 AS lag_seconds,
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint AS lag_bytes
           FROM pg_stat_replication WHERE application_name = 'walreceiver'`,
      ),
    );
    expect(stat.rows).toHaveLength(1);
    expect(stat.rows[0].state).toBe('streaming');
    expect(stat.rows[0].lag_seconds).toBeGreaterThan(0);
    expect(Number(stat.rows[0].lag_bytes)).toBeGreaterThanOrEqual(0);
  });

  it('refuses writes on the replica', async () => {
    const env = dataplane();
    const replica = superuserConfig({ port: Number(env.HOMEOPS_PG_REPLICA_PORT), database: db.name });
    await expect(withClient(replica, (c) => c.query('CREATE TABLE nope (id int)'))).rejects.toThrow(
      /read-only transaction/,
    );
  });
});

describe('PgBouncer', () => {
  it("authenticates an application user through auth_query and applies the guide's pool settings", async () => {
    const env = dataplane();
    const viaPooler = {
      host: env.HOMEOPS_PG_HOST,
      port: Number(env.HOMEOPS_PGBOUNCER_PORT),
      user: env.HOMEOPS_PG_APP_USER,
      password: env.HOMEOPS_PG_APP_PASSWORD,
      database: env.HOMEOPS_PG_DATABASE,
    };
    const who = await withClient(viaPooler, (c) => c.query('SELECT current_user AS u'));
    expect(who.rows[0].u).toBe('homeops');

    const admin = {
      ...viaPooler,
      user: env.HOMEOPS_PGBOUNCER_AUTH_USER,
      password: env.HOMEOPS_PGBOUNCER_AUTH_PASSWORD,
      database: 'pgbouncer',
    };
    await withClient(admin, async (c) => {
      const pools = await c.query('SHOW POOLS');
      const pool = pools.rows.find(
        (r: Record<string, string>) => r.database === 'homeops' && r.user === 'homeops',
      );
      expect(pool).toBeDefined();
      expect(pool.pool_mode).toBe('transaction');
      const config = await c.query('SHOW CONFIG');
      const setting = (key: string) => config.rows.find((r: Record<string, string>) => r.key === key)?.value;
      expect(setting('max_client_conn')).toBe('100');
      expect(setting('default_pool_size')).toBe('20');
      expect(setting('reserve_pool_size')).toBe('5');
      expect(setting('max_db_connections')).toBe('50');
    });
  });

  it('refuses a wrong password', async () => {
    const env = dataplane();
    await expect(
      withClient(
        {
          host: env.HOMEOPS_PG_HOST,
          port: Number(env.HOMEOPS_PGBOUNCER_PORT),
          user: 'homeops',
          password: 'wrong',
          database: 'homeops',
        },
        (c) => c.query('SELECT 1'),
      ),
    ).rejects.toThrow(/password authentication failed|SASL authentication failed/);
  });
});

describe('Redis', () => {
  it("answers INFO with the guide's memory and persistence policy", async () => {
    const env = dataplane();
    const redis = new Redis({
      host: env.HOMEOPS_REDIS_HOST,
      port: Number(env.HOMEOPS_REDIS_PORT),
      password: env.HOMEOPS_REDIS_PASSWORD,
      lazyConnect: true,
    });
    await redis.connect();
    try {
      const info = await redis.info();
      expect(info).toMatch(/^maxmemory:2147483648\r?$/m);
      expect(info).toMatch(/^maxmemory_policy:allkeys-lru\r?$/m);
      expect(info).toMatch(/^aof_enabled:1\r?$/m);
      expect(await redis.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
    } finally {
      redis.disconnect();
    }
  });
});
