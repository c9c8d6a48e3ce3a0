//! Protection: per-client rate limits with Retry-After, API keys with their tier's quota,
//! security headers, CORS, compression, and a database role that can only read.

use reqwest::StatusCode;
use resi_api::config::Quota;

use crate::helpers::{Built, spawn_api};

#[tokio::test]
async fn clients_are_limited_per_ip_and_api_keys_get_their_tier() -> anyhow::Result<()> {
    // Arrange: 3 requests per minute anonymously, 6 for the "developer" tier
    let built = Built::new(6).await?;
    let mut config = built.api_config();
    config.api.rate_limit = Quota {
        requests: 3,
        per_secs: 60,
    };
    config.api.tiers.insert(
        "developer".into(),
        Quota {
            requests: 6,
            per_secs: 60,
        },
    );
    config.api.client_ip_header = Some("x-forwarded-for".into());
    config.api.api_key_cache_ms = 0;
    let api = spawn_api(&config).await?;
    let (key, key_id) = resi_ctl::new_key();
    let owner = built.stack.pool.get().await?;
    owner
        .execute(
            "INSERT INTO api_keys (key_id, key_hash, name, tier) VALUES ($1, $2, 'test', 'developer')",
            &[&key_id, &resi_api::limit::key_hash(&key).as_slice()],
        )
        .await?;
    let client_a = [("x-forwarded-for", "10.0.0.1")];
    let client_b = [("x-forwarded-for", "203.0.113.9, 10.0.0.2")];

    // Act / Assert: the fourth request of a client is refused, with Retry-After
    for remaining in [2, 1, 0] {
        let answer = api.get_with("/api/stats", &client_a).await?;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.headers["x-ratelimit-limit"], "3");
        assert_eq!(
            answer.headers["x-ratelimit-remaining"],
            remaining.to_string().as_str()
        );
    }
    let refused = api.get_with("/api/stats", &client_a).await?;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.code(), "rate_limited");
    let retry_after: u64 = refused.headers["retry-after"].to_str()?.parse()?;
    assert!(
        (1..=20).contains(&retry_after),
        "one request refills in 20 s: {retry_after}"
    );
    // another client (the rightmost forwarded address counts) still has its quota
    assert_eq!(
        api.get_with("/api/stats", &client_b).await?.status,
        StatusCode::OK
    );
    // health, readiness and docs are not limited
    for path in ["/health", "/ready", "/openapi.json", "/metrics"] {
        assert_eq!(
            api.get_with(path, &client_a).await?.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // an API key of the developer tier has its own, larger quota, from the same address
    for _ in 0..6 {
        let answer = api
            .get_with("/api/stats", &[client_a[0], ("x-api-key", &key)])
            .await?;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert_eq!(answer.headers["x-ratelimit-limit"], "6");
    }
    let bearer = format!("Bearer {key}");
    let spent = api
        .get_with("/api/stats", &[("authorization", &bearer)])
        .await?;
    assert_eq!(spent.status, StatusCode::TOO_MANY_REQUESTS);
    // unknown and revoked keys are 401
    let unknown = api
        .get_with("/api/stats", &[("x-api-key", "resi_00000000_nope")])
        .await?;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.code(), "invalid_api_key");
    owner
        .execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = $1",
            &[&key_id],
        )
        .await?;
    let revoked = api.get_with("/api/stats", &[("x-api-key", &key)]).await?;
    assert_eq!(revoked.status, StatusCode::UNAUTHORIZED);
    let metrics = api.get("/metrics").await?;
    assert!(
        metrics
            .text
            .contains(r#"resi_api_rejected_total{reason="rate_limited"}"#)
    );

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}

#[tokio::test]
async fn answers_carry_security_headers_cors_and_compression() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(30).await?;
    let mut config = built.api_config();
    config.api.cors_origins = vec!["https://dashboard.example".into()];
    let api = spawn_api(&config).await?;

    // Act
    let answer = api
        .get_with(
            "/api/listings/78701",
            &[
                ("origin", "https://dashboard.example"),
                ("accept-encoding", "gzip"),
            ],
        )
        .await?;
    let foreign = api
        .get_with("/api/stats", &[("origin", "https://evil.example")])
        .await?;

    // Assert
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["x-content-type-options"], "nosniff");
    assert_eq!(answer.headers["x-frame-options"], "DENY");
    assert!(answer.headers.contains_key("content-security-policy"));
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "https://dashboard.example"
    );
    assert_eq!(answer.headers["content-encoding"], "gzip");
    assert!(!foreign.headers.contains_key("access-control-allow-origin"));

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}

#[tokio::test]
async fn the_api_role_can_read_and_nothing_else() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(6).await?;
    let owner = built.stack.pool.get().await?;

    // Act: what the migrations and the projector granted the API's role
    let privileges = owner
        .query_one(
            "SELECT has_table_privilege('resi_api', 'listing_v1.listings', 'SELECT'),
                    has_table_privilege('resi_api', 'consensus_v2.consensus_listings', 'SELECT'),
                    has_table_privilege('resi_api', 'listing_v1.listings', 'INSERT'),
                    has_table_privilege('resi_api', 'listing_v1.listings', 'UPDATE'),
                    has_table_privilege('resi_api', 'projection_versions', 'DELETE'),
                    has_table_privilege('resi_api', 'api_keys', 'SELECT'),
                    has_table_privilege('resi_api', 'api_keys', 'INSERT')",
            &[],
        )
        .await?;
    // a connection set up exactly as the API's pool sets up its connections
    let session = resi_runtime::postgres::pool_with_session(
        &built.stack.postgres,
        Some("SET ROLE resi_api; SET default_transaction_read_only = on".into()),
    )?;
    let reader = session.get().await?;
    let read = reader
        .query_one("SELECT count(*) FROM listing_v1.listings", &[])
        .await?;
    let write = reader
        .batch_execute("BEGIN READ WRITE; DELETE FROM listing_v1.listings; COMMIT")
        .await;
    reader.batch_execute("ROLLBACK").await?;

    // Assert
    let granted: Vec<bool> = (0..7).map(|index| privileges.get(index)).collect();
    assert_eq!(granted, vec![true, true, false, false, false, true, false]);
    let error = write.expect_err("the API's role cannot delete");
    assert!(
        format!("{error:?}").contains("permission denied"),
        "{error:?}"
    );
    assert_eq!(read.get::<_, i64>(0), 7);

    resi_tests::stack::stop(vec![built.projector]).await
}

#[tokio::test]
async fn junk_api_keys_are_throttled_before_the_database_is_asked() -> anyhow::Result<()> {
    // Arrange: three key lookups a minute per client
    let built = Built::new(3).await?;
    let mut config = built.api_config();
    config.api.client_ip_header = Some("x-forwarded-for".into());
    config.api.key_lookup_rate_limit = Quota {
        requests: 3,
        per_secs: 60,
    };
    config.api.rate_limit = Quota {
        requests: 1_000,
        per_secs: 60,
    };
    // the API's sessions, told apart from the test's own
    config.postgres.url = secrecy::SecretString::from(format!(
        "{}?application_name=resi_api_under_test",
        secrecy::ExposeSecret::expose_secret(&config.postgres.url)
    ));
    let api = spawn_api(&config).await?;
    let guesser = [("x-forwarded-for", "198.51.100.7")];

    // Act: a client tries 20 well-formed keys that do not exist, and 20 that are not keys
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let (guess, _) = resi_ctl::new_key();
        let answer = api
            .get_with("/api/stats", &[guesser[0], ("x-api-key", &guess)])
            .await?;
        statuses.push(answer.status);
    }
    let mut junk_statuses = Vec::new();
    for index in 0..20 {
        let junk = format!("' OR 1=1; -- {index}");
        let answer = api
            .get_with(
                "/api/stats",
                &[("x-forwarded-for", "198.51.100.8"), ("x-api-key", &junk)],
            )
            .await?;
        junk_statuses.push(answer.status);
    }
    api.stop().await?;

    // Assert: three lookups, then 429 without asking; junk never looked up
    assert_eq!(statuses[..3], [StatusCode::UNAUTHORIZED; 3], "{statuses:?}");
    assert!(
        statuses[3..]
            .iter()
            .all(|status| *status == StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
    assert!(
        junk_statuses
            .iter()
            .all(|status| *status == StatusCode::UNAUTHORIZED),
        "{junk_statuses:?}"
    );
    // the database read the key table for the three lookups only, not for each request: its
    // statistics count every scan (the planner may probe the index too), reported by each of
    // the API's sessions as it ends
    let owner = built.stack.pool.get().await?;
    resi_tests::eventually(
        std::time::Duration::from_secs(30),
        "the API's sessions to end",
        || async {
            let sessions: i64 = owner
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE application_name = 'resi_api_under_test'",
                    &[],
                )
                .await?
                .get(0);
            Ok((sessions == 0).then_some(()))
        },
    )
    .await?;
    let scans: i64 = owner
        .query_one(
            "SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0)
             FROM pg_stat_user_tables WHERE relname = 'api_keys'",
            &[],
        )
        .await?
        .get(0);
    assert!(
        (3..=6).contains(&scans),
        "{scans} reads of api_keys for 40 requests with keys"
    );
    resi_tests::stack::stop(vec![built.projector]).await
}
