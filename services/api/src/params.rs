//! Query parameters, parsed by hand so that every mistake is a 400 naming the parameter: an
//! unknown parameter, a repeated or empty one, a value that does not parse or is out of range.
//!
//! What is accepted is exactly what the OpenAPI document declares (its `pattern`, `minimum`,
//! `maximum` and `maxLength`), so that clients generated from it are right: the `api` suite's
//! schemathesis run checks that nothing the document allows is refused and nothing it forbids
//! accepted.

use std::collections::BTreeMap;

use crate::error::{ApiError, ApiResult};

/// Longest accepted value of one parameter, in characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// The parameters of one request; each is taken once, and [`Params::finish`] rejects the rest.
pub struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Parses a raw query string (`None`: no query).
    pub fn parse(raw: Option<&str>) -> ApiResult<Self> {
        let mut values = BTreeMap::new();
        for (name, value) in url::form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            if value.chars().count() > MAX_VALUE_CHARS {
                return Err(ApiError::bad(
                    &name,
                    format!("longer than {MAX_VALUE_CHARS} characters"),
                ));
            }
            if value.is_empty() {
                return Err(ApiError::bad(
                    &name,
                    "empty: leave the parameter out instead",
                ));
            }
            if values
                .insert(name.clone().into_owned(), value.into_owned())
                .is_some()
            {
                return Err(ApiError::bad(&name, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    /// The raw value of `name`, if given.
    pub fn text(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    /// An integer within `min..=max`.
    pub fn integer(&mut self, name: &str, min: i64, max: i64) -> ApiResult<Option<i64>> {
        let Some(raw) = self.text(name) else {
            return Ok(None);
        };
        // JSON Schema's integer, written out: an optional minus and digits
        let digits = raw.strip_prefix('-').unwrap_or(&raw);
        let value: i64 = (!digits.is_empty() && digits.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| raw.parse().ok())
            .flatten()
            .ok_or_else(|| ApiError::bad(name, format!("{raw:?} is not an integer")))?;
        if !(min..=max).contains(&value) {
            return Err(ApiError::bad(
                name,
                format!("{value} is outside {min}..={max}"),
            ));
        }
        Ok(Some(value))
    }

    /// One of `choices`.
    pub fn choice(
        &mut self,
        name: &str,
        choices: &[&'static str],
    ) -> ApiResult<Option<&'static str>> {
        let Some(raw) = self.text(name) else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|choice| **choice == raw)
            .copied()
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad(
                    name,
                    format!("{raw:?} is not one of {}", choices.join(", ")),
                )
            })
    }

    /// Fails on the first parameter nobody took.
    pub fn finish(self) -> ApiResult<()> {
        match self.values.into_keys().next() {
            Some(name) => Err(ApiError::bad(&name, "unknown parameter")),
            None => Ok(()),
        }
    }
}

/// `limit` (1..=`max`, default `default`) and where the page starts: after a keyset `cursor`
/// (stable while rows are added) or at a row `offset` (kept for the seed's clients), not both.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    /// Rows per page.
    pub limit: i64,
    /// Rows skipped (0 with a cursor).
    pub offset: i64,
    /// The key of the last row of the previous page.
    pub after: Option<String>,
}

/// Largest `offset` accepted: deep offsets make Postgres walk every skipped row; the cursor
/// has no such cost.
const MAX_OFFSET: i64 = 100_000;

impl Page {
    /// Takes `limit`, `offset` and `cursor`.
    pub fn take(params: &mut Params, default: i64, max: i64) -> ApiResult<Self> {
        let limit = params.integer("limit", 1, max)?.unwrap_or(default);
        // both: the rows after the cursor, skipping `offset` of them
        let offset = params.integer("offset", 0, MAX_OFFSET)?;
        let after = params
            .text("cursor")
            .map(|cursor| decode_cursor(&cursor))
            .transpose()?;
        Ok(Self {
            limit,
            offset: offset.unwrap_or(0),
            after,
        })
    }
}

/// The opaque cursor for the page after the row keyed `key`.
#[must_use]
pub fn encode_cursor(key: &str) -> String {
    format!("c1.{}", hex::encode(key))
}

fn decode_cursor(cursor: &str) -> ApiResult<String> {
    // `^c1\.([0-9a-f]{2})+$`; any bytes make a key to page after, even ones no id has
    cursor
        .strip_prefix("c1.")
        .filter(|encoded| {
            !encoded.is_empty()
                && encoded
                    .bytes()
                    .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
        })
        .and_then(|encoded| hex::decode(encoded).ok())
        // Postgres text holds no NUL, and no id has one: a key without it pages the same
        .map(|bytes| String::from_utf8_lossy(&bytes).replace('\0', ""))
        .ok_or_else(|| ApiError::bad("cursor", "not a cursor returned by this API"))
}

/// A zip code path parameter: five digits.
pub fn zip_code(raw: &str) -> ApiResult<String> {
    if raw.len() == 5 && raw.bytes().all(|byte| byte.is_ascii_digit()) {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad(
            "zip",
            format!("{raw:?} is not a five-digit zip code"),
        ))
    }
}

/// A listing id (`zpid`) path parameter: the ids the parser makes (digits for Zillow,
/// `mls-…`, `addr-…`), letters, digits, `_` and `-`, at most 128.
pub fn listing_id(raw: &str) -> ApiResult<String> {
    if !raw.is_empty()
        && raw.len() <= 128
        && raw
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
    {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad(
            "zpid",
            "not a listing id (1 to 128 letters, digits, _ and -)",
        ))
    }
}

/// A miner hotkey path parameter (SS58: base58 characters, at most 64).
pub fn hotkey(raw: &str) -> ApiResult<String> {
    if !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
    {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::bad(
            "hotkey",
            "not a miner hotkey (1 to 64 letters and digits)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_mistake_names_its_parameter() {
        let unknown = Params::parse(Some("limit=5&colour=red")).and_then(|mut params| {
            params.integer("limit", 1, 10)?;
            params.finish()
        });
        assert!(matches!(unknown, Err(ApiError::BadParameter { name, .. }) if name == "colour"));
        let repeated = Params::parse(Some("limit=5&limit=6"));
        assert!(matches!(repeated, Err(ApiError::BadParameter { name, .. }) if name == "limit"));
        let mut params = Params::parse(Some("limit=0&minPrice=abc")).expect("parses");
        assert!(
            matches!(params.integer("limit", 1, 500), Err(ApiError::BadParameter { name, .. }) if name == "limit")
        );
        assert!(
            matches!(params.integer("minPrice", 0, 10), Err(ApiError::BadParameter { name, .. }) if name == "minPrice")
        );
    }

    #[test]
    fn a_cursor_round_trips_and_a_forged_one_is_refused() {
        let mut params =
            Params::parse(Some(&format!("cursor={}", encode_cursor("mls:42")))).expect("parses");
        assert_eq!(
            Page::take(&mut params, 100, 500)
                .expect("page")
                .after
                .as_deref(),
            Some("mls:42")
        );
        for forged in ["zzz", "c1.", "c1.ABCD", "c1.abc"] {
            let mut params = Params::parse(Some(&format!("cursor={forged}"))).expect("parses");
            assert!(Page::take(&mut params, 100, 500).is_err(), "{forged}");
        }
        let mut both = Params::parse(Some(&format!("offset=3&cursor={}", encode_cursor("1"))))
            .expect("parses");
        let page = Page::take(&mut both, 100, 500).expect("both: after the cursor, skipping 3");
        assert_eq!((page.offset, page.after.as_deref()), (3, Some("1")));
    }

    #[test]
    fn values_are_what_the_document_declares() {
        assert!(Params::parse(Some("limit=")).is_err(), "empty");
        assert!(Params::parse(Some(&format!("status={}", "é".repeat(256)))).is_ok());
        assert!(Params::parse(Some(&format!("status={}", "é".repeat(257)))).is_err());
        for raw in ["+5", "5.0", " 5", "0x5", "-", ""] {
            let mut params = Params {
                values: BTreeMap::from([("limit".to_owned(), raw.to_owned())]),
            };
            assert!(params.integer("limit", -10, 10).is_err(), "{raw:?}");
        }
        let mut params = Params::parse(Some("limit=-7&order=DESC")).expect("parses");
        assert_eq!(params.integer("limit", -10, 10).expect("integer"), Some(-7));
        assert!(
            params.choice("order", &["asc", "desc"]).is_err(),
            "choices are exact"
        );
    }
}
