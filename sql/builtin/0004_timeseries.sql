-- The time-series side of the guide: its four time-series tables, their indexes, and
-- network.performance_hourly.
--
-- With TimescaleDB (installed, or available and loadable): hypertables with the guide's chunk
-- intervals and space partitions and, on a build with the TSL license, compression, retention
-- and the network.performance_hourly continuous aggregate with its refresh policy. An
-- Apache-only build gets none of those: the runner does the work (rollover drops chunks past
-- retention; network.performance_hourly is a materialized view that refresh refreshes).
--
-- Without TimescaleDB: the tables are range-partitioned on their time column with the same
-- periods (1 day, and 1 week for analytics.events); the partitions are made ahead and dropped
-- past retention by the runner's rollover job (no partition exists until it first runs); the
-- continuous aggregate is a materialized view with a unique index, refreshed CONCURRENTLY.
--
-- C10: neither a hypertable nor a partitioned table accepts a primary key without the time
-- column; these tables have none. C3: CREATE INDEX CONCURRENTLY is refused on partitioned
-- tables and on hypertables: the indexes are built plainly on the empty parents, and every
-- partition or chunk made later gets them.
DO $tables$
DECLARE
    timescale boolean := false;
    partitioned_by_time text := '';
    partitioned_by_timestamp text := '';
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS timescaledb;
            timescale := true;
        EXCEPTION WHEN OTHERS THEN
            -- Available but not loadable (not in shared_preload_libraries): the native path.
            RAISE NOTICE 'timescaledb is available but could not be created: %', SQLERRM;
        END;
    END IF;
    IF NOT timescale THEN
        partitioned_by_time := 'PARTITION BY RANGE (time)';
        partitioned_by_timestamp := 'PARTITION BY RANGE ("timestamp")';
    END IF;

    EXECUTE format($ddl$
        CREATE TABLE network.performance_metrics (
            time         timestamptz NOT NULL,
            node_id      text NOT NULL,
            metric_type  text NOT NULL,
            value        double precision NOT NULL
        ) %s $ddl$, partitioned_by_time);
    -- The same shape, for the optimizer's own metrics.
    EXECUTE format($ddl$
        CREATE TABLE system_optimization.performance_metrics (LIKE network.performance_metrics INCLUDING ALL)
        %s $ddl$, partitioned_by_time);
    EXECUTE format($ddl$
        CREATE TABLE analytics.events (
            "timestamp"  timestamptz NOT NULL,
            user_id      uuid,
            event_type   text NOT NULL,
            properties   jsonb NOT NULL DEFAULT '{}'
        ) %s $ddl$, partitioned_by_timestamp);
    EXECUTE format($ddl$
        CREATE TABLE analytics.system_health (
            time                  timestamptz NOT NULL,
            overall_health_score  numeric(5, 2) NOT NULL,
            active_services       int NOT NULL,
            failed_services       int NOT NULL,
            error_rate            double precision NOT NULL
        ) %s $ddl$, partitioned_by_time);

    IF timescale THEN
        PERFORM create_hypertable('network.performance_metrics', 'time', chunk_time_interval => INTERVAL '1 day');
        PERFORM add_dimension('network.performance_metrics', 'node_id', number_partitions => 2);
        PERFORM create_hypertable('system_optimization.performance_metrics', 'time', chunk_time_interval => INTERVAL '1 day');
        PERFORM create_hypertable('analytics.events', 'timestamp', chunk_time_interval => INTERVAL '1 week');
        PERFORM add_dimension('analytics.events', 'user_id', number_partitions => 4);
        PERFORM create_hypertable('analytics.system_health', 'time', chunk_time_interval => INTERVAL '1 day');
    END IF;
END
$tables$;

-- C2: the guide's (node_id, time_bucket('1 hour', time)): time_bucket exists only with
-- TimescaleDB, and date_trunc on a timestamptz is not immutable; this one is, on both paths.
CREATE INDEX idx_perf_metrics_node_hour
    ON network.performance_metrics (node_id, date_trunc('hour', time AT TIME ZONE 'UTC'));

-- C1: the guide's "WHERE time > NOW() - INTERVAL '24 hours'" is refused (NOW() is not immutable,
-- and would be frozen at build time anyway): a plain index on time serves "recent" queries, and
-- the daily partitions or chunks already keep the recent rows together.
CREATE INDEX idx_sys_metrics_recent
    ON system_optimization.performance_metrics (time DESC, node_id);

CREATE INDEX idx_system_health_dashboard
    ON analytics.system_health (time DESC) INCLUDE (overall_health_score, active_services, error_rate);

CREATE INDEX idx_events_timestamp
    ON analytics.events ("timestamp" DESC);

DO $policies$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'timescaledb')
       AND current_setting('timescaledb.license', true) = 'timescale' THEN
        ALTER TABLE network.performance_metrics SET (timescaledb.compress, timescaledb.compress_segmentby = 'node_id');
        ALTER TABLE analytics.events SET (timescaledb.compress, timescaledb.compress_segmentby = 'user_id');
        ALTER TABLE analytics.system_health SET (timescaledb.compress);
        PERFORM add_compression_policy('network.performance_metrics', INTERVAL '7 days');
        PERFORM add_compression_policy('analytics.events', INTERVAL '30 days');
        PERFORM add_compression_policy('analytics.system_health', INTERVAL '7 days');
        PERFORM add_retention_policy('network.performance_metrics', INTERVAL '1 year');
        PERFORM add_retention_policy('analytics.events', INTERVAL '2 years');
        PERFORM add_retention_policy('analytics.system_health', INTERVAL '6 months');
        EXECUTE $ca$
            CREATE MATERIALIZED VIEW network.performance_hourly WITH (timescaledb.continuous) AS
            SELECT time_bucket('1 hour', time) AS hour, node_id, metric_type,
                   avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, count(*) AS sample_count
              FROM network.performance_metrics
             GROUP BY hour, node_id, metric_type
            WITH NO DATA $ca$;
        PERFORM add_continuous_aggregate_policy('network.performance_hourly',
            start_offset => INTERVAL '1 day', end_offset => INTERVAL '1 hour', schedule_interval => INTERVAL '1 hour');
        RETURN;
    END IF;

    -- Native and Apache-only TimescaleDB: a materialized view the runner refreshes.
    EXECUTE $mv$
        CREATE MATERIALIZED VIEW network.performance_hourly AS
        SELECT date_trunc('hour', time AT TIME ZONE 'UTC') AS hour, node_id, metric_type,
               avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, count(*) AS sample_count
          FROM network.performance_metrics
         GROUP BY 1, node_id, metric_type
        WITH NO DATA $mv$;
    CREATE UNIQUE INDEX performance_hourly_key ON network.performance_hourly (hour, node_id, metric_type);
END
$policies$;
