//! results.json against its published schema (`docs/results.schema.json`): what `run`, `quick`
//! and a re-rendered `report` write validates (`merge`'s output: in merge.rs, on its shards);
//! read back and written again it is byte-identical; and a file from an older schema that this
//! version cannot read is refused with what to do (exit 2).

use std::path::Path;

use crate::common::*;

fn validator() -> jsonschema::Validator {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/results.schema.json");
    let text = std::fs::read_to_string(&path).expect("docs/results.schema.json exists");
    let schema: serde_json::Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::validator_for(&schema).expect("the schema is a valid JSON Schema")
}

/// Every way `json` breaks the published schema, in words (empty: it conforms).
pub fn schema_errors(json: &serde_json::Value) -> Vec<String> {
    validator()
        .iter_errors(json)
        .map(|e| format!("{}: {e}", e.instance_path))
        .collect()
}

pub fn assert_conforms(dir: &Path) {
    let errors = schema_errors(&results(dir));
    assert!(
        errors.is_empty(),
        "{}/results.json breaks docs/results.schema.json:\n{}",
        dir.display(),
        errors.join("\n")
    );
}

/// results.json → the typed model → results.json again: the same bytes.
fn assert_round_trips(dir: &Path) {
    let path = dir.join("results.json");
    let text = std::fs::read_to_string(&path).expect("results.json");
    let typed = peakready::metrics::schema::read(&text, &path.display().to_string())
        .expect("this version reads what it wrote");
    let again = serde_json::to_string_pretty(&typed).expect("serialises");
    assert!(
        again == text,
        "results.json changed on a round trip:\n{again}"
    );
}

#[test]
fn run_report_and_quick_results_conform_and_round_trip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let scenario = write(tmp.path(), "s.yaml", &scenario_yaml("embedded", 2, 10, ""));
    let dir = tmp.path().join("run");
    let out = bin()
        .args(["run", "--seed", "5", "--drain", "2s"])
        .arg(&scenario)
        .arg("--out")
        .arg(&dir)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_conforms(&dir);
    assert_round_trips(&dir);

    let report = bin().arg("report").arg(&dir).output().expect("report");
    assert_eq!(report.status.code(), Some(0), "{}", stderr(&report));
    assert_conforms(&dir);
    assert_round_trips(&dir);

    let server = Server::start(&[]);
    let quick_dir = tmp.path().join("quick");
    let url = format!("{}/healthz", server.url);
    let quick = bin()
        .args(["quick", &url, "-c", "2", "-z", "1s", "--out"])
        .arg(&quick_dir)
        .output()
        .expect("quick");
    assert_eq!(quick.status.code(), Some(0), "{}", stderr(&quick));
    assert_conforms(&quick_dir);
    assert_round_trips(&quick_dir);

    // The schema can fail: a renamed field and a string where a number belongs are caught.
    let mut renamed = results(&dir);
    let seed = renamed["seed"].take();
    renamed.as_object_mut().expect("object").remove("seed");
    renamed["sed"] = seed;
    renamed["overall"]["requests"] = "1".into();
    let errors = schema_errors(&renamed).join("\n");
    assert!(
        errors.contains("\"seed\" is a required property"),
        "{errors}"
    );
    assert!(errors.contains("/overall/requests"), "{errors}");

    // An older schema this version cannot read is refused, saying how to re-run; exit 2.
    let mut old = results(&dir);
    old["schema"] = 1.into();
    old["scenario"]["resolved"]["load"]
        .as_object_mut()
        .expect("load")
        .remove("end");
    std::fs::write(dir.join("results.json"), old.to_string()).expect("write");
    let refused = bin().arg("report").arg(&dir).output().expect("report");
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let says = stderr(&refused);
    assert!(
        says.contains("results schema 1, from an older peakready"),
        "{says}"
    );
    assert!(says.contains("scenario.resolved.load"), "{says}");
    assert!(says.contains("re-run the scenario"), "{says}");
}
