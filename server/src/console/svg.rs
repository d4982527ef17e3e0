//! Pictures drawn on the server as SVG (no script, no tiles, no inline styles: colours come from
//! classes in console.css, so the CSP needs no `unsafe-inline`): the risk-level chart, the
//! communes' choropleth and an enrollment code's QR code.

use std::fmt::Write;

use maud::{Markup, PreEscaped, html};

use super::data::{CommuneSummary, LEVELS, Polygons, Series};
use super::i18n::Lang;

/// Stacked bars: one per month, one segment per risk level (urgent on top).
pub fn risk_chart(series: &Series, lang: Lang) -> Markup {
    const W: f64 = 720.0;
    const H: f64 = 260.0;
    const LEFT: f64 = 44.0;
    const TOP: f64 = 12.0;
    const BOTTOM: f64 = 226.0;
    let n = series.months.len().max(1) as f64;
    let max = series.counts.iter().map(|c| c.iter().sum::<i64>()).max().unwrap_or(0);
    let step = nice_step(max);
    let top_value = (max.max(1) + step - 1) / step * step;
    let scale = (BOTTOM - TOP) / top_value as f64;
    let slot = (W - LEFT - 8.0) / n;
    let bar = slot * 0.7;
    let ticks: Vec<i64> = (0..=top_value / step).map(|i| i * step).collect();
    html! {
        svg.chart viewBox=(format!("0 0 {W} {H}")) role="img" aria-label=(lang.t().chart_title) {
            @for v in &ticks {
                @let y = BOTTOM - *v as f64 * scale;
                line.grid x1=(LEFT) x2=(W - 8.0) y1=(fmt1(y)) y2=(fmt1(y)) {}
                text.axis x=(LEFT - 6.0) y=(fmt1(y + 4.0)) text-anchor="end" { (v) }
            }
            @for (i, ((_, label), counts)) in series.months.iter().zip(&series.counts).enumerate() {
                @let x = LEFT + i as f64 * slot + (slot - bar) / 2.0;
                @for (level, y, h) in stack(counts, BOTTOM, scale) {
                    rect class=(format!("lv-{}", LEVELS[level])) x=(fmt1(x)) y=(fmt1(y)) width=(fmt1(bar)) height=(fmt1(h)) {
                        title { (label) " · " (lang.level(LEVELS[level])) ": " (counts[level]) }
                    }
                }
                text.axis.minor[(series.months.len() - 1 - i) % 2 == 1] x=(fmt1(x + bar / 2.0)) y=(fmt1(BOTTOM + 16.0)) text-anchor="middle" {
                    (label.get(5..7).unwrap_or("")) "/" (label.get(2..4).unwrap_or(""))
                }
            }
            line.axis-line x1=(LEFT) x2=(W - 8.0) y1=(BOTTOM) y2=(BOTTOM) {}
        }
        ul.legend {
            @for level in LEVELS {
                li { span class=(format!("swatch lv-{level}")) {} (lang.level(level)) }
            }
        }
    }
}

/// A bar's segments, bottom up (no level first, urgent last): (level, top y, height).
fn stack(counts: &[i64; 5], bottom: f64, scale: f64) -> Vec<(usize, f64, f64)> {
    let mut y = bottom;
    let mut out = Vec::new();
    for level in (0..LEVELS.len()).rev() {
        if counts[level] > 0 {
            let h = counts[level] as f64 * scale;
            y -= h;
            out.push((level, y, h));
        }
    }
    out
}

/// A round step for the chart's axis: about five ticks.
fn nice_step(max: i64) -> i64 {
    let raw = (max.max(1) as f64 / 5.0).max(1.0);
    let magnitude = 10f64.powf(raw.log10().floor());
    let step =
        [1.0, 2.0, 5.0, 10.0].iter().map(|m| m * magnitude).find(|s| *s >= raw).unwrap_or(raw);
    step.max(1.0) as i64
}

fn fmt1(v: f64) -> String {
    format!("{v:.1}")
}

/// The colour class of a commune for its count of urgent and high cases.
pub fn bucket(count: i64) -> &'static str {
    match count {
        0 => "m0",
        1..=2 => "m1",
        3..=9 => "m2",
        _ => "m3",
    }
}

/// The bucket labels of the map's legend.
pub const BUCKETS: [(&str, &str); 4] = [("m0", "0"), ("m1", "1–2"), ("m2", "3–9"), ("m3", "≥ 10")];

/// The communes as a choropleth: an equirectangular projection (longitude scaled by the cosine
/// of the middle latitude) fitted to the box of the communes drawn. Each commune links to its
/// page and names itself and its count in a tooltip.
pub fn choropleth(
    shapes: &[(String, Polygons)],
    summaries: &[CommuneSummary],
    lang: Lang,
) -> Markup {
    let mut bbox = [f64::INFINITY, f64::INFINITY, f64::NEG_INFINITY, f64::NEG_INFINITY];
    for (_, polygons) in shapes {
        for p in polygons.iter().flatten().flatten() {
            bbox = [bbox[0].min(p[0]), bbox[1].min(p[1]), bbox[2].max(p[0]), bbox[3].max(p[1])];
        }
    }
    if shapes.is_empty() || !bbox.iter().all(|v| v.is_finite()) {
        return html! { p.note { (lang.t().map_none) } };
    }
    let kx = ((bbox[1] + bbox[3]) / 2.0).to_radians().cos();
    let (w_deg, h_deg) = (((bbox[2] - bbox[0]) * kx).max(1e-9), (bbox[3] - bbox[1]).max(1e-9));
    const W: f64 = 600.0;
    const PAD: f64 = 6.0;
    let scale = (W - 2.0 * PAD) / w_deg;
    let h = (h_deg * scale + 2.0 * PAD).clamp(120.0, 900.0);
    let scale = scale.min((h - 2.0 * PAD) / h_deg);
    let project = |p: &[f64; 2]| -> (f64, f64) {
        (PAD + (p[0] - bbox[0]) * kx * scale, PAD + (bbox[3] - p[1]) * scale)
    };
    let count_of = |code: &str| summaries.iter().find(|s| s.commune == code);
    html! {
        svg.map viewBox=(format!("0 0 {W} {}", fmt1(h))) role="img" aria-label=(lang.t().map_title) {
            @for (code, polygons) in shapes {
                @let summary = count_of(code);
                @let count = summary.map_or(0, |s| s.urgent_high_recent);
                @let name = summary.and_then(|s| s.name.clone()).unwrap_or_else(|| code.clone());
                a href=(format!("/console/communes/{code}")) {
                    path class=(format!("commune {}", bucket(count))) fill-rule="evenodd" d=(path_data(polygons, &project)) {
                        title { (name) " (" (code) "): " (count) }
                    }
                }
            }
        }
        ul.legend {
            li { (lang.t().map_legend) ":" }
            @for (class, label) in BUCKETS {
                li { span class=(format!("swatch {class}")) {} (label) }
            }
        }
    }
}

/// A path at the map's resolution: whole units of the 600-wide view box, and a position that
/// rounds to the previous one left out (a detailed boundary shrinks to what can be seen).
fn path_data(polygons: &Polygons, project: &dyn Fn(&[f64; 2]) -> (f64, f64)) -> String {
    let mut d = String::new();
    for ring in polygons.iter().flatten() {
        let mut last = None;
        for p in ring {
            let (x, y) = project(p);
            let here = (x.round() as i64, y.round() as i64);
            if last == Some(here) {
                continue;
            }
            let _ = write!(d, "{}{} {}", if last.is_none() { "M" } else { "L" }, here.0, here.1);
            last = Some(here);
        }
        d.push('Z');
    }
    d
}

/// An enrollment code as an SVG QR code (what the phone's scanner reads: the code's text).
pub fn qr(code: &str) -> Markup {
    use qrcode::render::svg;
    match qrcode::QrCode::new(code.as_bytes()) {
        Ok(qr) => {
            let text = qr
                .render::<svg::Color<'_>>()
                .min_dimensions(220, 220)
                .dark_color(svg::Color("#000000"))
                .light_color(svg::Color("#ffffff"))
                .quiet_zone(true)
                .build();
            // The renderer's output, minus its XML declaration; it holds only the path of the
            // modules computed from the code (no text of ours).
            let start = text.find("<svg").unwrap_or(0);
            PreEscaped(text[start..].to_string())
        }
        Err(_) => html! {},
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn map_paths_keep_only_the_positions_that_can_be_seen() {
        let ring: Vec<[f64; 2]> = vec![[0.0, 0.0], [0.1, 0.2], [3.0, 0.0], [3.2, 4.0], [0.0, 0.0]];
        let d = path_data(&vec![vec![ring]], &|p: &[f64; 2]| (p[0], p[1]));
        assert_eq!(d, "M0 0L3 0L3 4L0 0Z");
    }

    #[test]
    fn axis_steps_are_round() {
        assert_eq!(nice_step(0), 1);
        assert_eq!(nice_step(7), 2);
        assert_eq!(nice_step(48), 10);
        assert_eq!(nice_step(12_000), 5000);
    }

    #[test]
    fn the_qr_code_is_svg_without_inline_style() {
        let svg = qr("7KQ4-M9TX-2HPA").into_string();
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(!svg.contains("style"), "{svg}");
    }
}
