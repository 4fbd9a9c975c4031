-- The HomeOps reference schema: the tables the guide's queries read, with the columns they need.
-- Partitioned tables include their partition key in the primary key (PostgreSQL requires it).

CREATE SCHEMA IF NOT EXISTS core;
CREATE SCHEMA IF NOT EXISTS financial;
CREATE SCHEMA IF NOT EXISTS smart_home;
CREATE SCHEMA IF NOT EXISTS media;
CREATE SCHEMA IF NOT EXISTS network;
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS system_optimization;
CREATE SCHEMA IF NOT EXISTS monitoring;

CREATE TABLE core.users (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email           text NOT NULL UNIQUE,
    display_name    text NOT NULL,
    role            text NOT NULL DEFAULT 'member' CHECK (role IN ('admin', 'member', 'guest')),
    is_active       boolean NOT NULL DEFAULT true,
    last_login_at   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE core.conversation_sessions (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES core.users (id) ON DELETE CASCADE,
    is_active   boolean NOT NULL DEFAULT true,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz
);

CREATE TABLE core.notifications (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id     uuid NOT NULL REFERENCES core.users (id) ON DELETE CASCADE,
    type        text NOT NULL,
    title       text NOT NULL,
    body        text,
    is_read     boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE financial.accounts (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id       uuid NOT NULL REFERENCES core.users (id) ON DELETE CASCADE,
    account_name  text NOT NULL,
    account_type  text NOT NULL CHECK (account_type IN ('checking', 'savings', 'credit', 'brokerage', 'retirement')),
    balance       numeric(15, 2) NOT NULL DEFAULT 0,
    currency      char(3) NOT NULL DEFAULT 'USD',
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Partitioned by year (the guide); partitions are made by the runner's rollover job.
CREATE TABLE financial.transactions (
    id                uuid NOT NULL DEFAULT gen_random_uuid(),
    account_id        uuid NOT NULL REFERENCES financial.accounts (id) ON DELETE CASCADE,
    transaction_date  date NOT NULL,
    amount            numeric(15, 2) NOT NULL,
    description       text NOT NULL,
    category          text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT pk_transactions PRIMARY KEY (id, transaction_date)
) PARTITION BY RANGE (transaction_date);

CREATE TABLE financial.portfolios (
    id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id           uuid NOT NULL REFERENCES core.users (id) ON DELETE CASCADE,
    name              text NOT NULL,
    total_value       numeric(15, 2) NOT NULL DEFAULT 0,
    total_cost_basis  numeric(15, 2) NOT NULL DEFAULT 0
);

CREATE TABLE financial.positions (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    portfolio_id    uuid NOT NULL REFERENCES financial.portfolios (id) ON DELETE CASCADE,
    symbol          text NOT NULL,
    quantity        numeric(18, 6) NOT NULL,
    average_cost    numeric(15, 4) NOT NULL,
    current_price   numeric(15, 4) NOT NULL,
    unrealized_pnl  numeric(15, 2) GENERATED ALWAYS AS (round(quantity * (current_price - average_cost), 2)) STORED,
    last_updated    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE smart_home.rooms (
    id    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name  text NOT NULL,
    type  text NOT NULL
);

CREATE TABLE smart_home.devices (
    id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    room_id          uuid REFERENCES smart_home.rooms (id) ON DELETE SET NULL,
    name             text NOT NULL,
    device_type      text NOT NULL,
    is_online        boolean NOT NULL DEFAULT false,
    is_controllable  boolean NOT NULL DEFAULT true,
    current_state    jsonb NOT NULL DEFAULT '{}',
    last_seen        timestamptz
);

CREATE TABLE media.libraries (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text NOT NULL,
    media_type  text NOT NULL
);

CREATE TABLE media.items (
    id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    library_id  uuid NOT NULL REFERENCES media.libraries (id) ON DELETE CASCADE,
    title       text NOT NULL,
    year        int,
    duration_s  int,
    date_added  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE media.user_activity (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    item_id        uuid NOT NULL REFERENCES media.items (id) ON DELETE CASCADE,
    user_id        uuid NOT NULL REFERENCES core.users (id) ON DELETE CASCADE,
    activity_type  text NOT NULL CHECK (activity_type IN ('play', 'pause', 'complete', 'rate', 'favorite')),
    created_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE network.services (
    id      uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name    text NOT NULL UNIQUE,
    status  text NOT NULL CHECK (status IN ('up', 'down', 'degraded', 'unknown'))
);

-- The time-series tables (network.performance_metrics, system_optimization.performance_metrics,
-- analytics.events, analytics.system_health) are made by 0004: hypertables or native partitions.
