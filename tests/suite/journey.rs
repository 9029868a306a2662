//! Join flows that carry values between steps (`extract:`), against the embedded server, whose
//! token API hands out a signed playlist URL and whose `/live/…` routes refuse anything else.

use crate::common::*;

/// Two regions, 3 s at 10 joins/s; `join` and `watch_url` as given.
fn flow(join: &str, watch_url: &str) -> String {
    format!(
        r#"name: journey
target:
  base_url: embedded
  timeout: 2s
regions:
  - {{ name: eu, weight: 60 }}
  - {{ name: sea, weight: 40 }}
load:
  max_viewers: 200
  max_joins_per_sec: 50
  phases:
    - {{ name: steady, duration: 3s, joins_per_sec: 10 }}
viewer:
  join:
{join}
  watch:
    url: "{watch_url}"
    duration: 3s
"#
    )
}

const TOKEN_STEP: &str = r#"    - name: token
      method: POST
      path: /api/v1/token
      body: '{"uid":"{{viewer_id}}"}'
      extract:
        token: { json: /token }
        playlist: { json: playlist }
    - name: room
      path: /api/v1/rooms/gala?t={{token}}
      headers: { Authorization: "Bearer {{token}}" }
      extract:
        room: { regex: '"id":"(\w+)"' }
        kind: { header: content-type }"#;

fn run(dir: &std::path::Path, text: &str) -> (Option<i32>, serde_json::Value, String) {
    let path = write(dir, "journey.yaml", text);
    let out_dir = dir.join("out");
    let out = bin()
        .args(["run", "--quiet", "--seed", "3", "--drain", "3s"])
        .arg(&path)
        .arg("--out")
        .arg(&out_dir)
        .output()
        .expect("run");
    let r = results(&out_dir);
    (
        out.status.code(),
        r,
        format!("{}{}", stdout(&out), stderr(&out)),
    )
}

fn errors(r: &serde_json::Value, class: &str) -> u64 {
    r["overall"]["errors"][class].as_u64().unwrap_or(0)
}

#[test]
fn a_token_and_a_signed_playlist_url_are_carried_into_watching() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, r, out) = run(dir.path(), &flow(TOKEN_STEP, "{{playlist}}"));
    assert_eq!(code, Some(0), "{out}");
    let joins = &r["overall"]["joins"];
    assert!(joins["succeeded"].as_u64().unwrap_or(0) >= 25, "{joins}");
    assert_eq!(joins["succeeded"], joins["attempted"], "{joins}");
    assert!(
        r["overall"]["metrics"]["first_frame_ms"]["count"]
            .as_u64()
            .unwrap_or(0)
            >= 25,
        "viewers watched the signed URL: {}",
        r["overall"]["metrics"]
    );
    assert_eq!(
        errors(&r, "extract_failed"),
        0,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(errors(&r, "http_4xx"), 0, "{}", r["overall"]["errors"]);
}

#[test]
fn the_signed_routes_refuse_a_url_not_from_the_token_api() {
    let dir = tempfile::tempdir().expect("tempdir");
    let forged = "/live/{{token}}.99999999999.0000000000000000/hls/stream.m3u8";
    let (_, r, out) = run(dir.path(), &flow(TOKEN_STEP, forged));
    assert!(
        errors(&r, "http_4xx") >= 25,
        "{out}{}",
        r["overall"]["errors"]
    );
    assert_eq!(
        r["overall"]["metrics"]["first_frame_ms"]["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
}

#[test]
fn a_missing_field_is_extract_failed_naming_the_step_and_the_viewer_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let join = TOKEN_STEP.replace("{ json: playlist }", "{ json: playback.url }");
    let (code, r, out) = run(dir.path(), &flow(&join, "{{playlist}}"));
    assert_eq!(code, Some(1), "{out}");
    let attempted = r["overall"]["joins"]["attempted"].as_u64().unwrap_or(0);
    assert!(attempted >= 25, "{}", r["overall"]["joins"]);
    assert_eq!(
        errors(&r, "extract_failed"),
        attempted,
        "{}",
        r["overall"]["errors"]
    );
    assert_eq!(r["overall"]["joins"]["succeeded"], 0);
    // The viewer stopped: the room step was never requested, nothing was watched.
    assert_eq!(
        r["overall"]["metrics"]["first_frame_ms"]["count"]
            .as_u64()
            .unwrap_or(0),
        0
    );
    let notices = r["notices"].to_string();
    assert!(
        notices.contains("join step `token`") && notices.contains("extract_failed"),
        "{notices}"
    );
}

#[test]
fn an_undefined_variable_is_refused_before_any_request() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(
        dir.path(),
        "bad.yaml",
        &flow(
            &TOKEN_STEP.replace("?t={{token}}", "?t={{tokn}}"),
            "{{playlist}}",
        ),
    );
    let out = bin().arg("validate").arg(&path).output().expect("validate");
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("viewer.join[1].path: `{{tokn}}` is not defined here")
            && err.contains("{{token}}"),
        "{err}"
    );
}
