//! The HTML page of a load report: one self-contained file (no network,
//! no external assets) with the run's verdict and parameters, throughput
//! and acknowledgement latency over time, the latency distribution as an
//! HDR percentile curve, end-to-end latency per event type, what the
//! observer and the consumer group did over time, and violations by rule.
//! A short inline script shows the values under the pointer; every chart
//! reads without it.

use crate::num::Cast as _;
use std::fmt::Write as _;

use super::LoadReport;
use super::metrics::{Latency, Tick};
use crate::report::svg::{BarChart, LineChart, PALETTE, Series, XAxis, escape, percentile_x};

const STYLE: &str = "body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px auto;max-width:1600px;color:#222;background:#fff}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}\
.verdict{display:inline-block;padding:2px 10px;border-radius:4px;font-weight:600;color:#fff}.pass{background:#2e7d32}.fail{background:#c62828}\
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}.tile{border:1px solid #ddd;border-radius:6px;padding:8px 14px;min-width:150px}\
.tile b{display:block;font-size:20px}.tile span{color:#666;font-size:12px}\
table{border-collapse:collapse;font-size:13px;margin:6px 0}td,th{border:1px solid #ddd;padding:3px 8px;text-align:left}th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.grid-2{display:grid;grid-template-columns:repeat(auto-fit,minmax(700px,1fr));gap:8px}\
figure.chart{margin:0;position:relative}svg{width:100%;height:auto;font-size:11px;background:#fff}\
svg .grid{stroke:#eee}svg .axis{stroke:#888}svg .tick{fill:#555}svg .label{fill:#333;font-size:12px}svg .title{font-size:14px;font-weight:600;fill:#222}\
svg .legend{fill:#333}svg .empty{fill:#999;font-size:14px}\
.tip{position:absolute;pointer-events:none;background:rgba(255,255,255,.95);border:1px solid #bbb;border-radius:4px;padding:4px 6px;font-size:12px;white-space:nowrap;display:none}\
.note{color:#666;font-size:13px}pre{background:#f6f6f6;padding:10px;overflow:auto;font-size:12px}";

const SCRIPT: &str = r#"(function(){
  function fmt(v){return Math.abs(v)>=100?v.toFixed(0):Math.abs(v)>=1?v.toFixed(2):v.toFixed(3);}
  document.querySelectorAll('svg.line-chart').forEach(function(svg){
    var series=JSON.parse(svg.dataset.series), fig=svg.parentNode;
    var x0=+svg.dataset.x0, x1=+svg.dataset.x1, left=+svg.dataset.left, w=+svg.dataset.w;
    var tip=document.createElement('div'); tip.className='tip'; fig.appendChild(tip);
    svg.addEventListener('mousemove',function(e){
      var box=svg.getBoundingClientRect(), scale=box.width/svg.viewBox.baseVal.width;
      var x=x0+((e.clientX-box.left)/scale-left)/w*(x1-x0);
      var lines=[];
      series.forEach(function(s){
        var best=null;
        s.points.forEach(function(p){ if(best===null||Math.abs(p[0]-x)<Math.abs(best[0]-x)) best=p; });
        if(best) lines.push('<span style="color:'+s.color+'">&#9632;</span> '+s.name+': '+fmt(best[1])+' '+svg.dataset.unit);
      });
      var at=svg.dataset.xAxis==='percentile'?(100*(1-Math.pow(10,-x))).toFixed(3)+'%':fmt(x)+' s';
      tip.innerHTML='<b>'+at+'</b><br>'+lines.join('<br>');
      tip.style.display='block';
      tip.style.left=Math.min(e.clientX-box.left+12, box.width-180)+'px';
      tip.style.top=(e.clientY-box.top+12)+'px';
    });
    svg.addEventListener('mouseleave',function(){tip.style.display='none';});
  });
  document.body.dataset.ready='1';
})();"#;

fn color(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

fn series(name: &str, i: usize, points: Vec<(f64, f64)>) -> Series {
    Series {
        name: name.into(),
        color: color(i),
        points,
    }
}

fn over_time(r: &LoadReport, f: &dyn Fn(&Tick) -> f64) -> Vec<(f64, f64)> {
    r.timeline.iter().map(|t| (t.t.to_f64(), f(t))).collect()
}

/// The HDR percentile curve of a distribution: (percentile axis, ms).
pub fn percentile_curve(l: &Latency) -> Vec<(f64, f64)> {
    let total: u64 = l.histogram.iter().map(|(_, n)| n).sum();
    if total == 0 {
        return Vec::new();
    }
    let cap = 1.0 - 1.0 / total.max(10).to_f64();
    let mut points = vec![(0.0, l.histogram.first().map_or(0.0, |(us, _)| (*us).to_f64() / 1000.0))];
    let mut seen = 0u64;
    for (us, n) in &l.histogram {
        seen += n;
        let q = (seen.to_f64() / total.to_f64()).min(cap);
        points.push((percentile_x(q), (*us).to_f64() / 1000.0));
    }
    points
}

fn chart(id: &str, title: &str, x_label: &str, y_label: &str, x_axis: XAxis, series: Vec<Series>) -> String {
    LineChart {
        id: id.into(),
        title: title.into(),
        x_label: x_label.into(),
        y_label: y_label.into(),
        x_axis,
        series,
    }
    .render()
}

fn tile(out: &mut String, value: &str, what: &str) {
    let _ = write!(
        out,
        "<div class=\"tile\"><b>{}</b><span>{}</span></div>",
        escape(value),
        escape(what)
    );
}

fn row(out: &mut String, cells: &[String]) {
    out.push_str("<tr>");
    for (i, c) in cells.iter().enumerate() {
        let class = if i > 0 && c.chars().next().is_some_and(|ch| ch.is_ascii_digit()) {
            " class=\"n\""
        } else {
            ""
        };
        let _ = write!(out, "<td{class}>{}</td>", escape(c));
    }
    out.push_str("</tr>");
}

/// Why the run failed, each reason a line; empty when it passed.
fn reasons(r: &LoadReport) -> Vec<String> {
    let mut why = Vec::new();
    if r.events.failed > 0 {
        why.push(format!("{} events failed to send", r.events.failed));
    }
    if r.interrupted {
        why.push("the run was interrupted".into());
    }
    why.extend(r.slo.breaches.iter().map(|b| format!("SLO breached: {b}")));
    if let Some(o) = &r.observed {
        if o.lost > 0 {
            why.push(format!("{} acknowledged events were never read back", o.lost));
        }
        if o.violations > 0 {
            why.push(format!("{} flow contract violations", o.violations));
        }
    }
    if let Some(g) = r.consumer_group.as_ref().filter(|g| !g.drained) {
        why.push(format!(
            "consumer group {} still {} messages behind",
            g.group, g.remaining
        ));
    }
    why
}

fn parameters(r: &LoadReport, out: &mut String) {
    out.push_str("<h2>Run</h2><table>");
    let shards = r
        .shards
        .iter()
        .map(|s| format!("{}/{}", s.index, s.count))
        .collect::<Vec<_>>()
        .join(", ");
    let slo = |v: Option<f64>, unit: &str| v.map_or("none".to_string(), |v| format!("{v}{unit}"));
    for (k, v) in [
        ("flow", r.flow.clone()),
        ("topic", r.topic.clone()),
        ("seed", r.seed.to_string()),
        ("rate", r.rate.clone()),
        ("time scale", r.time_scale.to_string()),
        ("shards", shards),
        ("duration", format!("{:.1} s", r.seconds)),
        ("interrupted", r.interrupted.to_string()),
        ("SLO: max ack p99", slo(r.slo.max_p99_ms, " ms")),
        ("SLO: max error rate", slo(r.slo.max_error_rate, "")),
        ("report format", r.format.clone()),
    ] {
        let _ = write!(out, "<tr><th>{k}</th><td>{}</td></tr>", escape(&v));
    }
    out.push_str("</table>");
}

fn latency_table(out: &mut String, rows: &[(String, &Latency)]) {
    out.push_str("<table><tr><th>events</th><th>count</th><th>p50 ms</th><th>p90 ms</th><th>p99 ms</th><th>p99.9 ms</th><th>max ms</th></tr>");
    for (name, l) in rows {
        row(
            out,
            &[
                name.clone(),
                l.count.to_string(),
                format!("{:.2}", l.p50_ms),
                format!("{:.2}", l.p90_ms),
                format!("{:.2}", l.p99_ms),
                format!("{:.2}", l.p999_ms),
                format!("{:.2}", l.max_ms),
            ],
        );
    }
    out.push_str("</table>");
}

fn observed(r: &LoadReport, out: &mut String) {
    out.push_str("<h2>What consumers saw</h2>");
    let Some(o) = &r.observed else {
        out.push_str("<p class=\"note\">Not observed: run with <code>--observe</code> to read the topic back, check every flow against its contract and measure end-to-end latency.</p>");
        return;
    };
    let _ = write!(
        out,
        "<p>{} messages read, {} lost, {} violations, {} warnings{}.</p>",
        o.messages,
        o.lost,
        o.violations,
        o.warnings,
        if o.timed_out {
            "; the observer gave up waiting"
        } else {
            ""
        }
    );
    if o.fell_behind() {
        let _ = write!(
            out,
            "<p><b>The observer fell behind:</b> {} messages were unread when the producer finished; {}.</p>",
            o.behind_at_producer_end,
            o.caught_up_seconds
                .map_or("it never caught up".to_string(), |s| format!(
                    "it had read them all {s:.1} s later"
                ))
        );
    }
    let rows: Vec<(String, &Latency)> = o.end_to_end.iter().map(|(k, v)| (k.clone(), v)).collect();
    out.push_str("<h3>End-to-end latency per event type</h3><p class=\"note\">From the event's timestamp to the observer reading it.</p>");
    latency_table(out, &rows);
    out.push_str("<div class=\"grid-2\">");
    out.push_str(
        &BarChart {
            title: "End-to-end p99 per event type".into(),
            unit: "ms".into(),
            bars: o.end_to_end.iter().map(|(k, v)| (k.clone(), v.p99_ms)).collect(),
            color: PALETTE[3],
        }
        .render(),
    );
    out.push_str(
        &BarChart {
            title: "Violations by rule".into(),
            unit: "findings".into(),
            bars: o.by_rule.iter().map(|(k, v)| (k.clone(), (*v).to_f64())).collect(),
            color: PALETTE[2],
        }
        .render(),
    );
    let read: Vec<(f64, f64)> = o.timeline.iter().map(|t| (t.t.to_f64(), t.messages.to_f64())).collect();
    let sent = over_time(r, &|t| t.events_sent.to_f64());
    out.push_str(&chart(
        "observer-throughput",
        "Read back against sent",
        "seconds since start",
        "events/s",
        XAxis::Linear,
        vec![series("sent", 0, sent), series("read by the observer", 1, read)],
    ));
    let e2e: Vec<(f64, f64)> = o.timeline.iter().map(|t| (t.t.to_f64(), t.end_to_end_p99_ms)).collect();
    out.push_str(&chart(
        "observer-latency",
        "End-to-end p99 over time",
        "seconds since start",
        "ms",
        XAxis::Linear,
        vec![series("end-to-end p99", 2, e2e)],
    ));
    out.push_str("</div>");
    if !o.findings.is_empty() {
        out.push_str("<h3>First findings</h3><pre>");
        for f in &o.findings {
            let _ = writeln!(out, "{}", escape(f));
        }
        out.push_str("</pre>");
    }
}

fn consumer_group(r: &LoadReport, out: &mut String) {
    let Some(g) = &r.consumer_group else {
        return;
    };
    out.push_str("<h2>Consumer group</h2>");
    let _ = write!(
        out,
        "<p>Group <code>{}</code>: {}.</p>",
        escape(&g.group),
        match g.seconds_to_drain {
            Some(s) => format!("drained {s:.1} s after the run"),
            None => format!("still {} messages behind", g.remaining),
        }
    );
    let points: Vec<(f64, f64)> = g.timeline.iter().map(|t| (t.t, t.lag.to_f64())).collect();
    out.push_str(&chart(
        "group-lag",
        "Consumer group lag",
        "seconds since start",
        "messages",
        XAxis::Linear,
        vec![series("lag", 4, points)],
    ));
}

/// One self-contained HTML page for a report (a run's or merged shards').
pub fn html(r: &LoadReport) -> String {
    let why = reasons(r);
    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>flowharness load: {}</h1><p>{} &rarr; <code>{}</code> <span class=\"verdict {}\">{}</span></p>",
        escape(&r.flow),
        escape(&r.flow),
        escape(&r.topic),
        if why.is_empty() { "pass" } else { "fail" },
        if why.is_empty() { "PASS" } else { "FAIL" },
    );
    if !why.is_empty() {
        body.push_str("<ul>");
        for w in &why {
            let _ = write!(body, "<li>{}</li>", escape(w));
        }
        body.push_str("</ul>");
    }
    body.push_str("<div class=\"tiles\">");
    tile(&mut body, &format!("{:.0}/s", r.events_per_second), "events sent");
    tile(&mut body, &r.events.sent.to_string(), "events in all");
    tile(&mut body, &format!("{:.2} ms", r.ack_latency.p99_ms), "ack latency p99");
    tile(
        &mut body,
        &format!("{:.4}%", r.events.error_rate * 100.0),
        "send errors",
    );
    if let Some(o) = &r.observed {
        tile(&mut body, &o.lost.to_string(), "lost");
        tile(&mut body, &o.violations.to_string(), "violations");
    }
    body.push_str("</div>");
    parameters(r, &mut body);

    body.push_str("<h2>Throughput and latency over time</h2><div class=\"grid-2\">");
    let mut events_per_flow = if r.flows.started == 0 {
        1.0
    } else {
        r.events.sent.to_f64() / r.flows.started.to_f64()
    };
    if !events_per_flow.is_finite() {
        events_per_flow = 1.0;
    }
    let mut throughput = vec![
        series("sent", 0, over_time(r, &|t| t.events_sent.to_f64())),
        series("acknowledged", 1, over_time(r, &|t| t.events_acknowledged.to_f64())),
    ];
    if r.timeline.iter().any(|t| t.target_flow_rate.is_some()) {
        throughput.push(Series {
            name: "target".into(),
            color: "#999999",
            points: over_time(r, &|t| t.target_flow_rate.unwrap_or(0.0) * events_per_flow),
        });
    }
    body.push_str(&chart(
        "throughput",
        "Throughput",
        "seconds since start",
        "events/s",
        XAxis::Linear,
        throughput,
    ));
    body.push_str(&chart(
        "ack-latency",
        "Acknowledgement latency",
        "seconds since start",
        "ms",
        XAxis::Linear,
        vec![
            series("p50", 0, over_time(r, &|t| t.ack_p50_ms)),
            series("p90", 1, over_time(r, &|t| t.ack_p90_ms)),
            series("p99", 2, over_time(r, &|t| t.ack_p99_ms)),
            series("max", 3, over_time(r, &|t| t.ack_max_ms)),
        ],
    ));
    body.push_str("</div>");

    body.push_str("<h2>Latency distribution</h2>");
    let mut curves = vec![series("acknowledgement", 0, percentile_curve(&r.ack_latency))];
    if let Some(o) = &r.observed {
        for (i, (state, l)) in o.end_to_end.iter().enumerate() {
            curves.push(series(&format!("end to end: {state}"), i + 1, percentile_curve(l)));
        }
    }
    body.push_str(&chart(
        "distribution",
        "Latency by percentile (HDR)",
        "percentile",
        "ms",
        XAxis::Percentile,
        curves,
    ));
    latency_table(&mut body, &[("acknowledgement".to_string(), &r.ack_latency)]);

    observed(r, &mut body);
    consumer_group(r, &mut body);

    body.push_str("<h2>Flows</h2><table><tr><th>path</th><th>flows</th></tr>");
    for (p, n) in &r.flows.by_path {
        row(&mut body, &[p.clone(), n.to_string()]);
    }
    let _ = write!(
        body,
        "</table><p>{} started, {} finished sending, {} in flight at the end, {} at the peak.</p>",
        r.flows.started, r.flows.finished_sending, r.flows.in_flight_at_end, r.flows.peak_in_flight
    );
    if !r.failures.is_empty() {
        body.push_str("<h2>Send failures</h2><pre>");
        for f in &r.failures {
            let _ = writeln!(body, "{}", escape(f));
        }
        body.push_str("</pre>");
    }
    let mut summary = Vec::new();
    let _ = super::report::write_summary(r, &mut summary);
    let _ = write!(
        body,
        "<details><summary>Terminal summary</summary><pre>{}</pre></details>",
        escape(&String::from_utf8_lossy(&summary))
    );
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
<title>flowharness load: {}</title><style>{STYLE}</style></head><body>{body}<script>{SCRIPT}</script></body></html>\n",
        escape(&r.flow)
    )
}
