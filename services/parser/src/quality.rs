//! The file-level quality score (seed 001, `validate_submission_quality`).
//!
//! A clean file scores 1. Each finding multiplies the score by its factor:
//!
//! | finding | factor | source |
//! |---|---|---|
//! | a price outside 1,000–100,000,000 | 0.5 | seed 001 |
//! | a listing id repeated in the file | 0.3 | seed 001 |
//! | more than 50 distinct zip codes | 0.7 | seed 001 |
//! | declared record count ≠ rows in the file | 0.9 | the file name or metadata lied |
//! | more than half the rows rejected | 0.5 | mostly unusable data |
//! | a row made up by a mock scraper | 0.1 | the seed's blacklist factor: data known to be fake |
//!
//! The seed's blacklist check (×0.1) needs validator data this system does not have yet; the
//! trust projection's fake-data penalty stands in for it once validators report.

use resi_events::{QualityAssessment, QualityIssue, RejectReason, UploadParsed};

/// More distinct zip codes than this in one file is suspicious.
pub const MAX_ZIP_CODES: u32 = 50;

/// The factor of each finding.
#[must_use]
pub const fn factor(issue: QualityIssue) -> f64 {
    match issue {
        QualityIssue::SuspiciousPriceRange | QualityIssue::HighRejectionRate => 0.5,
        QualityIssue::DuplicateListingIds => 0.3,
        QualityIssue::ExcessiveGeographicSpread => 0.7,
        QualityIssue::DeclaredCountMismatch => 0.9,
        QualityIssue::SyntheticListings => 0.1,
    }
}

/// Scores a parsed file from its counts.
#[must_use]
pub fn assess(parsed: &UploadParsed) -> QualityAssessment {
    let rejected = |wanted: RejectReason| {
        parsed
            .rejections
            .iter()
            .any(|count| count.reason == wanted && count.rows > 0)
    };
    let mut issues = Vec::new();
    if rejected(RejectReason::PriceOutOfRange) {
        issues.push(QualityIssue::SuspiciousPriceRange);
    }
    if parsed.duplicate_rows > 0 {
        issues.push(QualityIssue::DuplicateListingIds);
    }
    if parsed.distinct_zip_codes > MAX_ZIP_CODES {
        issues.push(QualityIssue::ExcessiveGeographicSpread);
    }
    if parsed.declared_count_mismatch() {
        issues.push(QualityIssue::DeclaredCountMismatch);
    }
    if parsed.rows_rejected * 2 > parsed.rows_read {
        issues.push(QualityIssue::HighRejectionRate);
    }
    if rejected(RejectReason::Synthetic) {
        issues.push(QualityIssue::SyntheticListings);
    }
    issues.sort();
    let score = issues.iter().map(|issue| factor(*issue)).product();
    QualityAssessment { score, issues }
}

#[cfg(test)]
mod tests {
    use resi_events::{Admission, EventId, ReasonCount, UploadFormat};

    use super::*;

    fn parsed(rows_read: u64) -> UploadParsed {
        UploadParsed {
            upload_id: EventId([0; 32]),
            bucket: "b".into(),
            key: "k".into(),
            miner_hotkey: "m".into(),
            job_id: "j".into(),
            format: UploadFormat::V1,
            rows_read,
            rows_valid: rows_read,
            rows_rejected: 0,
            rejections: Vec::new(),
            declared_record_count: Some(rows_read),
            duplicate_listing_ids: Vec::new(),
            duplicate_rows: 0,
            distinct_zip_codes: 3,
            extra_columns: Vec::new(),
            extra_column_count: 0,
            epoch_id: None,
            zipcode: None,
            rows_outside_zipcode: 0,
            future_scrape_times: 0,
            quality: QualityAssessment {
                score: 1.0,
                issues: Vec::new(),
            },
            admission: Admission {
                trust_used: 0.5,
                daily_limit: 1_000,
                utc_day: 0,
                admitted_before: 0,
                admitted: rows_read,
                rate_limited: 0,
            },
        }
    }

    #[test]
    fn a_clean_file_scores_one() {
        assert_eq!(assess(&parsed(10)).score, 1.0);
        assert!(assess(&parsed(10)).issues.is_empty());
    }

    #[test]
    fn findings_multiply_as_the_seed_says() {
        let mut file = parsed(10);
        file.rejections = vec![
            ReasonCount {
                reason: RejectReason::PriceOutOfRange,
                rows: 1,
            },
            ReasonCount {
                reason: RejectReason::DuplicateInFile,
                rows: 2,
            },
        ];
        file.rows_rejected = 3;
        file.duplicate_rows = 2;
        file.distinct_zip_codes = 51;
        let assessment = assess(&file);
        assert_eq!(
            assessment.issues,
            vec![
                QualityIssue::SuspiciousPriceRange,
                QualityIssue::DuplicateListingIds,
                QualityIssue::ExcessiveGeographicSpread,
            ]
        );
        assert!((assessment.score - 0.5 * 0.3 * 0.7).abs() < 1e-12);
    }

    #[test]
    fn made_up_rows_cost_most() {
        let mut file = parsed(10);
        file.rejections = vec![ReasonCount {
            reason: RejectReason::Synthetic,
            rows: 1,
        }];
        file.rows_rejected = 1;
        let assessment = assess(&file);
        assert_eq!(assessment.issues, vec![QualityIssue::SyntheticListings]);
        assert!((assessment.score - 0.1).abs() < 1e-12);
    }

    #[test]
    fn lies_and_mostly_bad_files_cost_too() {
        let mut file = parsed(10);
        file.declared_record_count = Some(12);
        file.rows_rejected = 6;
        let assessment = assess(&file);
        assert_eq!(
            assessment.issues,
            vec![
                QualityIssue::DeclaredCountMismatch,
                QualityIssue::HighRejectionRate
            ]
        );
        assert!((assessment.score - 0.45).abs() < 1e-12);
    }
}
