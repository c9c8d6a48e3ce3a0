//! A listing's decision as a build stores it beside its chosen values, so that what a build
//! shows (every value, its support and confidence, who supports it) comes from the build, not
//! from whatever algorithm the reading code would run today.
//!
//! Compact on purpose: the row is rewritten with every report that changes the listing. A
//! supporter is an index into the listing's reports sorted by miner (the order the build
//! stores them in); a value's first and last report are its supporters' report times.

use bincode::{Decode, Encode};

use super::{Field, FieldConsensus, ListingConsensus, MinerReport, ValueSupport};

/// Why stored decisions could not be read back.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoredError {
    /// The bytes are not a stored decision.
    #[error("stored decisions do not decode: {0}")]
    Decode(String),
    /// A field number no field has.
    #[error("stored decisions name field number {0}, which does not exist")]
    Field(u8),
    /// A supporter beyond the listing's reports.
    #[error("stored decisions name report {index} of a listing with {reports} reports")]
    Supporter {
        /// The index stored.
        index: u32,
        /// The reports the listing has.
        reports: usize,
    },
}

#[derive(Encode, Decode)]
struct StoredField {
    field: u8,
    values: Vec<StoredValue>,
}

#[derive(Encode, Decode)]
struct StoredValue {
    value: String,
    support: f64,
    confidence: f64,
    supporters: Vec<u32>,
}

/// Stored decisions of more than this many bytes are refused: far beyond any real listing,
/// and a bound on what a damaged row can make the reader allocate.
const MAX_BYTES: usize = 1 << 20;

fn config() -> impl bincode::config::Config {
    bincode::config::standard().with_limit::<MAX_BYTES>()
}

/// `consensus` as stored; `miners` are the listing's reporting miners, sorted (a supporter
/// missing from them, which `decide` never yields, is left out).
#[must_use]
pub fn encode(consensus: &ListingConsensus, miners: &[&str]) -> Vec<u8> {
    let fields: Vec<StoredField> = consensus
        .fields
        .iter()
        .map(|field| StoredField {
            field: Field::ALL
                .iter()
                .position(|each| *each == field.field)
                .and_then(|index| u8::try_from(index).ok())
                .unwrap_or(u8::MAX),
            values: field
                .values
                .iter()
                .map(|value| StoredValue {
                    value: value.value.clone(),
                    support: value.support,
                    confidence: value.confidence,
                    supporters: value
                        .miners
                        .iter()
                        .filter_map(|miner| miners.binary_search(&miner.as_str()).ok())
                        .filter_map(|index| u32::try_from(index).ok())
                        .collect(),
                })
                .collect(),
        })
        .collect();
    bincode::encode_to_vec(&fields, config()).unwrap_or_default()
}

/// The fields stored in `bytes`, for a listing whose reports are `reports` sorted by miner.
///
/// # Errors
/// The bytes are not stored decisions of a listing with these reports.
pub fn decode(bytes: &[u8], reports: &[MinerReport]) -> Result<Vec<FieldConsensus>, StoredError> {
    let (fields, _): (Vec<StoredField>, usize) = bincode::decode_from_slice(bytes, config())
        .map_err(|error| StoredError::Decode(error.to_string()))?;
    fields
        .into_iter()
        .map(|stored| {
            let field = *Field::ALL
                .get(usize::from(stored.field))
                .ok_or(StoredError::Field(stored.field))?;
            let values = stored
                .values
                .into_iter()
                .map(|value| {
                    let supporters = value
                        .supporters
                        .iter()
                        .map(|&index| {
                            usize::try_from(index)
                                .ok()
                                .and_then(|at| reports.get(at))
                                .ok_or(StoredError::Supporter {
                                    index,
                                    reports: reports.len(),
                                })
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let times = supporters.iter().map(|report| report.reported_at);
                    Ok(ValueSupport {
                        first_reported: times.clone().min().unwrap_or_default(),
                        last_reported: times.max().unwrap_or_default(),
                        miners: supporters
                            .iter()
                            .map(|report| report.miner.clone())
                            .collect(),
                        value: value.value,
                        support: value.support,
                        confidence: value.confidence,
                    })
                })
                .collect::<Result<Vec<_>, StoredError>>()?;
            Ok(FieldConsensus { field, values })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consensus::{Params, Registry, decide};
    use resi_events::CanonicalListing;

    fn reports() -> Vec<MinerReport> {
        let listing = |price: i64, status: &str| CanonicalListing {
            listing_id: "1".into(),
            price_usd: Some(price),
            home_status: Some(status.into()),
            bedrooms: Some(3),
            ..CanonicalListing::default()
        };
        let mut reports = vec![
            MinerReport::of("5C", 3_000, 0.9, &listing(410_000, "PENDING")),
            MinerReport::of("5A", 1_000, 0.5, &listing(400_000, "FOR_SALE")),
            MinerReport::of("5B", 2_000, 0.7, &listing(400_000, "FOR_SALE")),
            MinerReport::of("5D", 4_000, 0.2, &listing(400_000, "PENDING")),
        ];
        reports.sort_by(|a, b| a.miner.cmp(&b.miner));
        reports
    }

    #[test]
    fn every_algorithms_decision_reads_back_equal() {
        let reports = reports();
        let miners: Vec<&str> = reports.iter().map(|report| report.miner.as_str()).collect();
        let registry = Registry::standard();
        for name in registry.names() {
            let algorithm = registry.build(name, &Params::new()).expect("standard");
            let decided = decide(algorithm.as_ref(), &reports);
            let bytes = encode(&decided, &miners);
            assert_eq!(decode(&bytes, &reports), Ok(decided.fields), "{name}");
        }
    }

    #[test]
    fn damaged_bytes_are_refused_not_trusted() {
        let reports = reports();
        let miners: Vec<&str> = reports.iter().map(|report| report.miner.as_str()).collect();
        let decided = decide(
            Registry::standard()
                .build("v1", &Params::new())
                .expect("v1")
                .as_ref(),
            &reports,
        );
        let bytes = encode(&decided, &miners);
        // fewer reports than the supporters name
        assert!(matches!(
            decode(&bytes, &reports[..1]),
            Err(StoredError::Supporter { .. })
        ));
        assert!(matches!(
            decode(&[0xff, 0xff, 0xff], &reports),
            Err(StoredError::Decode(_))
        ));
        let bad_field = bincode::encode_to_vec(
            vec![StoredField {
                field: 11,
                values: Vec::new(),
            }],
            config(),
        )
        .expect("encodes");
        assert_eq!(decode(&bad_field, &reports), Err(StoredError::Field(11)));
    }
}
