//! Multi-panel figures rendered with plotters to PNG and SVG, with an embedded font (DejaVu
//! Sans, from the `dejavu` crate), so no system font is needed.
//!
//! Conventions shared by every figure: the teacher is drawn dashed and the network solid, in
//! the same colour per state component; panels carry a letter (A, B, ...) and axis labels
//! with units.

use anyhow::{Result, anyhow};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

/// Colours of state components 0, 1, 2, ... (teacher dashed, network solid).
pub const COMPONENT: [RGBColor; 4] =
    [RGBColor(31, 119, 180), RGBColor(214, 39, 40), RGBColor(44, 160, 44), RGBColor(148, 103, 189)];
/// Neutral colour (learning curves, rasters, scatter).
pub const INK: RGBColor = RGBColor(40, 40, 40);
/// Highlight colour (thresholds, reference lines).
pub const ACCENT: RGBColor = RGBColor(255, 127, 14);

const FONT: &str = "sans-serif";
/// Lines with at most this many points are sweeps: each point gets a marker.
const MARKED_POINTS: usize = 30;
const WIDTH_PER_COL: u32 = 640;
const HEIGHT_PER_ROW: u32 = 340;

/// One line of a panel.
#[derive(Debug, Clone)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// The points (x, y).
    pub points: Vec<(f64, f64)>,
    /// Colour.
    pub color: RGBColor,
    /// Dashed (the teacher) or solid.
    pub dashed: bool,
}

/// What a panel shows.
#[derive(Debug, Clone)]
pub enum Panel {
    /// Lines against x.
    Lines {
        /// The lines.
        series: Vec<Series>,
        /// Logarithmic y axis.
        log_y: bool,
    },
    /// A spike raster: (time, neuron) pairs, for `n` neurons.
    Raster {
        /// The spikes.
        spikes: Vec<(f64, u32)>,
        /// Population size.
        n: u32,
        /// Time range end (s).
        t_max: f64,
    },
    /// A scatter of points with the identity line (e.g. learned against ideal weights).
    Scatter {
        /// The points.
        points: Vec<(f64, f64)>,
    },
    /// A histogram of values (non-finite values are left out), with an optional vertical
    /// reference line (e.g. the median, or the value 1 of a Poisson process).
    Histogram {
        /// The values.
        values: Vec<f64>,
        /// Number of equal-width bins over the range of the values.
        bins: usize,
        /// A reference value drawn as a vertical line, with its legend entry.
        reference: Option<(f64, String)>,
    },
    /// Grouped bars: one group per category on the x axis, one bar per series in each group
    /// (a missing or non-positive value on a log axis is left out).
    Bars {
        /// The categories, in order (the x tick labels).
        groups: Vec<String>,
        /// (legend entry, one value per group, colour).
        series: Vec<(String, Vec<f64>, RGBColor)>,
        /// Logarithmic y axis.
        log_y: bool,
    },
}

/// A panel with its letter, title and axis labels.
#[derive(Debug, Clone)]
pub struct Labeled {
    /// Title (the letter is prepended).
    pub title: String,
    /// x-axis label, with unit.
    pub x: String,
    /// y-axis label, with unit.
    pub y: String,
    /// The content.
    pub panel: Panel,
}

/// A figure: panels laid out in `cols` columns.
#[derive(Debug, Clone)]
pub struct Figure {
    /// Panels, row by row.
    pub panels: Vec<Labeled>,
    /// Number of columns.
    pub cols: usize,
}

fn register_font() -> Result<()> {
    static ONCE: Once = Once::new();
    let mut result = Ok(());
    ONCE.call_once(|| {
        result = plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
            .map_err(|_| anyhow!("cannot register the embedded DejaVu Sans font"));
    });
    result
}

/// Renders `figure` to `dir/id.png` and `dir/id.svg`, each drawn into a temporary file of
/// the same format and renamed into place, so an interrupted run never leaves a half-drawn
/// figure under the final name.
pub fn render(figure: &Figure, dir: &Path, id: &str) -> Result<()> {
    register_font()?;
    let rows = figure.panels.len().div_ceil(figure.cols) as u32;
    let size = (WIDTH_PER_COL * figure.cols as u32, HEIGHT_PER_ROW * rows);
    let (png, png_tmp) = (dir.join(format!("{id}.png")), dir.join(format!(".{id}.tmp.png")));
    let (svg, svg_tmp) = (dir.join(format!("{id}.svg")), dir.join(format!(".{id}.tmp.svg")));
    // Each backend writes its file when it is dropped, at the end of its `draw` call.
    draw(figure, BitMapBackend::new(&png_tmp, size).into_drawing_area())?;
    std::fs::rename(&png_tmp, &png)?;
    draw(figure, SVGBackend::new(&svg_tmp, size).into_drawing_area())?;
    std::fs::rename(&svg_tmp, &svg)?;
    Ok(())
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("plotting: {e:?}")
}

fn draw<DB: DrawingBackend>(figure: &Figure, root: DrawingArea<DB, Shift>) -> Result<()> {
    root.fill(&WHITE).map_err(err)?;
    let rows = figure.panels.len().div_ceil(figure.cols);
    let areas = root.split_evenly((rows, figure.cols));
    for (k, (panel, area)) in figure.panels.iter().zip(areas.iter()).enumerate() {
        let letter = (b'A' + k as u8) as char;
        draw_panel(panel, &format!("{letter}  {}", panel.title), area)?;
    }
    root.present().map_err(err)?;
    Ok(())
}

fn bounds(points: impl Iterator<Item = (f64, f64)>) -> ((f64, f64), (f64, f64)) {
    let (mut x0, mut x1, mut y0, mut y1) = (f64::INFINITY, f64::NEG_INFINITY, f64::INFINITY, f64::NEG_INFINITY);
    for (x, y) in points.filter(|(x, y)| x.is_finite() && y.is_finite()) {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !x0.is_finite() {
        return ((0.0, 1.0), (0.0, 1.0));
    }
    let pad = |lo: f64, hi: f64| {
        let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
        (lo - 0.05 * span, hi + 0.05 * span)
    };
    ((x0, if x1 > x0 { x1 } else { x0 + 1.0 }), pad(y0, y1))
}

/// Tick labels: plain for ordinary magnitudes, scientific for very small or large ones.
fn tick(v: &f64) -> String {
    let a = v.abs();
    // Below 1e-15 a tick is zero up to rounding of the axis arithmetic.
    if a < 1e-15 {
        "0".into()
    } else if !(1e-2..1e4).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

/// Line width: 2 px for sparse lines; 1 px for dense ones (the bitmap backend draws steep
/// wide segments with artefacts, and dense wide lines hide their own detail).
fn width(points: usize) -> u32 {
    if points > 400 { 1 } else { 2 }
}

/// A chart builder with the caption and label areas every panel uses.
fn builder<'a, 'b, DB: DrawingBackend>(area: &'a DrawingArea<DB, Shift>, title: &str) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(area);
    b.caption(title, (FONT, 20).into_font()).margin(12).x_label_area_size(42).y_label_area_size(78);
    b
}

/// Axes, axis labels and the bold grid (the light grid is off: on log axes it crowds into
/// grey bands). `integer_y` formats y ticks as integers (neuron indices, counts);
/// `y_grid` draws the horizontal grid lines.
fn mesh<'a, DB, X, Y>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
    p: &Labeled,
    label: &FontDesc<'_>,
    integer_y: bool,
    y_grid: bool,
) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
{
    // Integer axes label only the integer ticks (and never "-0").
    let y_format = |v: &f64| match integer_y {
        true if (v - v.round()).abs() < 1e-9 => format!("{}", v.round() as i64),
        true => String::new(),
        false => tick(v),
    };
    let mut m = chart.configure_mesh();
    m.light_line_style(TRANSPARENT)
        .x_desc(p.x.as_str())
        .y_desc(p.y.as_str())
        .x_label_formatter(&|v| tick(v))
        .y_label_formatter(&y_format)
        .label_style(label.clone())
        .axis_desc_style(label.clone());
    if !y_grid {
        m.disable_y_mesh();
    }
    m.draw().map_err(err)
}

fn draw_panel<DB: DrawingBackend>(p: &Labeled, title: &str, area: &DrawingArea<DB, Shift>) -> Result<()> {
    let label = (FONT, 15).into_font();
    match &p.panel {
        Panel::Lines { series, log_y } => {
            let ((x0, x1), (y0, y1)) = bounds(series.iter().flat_map(|s| s.points.iter().copied()));
            let mut builder = builder(area, title);
            if *log_y {
                let lo = series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1))
                    .filter(|v| *v > 0.0)
                    .fold(f64::INFINITY, f64::min);
                let lo = if lo.is_finite() { lo * 0.8 } else { 1e-3 };
                let hi = y1.max(lo * 10.0) * 1.2;
                let (corner, hidden) = emptiest_corner(series, (x0, x1), (lo.ln(), hi.ln()), |y| y.max(lo).ln());
                // No free corner: headroom above the data for the legend.
                let (corner, hi) =
                    if hidden > 0 { (SeriesLabelPosition::UpperRight, hi * (hi / lo).powf(0.6)) } else { (corner, hi) };
                let mut chart = builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale()).map_err(err)?;
                mesh(&mut chart, p, &label, false, true)?;
                let positive: Vec<Series> = series
                    .iter()
                    .map(|s| Series { points: s.points.iter().copied().filter(|p| p.1 > 0.0).collect(), ..s.clone() })
                    .collect();
                draw_lines(&mut chart, &positive)?;
                legend(&mut chart, label, corner)?;
            } else {
                let (corner, hidden) = emptiest_corner(series, (x0, x1), (y0, y1), |y| y);
                let (corner, y1) =
                    if hidden > 0 { (SeriesLabelPosition::UpperRight, y1 + 0.6 * (y1 - y0)) } else { (corner, y1) };
                let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
                mesh(&mut chart, p, &label, false, true)?;
                draw_lines(&mut chart, series)?;
                legend(&mut chart, label, corner)?;
            }
        }
        Panel::Raster { spikes, n, t_max } => {
            let mut chart =
                builder(area, title).build_cartesian_2d(0.0..*t_max, -0.5..(*n as f64 - 0.5)).map_err(err)?;
            mesh(&mut chart, p, &label, true, false)?;
            // One short vertical tick per spike.
            chart
                .draw_series(spikes.iter().map(|&(t, i)| {
                    PathElement::new(
                        vec![(t, i as f64 - 0.4), (t, i as f64 + 0.4)],
                        ShapeStyle::from(&INK).stroke_width(1),
                    )
                }))
                .map_err(err)?;
        }
        Panel::Histogram { values, bins, reference } => {
            let finite: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            let (lo, hi) = finite.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(*v), b.max(*v)));
            let (lo, hi) = match reference {
                Some((r, _)) if lo.is_finite() => (lo.min(*r), hi.max(*r)),
                Some((r, _)) => (*r - 1.0, *r + 1.0),
                None if lo.is_finite() => (lo, hi),
                None => (0.0, 1.0),
            };
            let (lo, hi) = if hi > lo { (lo, hi) } else { (lo - 0.5, hi + 0.5) };
            let bins = (*bins).max(1);
            let w = (hi - lo) / bins as f64;
            let mut counts = vec![0u32; bins];
            for v in &finite {
                counts[(((v - lo) / w) as usize).min(bins - 1)] += 1;
            }
            let top = f64::from(counts.iter().copied().max().unwrap_or(0).max(1)) * 1.1;
            let mut chart = builder(area, title)
                .build_cartesian_2d(lo - 0.02 * (hi - lo)..hi + 0.02 * (hi - lo), 0.0..top)
                .map_err(err)?;
            mesh(&mut chart, p, &label, true, true)?;
            chart
                .draw_series(counts.iter().enumerate().map(|(k, &c)| {
                    let x0 = lo + k as f64 * w;
                    Rectangle::new(
                        [(x0, 0.0), (x0 + w, f64::from(c))],
                        ShapeStyle::from(&COMPONENT[0].mix(0.7)).filled(),
                    )
                }))
                .map_err(err)?;
            if let Some((r, name)) = reference {
                let style = ShapeStyle::from(&ACCENT).stroke_width(2);
                chart
                    .draw_series(LineSeries::new(vec![(*r, 0.0), (*r, top)], style))
                    .map_err(err)?
                    .label(name.clone())
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                legend(&mut chart, label, SeriesLabelPosition::UpperRight)?;
            }
        }
        Panel::Bars { groups, series, log_y } => draw_bars(p, title, area, groups, series, *log_y)?,
        Panel::Scatter { points } => {
            let ((x0, x1), (y0, y1)) = bounds(points.iter().copied());
            let (lo, hi) = (x0.min(y0), x1.max(y1));
            let mut chart = builder(area, title).build_cartesian_2d(lo..hi, lo..hi).map_err(err)?;
            mesh(&mut chart, p, &label, false, true)?;
            chart
                .draw_series(LineSeries::new(vec![(lo, lo), (hi, hi)], ShapeStyle::from(&ACCENT).stroke_width(2)))
                .map_err(err)?;
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 2, ShapeStyle::from(&INK.mix(0.5)).filled())))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Grouped bars (see [`Panel::Bars`]); the legend goes above the bars, in headroom.
fn draw_bars<DB: DrawingBackend>(
    p: &Labeled,
    title: &str,
    area: &DrawingArea<DB, Shift>,
    groups: &[String],
    series: &[(String, Vec<f64>, RGBColor)],
    log_y: bool,
) -> Result<()> {
    let label = (FONT, 15).into_font();
    let values = || series.iter().flat_map(|s| s.1.iter().copied()).filter(|v| v.is_finite() && (!log_y || *v > 0.0));
    let (lo, hi) = values().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (1e-3, 1.0) };
    let n_groups = groups.len().max(1);
    let width = 0.8 / series.len().max(1) as f64;
    // Legend rows above the tallest bar.
    let rows = series.len() as f64;
    let x_range = -0.5..n_groups as f64 - 0.5;
    let names = |v: &f64| {
        let k = v.round();
        if (v - k).abs() < 1e-6 && k >= 0.0 {
            groups.get(k as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    macro_rules! bars {
        ($chart:expr, $base:expr) => {{
            let mut chart = $chart;
            chart
                .configure_mesh()
                .light_line_style(TRANSPARENT)
                .disable_x_mesh()
                .x_labels(n_groups)
                .x_desc(p.x.as_str())
                .y_desc(p.y.as_str())
                .x_label_formatter(&names)
                .y_label_formatter(&|v| tick(v))
                .label_style(label.clone())
                .axis_desc_style(label.clone())
                .draw()
                .map_err(err)?;
            for (k, (name, v, color)) in series.iter().enumerate() {
                let style = ShapeStyle::from(&color.mix(0.8)).filled();
                chart
                    .draw_series(v.iter().enumerate().filter(|(_, y)| y.is_finite() && (!log_y || **y > 0.0)).map(
                        |(g, y)| {
                            let x0 = g as f64 - 0.4 + k as f64 * width;
                            Rectangle::new([(x0, $base), (x0 + width, *y)], style)
                        },
                    ))
                    .map_err(err)?
                    .label(name.clone())
                    .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 14, y + 5)], style));
            }
            legend(&mut chart, label.clone(), SeriesLabelPosition::UpperRight)?;
        }};
    }
    if log_y {
        let (bottom, top) = (lo * 0.5, hi * (hi / (lo * 0.5)).max(10.0).powf(0.15 * rows));
        bars!(builder(area, title).build_cartesian_2d(x_range, (bottom..top).log_scale()).map_err(err)?, bottom);
    } else {
        let top = hi.max(0.0) * (1.0 + 0.2 * rows) + f64::EPSILON;
        let bottom = lo.min(0.0);
        bars!(builder(area, title).build_cartesian_2d(x_range, bottom..top).map_err(err)?, 0.0);
    }
    Ok(())
}

/// Draws lines (dashed or solid, markers on sparse ones, legend entries for named ones) on any
/// pair of f64 axes (linear or logarithmic).
fn draw_lines<'a, DB, X, Y>(chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>, series: &[Series]) -> Result<()>
where
    DB: DrawingBackend + 'a,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    for s in series {
        let style = ShapeStyle::from(&s.color).stroke_width(width(s.points.len()));
        // Sparse data (a sweep) gets a marker on every point.
        if s.points.len() <= MARKED_POINTS {
            chart
                .draw_series(s.points.iter().map(|p| Circle::new(*p, 4, ShapeStyle::from(&s.color).filled())))
                .map_err(err)?;
        }
        // A series without a name has no legend entry.
        if s.dashed {
            let drawn = chart.draw_series(DashedLineSeries::new(s.points.clone(), 7, 5, style)).map_err(err)?;
            if !s.name.is_empty() {
                drawn.label(s.name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], style));
            }
        } else {
            let drawn = chart.draw_series(LineSeries::new(s.points.clone(), style)).map_err(err)?;
            if !s.name.is_empty() {
                drawn.label(s.name.clone()).legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
            }
        }
    }
    Ok(())
}

/// The corner of the plot that the fewest points of the series fall in, and how many fall in
/// it: where the legend hides the least data. The corner box is the legend's estimated size
/// (from the number and length of the names) plus a margin. `fy` maps y to the axis' scale.
fn emptiest_corner(
    series: &[Series],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
    fy: impl Fn(f64) -> f64,
) -> (SeriesLabelPosition, usize) {
    let named: Vec<&str> = series.iter().map(|s| s.name.as_str()).filter(|n| !n.is_empty()).collect();
    // Plot area of a panel, about 540 x 240 px; legend rows ~22 px, characters ~8 px.
    let lh = ((named.len() as f64 * 22.0 + 24.0) / 240.0).min(0.95);
    let lw = ((named.iter().map(|n| n.len()).max().unwrap_or(0) as f64 * 8.0 + 60.0) / 540.0).min(0.95);
    let mut counts = [0usize; 4];
    for s in series {
        // Lines are sampled along their segments too: a steep segment crosses a corner
        // without a point in it.
        for w in s.points.windows(2) {
            for k in 0..4 {
                let f = k as f64 / 4.0;
                let (x, y) = (w[0].0 + f * (w[1].0 - w[0].0), fy(w[0].1) + f * (fy(w[1].1) - fy(w[0].1)));
                let (u, v) = ((x - x0) / (x1 - x0), (y - y0) / (y1 - y0));
                let (left, right, top, bottom) = (u < lw, u > 1.0 - lw, v > 1.0 - lh, v < lh);
                for (c, hit) in [(0, top && right), (1, top && left), (2, bottom && right), (3, bottom && left)] {
                    counts[c] += usize::from(hit);
                }
            }
        }
    }
    let corners = [
        SeriesLabelPosition::UpperRight,
        SeriesLabelPosition::UpperLeft,
        SeriesLabelPosition::LowerRight,
        SeriesLabelPosition::LowerLeft,
    ];
    // The first corner with the fewest points (upper right on ties).
    let best = (0..4).min_by_key(|&c| counts[c]).unwrap_or(0);
    (corners.into_iter().nth(best).unwrap_or(SeriesLabelPosition::UpperRight), counts[best])
}

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    font: FontDesc<'_>,
    position: SeriesLabelPosition,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(INK.mix(0.4))
        .label_font(font)
        .position(position)
        .draw()
        .map_err(err)
}
