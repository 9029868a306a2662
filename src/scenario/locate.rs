//! A tiny YAML locator: key path (`regions[1].weight`) → line and column in the raw text.
//!
//! serde_yaml locates its own errors, but checks made after deserialization (weights, hosts,
//! SLO names) need a place too, and `serde_yaml::Value` keeps no spans. This walks the text the
//! way a reader does: block mappings by indentation, `- ` sequence items, and flow collections
//! (`{ name: x, duration: 5m }`, `[a, b]`) by bracket depth. It only has to be good enough to
//! point at the right line; when it cannot follow a path it falls back to the deepest parent it
//! found. It never fails.

use super::pos::{original_pos, Pos, Shift};

/// 0-based internal position.
type At = (usize, usize);

#[derive(Debug, Clone, Copy)]
enum Scope {
    /// Lines `start..end` whose entries begin at column `indent`.
    Block {
        start: usize,
        end: usize,
        indent: usize,
    },
    /// A `{` or `[` at this position.
    Flow(At),
}

/// One entry of a mapping (`key` set) or sequence (`key` none), and where its value lives.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub key: Option<String>,
    key_at: At,
    value_at: Option<At>,
    child: Option<Scope>,
}

impl Entry {
    pub fn key_pos(&self) -> Pos {
        to_pos(self.key_at)
    }
    /// Where the value starts, or the key when the value is on later lines.
    pub fn value_pos(&self) -> Pos {
        to_pos(self.value_at.unwrap_or(self.key_at))
    }
}

fn to_pos((line, col): At) -> Pos {
    Pos {
        line: line + 1,
        col: col + 1,
    }
}

pub(crate) struct Locator {
    lines: Vec<Vec<char>>,
    /// Substitutions made in the text (see `interpolate.rs`): positions are reported in the
    /// file as written.
    shifts: Vec<Vec<Shift>>,
}

enum Seg {
    Key(String),
    Index(usize),
}

impl Locator {
    pub fn new(text: &str) -> Self {
        Locator {
            lines: text.lines().map(|l| l.chars().collect()).collect(),
            shifts: Vec::new(),
        }
    }

    /// A locator over substituted text that reports positions in the text before substitution.
    pub fn with_shifts(mut self, shifts: Vec<Vec<Shift>>) -> Self {
        self.shifts = shifts;
        self
    }

    /// The value's position for `path` (or its key's, or the nearest parent's), in the file as
    /// written.
    pub fn find(&self, path: &str) -> Pos {
        self.original(self.walk(path).0)
    }

    /// The position of the key that ends `path` (its value's, for a sequence item), or the
    /// nearest parent's value: where "unknown key" points.
    pub fn key_pos(&self, path: &str) -> Pos {
        let (parent, last) = match path.rfind('.') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => ("", path),
        };
        let hit = self
            .entries(parent)
            .and_then(|es| es.into_iter().find(|e| e.key.as_deref() == Some(last)));
        match hit {
            Some(e) => self.original(e.key_pos()),
            None => self.find(path),
        }
    }

    /// A position in the (substituted) text this locator walks, mapped to the file as written.
    pub fn original(&self, pos: Pos) -> Pos {
        if pos.line == 0 {
            return pos;
        }
        original_pos(&self.shifts, pos)
    }

    /// The entries of the mapping or sequence at `path`, if the locator can reach it.
    pub fn entries(&self, path: &str) -> Option<Vec<Entry>> {
        match self.walk(path) {
            (_, Some(scope), true) => Some(self.entries_of(scope)),
            _ => None,
        }
    }

    /// (best position, scope of the value reached, whether the whole path was followed).
    fn walk(&self, path: &str) -> (Pos, Option<Scope>, bool) {
        let segs = parse_path(path);
        let mut scope = Some(self.root());
        let mut best = Pos::default();
        let mut i = 0;
        while i < segs.len() {
            let Some(current) = scope else {
                return (best, None, false);
            };
            let entries = self.entries_of(current);
            let found = match &segs[i] {
                Seg::Index(n) => entries.iter().filter(|e| e.key.is_none()).nth(*n),
                Seg::Key(_) => {
                    // Keys like `p99.9` contain a dot: prefer the longest run of segments that
                    // names a key here.
                    let run = segs[i..]
                        .iter()
                        .take_while(|s| matches!(s, Seg::Key(_)))
                        .count();
                    let mut hit = None;
                    for len in (1..=run).rev() {
                        let joined = segs[i..i + len]
                            .iter()
                            .filter_map(|s| match s {
                                Seg::Key(k) => Some(k.as_str()),
                                Seg::Index(_) => None,
                            })
                            .collect::<Vec<_>>()
                            .join(".");
                        if let Some(e) = entries.iter().find(|e| e.key.as_deref() == Some(&joined))
                        {
                            hit = Some(e);
                            i += len - 1;
                            break;
                        }
                    }
                    hit
                }
            };
            let Some(entry) = found else {
                return (best, None, false);
            };
            best = entry.value_pos();
            scope = entry.child;
            i += 1;
        }
        (best, scope, true)
    }

    fn root(&self) -> Scope {
        let start = (0..self.lines.len()).find(|&l| !self.blank(l)).unwrap_or(0);
        Scope::Block {
            start,
            end: self.lines.len(),
            indent: self.indent(start),
        }
    }

    fn blank(&self, l: usize) -> bool {
        let line = &self.lines[l];
        let first = line.iter().position(|c| !c.is_whitespace());
        match first {
            None => true,
            Some(i) => line[i] == '#' || line.starts_with(&['-', '-', '-']),
        }
    }

    fn indent(&self, l: usize) -> usize {
        self.lines
            .get(l)
            .and_then(|line| line.iter().position(|c| *c != ' '))
            .unwrap_or(0)
    }

    fn char_at(&self, (l, c): At) -> Option<char> {
        self.lines.get(l)?.get(c).copied()
    }

    fn entries_of(&self, scope: Scope) -> Vec<Entry> {
        match scope {
            Scope::Block { start, end, indent } => self.block_entries(start, end, indent),
            Scope::Flow(at) => self.flow_entries(at),
        }
    }

    fn block_entries(&self, start: usize, end: usize, indent: usize) -> Vec<Entry> {
        let mut out = Vec::new();
        for l in start..end.min(self.lines.len()) {
            if self.blank(l) {
                continue;
            }
            let line = &self.lines[l];
            // The first line of a sequence item has `- ` before the entry's column.
            let lead_ok =
                line.len() > indent && line[..indent].iter().all(|c| *c == ' ' || *c == '-');
            if !lead_ok || line[indent] == ' ' {
                continue;
            }
            if l > start && self.indent(l) != indent {
                continue;
            }
            out.push(self.block_entry(l, indent, end));
        }
        out
    }

    fn block_entry(&self, l: usize, col: usize, end: usize) -> Entry {
        let line = &self.lines[l];
        let is_item = line[col] == '-' && line.get(col + 1).map_or(true, |c| *c == ' ');
        if is_item {
            let content = (col + 1..line.len()).find(|&c| line[c] != ' ');
            let item_end = (l + 1..end)
                .find(|&n| !self.blank(n) && self.indent(n) <= col)
                .unwrap_or(end);
            return match content {
                None => Entry {
                    key: None,
                    key_at: (l, col),
                    value_at: None,
                    child: self.child_block(l, col, item_end, false),
                },
                Some(c) => {
                    let child = if matches!(line[c], '{' | '[') {
                        Some(Scope::Flow((l, c)))
                    } else if key_colon(line, c).is_some() {
                        Some(Scope::Block {
                            start: l,
                            end: item_end,
                            indent: c,
                        })
                    } else {
                        None
                    };
                    Entry {
                        key: None,
                        key_at: (l, col),
                        value_at: Some((l, c)),
                        child,
                    }
                }
            };
        }
        let Some(colon) = key_colon(line, col) else {
            return Entry {
                key: Some(unquote(&line[col..].iter().collect::<String>())),
                key_at: (l, col),
                value_at: None,
                child: None,
            };
        };
        let key = unquote(&line[col..colon].iter().collect::<String>());
        let value = (colon + 1..line.len()).find(|&c| line[c] != ' ');
        match value {
            Some(v) if line[v] != '#' => Entry {
                key: Some(key),
                key_at: (l, col),
                value_at: Some((l, v)),
                child: matches!(line[v], '{' | '[').then_some(Scope::Flow((l, v))),
            },
            _ => Entry {
                key: Some(key),
                key_at: (l, col),
                value_at: None,
                child: self.child_block(l, col, end, true),
            },
        }
    }

    /// The block under a key or bare `- ` at `(l, col)`: the following, more indented lines
    /// (a mapping's sequence may sit at the key's own indentation).
    fn child_block(&self, l: usize, col: usize, end: usize, is_key: bool) -> Option<Scope> {
        let first = (l + 1..end).find(|&n| !self.blank(n))?;
        let indent = self.indent(first);
        let same_level_seq = is_key && indent == col && self.char_at((first, indent)) == Some('-');
        if indent <= col && !same_level_seq {
            return None;
        }
        let stop = (first + 1..end)
            .find(|&n| {
                !self.blank(n)
                    && (self.indent(n) < indent
                        || (same_level_seq && self.char_at((n, indent)) != Some('-')))
            })
            .unwrap_or(end);
        Some(Scope::Block {
            start: first,
            end: stop,
            indent,
        })
    }

    /// Entries of the flow collection opening at `at`, possibly spanning lines.
    fn flow_entries(&self, at: At) -> Vec<Entry> {
        let is_map = self.char_at(at) == Some('{');
        let mut out = Vec::new();
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        let mut entry_start: Option<At> = None;
        let mut colon: Option<At> = None;
        let (mut l, mut c) = at;
        while l < self.lines.len() {
            let line = &self.lines[l];
            while c < line.len() {
                let ch = line[c];
                if let Some(q) = quote {
                    if ch == q {
                        quote = None;
                    }
                    c += 1;
                    continue;
                }
                match ch {
                    '#' if c == 0 || line[c - 1] == ' ' => break,
                    '"' | '\'' => quote = Some(ch),
                    '{' | '[' => depth += 1,
                    '}' | ']' => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            if let Some(s) = entry_start {
                                out.push(self.flow_entry(is_map, s, colon));
                            }
                            return out;
                        }
                    }
                    ',' if depth == 1 => {
                        if let Some(s) = entry_start.take() {
                            out.push(self.flow_entry(is_map, s, colon.take()));
                        }
                        c += 1;
                        continue;
                    }
                    ':' if depth == 1
                        && colon.is_none()
                        && is_map
                        && line.get(c + 1).map_or(true, |n| *n == ' ' || *n == ',') =>
                    {
                        colon = Some((l, c));
                    }
                    _ => {}
                }
                if depth == 1 && entry_start.is_none() && !matches!(ch, ' ' | '{' | '[' | ',') {
                    entry_start = Some((l, c));
                }
                // A nested collection inside the entry also starts the entry.
                if depth == 2 && entry_start.is_none() && matches!(ch, '{' | '[') {
                    entry_start = Some((l, c));
                }
                c += 1;
            }
            l += 1;
            c = 0;
        }
        out
    }

    fn flow_entry(&self, is_map: bool, start: At, colon: Option<At>) -> Entry {
        let value_at = match (is_map, colon) {
            (true, Some((l, c))) => self.next_non_space((l, c + 1)),
            (true, None) => None,
            (false, _) => Some(start),
        };
        let key = match (is_map, colon) {
            (true, Some((l, c))) if l == start.0 => {
                let text: String = self.lines[l][start.1..c].iter().collect();
                Some(unquote(text.trim()))
            }
            _ => None,
        };
        let child = value_at
            .filter(|v| matches!(self.char_at(*v), Some('{' | '[')))
            .map(Scope::Flow);
        Entry {
            key,
            key_at: start,
            value_at,
            child,
        }
    }

    fn next_non_space(&self, (mut l, mut c): At) -> Option<At> {
        while l < self.lines.len() {
            let line = &self.lines[l];
            if let Some(found) = (c..line.len()).find(|&i| line[i] != ' ') {
                return Some((l, found));
            }
            l += 1;
            c = 0;
        }
        None
    }
}

/// Column of the `:` ending a block mapping key that starts at `col`, if this is a key line.
fn key_colon(line: &[char], col: usize) -> Option<usize> {
    let mut quote = None;
    for c in col..line.len() {
        let ch = line[c];
        match quote {
            Some(q) if ch == q => quote = None,
            Some(_) => {}
            None if c == col && (ch == '"' || ch == '\'') => quote = Some(ch),
            None if ch == '#' && c > col && line[c - 1] == ' ' => return None,
            None if ch == ':' && line.get(c + 1).map_or(true, |n| *n == ' ') => return Some(c),
            None => {}
        }
    }
    None
}

fn unquote(s: &str) -> String {
    let t = s.trim();
    let quoted = t.len() >= 2
        && ((t.starts_with('"') && t.ends_with('"')) || (t.starts_with('\'') && t.ends_with('\'')));
    if quoted {
        t[1..t.len() - 1].to_string()
    } else {
        t.to_string()
    }
}

/// `load.phases[2].duration` → [Key(load), Key(phases), Index(2), Key(duration)].
fn parse_path(path: &str) -> Vec<Seg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(b) = rest.find('[') {
            if b > 0 {
                out.push(Seg::Key(rest[..b].to_string()));
            }
            rest = &rest[b..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let close = stripped.find(']').unwrap_or(stripped.len());
                if let Ok(n) = stripped[..close].parse() {
                    out.push(Seg::Index(n));
                }
                rest = stripped.get(close + 1..).unwrap_or("");
            }
        } else {
            out.push(Seg::Key(rest.to_string()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
name: x   # comment
target:
  base_url: http://a
  allow_hosts: [a, b]
regions:
  - name: r1
    weight: 45
  - name: r2
    weight: -1
    network: { rtt_ms: 90, down_kbps: 12000 }
load:
  phases:
  - { name: warmup, duration: 30s }
  - { name: spike,  duration: 5 min, joins_per_sec: 3 }
slo:
  connect_ms: { p99: 600, p99.9: 900 }
  error_rate: 0.01
";

    fn at(path: &str) -> (usize, usize) {
        let p = Locator::new(TEXT).find(path);
        (p.line, p.col)
    }

    #[test]
    fn finds_block_keys_and_items() {
        assert_eq!(at("name"), (1, 7));
        assert_eq!(at("target.base_url"), (3, 13));
        assert_eq!(at("regions[1].weight"), (9, 13));
        assert_eq!(at("regions[0].name"), (6, 11));
        assert_eq!(at("slo.error_rate"), (17, 15));
    }

    #[test]
    fn finds_keys_inside_flow_maps() {
        assert_eq!(at("regions[1].network.down_kbps"), (10, 39));
        assert_eq!(at("load.phases[1].duration"), (14, 31));
        assert_eq!(at("target.allow_hosts[1]"), (4, 20));
        assert_eq!(at("slo.connect_ms.p99.9"), (16, 34));
    }

    #[test]
    fn falls_back_to_the_parent() {
        assert_eq!(at("regions[1].nope"), (8, 5));
        assert_eq!(at("nothing.here"), (0, 0));
    }
}
