//! Seeded mutation for the fuzz properties (`fuzz.rs` here, `src/protocol/http/fuzz_tests.rs`
//! in the library, which includes this file by path).
//!
//! proptest picks a seed from the committed corpus (`tests/corpus/<target>/`) and a few edits,
//! many of them splicing in fragments from a per-target dictionary of hostile tokens. Cases
//! stay near real inputs, so they reach deep into a parser instead of being rejected at the
//! first byte as random bytes would be. Positions are taken modulo the input's length, so every
//! generated edit applies and shrinking stays meaningful.

#![allow(dead_code)] // each includer uses part of it

use std::path::{Path, PathBuf};

use proptest::prelude::*;

/// One change to an input. `at`, `token` and line numbers wrap around the input's length (or
/// the dictionary's), so any value applies.
#[derive(Debug, Clone)]
pub enum Edit {
    Insert { at: usize, token: usize },
    Replace { at: usize, len: usize, token: usize },
    Delete { at: usize, len: usize },
    Byte { at: usize, byte: u8 },
    DupLine { line: usize },
    SwapLines { a: usize, b: usize },
    Truncate { at: usize },
    Repeat { at: usize, len: usize, times: usize },
}

/// Up to `max` edits.
pub fn edits(max: usize) -> impl Strategy<Value = Vec<Edit>> {
    let edit = prop_oneof![
        4 => (any::<usize>(), any::<usize>()).prop_map(|(at, token)| Edit::Insert { at, token }),
        4 => (any::<usize>(), 1usize..16, any::<usize>())
            .prop_map(|(at, len, token)| Edit::Replace { at, len, token }),
        2 => (any::<usize>(), 1usize..64).prop_map(|(at, len)| Edit::Delete { at, len }),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(at, byte)| Edit::Byte { at, byte }),
        1 => any::<usize>().prop_map(|line| Edit::DupLine { line }),
        1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::SwapLines { a, b }),
        1 => any::<usize>().prop_map(|at| Edit::Truncate { at }),
        1 => (any::<usize>(), 1usize..32, 2usize..64)
            .prop_map(|(at, len, times)| Edit::Repeat { at, len, times }),
    ];
    proptest::collection::vec(edit, 0..=max)
}

/// `seed` with `edits` applied in order; tokens come from `dict`.
pub fn apply(seed: &[u8], edits: &[Edit], dict: &[&[u8]]) -> Vec<u8> {
    let mut out = seed.to_vec();
    for e in edits {
        let n = out.len();
        let pos = |at: usize| at % (n + 1);
        let token = |t: usize| dict.get(t % dict.len().max(1)).copied().unwrap_or(b"");
        match *e {
            Edit::Insert { at, token: t } => {
                let at = pos(at);
                out.splice(at..at, token(t).iter().copied());
            }
            Edit::Replace { at, len, token: t } => {
                let at = pos(at);
                let end = (at + len).min(n);
                out.splice(at..end, token(t).iter().copied());
            }
            Edit::Delete { at, len } => {
                let at = pos(at);
                out.drain(at..(at + len).min(n));
            }
            Edit::Byte { at, byte } => {
                if n > 0 {
                    out[at % n] = byte;
                }
            }
            Edit::DupLine { line } => {
                let lines = split_lines(&out);
                let l = lines[line % lines.len()].clone();
                let mut joined: Vec<Vec<u8>> = lines;
                joined.insert(line % joined.len(), l);
                out = joined.concat();
            }
            Edit::SwapLines { a, b } => {
                let mut lines = split_lines(&out);
                let len = lines.len();
                lines.swap(a % len, b % len);
                out = lines.concat();
            }
            Edit::Truncate { at } => out.truncate(pos(at)),
            Edit::Repeat { at, len, times } => {
                let at = pos(at);
                let piece = out[at..(at + len).min(n)].to_vec();
                let end = (at + piece.len()).min(n);
                let repeated = piece.repeat(times);
                out.splice(at..end, repeated);
            }
        }
    }
    out
}

/// Lines with their endings kept, so joining them gives the input back.
fn split_lines(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut lines: Vec<Vec<u8>> = bytes
        .split_inclusive(|b| *b == b'\n')
        .map(<[u8]>::to_vec)
        .collect();
    if lines.is_empty() {
        lines.push(Vec::new());
    }
    lines
}

/// The committed corpus of one target: every file under `tests/corpus/<target>/`, sorted.
pub fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{}: empty corpus", dir.display());
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, bytes)
        })
        .collect()
}

/// proptest's settings for a fuzz property: its default case count (256, or `PROPTEST_CASES`,
/// which `.ci/run` raises for the longer bounded run), no shrinking beyond a few seconds.
pub fn config() -> ProptestConfig {
    ProptestConfig {
        max_shrink_time: 10_000,
        ..ProptestConfig::default()
    }
}
