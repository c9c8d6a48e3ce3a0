-- The scores projection, one schema per version ({schema} is replaced by the version's schema):
-- the reference epoch score of every miner (resi_projections::scores) from the evidence the
-- coordinator recorded on the epochs topic. Idempotent: run on every start.
CREATE SCHEMA IF NOT EXISTS {schema};

-- What scoring needs of each epoch, as the events themselves (the codec's bytes): the first
-- opening on the log, its closing, and the completion the scores were computed at.
CREATE TABLE IF NOT EXISTS {schema}.scored_epochs (
    epoch_id          text        PRIMARY KEY,
    opened_event_id   bytea       NOT NULL,
    opened            bytea       NOT NULL,
    closed_event_id   bytea,
    closed            bytea,
    complete_event_id bytea,
    miners            integer
);

-- Every miner's evidence as recorded, by its event id; the completion names the ones used.
CREATE TABLE IF NOT EXISTS {schema}.score_evidence (
    event_id     bytea PRIMARY KEY,
    epoch_id     text  NOT NULL,
    miner_hotkey text  NOT NULL,
    evidence     bytea NOT NULL
);
CREATE INDEX IF NOT EXISTS score_evidence_by_epoch ON {schema}.score_evidence (epoch_id);

-- Per miner per epoch: every component, the fabrication signals and the reward share.
CREATE TABLE IF NOT EXISTS {schema}.epoch_scores (
    epoch_id          text             NOT NULL,
    miner_hotkey      text             NOT NULL,
    quality           double precision NOT NULL CHECK (quality BETWEEN 0 AND 1),
    accuracy          double precision NOT NULL CHECK (accuracy BETWEEN 0 AND 1),
    completeness      double precision NOT NULL CHECK (completeness BETWEEN 0 AND 1),
    timeliness        double precision NOT NULL CHECK (timeliness BETWEEN 0 AND 1),
    total             double precision NOT NULL CHECK (total BETWEEN 0 AND 1),
    honeypot_listings bigint           NOT NULL,
    impossible_rows   bigint           NOT NULL,
    fabricated        boolean          NOT NULL,
    zipcodes_covered  integer          NOT NULL,
    reward_share      double precision NOT NULL CHECK (reward_share BETWEEN 0 AND 1),
    evidence_id       bytea            NOT NULL,
    PRIMARY KEY (epoch_id, miner_hotkey)
);
CREATE INDEX IF NOT EXISTS epoch_scores_by_miner ON {schema}.epoch_scores (miner_hotkey, epoch_id);

-- Per assigned zipcode per miner: the score in that zipcode alone, the rank among the eligible
-- miners (NULL when not eligible) and the share of the zipcode's reward.
CREATE TABLE IF NOT EXISTS {schema}.zipcode_rankings (
    epoch_id     text             NOT NULL,
    zipcode      text             NOT NULL,
    miner_hotkey text             NOT NULL,
    rank         integer,
    reward       double precision NOT NULL,
    quality      double precision NOT NULL,
    accuracy     double precision NOT NULL,
    completeness double precision NOT NULL,
    timeliness   double precision NOT NULL,
    total        double precision NOT NULL,
    PRIMARY KEY (epoch_id, zipcode, miner_hotkey)
);

-- Events that could not be applied (a second, different completion; evidence it names that is
-- not on the log), with the reason.
CREATE TABLE IF NOT EXISTS {schema}.score_conflicts (
    epoch_id text  NOT NULL,
    event_id bytea NOT NULL,
    reason   text  NOT NULL,
    PRIMARY KEY (epoch_id, event_id)
);

-- Bans decided by the coordinator and lifted by operators: the parser refuses a banned
-- miner's uploads and the gateway its requests.
CREATE TABLE IF NOT EXISTS {schema}.miner_bans (
    miner_hotkey      text    PRIMARY KEY,
    banned            boolean NOT NULL,
    banned_event_id   bytea   NOT NULL,
    epochs            text[]  NOT NULL,
    unbanned_event_id bytea,
    unbanned_by       text,
    unban_reason      text
);

-- Validators' results as admitted (each validator's stake at admission), and every score in
-- them. A validator that publishes again adds results; the verdicts name the ones counted.
CREATE TABLE IF NOT EXISTS {schema}.validator_results (
    results_id       bytea       PRIMARY KEY,
    epoch_id         text        NOT NULL,
    validator_hotkey text        NOT NULL,
    upload_id        bytea       NOT NULL,
    published_at     timestamptz NOT NULL,
    claimed_at       timestamptz NOT NULL,
    stake_rao        bigint      NOT NULL,
    metagraph_block  bigint      NOT NULL,
    scores           integer     NOT NULL,
    entries_rejected bigint      NOT NULL
);
CREATE INDEX IF NOT EXISTS validator_results_by_epoch ON {schema}.validator_results (epoch_id, validator_hotkey);

CREATE TABLE IF NOT EXISTS {schema}.validator_scores (
    results_id       bytea  NOT NULL,
    epoch_id         text   NOT NULL,
    validator_hotkey text   NOT NULL,
    miner_hotkey     text   NOT NULL,
    data_quality     float8 NOT NULL,
    accuracy         float8 NOT NULL,
    completeness     float8 NOT NULL,
    timeliness       float8 NOT NULL,
    total            float8 NOT NULL,
    PRIMARY KEY (results_id, miner_hotkey)
);
CREATE INDEX IF NOT EXISTS validator_scores_by_miner ON {schema}.validator_scores (epoch_id, miner_hotkey);

-- The first verdict recorded for each epoch, and the results it counted.
CREATE TABLE IF NOT EXISTS {schema}.epoch_validations (
    epoch_id     text        PRIMARY KEY,
    validated_id bytea       NOT NULL,
    results_ids  bytea[]     NOT NULL,
    validated_at timestamptz NOT NULL
);

-- Each judged miner's verdict in an epoch: what `is_validated` and `validation_score` of its
-- attestations of that epoch are.
CREATE TABLE IF NOT EXISTS {schema}.miner_validations (
    epoch_id         text        NOT NULL,
    miner_hotkey     text        NOT NULL,
    verdict          text        NOT NULL,
    validation_score float8      NOT NULL,
    stake_confirming bigint      NOT NULL,
    stake_fake       bigint      NOT NULL,
    stake_judging    bigint      NOT NULL,
    validators       integer     NOT NULL,
    validated_at     timestamptz NOT NULL,
    PRIMARY KEY (epoch_id, miner_hotkey)
);
CREATE INDEX IF NOT EXISTS miner_validations_by_miner ON {schema}.miner_validations (miner_hotkey, epoch_id);
