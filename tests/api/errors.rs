//! Every error path answers with one shape: 400 naming the parameter, 404, 405, 414, 503 when
//! the database is unavailable or too slow, never a 500.

use reqwest::StatusCode;

use crate::helpers::{Built, spawn_api};

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter_and_unknowns_are_404() -> anyhow::Result<()> {
    // Arrange
    let built = Built::new(6).await?;
    let api = spawn_api(&built.api_config()).await?;

    // Act / Assert
    let bad = [
        ("/api/listings/7870", "zip"),
        ("/api/listings/78701?limit=0", "limit"),
        ("/api/listings/78701?limit=501", "limit"),
        ("/api/listings/78701?limit=ten", "limit"),
        ("/api/listings/78701?minPrice=-5", "minPrice"),
        ("/api/listings/78701?minBeds=x", "minBeds"),
        ("/api/listings/78701?attestations=11", "attestations"),
        ("/api/listings/78701?colour=red", "colour"),
        ("/api/listings/78701?limit=5&limit=6", "limit"),
        ("/api/listings/78701?limit=", "limit"),
        ("/api/listings/78701?limit=%2B5", "limit"),
        ("/api/listings/78701?limit=5.0", "limit"),
        ("/api/listings/78701?status=caf%C3%A9", "status"),
        ("/api/listings/78701?cursor=c1.ABCD", "cursor"),
        ("/api/listings/78701?cursor=nonsense", "cursor"),
        (
            "/api/listings/78701?consensus_version=V%3B--",
            "consensus_version",
        ),
        ("/api/listings", "bbox"),
        ("/api/listings?bbox=1,2,3", "bbox"),
        ("/api/listings?bbox=-197,30,-98,31", "bbox"),
        ("/api/listings?bbox=-97,30,-98,1e1", "bbox"),
        ("/api/listings?bbox=%20-97,30,-98,31", "bbox"),
        ("/api/listing/%20x", "zpid"),
        ("/api/listing/mls:42", "zpid"),
        ("/api/listing/300001/history?limit=1001", "limit"),
        ("/api/miners/not%20a%20key/stats", "hotkey"),
        ("/api/miners?sort=shoe_size", "sort"),
        ("/api/miners?order=sideways", "order"),
        ("/api/miners?order=DESC", "order"),
    ];
    for (path, parameter) in bad {
        let answer = api.get(path).await?;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{path}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "bad_parameter", "{path}");
        assert!(
            answer.message().contains(parameter),
            "{path}: the message names {parameter}: {}",
            answer.message()
        );
    }
    let missing = [
        "/api/listing/999999",
        "/api/listing/999999/consensus",
        "/api/listing/999999/history",
        "/api/miners/5Nobody/stats",
        "/api/listings/78701?consensus_version=v9",
        "/api/nothing-here",
    ];
    for path in missing {
        let answer = api.get(path).await?;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            answer.text
        );
        assert_eq!(answer.code(), "not_found", "{path}");
    }
    let posted = api
        .client
        .post(format!("http://{}/api/stats", api.address))
        .send()
        .await?;
    assert_eq!(posted.status(), StatusCode::METHOD_NOT_ALLOWED);
    let long = format!("/api/listings/78701?status={}", "A".repeat(5_000));
    let answer = api.get(&long).await?;
    assert_eq!(answer.status, StatusCode::URI_TOO_LONG);
    assert_eq!(answer.code(), "uri_too_long");
    let long_value = format!("/api/listings/78701?status={}", "A".repeat(300));
    let answer = api.get(&long_value).await?;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.message().contains("status"));

    api.stop().await?;
    resi_tests::stack::stop(vec![built.projector]).await
}

#[tokio::test]
async fn a_slow_or_missing_database_is_503_not_500() -> anyhow::Result<()> {
    // Arrange: two APIs, one with a statement timeout, one with a request timeout
    let built = Built::new(6).await?;
    let mut statement_limited = built.api_config();
    statement_limited.postgres.statement_timeout_ms = 300;
    let statement_api = spawn_api(&statement_limited).await?;
    let mut request_limited = built.api_config();
    request_limited.postgres.statement_timeout_ms = 0;
    request_limited.api.request_timeout_ms = 300;
    let request_api = spawn_api(&request_limited).await?;

    // Act: hold an exclusive lock on the live listings table, so every read of it waits
    let mut owner = built.stack.pool.get().await?;
    let lock = owner.transaction().await?;
    lock.batch_execute("LOCK TABLE listing_v1.listings IN ACCESS EXCLUSIVE MODE")
        .await?;
    let by_statement = statement_api.get("/api/listing/300001").await?;
    let by_request = request_api.get("/api/listing/300001").await?;
    lock.rollback().await?;

    // Assert
    assert_eq!(
        by_statement.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        by_statement.text
    );
    assert_eq!(by_statement.code(), "database_unavailable");
    assert!(by_statement.headers.contains_key("retry-after"));
    assert_eq!(
        by_request.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        by_request.text
    );
    assert_eq!(by_request.code(), "timeout");
    // after the lock, both answer again
    assert_eq!(
        statement_api.get("/api/listing/300001").await?.status,
        StatusCode::OK
    );
    assert_eq!(
        request_api.get("/api/listing/300001").await?.status,
        StatusCode::OK
    );

    // Act: the database goes away (dropped, its connections terminated)
    resi_tests::stack::stop(vec![built.projector]).await?;
    drop(owner);
    built.stack.pool.close();
    resi_tests::drop_database(&built.stack.postgres).await?;
    let gone = statement_api.get("/api/stats").await?;
    let ready = statement_api.get("/ready").await?;

    // Assert: 503 with the error shape, and not ready
    assert_eq!(
        gone.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        gone.text
    );
    assert_eq!(gone.code(), "database_unavailable");
    assert!(
        !gone.text.contains("tokio_postgres"),
        "no internals leak: {}",
        gone.text
    );
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);

    statement_api.stop().await?;
    request_api.stop().await
}

#[tokio::test]
async fn before_any_projection_is_built_the_api_is_unready_and_says_so() -> anyhow::Result<()> {
    // Arrange: a migrated database with no projection version yet
    let stack = resi_tests::stack::Stack::new().await?;
    let mut config = resi_api::ApiServiceConfig {
        postgres: stack.postgres.clone(),
        kafka: stack.kafka.clone(),
        ..resi_api::ApiServiceConfig::default()
    };
    config.api.listen = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let api = spawn_api(&config).await?;

    // Act
    let stats = api.get("/api/stats").await?;
    let listing = api.get("/api/listing/1").await?;
    let ready = api.get("/ready").await?;

    // Assert
    assert_eq!(stats.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(stats.code(), "not_built");
    assert_eq!(listing.code(), "not_built");
    assert_eq!(ready.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.body["status"], "not_ready");
    assert_eq!(ready.body["database"], "ok");
    api.stop().await
}

#[tokio::test]
async fn shutdown_finishes_the_requests_in_flight() -> anyhow::Result<()> {
    // Arrange: a request held up by a lock on the table it reads
    let built = Built::new(6).await?;
    let api = spawn_api(&built.api_config()).await?;
    let mut owner = built.stack.pool.get().await?;
    let lock = owner.transaction().await?;
    lock.batch_execute("LOCK TABLE listing_v1.listings IN ACCESS EXCLUSIVE MODE")
        .await?;
    let url = format!("http://{}/api/listing/300001", api.address);
    let client = api.client.clone();
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    // the request is waiting on the lock once Postgres shows its backend waiting
    resi_tests::eventually(
        std::time::Duration::from_secs(30),
        "the request to wait on the lock",
        || async {
            let waiting: i64 = built
                .stack
                .pool
                .get()
                .await?
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity
                     WHERE datname = current_database() AND wait_event_type = 'Lock'",
                    &[],
                )
                .await?
                .get(0);
            Ok((waiting > 0).then_some(()))
        },
    )
    .await?;

    // Act: stop the API; once it refuses new connections, release the lock
    api.begin_stop();
    let address = api.address;
    resi_tests::eventually(
        std::time::Duration::from_secs(30),
        "the API to stop accepting connections",
        || async {
            Ok(tokio::net::TcpStream::connect(address)
                .await
                .is_err()
                .then_some(()))
        },
    )
    .await?;
    let stopping = tokio::spawn(api.stop());
    lock.rollback().await?;

    // Assert: the request in flight was answered, and the server stopped
    let answer = in_flight.await??;
    assert_eq!(answer.status(), StatusCode::OK);
    stopping.await??;
    resi_tests::stack::stop(vec![built.projector]).await
}
