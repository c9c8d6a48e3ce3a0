//! One row of any upload layout → a canonical listing, or the reason it is rejected.
//!
//! Every layout first reads a row into [`RowValues`] (what the row holds, by meaning, before any
//! validation); the rules below are then the same for all of them, so a listing reported in a
//! v1 Parquet file, a v2 file and an epoch JSON document maps to the same canonical values and
//! the same content hash.
//!
//! **Fallbacks.** The network's miners leave most columns empty and keep the facts elsewhere:
//!
//! | value | taken from, in order |
//! |---|---|
//! | listing id | `zpid`; the zpid in `uri`, `url` or `source_url` (`…/NNN_zpid/`); for v2 and epoch JSON then `mls-{mls_id}`, then a hash of address and zip code |
//! | zip code | the zip code column; a `zip:NNNNN` label; the address's trailing `ST 12345`; for epoch JSON the file's `zipcode=` folder |
//! | city, state | their columns; the address (`…, City, ST 12345`) |
//! | scrape time | the row's; the upload's `LastModified` when missing (pandas' NaT) |
//! | living area | `0` means unknown (lots, land): missing, not implausible |
//!
//! A row is rejected only when, after the fallbacks, it has no listing id, no valid zip code, a
//! value out of range, or nothing at all to report; a mock scraper's rows are rejected as
//! `synthetic` before anything else is looked at.
//!
//! **Time.** A scrape time later than the upload's `LastModified` plus the allowed skew is a
//! claim nothing observed: it is clamped to that bound (and counted), so a report dated in the
//! future can neither win consensus nor become a listing's latest values.

use resi_events::id::IdHasher;
use resi_events::normalize::{self, AddressParts};
use resi_events::{CanonicalListing, RejectReason, Timestamp};

use crate::coerce::Cell;

/// Prices outside this range (dollars) are rejected, as the seed's sanity check has it.
pub const PRICE_RANGE: std::ops::RangeInclusive<i64> = 1_000..=100_000_000;
/// Plausible bedroom counts.
pub const BEDROOM_RANGE: std::ops::RangeInclusive<f64> = 0.0..=50.0;
/// Plausible bathroom counts.
pub const BATHROOM_RANGE: std::ops::RangeInclusive<f64> = 0.0..=50.0;
/// Plausible living areas, square feet (0 is "unknown", see the module notes).
pub const LIVING_AREA_RANGE: std::ops::RangeInclusive<f64> = 100.0..=100_000.0;
/// Longest accepted listing id.
pub const MAX_LISTING_ID_LEN: usize = 64;
/// The site the network's mock scraper puts in its listings' URLs.
pub const MOCK_SITE: &str = "mock-realestate-site.com";

/// A zip code as a row holds it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ZipValue<'a> {
    /// The text (integers in decimal).
    pub text: Cell<&'a str>,
    /// Whether the file stored it as a number (pandas turns `"02134"` into `2134`).
    pub numeric: bool,
}

/// What one row holds, by meaning, before validation. Every layout fills what it has; the rest
/// stays missing.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RowValues<'a> {
    /// `zpid`.
    pub zpid: Cell<&'a str>,
    /// v1 `uri` (absolute or relative Zillow path).
    pub uri: Cell<&'a str>,
    /// v1 `url`, v2 and epoch JSON `source_url`.
    pub url: Cell<&'a str>,
    /// `mls_id`.
    pub mls_id: Cell<&'a str>,
    /// The address as written.
    pub address: Cell<&'a str>,
    /// `zip_code` or `zipcode`.
    pub zip: ZipValue<'a>,
    /// v1 `label` (`zip:NNNNN`).
    pub label: Cell<&'a str>,
    /// `city`.
    pub city: Cell<&'a str>,
    /// `state`.
    pub state: Cell<&'a str>,
    /// `home_type` or `property_type`.
    pub home_type: Cell<&'a str>,
    /// `home_status` or `listing_status`.
    pub home_status: Cell<&'a str>,
    /// `price`, dollars.
    pub price: Cell<f64>,
    /// `bedrooms`.
    pub bedrooms: Cell<f64>,
    /// `bathrooms`.
    pub bathrooms: Cell<f64>,
    /// `living_area` or `sqft`.
    pub living_area: Cell<f64>,
    /// `days_on_zillow` or `days_on_market`.
    pub days_on_market: Cell<f64>,
    /// `latitude`, degrees.
    pub latitude: Cell<f64>,
    /// `longitude`, degrees.
    pub longitude: Cell<f64>,
    /// `listing_date`, microseconds since the epoch.
    pub listing_date: Cell<i64>,
    /// `datetime` or `scraped_timestamp`, microseconds since the epoch.
    pub scraped_at: Cell<i64>,
    /// The row says it was made up (`mock_generated: true`).
    pub mock_generated: bool,
}

/// Where a layout's listing ids may come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdRule {
    /// Zillow rows (v1): the zpid, or the zpid in a Zillow URL.
    Zillow,
    /// Rows of any source (v2, epoch JSON): as Zillow, then the MLS number, then a hash of the
    /// normalised address and zip code.
    AnySource,
}

/// What a row is read against: the upload's facts, which the miner does not control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RowContext {
    /// The upload's `LastModified`.
    pub upload_time: Timestamp,
    /// How far past `upload_time` a scrape time may be (clock skew) before it is clamped.
    pub max_skew_micros: i64,
    /// The zipcode the upload is for (epoch JSON), the last zip code fallback.
    pub zipcode: Option<String>,
}

impl RowContext {
    /// The latest scrape time a row of this upload may have.
    const fn latest(&self) -> i64 {
        self.upload_time
            .as_micros()
            .saturating_add(self.max_skew_micros)
    }
}

/// A row that passed validation.
#[derive(Clone, Debug, PartialEq)]
pub struct MappedRow {
    /// The canonical listing.
    pub listing: CanonicalListing,
    /// When it was scraped (clamped, see the module notes).
    pub scraped_at: Timestamp,
    /// Whether the row's scrape time was later than the upload allows, and was clamped.
    pub future_scrape_time: bool,
}

/// Maps one row, or says why it is rejected.
pub fn map_row(
    values: &RowValues<'_>,
    rule: IdRule,
    context: &RowContext,
) -> Result<MappedRow, RejectReason> {
    if is_synthetic(values) {
        return Err(RejectReason::Synthetic);
    }
    let parts = address_parts(values);
    let zip = zip_code(values, &parts, context);
    if rule == IdRule::AnySource {
        // the address hash needs the zip code, so without one there is no id either
        zip.clone()?.ok_or(RejectReason::InvalidZipCode)?;
    }
    let identity = Identity::of(values)?;
    let listing_id = identity.listing_id(values.zpid, rule, zip.clone()?.as_deref())?;
    let zip_code = zip?.ok_or(RejectReason::InvalidZipCode)?;
    let (scraped_at, future_scrape_time) = scrape_time(values.scraped_at, context)?;
    let mut listing = CanonicalListing {
        listing_id,
        zip_code: Some(zip_code),
        state: match values.state {
            Cell::Missing => parts.state,
            Cell::Value(text) => Some(normalize::state(text).ok_or(RejectReason::InvalidState)?),
            Cell::Invalid => return Err(RejectReason::InvalidState),
        },
        city: normalized(values.city, normalize::text)?.or(parts.city),
        latitude_e7: coordinate(values.latitude, 90.0, RejectReason::LatitudeOutOfRange)?,
        longitude_e7: coordinate(values.longitude, 180.0, RejectReason::LongitudeOutOfRange)?,
        uri: identity.uri,
        url: identity.url,
        mls_id: identity.mls_id,
        address: identity.address,
        home_type: normalized(values.home_type, normalize::home_type)?,
        home_status: normalized(values.home_status, normalize::home_status)?,
        listing_date: match values.listing_date {
            Cell::Value(micros) => Some(Timestamp::from_micros(micros).utc_day()),
            Cell::Missing => None,
            Cell::Invalid => return Err(RejectReason::UncoercibleValue),
        },
        ..CanonicalListing::default()
    };
    measurements(&mut listing, values)?;
    if !reports_anything(&listing) {
        return Err(RejectReason::NoListingValues);
    }
    Ok(MappedRow {
        listing,
        scraped_at,
        future_scrape_time,
    })
}

/// The listing id [`map_row`] would give the row if the row is valid; `None` when the id
/// values alone already make it invalid. Needs only the id values: `zpid`, `uri`, `url`, and for
/// [`IdRule::AnySource`] `mls_id`, `address` and `zip`. It may also name rows that turn out
/// invalid (a mock scraper's): the duplicate check only needs every valid row's id.
#[must_use]
pub fn listing_id(values: &RowValues<'_>, rule: IdRule) -> Option<String> {
    // the common case, a zpid, costs no normalisation
    match values.zpid {
        Cell::Value(id) => return checked_id(id).ok(),
        Cell::Invalid => return None,
        Cell::Missing => {}
    }
    let identity = Identity::of(values).ok()?;
    let zip = match rule {
        IdRule::Zillow => None,
        IdRule::AnySource => zip_code(
            values,
            &address_parts(values),
            &RowContext::without_upload(),
        )
        .ok()?,
    };
    identity.listing_id(values.zpid, rule, zip.as_deref()).ok()
}

impl RowContext {
    /// A context that knows nothing of the upload (the id pass, where only ids matter).
    const fn without_upload() -> Self {
        Self {
            upload_time: Timestamp::EPOCH,
            max_skew_micros: 0,
            zipcode: None,
        }
    }
}

/// What the address says of city, state and zip code, read only when a column that would say
/// it is missing (most of a row's cost otherwise, for files that fill every column).
fn address_parts(values: &RowValues<'_>) -> AddressParts {
    let needed = matches!(values.city, Cell::Missing)
        || matches!(values.state, Cell::Missing)
        || matches!(values.zip.text, Cell::Missing);
    match values.address {
        Cell::Value(raw) if needed => normalize::address_parts(raw),
        _ => AddressParts::default(),
    }
}

/// The text values that identify a listing, normalised.
struct Identity {
    uri: Option<String>,
    url: Option<String>,
    mls_id: Option<String>,
    address: Option<String>,
}

impl Identity {
    fn of(values: &RowValues<'_>) -> Result<Self, RejectReason> {
        Ok(Self {
            uri: plain_text(values.uri)?,
            url: plain_text(values.url)?,
            mls_id: plain_text(values.mls_id)?,
            address: normalized(values.address, normalize::address)?,
        })
    }

    fn listing_id(
        &self,
        zpid: Cell<&str>,
        rule: IdRule,
        zip: Option<&str>,
    ) -> Result<String, RejectReason> {
        match zpid {
            Cell::Value(id) => return checked_id(id),
            Cell::Invalid => return Err(RejectReason::MissingListingId),
            Cell::Missing => {}
        }
        if let Some(zpid) = [&self.uri, &self.url]
            .into_iter()
            .flatten()
            .find_map(|url| zpid_from_url(url))
        {
            return Ok(zpid);
        }
        if rule == IdRule::Zillow {
            return Err(RejectReason::MissingListingId);
        }
        if let Some(mls) = &self.mls_id {
            return checked_id(mls).map(|id| format!("mls-{id}"));
        }
        let (Some(address), Some(zip)) = (&self.address, zip) else {
            return Err(RejectReason::MissingListingId);
        };
        let digest = IdHasher::new("resi.address-listing.v1")
            .str(address)
            .str(zip)
            .finish();
        Ok(format!("addr-{}", hex::encode(&digest[..10])))
    }
}

fn checked_id(id: &str) -> Result<String, RejectReason> {
    if !id.is_empty()
        && id.len() <= MAX_LISTING_ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        Ok(id.to_owned())
    } else {
        Err(RejectReason::MissingListingId)
    }
}

/// Whether a row was made up by the network's mock scraper: it says so, its zpid is
/// `mock_…`, or its URL is on the mock site.
fn is_synthetic(values: &RowValues<'_>) -> bool {
    let mock_zpid = values.zpid.value().is_some_and(|zpid| {
        zpid.get(..5)
            .is_some_and(|head| head.eq_ignore_ascii_case("mock_"))
    });
    let mock_url = [values.url, values.uri]
        .into_iter()
        .filter_map(Cell::value)
        .any(|url| host(url).is_some_and(is_mock_host));
    values.mock_generated || mock_zpid || mock_url
}

/// The host of an absolute URL (`scheme://host[:port]/…`); `None` for a relative one.
fn host(url: &str) -> Option<&str> {
    let bytes = url.as_bytes();
    // a scheme is letters (and `+-.`) before `://`; a relative path starts with `/`
    let colon = bytes
        .iter()
        .take(16)
        .position(|&byte| !(byte.is_ascii_alphanumeric() || matches!(byte, b'+' | b'-' | b'.')))?;
    if bytes.get(colon..colon + 3) != Some(b"://") {
        return None;
    }
    let authority_start = colon + 3;
    let authority_end = bytes[authority_start..]
        .iter()
        .position(|&byte| matches!(byte, b'/' | b'?' | b'#'))
        .map_or(bytes.len(), |end| authority_start + end);
    let authority = &url[authority_start..authority_end];
    let without_user = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    Some(
        without_user
            .split_once(':')
            .map_or(without_user, |(host, _)| host),
    )
}

/// The mock site or one of its subdomains, in any case.
fn is_mock_host(host: &str) -> bool {
    let Some(start) = host.len().checked_sub(MOCK_SITE.len()) else {
        return false;
    };
    host.get(start..)
        .is_some_and(|tail| tail.eq_ignore_ascii_case(MOCK_SITE))
        && (start == 0 || host.as_bytes()[start - 1] == b'.')
}

/// `…/12345678_zpid/` → `12345678`.
#[must_use]
pub fn zpid_from_url(url: &str) -> Option<String> {
    let end = url.find("_zpid")?;
    let digits: String = url[..end]
        .chars()
        .rev()
        .take_while(char::is_ascii_digit)
        .collect();
    (!digits.is_empty() && digits.len() <= 20).then(|| digits.chars().rev().collect())
}

/// The zip code after the fallbacks: `Ok(None)` when no source has one, an error when the zip
/// code column holds something that is not one.
fn zip_code(
    values: &RowValues<'_>,
    parts: &AddressParts,
    context: &RowContext,
) -> Result<Option<String>, RejectReason> {
    let from_column = match values.zip.text {
        Cell::Missing => None,
        Cell::Invalid => return Err(RejectReason::InvalidZipCode),
        Cell::Value(text) => {
            let numeric = values
                .zip
                .numeric
                .then(|| text.parse::<i64>().ok())
                .flatten();
            let zip = numeric.map_or_else(
                || normalize::zip_code_from_text(text),
                normalize::zip_code_from_int,
            );
            Some(zip.ok_or(RejectReason::InvalidZipCode)?)
        }
    };
    Ok(from_column
        .or_else(|| {
            values
                .label
                .value()
                .and_then(normalize::zip_code_from_label)
        })
        .or_else(|| parts.zip.clone())
        .or_else(|| context.zipcode.clone()))
}

fn scrape_time(cell: Cell<i64>, context: &RowContext) -> Result<(Timestamp, bool), RejectReason> {
    match cell {
        Cell::Value(micros) if micros > context.latest() => {
            Ok((Timestamp::from_micros(context.latest()), true))
        }
        Cell::Value(micros) => Ok((Timestamp::from_micros(micros), false)),
        Cell::Missing => Ok((context.upload_time, false)),
        Cell::Invalid => Err(RejectReason::InvalidScrapeTime),
    }
}

fn coordinate(
    cell: Cell<f64>,
    limit: f64,
    out_of_range: RejectReason,
) -> Result<Option<i32>, RejectReason> {
    match cell {
        Cell::Missing => Ok(None),
        Cell::Value(degrees) if (-limit..=limit).contains(&degrees) => {
            Ok(normalize::degrees_e7_from_f64(degrees))
        }
        Cell::Value(_) | Cell::Invalid => Err(out_of_range),
    }
}

fn plain_text(cell: Cell<&str>) -> Result<Option<String>, RejectReason> {
    normalized(cell, normalize::text)
}

fn normalized(
    cell: Cell<&str>,
    rule: fn(&str) -> Option<String>,
) -> Result<Option<String>, RejectReason> {
    match cell {
        Cell::Missing => Ok(None),
        Cell::Value(text) => Ok(rule(text)),
        Cell::Invalid => Err(RejectReason::UncoercibleValue),
    }
}

/// Whether a listing carries at least one reported value beyond its identity and location.
fn reports_anything(listing: &CanonicalListing) -> bool {
    listing.price_usd.is_some()
        || listing.address.is_some()
        || listing.bedrooms.is_some()
        || listing.bathrooms_tenths.is_some()
        || listing.living_area_sqft.is_some()
        || listing.home_type.is_some()
        || listing.home_status.is_some()
        || listing.days_on_market.is_some()
        || listing.latitude_e7.is_some()
        || listing.listing_date.is_some()
        || listing.mls_id.is_some()
}

/// Price, bedrooms, bathrooms, living area and days on market, validated.
fn measurements(
    listing: &mut CanonicalListing,
    values: &RowValues<'_>,
) -> Result<(), RejectReason> {
    listing.price_usd = match values.price {
        Cell::Missing => None,
        Cell::Value(dollars) => {
            let whole =
                normalize::dollars_from_f64(dollars).ok_or(RejectReason::PriceOutOfRange)?;
            if !PRICE_RANGE.contains(&whole) {
                return Err(RejectReason::PriceOutOfRange);
            }
            Some(whole)
        }
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.bedrooms = match values.bedrooms {
        Cell::Missing => None,
        Cell::Value(count) if BEDROOM_RANGE.contains(&count) && count.fract() == 0.0 => {
            // in range and integral: exact
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(count as u16)
        }
        Cell::Value(_) => return Err(RejectReason::ImplausibleBedrooms),
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.bathrooms_tenths = match values.bathrooms {
        Cell::Missing => None,
        Cell::Value(count) if BATHROOM_RANGE.contains(&count) => {
            normalize::tenths_from_f64(count).and_then(|tenths| u16::try_from(tenths).ok())
        }
        Cell::Value(_) => return Err(RejectReason::ImplausibleBathrooms),
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.living_area_sqft = match values.living_area {
        // the network's scrapers write 0 for "unknown" (lots, land)
        Cell::Missing => None,
        Cell::Value(0.0) => None,
        Cell::Value(sqft) if LIVING_AREA_RANGE.contains(&sqft) => {
            normalize::dollars_from_f64(sqft).and_then(|rounded| u32::try_from(rounded).ok())
        }
        Cell::Value(_) => return Err(RejectReason::ImplausibleLivingArea),
        Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    listing.days_on_market = match values.days_on_market {
        Cell::Missing => None,
        Cell::Value(value) if (0.0..=36_500.0).contains(&value) && value.fract() == 0.0 => {
            // in range and integral: exact
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            Some(value as u32)
        }
        Cell::Value(_) | Cell::Invalid => return Err(RejectReason::UncoercibleValue),
    };
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const UPLOADED: Timestamp = Timestamp::from_micros(1_758_123_000_000_000);
    const TEN_MINUTES: i64 = 600_000_000;

    fn context() -> RowContext {
        RowContext {
            upload_time: UPLOADED,
            max_skew_micros: TEN_MINUTES,
            zipcode: None,
        }
    }

    /// A row as the network's v1 miners write it: six columns null, zip only in the label and
    /// the address.
    fn real_v1<'a>() -> RowValues<'a> {
        RowValues {
            zpid: Cell::Value("29420456"),
            uri: Cell::Value("https://zillow.com/homedetails/1204-E-7th-St/29420456_zpid/"),
            label: Cell::Value("zip:78702"),
            address: Cell::Value("1204 East 7th Street, Austin, TX 78702"),
            price: Cell::Value(459_900.0),
            bedrooms: Cell::Value(3.0),
            bathrooms: Cell::Value(2.5),
            living_area: Cell::Value(1_850.0),
            days_on_market: Cell::Value(12.0),
            latitude: Cell::Value(30.267_153_1),
            longitude: Cell::Value(-97.743_060_8),
            scraped_at: Cell::Value(UPLOADED.as_micros() - 3_600_000_000),
            ..RowValues::default()
        }
    }

    #[test]
    fn zip_city_and_state_come_from_the_label_and_the_address() {
        let mapped = map_row(&real_v1(), IdRule::Zillow, &context()).expect("valid");
        let listing = mapped.listing;
        assert_eq!(listing.listing_id, "29420456");
        assert_eq!(listing.zip_code.as_deref(), Some("78702"));
        assert_eq!(listing.city.as_deref(), Some("Austin"));
        assert_eq!(listing.state.as_deref(), Some("TX"));
        assert_eq!(
            listing.address.as_deref(),
            Some("1204 E 7TH ST, AUSTIN, TX 78702")
        );

        let unknown_label = RowValues {
            label: Cell::Value("zip:unknown"),
            ..real_v1()
        };
        let mapped = map_row(&unknown_label, IdRule::Zillow, &context()).expect("valid");
        assert_eq!(
            mapped.listing.zip_code.as_deref(),
            Some("78702"),
            "the address's zip code"
        );
    }

    #[test]
    fn the_zpid_comes_out_of_the_uri_or_url() {
        for uri in [
            "https://zillow.com/homedetails/1204-E-7th-St/29420456_zpid/",
            "/homedetails/1204-E-7th-St/29420456_zpid/",
        ] {
            let values = RowValues {
                zpid: Cell::Missing,
                uri: Cell::Value(uri),
                ..real_v1()
            };
            assert_eq!(
                map_row(&values, IdRule::Zillow, &context()).map(|row| row.listing.listing_id),
                Ok("29420456".to_owned()),
                "{uri}"
            );
            assert_eq!(
                listing_id(&values, IdRule::Zillow).as_deref(),
                Some("29420456")
            );
        }
        let nothing = RowValues {
            zpid: Cell::Missing,
            uri: Cell::Value("https://example.com/listing/42"),
            ..real_v1()
        };
        assert_eq!(
            map_row(&nothing, IdRule::Zillow, &context()),
            Err(RejectReason::MissingListingId)
        );
        assert_eq!(listing_id(&nothing, IdRule::Zillow), None);
    }

    #[test]
    fn a_row_with_nothing_to_report_is_rejected() {
        // the nested property schema: only uri, datetime and label carry data
        let values = RowValues {
            zpid: Cell::Missing,
            uri: Cell::Value("https://zillow.com/homedetails/x/29420456_zpid/"),
            label: Cell::Value("zip:78702"),
            scraped_at: Cell::Missing,
            ..RowValues::default()
        };
        assert_eq!(
            map_row(&values, IdRule::Zillow, &context()),
            Err(RejectReason::NoListingValues)
        );
        let no_zip = RowValues {
            label: Cell::Value("zip:unknown"),
            ..values
        };
        assert_eq!(
            map_row(&no_zip, IdRule::Zillow, &context()),
            Err(RejectReason::InvalidZipCode)
        );
    }

    #[test]
    fn scrape_times_are_bounded_by_the_upload() {
        let missing = RowValues {
            scraped_at: Cell::Missing,
            ..real_v1()
        };
        let mapped = map_row(&missing, IdRule::Zillow, &context()).expect("valid");
        assert_eq!(
            mapped.scraped_at, UPLOADED,
            "NaT falls back to the upload time"
        );
        assert!(!mapped.future_scrape_time);

        let within_skew = RowValues {
            scraped_at: Cell::Value(UPLOADED.as_micros() + TEN_MINUTES),
            ..real_v1()
        };
        let mapped = map_row(&within_skew, IdRule::Zillow, &context()).expect("valid");
        assert_eq!(
            mapped.scraped_at.as_micros(),
            UPLOADED.as_micros() + TEN_MINUTES
        );
        assert!(!mapped.future_scrape_time);

        let years_ahead = RowValues {
            scraped_at: Cell::Value(UPLOADED.as_micros() + 3 * 365 * 86_400_000_000),
            ..real_v1()
        };
        let mapped = map_row(&years_ahead, IdRule::Zillow, &context()).expect("valid");
        assert_eq!(
            mapped.scraped_at.as_micros(),
            UPLOADED.as_micros() + TEN_MINUTES
        );
        assert!(mapped.future_scrape_time);
    }

    #[test]
    fn zero_living_area_is_unknown() {
        let lot = RowValues {
            living_area: Cell::Value(0.0),
            ..real_v1()
        };
        let mapped = map_row(&lot, IdRule::Zillow, &context()).expect("valid");
        assert_eq!(mapped.listing.living_area_sqft, None);
        let tiny = RowValues {
            living_area: Cell::Value(12.0),
            ..real_v1()
        };
        assert_eq!(
            map_row(&tiny, IdRule::Zillow, &context()),
            Err(RejectReason::ImplausibleLivingArea)
        );
    }

    #[test]
    fn mock_scraper_rows_are_synthetic() {
        let flagged = RowValues {
            mock_generated: true,
            ..real_v1()
        };
        let mock_zpid = RowValues {
            zpid: Cell::Value("mock_19103_0_123456"),
            ..real_v1()
        };
        let mock_site = RowValues {
            zpid: Cell::Missing,
            url: Cell::Value("https://Mock-RealEstate-Site.com/property/x"),
            ..real_v1()
        };
        let mock_subdomain = RowValues {
            zpid: Cell::Missing,
            uri: Cell::Value("http://www.mock-realestate-site.com:8080/property/x"),
            ..real_v1()
        };
        // synthetic wins over every other reason
        let broken_mock = RowValues {
            price: Cell::Value(5.0),
            label: Cell::Missing,
            address: Cell::Missing,
            ..flagged
        };
        for values in [flagged, mock_zpid, mock_site, mock_subdomain, broken_mock] {
            assert_eq!(
                map_row(&values, IdRule::AnySource, &context()),
                Err(RejectReason::Synthetic)
            );
        }
    }

    #[test]
    fn hosts_of_urls() {
        assert_eq!(
            host("https://www.zillow.com/homedetails/x/1_zpid/"),
            Some("www.zillow.com")
        );
        assert_eq!(
            host("http://user@Host.example:8080?q"),
            Some("Host.example")
        );
        assert_eq!(host("https://example.com"), Some("example.com"));
        assert_eq!(host("/homedetails/x/1_zpid/"), None);
        assert_eq!(host("zillow.com/homedetails"), None);
        assert_eq!(host(""), None);
        assert_eq!(host("é://x"), None);
    }

    #[test]
    fn only_the_mock_site_itself_is_synthetic() {
        for url in [
            "https://www.zillow.com/homedetails/mock-realestate-site.com/1_zpid/",
            "https://notmock-realestate-site.com/x",
            "/homedetails/mock-realestate-site.com/2_zpid/",
        ] {
            let values = RowValues {
                url: Cell::Value(url),
                ..real_v1()
            };
            assert!(
                map_row(&values, IdRule::Zillow, &context()).is_ok(),
                "{url} is not the mock site"
            );
        }
    }

    #[test]
    fn any_source_ids_fall_back_to_mls_and_address() {
        let base = RowValues {
            zpid: Cell::Missing,
            uri: Cell::Missing,
            url: Cell::Value("https://example.com/listing/42"),
            ..real_v1()
        };
        let with_mls = RowValues {
            mls_id: Cell::Value("TX1234567"),
            ..base
        };
        assert_eq!(
            listing_id(&with_mls, IdRule::AnySource).as_deref(),
            Some("mls-TX1234567")
        );
        let by_address = listing_id(&base, IdRule::AnySource).expect("address id");
        assert!(by_address.starts_with("addr-"), "{by_address}");
        assert_eq!(
            map_row(&base, IdRule::AnySource, &context()).map(|row| row.listing.listing_id),
            Ok(by_address)
        );
        assert_eq!(listing_id(&base, IdRule::Zillow), None);
    }

    #[test]
    fn the_upload_zipcode_is_the_last_fallback() {
        let values = RowValues {
            label: Cell::Missing,
            address: Cell::Value("12 Oak St"),
            ..real_v1()
        };
        assert_eq!(
            map_row(&values, IdRule::Zillow, &context()),
            Err(RejectReason::InvalidZipCode)
        );
        let epoch = RowContext {
            zipcode: Some("19103".into()),
            ..context()
        };
        let mapped = map_row(&values, IdRule::Zillow, &epoch).expect("valid");
        assert_eq!(mapped.listing.zip_code.as_deref(), Some("19103"));
        assert_eq!((mapped.listing.city, mapped.listing.state), (None, None));
    }

    #[test]
    fn explicit_columns_win_and_bad_ones_reject() {
        let explicit = RowValues {
            zip: ZipValue {
                text: Cell::Value("2134"),
                numeric: true,
            },
            city: Cell::Value("Boston"),
            state: Cell::Value("ma"),
            ..real_v1()
        };
        let listing = map_row(&explicit, IdRule::Zillow, &context())
            .expect("valid")
            .listing;
        assert_eq!(
            (
                listing.zip_code.as_deref(),
                listing.city.as_deref(),
                listing.state.as_deref()
            ),
            (Some("02134"), Some("Boston"), Some("MA"))
        );
        let bad_state = RowValues {
            state: Cell::Value("XX"),
            ..real_v1()
        };
        assert_eq!(
            map_row(&bad_state, IdRule::Zillow, &context()),
            Err(RejectReason::InvalidState)
        );
        let bad_zip = RowValues {
            zip: ZipValue {
                text: Cell::Value("7870"),
                numeric: false,
            },
            ..real_v1()
        };
        assert_eq!(
            map_row(&bad_zip, IdRule::Zillow, &context()),
            Err(RejectReason::InvalidZipCode)
        );
    }

    #[test]
    fn zpids_come_out_of_zillow_urls() {
        assert_eq!(
            zpid_from_url("https://www.zillow.com/homedetails/x/29420456_zpid/").as_deref(),
            Some("29420456")
        );
        assert_eq!(zpid_from_url("https://example.com/listing/42"), None);
        assert_eq!(zpid_from_url("_zpid"), None);
    }
}
