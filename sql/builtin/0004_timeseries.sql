-- The time-series side of the guide. With TimescaleDB (installed, or available and loadable):
-- hypertables with the guide's chunk intervals and space partitions, and, on a build with the
-- TSL license, compression, retention and the network.performance_hourly continuous aggregate
-- with its refresh policy (an Apache-only build gets none of those: the runner's jobs do the
-- work). Without TimescaleDB: network.performance_hourly is a materialized view with a unique
-- index, refreshed CONCURRENTLY by `job refresh`; the tables stay plain (see README).
DO $migration$
DECLARE
    timescale boolean := false;
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

    IF timescale THEN
        PERFORM create_hypertable('network.performance_metrics', 'time', chunk_time_interval => INTERVAL '1 day');
        PERFORM add_dimension('network.performance_metrics', 'node_id', number_partitions => 2);
        PERFORM create_hypertable('system_optimization.performance_metrics', 'time', chunk_time_interval => INTERVAL '1 day');
        PERFORM create_hypertable('analytics.events', 'timestamp', chunk_time_interval => INTERVAL '1 week');
        PERFORM add_dimension('analytics.events', 'user_id', number_partitions => 4);
        PERFORM create_hypertable('analytics.system_health', 'time', chunk_time_interval => INTERVAL '1 day');
        IF current_setting('timescaledb.license', true) = 'timescale' THEN
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
    END IF;

    -- Native (and Apache-only TimescaleDB): a materialized view the runner refreshes.
    EXECUTE $mv$
        CREATE MATERIALIZED VIEW network.performance_hourly AS
        SELECT date_trunc('hour', time AT TIME ZONE 'UTC') AS hour, node_id, metric_type,
               avg(value) AS avg_value, min(value) AS min_value, max(value) AS max_value, count(*) AS sample_count
          FROM network.performance_metrics
         GROUP BY 1, node_id, metric_type
        WITH NO DATA $mv$;
    CREATE UNIQUE INDEX performance_hourly_key ON network.performance_hourly (hour, node_id, metric_type);
END
$migration$;
