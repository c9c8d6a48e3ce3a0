//! Normalisation rules shared by every producer of canonical listings.
//!
//! They live in the contract, not in the parser, because the content hash depends on them: two
//! releases that normalise differently would split identical reports into different values.
//!
//! **Control characters.** Text reaches Postgres, JSON and terminals, and a NUL byte is refused
//! by a `text` column, so no normalised value holds one: control characters that are white
//! space (tab, line breaks, form feed) fold into a single space like any white space, and every
//! other control character (the rest of C0, DEL and C1, NUL among them) is removed. A value
//! that is nothing but control characters becomes missing.

/// Whether `character` is removed from every value (a control character that is not white
/// space).
fn is_stripped(character: char) -> bool {
    character.is_control() && !character.is_whitespace()
}

/// Trims, folds every run of white space into one space, removes other control characters,
/// and maps the empty string to `None`.
#[must_use]
pub fn text(raw: &str) -> Option<String> {
    if is_folded(raw) {
        // the common case: already clean, one copy
        return Some(raw.to_owned());
    }
    let mut folded = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        let start = folded.len();
        if !folded.is_empty() {
            folded.push(' ');
        }
        let before = folded.len();
        folded.extend(word.chars().filter(|character| !is_stripped(*character)));
        if folded.len() == before {
            // the word was only control characters: no word, no separator
            folded.truncate(start);
        }
    }
    (!folded.is_empty()).then_some(folded)
}

/// Whether `raw` is non-empty printable ASCII whose only white space is single spaces between
/// words, i.e. what [`text`] would return unchanged.
fn is_folded(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    first != b' '
        && last != b' '
        && bytes.iter().all(|&byte| (b' '..=b'~').contains(&byte))
        && !bytes.windows(2).any(|pair| pair == b"  ")
}

/// A zip code given as text: five digits, or ZIP+4 (`12345-6789`, kept as its first five).
#[must_use]
pub fn zip_code_from_text(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let five = match trimmed.split_once('-') {
        Some((head, tail)) if tail.len() == 4 && tail.bytes().all(|b| b.is_ascii_digit()) => head,
        Some(_) => return None,
        None => trimmed,
    };
    (five.len() == 5 && five.bytes().all(|b| b.is_ascii_digit())).then(|| five.to_owned())
}

/// A zip code that arrived as a number (pandas turns `"02134"` into `2134`): zero-padded to five.
#[must_use]
pub fn zip_code_from_int(raw: i64) -> Option<String> {
    (0..=99_999).contains(&raw).then(|| format!("{raw:05}"))
}

/// The zip code of a v1 `label`: the network's miners label a row `zip:NNNNN` (or
/// `zip:unknown`); a bare zip code is accepted too. Anything else names no zip code.
#[must_use]
pub fn zip_code_from_label(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    let value = match trimmed.get(..4) {
        Some(tag) if tag.eq_ignore_ascii_case("zip:") => &trimmed[4..],
        _ => trimmed,
    };
    zip_code_from_text(value)
}

/// What the end of a postal address says: `…, {city}, {ST} {zip}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddressParts {
    /// The part before the state, when the address has a street part before it too.
    pub city: Option<String>,
    /// The state code (full names accepted).
    pub state: Option<String>,
    /// The five-digit zip code (ZIP+4 keeps its first five).
    pub zip: Option<String>,
}

/// Splits the city, state and zip code off an address written the way listing sites and the
/// network's scrapers write it, `"123 Main St, Katy, TX 77494"`: the last comma-separated part
/// is `{state} {zip}` (either may be missing), the part before it the city when a street part
/// precedes it. Parts that do not fit are `None`; nothing here rejects a row.
#[must_use]
pub fn address_parts(raw: &str) -> AddressParts {
    // read from the end, without collecting: the parser calls this for most rows
    let mut parts = raw
        .rsplit(',')
        .map(str::trim)
        .filter(|part| !part.is_empty());
    let Some(last) = parts.next() else {
        return AddressParts::default();
    };
    let (state_text, zip) = match last.rsplit_once(char::is_whitespace) {
        Some((head, tail)) => match zip_code_from_text(tail) {
            Some(zip) => (head.trim(), Some(zip)),
            None => (last, None),
        },
        None => match zip_code_from_text(last) {
            Some(zip) => ("", Some(zip)),
            None => (last, None),
        },
    };
    let state = (!state_text.is_empty())
        .then(|| state(state_text))
        .flatten();
    // a city only where the address also has a street part, and the state was recognised,
    // so a street line alone ("12 Oak St, Apt 4") is never taken for a city
    let city_part = parts.next();
    let has_street = parts.next().is_some();
    let city = match city_part {
        Some(city)
            if has_street && (state.is_some() || (zip.is_some() && state_text.is_empty())) =>
        {
            text(city)
        }
        _ => None,
    };
    AddressParts { city, state, zip }
}

const STATES: [(&str, &str); 52] = [
    ("AL", "ALABAMA"),
    ("AK", "ALASKA"),
    ("AZ", "ARIZONA"),
    ("AR", "ARKANSAS"),
    ("CA", "CALIFORNIA"),
    ("CO", "COLORADO"),
    ("CT", "CONNECTICUT"),
    ("DE", "DELAWARE"),
    ("DC", "DISTRICT OF COLUMBIA"),
    ("FL", "FLORIDA"),
    ("GA", "GEORGIA"),
    ("HI", "HAWAII"),
    ("ID", "IDAHO"),
    ("IL", "ILLINOIS"),
    ("IN", "INDIANA"),
    ("IA", "IOWA"),
    ("KS", "KANSAS"),
    ("KY", "KENTUCKY"),
    ("LA", "LOUISIANA"),
    ("ME", "MAINE"),
    ("MD", "MARYLAND"),
    ("MA", "MASSACHUSETTS"),
    ("MI", "MICHIGAN"),
    ("MN", "MINNESOTA"),
    ("MS", "MISSISSIPPI"),
    ("MO", "MISSOURI"),
    ("MT", "MONTANA"),
    ("NE", "NEBRASKA"),
    ("NV", "NEVADA"),
    ("NH", "NEW HAMPSHIRE"),
    ("NJ", "NEW JERSEY"),
    ("NM", "NEW MEXICO"),
    ("NY", "NEW YORK"),
    ("NC", "NORTH CAROLINA"),
    ("ND", "NORTH DAKOTA"),
    ("OH", "OHIO"),
    ("OK", "OKLAHOMA"),
    ("OR", "OREGON"),
    ("PA", "PENNSYLVANIA"),
    ("PR", "PUERTO RICO"),
    ("RI", "RHODE ISLAND"),
    ("SC", "SOUTH CAROLINA"),
    ("SD", "SOUTH DAKOTA"),
    ("TN", "TENNESSEE"),
    ("TX", "TEXAS"),
    ("UT", "UTAH"),
    ("VT", "VERMONT"),
    ("VA", "VIRGINIA"),
    ("WA", "WASHINGTON"),
    ("WV", "WEST VIRGINIA"),
    ("WI", "WISCONSIN"),
    ("WY", "WYOMING"),
];

/// A US state as its two-letter code, upper case; full names are accepted (`"Texas"` → `"TX"`).
#[must_use]
pub fn state(raw: &str) -> Option<String> {
    if let [first, second] = raw.as_bytes()
        && first.is_ascii_alphabetic()
        && second.is_ascii_alphabetic()
    {
        // the common case, a code: no folding needed
        let code = [first.to_ascii_uppercase(), second.to_ascii_uppercase()];
        return STATES
            .iter()
            .find(|(known, _)| known.as_bytes() == code)
            .map(|(known, _)| (*known).to_owned());
    }
    let upper = text(raw)?.to_ascii_uppercase();
    STATES
        .iter()
        .find(|(code, name)| *code == upper || *name == upper)
        .map(|(code, _)| (*code).to_owned())
}

/// Upper-case `SNAKE_CASE` for enumerations such as home type and status.
fn enumeration(raw: &str) -> Option<String> {
    let mut value = String::with_capacity(raw.len());
    for word in raw.split_whitespace() {
        let start = value.len();
        if !value.is_empty() {
            value.push('_');
        }
        let before = value.len();
        value.extend(
            word.chars()
                .filter(|character| !is_stripped(*character))
                .map(|character| match character {
                    '-' => '_',
                    other => other.to_ascii_uppercase(),
                }),
        );
        if value.len() == before {
            value.truncate(start);
        }
    }
    (!value.is_empty()).then_some(value)
}

/// The home type in the v1 (Zillow) vocabulary; v2 names are mapped onto it.
#[must_use]
pub fn home_type(raw: &str) -> Option<String> {
    let value = enumeration(raw)?;
    let mapped = match value.as_str() {
        "HOUSE" | "SINGLE_FAMILY_HOME" | "SFR" => "SINGLE_FAMILY",
        "CONDOMINIUM" => "CONDO",
        "TOWN_HOUSE" | "TOWNHOME" => "TOWNHOUSE",
        "MULTIFAMILY" | "MULTI_FAMILY_HOME" | "DUPLEX" => "MULTI_FAMILY",
        "LAND" | "LOTS" | "LOTS_LAND" => "LOT",
        "MOBILE" | "MANUFACTURED_HOME" => "MANUFACTURED",
        "APT" => "APARTMENT",
        _ => return Some(value),
    };
    Some(mapped.to_owned())
}

/// The listing status in the v1 (Zillow) vocabulary; v2 names are mapped onto it.
#[must_use]
pub fn home_status(raw: &str) -> Option<String> {
    let value = enumeration(raw)?;
    let mapped = match value.as_str() {
        "ACTIVE" | "FOR_SALE_BY_OWNER" => "FOR_SALE",
        "SOLD" => "RECENTLY_SOLD",
        "UNDER_CONTRACT" | "CONTINGENT" => "PENDING",
        "RENTAL" => "FOR_RENT",
        "OFF_MARKET" | "WITHDRAWN" | "EXPIRED" => "OFF_MARKET",
        _ => return Some(value),
    };
    Some(mapped.to_owned())
}

const ADDRESS_WORDS: [(&str, &str); 24] = [
    ("STREET", "ST"),
    ("AVENUE", "AVE"),
    ("ROAD", "RD"),
    ("DRIVE", "DR"),
    ("BOULEVARD", "BLVD"),
    ("LANE", "LN"),
    ("COURT", "CT"),
    ("PLACE", "PL"),
    ("TERRACE", "TER"),
    ("CIRCLE", "CIR"),
    ("PARKWAY", "PKWY"),
    ("HIGHWAY", "HWY"),
    ("SQUARE", "SQ"),
    ("TRAIL", "TRL"),
    ("APARTMENT", "APT"),
    ("SUITE", "STE"),
    ("NORTH", "N"),
    ("SOUTH", "S"),
    ("EAST", "E"),
    ("WEST", "W"),
    ("NORTHEAST", "NE"),
    ("NORTHWEST", "NW"),
    ("SOUTHEAST", "SE"),
    ("SOUTHWEST", "SW"),
];

/// A postal address for comparison across miners: upper case, no periods, one space between
/// words, `", "` between parts, and the common USPS abbreviations for suffixes and directions.
#[must_use]
pub fn address(raw: &str) -> Option<String> {
    let upper: String = raw
        .chars()
        .filter(|character| *character != '.' && !is_stripped(*character))
        .map(|character| character.to_ascii_uppercase())
        .collect();
    let mut normalized = String::with_capacity(upper.len());
    // words joined by one space, non-empty parts by ", "
    for part in upper.split(',') {
        let mut first_word_of_part = true;
        for word in part.split_whitespace() {
            if first_word_of_part {
                if !normalized.is_empty() {
                    normalized.push_str(", ");
                }
                first_word_of_part = false;
            } else {
                normalized.push(' ');
            }
            let abbreviated = ADDRESS_WORDS
                .iter()
                .find(|(long, _)| *long == word)
                .map_or(word, |(_, short)| short);
            normalized.push_str(abbreviated);
        }
    }
    (!normalized.is_empty()).then_some(normalized)
}

/// Whole dollars from a float price, rounded half away from zero; `None` for NaN, infinities
/// and values beyond `i64`.
#[must_use]
pub fn dollars_from_f64(raw: f64) -> Option<i64> {
    round_to_i64(raw)
}

/// Tenths (bathrooms: 2.5 → 25) from a float, rounded half away from zero.
#[must_use]
pub fn tenths_from_f64(raw: f64) -> Option<i64> {
    round_to_i64(raw * 10.0)
}

/// Fixed-point degrees in units of 1e-7 (about 1.1 cm) from a float; `None` when non-finite.
#[must_use]
pub fn degrees_e7_from_f64(raw: f64) -> Option<i32> {
    round_to_i64(raw * 1e7).and_then(|value| i32::try_from(value).ok())
}

fn round_to_i64(raw: f64) -> Option<i64> {
    const LIMIT: f64 = 9.2e18;
    if !raw.is_finite() || raw.abs() > LIMIT {
        return None;
    }
    // the range check above makes the conversion exact up to float rounding
    #[allow(clippy::cast_possible_truncation)]
    let rounded = raw.round() as i64;
    Some(rounded)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_codes() {
        assert_eq!(zip_code_from_text(" 78701 ").as_deref(), Some("78701"));
        assert_eq!(zip_code_from_text("78701-1234").as_deref(), Some("78701"));
        assert_eq!(zip_code_from_text("7870"), None);
        assert_eq!(zip_code_from_text("78701-12"), None);
        assert_eq!(zip_code_from_text("ABCDE"), None);
        assert_eq!(zip_code_from_int(2134).as_deref(), Some("02134"));
        assert_eq!(zip_code_from_int(123_456), None);
        assert_eq!(zip_code_from_int(-1), None);
    }

    #[test]
    fn clean_text_takes_the_fast_path_with_the_same_result() {
        for raw in [
            "Austin",
            "San Antonio",
            "a  b",
            " x",
            "y ",
            "tab\there",
            "v\u{b}t",
            "é x",
            "",
        ] {
            let slow: Vec<&str> = raw.split_whitespace().collect();
            let expected = (!slow.is_empty()).then(|| slow.join(" "));
            assert_eq!(text(raw), expected, "{raw:?}");
        }
        assert!(is_folded("San Antonio"));
        assert!(!is_folded("a  b"));
        assert!(!is_folded("v\u{b}t"));
    }

    #[test]
    fn control_characters_never_survive() {
        assert_eq!(text("Aus\0tin").as_deref(), Some("Austin"));
        assert_eq!(text("a\u{7}b\tc\r\nd").as_deref(), Some("ab c d"));
        assert_eq!(text("x \0 y").as_deref(), Some("x y"));
        assert_eq!(text("\0\u{1b}"), None);
        assert_eq!(text("caf\u{9c}é").as_deref(), Some("café"));
        assert_eq!(
            address("12\0 Oak St, Katy").as_deref(),
            Some("12 OAK ST, KATY")
        );
        assert_eq!(
            home_type("single\0 family").as_deref(),
            Some("SINGLE_FAMILY")
        );
        assert_eq!(home_type("\0 condo").as_deref(), Some("CONDO"));
        // every value the rules can return is free of them, whatever the input
        for byte in 0_u8..=0x7f {
            let raw = format!("a{}b", char::from(byte));
            for value in [
                text(&raw),
                address(&raw),
                home_type(&raw),
                home_status(&raw),
            ]
            .into_iter()
            .flatten()
            {
                assert!(!value.chars().any(char::is_control), "{byte}: {value:?}");
            }
        }
    }

    #[test]
    fn zip_codes_from_labels() {
        assert_eq!(zip_code_from_label("zip:77494").as_deref(), Some("77494"));
        assert_eq!(
            zip_code_from_label("ZIP:77494-1234").as_deref(),
            Some("77494")
        );
        assert_eq!(zip_code_from_label("77494").as_deref(), Some("77494"));
        assert_eq!(zip_code_from_label("zip:unknown"), None);
        assert_eq!(zip_code_from_label("zip:"), None);
        assert_eq!(zip_code_from_label("z"), None);
        assert_eq!(zip_code_from_label("é"), None);
    }

    #[test]
    fn address_parts_at_the_end_of_an_address() {
        let parts = |raw| {
            let AddressParts { city, state, zip } = address_parts(raw);
            (city, state, zip)
        };
        let some = |value: &str| Some(value.to_owned());
        assert_eq!(
            parts("123 Main St, Katy, TX 77494"),
            (some("Katy"), some("TX"), some("77494"))
        );
        assert_eq!(
            parts("9 Elm Ave Apt 4, San  Antonio , Texas 78205-1234"),
            (some("San Antonio"), some("TX"), some("78205"))
        );
        assert_eq!(
            parts("123 Main St, TX 77494"),
            (None, some("TX"), some("77494"))
        );
        assert_eq!(
            parts("123 Main St, Katy, TX"),
            (some("Katy"), some("TX"), None)
        );
        assert_eq!(parts("123 Main St"), (None, None, None));
        assert_eq!(parts("12 Oak St, Apt 4"), (None, None, None));
        assert_eq!(
            parts("12 Oak St, Katy, XX 77494"),
            (None, None, some("77494"))
        );
        assert_eq!(parts(""), (None, None, None));
        assert_eq!(parts(",,,"), (None, None, None));
    }

    #[test]
    fn states() {
        assert_eq!(state("tx").as_deref(), Some("TX"));
        assert_eq!(state("Tx").as_deref(), Some("TX"));
        assert_eq!(state(" tx ").as_deref(), Some("TX"));
        assert_eq!(state("New  York").as_deref(), Some("NY"));
        assert_eq!(state("XX"), None);
        assert_eq!(state(""), None);
    }

    #[test]
    fn vocabularies() {
        assert_eq!(home_type("house").as_deref(), Some("SINGLE_FAMILY"));
        assert_eq!(home_type("SINGLE_FAMILY").as_deref(), Some("SINGLE_FAMILY"));
        assert_eq!(home_type("multi-family").as_deref(), Some("MULTI_FAMILY"));
        assert_eq!(home_status("active").as_deref(), Some("FOR_SALE"));
        assert_eq!(home_status("Sold").as_deref(), Some("RECENTLY_SOLD"));
        assert_eq!(home_status("FOR_RENT").as_deref(), Some("FOR_RENT"));
        assert_eq!(home_status("  "), None);
    }

    #[test]
    fn addresses() {
        assert_eq!(
            address(" 123  North Main Street ,Austin,  TX 78701").as_deref(),
            Some("123 N MAIN ST, AUSTIN, TX 78701")
        );
        assert_eq!(
            address("12 St. James Ave.").as_deref(),
            Some("12 ST JAMES AVE")
        );
        assert_eq!(address(" , "), None);
    }

    #[test]
    fn numbers() {
        assert_eq!(dollars_from_f64(349_999.5), Some(350_000));
        assert_eq!(dollars_from_f64(f64::NAN), None);
        assert_eq!(dollars_from_f64(1e300), None);
        assert_eq!(tenths_from_f64(2.5), Some(25));
        assert_eq!(tenths_from_f64(1.0), Some(10));
        assert_eq!(degrees_e7_from_f64(30.267_153_1), Some(302_671_531));
        assert_eq!(degrees_e7_from_f64(-97.743_060_8), Some(-977_430_608));
        assert_eq!(degrees_e7_from_f64(f64::INFINITY), None);
    }
}
