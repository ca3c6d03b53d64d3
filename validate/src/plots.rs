//! The report's plots as inline SVG, drawn with plotters' SVG backend.
//!
//! Only the SVG backend and line series are compiled in: no bitmap code and
//! no font files. plotters' text then goes out as SVG `<text>` elements laid
//! out with its built-in size estimate, and the browser renders them with its
//! own sans-serif font, so the report needs nothing installed to build or read.

use crate::calibration::Bin;
use crate::metrics::Confusion;
use crate::threshold::Curve;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

type Draw = Result<(), String>;

fn e<E: std::fmt::Display>(err: E) -> String {
    err.to_string()
}

const BLUE_: RGBColor = RGBColor(31, 119, 180);
const ORANGE_: RGBColor = RGBColor(255, 127, 14);
const GREEN_: RGBColor = RGBColor(44, 160, 44);
const GREY: RGBColor = RGBColor(120, 120, 120);

/// Renders into an SVG string; a drawing error becomes a short note instead
/// of a missing report.
fn svg(width: u32, height: u32, draw: impl FnOnce(&DrawingArea<SVGBackend, plotters::coord::Shift>) -> Draw) -> String {
    let mut out = String::new();
    let result = {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        draw(&root).and_then(|_| root.present().map_err(e))
    };
    match result {
        Ok(()) => out,
        Err(err) => format!("<p class=\"error\">plot could not be drawn: {}</p>", crate::html::escape(&err)),
    }
}

/// The end of a segmented range with `k` cells: a segmented usize range
/// includes its end, so 0..k-1 gives k cells; plotters draws no labels on a
/// single-value range, so one cell gets an empty second one.
fn last(k: usize) -> usize {
    if k >= 2 {
        k - 1
    } else {
        1
    }
}

/// The confusion matrix as a heat map: rows are the true labels, columns the
/// proposals; each cell's colour is its share of the row (recall on the
/// diagonal), its text the count.
pub fn confusion(c: &Confusion) -> String {
    let k = c.labels.len().max(1);
    let cell: u32 = if k <= 4 { 70 } else { 34 };
    let (w, h) = (230 + cell * k as u32, 90 + cell * k as u32);
    svg(w, h, |root| {
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .caption("Forvirringsmatrix (række: sand etiket, søjle: forslag nr.)", ("sans-serif", 14))
            .x_label_area_size(24)
            .y_label_area_size(200)
            .build_cartesian_2d((0..last(k)).into_segmented(), (0..last(k)).into_segmented())
            .map_err(e)?;
        let label = |v: &SegmentValue<usize>, numbered: bool| match v {
            // Rows are drawn top-down: row i sits at y = k-1-i.
            SegmentValue::CenterOf(i) if *i < k => {
                let row = if numbered { *i } else { k - 1 - *i };
                if numbered {
                    format!("{}", row + 1)
                } else {
                    format!("{} ({})", c.labels.get(row).map(String::as_str).unwrap_or(""), row + 1)
                }
            }
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(k)
            .y_labels(k)
            .x_label_formatter(&|v| label(v, true))
            .y_label_formatter(&|v| label(v, false))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(e)?;
        let mut cells = Vec::new();
        let mut texts = Vec::new();
        for (i, row) in c.matrix.iter().enumerate() {
            let total: u64 = row.iter().sum();
            for (j, &count) in row.iter().enumerate() {
                let share = if total > 0 { count as f64 / total as f64 } else { 0.0 };
                let shade = |full: u8| (255.0 - (255.0 - full as f64) * share) as u8;
                let color = if i == j {
                    RGBColor(shade(31), shade(119), shade(180))
                } else {
                    RGBColor(shade(214), shade(39), shade(40))
                };
                let y = k - 1 - i;
                cells.push(Rectangle::new(
                    [
                        (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                    ],
                    color.filled(),
                ));
                if count > 0 {
                    let ink = if share > 0.5 { WHITE } else { BLACK };
                    texts.push(Text::new(
                        count.to_string(),
                        (SegmentValue::CenterOf(j), SegmentValue::CenterOf(y)),
                        ("sans-serif", 11).into_font().color(&ink).pos(Pos::new(HPos::Center, VPos::Center)),
                    ));
                }
            }
        }
        chart.draw_series(cells).map_err(e)?;
        chart.draw_series(texts).map_err(e)?;
        Ok(())
    })
}

/// The reliability diagram: observed rate per score bin (bars, with Wilson
/// whiskers at the bin's mean score) against the diagonal of perfect calibration.
pub fn reliability(bins: &[Bin], target: &str) -> String {
    svg(460, 400, |root| {
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption("Kalibrering (reliability diagram)", ("sans-serif", 14))
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc(format!("score ({target})"))
            .y_desc("observeret andel")
            .x_labels(11)
            .y_labels(11)
            .light_line_style(WHITE)
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(e)?;
        chart
            .draw_series(bins.iter().filter(|b| b.n > 0).map(|b| {
                let obs = b.observed.value.unwrap_or(0.0);
                let mut r = Rectangle::new([(b.lower, 0.0), (b.upper, obs)], BLUE_.mix(0.35).filled());
                r.set_margin(0, 0, 2, 2);
                r
            }))
            .map_err(e)?;
        chart
            .draw_series(LineSeries::new(vec![(0.0, 0.0), (1.0, 1.0)], GREY.stroke_width(1)))
            .map_err(e)?
            .label("perfekt kalibreret")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], GREY));
        for b in bins.iter().filter(|b| b.n > 0) {
            let (Some(m), Some(obs), Some([lo, hi])) = (b.mean_score, b.observed.value, b.observed.ci95) else {
                continue;
            };
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(m, lo), (m, hi)], BLUE_.stroke_width(1))))
                .map_err(e)?;
            chart.draw_series(std::iter::once(Circle::new((m, obs), 3, BLUE_.filled()))).map_err(e)?;
        }
        chart
            .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())
            .map_err(e)?
            .label("observeret (95% interval), middel-score i bin")
            .legend(|(x, y)| Circle::new((x + 8, y), 3, BLUE_.filled()));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(e)?;
        Ok(())
    })
}

/// A named, coloured line.
type Series<'a> = (&'a str, RGBColor, Vec<(f64, f64)>);

/// One bar of [`group_bars`]: its name, value and 95% interval.
pub struct Bar {
    pub name: String,
    pub value: Option<f64>,
    pub ci95: Option<[f64; 2]>,
}

/// The threshold curve: routed share and accuracy of the routed (review), or
/// recall, precision and flagged share (flag), against the threshold, with
/// the operating point marked.
pub fn threshold(curve: &Curve, operating: Option<f64>) -> String {
    let series: Vec<Series> = match curve {
        Curve::Review(points) => vec![
            (
                "andel uden manuel visitering",
                BLUE_,
                points.iter().filter_map(|p| Some((p.threshold, p.routed.value?))).collect(),
            ),
            (
                "nøjagtighed af de automatisk visiterede",
                GREEN_,
                points.iter().filter_map(|p| Some((p.threshold, p.accuracy_routed.value?))).collect(),
            ),
        ],
        Curve::Flag(points) => vec![
            (
                "recall (fanget af de positive)",
                GREEN_,
                points.iter().filter_map(|p| Some((p.threshold, p.recall.value?))).collect(),
            ),
            ("præcision", BLUE_, points.iter().filter_map(|p| Some((p.threshold, p.precision.value?))).collect()),
            ("andel markeret", ORANGE_, points.iter().filter_map(|p| Some((p.threshold, p.flagged.value?))).collect()),
        ],
    };
    svg(560, 400, |root| {
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .margin(12)
            .caption("Tærskelkurve", ("sans-serif", 14))
            .x_label_area_size(40)
            .y_label_area_size(50)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_desc("tærskel")
            .y_desc("andel")
            .x_labels(11)
            .y_labels(11)
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(e)?;
        for (name, color, pts) in series {
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(e)?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2)));
        }
        if let Some(t) = operating {
            chart
                .draw_series(std::iter::once(PathElement::new(vec![(t, 0.0), (t, 1.02)], BLACK.stroke_width(1))))
                .map_err(e)?
                .label(format!("komponentens tærskel {t}"))
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], BLACK));
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(GREY)
            .label_font(("sans-serif", 11))
            .draw()
            .map_err(e)?;
        Ok(())
    })
}

/// One metric per group as horizontal bars with Wilson whiskers, and the
/// whole sample's value as a vertical line.
pub fn group_bars(title: &str, bars: &[Bar], overall: Option<f64>) -> String {
    let k = bars.len().max(1);
    let h = 70 + 26 * k as u32;
    svg(560, h, |root| {
        root.fill(&WHITE).map_err(e)?;
        let mut chart = ChartBuilder::on(root)
            .margin(10)
            .caption(title, ("sans-serif", 13))
            .x_label_area_size(24)
            .y_label_area_size(150)
            .build_cartesian_2d(0f64..1f64, (0..last(k)).into_segmented())
            .map_err(e)?;
        let name = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < k => bars.get(k - 1 - *i).map(|b| b.name.clone()).unwrap_or_default(),
            _ => String::new(),
        };
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_labels(11)
            .y_labels(k)
            .y_label_formatter(&name)
            .light_line_style(RGBColor(235, 235, 235))
            .label_style(("sans-serif", 11))
            .draw()
            .map_err(e)?;
        for (i, Bar { value, ci95: ci, .. }) in bars.iter().enumerate() {
            let y = k - 1 - i;
            if let Some(v) = value {
                let mut r = Rectangle::new(
                    [(0.0, SegmentValue::Exact(y)), (*v, SegmentValue::Exact(y + 1))],
                    BLUE_.mix(0.6).filled(),
                );
                r.set_margin(4, 4, 0, 0);
                chart.draw_series(std::iter::once(r)).map_err(e)?;
            }
            if let Some([lo, hi]) = ci {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(*lo, SegmentValue::CenterOf(y)), (*hi, SegmentValue::CenterOf(y))],
                        BLACK.stroke_width(1),
                    )))
                    .map_err(e)?;
            }
        }
        if let Some(o) = overall {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(o, SegmentValue::Exact(0)), (o, SegmentValue::Exact(k))],
                    ORANGE_.stroke_width(2),
                )))
                .map_err(e)?;
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_svg_with_text() {
        let c = Confusion { labels: vec!["a".into(), "b".into()], matrix: vec![vec![3, 1], vec![0, 2]] };
        let s = confusion(&c);
        assert!(s.starts_with("<svg"), "{s}");
        assert!(s.contains("<rect"), "{s}");
        assert!(s.contains("\n3\n"), "the counts are written: {s}");
        assert!(s.contains("\na (1)\n") && s.contains("\nb (2)\n"), "row labels: {s}");
        assert_eq!(s.matches("<text").count(), 1 + 2 + 2 + 3, "caption, 2 row and 2 column labels, 3 counts: {s}");
        let b = group_bars("x", &[Bar { name: "nord".into(), value: Some(0.8), ci95: Some([0.6, 0.9]) }], Some(0.7));
        assert!(b.contains("nord"), "{b}");
    }
}
