//! Column coercion: the types real files come with, to the types the canonical listing needs.
//!
//! Miners write with pandas, so a column's physical type depends on the data: an integer column
//! with a missing value is float64, a zpid may be int64 or text, strings may be large or
//! dictionary-encoded, timestamps come in any unit with or without a time zone. Each column is
//! cast once per record batch (vectorised); a value that is present in the source but does not
//! survive the cast is reported as [`Cell::Invalid`] for that row only. A column whose type no
//! cast can make sense of (a boolean price, a list of bedrooms) makes the file's schema wrong.
//!
//! A column pandas had no value for at all is written with the `null` type (Arrow's
//! `DataType::Null`): the network's miners write six of their eighteen v1 columns that way, and
//! all fifteen content columns when they use the nested property schema. Such a column is
//! present, and every value of it is missing.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, StringArray, TimestampMicrosecondArray,
};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Float64Type, Schema, TimeUnit, TimestampMicrosecondType};
use thiserror::Error;

/// What a column becomes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Text; integers become their decimal form, integral floats too (`12345.0` → `12345`).
    Text,
    /// A number.
    Number,
    /// An instant: timestamps of any unit and zone (naive ones are UTC), dates, ISO 8601 text.
    Instant,
}

/// One column the schema uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnSpec {
    /// Name, matched case-insensitively.
    pub name: &'static str,
    /// Target type.
    pub target: Target,
    /// Whether a file without it is unusable.
    pub required: bool,
}

/// Why a file's schema is unusable.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SchemaError {
    /// A required column is absent.
    #[error("required column `{0}` is missing")]
    MissingColumn(&'static str),
    /// A column's type cannot become its target type.
    #[error("column `{column}` has type {found}, which cannot be read as {target:?}")]
    IncompatibleType {
        /// Column.
        column: &'static str,
        /// Its type in the file.
        found: String,
        /// What it should become.
        target: Target,
    },
    /// Two columns differ only in case.
    #[error("columns `{0}` and `{1}` differ only in case")]
    AmbiguousColumn(String, String),
}

/// Where each spec's column is in a file, and what else the file has.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchemaPlan {
    /// For each spec, the index of its column in the file when it has one with values (a
    /// `null`-typed column has none, so it is not read at all).
    pub indices: Vec<Option<usize>>,
    /// For each spec, whether the file has its column, `null`-typed or not.
    pub present: Vec<bool>,
    /// Columns the schema does not use, in file order.
    pub extra_columns: Vec<String>,
}

fn accepts(target: Target, data_type: &DataType) -> bool {
    let data_type = match data_type {
        DataType::Dictionary(_, value) => value.as_ref(),
        other => other,
    };
    let textual = matches!(
        data_type,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    );
    let numeric = data_type.is_numeric();
    match target {
        Target::Text => textual || numeric,
        Target::Number => textual || numeric,
        Target::Instant => {
            textual
                || matches!(
                    data_type,
                    DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64
                )
        }
    }
}

/// Matches a file's schema against the specs.
pub fn plan(schema: &Schema, specs: &[ColumnSpec]) -> Result<SchemaPlan, SchemaError> {
    let names: Vec<&str> = schema
        .fields()
        .iter()
        .map(|field| field.name().as_str())
        .collect();
    for (index, name) in names.iter().enumerate() {
        if let Some(twin) = names[index + 1..]
            .iter()
            .find(|other| other.eq_ignore_ascii_case(name))
        {
            return Err(SchemaError::AmbiguousColumn(
                (*name).to_owned(),
                (*twin).to_owned(),
            ));
        }
    }
    let mut indices = Vec::with_capacity(specs.len());
    let mut present = Vec::with_capacity(specs.len());
    for spec in specs {
        let index = names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(spec.name));
        present.push(index.is_some());
        match index {
            None if spec.required => return Err(SchemaError::MissingColumn(spec.name)),
            Some(found) if is_null_typed(schema.field(found).data_type()) => {
                indices.push(None);
                continue;
            }
            Some(found) if !accepts(spec.target, schema.field(found).data_type()) => {
                return Err(SchemaError::IncompatibleType {
                    column: spec.name,
                    found: schema.field(found).data_type().to_string(),
                    target: spec.target,
                });
            }
            _ => {}
        }
        indices.push(index);
    }
    let extra_columns = names
        .iter()
        .filter(|name| {
            !specs
                .iter()
                .any(|spec| spec.name.eq_ignore_ascii_case(name))
        })
        .map(|name| (*name).to_owned())
        .collect();
    Ok(SchemaPlan {
        indices,
        present,
        extra_columns,
    })
}

/// Whether a column can hold nothing but nulls: pandas' type for a column without any value.
fn is_null_typed(data_type: &DataType) -> bool {
    match data_type {
        DataType::Null => true,
        DataType::Dictionary(_, value) => matches!(value.as_ref(), DataType::Null),
        _ => false,
    }
}

/// One value after coercion.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Cell<T> {
    /// Null in the file (or no such column).
    #[default]
    Missing,
    /// Present and coerced.
    Value(T),
    /// Present, but not a value of the target type.
    Invalid,
}

impl<T> Cell<T> {
    /// The value, if any.
    pub fn value(self) -> Option<T> {
        match self {
            Self::Value(value) => Some(value),
            Self::Missing | Self::Invalid => None,
        }
    }
}

/// A column after coercion.
#[derive(Clone, Debug)]
pub enum Coerced {
    /// Absent from the file.
    Absent,
    /// Text values, with the source column for telling nulls from failures.
    Text(StringArray, ArrayRef),
    /// Numbers.
    Number(Float64Array, ArrayRef),
    /// Microseconds since the epoch, UTC.
    Instant(TimestampMicrosecondArray, ArrayRef),
}

/// Why a column could not be cast at all (a bug or an unexpected type, not a bad value).
#[derive(Debug, Error)]
#[error("failed to coerce column `{column}`: {source}")]
pub struct CoerceError {
    column: &'static str,
    #[source]
    source: arrow::error::ArrowError,
}

const SAFE: CastOptions<'static> = CastOptions {
    safe: true,
    format_options: arrow::util::display::FormatOptions::new(),
};

fn text_of(source: &ArrayRef) -> Result<StringArray, arrow::error::ArrowError> {
    // floats print as `12345.0`; integral ones are identifiers or counts written by pandas
    if matches!(
        source.data_type(),
        DataType::Float16 | DataType::Float32 | DataType::Float64
    ) {
        let floats = cast_with_options(source, &DataType::Float64, &SAFE)?;
        let values: StringArray = floats
            .as_primitive::<Float64Type>()
            .iter()
            .map(|value| {
                value.map(|v| {
                    if v.fract() == 0.0 && v.abs() < 9.0e15 {
                        format!("{v:.0}")
                    } else {
                        v.to_string()
                    }
                })
            })
            .collect();
        return Ok(values);
    }
    Ok(cast_with_options(source, &DataType::Utf8, &SAFE)?
        .as_string::<i32>()
        .clone())
}

/// Casts one column to its target.
pub fn coerce(column: Option<&ArrayRef>, spec: &ColumnSpec) -> Result<Coerced, CoerceError> {
    let Some(source) = column else {
        return Ok(Coerced::Absent);
    };
    let wrap = |source| CoerceError {
        column: spec.name,
        source,
    };
    Ok(match spec.target {
        Target::Text => Coerced::Text(text_of(source).map_err(wrap)?, Arc::clone(source)),
        Target::Number => {
            let numbers = cast_with_options(source, &DataType::Float64, &SAFE).map_err(wrap)?;
            Coerced::Number(
                numbers.as_primitive::<Float64Type>().clone(),
                Arc::clone(source),
            )
        }
        Target::Instant => {
            // naive timestamps and dates are UTC; zoned ones keep their instant
            let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("+00:00".into()));
            let instants = cast_with_options(source, &utc, &SAFE).map_err(wrap)?;
            Coerced::Instant(
                instants.as_primitive::<TimestampMicrosecondType>().clone(),
                Arc::clone(source),
            )
        }
    })
}

fn cell<T>(
    source: &ArrayRef,
    coerced: &dyn Array,
    row: usize,
    value: impl FnOnce() -> T,
) -> Cell<T> {
    if source.is_null(row) {
        Cell::Missing
    } else if coerced.is_null(row) {
        Cell::Invalid
    } else {
        Cell::Value(value())
    }
}

impl Coerced {
    /// Whether the file stored this column as numbers (a zip code pandas read as an integer).
    #[must_use]
    pub fn source_is_numeric(&self) -> bool {
        match self {
            Self::Absent => false,
            Self::Text(_, source) | Self::Number(_, source) | Self::Instant(_, source) => {
                source.data_type().is_numeric()
            }
        }
    }

    /// Text at `row`, trimmed; empty text is missing.
    #[must_use]
    pub fn text(&self, row: usize) -> Cell<&str> {
        match self {
            Self::Text(values, source) => {
                match cell(source, values, row, || values.value(row).trim()) {
                    Cell::Value("") => Cell::Missing,
                    other => other,
                }
            }
            _ => Cell::Missing,
        }
    }

    /// A finite number at `row`; NaN (pandas' missing value) is missing.
    #[must_use]
    pub fn number(&self, row: usize) -> Cell<f64> {
        match self {
            Self::Number(values, source) => match cell(source, values, row, || values.value(row)) {
                Cell::Value(value) if value.is_nan() => Cell::Missing,
                Cell::Value(value) if value.is_infinite() => Cell::Invalid,
                other => other,
            },
            _ => Cell::Missing,
        }
    }

    /// Microseconds since the epoch (UTC) at `row`.
    #[must_use]
    pub fn instant(&self, row: usize) -> Cell<i64> {
        match self {
            Self::Instant(values, source) => cell(source, values, row, || values.value(row)),
            _ => Cell::Missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use arrow::array::{
        DictionaryArray, Float64Array, Int64Array, LargeStringArray, TimestampNanosecondArray,
    };
    use arrow::datatypes::{Field, Int32Type};

    use super::*;

    const SPECS: [ColumnSpec; 3] = [
        ColumnSpec {
            name: "zpid",
            target: Target::Text,
            required: true,
        },
        ColumnSpec {
            name: "price",
            target: Target::Number,
            required: false,
        },
        ColumnSpec {
            name: "datetime",
            target: Target::Instant,
            required: false,
        },
    ];

    fn schema(fields: &[(&str, DataType)]) -> Schema {
        Schema::new(
            fields
                .iter()
                .map(|(name, data_type)| Field::new(*name, data_type.clone(), true))
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn columns_match_case_insensitively_and_extras_are_counted() {
        let found = plan(
            &schema(&[
                ("ZPID", DataType::Int64),
                ("Label", DataType::Utf8),
                ("price", DataType::Float64),
            ]),
            &SPECS,
        )
        .expect("plan");
        assert_eq!(found.indices, vec![Some(0), Some(2), None]);
        assert_eq!(found.extra_columns, vec!["Label".to_owned()]);
    }

    #[test]
    fn null_typed_columns_are_present_and_empty() {
        let found = plan(
            &schema(&[
                ("zpid", DataType::Utf8),
                ("price", DataType::Null),
                (
                    "datetime",
                    DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Null)),
                ),
            ]),
            &SPECS,
        )
        .expect("null columns are accepted");
        assert_eq!(found.indices, vec![Some(0), None, None]);
        assert_eq!(found.present, vec![true, true, true]);
        let required_null = plan(&schema(&[("zpid", DataType::Null)]), &SPECS)
            .expect("a required column may be null-typed");
        assert_eq!(required_null.indices, vec![None, None, None]);
        assert_eq!(required_null.present, vec![true, false, false]);
    }

    #[test]
    fn unusable_schemas_say_why() {
        assert_eq!(
            plan(&schema(&[("price", DataType::Int64)]), &SPECS),
            Err(SchemaError::MissingColumn("zpid"))
        );
        assert!(matches!(
            plan(
                &schema(&[("zpid", DataType::Utf8), ("price", DataType::Boolean)]),
                &SPECS
            ),
            Err(SchemaError::IncompatibleType {
                column: "price",
                ..
            })
        ));
        assert!(matches!(
            plan(
                &schema(&[("zpid", DataType::Utf8), ("Zpid", DataType::Utf8)]),
                &SPECS
            ),
            Err(SchemaError::AmbiguousColumn(_, _))
        ));
    }

    #[test]
    fn text_from_ints_floats_large_and_dictionary_strings() {
        let spec = SPECS[0];
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(123), None]));
        let coerced = coerce(Some(&ints), &spec).expect("ints");
        assert_eq!(
            (coerced.text(0), coerced.text(1)),
            (Cell::Value("123"), Cell::Missing)
        );
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![
            Some(29_420_456.0),
            Some(1.5),
            None,
        ]));
        let coerced = coerce(Some(&floats), &spec).expect("floats");
        assert_eq!(
            (coerced.text(0), coerced.text(1), coerced.text(2)),
            (Cell::Value("29420456"), Cell::Value("1.5"), Cell::Missing)
        );
        let large: ArrayRef = Arc::new(LargeStringArray::from(vec![Some(" 42 "), Some("  ")]));
        let coerced = coerce(Some(&large), &spec).expect("large");
        assert_eq!(
            (coerced.text(0), coerced.text(1)),
            (Cell::Value("42"), Cell::Missing)
        );
        let dictionary: ArrayRef = Arc::new(
            vec!["a", "b", "a"]
                .into_iter()
                .collect::<DictionaryArray<Int32Type>>(),
        );
        let coerced = coerce(Some(&dictionary), &spec).expect("dictionary");
        assert_eq!(coerced.text(2), Cell::Value("a"));
    }

    #[test]
    fn numbers_tell_missing_from_invalid() {
        let spec = SPECS[1];
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("350000"),
            Some("three"),
            None,
            Some("12.5"),
        ]));
        let coerced = coerce(Some(&text), &spec).expect("text");
        assert_eq!(
            (
                coerced.number(0),
                coerced.number(1),
                coerced.number(2),
                coerced.number(3)
            ),
            (
                Cell::Value(350_000.0),
                Cell::Invalid,
                Cell::Missing,
                Cell::Value(12.5)
            )
        );
        let floats: ArrayRef = Arc::new(Float64Array::from(vec![f64::NAN, f64::INFINITY]));
        let coerced = coerce(Some(&floats), &spec).expect("floats");
        assert_eq!(
            (coerced.number(0), coerced.number(1)),
            (Cell::Missing, Cell::Invalid)
        );
        assert_eq!(
            coerce(None, &spec).expect("absent").number(0),
            Cell::Missing
        );
    }

    #[test]
    fn instants_of_any_unit_zone_or_text() {
        let spec = SPECS[2];
        let expected = 1_758_123_000_000_000_i64;
        let naive: ArrayRef = Arc::new(TimestampNanosecondArray::from(vec![expected * 1_000]));
        assert_eq!(
            coerce(Some(&naive), &spec).expect("naive").instant(0),
            Cell::Value(expected)
        );
        let zoned: ArrayRef = Arc::new(
            TimestampNanosecondArray::from(vec![expected * 1_000]).with_timezone("America/Chicago"),
        );
        assert_eq!(
            coerce(Some(&zoned), &spec).expect("zoned").instant(0),
            Cell::Value(expected),
            "the instant is kept"
        );
        let text: ArrayRef = Arc::new(StringArray::from(vec![
            Some("2025-09-17T15:30:00Z"),
            Some("2025-09-17T10:30:00-05:00"),
            Some("yesterday"),
        ]));
        let coerced = coerce(Some(&text), &spec).expect("text");
        assert_eq!(
            (coerced.instant(0), coerced.instant(1), coerced.instant(2)),
            (Cell::Value(expected), Cell::Value(expected), Cell::Invalid)
        );
    }
}
