//! Readable terminal tables for the lab's results (`--json` prints the structures instead).

use std::fmt::Write as _;

use crate::diff::Diffed;
use crate::run::Ran;
use crate::score::{Scored, Tally};

/// Columns padded to their widest cell; the first column left-aligned, the others right.
#[must_use]
pub fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|cell| cell.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate() {
            if let Some(width) = widths.get_mut(index) {
                *width = (*width).max(cell.chars().count());
            }
        }
    }
    let mut text = String::new();
    let line = |cells: Vec<&str>, text: &mut String| {
        let padded: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(index, cell)| {
                let width = widths.get(index).copied().unwrap_or_default();
                if index == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        let _ = writeln!(text, "{}", padded.join("  ").trim_end());
    };
    line(header.to_vec(), &mut text);
    line(
        widths
            .iter()
            .map(|width| "-".repeat(*width))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect(),
        &mut text,
    );
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut text);
    }
    text
}

fn tally_row(name: &str, tally: &Tally) -> Vec<String> {
    vec![
        name.to_owned(),
        tally.decided.to_string(),
        tally.right.to_string(),
        format!("{:.2} %", tally.accuracy * 100.0),
    ]
}

/// A run's summary.
#[must_use]
pub fn ran(ran: &Ran) -> String {
    let params: Vec<String> = ran
        .params
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect();
    format!(
        "{} {}: {} attestations, {} listings decided ({} fields) in {:.2} s ({:.0} listings/s; reading {:.2} s)\n",
        ran.algorithm,
        if params.is_empty() {
            "(no parameters)".to_owned()
        } else {
            params.join(" ")
        },
        ran.attestations,
        ran.listings,
        ran.decisions,
        ran.decide_seconds,
        ran.listings_per_second,
        ran.read_seconds
    )
}

/// A score as tables: per field, changed listings, miner types, calibration.
#[must_use]
pub fn scored(scored: &Scored) -> String {
    let header = ["field", "decided", "right", "accuracy"];
    let mut rows: Vec<Vec<String>> = scored
        .fields
        .iter()
        .map(|(field, tally)| tally_row(field, tally))
        .collect();
    rows.push(tally_row("all", &scored.overall));
    let mut text = format!(
        "{} of {} true listings decided\n\n{}",
        scored.decided_listings,
        scored.truth_listings,
        render(&header, &rows)
    );
    let changed: Vec<Vec<String>> = scored
        .changed
        .iter()
        .map(|(field, tally)| tally_row(field, tally))
        .collect();
    let _ = write!(
        text,
        "\nlistings that changed\n{}",
        render(&header, &changed)
    );
    if !scored.miner_types.is_empty() {
        let types: Vec<Vec<String>> = scored
            .miner_types
            .iter()
            .map(|(kind, tally)| tally_row(kind, tally))
            .collect();
        let _ = write!(
            text,
            "\nlistings reported by each miner type\n{}",
            render(&["miner type", "decided", "right", "accuracy"], &types)
        );
    }
    let bins: Vec<Vec<String>> = scored
        .calibration
        .iter()
        .filter(|bin| bin.tally.decided > 0)
        .map(|bin| tally_row(&format!("{:.1}–{:.1}", bin.from, bin.to), &bin.tally))
        .collect();
    let _ = write!(
        text,
        "\ncalibration (confidence → accuracy)\n{}",
        render(&["confidence", "decided", "right", "accuracy"], &bins)
    );
    text
}

/// A diff as tables.
#[must_use]
pub fn diffed(diffed: &Diffed) -> String {
    let rows: Vec<Vec<String>> = diffed
        .fields
        .iter()
        .map(|(field, diff)| {
            vec![
                field.clone(),
                diff.changed.to_string(),
                diff.only_a.to_string(),
                diff.only_b.to_string(),
                diff.mean_relative_change
                    .map_or_else(String::new, |change| format!("{:.2} %", change * 100.0)),
            ]
        })
        .collect();
    let mut text = format!(
        "A decides {} listings, B {}; {} listings differ\n\n{}",
        diffed.listings_a,
        diffed.listings_b,
        diffed.changed_listings.len(),
        render(
            &["field", "changed", "only A", "only B", "mean change"],
            &rows
        )
    );
    let show = |value: &Option<(String, f64)>| {
        value.as_ref().map_or_else(
            || "–".to_owned(),
            |(value, confidence)| format!("{value} ({confidence:.2})"),
        )
    };
    let examples: Vec<Vec<String>> = diffed
        .examples
        .iter()
        .map(|example| {
            vec![
                example.listing_id.clone(),
                example.field.clone(),
                show(&example.a),
                show(&example.b),
            ]
        })
        .collect();
    if !examples.is_empty() {
        let _ = write!(
            text,
            "\nexamples\n{}",
            render(&["listing", "field", "A", "B"], &examples)
        );
    }
    if !diffed.movers.is_empty() {
        let movers: Vec<Vec<String>> = diffed
            .movers
            .iter()
            .map(|mover| {
                vec![
                    mover.miner_hotkey.clone(),
                    format!("{:.2} %", mover.agreement_a * 100.0),
                    format!("{:.2} %", mover.agreement_b * 100.0),
                ]
            })
            .collect();
        let _ = write!(
            text,
            "\nminers whose agreement moves most\n{}",
            render(&["miner", "agreement A", "agreement B"], &movers)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn columns_line_up() {
        let text = super::render(
            &["field", "n"],
            &[
                vec!["price".into(), "7".into()],
                vec!["home_status".into(), "12".into()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "field         n");
        assert_eq!(lines[1], "-----------  --");
        assert_eq!(lines[2], "price         7");
        assert_eq!(lines[3], "home_status  12");
    }
}
