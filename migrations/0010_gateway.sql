-- The gateway's shared state, so that every replica enforces the same limits.
-- Each signed request (hotkey, commitment string) is accepted once: a captured request cannot
-- be sent again while its timestamp is still fresh; rows go once they expire.
CREATE TABLE gateway_signatures (
    hotkey     text        NOT NULL,
    commitment text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (hotkey, commitment)
);
CREATE INDEX gateway_signatures_by_expiry ON gateway_signatures (expires_at);

-- Requests per caller (a hotkey, or the client address for public endpoints), per action and
-- fixed window; rows go once their window is long past.
CREATE TABLE gateway_rate_limits (
    caller       text        NOT NULL,
    action       text        NOT NULL,
    window_start timestamptz NOT NULL,
    requests     integer     NOT NULL,
    PRIMARY KEY (caller, action, window_start)
);
CREATE INDEX gateway_rate_limits_by_window ON gateway_rate_limits (window_start);
