//! Charts, report card and report.html from a real (short) run on the embedded server: every PNG
//! decodes, is 1600×900 and is not blank; the HTML is self-contained; headless Chromium renders
//! it (skipped, loudly, when `chromium` is not installed); and degenerate inputs (no per-second
//! rows, no timeseries.csv) still produce every file that can be produced, without a panic.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::common::*;

const CHARTS: [&str; 6] = [
    "latency.png",
    "regions.png",
    "connect-breakdown.png",
    "load-vs-p99.png",
    "errors.png",
    "viewers.png",
];

/// One 4 s run shared by the tests of this module (each test copies it before changing it).
fn run_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let base = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("charts-suite-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base).expect("mkdir");
        let scenario = write(&base, "charts.yaml", &scenario_yaml("embedded", 4, 25, ""));
        let out_dir = base.join("out");
        let out = bin()
            .args(["run", "--seed", "11", "--drain", "5s"])
            .arg(&scenario)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .expect("run");
        assert_eq!(
            out.status.code(),
            Some(0),
            "stdout: {}\nstderr: {}",
            stdout(&out),
            stderr(&out)
        );
        out_dir
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir").flatten() {
        let path = entry.path();
        if path.is_file() {
            std::fs::copy(&path, to.join(entry.file_name())).expect("copy");
        }
    }
}

/// Decode a PNG; assert its size and that it has more than one colour.
fn assert_png(path: &Path, width: u32, height: u32) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file)
        .read_info()
        .unwrap_or_else(|e| panic!("{} does not decode: {e}", path.display()));
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut buf)
        .unwrap_or_else(|e| panic!("{} frame: {e}", path.display()));
    assert_eq!(
        (info.width, info.height),
        (width, height),
        "{}",
        path.display()
    );
    let px = info.color_type.samples()
        * match info.bit_depth {
            png::BitDepth::Sixteen => 2,
            _ => 1,
        };
    let data = &buf[..info.buffer_size()];
    let first = &data[..px];
    let distinct = data.chunks(px).filter(|p| *p != first).count();
    // Not one colour, and not a nearly empty canvas either: text and data cover well over 1%.
    assert!(
        distinct > (width * height / 100) as usize,
        "{} is (nearly) a single colour: {distinct} differing pixels",
        path.display()
    );
}

#[test]
fn a_run_writes_every_chart_the_card_and_a_self_contained_html() {
    let dir = run_dir();
    for chart in CHARTS {
        assert_png(&dir.join("charts").join(chart), 1600, 900);
    }
    // HLS viewers measure stall_ratio, so the stall chart is drawn too.
    assert_png(&dir.join("charts/stall-ratio.png"), 1600, 900);
    assert_png(&dir.join("report-card.png"), 1600, 900);

    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    let lower = html.to_lowercase();
    for attr in [
        "src=\"http",
        "href=\"http",
        "src='http",
        "href='http",
        "url(http",
        "@import",
        "<script",
        "<link",
    ] {
        assert!(
            !lower.contains(attr),
            "report.html must not fetch anything: found {attr}"
        );
    }
    assert_eq!(
        html.matches("<img src=\"data:image/png;base64,").count(),
        CHARTS.len() + 2,
        "card + every chart + the stall chart embedded"
    );
    assert!(html.contains("Content-Security-Policy"));
    // The same content as report.md: every heading of report.md appears in the HTML.
    let md = std::fs::read_to_string(dir.join("report.md")).expect("report.md");
    for heading in md.lines().filter_map(|l| l.strip_prefix("## ")) {
        assert!(
            html.contains(&format!("<h2>{heading}</h2>")),
            "report.html misses section {heading}"
        );
    }
    assert!(
        html.contains("<table>") && html.contains("<td style=\"text-align:left\">eu</td>"),
        "tables rendered"
    );
}

#[test]
fn report_renders_charts_from_a_directory_with_no_per_second_rows() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(run_dir(), dir.path());
    let csv = std::fs::read_to_string(dir.path().join("timeseries.csv")).expect("csv");
    let header = csv.lines().next().unwrap_or_default().to_string();
    std::fs::write(dir.path().join("timeseries.csv"), format!("{header}\n")).expect("truncate");
    let out = bin()
        .arg("report")
        .arg(dir.path())
        .output()
        .expect("report");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    for chart in CHARTS {
        assert_png(&dir.path().join("charts").join(chart), 1600, 900);
    }
    assert!(dir.path().join("report.html").exists());
}

#[test]
fn a_missing_timeseries_is_reported_after_writing_everything_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(run_dir(), dir.path());
    std::fs::remove_file(dir.path().join("timeseries.csv")).expect("rm");
    for f in ["report.md", "report.html", "report-card.png"] {
        let _ = std::fs::remove_file(dir.path().join(f));
    }
    let out = bin()
        .arg("report")
        .arg(dir.path())
        .output()
        .expect("report");
    assert_ne!(
        out.status.code(),
        Some(0),
        "a missing timeseries.csv is an error"
    );
    assert!(stderr(&out).contains("timeseries.csv"), "{}", stderr(&out));
    for f in ["report.md", "report.html"] {
        assert!(dir.path().join(f).exists(), "{f} still written");
    }
    assert_png(&dir.path().join("report-card.png"), 1600, 900);
    assert_png(&dir.path().join("charts/regions.png"), 1600, 900);
}

fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|c| {
        Command::new(c)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn report_html_renders_in_headless_chromium_without_console_errors() {
    let Some(browser) = chromium() else {
        eprintln!("\n!!!!!!!! SKIP report_html_renders_in_headless_chromium: `chromium` is not installed (apt-get install -y chromium) !!!!!!!!\n");
        return;
    };
    let html = run_dir().join("report.html");
    let tmp = tempfile::tempdir().expect("tempdir");
    let shot = tmp.path().join("shot.png");
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
        ])
        .args([
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--hide-scrollbars",
            "--window-size=1400,2000",
        ])
        .arg(format!(
            "--user-data-dir={}",
            tmp.path().join("profile").display()
        ))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", html.display()))
        .output()
        .expect("chromium runs");
    let log = stderr(&out);
    assert!(shot.exists(), "no screenshot; chromium said:\n{log}");
    assert_png(&shot, 1400, 2000);
    // Console messages (including CSP violations, i.e. attempted fetches) are logged as
    // `CONSOLE(n)` / `Refused to …` lines.
    let console: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(":CONSOLE(") || l.contains("Refused to"))
        .collect();
    assert!(
        console.is_empty(),
        "console output from report.html:\n{}",
        console.join("\n")
    );
}

/// A PNG's pixels as RGB, row by row: (width, height, pixels).
fn rgb(path: &Path) -> (usize, usize, Vec<[u8; 3]>) {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut reader = png::Decoder::new(file).read_info().expect("decodes");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("frame");
    assert_eq!(info.bit_depth, png::BitDepth::Eight, "{}", path.display());
    let n = info.color_type.samples();
    let px = buf[..info.buffer_size()]
        .chunks(n)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width as usize, info.height as usize, px)
}

/// The run's result with its SLOs replaced by `gates`.
fn with_gates(gates: Vec<peakready::scenario::SloGate>) -> peakready::metrics::RunResult {
    let mut r = peakready::report::load(run_dir()).expect("load");
    r.scenario.slo = gates;
    r
}

const SLO_RED: [u8; 3] = [200, 30, 30];

/// Issue 13: stall-ratio.png promised a red dashed SLO line that a `stall_ratio: 0.02` gate (on
/// the viewers' mean) never drew. With the gate the line is there, beside a mean bar; without a
/// gate there is no red at all (and the subtitle promises none).
#[test]
fn the_stall_chart_draws_the_slo_line_it_promises() {
    use peakready::metrics::{Metric, Stat};
    let dir = tempfile::tempdir().expect("tempdir");
    let gated = with_gates(vec![peakready::scenario::SloGate {
        metric: Metric::StallRatio,
        stat: Stat::Value,
        threshold: 0.02,
    }]);
    let (with, without) = (dir.path().join("with.png"), dir.path().join("without.png"));
    assert!(peakready::report::charts::stall::render(&with, &gated).expect("render"));
    assert!(
        peakready::report::charts::stall::render(&without, &with_gates(vec![])).expect("render")
    );
    let red = |p: &Path| rgb(p).2.iter().filter(|c| **c == SLO_RED).count();
    assert!(
        red(&with) > 500,
        "the dashed SLO line: {} red pixels",
        red(&with)
    );
    assert_eq!(red(&without), 0, "no SLO, no line");
}

/// Issue 13: load-vs-p99.png printed its legend and the SLO and knee labels over the points.
/// Rendered with and without an SLO and a knee (both inside the data's range, so the scales
/// are the same), the two images may differ only by the two dashed lines and by the legend
/// rows above the plot: no label inside the plot.
#[test]
fn load_chart_labels_cover_no_data() {
    use peakready::metrics::{Metric, Stat};
    use peakready::report::charts::{load, series::Series};
    let dir = tempfile::tempdir().expect("tempdir");
    let series = Series::load(&run_dir().join("timeseries.csv")).expect("series");
    let top = |column: &str| {
        series
            .region("all")
            .filter_map(|r| series.get(r, column))
            .fold(0.0, f64::max)
    };
    let (p99, viewers) = (top("join_p99_ms"), top("active_viewers"));
    assert!(p99 > 0.0 && viewers > 0.0, "the run has points");
    let gated = with_gates(vec![peakready::scenario::SloGate {
        metric: Metric::JoinMs,
        stat: Stat::P99,
        threshold: p99 * 0.6,
    }]);
    let plain = with_gates(vec![]);
    let (with, without) = (dir.path().join("with.png"), dir.path().join("without.png"));
    load::render(&with, &gated, &series, Some((viewers * 0.6).round())).expect("render");
    load::render(&without, &plain, &series, None).expect("render");
    // Below the title (100 px) the legend takes its first row; the plot starts lower.
    let (rows, cols) = changed_only_on_lines(&with, &without, 140, 150);
    assert!(!rows.is_empty(), "the SLO line is drawn");
    assert!(!cols.is_empty(), "the knee line is drawn");
}

/// Compares two renders of one chart: below `top`, the pixels that differ must all lie within
/// 2 px of a line (a row or column where more than `line` pixels changed). Returns those rows
/// and columns.
fn changed_only_on_lines(
    with: &Path,
    without: &Path,
    top: usize,
    line: usize,
) -> (Vec<usize>, Vec<usize>) {
    let (w, h, a) = rgb(with);
    let (_, _, b) = rgb(without);
    let differs = |x: usize, y: usize| a[y * w + x] != b[y * w + x];
    let rows: Vec<usize> = (top..h)
        .filter(|&y| (0..w).filter(|&x| differs(x, y)).count() > line)
        .collect();
    let cols: Vec<usize> = (0..w)
        .filter(|&x| (top..h).filter(|&y| differs(x, y)).count() > line)
        .collect();
    let near = |v: usize, set: &[usize]| set.iter().any(|s| s.abs_diff(v) <= 2);
    let stray: Vec<(usize, usize)> = (top..h)
        .flat_map(|y| (0..w).map(move |x| (x, y)))
        .filter(|&(x, y)| differs(x, y) && !near(y, &rows) && !near(x, &cols))
        .collect();
    assert!(
        stray.is_empty(),
        "{} pixels changed inside the plot away from the lines, first at {:?}",
        stray.len(),
        stray.first()
    );
    (rows, cols)
}

/// regions.png printed each SLO's label at the end of its line, over the last group's bars.
/// With and without a connect gate (below the tallest bar, so the scale is the same), only the
/// dashed line changes inside the plot; the label sits under the panel's title.
#[test]
fn region_chart_slo_labels_cover_no_bar() {
    use peakready::metrics::{Metric, Stat};
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = with_gates(vec![]);
    let p99 = plain.overall.metrics[&Metric::ConnectMs].p99;
    let gated = with_gates(vec![peakready::scenario::SloGate {
        metric: Metric::ConnectMs,
        stat: Stat::P99,
        threshold: p99 * 0.6,
    }]);
    let (with, without) = (dir.path().join("with.png"), dir.path().join("without.png"));
    peakready::report::charts::regions::render(&with, &gated).expect("render");
    peakready::report::charts::regions::render(&without, &plain).expect("render");
    // Title, subtitle and the panel titles with the SLO's label end above 170 px.
    let (rows, _) = changed_only_on_lines(&with, &without, 170, 150);
    assert!(!rows.is_empty(), "the SLO line is drawn");
}
