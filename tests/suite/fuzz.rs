//! Fuzz targets as properties (cargo fuzz needs nightly): the scenario parser and the playlist
//! parser never panic, and every input ends in a bounded, classified outcome. The HTTP/1.1
//! response parser's target is `src/protocol/http/fuzz_tests.rs` (it reaches a private
//! function). Each target first replays its committed corpus (`tests/corpus/<target>/`:
//! hostile inputs found by hand and by earlier runs), then mutates it. `cargo test` runs
//! proptest's default 256 cases; `.ci/run` raises PROPTEST_CASES for a longer bounded run.

use proptest::prelude::*;

use crate::mutate::{apply, config, corpus, edits};
use peakready::protocol::playlist::{self, Playlist, PlaylistError};
use peakready::scenario::{self, Scenario, ScenarioErrors};

const SOURCE: &str = "fuzz.yaml";

/// YAML and scenario fragments that have broken parsers: structure, tags, aliases, odd
/// numbers, line endings, interpolation, and values at or past the caps.
const SCENARIO_TOKENS: &[&[u8]] = &[
    b": ",
    b"\n",
    b"\r",
    b"\r\n",
    b"- ",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b"&a ",
    b"*a",
    b"<<: *a",
    b"!!binary ",
    b"!tag ",
    b"!!str ",
    b".inf",
    b"-.inf",
    b".nan",
    b"~",
    b"null",
    b"1e309",
    b"-1",
    b"0",
    b"18446744073709551616",
    b"99999999h",
    b"8760h",
    b"0.000001s",
    b"\"",
    b"'",
    b" #",
    b"${X}",
    b"${",
    b"$${",
    b"${X:-1}",
    b"{{viewer_id}}",
    b"{{",
    b"---\n",
    b"...\n",
    b"\t",
    b"\xef\xbb\xbf",
    b"\xc3\xa9",
    b"\x00",
    b"? ",
    b"|\n  ",
    b">-\n  ",
    b"%YAML 1.2\n",
    b"\n    - { name: p, duration: 1s, joins_per_sec: 1 }",
    b"[1, 2]",
    b"{ p95: 1 }",
    b"http://u:p@h/",
    b"embedded",
    b"support_tier: ",
    b"ramp_to: ",
    b"weight: ",
    b"\n  - { name: r, weight: 1 }",
    b"max_viewers: ",
    b"duration: ",
];

/// Seeds: the corpus plus every scenario the project ships (all valid), so mutations start
/// from files that reach resolve, not only YAML syntax errors.
fn scenario_seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(read_scenario_seeds)
}

fn read_scenario_seeds() -> Vec<Vec<u8>> {
    let mut seeds: Vec<Vec<u8>> = corpus("scenario").into_iter().map(|(_, b)| b).collect();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut shipped: Vec<_> = std::fs::read_dir(root.join("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .collect();
    shipped.sort();
    shipped.push(root.join("src/scenario/testdata/reference.yaml"));
    seeds.extend(shipped.iter().map(|p| std::fs::read(p).expect("seed")));
    seeds
}

fn env(name: &str) -> Option<String> {
    (name == "X").then(|| "9".to_string())
}

/// Parses `text` and checks the outcome is one of the two classified ones, bounded in size.
fn check_scenario(text: &str) -> Result<(), TestCaseError> {
    match scenario::parse_str(text, SOURCE, &env) {
        Ok(s) => check_valid(&s),
        Err(errors) => check_errors(text, &errors),
    }
}

/// A scenario that parsed is one `validate` can describe: its plan builds and renders.
fn check_valid(s: &Scenario) -> Result<(), TestCaseError> {
    prop_assert!(!s.load.phases.is_empty());
    let out = peakready::cmd::validate::render(s, 1);
    prop_assert!(out.starts_with(SOURCE), "{out}");
    Ok(())
}

fn check_errors(text: &str, errors: &ScenarioErrors) -> Result<(), TestCaseError> {
    prop_assert!(!errors.is_empty(), "an Err with no error");
    let lines = text.lines().count() + text.matches('\r').count() + 1;
    for e in errors.iter() {
        let shown = e.to_string();
        prop_assert!(shown.starts_with(SOURCE), "not named by its file: {shown}");
        prop_assert!(!e.problem.trim().is_empty(), "no problem stated: {shown}");
        prop_assert!(e.line <= lines, "line {} of {lines}: {shown}", e.line);
        prop_assert!(
            e.line == 0 || e.col >= 1,
            "a line without a column: {shown}"
        );
        // Bounded: an error quotes at most a value, never the file back.
        prop_assert!(shown.len() <= 4096, "{} bytes: {shown:.200}", shown.len());
        prop_assert!(!shown.contains("panicked"), "{shown}");
    }
    // One error per mistake, and a file has at most a few per line.
    prop_assert!(errors.len() <= 4 * lines + 16, "{} errors", errors.len());
    Ok(())
}

#[test]
fn scenario_corpus_parses_to_a_classified_outcome() {
    for (path, bytes) in corpus("scenario") {
        let text = String::from_utf8_lossy(&bytes);
        if let Err(e) = check_scenario(&text) {
            panic!("{}: {e}", path.display());
        }
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn scenario_parser_never_panics_and_classifies(
        seed in any::<prop::sample::Index>(),
        edits in edits(6),
    ) {
        let seed: &Vec<u8> = seed.get(scenario_seeds());
        let bytes = apply(seed, &edits, SCENARIO_TOKENS);
        check_scenario(&String::from_utf8_lossy(&bytes))?;
    }

    #[test]
    fn playlist_parser_never_panics_and_classifies(
        seed in any::<prop::sample::Index>(),
        edits in edits(8),
    ) {
        static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
        let seeds = SEEDS.get_or_init(|| corpus("playlist").into_iter().map(|(_, b)| b).collect());
        let seed: &Vec<u8> = seed.get(seeds);
        let bytes = apply(seed, &edits, PLAYLIST_TOKENS);
        check_playlist(&String::from_utf8_lossy(&bytes))?;
    }
}

/// HLS tags and attribute values, well and badly formed.
const PLAYLIST_TOKENS: &[&[u8]] = &[
    b"\n",
    b"\r\n",
    b"#EXTM3U\n",
    b"#EXTINF:",
    b"#EXTINF:-1,\n",
    b"#EXTINF:1e308,\n",
    b"#EXTINF:nan,\n",
    b"#EXT-X-TARGETDURATION:",
    b"#EXT-X-MEDIA-SEQUENCE:",
    b"#EXT-X-MEDIA-SEQUENCE:18446744073709551615\n",
    b"#EXT-X-DISCONTINUITY\n",
    b"#EXT-X-DISCONTINUITY-SEQUENCE:",
    b"#EXT-X-ENDLIST\n",
    b"#EXT-X-PLAYLIST-TYPE:EVENT\n",
    b"#EXT-X-STREAM-INF:BANDWIDTH=",
    b"RESOLUTION=1x",
    b",CODECS=\"",
    b"\"",
    b"=",
    b",",
    b"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"n\"\n",
    b"#EXT-X-PART-INF:PART-TARGET=",
    b"#EXT-X-PART:DURATION=0.2,URI=\"p.mp4\"\n",
    b"#EXT-X-PART:DURATION=-1,URI=\n",
    b"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,HOLD-BACK=",
    b"#EXT-X-SKIP:SKIPPED-SEGMENTS=",
    b"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"h\"\n",
    b"#EXT-X-PROGRAM-DATE-TIME:",
    b"2026-12-02T10:00:00Z",
    b"9999-99-99T99:99:99Z",
    b"#EXT-X-MAP:URI=\"init.mp4\"\n",
    b"seg.ts\n",
    b"https://h/s.ts\n",
    b"\xef\xbb\xbf",
    b"\x00",
    b"0x10",
    b"1e309",
    b"-0",
    b"18446744073709551616",
    b"99999999999999999999.9",
];

/// Parses `text`; a playlist that parsed is one a viewer can walk (live edge, window, next
/// segment) without panicking, and an error names its line within the text.
fn check_playlist(text: &str) -> Result<(), TestCaseError> {
    match playlist::parse(text) {
        Ok(Playlist::Media(mut m)) => {
            let start = m.live_start_index();
            prop_assert!(start <= m.segments.len());
            let next = m.next_msn();
            m.keep_last(3);
            prop_assert!(m.segments.len() <= 3);
            prop_assert_eq!(m.next_msn(), next, "the window kept the sequence numbers");
            for s in &m.segments {
                prop_assert!(!s.uri.is_empty());
            }
        }
        Ok(Playlist::Multivariant(v)) => {
            for variant in &v.variants {
                prop_assert!(!variant.uri.is_empty());
            }
        }
        Err(e) => {
            let shown = e.to_string();
            prop_assert!(!shown.is_empty() && shown.len() <= 512, "{shown}");
            if let PlaylistError::Invalid { line, .. } = e {
                prop_assert!(line >= 1 && line <= text.lines().count(), "{shown}");
            }
        }
    }
    Ok(())
}

#[test]
fn playlist_corpus_parses_to_a_classified_outcome() {
    for (path, bytes) in corpus("playlist") {
        if let Err(e) = check_playlist(&String::from_utf8_lossy(&bytes)) {
            panic!("{}: {e}", path.display());
        }
    }
}
