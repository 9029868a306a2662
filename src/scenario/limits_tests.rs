//! The caps on a scenario's size and shape (issue 14): each is refused with one error that says
//! what to change, before any per-item work, so a huge plan costs what a small one does.

use super::*;

const FILE: &str = "scenarios/x.yaml";

const BASE: &str = "\
name: tiny
target:
  base_url: embedded
load:
  max_viewers: 100
  max_joins_per_sec: 10
  phases:
    - { name: steady, duration: 10s, joins_per_sec: 5 }
viewer:
  watch: { url: /hls/stream.m3u8, duration: 30s }
";

fn errors(text: &str) -> Vec<String> {
    match parse_str(text, FILE, &|_| None) {
        Ok(_) => panic!("parsed:\n{text:.300}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn a_plan_longer_than_a_day_is_refused_with_a_duration_that_fits() {
    let e = errors(&BASE.replace("duration: 10s", "duration: 8760h"));
    assert_eq!(
        e,
        ["scenarios/x.yaml:8:33: load.phases[0].duration: the phases last 8760h in all, more than the 24h a plan may last; write `duration: 24h` here, or split the rehearsal into runs of at most 24h"],
    );
    // Exactly a day is a plan.
    assert!(parse_str(
        &BASE.replace("duration: 10s", "duration: 24h"),
        FILE,
        &|_| None
    )
    .is_ok());
}

#[test]
fn too_many_phases_or_regions_is_one_error_not_one_per_item() {
    let phases = |n: usize| -> String {
        (0..n)
            .map(|i| format!("    - {{ name: p{i}, duration: 1s, joins_per_sec: -1 }}\n"))
            .collect()
    };
    let text = BASE.replace(
        "    - { name: steady, duration: 10s, joins_per_sec: 5 }\n",
        &phases(100_000),
    );
    // Over the 1 MiB file cap first; under it, the phase cap.
    assert!(
        errors(&text)[0].contains("larger than 1024 KiB"),
        "{:?}",
        errors(&text)
    );
    let text = BASE.replace(
        "    - { name: steady, duration: 10s, joins_per_sec: 5 }\n",
        &phases(5000),
    );
    let e = errors(&text);
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].contains("load.phases: 5000 phases, more than the 100 a plan may have; merge neighbouring phases"), "{e:?}");

    let regions: String = (0..51).map(|i| format!("  - {{ name: r{i} }}\n")).collect();
    let e = errors(&format!("{BASE}regions:\n{regions}"));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].contains("regions: 51 regions, more than the 50 a scenario may have"),
        "{e:?}"
    );
}

#[test]
fn many_mistakes_show_the_first_fifty_and_count_the_rest() {
    let stats: String = (0..2000).map(|i| format!("    q{i}: 1\n")).collect();
    let e = errors(&format!("{BASE}slo:\n  connect_ms:\n{stats}"));
    assert_eq!(e.len(), 51, "{:?}", &e[..3]);
    assert!(
        e[0].starts_with("scenarios/x.yaml:13:9: slo.connect_ms.q0: unknown stat `q0`"),
        "{}",
        e[0]
    );
    assert_eq!(
        e[50],
        "scenarios/x.yaml: and 1950 more mistakes like these, not shown: fix these first"
    );
}
