-- What `resi export snapshot` has written to the bucket: a snapshot per date (its manifest) and
-- a day of attestations per day (so that a daily run writes only the new days). Written after
-- the files are in the bucket; the API lists snapshots from here.
CREATE TABLE open_data_exports (
    kind       text        NOT NULL CHECK (kind IN ('snapshot', 'attestations')),
    day        date        NOT NULL,
    bucket     text        NOT NULL,
    key        text        NOT NULL,
    rows       bigint      NOT NULL CHECK (rows >= 0),
    manifest   jsonb       NOT NULL,
    written_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, day)
);
GRANT SELECT ON open_data_exports TO resi_api;
