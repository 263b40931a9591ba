//! Inline SVG charts drawn with plotters' SVG backend (no fonts needed: text
//! is left to the browser as `<text>` elements).

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::evidence::{DistributionEvidence, LatencySummary, RejectionEvidence};
use crate::text::pct;

/// One bar: an observed value with optional interval and expected mark.
struct Bar {
    label: String,
    value: f64,
    interval: Option<(f64, f64)>,
    expected: Option<f64>,
}

const OBSERVED: RGBColor = RGBColor(70, 120, 190);
const EXPECTED: RGBColor = RGBColor(200, 40, 40);

/// Observed against expected shares per backend, Wilson intervals as error bars.
pub fn distribution_chart(d: &DistributionEvidence, title: &str) -> Result<String, String> {
    let bars: Vec<Bar> = d
        .backends
        .iter()
        .map(|b| Bar {
            label: format!("{} (w={})", b.name, b.weight),
            value: b.share,
            interval: Some((b.wilson.lo, b.wilson.hi)),
            expected: Some(b.expected_share),
        })
        .collect();
    share_chart("chart distribution", title, &bars)
}

/// Rejected and served shares against the expected split.
pub fn rejection_chart(r: &RejectionEvidence, title: &str) -> Result<String, String> {
    let observed = r.share;
    let bars = [
        Bar {
            label: "rejected".to_owned(),
            value: observed,
            interval: Some((r.wilson.lo, r.wilson.hi)),
            expected: Some(r.expected_share),
        },
        Bar {
            label: "served".to_owned(),
            value: 1.0 - observed,
            interval: Some((1.0 - r.wilson.hi, 1.0 - r.wilson.lo)),
            expected: Some(1.0 - r.expected_share),
        },
    ];
    share_chart("chart distribution rejection", title, &bars)
}

/// Latency histogram: samples per bucket.
pub fn latency_chart(l: &LatencySummary, title: &str) -> Result<String, String> {
    let bars: Vec<Bar> = l
        .buckets
        .iter()
        .map(|b| Bar {
            label: format!("≤{}", micros(b.le_us)),
            value: b.count as f64,
            interval: None,
            expected: None,
        })
        .collect();
    draw("chart latency", title, &bars, false)
}

fn micros(us: u64) -> String {
    if us >= 1_000_000 {
        format!("{}s", us as f64 / 1e6)
    } else if us >= 1000 {
        format!("{}ms", us as f64 / 1e3)
    } else {
        format!("{us}µs")
    }
}

fn share_chart(class: &str, title: &str, bars: &[Bar]) -> Result<String, String> {
    draw(class, title, bars, true)
}

const LEGEND_WIDTH: u32 = 150;

fn draw(class: &str, title: &str, bars: &[Bar], shares: bool) -> Result<String, String> {
    let n = bars.len().max(1);
    let width = (110 * n as u32 + 110 + LEGEND_WIDTH).max(560);
    let height = 300;
    let top = bars
        .iter()
        .flat_map(|b| {
            [
                b.value,
                b.interval.map_or(0.0, |i| i.1),
                b.expected.unwrap_or(0.0),
            ]
        })
        .fold(0.0_f64, f64::max);
    // Headroom for the value labels above the bars.
    let y_max = if shares {
        (top * 1.15 + 0.04).clamp(0.05, 1.08)
    } else {
        (top * 1.2).max(1.0)
    };
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (width, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let (plot_area, legend_area) = root.split_horizontally(width - LEGEND_WIDTH);
        let mut chart = ChartBuilder::on(&plot_area)
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(56)
            .build_cartesian_2d(0f64..n as f64, 0f64..y_max)
            .map_err(|e| e.to_string())?;
        let y_fmt = |v: &f64| {
            if shares {
                format!("{:.0}%", v * 100.0)
            } else {
                format!("{v:.0}")
            }
        };
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(0)
            .x_label_formatter(&|_| String::new())
            .y_labels(6)
            .label_style(("sans-serif", 15))
            .y_label_formatter(&y_fmt)
            .y_desc(if shares { "share" } else { "samples" })
            .draw()
            .map_err(|e| e.to_string())?;
        let observed_style = OBSERVED.mix(0.75).filled();
        chart
            .draw_series(bars.iter().enumerate().map(|(i, b)| {
                let x = i as f64;
                Rectangle::new([(x + 0.2, 0.0), (x + 0.8, b.value)], observed_style)
            }))
            .map_err(|e| e.to_string())?;
        let whisker = BLACK.stroke_width(2);
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                let (lo, hi) = b.interval?;
                let x = i as f64 + 0.5;
                Some(PathElement::new(
                    vec![
                        (x - 0.07, lo),
                        (x + 0.07, lo),
                        (x, lo),
                        (x, hi),
                        (x - 0.07, hi),
                        (x + 0.07, hi),
                    ],
                    whisker,
                ))
            }))
            .map_err(|e| e.to_string())?;
        let mark = EXPECTED.stroke_width(3);
        chart
            .draw_series(bars.iter().enumerate().filter_map(|(i, b)| {
                let e = b.expected?;
                let x = i as f64;
                Some(PathElement::new(vec![(x + 0.1, e), (x + 0.9, e)], mark))
            }))
            .map_err(|e| e.to_string())?;
        // Category labels under each bar, and the observed value above it
        // (and above its interval), drawn on the root area so they are not
        // clipped to the plot.
        let below =
            TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
        let above = TextStyle::from(("sans-serif", 14).into_font())
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        for (i, b) in bars.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
            root.draw(&Text::new(b.label.clone(), (px, py + 6), below.clone()))
                .map_err(|e| e.to_string())?;
            let value = if shares {
                pct(b.value)
            } else {
                format!("{}", b.value)
            };
            let label_at = b.interval.map_or(b.value, |(_, hi)| hi.max(b.value));
            let (vx, vy) = chart.backend_coord(&(i as f64 + 0.5, label_at));
            root.draw(&Text::new(value, (vx, vy - 4), above.clone()))
                .map_err(|e| e.to_string())?;
        }
        legend(&legend_area, bars, observed_style, whisker, mark).map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(tag_svg(&svg, class, title))
}

/// The key, drawn beside the plot so it never covers a bar.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, plotters::coord::Shift>,
    bars: &[Bar],
    observed: ShapeStyle,
    whisker: ShapeStyle,
    mark: ShapeStyle,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let font =
        TextStyle::from(("sans-serif", 15).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let mut y = 24;
    area.draw(&Rectangle::new([(4, y - 6), (20, y + 6)], observed))?;
    area.draw(&Text::new("observed", (28, y), font.clone()))?;
    if bars.iter().any(|b| b.interval.is_some()) {
        y += 24;
        area.draw(&PathElement::new(
            vec![
                (8, y - 7),
                (16, y - 7),
                (12, y - 7),
                (12, y + 7),
                (8, y + 7),
                (16, y + 7),
            ],
            whisker,
        ))?;
        area.draw(&Text::new("Wilson interval", (28, y), font.clone()))?;
    }
    if bars.iter().any(|b| b.expected.is_some()) {
        y += 24;
        area.draw(&PathElement::new(vec![(4, y), (20, y)], mark))?;
        area.draw(&Text::new("expected", (28, y), font))?;
    }
    Ok(())
}

/// Adds the class and an accessible label to the root `<svg>` element, and
/// makes it scale down on narrow screens.
fn tag_svg(svg: &str, class: &str, title: &str) -> String {
    let label = maud::html! { (title) }.into_string().replace('"', "&quot;");
    svg.replacen(
        "<svg ",
        &format!("<svg class=\"{class}\" role=\"img\" aria-label=\"{label}\" "),
        1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evidence::{BackendShare, Interval};

    #[test]
    fn a_distribution_chart_is_an_svg_with_a_bar_mark_and_label_per_backend() {
        let d = DistributionEvidence {
            alpha: 0.001,
            power: 0.99,
            n: 100,
            backends: ["a", "b"]
                .iter()
                .map(|name| BackendShare {
                    name: (*name).to_owned(),
                    weight: 1,
                    expected_share: 0.5,
                    expected_count: 50.0,
                    observed: 50,
                    share: 0.5,
                    wilson: Interval { lo: 0.4, hi: 0.6 },
                })
                .collect(),
            effect: 0.05,
            unexpected: vec![],
            zero_weight_reasons: vec![],
            tolerance: None,
            notes: vec![],
            chi_squared: Some(0.0),
            df: 1,
            p_value: Some(1.0),
            detectable_effect: Some(0.1),
            passed: true,
            reasons: vec![],
        };
        let svg = distribution_chart(&d, "T <step 1>").unwrap();
        assert!(
            svg.starts_with("<svg class=\"chart distribution\""),
            "{svg}"
        );
        assert!(svg.contains("aria-label=\"T &lt;step 1&gt;\""));
        assert!(svg.contains("a (w=1)") && svg.contains("b (w=1)"));
        assert!(svg.contains("expected") && svg.contains("Wilson interval"));
    }
}
