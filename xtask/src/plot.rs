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

/// Renders `figure` to `dir/id.png` and `dir/id.svg`.
pub fn render(figure: &Figure, dir: &Path, id: &str) -> Result<()> {
    register_font()?;
    let rows = figure.panels.len().div_ceil(figure.cols) as u32;
    let size = (WIDTH_PER_COL * figure.cols as u32, HEIGHT_PER_ROW * rows);
    let png = dir.join(format!("{id}.png"));
    let svg = dir.join(format!("{id}.svg"));
    draw(figure, BitMapBackend::new(&png, size).into_drawing_area())?;
    draw(figure, SVGBackend::new(&svg, size).into_drawing_area())?;
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

fn draw_panel<DB: DrawingBackend>(p: &Labeled, title: &str, area: &DrawingArea<DB, Shift>) -> Result<()> {
    let caption = (FONT, 20).into_font();
    let label = (FONT, 15).into_font();
    match &p.panel {
        Panel::Lines { series, log_y } => {
            let ((x0, x1), (y0, y1)) = bounds(series.iter().flat_map(|s| s.points.iter().copied()));
            let mut builder = ChartBuilder::on(area);
            builder.caption(title, caption).margin(12).x_label_area_size(42).y_label_area_size(78);
            if *log_y {
                let lo = series
                    .iter()
                    .flat_map(|s| s.points.iter().map(|p| p.1))
                    .filter(|v| *v > 0.0)
                    .fold(f64::INFINITY, f64::min);
                let lo = if lo.is_finite() { lo * 0.8 } else { 1e-3 };
                let hi = y1.max(lo * 10.0) * 1.2;
                let mut chart = builder.build_cartesian_2d(x0..x1, (lo..hi).log_scale()).map_err(err)?;
                chart
                    .configure_mesh()
                    .x_desc(p.x.as_str())
                    .y_desc(p.y.as_str())
                    .y_label_formatter(&|v| tick(v))
                    .x_label_formatter(&|v| tick(v))
                    .label_style(label.clone())
                    .axis_desc_style(label.clone())
                    .draw()
                    .map_err(err)?;
                for s in series {
                    let pts: Vec<(f64, f64)> = s.points.iter().copied().filter(|p| p.1 > 0.0).collect();
                    let style = ShapeStyle::from(&s.color).stroke_width(width(pts.len()));
                    chart
                        .draw_series(LineSeries::new(pts.clone(), style))
                        .map_err(err)?
                        .label(s.name.clone())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                    chart
                        .draw_series(pts.iter().map(|p| Circle::new(*p, 3, ShapeStyle::from(&s.color).filled())))
                        .map_err(err)?;
                }
                legend(&mut chart, label)?;
            } else {
                let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(err)?;
                chart
                    .configure_mesh()
                    .x_desc(p.x.as_str())
                    .y_desc(p.y.as_str())
                    .y_label_formatter(&|v| tick(v))
                    .x_label_formatter(&|v| tick(v))
                    .label_style(label.clone())
                    .axis_desc_style(label.clone())
                    .draw()
                    .map_err(err)?;
                for s in series {
                    let style = ShapeStyle::from(&s.color).stroke_width(width(s.points.len()));
                    if s.dashed {
                        chart
                            .draw_series(DashedLineSeries::new(s.points.clone(), 7, 5, style))
                            .map_err(err)?
                            .label(s.name.clone())
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 7, y)], style));
                    } else {
                        chart
                            .draw_series(LineSeries::new(s.points.clone(), style))
                            .map_err(err)?
                            .label(s.name.clone())
                            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                    }
                }
                legend(&mut chart, label)?;
            }
        }
        Panel::Raster { spikes, n, t_max } => {
            let mut chart = ChartBuilder::on(area)
                .caption(title, caption)
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(78)
                .build_cartesian_2d(0.0..*t_max, -0.5..(*n as f64 - 0.5))
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(p.x.as_str())
                .y_desc(p.y.as_str())
                .x_label_formatter(&|v| tick(v))
                .y_label_formatter(&|v| format!("{v:.0}"))
                .label_style(label.clone())
                .axis_desc_style(label)
                .disable_y_mesh()
                .draw()
                .map_err(err)?;
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
        Panel::Scatter { points } => {
            let ((x0, x1), (y0, y1)) = bounds(points.iter().copied());
            let (lo, hi) = (x0.min(y0), x1.max(y1));
            let mut chart = ChartBuilder::on(area)
                .caption(title, caption)
                .margin(12)
                .x_label_area_size(42)
                .y_label_area_size(78)
                .build_cartesian_2d(lo..hi, lo..hi)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc(p.x.as_str())
                .y_desc(p.y.as_str())
                .x_label_formatter(&|v| tick(v))
                .y_label_formatter(&|v| tick(v))
                .label_style(label.clone())
                .axis_desc_style(label)
                .draw()
                .map_err(err)?;
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

fn legend<'a, DB: DrawingBackend + 'a, CT: plotters::coord::CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    font: FontDesc<'_>,
) -> Result<()> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(INK.mix(0.4))
        .label_font(font)
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(err)
}
