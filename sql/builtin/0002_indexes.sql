-- homeops:no-transaction
-- The guide's indexes. CREATE INDEX CONCURRENTLY cannot run in a transaction block, so this
-- migration runs statement by statement outside one (the runner's no-transaction mode); each
-- statement is idempotent (IF NOT EXISTS), so a rerun after a failure completes it.
-- Corrections to the guide, each explained in README.md ("The guide's SQL, corrected"):
--   C1 partial-index predicates may only use IMMUTABLE expressions: no NOW()/CURRENT_DATE, no subqueries;
--   C3 CONCURRENTLY is not supported on a partitioned table: its index is built plainly (it is
--      empty here; rollover creates each new partition with its index).

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_auth_lookup
    ON core.users (email, is_active) WHERE is_active = true;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_users_email_lower
    ON core.users (lower(email));

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_sessions_user_active
    ON core.conversation_sessions (user_id, is_active) INCLUDE (id, started_at) WHERE is_active = true;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_notifications_realtime
    ON core.notifications (user_id, created_at DESC) INCLUDE (id, type, title, is_read) WHERE is_read = false;

-- The time-series tables' indexes are made by 0004, with the tables.

-- C1 + C3: the guide's idx_transactions_recent_hot ("WHERE transaction_date >= CURRENT_DATE - 90 days")
-- becomes the account/date index on the partitioned table: yearly partitions already keep the
-- hot rows together, and the index is created on every partition.
CREATE INDEX IF NOT EXISTS idx_transactions_account_date
    ON financial.transactions (account_id, transaction_date DESC) INCLUDE (amount);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_accounts_user
    ON financial.accounts (user_id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_positions_portfolio
    ON financial.positions (portfolio_id) WHERE quantity > 0;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_portfolios_user
    ON financial.portfolios (user_id);

-- C1: the guide's idx_notifications_active_users has a subquery on core.users in its
-- predicate, which PostgreSQL refuses; idx_notifications_realtime serves the same lookups.

-- C1: the guide's idx_devices_responsive has "last_seen >= NOW() - INTERVAL '5 minutes'":
-- keep the immutable part of the predicate and put last_seen in the key.
CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_devices_responsive
    ON smart_home.devices (room_id, device_type, last_seen DESC) WHERE is_online = true;

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_devices_room
    ON smart_home.devices (room_id);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_media_items_library_added
    ON media.items (library_id, date_added DESC);

CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_media_activity_item
    ON media.user_activity (item_id);
