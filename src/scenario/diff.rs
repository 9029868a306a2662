//! Which top-level sections of two scenarios as run differ: `merge` refuses shards that ran
//! different scenarios, `compare` warns when two runs did. Compared as results.json writes
//! them, so what is never written (header values, data rows) never counts.

use std::collections::BTreeMap;

use super::Scenario;

/// Top-level keys whose content differs, sorted; `ignore` lists what may legitimately differ
/// (`source`, or a key inside a section: `target.source_addrs`).
pub fn differing_sections(a: &Scenario, b: &Scenario, ignore: &[&str]) -> Vec<String> {
    let (Some(a), Some(b)) = (sections(a, ignore), sections(b, ignore)) else {
        // Not seen (a scenario is plain data), but a comparison that cannot be made must read
        // as a difference, never as "the same scenario".
        return vec!["the whole scenario (it could not be compared)".to_string()];
    };
    let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
    keys.sort();
    keys.dedup();
    keys.into_iter()
        .filter(|k| a.get(*k) != b.get(*k))
        .cloned()
        .collect()
}

fn sections(s: &Scenario, ignore: &[&str]) -> Option<BTreeMap<String, serde_json::Value>> {
    let mut map: BTreeMap<String, serde_json::Value> = match serde_json::to_value(s) {
        Ok(serde_json::Value::Object(o)) => o.into_iter().collect(),
        _ => return None,
    };
    for path in ignore {
        match path.split_once('.') {
            None => {
                map.remove(*path);
            }
            Some((section, key)) => {
                if let Some(o) = map.get_mut(section).and_then(|v| v.as_object_mut()) {
                    o.remove(key);
                }
            }
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_differ_only_where_it_matters() {
        let a = Scenario::fixture();
        let mut b = Scenario::fixture();
        b.source = "/elsewhere/fixture.yaml".into();
        b.target.source_addrs = vec!["127.0.0.2".parse().unwrap()];
        let ignore = ["source", "target.source_addrs"];
        assert_eq!(differing_sections(&a, &b, &ignore), Vec::<String>::new());
        b.load.max_viewers += 1;
        b.target.timeout *= 2;
        assert_eq!(differing_sections(&a, &b, &ignore), ["load", "target"]);
    }
}
