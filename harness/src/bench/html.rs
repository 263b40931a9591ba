//! `bench.html`: one self-contained page (inline CSS and SVG): the ratio
//! table, the split, and the latency histograms of both paths.

use std::fmt::Write as _;

use super::report::{BenchReport, Latency};

/// Escapes text for HTML.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The whole page.
pub fn page(r: &BenchReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>gwl4 bench: {label}</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child{{text-align:left}}\
         .ceil{{color:#a60}}</style></head><body><h1>gwl4 bench: {label} vs direct</h1>",
        label = esc(&r.label)
    );
    if r.short {
        out.push_str("<p><b>Short mode</b>: a smoke test, the numbers are not meaningful.</p>");
    }
    if let Some(load) = &r.load_average {
        let _ = write!(out, "<p>Load average at the end: {}</p>", esc(load));
    }
    out.push_str("<table><tr><th>metric</th><th>direct</th><th>gateway</th><th>ratio</th><th>median of</th></tr>");
    for m in &r.ratios {
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{:.1}</td><td>{:.1}</td><td>{:.3}{}</td><td>{}</td></tr>",
            esc(&m.metric),
            m.direct,
            m.gateway,
            m.ratio,
            if m.at_ceiling {
                " <span class=\"ceil\" title=\"within 10% of the direct path, the generator's ceiling\">(ceiling)</span>"
            } else {
                ""
            },
            esc(&m.spread().unwrap_or_default())
        );
    }
    out.push_str("</table>");
    if let Some(split) = &r.split {
        let v = &split.verdict;
        let _ = write!(
            out,
            "<h2>TCP split ({} connections)</h2><table><tr><th>backend</th><th>weight</th><th>observed</th><th>share</th><th>expected</th><th>Wilson interval</th></tr>",
            v.n
        );
        for b in &v.backends {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}%</td><td>{:.2}%</td><td>{:.2}%–{:.2}%</td></tr>",
                esc(&b.name),
                b.weight,
                b.observed,
                b.share * 100.0,
                b.expected_share * 100.0,
                b.wilson.lo * 100.0,
                b.wilson.hi * 100.0
            );
        }
        let _ = write!(
            out,
            "</table><p>chi-squared p = {}: <b>{}</b> {}</p>",
            v.p_value
                .map_or_else(|| "n/a".into(), |p| format!("{p:.4}")),
            if v.passed {
                "consistent with the weights"
            } else {
                "not consistent with the weights"
            },
            esc(&v.reasons.join("; "))
        );
    }
    for (title, d, g) in [
        (
            "TCP echo latency",
            &r.direct.tcp_latency,
            &r.gateway.tcp_latency,
        ),
        (
            "UDP echo latency",
            &r.direct.udp_latency,
            &r.gateway.udp_latency,
        ),
    ] {
        if let (Some(d), Some(g)) = (d, g) {
            let _ = write!(out, "<h2>{title}</h2>{}", histograms(d, g));
        }
    }
    out.push_str("</body></html>\n");
    out
}

/// Both paths' histograms as bars on a shared log-spaced axis.
fn histograms(direct: &Latency, gateway: &Latency) -> String {
    let mut edges: Vec<f64> = direct
        .buckets
        .iter()
        .chain(&gateway.buckets)
        .map(|b| b.le_us)
        .collect();
    edges.sort_by(f64::total_cmp);
    edges.dedup();
    let count = |l: &Latency, le: f64| {
        l.buckets
            .iter()
            .find(|b| b.le_us == le)
            .map_or(0.0, |b| b.count as f64 / l.samples.max(1) as f64)
    };
    let top = edges
        .iter()
        .flat_map(|&e| [count(direct, e), count(gateway, e)])
        .fold(0.0f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let (w, h, bar) = (14.0, 160.0, 6.0);
    let width = edges.len() as f64 * w + 20.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{}\">",
        h + 60.0
    );
    for (i, &e) in edges.iter().enumerate() {
        let x = 10.0 + i as f64 * w;
        for (dx, share, color) in [
            (0.0, count(direct, e), "#888"),
            (bar, count(gateway, e), "#36c"),
        ] {
            let bh = share / top * h;
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{bar}\" height=\"{bh:.1}\" fill=\"{color}\"><title>≤{e:.1} µs: {:.2}%</title></rect>",
                x + dx,
                h - bh,
                share * 100.0
            );
        }
        if i % 4 == 0 {
            let _ = write!(
                svg,
                "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"10\" transform=\"rotate(45 {x:.1} {:.1})\">{e:.0}µs</text>",
                h + 12.0,
                h + 12.0
            );
        }
    }
    svg.push_str("</svg>");
    format!(
        "{svg}<p><span style=\"color:#888\">■</span> direct (p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs) \
         <span style=\"color:#36c\">■</span> gateway (p50 {:.1} µs, p99 {:.1} µs, p99.9 {:.1} µs)</p>",
        direct.p50_us,
        direct.p99_us,
        direct.p999_us,
        gateway.p50_us,
        gateway.p99_us,
        gateway.p999_us
    )
}
