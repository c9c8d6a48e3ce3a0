//! Miner trust: how it evolves with each submission, and the daily admission limit it buys.
//!
//! # The rule
//!
//! Seed 001 updates trust as `0.95 · trust + adjustment`, with an adjustment of 0 for medium
//! quality. Its fixed point for any miner whose files are neither excellent nor terrible is 0:
//! a steady, honest, medium-quality miner decays to no trust at all. Here trust is instead an
//! exponential moving average toward the quality of each submission, plus the seed's penalties:
//!
//! ```text
//! trust' = clamp(trust + ALPHA · (quality − trust) − penalty + bonus, 0, 1)
//! penalty = POOR_PENALTY    when quality < POOR_QUALITY      (poor files drop trust sharply)
//!         + FAKE_PENALTY    when a validator found fake data
//! bonus   = CONFIRMED_BONUS when a validator confirmed the data
//! ```
//!
//! and, for every epoch in which the scores found the miner fabricating,
//! `trust' = max(trust − FABRICATION_PENALTY, 0)`. The validators' verdict on an epoch (see
//! [`crate::validation`]) applies the bonus or the penalty on its own, once per epoch.
//!
//! A miner that keeps submitting files of quality `q ≥ POOR_QUALITY` converges to `q`: good
//! files raise trust, medium ones hold it at their level, and a single poor file costs far more
//! than a single good file earns.

/// Trust of a miner never seen before.
pub const INITIAL_TRUST: f64 = 0.5;
/// Weight of the newest submission in the moving average.
pub const ALPHA: f64 = 0.1;
/// Quality below which a submission is poor.
pub const POOR_QUALITY: f64 = 0.3;
/// Extra drop for a poor submission.
pub const POOR_PENALTY: f64 = 0.2;
/// Drop when a validator found fake data.
pub const FAKE_PENALTY: f64 = 0.5;
/// Rise when a validator confirmed the data.
pub const CONFIRMED_BONUS: f64 = 0.1;
/// Drop for each epoch in which the miner fabricated (a honeypot listing or an impossible
/// one; seed 003 Q12).
pub const FABRICATION_PENALTY: f64 = 0.2;

/// What validators said of a submission, when they said anything.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validation {
    /// A validator confirmed the data.
    pub confirmed: bool,
    /// A validator found fake data.
    pub fake: bool,
}

/// Trust after one more submission of `quality` (in [0, 1]; NaN counts as 0).
#[must_use]
pub fn next_trust(trust: f64, quality: f64, validation: Validation) -> f64 {
    let quality = if quality.is_nan() {
        0.0
    } else {
        quality.clamp(0.0, 1.0)
    };
    let mut next = trust + ALPHA * (quality - trust);
    if quality < POOR_QUALITY {
        next -= POOR_PENALTY;
    }
    if validation.fake {
        next -= FAKE_PENALTY;
    }
    if validation.confirmed {
        next += CONFIRMED_BONUS;
    }
    next.clamp(0.0, 1.0)
}

/// Listings a miner may have admitted per UTC day at this trust (seed 000's limits).
#[must_use]
pub fn daily_limit(trust: f64) -> u64 {
    if trust >= 0.8 {
        10_000
    } else if trust >= 0.6 {
        5_000
    } else if trust >= 0.4 {
        1_000
    } else {
        100
    }
}

/// Splits a file's valid rows into admitted and rate-limited, given what the miner already had
/// admitted that day: the first rows fit the remaining quota, the rest are over it.
#[must_use]
pub const fn admit(valid_rows: u64, admitted_before: u64, limit: u64) -> (u64, u64) {
    let remaining = limit.saturating_sub(admitted_before);
    let admitted = if valid_rows < remaining {
        valid_rows
    } else {
        remaining
    };
    (admitted, valid_rows - admitted)
}

/// One parsed upload as the trust projection sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Submission {
    /// The file's quality score (seed 001's `validate_submission_quality`).
    pub quality: f64,
    /// Rows in the file.
    pub rows_read: u64,
    /// Rows repeating a listing id earlier in the file.
    pub duplicate_rows: u64,
    /// Listings admitted (counted against the daily limit).
    pub admitted: u64,
    /// UTC day (days since the epoch) the upload counts against.
    pub utc_day: i32,
    /// The upload's time, microseconds since the epoch.
    pub submitted_at: i64,
}

impl Submission {
    /// The submission an upload summary describes; `submitted_at` is the summary's event time
    /// (the upload's).
    #[must_use]
    pub const fn of(parsed: &resi_events::UploadParsed, submitted_at: i64) -> Self {
        Self {
            quality: parsed.quality.score,
            rows_read: parsed.rows_read,
            duplicate_rows: parsed.duplicate_rows,
            admitted: parsed.admission.admitted,
            utc_day: parsed.admission.utc_day,
            submitted_at,
        }
    }
}

/// A miner's row of the trust projection.
#[derive(Clone, Debug, PartialEq)]
pub struct MinerTrust {
    /// Current trust in [0, 1].
    pub trust_score: f64,
    /// Parsed uploads.
    pub total_submissions: i64,
    /// Epochs the validators' stake confirmed.
    pub validated_submissions: i64,
    /// Rows read over every upload.
    pub rows_read: i64,
    /// Rows repeating an id within their file, over every upload.
    pub duplicate_rows: i64,
    /// Listings admitted on `submissions_day`.
    pub submissions_today: i64,
    /// The UTC day `submissions_today` counts.
    pub submissions_day: i32,
    /// Time of the latest upload.
    pub last_submission: i64,
    /// Quality of the latest upload.
    pub last_quality: f64,
}

impl Default for MinerTrust {
    fn default() -> Self {
        Self {
            trust_score: INITIAL_TRUST,
            total_submissions: 0,
            validated_submissions: 0,
            rows_read: 0,
            duplicate_rows: 0,
            submissions_today: 0,
            submissions_day: 0,
            last_submission: 0,
            last_quality: 0.0,
        }
    }
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl MinerTrust {
    /// The row after one more parsed upload. Uploads of a miner arrive in log order (they are
    /// keyed by miner), so `submissions_today` follows the newest day seen; an upload of an
    /// older day still moves trust but not today's count.
    pub fn apply(&mut self, submission: &Submission) {
        self.trust_score = next_trust(self.trust_score, submission.quality, Validation::default());
        self.total_submissions += 1;
        self.rows_read = self.rows_read.saturating_add(to_i64(submission.rows_read));
        self.duplicate_rows = self
            .duplicate_rows
            .saturating_add(to_i64(submission.duplicate_rows));
        match submission.utc_day.cmp(&self.submissions_day) {
            std::cmp::Ordering::Greater => {
                self.submissions_day = submission.utc_day;
                self.submissions_today = to_i64(submission.admitted);
            }
            std::cmp::Ordering::Equal => {
                self.submissions_today = self
                    .submissions_today
                    .saturating_add(to_i64(submission.admitted));
            }
            std::cmp::Ordering::Less => {}
        }
        if submission.submitted_at >= self.last_submission {
            self.last_submission = submission.submitted_at;
            self.last_quality = submission.quality;
        }
    }

    /// An epoch in which the miner fabricated: trust falls by [`FABRICATION_PENALTY`].
    pub fn fabricated(&mut self) {
        self.trust_score = (self.trust_score - FABRICATION_PENALTY).clamp(0.0, 1.0);
    }

    /// The validators' verdict on one of the miner's epochs: confirmed data earns
    /// [`CONFIRMED_BONUS`] (and counts as validated), fake data costs [`FAKE_PENALTY`].
    pub fn validated(&mut self, verdict: resi_events::Verdict) {
        match verdict {
            resi_events::Verdict::Confirmed => {
                self.trust_score = (self.trust_score + CONFIRMED_BONUS).clamp(0.0, 1.0);
                self.validated_submissions += 1;
            }
            resi_events::Verdict::Fake => {
                self.trust_score = (self.trust_score - FAKE_PENALTY).clamp(0.0, 1.0);
            }
            resi_events::Verdict::Undecided => {}
        }
    }

    /// Share of rows that repeated an id within their file.
    #[must_use]
    pub fn duplicate_rate(&self) -> f64 {
        if self.rows_read == 0 {
            0.0
        } else {
            self.duplicate_rows as f64 / self.rows_read as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_miner_row_follows_its_uploads() {
        let mut miner = MinerTrust::default();
        let day = 20_349;
        let upload = |quality, admitted, utc_day, at| Submission {
            quality,
            rows_read: 100,
            duplicate_rows: 10,
            admitted,
            utc_day,
            submitted_at: at,
        };
        miner.apply(&upload(0.9, 90, day, 10));
        miner.apply(&upload(0.9, 50, day, 20));
        assert_eq!(miner.submissions_today, 140);
        assert!(miner.trust_score > INITIAL_TRUST);
        miner.apply(&upload(0.1, 5, day + 1, 30));
        assert_eq!(
            (miner.submissions_day, miner.submissions_today),
            (day + 1, 5)
        );
        // a late upload of an older day moves trust, not today's count
        let before = miner.trust_score;
        miner.apply(&upload(0.9, 70, day, 25));
        assert_eq!(miner.submissions_today, 5);
        assert!(miner.trust_score > before);
        assert_eq!((miner.last_submission, miner.last_quality), (30, 0.1));
        assert_eq!(miner.total_submissions, 4);
        assert!((miner.duplicate_rate() - 0.1).abs() < 1e-12);
    }

    fn after(mut trust: f64, quality: f64, submissions: usize) -> f64 {
        for _ in 0..submissions {
            trust = next_trust(trust, quality, Validation::default());
        }
        trust
    }

    #[test]
    fn steady_medium_quality_holds_instead_of_decaying_to_zero() {
        let trust = after(INITIAL_TRUST, 0.6, 200);
        assert!(
            (trust - 0.6).abs() < 1e-6,
            "converges to the quality, got {trust}"
        );
    }

    #[test]
    fn good_files_raise_trust_and_poor_ones_drop_it_sharply() {
        assert!(next_trust(0.5, 0.95, Validation::default()) > 0.5);
        let gain = next_trust(0.5, 1.0, Validation::default()) - 0.5;
        let loss = 0.5 - next_trust(0.5, 0.1, Validation::default());
        assert!(
            loss > 4.0 * gain,
            "a poor file costs far more ({loss}) than a good one earns ({gain})"
        );
        assert_eq!(after(0.9, 0.0, 10), 0.0, "clamped at 0");
        assert!(after(0.5, 1.0, 500) <= 1.0);
    }

    #[test]
    fn validation_outcomes_move_trust() {
        let base = next_trust(0.5, 0.5, Validation::default());
        assert!(
            next_trust(
                0.5,
                0.5,
                Validation {
                    confirmed: true,
                    fake: false
                }
            ) > base
        );
        assert!(
            next_trust(
                0.5,
                0.5,
                Validation {
                    confirmed: false,
                    fake: true
                }
            ) < base - 0.4
        );
        assert_eq!(
            next_trust(0.5, f64::NAN, Validation::default()),
            next_trust(0.5, 0.0, Validation::default())
        );
    }

    #[test]
    fn daily_limits_follow_the_seed() {
        let limits: Vec<u64> = [0.0, 0.39, 0.4, 0.59, 0.6, 0.79, 0.8, 1.0]
            .into_iter()
            .map(daily_limit)
            .collect();
        assert_eq!(
            limits,
            vec![100, 100, 1_000, 1_000, 5_000, 5_000, 10_000, 10_000]
        );
    }

    #[test]
    fn admission_fills_the_remaining_quota_first() {
        assert_eq!(admit(300, 900, 1_000), (100, 200));
        assert_eq!(admit(50, 900, 1_000), (50, 0));
        assert_eq!(admit(10, 1_200, 1_000), (0, 10), "already over the limit");
        assert_eq!(admit(0, 0, 100), (0, 0));
    }

    #[test]
    fn a_fabricating_epoch_costs_a_fifth_and_never_goes_below_zero() {
        let mut miner = MinerTrust::default();
        miner.fabricated();
        assert!((miner.trust_score - (INITIAL_TRUST - FABRICATION_PENALTY)).abs() < 1e-12);
        for _ in 0..5 {
            miner.fabricated();
        }
        assert_eq!(miner.trust_score, 0.0);
    }

    #[test]
    fn verdicts_move_trust_once_each() {
        let mut miner = MinerTrust::default();
        miner.validated(resi_events::Verdict::Confirmed);
        assert!((miner.trust_score - (INITIAL_TRUST + CONFIRMED_BONUS)).abs() < 1e-12);
        assert_eq!(miner.validated_submissions, 1);
        miner.validated(resi_events::Verdict::Undecided);
        assert!((miner.trust_score - (INITIAL_TRUST + CONFIRMED_BONUS)).abs() < 1e-12);
        miner.validated(resi_events::Verdict::Fake);
        assert!(
            (miner.trust_score - (INITIAL_TRUST + CONFIRMED_BONUS - FAKE_PENALTY)).abs() < 1e-12
        );
        miner.validated(resi_events::Verdict::Fake);
        assert_eq!(miner.trust_score, 0.0);
        assert_eq!(miner.validated_submissions, 1);
    }
}
