-- The trust projection, one schema per version ({schema} is replaced by the version's schema).
-- Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- One row per miner; see resi_projections::trust for the rule.
CREATE TABLE IF NOT EXISTS {schema}.miner_trust (
    miner_hotkey          text             PRIMARY KEY,
    trust_score           double precision NOT NULL CHECK (trust_score BETWEEN 0 AND 1),
    total_submissions     bigint           NOT NULL,
    validated_submissions bigint           NOT NULL,
    rows_read             bigint           NOT NULL,
    duplicate_rows        bigint           NOT NULL,
    duplicate_rate        double precision NOT NULL,
    submissions_today     bigint           NOT NULL,
    submissions_date      date             NOT NULL,
    last_submission       timestamptz      NOT NULL,
    last_quality          double precision NOT NULL
);
CREATE INDEX IF NOT EXISTS miner_trust_by_score ON {schema}.miner_trust (trust_score DESC, miner_hotkey);

-- Rejected rows and uploads per miner and reason (row reasons as the parser names them;
-- rejected uploads as "upload:<reason>").
CREATE TABLE IF NOT EXISTS {schema}.miner_rejections (
    miner_hotkey text   NOT NULL,
    reason       text   NOT NULL,
    count        bigint NOT NULL,
    PRIMARY KEY (miner_hotkey, reason)
);

-- Events already folded: a re-delivered summary must not move trust twice.
CREATE TABLE IF NOT EXISTS {schema}.folded_events (
    event_id bytea PRIMARY KEY
);

-- One row per summarised upload of an epoch (epoch JSON and v2 uploads): what the parser found
-- in it, for the coordinator's epoch evidence.
CREATE TABLE IF NOT EXISTS {schema}.epoch_uploads (
    upload_id            bytea  PRIMARY KEY,
    miner_hotkey         text   NOT NULL,
    epoch_id             text   NOT NULL,
    zipcode              text,
    rows_read            bigint NOT NULL,
    rows_rejected        bigint NOT NULL,
    duplicate_rows       bigint NOT NULL,
    future_scrape_times  bigint NOT NULL,
    rows_outside_zipcode bigint NOT NULL
);
CREATE INDEX IF NOT EXISTS epoch_uploads_by_epoch ON {schema}.epoch_uploads (epoch_id, miner_hotkey);

-- Each miner's uploads per UTC day of the event's time: the history that anomaly signals
-- (a rejection-rate spike against the week before, a fall in trust) are measured on.
-- trust_end is the trust after the miner's last event of that day in log order.
CREATE TABLE IF NOT EXISTS {schema}.miner_days (
    miner_hotkey     text             NOT NULL,
    day              date             NOT NULL,
    uploads          bigint           NOT NULL,
    uploads_rejected bigint           NOT NULL,
    rows_read        bigint           NOT NULL,
    rows_rejected    bigint           NOT NULL,
    trust_low        double precision,
    trust_end        double precision,
    PRIMARY KEY (miner_hotkey, day)
);
CREATE INDEX IF NOT EXISTS miner_days_by_day ON {schema}.miner_days (day, miner_hotkey);
