-- The guide's monitoring views, materialized view and functions, corrected for PostgreSQL 13+:
--   C4 pg_stat_user_tables / pg_stat_user_indexes name their columns relname and indexrelname
--      (the guide's tablename/indexname exist only in pg_tables/pg_indexes): aliased;
--   C5 pg_stat_statements since PostgreSQL 13 has total_exec_time, mean_exec_time, ... (the
--      guide's total_time/mean_time are gone): aliased to the guide's names;
--   C6 create_yearly_partition took 'financial.transactions' as one %I identifier (quoted as a
--      single name with a dot in it): it now takes a regclass and builds names safely.

CREATE EXTENSION IF NOT EXISTS pg_stat_statements;

CREATE OR REPLACE VIEW monitoring.database_performance AS
SELECT 'query_performance'::text AS metric_type,
       schemaname,
       relname AS tablename,
       seq_scan, seq_tup_read, idx_scan, idx_tup_fetch,
       n_tup_ins, n_tup_upd, n_tup_del, n_live_tup, n_dead_tup
  FROM pg_stat_user_tables;

CREATE OR REPLACE VIEW monitoring.index_usage AS
SELECT schemaname,
       relname AS tablename,
       indexrelname AS indexname,
       idx_scan, idx_tup_read, idx_tup_fetch
  FROM pg_stat_user_indexes
 ORDER BY idx_scan DESC;

CREATE OR REPLACE VIEW monitoring.slow_queries AS
SELECT query,
       calls,
       total_exec_time  AS total_time,
       mean_exec_time   AS mean_time,
       min_exec_time    AS min_time,
       max_exec_time    AS max_time,
       stddev_exec_time AS stddev_time
  FROM pg_stat_statements
 WHERE mean_exec_time > 100
 ORDER BY total_exec_time DESC;

CREATE OR REPLACE VIEW monitoring.unused_indexes AS
SELECT schemaname, relname AS tablename, indexrelname AS indexname
  FROM pg_stat_user_indexes
 WHERE idx_scan = 0 AND idx_tup_read = 0 AND indexrelname NOT LIKE '%\_pkey'
 ORDER BY schemaname, relname;

CREATE OR REPLACE VIEW monitoring.table_bloat AS
SELECT schemaname, relname AS tablename, n_dead_tup, n_live_tup,
       round(n_dead_tup * 100.0 / (n_live_tup + n_dead_tup), 2) AS dead_tuple_percent
  FROM pg_stat_user_tables
 WHERE n_live_tup > 0
 ORDER BY dead_tuple_percent DESC;

CREATE MATERIALIZED VIEW IF NOT EXISTS financial.portfolio_performance_summary AS
SELECT p.user_id,
       p.id AS portfolio_id,
       p.name,
       p.total_value,
       p.total_cost_basis,
       (p.total_value - p.total_cost_basis) AS unrealized_pnl,
       count(pos.id) AS position_count,
       avg(pos.unrealized_pnl) AS avg_position_pnl,
       stddev(pos.unrealized_pnl) AS portfolio_volatility,
       max(pos.last_updated) AS last_position_update
  FROM financial.portfolios p
  LEFT JOIN financial.positions pos ON p.id = pos.portfolio_id
 GROUP BY p.id, p.user_id, p.name, p.total_value, p.total_cost_basis;

-- The unique index makes REFRESH ... CONCURRENTLY possible.
CREATE UNIQUE INDEX IF NOT EXISTS idx_portfolio_perf_summary_id ON financial.portfolio_performance_summary (portfolio_id);
CREATE INDEX IF NOT EXISTS idx_portfolio_perf_summary_user ON financial.portfolio_performance_summary (user_id);

CREATE OR REPLACE FUNCTION financial.refresh_portfolio_performance() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    REFRESH MATERIALIZED VIEW CONCURRENTLY financial.portfolio_performance_summary;
END;
$$;

-- C6: a yearly partition of a table partitioned by range on a date, with its own index.
CREATE OR REPLACE FUNCTION financial.create_yearly_partition(parent regclass, year int) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    nsp  text;
    rel  text;
    part text;
BEGIN
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = parent;
    part := rel || '_' || year;
    EXECUTE format('CREATE TABLE IF NOT EXISTS %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   nsp, part, parent, make_date(year, 1, 1), make_date(year + 1, 1, 1));
    RETURN nsp || '.' || part;
END;
$$;
