//! `resi lab report`: one self-contained HTML page comparing scored decision sets — accuracy per
//! field per algorithm, the calibration curve and the confidence histogram, drawn as inline SVG
//! (plotters), with the figures in tables beside them. No script, font or stylesheet is fetched.

use std::fmt::Write as _;

use plotters::prelude::*;

use crate::score::{SCORED, Scored};

/// A palette that tells up to eight algorithms apart.
const COLOURS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

fn colour(index: usize) -> RGBColor {
    COLOURS[index % COLOURS.len()]
}

/// Draws the chart's legend at `position` on a light box.
fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|error| anyhow::anyhow!("failed to draw a legend: {error}"))
}

fn plot_error<E: std::error::Error + Send + Sync + 'static>(
    error: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow::anyhow!("failed to draw a chart: {error}")
}

/// Accuracy of each scored field, one bar per algorithm.
fn accuracy_chart(sets: &[(String, Scored)]) -> anyhow::Result<String> {
    let lowest = sets
        .iter()
        .flat_map(|(_, scored)| scored.fields.values())
        .filter(|tally| tally.decided > 0)
        .map(|tally| tally.accuracy)
        .fold(1.0_f64, f64::min);
    let floor = ((lowest - 0.02) * 50.0).floor().max(0.0) / 50.0;
    let fields = SCORED.len();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (860, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Accuracy per field", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.5_f64..(fields as f64 - 0.5), floor..1.0_f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(fields)
            .x_label_formatter(&|x| {
                let nearest = x.round();
                if (x - nearest).abs() < 1e-6 && nearest >= 0.0 {
                    // a small, non-negative whole number: an index into the fields
                    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                    let index = nearest as usize;
                    SCORED
                        .get(index)
                        .map_or_else(String::new, |field| (*field).to_owned())
                } else {
                    String::new()
                }
            })
            .y_desc("share of decided fields right")
            .y_label_formatter(&|y| format!("{:.0} %", y * 100.0))
            .draw()
            .map_err(plot_error)?;
        let width = 0.8 / sets.len().max(1) as f64;
        for (index, (name, scored)) in sets.iter().enumerate() {
            let fill = colour(index);
            let bars = SCORED.iter().enumerate().filter_map(|(slot, field)| {
                let tally = scored.fields.get(*field)?;
                let left = slot as f64 - 0.4 + index as f64 * width;
                Some(Rectangle::new(
                    [(left, floor), (left + width * 0.9, tally.accuracy)],
                    fill.filled(),
                ))
            });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// Accuracy against confidence, per algorithm, beside the diagonal of perfect calibration.
fn calibration_chart(sets: &[(String, Scored)]) -> anyhow::Result<String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (430, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Calibration", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(48)
            .build_cartesian_2d(0.0_f64..1.0_f64, 0.0_f64..1.0_f64)
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("confidence")
            .y_desc("accuracy")
            .draw()
            .map_err(plot_error)?;
        chart
            .draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.3)))
            .map_err(plot_error)?;
        for (index, (name, scored)) in sets.iter().enumerate() {
            let points: Vec<(f64, f64)> = scored
                .calibration
                .iter()
                .filter(|bin| bin.tally.decided > 0)
                .map(|bin| ((bin.from + bin.to) / 2.0, bin.tally.accuracy))
                .collect();
            let stroke = colour(index);
            chart
                .draw_series(LineSeries::new(points.clone(), stroke.stroke_width(2)))
                .map_err(plot_error)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], stroke));
            chart
                .draw_series(
                    points
                        .into_iter()
                        .map(|point| Circle::new(point, 3, stroke.filled())),
                )
                .map_err(plot_error)?;
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

/// How many decided fields fall in each confidence bin, per algorithm.
fn histogram_chart(sets: &[(String, Scored)]) -> anyhow::Result<String> {
    let most = sets
        .iter()
        .flat_map(|(_, scored)| scored.calibration.iter())
        .map(|bin| bin.tally.decided)
        .max()
        .unwrap_or(1)
        .max(1);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (430, 380)).into_drawing_area();
        root.fill(&WHITE).map_err(plot_error)?;
        let mut chart = ChartBuilder::on(&root)
            .caption("Confidence of the decided fields", ("sans-serif", 18))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(0.0_f64..1.0_f64, 0.0_f64..(most as f64 * 1.05))
            .map_err(plot_error)?;
        chart
            .configure_mesh()
            .x_desc("confidence")
            .y_desc("decided fields")
            .y_label_formatter(&|y| format!("{y:.0}"))
            .draw()
            .map_err(plot_error)?;
        let width = 0.1 / sets.len().max(1) as f64;
        for (index, (name, scored)) in sets.iter().enumerate() {
            let fill = colour(index);
            let bars = scored.calibration.iter().map(|bin| {
                let left = bin.from + index as f64 * width;
                Rectangle::new(
                    [(left, 0.0), (left + width * 0.9, bin.tally.decided as f64)],
                    fill.filled(),
                )
            });
            chart
                .draw_series(bars)
                .map_err(plot_error)?
                .label(name.as_str())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], fill.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
        root.present().map_err(plot_error)?;
    }
    Ok(svg)
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The page comparing `sets` (name, score), each scored against the same truth.
pub fn html(title: &str, sets: &[(String, Scored)]) -> anyhow::Result<String> {
    let percent = |accuracy: f64| format!("{:.2} %", accuracy * 100.0);
    let mut rows = String::new();
    for (name, scored) in sets {
        let _ = write!(
            rows,
            "<tr><th>{}</th><td>{}</td>",
            escape(name),
            percent(scored.overall.accuracy)
        );
        for field in SCORED {
            let cell = scored
                .fields
                .get(field)
                .map_or_else(String::new, |tally| percent(tally.accuracy));
            let _ = write!(rows, "<td>{cell}</td>");
        }
        for field in ["price", "home_status"] {
            let cell = scored
                .changed
                .get(field)
                .map_or_else(String::new, |tally| percent(tally.accuracy));
            let _ = write!(rows, "<td>{cell}</td>");
        }
        rows.push_str("</tr>\n");
    }
    let header: String = SCORED
        .iter()
        .map(|field| format!("<th>{field}</th>"))
        .collect();
    let mut types = String::new();
    let kinds: std::collections::BTreeSet<&String> = sets
        .iter()
        .flat_map(|(_, scored)| scored.miner_types.keys())
        .collect();
    if !kinds.is_empty() {
        let _ = write!(
            types,
            "<h2>Listings each miner type reported</h2><table><tr><th>algorithm</th>{}</tr>",
            kinds
                .iter()
                .map(|kind| format!("<th>{}</th>", escape(kind)))
                .collect::<String>()
        );
        for (name, scored) in sets {
            let _ = write!(types, "<tr><th>{}</th>", escape(name));
            for kind in &kinds {
                let cell = scored
                    .miner_types
                    .get(*kind)
                    .map_or_else(String::new, |tally| percent(tally.accuracy));
                let _ = write!(types, "<td>{cell}</td>");
            }
            types.push_str("</tr>");
        }
        types.push_str("</table>");
    }
    Ok(format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: right; white-space: nowrap; }}
th:first-child {{ text-align: left; }}
figure {{ display: inline-block; margin: 0 1em 1em 0; }}
</style></head>
<body>
<h1>{title}</h1>
<p>Each decision set scored against the same truth: the share of decided fields that are right.</p>
<table>
<tr><th>algorithm</th><th>all fields</th>{header}<th>changed: price</th><th>changed: status</th></tr>
{rows}</table>
<figure>{accuracy}</figure>
<figure>{calibration}</figure>
<figure>{histogram}</figure>
{types}
</body></html>
"#,
        title = escape(title),
        accuracy = accuracy_chart(sets)?,
        calibration = calibration_chart(sets)?,
        histogram = histogram_chart(sets)?,
    ))
}
