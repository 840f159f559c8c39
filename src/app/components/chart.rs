//! Charts as server-rendered SVG: readable before the wasm loads, printable,
//! and titled for screen readers. Each bar carries a `<title>`, which
//! browsers show on hover. One small component per chart kind, with the
//! geometry in plain functions that are tested.

use leptos::prelude::*;

const W: f64 = 720.0;
const H: f64 = 200.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 22.0;
const PALETTE: [&str; 8] = [
    "#3b6fd8", "#e0883a", "#3aa57a", "#b0509e", "#c9b23b", "#5bb5d5", "#8a6d3b", "#777777",
];

/// Where bar `i` of `n` sits and how wide it is.
pub fn bar_x(i: usize, n: usize) -> (f64, f64) {
    let slot = (W - LEFT) / n.max(1) as f64;
    (LEFT + slot * i as f64 + slot * 0.1, slot * 0.8)
}

/// The height of `value` on a scale whose top is `max`.
pub fn bar_h(value: f64, max: f64) -> f64 {
    if max <= 0.0 {
        0.0
    } else {
        (value / max).clamp(0.0, 1.0) * (H - BOTTOM - 8.0)
    }
}

/// Bars per x, stacked by series (`(name, value per x)`).
#[component]
pub fn StackedBars(
    title: String,
    x_labels: Vec<String>,
    series: Vec<(String, Vec<f64>)>,
    format: fn(f64) -> String,
) -> impl IntoView {
    let n = x_labels.len();
    let totals: Vec<f64> = (0..n)
        .map(|i| {
            series
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0.0))
                .sum()
        })
        .collect();
    let max = totals.iter().copied().fold(0.0, f64::max);
    let mut rects = Vec::new();
    for (i, label) in x_labels.iter().enumerate() {
        let (x, w) = bar_x(i, n);
        let mut y = H - BOTTOM;
        for (s, (name, values)) in series.iter().enumerate() {
            let v = values.get(i).copied().unwrap_or(0.0);
            let h = bar_h(v, max);
            if h <= 0.0 {
                continue;
            }
            y -= h;
            let tip = format!("{label} · {name}: {}", format(v));
            rects.push(view! {
                <rect x=format!("{x:.1}") y=format!("{y:.1}") width=format!("{w:.1}") height=format!("{h:.1}")
                    fill=PALETTE[s % PALETTE.len()]><title>{tip}</title></rect>
            });
        }
    }
    let labels = axis_labels(&x_labels);
    let legend = series.iter().enumerate().map(|(s, (name, _))| view! {
        <li><span class="swatch" style=format!("background:{}", PALETTE[s % PALETTE.len()])></span>{name.clone()}</li>
    }).collect_view();
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=title.clone()>
                <title>{title.clone()}</title>
                <line x1=LEFT y1=H - BOTTOM x2=W y2=H - BOTTOM class="axis"/>
                <text x="4" y="14" class="tick">{format(max)}</text>
                <text x="4" y=H - BOTTOM class="tick">{format(0.0)}</text>
                {rects}
                {labels}
            </svg>
            <figcaption><ul class="legend">{legend}</ul></figcaption>
        </figure>
    }
}

/// First, middle and last x labels, under their bars.
fn axis_labels(x_labels: &[String]) -> Vec<impl IntoView> {
    let n = x_labels.len();
    let mut picks = vec![0, n / 2, n.saturating_sub(1)];
    picks.dedup();
    picks
        .into_iter()
        .filter(|&i| i < n)
        .map(|i| {
            let (x, w) = bar_x(i, n);
            view! { <text x=format!("{:.1}", x + w / 2.0) y=H - 6.0 class="tick" text-anchor="middle">{x_labels[i].clone()}</text> }
        })
        .collect()
}

/// Spend to date against a limit, with the month-end projection dashed.
#[component]
pub fn BurnDown(
    title: String,
    cumulative: Vec<f64>,
    days_in_month: usize,
    limit: f64,
    projected: f64,
    format: fn(f64) -> String,
) -> impl IntoView {
    let max = limit
        .max(projected)
        .max(cumulative.last().copied().unwrap_or(0.0));
    let x = |i: usize| LEFT + (W - LEFT) * i as f64 / days_in_month.max(1) as f64;
    let y = |v: f64| H - BOTTOM - bar_h(v, max);
    let points: Vec<String> = cumulative
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i + 1), y(*v)))
        .collect();
    let last = cumulative.len();
    let now = cumulative.last().copied().unwrap_or(0.0);
    view! {
        <figure class="chart">
            <svg viewBox=format!("0 0 {W} {H}") role="img" aria-label=title.clone()>
                <title>{title.clone()}</title>
                <line x1=LEFT y1=H - BOTTOM x2=W y2=H - BOTTOM class="axis"/>
                <line x1=LEFT y1=y(limit) x2=W y2=y(limit) class="limit"><title>{format!("limit {}", format(limit))}</title></line>
                <polyline points=points.join(" ") class="spent"><title>{format!("spent {}", format(now))}</title></polyline>
                <line x1=x(last) y1=y(now) x2=x(days_in_month) y2=y(projected) class="projection">
                    <title>{format!("projected month end {}", format(projected))}</title>
                </line>
                <text x="4" y="14" class="tick">{format(max)}</text>
            </svg>
            <figcaption>{format!("Spent {} of {}; at this pace the month ends at {}.", format(now), format(limit), format(projected))}</figcaption>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_fill_the_plot_without_overlap() {
        let (x0, w) = bar_x(0, 10);
        let (x9, _) = bar_x(9, 10);
        assert!(x0 >= LEFT && x9 + w <= W);
        assert!(bar_x(1, 10).0 > x0 + w, "a gap between bars");
        assert_eq!(bar_h(5.0, 10.0), (H - BOTTOM - 8.0) / 2.0);
        assert_eq!(bar_h(20.0, 10.0), H - BOTTOM - 8.0, "clamped to the plot");
        assert_eq!(bar_h(1.0, 0.0), 0.0, "an empty chart draws nothing");
    }
}
