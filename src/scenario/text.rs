//! The scenario file as bytes becomes text fit for the parser, or an error with a place.
//!
//! Owns what must hold before YAML is read: a size cap, UTF-8 (an invalid byte is located by
//! line and column), one line-ending convention (a CR-only file from an old Mac editor would
//! otherwise be one long line to the locator, so every later error lost its place), and one YAML
//! document per file (serde_yaml's own "more than one document" error has no location).

use std::borrow::Cow;
use std::path::Path;

use super::error::ScenarioError;
use super::pos::Pos;

/// The largest scenario file read. The reference scenario is ~6 KiB; per-viewer data belongs in
/// a CSV (`viewer.data`), so a file this large is a mistake, and reading it whole is the cost.
pub const MAX_FILE_BYTES: usize = 1 << 20;

/// Reads a file of `what` (`scenario`, `env`) as UTF-8 text, within [`MAX_FILE_BYTES`].
#[allow(clippy::result_large_err)] // one error, returned once per command
pub(crate) fn read(path: &Path, what: &str) -> Result<String, ScenarioError> {
    use std::io::Read;
    let file = path.display().to_string();
    let cannot = |e: std::io::Error| {
        ScenarioError::new(
            &file,
            Pos::default(),
            "",
            format!("cannot read the {what} file: {e}"),
        )
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes))
        .map_err(cannot)?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_large(&file, what));
    }
    decode(bytes, &file, what)
}

#[allow(clippy::result_large_err)]
fn too_large(file: &str, what: &str) -> ScenarioError {
    ScenarioError::new(
        file,
        Pos::default(),
        "",
        format!(
            "the {what} file is larger than {} KiB, the most peakready reads",
            MAX_FILE_BYTES / 1024
        ),
    )
    .suggest("keep the file to settings; per-viewer values belong in a CSV named by viewer.data")
}

/// Text longer than [`MAX_FILE_BYTES`] (given as a string rather than a file) is refused too.
#[allow(clippy::result_large_err)]
pub(crate) fn check_size(text: &str, file: &str) -> Result<(), ScenarioError> {
    if text.len() > MAX_FILE_BYTES {
        return Err(too_large(file, "scenario"));
    }
    Ok(())
}

/// UTF-8, or an error at the first invalid byte (line and column counted in characters, as an
/// editor shows them).
#[allow(clippy::result_large_err)]
fn decode(bytes: Vec<u8>, file: &str, what: &str) -> Result<String, ScenarioError> {
    String::from_utf8(bytes).map_err(|e| {
        let bytes = e.as_bytes();
        let at = e.utf8_error().valid_up_to();
        // Everything before `at` is valid, so this cannot fail; fall back to no place if it did.
        let before = std::str::from_utf8(&bytes[..at]).unwrap_or("");
        let before = normalize_newlines(before);
        let line = before.matches('\n').count() + 1;
        let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        let bad: Vec<String> = bytes[at..]
            .iter()
            .take(e.utf8_error().error_len().unwrap_or(1).max(1))
            .map(|b| format!("0x{b:02x}"))
            .collect();
        ScenarioError::new(
            file,
            Pos { line, col },
            "",
            format!(
                "the {what} file is not valid UTF-8: byte {} cannot start or continue a character",
                bad.join(" ")
            ),
        )
        .suggest("save the file as UTF-8 (editors call it \"UTF-8\" or \"Unicode\"), or retype the character")
    })
}

/// CRLF and lone CR become LF, so lines are counted as an editor counts them and the locator
/// (which splits on LF) sees the same lines serde_yaml does.
pub(crate) fn normalize_newlines(text: &str) -> Cow<'_, str> {
    if text.contains('\r') {
        Cow::Owned(text.replace("\r\n", "\n").replace('\r', "\n"))
    } else {
        Cow::Borrowed(text)
    }
}

/// Where a second YAML document starts (its `---`, or the first content after a `...`), when
/// the text holds more than one; `None` for a single document (a leading `---` is fine).
pub(crate) fn second_document(text: &str) -> Option<Pos> {
    let mut seen_content = false;
    let mut ended = false;
    for (i, line) in text.lines().enumerate() {
        let marker = |m: &str| {
            line.strip_prefix(m)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
        };
        let at = Pos {
            line: i + 1,
            col: 1,
        };
        if marker("---") {
            if seen_content || ended {
                return Some(at);
            }
            continue;
        }
        if marker("...") {
            ended = seen_content;
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if ended {
            return Some(at);
        }
        seen_content = true;
    }
    None
}

/// The error for a file holding several YAML documents.
pub(crate) fn several_documents(file: &str, at: Option<Pos>) -> ScenarioError {
    let problem = match at {
        Some(_) => "a second YAML document starts here; a scenario file holds exactly one",
        None => "the file holds more than one YAML document (`---` separators); a scenario file holds exactly one",
    };
    ScenarioError::new(file, at.unwrap_or_default(), "", problem).suggest(
        "remove this `---` and merge the keys into the first document, or put each scenario in a file of its own",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_documents_are_found_and_single_ones_pass() {
        assert_eq!(second_document("---\na: 1\n"), None);
        assert_eq!(second_document("# c\n---\na: 1\n...\n"), None);
        assert_eq!(
            second_document("a: 1\n---\nb: 2\n"),
            Some(Pos { line: 2, col: 1 })
        );
        assert_eq!(
            second_document("a: 1\n...\nb: 2\n"),
            Some(Pos { line: 3, col: 1 })
        );
        // `---` inside a value is not a marker.
        assert_eq!(second_document("a: ---x\nb: '--- y'\n"), None);
    }

    #[test]
    fn invalid_utf8_is_located_by_line_and_char_column() {
        let e = decode(
            b"name: a\nx: \xc3\xa9t\xff\n".to_vec(),
            "s.yaml",
            "scenario",
        )
        .expect_err("invalid");
        assert_eq!((e.line, e.col), (2, 6), "{e}");
        assert!(e.to_string().contains("0xff"), "{e}");
        let e = decode(b"a\rb: \xfe".to_vec(), "s.yaml", "scenario").expect_err("invalid");
        assert_eq!((e.line, e.col), (2, 4), "a lone CR ends a line: {e}");
    }

    #[test]
    fn line_endings_become_lf() {
        assert_eq!(normalize_newlines("a\r\nb\rc\n"), "a\nb\nc\n");
        assert!(matches!(normalize_newlines("a\nb"), Cow::Borrowed(_)));
    }
}
