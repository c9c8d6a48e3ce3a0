-- The read-only API.
--
-- resi_api is the role every API connection switches to (SET ROLE): it may SELECT and nothing
-- else, so the API is read-only by construction, whatever user its connection URL names. The
-- projector grants it SELECT on each projection version's schema when it creates one. In
-- production give the API a login of its own that is a member of it:
--   CREATE ROLE resi_api_login LOGIN PASSWORD '…' IN ROLE resi_api;
-- Roles belong to the whole server, so creating it is idempotent (another database on the same
-- server may have created it already, perhaps at the same moment).
DO $$
BEGIN
    CREATE ROLE resi_api NOLOGIN;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

GRANT USAGE ON SCHEMA public TO resi_api;
GRANT SELECT ON projection_versions, projection_checkpoints TO resi_api;

-- API keys: only a blake3 hash of each key is stored; the key itself is shown once, when it is
-- created (`resi api-key create`). The tier names a quota of the API's configuration.
CREATE TABLE api_keys (
    key_id      text        PRIMARY KEY,
    key_hash    bytea       NOT NULL UNIQUE CHECK (length(key_hash) = 32),
    name        text        NOT NULL,
    tier        text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz
);
GRANT SELECT ON api_keys TO resi_api;
