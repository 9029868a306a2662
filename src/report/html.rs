//! `report.html`: one self-contained file that opens offline. It is report.md's content (the
//! same renderer, converted by a tiny Markdown subset converter, so the two never disagree),
//! preceded by the report card and followed by the charts, all PNGs inlined as `data:` URIs.
//! Inline CSS, no scripts, and a Content-Security-Policy that forbids every fetch, so a browser
//! opening it makes no network request even if a future edit adds a stray URL.

use std::fmt::Write as _;
use std::path::Path;

use base64::Engine;

use super::charts::CHARTS;
use crate::metrics::RunResult;

const CSS: &str = "
body{font-family:'DejaVu Sans',Verdana,system-ui,sans-serif;color:#212529;background:#f7f8fa;margin:0}
main{max-width:1280px;margin:0 auto;padding:24px 32px 64px;background:#fff}
h1{font-size:28px;margin:8px 0 12px}h2{font-size:22px;margin:36px 0 10px;border-bottom:1px solid #dee2e6;padding-bottom:4px}
h3{font-size:18px;margin:24px 0 8px}p,li{line-height:1.5}
table{border-collapse:collapse;margin:8px 0 16px;font-size:14px;font-variant-numeric:tabular-nums}
th,td{border:1px solid #dee2e6;padding:4px 10px}th{background:#eef1f5}tr:nth-child(even) td{background:#fafbfc}
code{background:#f1f3f5;padding:1px 4px;border-radius:3px;font-size:90%}
figure{margin:16px 0 32px}figure img,.card img{width:100%;height:auto;border:1px solid #dee2e6}
figcaption{color:#6c757d;font-size:14px;margin-top:4px}.fail{color:#a81c1c;font-weight:bold}
";

/// Write `dir/report.html` from the result and whatever PNGs are already in `dir`.
pub fn write(dir: &Path, result: &RunResult) -> anyhow::Result<()> {
    let html = render(dir, result);
    super::write_atomic(&dir.join("report.html"), html.as_bytes())
}

/// A PNG as a `data:` URI, or `None` when the file is missing (a chart that failed or does not
/// apply is left out, not shown broken).
fn data_uri(path: &Path) -> Option<String> {
    let bytes = std::fs::read(path).ok()?;
    Some(format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

pub fn render(dir: &Path, result: &RunResult) -> String {
    let title = format!("peakready report: {}", result.scenario.name);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; style-src 'unsafe-inline'\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n",
        escape(&title)
    );
    // The card goes right under the report's title (report.md's first heading).
    let body = markdown_to_html(&super::markdown::render(result));
    let (head, rest) = match body.find("</h1>\n") {
        Some(i) => body.split_at(i + "</h1>\n".len()),
        None => ("", body.as_str()),
    };
    out.push_str(head);
    if let Some(uri) = data_uri(&dir.join("report-card.png")) {
        let badges = super::card::Badge::for_result(result);
        let words = super::card::text(result, &badges).replace('\n', " · ");
        let _ = writeln!(
            out,
            "<div class=\"card\"><img src=\"{uri}\" alt=\"Report card: {}\"></div>",
            escape(&words)
        );
    }
    out.push_str(rest);
    let figures: Vec<String> = CHARTS
        .iter()
        .filter_map(|(file, caption, _)| {
            let uri = data_uri(&dir.join("charts").join(file))?;
            Some(format!("<figure><img src=\"{uri}\" alt=\"{0}\"><figcaption>{0} (charts/{file})</figcaption></figure>", escape(caption)))
        })
        .collect();
    if !figures.is_empty() {
        out.push_str("<h2>Charts</h2>\n");
        for f in figures {
            out.push_str(&f);
            out.push('\n');
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Inline Markdown as we write it: `**bold**`, `*emphasis*` and `` `code` ``. Text is escaped
/// first; URLs stay text (no auto-links: the report must not invite fetches).
fn inline(text: &str) -> String {
    let text = escape(text);
    let mut out = String::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let (marker, open, close) = if rest.starts_with('`') {
            ("`", "<code>", "</code>")
        } else if rest.starts_with("**") {
            ("**", "<strong>", "</strong>")
        } else if rest.starts_with('*') {
            ("*", "<em>", "</em>")
        } else {
            // Markers are ASCII, so `find` lands on a char boundary; it is never 0 here.
            let next = rest.find(['`', '*']).unwrap_or(rest.len());
            let (chunk, tail) = rest.split_at(next);
            out.push_str(chunk);
            rest = tail;
            continue;
        };
        match rest[marker.len()..].find(marker) {
            Some(end) => {
                let inner = &rest[marker.len()..marker.len() + end];
                if marker == "`" {
                    let _ = write!(out, "{open}{inner}{close}");
                } else {
                    let _ = write!(out, "{open}{}{close}", inline_unescaped(inner));
                }
                rest = &rest[marker.len() * 2 + end..];
            }
            None => {
                out.push_str(marker);
                rest = &rest[marker.len()..];
            }
        }
    }
    out
}

/// [`inline`] on already-escaped text (nested emphasis inside bold).
fn inline_unescaped(text: &str) -> String {
    inline(
        &text
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\""),
    )
}

fn cells(line: &str) -> Vec<&str> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = t.strip_suffix('|').unwrap_or(t);
    t.split('|').map(str::trim).collect()
}

fn is_separator(line: &str) -> bool {
    let c = cells(line);
    !c.is_empty()
        && c.iter()
            .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':')))
}

/// The Markdown subset report.md uses: ATX headings, `- ` lists, pipe tables (with `:---`
/// alignment), paragraphs, and inline bold / emphasis / code.
pub fn markdown_to_html(md: &str) -> String {
    let lines: Vec<&str> = md.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim_start();
        if trimmed.is_empty() {
            i += 1;
        } else if let Some(level) =
            (1..=6).find(|&n| trimmed.starts_with(&format!("{} ", "#".repeat(n))))
        {
            let _ = writeln!(
                out,
                "<h{level}>{}</h{level}>",
                inline(trimmed[level + 1..].trim())
            );
            i += 1;
        } else if trimmed.starts_with("- ") {
            out.push_str("<ul>\n");
            while i < lines.len() && lines[i].trim_start().starts_with("- ") {
                let _ = writeln!(out, "<li>{}</li>", inline(&lines[i].trim_start()[2..]));
                i += 1;
            }
            out.push_str("</ul>\n");
        } else if trimmed.starts_with('|') && lines.get(i + 1).is_some_and(|l| is_separator(l)) {
            let align: Vec<&str> = cells(lines[i + 1])
                .iter()
                .map(|c| {
                    if c.ends_with(':') && !c.starts_with(':') {
                        "right"
                    } else {
                        "left"
                    }
                })
                .collect();
            let cell = |tag: &str, j: usize, text: &str| {
                let class = if text.contains("FAIL") {
                    " class=\"fail\""
                } else {
                    ""
                };
                format!(
                    "<{tag} style=\"text-align:{}\"{class}>{}</{tag}>",
                    align.get(j).unwrap_or(&"left"),
                    inline(text)
                )
            };
            out.push_str("<table>\n<thead><tr>");
            for (j, c) in cells(lines[i]).iter().enumerate() {
                out.push_str(&cell("th", j, c));
            }
            out.push_str("</tr></thead>\n<tbody>\n");
            i += 2;
            while i < lines.len() && lines[i].trim_start().starts_with('|') {
                out.push_str("<tr>");
                for (j, c) in cells(lines[i]).iter().enumerate() {
                    out.push_str(&cell("td", j, c));
                }
                out.push_str("</tr>\n");
                i += 1;
            }
            out.push_str("</tbody>\n</table>\n");
        } else {
            let mut para = Vec::new();
            while i < lines.len() {
                let t = lines[i].trim_start();
                if t.is_empty() || t.starts_with('#') || t.starts_with("- ") || t.starts_with('|') {
                    break;
                }
                para.push(t);
                i += 1;
            }
            let _ = writeln!(out, "<p>{}</p>", inline(&para.join(" ")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_the_markdown_we_write() {
        let md = "# Title <x>\n\nSome *intended* text with `code` and **bold:** x\n\n- **Result:** ok\n- two\n\n| a | b |\n| :-- | --: |\n| 1 | **FAIL** |\n";
        let html = markdown_to_html(md);
        assert!(html.contains("<h1>Title &lt;x&gt;</h1>"), "{html}");
        assert!(html.contains("<p>Some <em>intended</em> text with <code>code</code> and <strong>bold:</strong> x</p>"), "{html}");
        assert!(
            html.contains("<li><strong>Result:</strong> ok</li>\n<li>two</li>"),
            "{html}"
        );
        assert!(
            html.contains("<th style=\"text-align:right\">b</th>"),
            "{html}"
        );
        assert!(
            html.contains("class=\"fail\"><strong>FAIL</strong></td>"),
            "{html}"
        );
    }

    #[test]
    fn unmatched_markers_and_unicode_survive() {
        assert_eq!(inline("a * b → c"), "a * b → c");
        assert_eq!(inline("≤ 100 ms `x"), "≤ 100 ms `x");
    }
}
