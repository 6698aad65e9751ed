//! Small self-contained SVG charts for the HTML reports: line charts with
//! ticked, labelled axes (linear, or the percentile axis of an HDR latency
//! curve) and horizontal bar charts. No scripts and no network assets; each
//! line chart carries its data as JSON so the page's script can show the
//! values under the pointer.

use crate::num::Cast as _;
use std::fmt::Write as _;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub color: &'static str,
    pub points: Vec<(f64, f64)>,
}

/// How the x axis is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum XAxis {
    /// Plain numbers, e.g. seconds since the start.
    Linear,
    /// Percentiles: x is `1 / (1 - q)` drawn on a log scale, ticked at 0%,
    /// 90%, 99%, 99.9%... as HDR histogram plots are.
    Percentile,
}

/// A line chart.
#[derive(Debug, Clone)]
pub struct LineChart {
    pub id: String,
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub x_axis: XAxis,
    pub series: Vec<Series>,
}

/// A colour per series, in order.
pub const PALETTE: [&str; 8] = [
    "#1f77b4", "#2ca02c", "#d62728", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
];

const W: f64 = 760.0;
const H: f64 = 300.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 50.0;
/// Points per series kept (a long soak has thousands of seconds).
const MAX_POINTS: usize = 800;

/// Escapes text for HTML and SVG.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Round tick positions covering `lo..=hi`: steps of 1, 2 or 5 times a
/// power of ten, about `want` of them.
pub fn nice_ticks(lo: f64, hi: f64, want: usize) -> Vec<f64> {
    let (lo, hi) = if hi > lo { (lo, hi) } else { (lo, lo + 1.0) };
    let raw = (hi - lo) / want.max(1).to_f64();
    let power = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * power)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * power);
    let first = (lo / step).floor();
    let last = (hi / step - 1e-9).ceil();
    (first.sat_i64()..=last.sat_i64()).map(|i| i.to_f64() * step).collect()
}

/// A tick label: integers plainly, thousands as `12k`, millions as `3.5M`.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        trim(format!("{:.1}", v / 1e6)) + "M"
    } else if a >= 1e4 {
        trim(format!("{:.1}", v / 1e3)) + "k"
    } else if a >= 100.0 || (v.fract() == 0.0) {
        format!("{v:.0}")
    } else if a >= 1.0 {
        trim(format!("{v:.1}"))
    } else {
        trim(format!("{v:.3}"))
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// Keeps at most `MAX_POINTS` points, each the largest y of its stretch so
/// that spikes survive.
fn decimate(points: &[(f64, f64)]) -> Vec<(f64, f64)> {
    if points.len() <= MAX_POINTS {
        return points.to_vec();
    }
    let per = points.len().div_ceil(MAX_POINTS);
    points
        .chunks(per)
        .map(|c| {
            c.iter().copied().fold(
                (c[0].0, f64::MIN),
                |(x, y), p| if p.1 > y { (p.0, p.1) } else { (x, y) },
            )
        })
        .collect()
}

/// The percentile axis position of quantile `q` (0..1).
pub fn percentile_x(q: f64) -> f64 {
    (1.0 / (1.0 - q.min(0.999_999))).log10()
}

fn percentile_tick_label(x: f64) -> String {
    let q = 1.0 - 10f64.powf(-x);
    let pct = q * 100.0;
    trim(format!("{pct:.4}")) + "%"
}

impl LineChart {
    /// The chart as an SVG element.
    pub fn render(&self) -> String {
        let series: Vec<Series> = self
            .series
            .iter()
            .map(|s| Series {
                points: decimate(&s.points),
                ..s.clone()
            })
            .collect();
        let all = || series.iter().flat_map(|s| s.points.iter());
        let (x_lo, x_hi) = match self.x_axis {
            XAxis::Percentile => (0.0, all().map(|p| p.0).fold(2.0, f64::max).ceil()),
            XAxis::Linear => {
                let lo = all().map(|p| p.0).fold(f64::INFINITY, f64::min);
                let hi = all().map(|p| p.0).fold(f64::NEG_INFINITY, f64::max);
                if lo.is_finite() {
                    (lo.min(0.0), hi.max(lo + 1.0))
                } else {
                    (0.0, 1.0)
                }
            }
        };
        let y_hi = all().map(|p| p.1).fold(0.0, f64::max);
        let y_ticks = nice_ticks(0.0, if y_hi > 0.0 { y_hi } else { 1.0 }, 5);
        let y_top = *y_ticks.last().unwrap_or(&1.0);
        let x_ticks: Vec<f64> = match self.x_axis {
            XAxis::Linear => nice_ticks(x_lo, x_hi, 8),
            XAxis::Percentile => (0..=x_hi.sat_usize()).map(|i| i.to_f64()).collect(),
        };
        let x_top = x_ticks.last().copied().unwrap_or(x_hi).max(x_hi);
        let plot_w = W - LEFT - RIGHT;
        // The legend runs after the title and wraps onto rows of its own.
        let mut legend = Vec::new();
        let (mut lx, mut ly) = (LEFT + 18.0 + 8.5 * self.title.chars().count().to_f64(), 18.0);
        for s in &series {
            let wide = 22.0 + 7.0 * s.name.chars().count().to_f64();
            if lx + wide > W - RIGHT && lx > LEFT {
                lx = LEFT;
                ly += 16.0;
            }
            legend.push((lx, ly));
            lx += wide;
        }
        let extra = ly - 18.0;
        let (top, h) = (TOP + extra, H + extra);
        let plot_h = h - top - BOTTOM;
        let px = |x: f64| LEFT + plot_w * (x - x_lo) / (x_top - x_lo).max(1e-12);
        let py = |y: f64| top + plot_h * (1.0 - y / y_top.max(1e-12));
        let mut svg = String::new();
        let data: Vec<serde_json::Value> = series
            .iter()
            .map(|s| serde_json::json!({"name": s.name, "color": s.color, "points": s.points}))
            .collect();
        let _ = write!(
            svg,
            r#"<figure class="chart"><svg id="{id}" class="line-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{title}" data-x-axis="{axis}" data-x0="{x_lo}" data-x1="{x_top}" data-y1="{y_top}" data-left="{LEFT}" data-top="{top}" data-w="{plot_w}" data-h="{plot_h}" data-unit="{unit}" data-series="{data}">"#,
            id = escape(&self.id),
            title = escape(&self.title),
            axis = if self.x_axis == XAxis::Percentile {
                "percentile"
            } else {
                "linear"
            },
            unit = escape(&self.y_label),
            data = escape(&serde_json::Value::Array(data).to_string()),
        );
        let _ = write!(
            svg,
            r#"<text x="{LEFT}" y="18" class="title">{}</text>"#,
            escape(&self.title)
        );
        for t in &y_ticks {
            let y = py(*t);
            let _ = write!(
                svg,
                r#"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" class="grid"/><text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text>"#,
                W - RIGHT,
                LEFT - 6.0,
                y + 4.0,
                tick_label(*t)
            );
        }
        for t in &x_ticks {
            let x = px(*t);
            let label = match self.x_axis {
                XAxis::Linear => tick_label(*t),
                XAxis::Percentile => percentile_tick_label(*t),
            };
            let _ = write!(
                svg,
                r#"<line x1="{x:.1}" y1="{top}" x2="{x:.1}" y2="{:.1}" class="grid"/><text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
                top + plot_h + 5.0,
                top + plot_h + 18.0,
                escape(&label)
            );
        }
        let _ = write!(
            svg,
            r#"<line x1="{LEFT}" y1="{b:.1}" x2="{r:.1}" y2="{b:.1}" class="axis"/><line x1="{LEFT}" y1="{top}" x2="{LEFT}" y2="{b:.1}" class="axis"/>"#,
            b = top + plot_h,
            r = W - RIGHT
        );
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="label" text-anchor="middle">{}</text><text x="14" y="{:.1}" class="label" text-anchor="middle" transform="rotate(-90 14 {:.1})">{}</text>"#,
            LEFT + plot_w / 2.0,
            h - 8.0,
            escape(&self.x_label),
            top + plot_h / 2.0,
            top + plot_h / 2.0,
            escape(&self.y_label)
        );
        for s in &series {
            let coords: Vec<String> = s
                .points
                .iter()
                .map(|(x, y)| format!("{:.1},{:.1}", px(*x), py(*y)))
                .collect();
            let _ = write!(
                svg,
                r#"<polyline fill="none" stroke="{}" stroke-width="1.6" points="{}"><title>{}</title></polyline>"#,
                s.color,
                coords.join(" "),
                escape(&s.name)
            );
        }
        for (s, (lx, ly)) in series.iter().zip(&legend) {
            let _ = write!(
                svg,
                r#"<rect x="{lx:.1}" y="{:.1}" width="10" height="10" fill="{}"/><text x="{:.1}" y="{ly:.1}" class="legend">{}</text>"#,
                ly - 9.0,
                s.color,
                lx + 14.0,
                escape(&s.name)
            );
        }
        if series.iter().all(|s| s.points.is_empty()) {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="empty" text-anchor="middle">no data</text>"#,
                LEFT + plot_w / 2.0,
                top + plot_h / 2.0
            );
        }
        svg.push_str("</svg></figure>");
        svg
    }
}

/// A horizontal bar chart of named values.
#[derive(Debug, Clone)]
pub struct BarChart {
    pub title: String,
    pub unit: String,
    pub bars: Vec<(String, f64)>,
    pub color: &'static str,
}

impl BarChart {
    pub fn render(&self) -> String {
        let row = 22.0;
        let label_w = 250.0;
        let h = TOP + row * self.bars.len().max(1).to_f64() + BOTTOM;
        let hi = self.bars.iter().map(|b| b.1).fold(0.0, f64::max);
        let ticks = nice_ticks(0.0, if hi > 0.0 { hi } else { 1.0 }, 5);
        let top = *ticks.last().unwrap_or(&1.0);
        let plot_w = W - label_w - RIGHT - 60.0;
        let px = |v: f64| label_w + plot_w * v / top.max(1e-12);
        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<figure class="chart"><svg class="bar-chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" role="img" aria-label="{t}"><text x="10" y="18" class="title">{t}</text>"#,
            t = escape(&self.title)
        );
        let bottom = TOP + row * self.bars.len().max(1).to_f64();
        for t in &ticks {
            let x = px(*t);
            let _ = write!(
                svg,
                r#"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" class="grid"/><text x="{x:.1}" y="{:.1}" class="tick" text-anchor="middle">{}</text>"#,
                bottom + 5.0,
                bottom + 18.0,
                tick_label(*t)
            );
        }
        let _ = write!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" class="label" text-anchor="middle">{}</text>"#,
            label_w + plot_w / 2.0,
            bottom + 38.0,
            escape(&self.unit)
        );
        for (i, (name, v)) in self.bars.iter().enumerate() {
            let y = TOP + row * i.to_f64() + 3.0;
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="tick" text-anchor="end">{}</text><rect x="{label_w}" y="{y:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>{}: {}</title></rect><text x="{:.1}" y="{:.1}" class="tick">{}</text>"#,
                label_w - 6.0,
                y + 12.0,
                escape(name),
                (px(*v) - label_w).max(0.5),
                row - 6.0,
                self.color,
                escape(name),
                tick_label(*v),
                px(*v) + 4.0,
                y + 12.0,
                tick_label(*v)
            );
        }
        if self.bars.is_empty() {
            let _ = write!(
                svg,
                r#"<text x="{:.1}" y="{:.1}" class="empty" text-anchor="middle">none</text>"#,
                label_w + plot_w / 2.0,
                TOP + 14.0
            );
        }
        svg.push_str("</svg></figure>");
        svg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_and_cover_the_range() {
        assert_eq!(nice_ticks(0.0, 9.3, 5), vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]);
        assert_eq!(
            nice_ticks(0.0, 4800.0, 5),
            vec![0.0, 1000.0, 2000.0, 3000.0, 4000.0, 5000.0]
        );
        let t = nice_ticks(0.0, 0.37, 5);
        assert_eq!(t.first(), Some(&0.0));
        assert!(*t.last().unwrap() >= 0.37);
        let labels: Vec<String> = nice_ticks(0.0, 0.0, 5).into_iter().map(tick_label).collect();
        assert_eq!(labels, ["0", "0.2", "0.4", "0.6", "0.8", "1"]);
    }

    #[test]
    fn labels_are_short() {
        assert_eq!(tick_label(0.0), "0");
        assert_eq!(tick_label(2.5), "2.5");
        assert_eq!(tick_label(20000.0), "20k");
        assert_eq!(tick_label(1_500_000.0), "1.5M");
        assert_eq!(tick_label(0.25), "0.25");
        assert_eq!(percentile_tick_label(2.0), "99%");
        assert_eq!(percentile_tick_label(0.0), "0%");
        assert_eq!(percentile_tick_label(3.0), "99.9%");
    }

    #[test]
    fn a_chart_has_ticks_labels_a_legend_and_its_data() {
        let svg = LineChart {
            id: "t".into(),
            title: "Throughput".into(),
            x_label: "seconds since start".into(),
            y_label: "events/s".into(),
            x_axis: XAxis::Linear,
            series: vec![Series {
                name: "sent".into(),
                color: PALETTE[0],
                points: (0..2000).map(|i| (f64::from(i), f64::from(i % 100))).collect(),
            }],
        }
        .render();
        assert!(svg.contains(">seconds since start</text>"));
        assert!(svg.contains(">events/s</text>"));
        assert!(svg.contains(">2000</text>"), "the x axis reaches the last second");
        assert!(svg.contains(">100</text>"), "the y axis reaches the top");
        // Decimated, but the peaks kept.
        let points = svg.split("points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert!(points.split(' ').count() <= MAX_POINTS);
        assert!(svg.contains("data-series="));
    }
}
