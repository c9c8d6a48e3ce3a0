//! The trust projection: exactly-once folding, re-delivery, a rebuild beside the live version,
//! and the parser's admission reading the live version.

use std::collections::BTreeMap;

use anyhow::Context as _;
use resi_events::{Event, EventId, EventPayload, Timestamp, UploadRejectReason, UploadRejected};
use resi_projections::trust::{MinerTrust, Submission};
use resi_projector::engine::ProjectionKind;

use resi_tests::events::parsed;
use resi_tests::stack::Stack;

const DAY: i64 = 86_400_000_000;
const START: i64 = 1_758_110_400_000_000;

fn rejected(miner: &str, key: &str) -> Event {
    let payload = UploadRejected {
        upload_id: EventId(*blake3::hash(key.as_bytes()).as_bytes()),
        bucket: "resi-miner-data".into(),
        key: key.to_owned(),
        etag: "e".into(),
        miner_hotkey: miner.to_owned(),
        reason: UploadRejectReason::UnparseablePath,
        detail: "not the layout".into(),
    };
    Event::new(
        EventPayload::UploadRejected(payload),
        Timestamp::from_micros(START),
        Timestamp::from_micros(START),
    )
}

/// The events of three miners of different quality, in log order.
fn history() -> Vec<Event> {
    let mut events = Vec::new();
    for index in 0..6_u64 {
        let at = START + i64::try_from(index).unwrap_or_default() * DAY / 3;
        events.push(parsed("5Good", index, 0.95, 200, 2, at));
        events.push(parsed("5Medium", index, 0.6, 100, 10, at));
        events.push(parsed("5Poor", index, 0.1, 50, 25, at));
    }
    events.push(rejected("5Poor", "data/hotkey=5Poor/garbage.txt"));
    events
}

/// What the table must say: the pure rule applied to each miner's summaries in order.
fn expected(events: &[Event]) -> BTreeMap<String, MinerTrust> {
    let mut miners: BTreeMap<String, MinerTrust> = BTreeMap::new();
    for event in events {
        if let EventPayload::UploadParsed(parsed) = &event.payload {
            miners
                .entry(parsed.miner_hotkey.clone())
                .or_default()
                .apply(&Submission::of(parsed, event.event_time.as_micros()));
        }
    }
    miners
}

/// The version's tables, ordered.
fn trust_tables(schema: &str) -> [String; 3] {
    [
        format!(
            "SELECT miner_hotkey, trust_score, total_submissions, validated_submissions, rows_read, duplicate_rows, duplicate_rate, submissions_today, submissions_date::text, last_submission::text, last_quality FROM {schema}.miner_trust ORDER BY 1"
        ),
        format!("SELECT miner_hotkey, reason, count FROM {schema}.miner_rejections ORDER BY 1, 2"),
        format!(
            "SELECT miner_hotkey, day::text, uploads, uploads_rejected, rows_read, rows_rejected, trust_low, trust_end FROM {schema}.miner_days ORDER BY 1, 2"
        ),
    ]
}

#[tokio::test]
async fn trust_folds_once_rebuilds_identically_and_feeds_admission() -> anyhow::Result<()> {
    // Arrange: a history on the log
    let stack = Stack::new().await?;
    let uploads = stack.topics().uploads();
    let events = history();
    stack.publish(&uploads, &events).await?;

    // Act: the first version folds it
    let (stop_v1, v1) = stack.spawn(ProjectionKind::Trust, "v1", None).await?;
    stack.caught_up("trust", "v1", &uploads).await?;

    // Assert: every miner's row is the rule applied to its summaries in order
    let client = stack.pool.get().await?;
    let want = expected(&events);
    for (miner, state) in &want {
        let row = client
            .query_one(
                "SELECT trust_score, total_submissions, submissions_today, duplicate_rate FROM trust_v1.miner_trust WHERE miner_hotkey = $1",
                &[miner],
            )
            .await
            .with_context(|| format!("no trust row for {miner}"))?;
        assert!(
            (row.get::<_, f64>(0) - state.trust_score).abs() < 1e-12,
            "{miner}"
        );
        assert_eq!(row.get::<_, i64>(1), state.total_submissions);
        assert_eq!(row.get::<_, i64>(2), state.submissions_today);
        assert!((row.get::<_, f64>(3) - state.duplicate_rate()).abs() < 1e-12);
    }
    // good files raise trust, poor ones drop it sharply
    assert!(want["5Good"].trust_score > want["5Medium"].trust_score);
    assert!(want["5Medium"].trust_score > 0.5 && want["5Poor"].trust_score < 0.05);
    let poor_rejections: i64 = client
        .query_one("SELECT count FROM trust_v1.miner_rejections WHERE miner_hotkey = '5Poor' AND reason = 'upload:unparseable_path'", &[])
        .await?
        .get(0);
    assert_eq!(poor_rejections, 1);
    // each miner's days: uploads and rows by the events' UTC day, trust at the day's end
    let days = client
        .query(
            "SELECT (day - DATE '1970-01-01')::int8, uploads, uploads_rejected, rows_read, rows_rejected, trust_low, trust_end FROM trust_v1.miner_days WHERE miner_hotkey = '5Poor' ORDER BY day",
            &[],
        )
        .await?;
    let mut state = MinerTrust::default();
    let mut want_days: BTreeMap<i64, (i64, i64, i64, i64, f64, f64)> = BTreeMap::new();
    for event in &events {
        let day = event.event_time.as_micros().div_euclid(DAY);
        match &event.payload {
            EventPayload::UploadParsed(parsed) if parsed.miner_hotkey == "5Poor" => {
                state.apply(&Submission::of(parsed, event.event_time.as_micros()));
                let entry = want_days.entry(day).or_insert((0, 0, 0, 0, 1.0, 0.0));
                entry.0 += 1;
                entry.2 += i64::try_from(parsed.rows_read)?;
                entry.3 += i64::try_from(parsed.rows_rejected)?;
                entry.4 = entry.4.min(state.trust_score);
                entry.5 = state.trust_score;
            }
            EventPayload::UploadRejected(rejected) if rejected.miner_hotkey == "5Poor" => {
                want_days.entry(day).or_insert((0, 0, 0, 0, 1.0, 0.0)).1 += 1;
            }
            _ => {}
        }
    }
    assert_eq!(days.len(), want_days.len());
    assert!(want_days.len() >= 2, "the history spans days");
    for (row, (day, want)) in days.iter().zip(&want_days) {
        assert_eq!(row.get::<_, i64>(0), *day);
        assert_eq!(
            (
                row.get::<_, i64>(1),
                row.get::<_, i64>(2),
                row.get::<_, i64>(3),
                row.get::<_, i64>(4)
            ),
            (want.0, want.1, want.2, want.3),
            "day {day}"
        );
        assert!((row.get::<_, f64>(5) - want.4).abs() < 1e-12, "day {day}");
        assert!((row.get::<_, f64>(6) - want.5).abs() < 1e-12, "day {day}");
    }
    let status: String = client
        .query_one(
            "SELECT status FROM projection_versions WHERE projection = 'trust' AND version = 'v1'",
            &[],
        )
        .await?
        .get(0);
    assert_eq!(status, "live");
    // the parser admits by what the live version serves
    let admitted_by = resi_parser::admission::live_trust(&client, "5Good").await?;
    assert!((admitted_by - want["5Good"].trust_score).abs() < 1e-12);
    let before = stack.dump(&trust_tables("trust_v1")).await?;

    // Act: the whole history is delivered again
    stack.publish(&uploads, &events).await?;
    stack.caught_up("trust", "v1", &uploads).await?;
    // Assert: nothing changed
    assert_eq!(stack.dump(&trust_tables("trust_v1")).await?, before);

    // Act: a new version is rebuilt from offset 0 beside the live one
    let (stop_v2, v2) = stack.spawn(ProjectionKind::Trust, "v2", None).await?;
    stack.caught_up("trust", "v2", &uploads).await?;
    // Assert: same tables, and v1 still serves
    assert_eq!(stack.dump(&trust_tables("trust_v2")).await?, before);
    let statuses: Vec<(String, String)> = client
        .query("SELECT version, status FROM projection_versions WHERE projection = 'trust' ORDER BY version", &[])
        .await?
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("v1".into(), "live".into()),
            ("v2".into(), "building".into())
        ]
    );

    resi_tests::stack::stop(vec![(stop_v1, v1), (stop_v2, v2)]).await
}
