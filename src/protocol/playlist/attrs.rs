//! The RFC 8216 §4.2 attribute-list lexer (`NAME=VALUE,NAME="quoted, with commas"`), plus the
//! value parsers the playlist tags share. Borrowing, allocation-free, never panics.

use std::time::Duration;

/// One attribute's value. Quoted strings are returned without their quotes; HLS has no escape
/// sequences inside them, so no unescaping is needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Value<'a> {
    pub raw: &'a str,
    pub quoted: bool,
}

/// Iterates over `(name, value)` pairs. A malformed list (missing `=`, unterminated quote) ends
/// the iteration with an `Err` naming the problem, after which it yields nothing.
pub(super) struct Attrs<'a> {
    rest: &'a str,
}

pub(super) fn attrs(list: &str) -> Attrs<'_> {
    Attrs { rest: list }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(&'a str, Value<'a>), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.rest.trim_start_matches([' ', '\t', ',']);
        if s.is_empty() {
            self.rest = s;
            return None;
        }
        let Some(eq) = s.find('=') else {
            self.rest = "";
            return Some(Err("attribute without '='"));
        };
        let name = s[..eq].trim();
        let after = &s[eq + 1..];
        let (value, rest) = if let Some(quoted) = after.strip_prefix('"') {
            let Some(close) = quoted.find('"') else {
                self.rest = "";
                return Some(Err("unterminated quoted string"));
            };
            let value = Value {
                raw: &quoted[..close],
                quoted: true,
            };
            (value, &quoted[close + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            let value = Value {
                raw: after[..end].trim(),
                quoted: false,
            };
            (value, &after[end..])
        };
        self.rest = rest;
        Some(Ok((name, value)))
    }
}

/// A `decimal-floating-point` duration in seconds. Rejects negatives, NaN, infinities and
/// values too large for `Duration`, all of which a hostile server could send.
pub(super) fn seconds(s: &str) -> Option<Duration> {
    let secs: f64 = s.trim().parse().ok()?;
    if !secs.is_finite() || secs < 0.0 {
        return None;
    }
    Duration::try_from_secs_f64(secs).ok()
}

/// A `decimal-resolution`: `1920x1080`.
pub(super) fn resolution(s: &str) -> Option<(u32, u32)> {
    let (w, h) = s.split_once(['x', 'X'])?;
    Some((w.trim().parse().ok()?, h.trim().parse().ok()?))
}

/// An `enumerated-string` `YES`/`NO`; anything else counts as absent.
pub(super) fn yes(v: Value<'_>) -> bool {
    v.raw == "YES"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(s: &str) -> Vec<(&str, &str, bool)> {
        attrs(s)
            .map(|r| r.map(|(n, v)| (n, v.raw, v.quoted)))
            .collect::<Result<_, _>>()
            .expect("valid list")
    }

    #[test]
    fn quoted_values_keep_their_commas() {
        assert_eq!(
            collect(r#"BANDWIDTH=1280000,CODECS="avc1.4d401f,mp4a.40.2",RESOLUTION=1280x720"#),
            vec![
                ("BANDWIDTH", "1280000", false),
                ("CODECS", "avc1.4d401f,mp4a.40.2", true),
                ("RESOLUTION", "1280x720", false),
            ]
        );
    }

    #[test]
    fn tolerates_spaces_and_empty_quoted() {
        assert_eq!(
            collect(r#" A=1 , B="" ,C=x"#),
            vec![("A", "1", false), ("B", "", true), ("C", "x", false)]
        );
    }

    #[test]
    fn malformed_lists_end_in_an_error_not_a_panic() {
        for bad in [r#"A="open"#, "JUSTANAME", "A=1,=", "A=\"é,", "é"] {
            // Must terminate and not panic; whether it errors depends on the input.
            let _ = attrs(bad).count();
        }
        assert!(attrs(r#"A="open"#).any(|r| r.is_err()));
        assert!(attrs("JUSTANAME").any(|r| r.is_err()));
    }

    #[test]
    fn number_parsers_reject_hostile_values() {
        assert_eq!(seconds("6.006"), Some(Duration::from_millis(6006)));
        for bad in ["-1", "NaN", "inf", "1e300", "", "abc"] {
            assert_eq!(seconds(bad), None, "{bad}");
        }
        assert_eq!(resolution("1920x1080"), Some((1920, 1080)));
        assert_eq!(resolution("1920"), None);
    }
}
