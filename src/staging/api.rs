//! The JSON API a player calls before it starts watching: token, room lookup, health.
//!
//! Wire format (held by `tests/staging_server.rs`):
//! - `POST /api/v1/token`, optional body `{"uid": "..."}` → `{"token": "<32 hex>", "expires_in": 3600,
//!   "playlist": "/live/<grant>/hls/stream.m3u8"}`: a playlist URL signed for this token, the way
//!   a real platform hands out tokenised CDN URLs; the `/live/…` routes refuse a missing,
//!   tampered or expired grant with 403 (see `signed.rs`)
//! - `GET /api/v1/rooms/{id}` → `{"id", "title", "live": true, "viewers", "hls", "chat"}`;
//!   every id is a live room and `viewers` is the server's current open connections.
//! - `GET /healthz` → `ok` (never gated, so probes still answer under overload).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use rand::RngCore;
use serde::{Deserialize, Serialize};

use super::capacity::{Admission, Class};
use super::Shared;

/// Room ids are echoed into JSON and URLs; past this they are refused rather than stored.
pub(crate) const MAX_ROOM_ID_LEN: usize = 128;
const TOKEN_TTL_SECS: u64 = 3600;

#[derive(Debug, Default, Deserialize)]
struct TokenRequest {
    // Parsed only to validate the body's shape; a real auth service would bind the token to it.
    #[serde(default, rename = "uid")]
    _uid: Option<String>,
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    token: String,
    expires_in: u64,
    playlist: String,
}

#[derive(Debug, Serialize)]
struct RoomResponse {
    id: String,
    title: String,
    live: bool,
    viewers: u64,
    hls: &'static str,
    chat: String,
}

#[derive(Debug, Serialize)]
struct ApiError {
    error: String,
}

fn bad_request(error: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(ApiError {
            error: error.into(),
        }),
    )
        .into_response()
}

/// `POST /api/v1/token`
pub(crate) async fn token(
    State(shared): State<Shared>,
    admission: Option<Extension<Admission>>,
    body: Bytes,
) -> Response {
    if let Err(rejected) = shared.gate.admit(Class::Api, admission.map(|e| e.0)).await {
        return rejected.into_response();
    }
    if !body.iter().all(u8::is_ascii_whitespace) {
        if let Err(e) = serde_json::from_slice::<TokenRequest>(&body) {
            return bad_request(format!("invalid token request body: {e}"));
        }
    }
    let mut raw = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = hex(&raw);
    let grant = shared.signer.grant(&token, TOKEN_TTL_SECS);
    Json(TokenResponse {
        playlist: format!("/live/{grant}/hls/stream.m3u8"),
        token,
        expires_in: TOKEN_TTL_SECS,
    })
    .into_response()
}

/// `GET /api/v1/rooms/{id}`
pub(crate) async fn room(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    admission: Option<Extension<Admission>>,
) -> Response {
    if id.len() > MAX_ROOM_ID_LEN {
        return bad_request(format!("room id longer than {MAX_ROOM_ID_LEN} bytes"));
    }
    if let Err(rejected) = shared.gate.admit(Class::Api, admission.map(|e| e.0)).await {
        return rejected.into_response();
    }
    Json(RoomResponse {
        title: format!("Live room {id}"),
        live: true,
        viewers: shared.gate.counters.open(),
        hls: "/hls/stream.m3u8",
        chat: format!(
            "/chat?room={}",
            url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()
        ),
        id,
    })
    .into_response()
}

/// `GET /healthz`
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0xF)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(super::hex(&[0x00, 0xAB, 0x7F]), "00ab7f");
    }
}
