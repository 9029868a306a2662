//! Signed playlist URLs: `/live/{grant}/hls/…`, where the grant is `{token}.{expires}.{sig}`.
//!
//! The token API hands out such a URL and these routes refuse anything else with 403, so a
//! scenario must carry the URL from the token response to the player (`extract:`), as a real
//! platform's tokenised CDN URLs require. The signature is a keyed SipHash of token and expiry
//! with a key drawn at server start: a staging stand-in for an HMAC, unforgeable without the
//! key for the life of the server. Relative URIs in the playlists resolve under the same grant,
//! so every rendition and segment request is checked.

use std::hash::{BuildHasher, RandomState};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Extension;

use super::capacity::Admission;
use super::{hls, Shared};

/// Signs and checks grants; one key per server.
#[derive(Debug, Default)]
pub(crate) struct Signer {
    key: RandomState,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Signer {
    fn sign(&self, token: &str, expires: u64) -> String {
        format!("{:016x}", self.key.hash_one((token, expires)))
    }

    /// A grant for `token`, valid for `ttl_secs`.
    pub fn grant(&self, token: &str, ttl_secs: u64) -> String {
        let expires = now_secs() + ttl_secs;
        format!("{token}.{expires}.{}", self.sign(token, expires))
    }

    /// Why a grant is refused, if it is.
    pub fn check(&self, grant: &str) -> Result<(), &'static str> {
        let mut parts = grant.split('.');
        let (Some(token), Some(expires), Some(sig), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err("malformed grant\n");
        };
        let Ok(expires) = expires.parse::<u64>() else {
            return Err("malformed grant\n");
        };
        if self.sign(token, expires) != sig {
            return Err("bad signature\n");
        }
        if expires < now_secs() {
            return Err("grant expired\n");
        }
        Ok(())
    }
}

fn forbidden(why: &'static str) -> Response {
    (StatusCode::FORBIDDEN, why).into_response()
}

/// `GET /live/{grant}/hls/stream.m3u8`
pub(crate) async fn master(
    State(shared): State<Shared>,
    Path(grant): Path<String>,
    admission: Option<Extension<Admission>>,
) -> Response {
    match shared.signer.check(&grant) {
        Ok(()) => hls::master(State(shared), admission).await,
        Err(why) => forbidden(why),
    }
}

/// `GET /live/{grant}/hls/{rendition}/{file}`
pub(crate) async fn rendition_file(
    State(shared): State<Shared>,
    Path((grant, rendition, file)): Path<(String, String, String)>,
    query: RawQuery,
    admission: Option<Extension<Admission>>,
) -> Response {
    match shared.signer.check(&grant) {
        Ok(()) => {
            hls::rendition_file(State(shared), Path((rendition, file)), query, admission).await
        }
        Err(why) => forbidden(why),
    }
}

#[cfg(test)]
mod tests {
    use super::Signer;

    #[test]
    fn grants_verify_and_tampering_does_not() {
        let s = Signer::default();
        let g = s.grant("abc", 60);
        assert_eq!(s.check(&g), Ok(()));
        let tampered = g.replacen("abc", "abd", 1);
        assert_eq!(s.check(&tampered), Err("bad signature\n"));
        assert_eq!(Signer::default().check(&g), Err("bad signature\n"));
        assert_eq!(s.check("abc"), Err("malformed grant\n"));
        let expired = format!("abc.1.{}", s.sign("abc", 1));
        assert_eq!(s.check(&expired), Err("grant expired\n"));
    }
}
