//! The gateway on the real stack with the network's own signer: requests signed in Python by
//! bittensor-wallet's Keypair are served; altered, expired, replayed, wrong-key, unregistered
//! and under-staked ones are refused with a clear body; limits hold across two replicas.

use std::path::Path;

use chrono::Utc;
use reqwest::StatusCode;
use resi_coordinator::Coordinator;
use resi_gateway::{Gateway, GatewayServiceConfig, Limit};
use resi_projector::engine::ProjectionKind;
use resi_runtime::shutdown::Shutdown;
use resi_tests::run_python;
use serde_json::{Value, json};

use crate::{config as coordinator_config, stack};

/// `(uri, message, wrap)` signed by bittensor-wallet: `(hotkey, signature)` each.
fn sign(requests: &[(&str, String, bool)]) -> anyhow::Result<Vec<(String, String)>> {
    let file = tempfile::NamedTempFile::new()?;
    let wanted: Vec<Value> = requests
        .iter()
        .map(|(uri, message, wrap)| json!({"uri": uri, "message": message, "wrap": wrap}))
        .collect();
    std::fs::write(file.path(), serde_json::to_vec(&wanted)?)?;
    let signed = run_python("sign_requests.py", &[&file.path().to_string_lossy()])?;
    Ok(signed
        .as_array()
        .into_iter()
        .flatten()
        .map(|item| {
            (
                item["hotkey"].as_str().unwrap_or_default().to_owned(),
                item["signature"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect())
}

/// The SS58 hotkey of a dev URI, as bittensor-wallet derives it.
fn hotkey(uri: &str) -> anyhow::Result<String> {
    Ok(sign(&[(uri, "x".to_owned(), false)])?.remove(0).0)
}

fn metagraph(path: &Path) -> anyhow::Result<()> {
    let neuron = |uri: &str, uid: u32, stake: f64, permit: bool| -> anyhow::Result<Value> {
        Ok(json!({
            "uid": uid,
            "hotkey": hotkey(uri)?,
            "coldkey": hotkey(&format!("{uri}//cold"))?,
            "stake": stake,
            "validator_permit": permit,
        }))
    };
    let snapshot = json!({
        "netuid": 46,
        "block": 4_000_000,
        "neurons": [
            neuron("//Alice", 0, 10.0, false)?,
            neuron("//Eve", 1, 10.0, false)?,
            neuron("//Bob", 2, 5_000.0, true)?,
            neuron("//Charlie", 3, 100.0, true)?,
        ],
    });
    std::fs::write(path, serde_json::to_vec(&snapshot)?)?;
    Ok(())
}

struct Served {
    base: String,
    trigger: resi_runtime::shutdown::ShutdownTrigger,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

async fn serve(config: &GatewayServiceConfig) -> anyhow::Result<Served> {
    let gateway = Gateway::build(config).await?;
    let base = format!("http://{}", gateway.local_addr()?);
    let (trigger, shutdown) = Shutdown::new();
    Ok(Served {
        base,
        trigger,
        task: tokio::spawn(gateway.run(shutdown)),
    })
}

async fn get(url: &str) -> anyhow::Result<(StatusCode, Value, Option<String>)> {
    let response = reqwest::get(url).await?;
    let status = response.status();
    let retry = response
        .headers()
        .get("retry-after")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    Ok((status, response.json().await?, retry))
}

fn signed_url(
    base: &str,
    path: &str,
    (hotkey, signature): &(String, String),
    timestamp: i64,
) -> String {
    format!("{base}{path}?hotkey={hotkey}&signature={signature}&timestamp={timestamp}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signed_requests_from_the_network_client_are_served_and_forgeries_refused()
-> anyhow::Result<()> {
    let harness = stack().await?;
    // the epoch active now, folded into the live epochs projection
    let mut coordinator = Coordinator::build(&coordinator_config(&harness)).await?;
    let opened = coordinator.tick(Utc::now()).await?;
    let active = opened.opened.first().cloned().unwrap_or_default();
    let projector = harness
        .spawn_projector(&[(ProjectionKind::Epochs, "v1")])
        .await?;
    harness.projected(ProjectionKind::Epochs, "v1").await?;

    let directory = tempfile::tempdir()?;
    let snapshot = directory.path().join("metagraph.json");
    metagraph(&snapshot)?;
    let mut config = GatewayServiceConfig {
        postgres: harness.postgres.clone(),
        s3: harness.s3.clone(),
        kafka: harness.kafka.clone(),
        ..GatewayServiceConfig::default()
    };
    config.gateway.validator_bucket = format!("{}-validated", harness.s3.bucket);
    config.gateway.listen = "127.0.0.1:0".parse()?;
    config.gateway.metagraph_file = Some(snapshot);
    // a day's window, so that the count below cannot straddle two windows
    config.gateway.limits.assignments = Limit {
        requests: 10,
        window_secs: 86_400,
    };
    let first = serve(&config).await?;
    let second = serve(&config).await?;

    let (status, health, _) = get(&format!("{}/healthcheck", first.base)).await?;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(health["status"], "ok");
    assert!(health["version"].is_string());

    let now = Utc::now().timestamp();
    let current = "/api/v1/zipcode-assignments/current";
    let commitment = |timestamp: i64| format!("zipcode:assignment:current:{timestamp}");
    let validation = |timestamp: i64| format!("zipcode:validation:{active}:{timestamp}");
    let signed = sign(&[
        ("//Alice", commitment(now), false),
        ("//Alice", commitment(now - 1), true),
        ("//Alice", commitment(now - 400), false),
        ("//Bob", commitment(now - 2), false),
        ("//Dave", commitment(now), false),
        ("//Bob", validation(now), false),
        ("//Alice", validation(now), false),
        ("//Charlie", validation(now), false),
    ])?;

    // served: the active epoch as seed 003 shapes it
    let (status, body, _) = get(&signed_url(&first.base, current, &signed[0], now)).await?;
    let nonce = body["nonce"].as_str().unwrap_or_default().to_owned();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["epochId"], active.as_str());
    let zipcodes = body["zipcodes"].as_array().cloned().unwrap_or_default();
    assert!(!zipcodes.is_empty());
    assert_eq!(body["metadata"]["zipcodeCount"], zipcodes.len());
    assert_eq!(body["nonce"].as_str().map(str::len), Some(16));
    for key in [
        "zipcode",
        "expectedListings",
        "state",
        "city",
        "county",
        "marketTier",
        "geographicRegion",
    ] {
        assert!(!zipcodes[0][key].is_null(), "{key}");
    }
    assert!(
        body.get("honeypots").is_none(),
        "honeypots stay hidden while the epoch runs"
    );
    // the <Bytes> form, on the other replica
    let (status, body, _) = get(&signed_url(&second.base, current, &signed[1], now - 1)).await?;
    assert_eq!(status, StatusCode::OK, "{body}");

    // refused, each with its reason
    let refusals = [
        // the same request again, on either replica
        (
            signed_url(&second.base, current, &signed[0], now),
            StatusCode::UNAUTHORIZED,
            "replayed",
        ),
        // altered: the timestamp is not the one signed
        (
            signed_url(&first.base, current, &signed[0], now + 1),
            StatusCode::UNAUTHORIZED,
            "forged",
        ),
        (
            signed_url(&first.base, current, &signed[2], now - 400),
            StatusCode::UNAUTHORIZED,
            "expired",
        ),
        // Bob's signature presented as Alice's
        (
            signed_url(
                &first.base,
                current,
                &(signed[0].0.clone(), signed[3].1.clone()),
                now - 2,
            ),
            StatusCode::UNAUTHORIZED,
            "forged",
        ),
        (
            signed_url(&first.base, current, &signed[4], now),
            StatusCode::FORBIDDEN,
            "not_allowed",
        ),
        (
            signed_url(
                &first.base,
                current,
                &(signed[0].0.clone(), "00".repeat(10)),
                now - 3,
            ),
            StatusCode::UNAUTHORIZED,
            "bad_signature",
        ),
    ];
    for (url, expected, code) in refusals {
        let (status, body, _) = get(&url).await?;
        assert_eq!(
            (status, body["error"].as_str()),
            (expected, Some(code)),
            "{url}: {body}"
        );
        assert_eq!(body["success"], false);
        assert!(
            body["detail"]
                .as_str()
                .is_some_and(|detail| !detail.is_empty())
        );
    }

    // validators read an epoch back; a miner or an under-staked validator may not
    let epoch_path = format!("/api/v1/zipcode-assignments/epoch/{active}");
    let (status, body, _) = get(&signed_url(&first.base, &epoch_path, &signed[5], now)).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["epochId"], active.as_str());
    for denied in [&signed[6], &signed[7]] {
        let (status, body, _) = get(&signed_url(&first.base, &epoch_path, denied, now)).await?;
        assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    }

    // ten assignment requests a window per hotkey, counted across both replicas
    let many: Vec<(&str, String, bool)> = (0..12)
        .map(|index| ("//Eve", commitment(now - 10 - index), false))
        .collect();
    let signed_many = sign(&many)?;
    let mut served = 0;
    let mut limited = Vec::new();
    for (index, signature) in signed_many.iter().enumerate() {
        let base = if index % 2 == 0 {
            &first.base
        } else {
            &second.base
        };
        let (status, body, retry) = get(&signed_url(
            base,
            current,
            signature,
            now - 10 - index as i64,
        ))
        .await?;
        match status {
            StatusCode::OK => served += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(body["error"], "rate_limited");
                limited.push(retry.and_then(|value| value.parse::<u64>().ok()));
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(served, 10);
    assert_eq!(limited.len(), 2);
    assert!(
        limited
            .iter()
            .all(|retry| retry.is_some_and(|secs| (1..=86_400).contains(&secs)))
    );

    // the public statistics
    let (status, stats, _) =
        get(&format!("{}/api/v1/zipcode-assignments/stats", second.base)).await?;
    assert_eq!(status, StatusCode::OK, "{stats}");
    assert_eq!(stats["epochStatus"]["currentEpoch"]["id"], active.as_str());
    assert_eq!(stats["epochStatus"]["currentEpoch"]["status"], "ACTIVE");
    assert!(
        stats["epochStatus"]["timing"]["timeUntilEpochEnd"]
            .as_i64()
            .is_some_and(|secs| secs > 0)
    );

    uploads(&harness, &first.base, &active).await?;
    reports(
        &harness,
        &first.base,
        &second.base,
        &active,
        &nonce,
        &zipcodes,
    )
    .await?;

    for gateway in [first, second] {
        gateway.trigger.trigger();
        gateway.task.await??;
    }
    projector.stop().await?;
    Ok(())
}

async fn post(url: &str, body: &Value) -> anyhow::Result<(StatusCode, Value)> {
    let response = reqwest::Client::new().post(url).json(body).send().await?;
    Ok((response.status(), response.json().await?))
}

/// Uploads through a policy with the miner's own code path (Python requests); the policy's
/// signature checked by Python's hmac; its conditions as granted.
fn upload_through(access: &Value, uploads: &[(&str, usize)]) -> anyhow::Result<Value> {
    let file = tempfile::NamedTempFile::new()?;
    let uploads: Vec<Value> = uploads
        .iter()
        .map(|(path, size)| json!({"path": path, "size": size}))
        .collect();
    std::fs::write(
        file.path(),
        serde_json::to_vec(&json!({
            "access": access,
            "secret": "test",
            "region": "us-east-1",
            "uploads": uploads,
        }))?,
    )?;
    run_python("s3_post.py", &[&file.path().to_string_lossy()])
}

/// Miners get a policy for their own folder, validators one for their results of an epoch.
async fn uploads(
    harness: &resi_tests::harness::Harness,
    base: &str,
    epoch: &str,
) -> anyhow::Result<()> {
    let validated = format!("{}-validated", harness.s3.bucket);
    harness
        .s3_client
        .create_bucket()
        .bucket(&validated)
        .send()
        .await?;
    let now = Utc::now().timestamp();
    let alice = hotkey("//Alice")?;
    let alice_cold = hotkey("//Alice//cold")?;
    let bob_cold = hotkey("//Bob//cold")?;
    let folder_commitment = |coldkey: &str| format!("s3:data:access:{coldkey}:{alice}:{now}");
    let signed = sign(&[
        ("//Alice", folder_commitment(&alice_cold), false),
        (
            "//Alice",
            format!("s3:data:access:{bob_cold}:{alice}:{}", now - 1),
            false,
        ),
        ("//Bob", format!("s3:validator:upload:{now}"), false),
        ("//Alice", format!("s3:validator:upload:{now}"), false),
    ])?;

    let (status, access) = post(
        &format!("{base}/get-folder-access"),
        &json!({"coldkey": alice_cold, "hotkey": alice, "timestamp": now, "signature": signed[0].1, "expiry": now + 86_400}),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{access}");
    let folder = format!("data/hotkey={alice}/");
    assert_eq!(access["folder"], folder.as_str());
    let result = upload_through(
        &access,
        &[("job_id=j1/data_20251001_160000_1.parquet", 2_048)],
    )?;
    assert_eq!(result["signature_ok"], true, "{result}");
    assert_eq!(result["statuses"], json!([204]), "{result}");
    let stored = harness
        .s3_client
        .head_object()
        .bucket(&harness.s3.bucket)
        .key(format!("{folder}job_id=j1/data_20251001_160000_1.parquet"))
        .send()
        .await?;
    assert_eq!(stored.content_length(), Some(2_048));
    // what S3 enforces: this folder only, 1 KiB to 5 GiB, private, until the expiry
    let conditions = result["conditions"].as_array().cloned().unwrap_or_default();
    assert!(conditions.contains(&json!(["starts-with", "$key", folder])));
    assert!(conditions.contains(&json!(["content-length-range", 1_024, 5_368_709_120_u64])));
    assert!(conditions.contains(&json!({"acl": "private"})));
    assert!(conditions.contains(&json!({"bucket": harness.s3.bucket})));

    // a coldkey that does not own the hotkey
    let (status, body) = post(
        &format!("{base}/get-folder-access"),
        &json!({"coldkey": bob_cold, "hotkey": alice, "timestamp": now - 1, "signature": signed[1].1}),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");

    // a validator's results, on the results bucket under its epoch
    let request = |(hotkey, signature): &(String, String)| {
        json!({"hotkey": hotkey, "signature": signature, "timestamp": now, "epochId": epoch,
               "purpose": "epoch_validation_results", "estimatedDataSizeMb": 25, "retentionDays": 90})
    };
    let (status, access) = post(
        &format!("{base}/api/v1/s3-access/validator-upload"),
        &request(&signed[2]),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{access}");
    let folder = format!("validators/{}/epoch={epoch}/", signed[2].0);
    assert_eq!(access["folder"], folder.as_str());
    assert!(
        access["uploadUrl"]
            .as_str()
            .is_some_and(|url| url.ends_with(&validated))
    );
    let result = upload_through(&access, &[("validation_results.json", 512)])?;
    assert_eq!(result["signature_ok"], true, "{result}");
    assert_eq!(result["statuses"], json!([204]), "{result}");
    harness
        .s3_client
        .head_object()
        .bucket(&validated)
        .key(format!("{folder}validation_results.json"))
        .send()
        .await?;
    // a miner is no validator
    let (status, body) = post(
        &format!("{base}/api/v1/s3-access/validator-upload"),
        &request(&signed[3]),
    )
    .await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    Ok(())
}

/// Status reports: both commitment spellings, the epoch's nonce and zipcodes only, folded into
/// the miner status projection.
async fn reports(
    harness: &resi_tests::harness::Harness,
    first: &str,
    second: &str,
    epoch: &str,
    nonce: &str,
    zipcodes: &[Value],
) -> anyhow::Result<()> {
    let now = Utc::now().timestamp();
    let alice = hotkey("//Alice")?;
    let zipcode = zipcodes[0]["zipcode"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let signed = sign(&[
        ("//Alice", format!("zipcode:status:{epoch}:{now}"), false),
        (
            "//Alice",
            format!("miner:status:{alice}:{epoch}:{}", now - 1),
            false,
        ),
        (
            "//Alice",
            format!("zipcode:status:{epoch}:{}", now - 2),
            false,
        ),
        (
            "//Alice",
            format!("zipcode:status:{epoch}:{}", now - 3),
            false,
        ),
    ])?;
    let report = |(hotkey, signature): &(String, String),
                  timestamp: i64,
                  nonce: &str,
                  status: &str,
                  zipcode: &str| {
        json!({
            "hotkey": hotkey, "signature": signature, "timestamp": timestamp,
            "epochId": epoch, "nonce": nonce, "status": status, "listingsScraped": 245,
            "zipcodesCompleted": [{"zipcode": zipcode, "listingsScraped": 245,
                                   "completedAt": "2999-01-01T00:00:00Z"}],
            "s3UploadComplete": status == "COMPLETED",
        })
    };
    let url = |base: &str| format!("{base}/api/v1/zipcode-assignments/status");
    // the network client's spelling, then seed 003's, on two replicas
    let (status, body) = post(
        &url(first),
        &report(&signed[0], now, nonce, "IN_PROGRESS", &zipcode),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        &url(second),
        &report(&signed[1], now - 1, nonce, "COMPLETED", &zipcode),
    )
    .await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    // another nonce, a zipcode the epoch did not assign
    let (status, body) = post(
        &url(first),
        &report(
            &signed[2],
            now - 2,
            "0000000000000000",
            "COMPLETED",
            &zipcode,
        ),
    )
    .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("wrong_nonce")),
        "{body}"
    );
    let (status, body) = post(
        &url(first),
        &report(&signed[3], now - 3, nonce, "COMPLETED", "00000"),
    )
    .await?;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("unassigned_zipcode")),
        "{body}"
    );

    let projector = harness
        .spawn_projector(&[(ProjectionKind::Network, "v1")])
        .await?;
    harness.projected(ProjectionKind::Network, "v1").await?;
    let pool = resi_runtime::postgres::pool(&harness.postgres)?;
    let client = resi_runtime::postgres::connection(&pool).await?;
    let row = client
        .query_one(
            "SELECT status, reports, zipcodes_completed, s3_upload_complete, last_reported_at
               FROM network_v1.miner_epoch_status WHERE epoch_id = $1 AND miner_hotkey = $2",
            &[&epoch, &alice],
        )
        .await?;
    assert_eq!(row.get::<_, String>(0), "COMPLETED");
    assert_eq!(row.get::<_, i32>(1), 2, "refused reports are not recorded");
    assert_eq!(row.get::<_, i32>(2), 1);
    assert!(row.get::<_, bool>(3));
    // a completion claimed in the future is clamped to the report's arrival
    let clamped: bool = client
        .query_one(
            "SELECT completed_at <= reported_at FROM network_v1.miner_zipcode_progress
              WHERE epoch_id = $1 AND miner_hotkey = $2 AND zipcode = $3",
            &[&epoch, &alice, &zipcode],
        )
        .await?
        .get(0);
    assert!(clamped);
    // the metagraph the gateway decided with, recorded once though both replicas read it
    let snapshots: i64 = client
        .query_one("SELECT count(*) FROM network_v1.metagraph_snapshots", &[])
        .await?
        .get(0);
    assert_eq!(snapshots, 1);
    let bob: (i64, bool) = client
        .query_one(
            "SELECT stake_rao, validator_permit FROM network_v1.metagraph_neurons WHERE hotkey = $1",
            &[&hotkey("//Bob")?],
        )
        .await
        .map(|row| (row.get(0), row.get(1)))?;
    assert_eq!(bob, (5_000_000_000_000, true));
    projector.stop().await?;
    Ok(())
}

/// The gateway's OpenAPI document says what it does: schemathesis generates requests from it,
/// valid and not, and checks every answer against it (status, content type, body schema, no
/// 5xx). This gateway reads its metagraph from an S3 object, the production source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_openapi_document_declares_what_it_enforces() -> anyhow::Result<()> {
    let harness = stack().await?;
    let mut coordinator = Coordinator::build(&coordinator_config(&harness)).await?;
    let active = coordinator
        .tick(Utc::now())
        .await?
        .opened
        .first()
        .cloned()
        .unwrap_or_default();
    // Eve is banned for fabricating
    let ban = resi_events::Event::new(
        resi_events::EventPayload::MinerBanned(Box::new(resi_events::MinerBanned {
            miner_hotkey: hotkey("//Eve")?,
            epochs: vec![active.clone()],
            evidence_ids: vec![resi_events::EventId([7; 32])],
        })),
        resi_events::Timestamp::now(),
        resi_events::Timestamp::now(),
    );
    let producer = resi_runtime::kafka::producer(&harness.kafka)?;
    resi_runtime::kafka::publish(&producer, &harness.topics.epochs(), &ban).await?;
    let projector = harness
        .spawn_projector(&[
            (ProjectionKind::Epochs, "v1"),
            (ProjectionKind::Scores, "v1"),
        ])
        .await?;
    harness.projected(ProjectionKind::Epochs, "v1").await?;
    harness.projected(ProjectionKind::Scores, "v1").await?;

    let directory = tempfile::tempdir()?;
    let snapshot = directory.path().join("metagraph.json");
    metagraph(&snapshot)?;
    let key = "metagraph/46.json";
    harness.put(key, std::fs::read(&snapshot)?).await?;
    let mut config = GatewayServiceConfig {
        postgres: harness.postgres.clone(),
        s3: harness.s3.clone(),
        kafka: harness.kafka.clone(),
        ..GatewayServiceConfig::default()
    };
    config.gateway.listen = "127.0.0.1:0".parse()?;
    config.gateway.metagraph_url = Some(format!("s3://{}/{key}", harness.s3.bucket));
    // the public endpoint is asked more often than a minute's allowance
    config.gateway.limits.stats = Limit {
        requests: 100_000,
        window_secs: 60,
    };
    let gateway = serve(&config).await?;

    // the S3 snapshot is the one in use: its four neurons, and Alice is served
    let (status, health, _) = get(&format!("{}/healthcheck", gateway.base)).await?;
    assert_eq!(status, StatusCode::OK, "{health}");
    assert_eq!(health["metagraph"]["neurons"], 4);
    assert_eq!(health["metagraph"]["block"], 4_000_000);
    let now = Utc::now().timestamp();
    let signed = sign(&[
        (
            "//Alice",
            format!("zipcode:assignment:current:{now}"),
            false,
        ),
        ("//Eve", format!("zipcode:assignment:current:{now}"), false),
    ])?;
    // a banned hotkey is refused, whatever it signs
    let banned = signed_url(
        &gateway.base,
        "/api/v1/zipcode-assignments/current",
        &signed[1],
        now,
    );
    let (status, body, _) = get(&banned).await?;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert_eq!(body["error"], "banned", "{body}");
    let current = signed_url(
        &gateway.base,
        "/api/v1/zipcode-assignments/current",
        &signed[0],
        now,
    );
    let (status, body, _) = get(&current).await?;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["epochId"], active.as_str());

    // a request axum would refuse in plain text is refused in the gateway's shape
    let (status, body, _) = get(&format!(
        "{}/api/v1/zipcode-assignments/current?hotkey=x",
        gateway.base
    ))
    .await?;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request", "{body}");
    let docs = reqwest::get(format!("{}/docs", gateway.base))
        .await?
        .text()
        .await?;
    assert!(
        docs.contains("/api/v1/zipcode-assignments/status"),
        "{docs}"
    );

    let base = gateway.base.clone();
    let existing = json!({ "epoch_id": [active] }).to_string();
    let outcome = tokio::task::spawn_blocking(move || {
        run_python(
            "schemathesis_check.py",
            &[&base, "25", "deterministic", &existing],
        )
    })
    .await??;
    let tail = outcome["tail"].as_str().unwrap_or_default().to_owned();
    assert_eq!(outcome["failures"], json!([]), "{tail}");
    assert_eq!(outcome["exit_code"], 0, "{tail}");

    gateway.trigger.trigger();
    gateway.task.await??;
    projector.stop().await?;
    Ok(())
}
