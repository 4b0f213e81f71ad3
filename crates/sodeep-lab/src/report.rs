//! Plots (PNG, via plotters with an embedded font so no system font library is needed).

use std::path::Path;
use std::sync::Once;

use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use crate::error::{Error, Result};
use sodeep::eval::RankSweep;

fn ensure_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // A failure here only means text renders in the fallback; the plot is still drawn.
        let _ = register_font(
            "sans-serif",
            FontStyle::Normal,
            epaint_default_fonts::UBUNTU_LIGHT,
        );
    });
}

/// The typed error of a failed plot of `path`.
fn plot_error(path: &Path) -> impl Fn(String) -> Error + '_ {
    move |reason| Error::Plot {
        path: path.to_path_buf(),
        reason,
    }
}

/// Draws the legend box (at `position`, or plotters' default) and writes the file.
fn finish<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    root: &DrawingArea<DB, plotters::coord::Shift>,
    position: Option<SeriesLabelPosition>,
) -> std::result::Result<(), String> {
    let mut legend = chart.configure_series_labels();
    if let Some(p) = position {
        legend.position(p);
    }
    legend
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// Draws the paper's Fig. 5 (true and predicted rank of `y_1` as it sweeps [-1, 1]) to a PNG.
pub fn plot_rank_sweep(sweep: &RankSweep, title: &str, path: &Path) -> Result<()> {
    ensure_font();
    let err = plot_error(path);
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let lo = sweep
        .predicted
        .iter()
        .chain(&sweep.true_rank)
        .cloned()
        .fold(f64::INFINITY, f64::min)
        .min(0.0);
    let hi = sweep
        .predicted
        .iter()
        .chain(&sweep.true_rank)
        .cloned()
        .fold(f64::NEG_INFINITY, f64::max)
        .max(1.0);
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(60)
        .build_cartesian_2d(-1.0f64..1.0f64, lo..hi)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("y_1")
        .y_desc("rank of y_1 (SoDeep, 1/d = largest)")
        .draw()
        .map_err(|e| err(e.to_string()))?;
    let series = [
        ("true rank", &sweep.true_rank, BLACK),
        ("sorter's rank", &sweep.predicted, RED),
    ];
    for (label, ys, color) in series {
        chart
            .draw_series(LineSeries::new(
                sweep.y1.iter().cloned().zip(ys.iter().cloned()),
                color.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    finish(&mut chart, &root, None).map_err(err)
}

/// Draws one line per named series (`y` per epoch, epochs 1..) to a PNG: the training curves
/// of an experiment, one per loss.
pub fn plot_curves(
    series: &[(String, Vec<f64>)],
    title: &str,
    y_desc: &str,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let err = plot_error(path);
    let finite = || {
        series
            .iter()
            .flat_map(|(_, ys)| ys.iter().cloned())
            .filter(|v| v.is_finite())
    };
    let lo = finite().fold(f64::INFINITY, f64::min);
    let hi = finite().fold(f64::NEG_INFINITY, f64::max);
    let (lo, hi) = if lo.is_finite() && hi > lo {
        let pad = 0.05 * (hi - lo);
        (lo - pad, hi + pad)
    } else if lo.is_finite() {
        (lo - 0.5, lo + 0.5)
    } else {
        (0.0, 1.0)
    };
    let epochs = series
        .iter()
        .map(|(_, ys)| ys.len())
        .max()
        .unwrap_or(1)
        .max(2);
    let root = BitMapBackend::new(path, (900, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(70)
        .build_cartesian_2d(1.0f64..epochs as f64, lo..hi)
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc("epoch")
        .y_desc(y_desc)
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (k, (label, ys)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        chart
            .draw_series(LineSeries::new(
                ys.iter()
                    .enumerate()
                    .filter(|(_, v)| v.is_finite())
                    .map(|(i, &v)| ((i + 1) as f64, v)),
                color.stroke_width(2),
            ))
            .map_err(|e| err(e.to_string()))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
    }
    finish(&mut chart, &root, Some(SeriesLabelPosition::LowerRight)).map_err(err)
}

/// Draws one line per named series of `(x, y)` points on log–log axes to a PNG: timings
/// against problem size.
pub fn plot_loglog(
    series: &[(String, Vec<(f64, f64)>)],
    title: &str,
    x_desc: &str,
    y_desc: &str,
    path: &Path,
) -> Result<()> {
    ensure_font();
    let err = plot_error(path);
    let pts = || {
        series
            .iter()
            .flat_map(|(_, p)| p.iter().cloned())
            .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
    };
    let (x_lo, x_hi) = pts().fold((f64::INFINITY, 0.0f64), |(a, b), (x, _)| {
        (a.min(x), b.max(x))
    });
    let (y_lo, y_hi) = pts().fold((f64::INFINITY, 0.0f64), |(a, b), (_, y)| {
        (a.min(y), b.max(y))
    });
    if !(x_lo.is_finite() && y_lo.is_finite()) {
        return Err(err("no positive point to draw".into()));
    }
    let root = BitMapBackend::new(path, (900, 650)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 24))
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(80)
        .build_cartesian_2d(
            (x_lo * 0.8..x_hi * 1.25).log_scale(),
            (y_lo * 0.5..y_hi * 2.0).log_scale(),
        )
        .map_err(|e| err(e.to_string()))?;
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .y_label_formatter(&|v| format!("{v:.0e}"))
        .draw()
        .map_err(|e| err(e.to_string()))?;
    for (k, (label, p)) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let line: Vec<(f64, f64)> = p
            .iter()
            .cloned()
            .filter(|(x, y)| *x > 0.0 && *y > 0.0)
            .collect();
        chart
            .draw_series(LineSeries::new(line.clone(), color.stroke_width(2)))
            .map_err(|e| err(e.to_string()))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart
            .draw_series(
                line.into_iter()
                    .map(|pt| Circle::new(pt, 3, color.filled())),
            )
            .map_err(|e| err(e.to_string()))?;
    }
    finish(&mut chart, &root, Some(SeriesLabelPosition::UpperLeft)).map_err(err)
}
