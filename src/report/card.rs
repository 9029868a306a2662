//! `report-card.png`: the one page a client reads. Scenario and event, date, scale in words, a
//! badge per region (colour *and* word), the five numbers that matter against their SLOs, and
//! the top three risks in plain words. Drawn with plotters primitives on the embedded fonts.
//!
//! Badges take a `(label, Severity)` so the analysis can switch PASS/FAIL to READY / AT RISK /
//! NOT READY without touching the drawing: until then [`Badge::from_slo`] derives them.

mod numbers;
mod risks;

use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, VPos};

use super::charts::style::{self, anchored, bold, err, font, Area, MUTED, TEXT};
use crate::format;
use crate::metrics::{Metric, RunResult, RunStatus, Stat};

pub use risks::top_risks;

const WIDTH: u32 = 1600;
const HEIGHT: u32 = 900;
const NAVY: RGBColor = RGBColor(24, 40, 66);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Ok,
    Warning,
    Critical,
}

impl Severity {
    /// Dark enough for white text (WCAG AA at these sizes); the word and symbol carry the
    /// meaning for readers who cannot tell the colours apart.
    pub fn color(self) -> RGBColor {
        match self {
            Severity::Ok => RGBColor(22, 110, 60),
            Severity::Warning => RGBColor(166, 92, 0),
            Severity::Critical => RGBColor(168, 28, 28),
        }
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Severity::Ok => "✓",
            Severity::Warning => "!",
            Severity::Critical => "✗",
        }
    }
}

/// One region's badge: what it says, how bad it is, and a short reason.
#[derive(Debug, Clone)]
pub struct Badge {
    pub region: String,
    pub label: String,
    pub severity: Severity,
    pub detail: String,
}

impl Badge {
    /// READY / AT RISK / NOT READY per region from the readiness analysis, falling back to
    /// SLO pass/fail for results written before the analysis existed.
    pub fn for_result(result: &RunResult) -> Vec<Badge> {
        let Some(readiness) = &result.readiness else {
            return Badge::from_slo(result);
        };
        readiness
            .regions
            .iter()
            .map(|r| {
                let severity = match r.verdict {
                    crate::metrics::result::Verdict::Ready => Severity::Ok,
                    crate::metrics::result::Verdict::AtRisk => Severity::Warning,
                    crate::metrics::result::Verdict::NotReady
                    | crate::metrics::result::Verdict::Incomplete => Severity::Critical,
                };
                Badge {
                    region: r.scope.clone(),
                    label: r.verdict.words().into(),
                    severity,
                    detail: r.reasons.first().cloned().unwrap_or_default(),
                }
            })
            .collect()
    }

    /// PASS/FAIL per region from the SLO results.
    pub fn from_slo(result: &RunResult) -> Vec<Badge> {
        result
            .regions
            .iter()
            .map(|region| {
                let gates: Vec<_> = result
                    .slo
                    .iter()
                    .filter(|s| s.scope == region.name)
                    .collect();
                let failed: Vec<_> = gates.iter().filter(|s| !s.passed).collect();
                let (label, severity, detail) = if gates.is_empty() {
                    ("NO SLO", Severity::Warning, "no SLOs were set".to_string())
                } else if let Some(worst) = failed.first() {
                    let more = if failed.len() > 1 {
                        format!(" (+{} more)", failed.len() - 1)
                    } else {
                        String::new()
                    };
                    (
                        "FAIL",
                        Severity::Critical,
                        format!(
                            "{}{more}",
                            gate_words(worst.metric, worst.stat, worst.measured, worst.threshold)
                        ),
                    )
                } else {
                    (
                        "PASS",
                        Severity::Ok,
                        format!("all {} SLOs held", gates.len()),
                    )
                };
                Badge {
                    region: region.name.clone(),
                    label: label.into(),
                    severity,
                    detail,
                }
            })
            .collect()
    }
}

/// "connect p99 142 ms > 100 ms", "error rate 2.1% > 1%", "join p95: no samples".
pub fn gate_words(metric: Metric, stat: Stat, measured: Option<f64>, threshold: f64) -> String {
    let name = metric.name().trim_end_matches("_ms").replace('_', " ");
    let stat = if stat == Stat::Value {
        String::new()
    } else {
        format!(" {stat}")
    };
    match measured {
        Some(m) => format!(
            "{name}{stat} {} > {}",
            format::value(metric, m),
            format::value(metric, threshold)
        ),
        None => format!("{name}{stat}: no samples"),
    }
}

/// "3% rehearsal", "full-scale run", "150% stress run".
pub fn scale_words(scale: f64) -> String {
    if (scale - 1.0).abs() < 1e-9 {
        "full-scale run".into()
    } else if scale < 1.0 {
        format!("{} rehearsal", format::pct(scale))
    } else {
        format!("{} stress run", format::pct(scale))
    }
}

/// The event's name, from the resolved scenario kept in results.json.
pub fn event_name(result: &RunResult) -> Option<String> {
    let event = result.scenario.resolved.as_ref()?.event.as_ref()?;
    Some(event.name.clone())
}

/// The overall label of the card's header: the worst region badge, or the run's own failure.
fn overall_label(result: &RunResult, badges: &[Badge]) -> (String, Severity) {
    match result.status {
        RunStatus::Aborted => ("RUN ABORTED".to_string(), Severity::Critical),
        RunStatus::Interrupted => ("RUN INTERRUPTED".to_string(), Severity::Warning),
        RunStatus::Completed => match badges.iter().max_by_key(|b| b.severity) {
            Some(b) => (format!("OVERALL: {}", b.label), b.severity),
            None => ("NO REGIONS".to_string(), Severity::Warning),
        },
    }
}

/// Every word the card shows, top to bottom, uncut: the same figures as the image (both come
/// from here), for report.html's alt text and for tests.
pub fn text(result: &RunResult, badges: &[Badge]) -> String {
    let mut out = String::new();
    let (label, _) = overall_label(result, badges);
    out.push_str(&format!("{label}\n"));
    for b in badges {
        out.push_str(&format!("{}: {} — {}\n", b.region, b.label, b.detail));
    }
    for t in numbers::tiles(result) {
        let status = t.status.map(|s| format!(" — {}", s.1)).unwrap_or_default();
        out.push_str(&format!("{}: {} ({}){status}\n", t.name, t.value, t.target));
    }
    for (i, (_, risk)) in risks::top_risks(result, 3).iter().enumerate() {
        out.push_str(&format!("{}. {risk}\n", i + 1));
    }
    out
}

pub fn render(path: &Path, result: &RunResult, badges: &[Badge]) -> anyhow::Result<()> {
    super::charts::fonts::ensure_registered();
    let root = BitMapBackend::new(path, (WIDTH, HEIGHT)).into_drawing_area();
    root.fill(&RGBColor(247, 248, 250)).map_err(err)?;
    header(&root, result, badges)?;
    section_title(&root, 156, "Regions")?;
    draw_badges(&root, badges)?;
    section_title(&root, 350, "The numbers")?;
    numbers::numbers(&root, result, 390)?;
    section_title(&root, 640, "Top risks")?;
    risks(&root, &risks::top_risks(result, 3), 680)?;
    let footer = format!(
        "{} · seed {} · target {} · started {} · full report: report.html",
        result.tool,
        result.seed,
        result.scenario.target,
        result.started_at.format("%Y-%m-%d %H:%M UTC")
    );
    root.draw(&Text::new(
        footer,
        (40, HEIGHT as i32 - 32),
        font(16).color(&MUTED),
    ))
    .map_err(err)?;
    root.present().map_err(err)
}

fn header(root: &Area, result: &RunResult, badges: &[Badge]) -> anyhow::Result<()> {
    root.draw(&Rectangle::new(
        [(0, 0), (WIDTH as i32, 130)],
        NAVY.filled(),
    ))
    .map_err(err)?;
    let white = |s: TextStyle<'static>| s.color(&WHITE);
    root.draw(&Text::new(
        "PEAK READINESS REPORT CARD",
        (40, 18),
        white(bold(17)).color(&RGBColor(170, 190, 220)),
    ))
    .map_err(err)?;
    let title = event_name(result).unwrap_or_else(|| result.scenario.name.clone());
    root.draw(&Text::new(title, (40, 44), white(bold(40))))
        .map_err(err)?;
    let line = format!(
        "scenario “{}” · {} · {}",
        result.scenario.name,
        scale_words(result.scenario.scale),
        result.started_at.format("%A %-d %B %Y")
    );
    root.draw(&Text::new(line, (40, 96), white(font(20))))
        .map_err(err)?;
    // Overall: the worst region badge, or the run's own failure (aborted, interrupted).
    let (label, severity) = overall_label(result, badges);
    let text = format!("{} {label}", severity.symbol());
    let w = style::font(28)
        .font
        .box_size(&text)
        .map(|(w, _)| w as i32)
        .unwrap_or(300)
        + 60;
    let x0 = WIDTH as i32 - 40 - w;
    root.draw(&Rectangle::new(
        [(x0, 32), (WIDTH as i32 - 40, 98)],
        severity.color().filled(),
    ))
    .map_err(err)?;
    root.draw(&Rectangle::new(
        [(x0, 32), (WIDTH as i32 - 40, 98)],
        WHITE.stroke_width(2),
    ))
    .map_err(err)?;
    root.draw(&Text::new(
        text,
        (x0 + w / 2, 65),
        anchored(bold(28).color(&WHITE), HPos::Center, VPos::Center),
    ))
    .map_err(err)
}

fn section_title(root: &Area, y: i32, text: &str) -> anyhow::Result<()> {
    root.draw(&Text::new(text.to_string(), (40, y), bold(24).color(&NAVY)))
        .map_err(err)?;
    root.draw(&PathElement::new(
        vec![(40, y + 32), (WIDTH as i32 - 40, y + 32)],
        MUTED.mix(0.3).stroke_width(1),
    ))
    .map_err(err)
}

fn draw_badges(root: &Area, badges: &[Badge]) -> anyhow::Result<()> {
    if badges.is_empty() {
        return root
            .draw(&Text::new(
                "No regions in this run.",
                (40, 215),
                font(20).color(&MUTED),
            ))
            .map_err(err);
    }
    let gap = 20;
    let n = badges.len() as i32;
    let w = ((WIDTH as i32 - 80 - gap * (n - 1)) / n).min(520);
    // Many regions: smaller type rather than overflowing boxes.
    let (name_size, label_size, detail_sizes): (u32, u32, &[u32]) = if w < 260 {
        (17, 24, &[13, 12, 11])
    } else {
        (22, 30, &[16, 15, 14, 13])
    };
    for (i, b) in badges.iter().enumerate() {
        let x0 = 40 + i as i32 * (w + gap);
        let (y0, y1) = (200, 340);
        root.draw(&Rectangle::new(
            [(x0, y0), (x0 + w, y1)],
            b.severity.color().filled(),
        ))
        .map_err(err)?;
        let white = |s: TextStyle<'static>| s.color(&WHITE);
        root.draw(&Text::new(
            fit(&b.region, name_size, w - 30),
            (x0 + 16, y0 + 14),
            white(bold(name_size)),
        ))
        .map_err(err)?;
        let word = format!("{} {}", b.severity.symbol(), b.label);
        root.draw(&Text::new(
            word,
            (x0 + 16, y0 + 48),
            white(bold(label_size)),
        ))
        .map_err(err)?;
        // The reason wrapped at words, in smaller type when it needs more lines: never cut
        // inside a word (card::text and report.md have it whole).
        let top = y0 + 82;
        let boxed = wrap_in_box(&b.detail, detail_sizes, w - 30, y1 - 6 - top);
        for (j, line) in boxed.lines.into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (x0 + 16, top + j as i32 * boxed.spacing),
                white(font(boxed.size)),
            ))
            .map_err(err)?;
        }
    }
    Ok(())
}

/// Shorten `text` with an ellipsis until it fits `max_px` at `size`.
pub fn fit(text: &str, size: u32, max_px: i32) -> String {
    let width = |t: &str| style::text_width(t, size);
    if width(text) <= max_px {
        return text.to_string();
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() && width(&format!("{}…", chars.iter().collect::<String>())) > max_px {
        chars.pop();
    }
    format!("{}…", chars.iter().collect::<String>())
}

/// Text wrapped at words into a box (see [`wrap_in_box`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Boxed {
    pub size: u32,
    /// Pixels from one line's top to the next.
    pub spacing: i32,
    pub lines: Vec<String>,
}

/// `text` wrapped at words to `max_px` at the largest of `sizes` (largest first) whose lines
/// all fit `height` pixels. When even the smallest needs more lines than fit, the lines that
/// fit are kept and the last ends with "…" after a whole word: a word is never cut.
pub fn wrap_in_box(text: &str, sizes: &[u32], max_px: i32, height: i32) -> Boxed {
    let fits = |size: u32, n: usize| {
        let spacing = size as i32 + 4;
        (n as i32 - 1).max(0) * spacing + size as i32 <= height
    };
    let smallest = sizes.last().copied().unwrap_or(14);
    for &size in sizes {
        let lines = wrap(text, size, max_px);
        if fits(size, lines.len()) {
            return Boxed {
                size,
                spacing: size as i32 + 4,
                lines,
            };
        }
    }
    let mut lines = wrap(text, smallest, max_px);
    let mut room = lines.len();
    while room > 1 && !fits(smallest, room) {
        room -= 1;
    }
    if room < lines.len() {
        lines.truncate(room);
        if let Some(last) = lines.last_mut() {
            // Drop whole words until the ellipsis fits beside them.
            let width = |t: &str| style::text_width(t, smallest);
            let mut words: Vec<&str> = last.split_whitespace().collect();
            while words.len() > 1 && width(&format!("{} …", words.join(" "))) > max_px {
                words.pop();
            }
            *last = format!("{} …", words.join(" "));
        }
    }
    Boxed {
        size: smallest,
        spacing: smallest as i32 + 4,
        lines,
    }
}

/// Greedy word wrap to `max_px` at `size`.
pub fn wrap(text: &str, size: u32, max_px: i32) -> Vec<String> {
    let width = |t: &str| style::text_width(t, size);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let candidate = if line.is_empty() {
            word.to_string()
        } else {
            format!("{line} {word}")
        };
        if width(&candidate) > max_px && !line.is_empty() {
            lines.push(std::mem::replace(&mut line, word.to_string()));
        } else {
            line = candidate;
        }
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

fn risks(root: &Area, risks: &[(Severity, String)], y: i32) -> anyhow::Result<()> {
    let mut y = y;
    for (i, (severity, text)) in risks.iter().enumerate() {
        root.draw(&Circle::new((58, y + 14), 17, severity.color().filled()))
            .map_err(err)?;
        root.draw(&Text::new(
            format!("{}", i + 1),
            (58, y + 14),
            anchored(bold(19).color(&WHITE), HPos::Center, VPos::Center),
        ))
        .map_err(err)?;
        // 58 px per risk, so three risks always fit above the footer: a longer one is set
        // smaller, never cut inside a word.
        let boxed = wrap_in_box(text, &[21, 19, 17], WIDTH as i32 - 170, 58);
        for (j, line) in boxed.lines.into_iter().enumerate() {
            root.draw(&Text::new(
                line,
                (92, y + 2 + j as i32 * boxed.spacing),
                font(boxed.size).color(&TEXT),
            ))
            .map_err(err)?;
        }
        y += 62;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 13: a region's reason was cut with "…" inside a word. It wraps at words, in
    /// smaller type when it needs a third line, and every word comes out whole.
    #[test]
    fn a_reason_wraps_at_words_and_is_never_cut_inside_one() {
        let reason = "held every SLO up to 1,164 concurrent viewers, 0.26× the readiness target of 4,500 (= 100,000 × 3% × 1.5): the target load was not tested";
        let boxed = wrap_in_box(reason, &[16, 15, 14, 13], 400, 52);
        assert!(boxed.lines.len() >= 3, "{boxed:?}");
        assert!(boxed.size < 16, "{boxed:?}");
        assert_eq!(boxed.lines.join(" "), reason, "every word, whole, in order");
        // Room for one line only: whole words, then "…".
        let one = wrap_in_box(reason, &[16], 300, 20);
        assert_eq!(one.lines.len(), 1, "{one:?}");
        let shown = one.lines[0].trim_end_matches(" …");
        assert!(one.lines[0].ends_with(" …"), "{one:?}");
        assert!(reason.starts_with(&format!("{shown} ")), "{shown:?}");
        // Short text keeps the largest size.
        assert_eq!(wrap_in_box("held", &[16, 13], 463, 52).size, 16);
    }

    #[test]
    fn words_for_scale_and_gates() {
        assert_eq!(scale_words(0.03), "3% rehearsal");
        assert_eq!(scale_words(0.005), "0.5% rehearsal");
        assert_eq!(scale_words(1.0), "full-scale run");
        assert_eq!(
            gate_words(Metric::ConnectMs, Stat::P99, Some(142.0), 100.0),
            "connect p99 142 ms > 100 ms"
        );
        assert_eq!(
            gate_words(Metric::ErrorRate, Stat::Value, Some(0.021), 0.01),
            "error rate 2.1% > 1%"
        );
        assert_eq!(
            gate_words(Metric::JoinMs, Stat::P95, None, 500.0),
            "join p95: no samples"
        );
    }
}
