//! Bar charts: the bars the report's model holds, drawn as inline SVG for HTML (the PDF
//! draws the same bars with its layout engine).

use serde::Serialize;

/// One bar: a label (an incident, who applied changes), its value, and whether what it
/// measures is still going on (not yet notified, still disrupted), counted up to now.
#[derive(Debug, Clone, Serialize)]
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub open: bool,
}

impl Bar {
    pub fn done(label: impl Into<String>, value: f64) -> Bar {
        Bar {
            label: label.into(),
            value,
            open: false,
        }
    }
}

/// What a finished bar and an open bar stand for, for the chart's key.
#[derive(Debug, Clone, Copy)]
pub struct Legend {
    pub done: &'static str,
    pub open: &'static str,
}

/// The ICO chart: notified against not yet notified.
pub const NOTIFIED: Legend = Legend {
    done: "notified",
    open: "not yet notified (hours so far)",
};

/// A service's chart: disruptions that ended against those still going on.
pub const DISRUPTED: Legend = Legend {
    done: "disruption ended",
    open: "still disrupted (hours so far)",
};

/// Escapes text for SVG/HTML.
fn xml(s: &str) -> String {
    handlebars::html_escape(s)
}

/// A horizontal bar chart as inline SVG: one bar per `Bar`, green within `limit` and red
/// over it, an open bar pale with an outline; a dashed line at `limit` (the 72 hours, or
/// the impact tolerance) and a key. Labels are escaped.
pub fn svg_bar_chart(
    title: &str,
    unit: &str,
    bars: &[Bar],
    limit: Option<f64>,
    legend: Option<&Legend>,
) -> String {
    let row_h = 22.0;
    let left = 130.0;
    let width = 640.0;
    let plot_w = width - left - 60.0;
    let keyed = legend.is_some() || limit.is_some();
    let plot_h = 40.0 + row_h * bars.len().max(1) as f64 + 24.0;
    let height = plot_h + if keyed { 22.0 } else { 0.0 };
    let max = bars
        .iter()
        .map(|b| b.value)
        .chain(limit)
        .fold(1.0_f64, f64::max);
    let x = |v: f64| left + plot_w * (v.max(0.0) / max);
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{t}"><title>{t}</title><style>text{{font:12px sans-serif;fill:#1b1b1b}}.over{{fill:#b00020}}.ok{{fill:#2e6f40}}.over.open{{fill:#f7d1d8;stroke:#b00020}}.ok.open{{fill:#d6edda;stroke:#2e6f40}}</style>"##,
        t = xml(title)
    );
    s.push_str(&format!(
        r##"<text x="0" y="16" style="font-weight:600">{}</text>"##,
        xml(title)
    ));
    for (i, b) in bars.iter().enumerate() {
        let y = 30.0 + row_h * i as f64;
        let over = limit.is_some_and(|l| b.value > l);
        s.push_str(&format!(
            r##"<text x="{tx}" y="{ty}" text-anchor="end">{l}</text><rect x="{left}" y="{y}" width="{w:.1}" height="14" class="{c}{o}"/><text x="{vx:.1}" y="{ty}">{v:.1} {u}</text>"##,
            tx = left - 6.0,
            ty = y + 11.0,
            l = xml(&b.label),
            w = x(b.value) - left,
            c = if over { "over" } else { "ok" },
            o = if b.open { " open" } else { "" },
            vx = x(b.value) + 4.0,
            v = b.value,
            u = xml(unit),
        ));
    }
    if bars.is_empty() {
        s.push_str(r##"<text x="130" y="42">nothing this month</text>"##);
    }
    if let Some(l) = limit {
        let lx = x(l);
        s.push_str(&format!(
            r##"<line x1="{lx:.1}" y1="24" x2="{lx:.1}" y2="{y2:.1}" stroke="#555" stroke-dasharray="4 3"/><text x="{lx:.1}" y="{ly:.1}" text-anchor="middle">limit {l} {u}</text>"##,
            y2 = plot_h - 20.0,
            ly = plot_h - 6.0,
            u = xml(unit),
        ));
    }
    if keyed {
        let y = plot_h + 4.0;
        let mut kx = 0.0;
        for (class, label) in key(limit.is_some(), legend) {
            s.push_str(&format!(
                r##"<rect x="{kx}" y="{y}" width="12" height="10" class="{class}"/><text x="{tx}" y="{ty}">{l}</text>"##,
                tx = kx + 16.0,
                ty = y + 9.5,
                l = xml(&label),
            ));
            kx += 16.0 + 7.0 * label.len() as f64 + 18.0;
        }
    }
    s.push_str("</svg>");
    s
}

/// The key's entries: a bar's class and what it means.
pub fn key(limit: bool, legend: Option<&Legend>) -> Vec<(&'static str, String)> {
    let done = legend.map_or("", |l| l.done);
    let mut entries = Vec::new();
    if limit {
        entries.push(("ok", format!("{done} within the limit").trim().to_string()));
        entries.push(("over", format!("{done} over the limit").trim().to_string()));
    } else if !done.is_empty() {
        entries.push(("ok", done.to_string()));
    }
    if let Some(l) = legend {
        entries.push(("ok open", l.open.to_string()));
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_labels_are_escaped() {
        let svg = svg_bar_chart("t<>", "h", &[Bar::done("<script>", 3.0)], Some(72.0), None);
        assert!(!svg.contains("<script>"));
        assert!(svg.contains("&lt;script&gt;"));
        assert!(svg.contains("limit 72 h"));
    }

    #[test]
    fn open_bars_are_keyed_apart() {
        let bars = [
            Bar::done("A-1", 40.0),
            Bar {
                label: "A-2".into(),
                value: 90.0,
                open: true,
            },
        ];
        let svg = svg_bar_chart("ICO", "h", &bars, Some(72.0), Some(&NOTIFIED));
        assert!(svg.contains(r#"class="over open""#), "{svg}");
        assert!(svg.contains(r#"class="ok""#));
        for label in [
            "notified within the limit",
            "notified over the limit",
            "not yet notified (hours so far)",
        ] {
            assert!(svg.contains(label), "{label}");
        }
    }
}
