//! The parser's contract over arbitrary bytes, held by the fuzz target (`fuzz/`) and by the
//! mutation test of the normal suite: whatever an upload holds, reading it as any layout ends in
//! a parsed file or a recorded failure of a kind the service dead-letters, every event it hands
//! out decodes and belongs to the upload, the counts add up, and the same bytes give the same
//! events. A panic inside the parser is caught and recorded as a corrupt file (the contract);
//! [`Outcome::panicked`] tells, so a hunt for decoder faults can count them.

use bytes::Bytes;
use resi_events::{
    Event, EventPayload, Timestamp, UploadDiscovery, UploadFormat, UploadObserved, decode,
};

use crate::emit::{AdmissionPlan, Encoded, ParseOptions};
use crate::file::{FileFailure, FileFailureKind, parse_bytes};

/// Every layout an upload can be read as.
pub const FORMATS: [UploadFormat; 3] =
    [UploadFormat::V1, UploadFormat::V2, UploadFormat::EpochJson];

/// The bounds the contract is checked under: small, so that bounds are reached by small inputs.
#[must_use]
pub const fn options() -> ParseOptions {
    ParseOptions {
        batch_rows: 64,
        max_scrape_skew_micros: 600_000_000,
        max_json_listing_bytes: 1 << 16,
        max_file_rows: 100_000,
        record_time: Timestamp::from_micros(1_758_114_000_000_001),
    }
}

/// An upload of `size` bytes in `format`, as the bridge would describe it.
#[must_use]
pub fn upload(format: UploadFormat, size: u64) -> UploadObserved {
    let (key, epoch_id, zipcode) = match format {
        UploadFormat::V1 => (
            "data/hotkey=5Fuzz/job_id=j1/data_20250917_130000_6.parquet",
            None,
            None,
        ),
        UploadFormat::V2 => (
            "data/hotkey=5Fuzz/epoch=2025-09-17T12-00-00/listings.parquet",
            Some("2025-09-17T12-00-00"),
            None,
        ),
        UploadFormat::EpochJson => (
            "data/hotkey=5Fuzz/epoch=2025-09-17T12-00-00/zipcode=77494/data_20250917_130000.json",
            Some("2025-09-17T12-00-00"),
            Some("77494"),
        ),
        UploadFormat::ValidatorResults => (
            "validators/5Fuzz/epoch=2025-09-17T12-00-00/results.json",
            Some("2025-09-17T12-00-00"),
            None,
        ),
    };
    UploadObserved {
        bucket: "fuzz".into(),
        key: key.into(),
        etag: "etag".into(),
        size,
        last_modified: Timestamp::from_micros(1_758_114_000_000_000),
        miner_hotkey: "5Fuzz".into(),
        job_id: epoch_id.unwrap_or("j1").into(),
        file_timestamp: Timestamp::from_micros(1_758_099_600_000_000),
        declared_record_count: Some(6),
        format,
        epoch: None,
        epoch_id: epoch_id.map(Into::into),
        zipcode: zipcode.map(Into::into),
        discovery: UploadDiscovery::Notification,
    }
}

/// What reading some bytes as one layout did, when the contract held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// Parsed to the end (else a recorded failure).
    pub parsed: bool,
    /// The failure's kind, when it failed.
    pub failure: Option<FileFailureKind>,
    /// Attestations handed out.
    pub attested: u64,
    /// The failure was a panic caught inside the parser.
    pub panicked: bool,
}

/// One run: the result and the events handed out.
fn run(bytes: &Bytes, format: UploadFormat) -> (Result<Event, FileFailure>, Vec<Encoded>) {
    let upload = upload(format, bytes.len() as u64);
    // a miner with 20 listings left today: admission and rate limiting are both reached
    let trust = 0.5;
    let full = AdmissionPlan::new(trust, 20_348, 0);
    let plan = AdmissionPlan::new(trust, 20_348, full.daily_limit.saturating_sub(20));
    let mut handed = Vec::new();
    let result = parse_bytes(bytes.clone(), &upload, plan, options(), |batch| {
        handed.extend(batch);
        true
    });
    (result, handed)
}

/// Reads `bytes` as `format` twice and checks the contract; the violation, described, if any.
///
/// # Errors
/// The first rule the parse broke.
pub fn check(bytes: &Bytes, format: UploadFormat) -> Result<Outcome, String> {
    let upload = upload(format, bytes.len() as u64);
    let upload_id = upload.event_id();
    let (result, handed) = run(bytes, format);
    let mut rows = std::collections::BTreeSet::new();
    for encoded in &handed {
        let event = decode(&encoded.payload)
            .map_err(|error| format!("an event does not decode: {error}"))?;
        if event.id != encoded.id || event.event_type() != encoded.event_type {
            return Err("an event's headers do not match its payload".into());
        }
        let EventPayload::ListingAttested(attested) = &event.payload else {
            return Err(format!(
                "a {} event among the attestations",
                event.event_type().as_str()
            ));
        };
        if attested.upload_id != upload_id || attested.miner_hotkey != upload.miner_hotkey {
            return Err("an attestation names another upload or miner".into());
        }
        if attested.scraped_at.as_micros()
            > upload.last_modified.as_micros() + options().max_scrape_skew_micros
        {
            return Err("a scrape time is later than the upload allows".into());
        }
        if !rows.insert(attested.row_index) {
            return Err(format!("row {} attested twice", attested.row_index));
        }
    }
    let attested = handed.len() as u64;
    let outcome = match &result {
        Ok(event) => {
            let EventPayload::UploadParsed(parsed) = &event.payload else {
                return Err(format!(
                    "the result is a {} event",
                    event.event_type().as_str()
                ));
            };
            let rejected: u64 = parsed.rejections.iter().map(|reason| reason.rows).sum();
            if parsed.rows_rejected != rejected
                || parsed.rows_read != parsed.rows_valid + parsed.rows_rejected
            {
                return Err(format!("the row counts do not add up: {parsed:?}"));
            }
            if parsed.admission.admitted + parsed.admission.rate_limited != parsed.rows_valid
                || parsed.admission.admitted != attested
            {
                return Err(format!(
                    "{attested} attestations handed out, but the admission says {:?} of {} valid rows",
                    parsed.admission, parsed.rows_valid
                ));
            }
            if parsed.rows_read > options().max_file_rows {
                return Err(format!("{} rows read, over the bound", parsed.rows_read));
            }
            if rows.last().is_some_and(|last| *last >= parsed.rows_read) {
                return Err("an attestation's row is past the rows read".into());
            }
            if !(0.0..=1.0).contains(&parsed.quality.score) {
                return Err(format!(
                    "quality score {} out of range",
                    parsed.quality.score
                ));
            }
            Outcome {
                parsed: true,
                failure: None,
                attested,
                panicked: false,
            }
        }
        Err(failure) => {
            use FileFailureKind::{Corrupt, Io, Rejected, Stopped, TooLarge, WrongSchema};
            match failure.kind {
                Corrupt | WrongSchema | TooLarge | Rejected(_) => {}
                Io | Stopped => {
                    return Err(format!(
                        "bytes in memory failed as {:?}: {}",
                        failure.kind, failure.detail
                    ));
                }
            }
            if failure.admitted != attested {
                return Err(format!(
                    "the failure says {} attestations stand, {attested} were handed out",
                    failure.admitted
                ));
            }
            Outcome {
                parsed: false,
                failure: Some(failure.kind.clone()),
                attested,
                panicked: failure.detail.starts_with(crate::file::PANIC_DETAIL),
            }
        }
    };
    // deterministic: the same bytes, the same events and result
    let (again, handed_again) = run(bytes, format);
    let payloads = |events: &[Encoded]| {
        events
            .iter()
            .map(|event| event.payload.clone())
            .collect::<Vec<_>>()
    };
    if again != result || payloads(&handed_again) != payloads(&handed) {
        return Err("the same bytes parsed twice gave different events".into());
    }
    Ok(outcome)
}

/// Checks `bytes` as every layout.
///
/// # Errors
/// The layout and the rule the parse broke.
pub fn check_all(bytes: &Bytes) -> Result<Vec<Outcome>, String> {
    FORMATS
        .iter()
        .map(|&format| {
            check(bytes, format).map_err(|violation| format!("{}: {violation}", format.as_str()))
        })
        .collect()
}

/// The corpus the fuzz target starts from and the mutation test mutates: every upload fixture
/// of the repository (pyarrow- and pandas-written Parquet, epoch JSON), the files that made
/// decoders panic, and apache/parquet-testing's `bad_data`, as (name, bytes), sorted by name.
///
/// # Errors
/// A directory that cannot be read.
pub fn seed_corpus(root: &std::path::Path) -> std::io::Result<Vec<(String, Bytes)>> {
    let mut files = Vec::new();
    let mut pending: Vec<std::path::PathBuf> = ["tests/fixtures", "fuzz/seeds"]
        .iter()
        .map(|dir| root.join(dir))
        .collect();
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .is_some_and(|extension| extension == "parquet" || extension == "json")
            {
                let name = path
                    .strip_prefix(root)
                    .unwrap_or(&path)
                    .display()
                    .to_string();
                files.push((name, Bytes::from(std::fs::read(&path)?)));
            }
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Mutations of the kinds that found the parser's faults: bytes and little-endian integers set
/// to boundary values (footer lengths, offsets, counts), truncation, repeated and spliced
/// chunks. Deterministic for a seed, so a failure names its case.
pub struct Mutator {
    state: u64,
}

impl Mutator {
    /// A mutator whose cases follow from `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed | 1 }
    }

    fn next(&mut self) -> u64 {
        // xorshift64*
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        self.state.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, bound: usize) -> usize {
        if bound == 0 {
            0
        } else {
            usize::try_from(self.next() % bound as u64).unwrap_or(0)
        }
    }

    /// `input` mutated one to four times, now and then spliced with `other`.
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        const BYTES: [u8; 6] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];
        const WORDS: [u32; 8] = [
            0,
            1,
            0x7fff_ffff,
            0x8000_0000,
            0xffff_ffff,
            0xffff,
            4,
            1 << 24,
        ];
        let mut out = input.to_vec();
        for _ in 0..=self.below(4) {
            let len = out.len();
            match self.below(8) {
                0 if len > 0 => {
                    let at = self.below(len);
                    out[at] ^= 1 << self.below(8);
                }
                1 if len > 0 => {
                    let at = self.below(len);
                    out[at] = BYTES[self.below(BYTES.len())];
                }
                // the footer (its length is the last 8 bytes but the magic) is where most of
                // a file's claims are: aim there more often
                2 | 3 if len >= 4 => {
                    let tail = len.min(2_048);
                    let at = len - 4 - self.below(tail - 3).min(len - 4);
                    let word = WORDS[self.below(WORDS.len())].to_le_bytes();
                    out[at..at + 4].copy_from_slice(&word);
                }
                4 if len > 1 => out.truncate(self.below(len)),
                5 if len > 1 => {
                    let start = self.below(len);
                    let end = (start + 1 + self.below(64)).min(len);
                    let chunk = out[start..end].to_vec();
                    let at = self.below(len);
                    out.splice(at..at, chunk);
                }
                6 if !other.is_empty() && len > 0 => {
                    let cut = self.below(len);
                    let from = self.below(other.len());
                    out.truncate(cut);
                    out.extend_from_slice(&other[from..]);
                }
                _ if len > 0 => {
                    let at = self.below(len);
                    out[at] = out[at].wrapping_add(u8::try_from(self.below(16)).unwrap_or(0));
                }
                _ => out.push(0),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    #[test]
    fn every_seed_keeps_the_contract_and_the_real_uploads_parse() {
        let corpus = seed_corpus(&root()).expect("corpus");
        assert!(corpus.len() >= 20, "{} seeds", corpus.len());
        let mut parsed_with_attestations = 0;
        for (name, bytes) in &corpus {
            let outcomes =
                check_all(bytes).unwrap_or_else(|violation| panic!("{name}: {violation}"));
            if outcomes
                .iter()
                .any(|outcome| outcome.parsed && outcome.attested > 0)
            {
                parsed_with_attestations += 1;
            }
        }
        // the seeds reach deep into the parser, not only its first checks
        assert!(
            parsed_with_attestations >= 10,
            "{parsed_with_attestations} seeds parse with attestations"
        );
    }

    #[test]
    fn mutated_uploads_keep_the_contract() {
        let corpus = seed_corpus(&root()).expect("corpus");
        let cases: u64 = std::env::var("RESI_MUTATION_CASES")
            .ok()
            .and_then(|cases| cases.parse().ok())
            .unwrap_or(20_000);
        let seed: u64 = std::env::var("RESI_MUTATION_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or(0x5eed);
        let mut mutator = Mutator::new(seed);
        let (mut parsed, mut failed, mut panicked) = (0_u64, 0_u64, 0_u64);
        for case in 0..cases {
            let (name, input) = &corpus[mutator.below(corpus.len())];
            let other = &corpus[mutator.below(corpus.len())].1;
            let mutated = Bytes::from(mutator.mutate(input, other));
            let outcomes = check_all(&mutated).unwrap_or_else(|violation| {
                panic!("case {case} (seed {seed}, from {name}): {violation}")
            });
            for outcome in outcomes {
                if outcome.parsed {
                    parsed += 1;
                } else {
                    failed += 1;
                }
                panicked += u64::from(outcome.panicked);
            }
        }
        eprintln!(
            "{cases} mutated uploads × 3 layouts: {parsed} parsed, {failed} recorded failures ({panicked} caught panics)"
        );
        // the mutations must leave some files readable to their end, or they test only the
        // first checks (each input fits one layout of three at most)
        assert!(parsed > cases / 50, "{parsed} of {} parsed", cases * 3);
    }

    #[test]
    fn the_mutator_is_deterministic() {
        let input = b"PAR1 some bytes of a file PAR1".to_vec();
        let mut a = Mutator::new(7);
        let mut b = Mutator::new(7);
        for _ in 0..100 {
            assert_eq!(a.mutate(&input, b"other"), b.mutate(&input, b"other"));
        }
        assert_ne!(
            Mutator::new(7).mutate(&input, b""),
            Mutator::new(8).mutate(&input, b"")
        );
    }
}
