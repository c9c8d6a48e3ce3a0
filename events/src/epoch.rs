//! Zipcode epochs: what the coordinator decided, on the epochs topic.
//!
//! An epoch is opened once, before it starts, with every zipcode miners are asked to scrape and
//! a commitment to the honeypots hidden among them; it is closed once, after its submission
//! window, revealing the honeypots and the key that opens the commitment. Anyone can check the
//! reveal afterwards with [`honeypot_commitment`] (SHA-256, so a validator needs nothing but
//! its language's standard library).

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::id::{EventId, IdHasher};
use crate::time::Timestamp;

/// How much a zipcode's listings are worth, from the median consensus price where the database
/// knows the zipcode.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Encode, Decode, Serialize, Deserialize,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MarketTier {
    /// Median price of $750,000 or more.
    Premium,
    /// Median price from $250,000 to $750,000, and zipcodes without a known price.
    Standard,
    /// Median price under $250,000.
    Emerging,
}

impl MarketTier {
    /// Every tier.
    pub const ALL: [Self; 3] = [Self::Premium, Self::Standard, Self::Emerging];

    /// The tier's name, as the gateway and the database spell it.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Premium => "PREMIUM",
            Self::Standard => "STANDARD",
            Self::Emerging => "EMERGING",
        }
    }

    /// Parses [`Self::as_str`].
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|tier| tier.as_str() == text)
    }

    /// The tier of a median price in whole dollars.
    #[must_use]
    pub const fn of_median_price(dollars: i64) -> Self {
        if dollars >= 750_000 {
            Self::Premium
        } else if dollars >= 250_000 {
            Self::Standard
        } else {
            Self::Emerging
        }
    }
}

/// One zipcode of an epoch, as miners see it. Honeypots look exactly like the others.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EpochZipcode {
    /// Five digits.
    pub zipcode: String,
    /// How many listings the coordinator expects a complete scrape to find.
    pub expected_listings: u32,
    /// Two-letter state.
    pub state: String,
    /// City.
    pub city: String,
    /// County.
    pub county: String,
    /// Market tier.
    pub market_tier: MarketTier,
    /// US Census region (`Northeast`, `Midwest`, `South`, `West`) or `Territories`, `Military`.
    pub geographic_region: String,
}

/// The coordinator opened an epoch: the assignment every miner of the epoch receives.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EpochOpened {
    /// `YYYY-MM-DDTHH-00-00`, the start in UTC.
    pub epoch_id: String,
    /// Start of mining.
    pub start: Timestamp,
    /// End of mining.
    pub end: Timestamp,
    /// Uploads after this are late.
    pub submission_deadline: Timestamp,
    /// The epoch's nonce (hex), which status reports must echo.
    pub nonce: String,
    /// Total expected listings the selection aimed at.
    pub target_listings: u32,
    /// Allowed deviation from the target, percent.
    pub tolerance_percent: u32,
    /// The zipcodes, honeypots included, in the order miners receive them.
    pub zipcodes: Vec<EpochZipcode>,
    /// The selection algorithm's version.
    pub algorithm_version: String,
    /// The seed the selection drew from (derived from the nonce).
    pub selection_seed: u64,
    /// SHA-256 (hex) of the candidate pool the selection drew from, an input of the nonce.
    pub zipcode_hash: String,
    /// [`honeypot_commitment`] of the honeypots (hex): binds the coordinator to them without
    /// revealing them.
    pub honeypot_commitment: String,
    /// The honeypots encrypted under a key derived from the coordinator's secret (hex, fixed
    /// length whatever their number), so that the coordinator that closes the epoch, after a
    /// restart or on another machine, reads them back from the log. Never served.
    pub sealed_honeypots: String,
}

impl EpochOpened {
    /// The sum of the zipcodes' expected listings.
    #[must_use]
    pub fn total_expected_listings(&self) -> u64 {
        self.zipcodes
            .iter()
            .map(|zipcode| u64::from(zipcode.expected_listings))
            .sum()
    }

    /// The id: every field, so two different openings of one epoch can never share an id.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.epoch.opened.v1")
            .str(&self.epoch_id)
            .u64(self.start.as_micros().cast_unsigned())
            .u64(self.end.as_micros().cast_unsigned())
            .u64(self.submission_deadline.as_micros().cast_unsigned())
            .str(&self.nonce)
            .u64(u64::from(self.target_listings))
            .u64(u64::from(self.tolerance_percent))
            .str(&self.algorithm_version)
            .u64(self.selection_seed)
            .str(&self.zipcode_hash)
            .str(&self.honeypot_commitment)
            .str(&self.sealed_honeypots)
            .u64(self.zipcodes.len() as u64);
        for zipcode in &self.zipcodes {
            hasher = hasher
                .str(&zipcode.zipcode)
                .u64(u64::from(zipcode.expected_listings))
                .str(&zipcode.state)
                .str(&zipcode.city)
                .str(&zipcode.county)
                .str(zipcode.market_tier.as_str())
                .str(&zipcode.geographic_region);
        }
        EventId(hasher.finish())
    }
}

/// The coordinator closed an epoch's submission window and revealed its honeypots.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode, Serialize, Deserialize)]
pub struct EpochClosed {
    /// The epoch.
    pub epoch_id: String,
    /// The id of the [`EpochOpened`] this closes.
    pub opened_id: EventId,
    /// The honeypot zipcodes, sorted.
    pub honeypots: Vec<String>,
    /// The key (hex) that, with the honeypots, reproduces the opening's commitment.
    pub commitment_key: String,
}

impl EpochClosed {
    /// The id: one closing per opening and reveal.
    #[must_use]
    pub fn event_id(&self) -> EventId {
        let mut hasher = IdHasher::new("resi.epoch.closed.v1")
            .str(&self.epoch_id)
            .bytes(self.opened_id.as_bytes())
            .str(&self.commitment_key)
            .u64(self.honeypots.len() as u64);
        for honeypot in &self.honeypots {
            hasher = hasher.str(honeypot);
        }
        EventId(hasher.finish())
    }

    /// Whether the reveal opens the opening's commitment.
    #[must_use]
    pub fn opens(&self, opened: &EpochOpened) -> bool {
        self.epoch_id == opened.epoch_id
            && self.opened_id == opened.event_id()
            && honeypot_commitment(&self.commitment_key, &self.honeypots)
                == opened.honeypot_commitment
    }
}

/// The commitment to a set of honeypot zipcodes: lower-case hex of
/// `SHA-256("{key}:{zipcodes sorted, comma-separated}")`, where `key` is the hex key revealed at
/// closing. In Python: `hashlib.sha256(f"{key}:{','.join(sorted(zips))}".encode()).hexdigest()`.
#[must_use]
pub fn honeypot_commitment(key: &str, honeypots: &[String]) -> String {
    let mut sorted: Vec<&str> = honeypots.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    let mut hasher = Sha256::new();
    hasher.update(key.as_bytes());
    hasher.update(b":");
    hasher.update(sorted.join(",").as_bytes());
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commitment_ignores_order_and_binds_key_and_set() {
        let zips = |list: &[&str]| list.iter().map(|zip| (*zip).to_owned()).collect::<Vec<_>>();
        let commitment = honeypot_commitment("00ff", &zips(&["19103", "08540"]));
        assert_eq!(
            commitment,
            honeypot_commitment("00ff", &zips(&["08540", "19103"]))
        );
        assert_ne!(
            commitment,
            honeypot_commitment("00fe", &zips(&["08540", "19103"]))
        );
        assert_ne!(commitment, honeypot_commitment("00ff", &zips(&["08540"])));
        // the documented formula, computed independently
        let mut hasher = Sha256::new();
        hasher.update(b"00ff:08540,19103");
        assert_eq!(commitment, hex::encode(hasher.finalize()));
    }

    #[test]
    fn tiers_follow_the_median_price() {
        assert_eq!(MarketTier::of_median_price(900_000), MarketTier::Premium);
        assert_eq!(MarketTier::of_median_price(750_000), MarketTier::Premium);
        assert_eq!(MarketTier::of_median_price(400_000), MarketTier::Standard);
        assert_eq!(MarketTier::of_median_price(249_999), MarketTier::Emerging);
        for tier in MarketTier::ALL {
            assert_eq!(MarketTier::parse(tier.as_str()), Some(tier));
        }
    }
}
