//! TLS client setup for [`super::http`]: builds the one shared rustls `ClientConfig` (ring
//! provider, webpki roots or the `insecure_tls` verifier). Owns nothing per connection; the
//! handshake itself lives in `http.rs` so that its timing sits next to the other phases.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// Builds the rustls config shared by every connection of a run. Built once: parsing roots and
/// assembling cipher suites per connection would make the generator, not the target, the
/// bottleneck of a TLS-heavy join storm.
///
/// `resume`: keep a session cache (rustls' in-memory default, shared by every connection of the
/// run) so new connections resume an earlier session, as an app that connected before does.
/// Without it every connection makes a full handshake, as a new device would: rustls' own
/// default (a cache) would otherwise make most of a join storm's handshakes resumptions
/// without anyone asking for it.
pub(crate) fn client_config(
    insecure: bool,
    resume: bool,
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert { provider }))
            .with_no_client_auth()
    } else {
        let roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    // We only speak HTTP/1.1; advertising it keeps ALPN-strict servers from refusing us.
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if !resume {
        config.resumption = rustls::client::Resumption::disabled();
    }
    Ok(Arc::new(config))
}

/// `insecure_tls`: accepts any certificate chain and name (staging servers with self-signed
/// certificates), but still checks handshake signatures. Skipping those would also skip the
/// public-key work a real viewer's device does, making TLS look cheaper than it is.
#[derive(Debug)]
struct AcceptAnyCert {
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_configs_build_and_offer_http11() {
        for insecure in [false, true] {
            for resume in [false, true] {
                let cfg = client_config(insecure, resume).expect("config builds");
                assert_eq!(cfg.alpn_protocols, vec![b"http/1.1".to_vec()]);
            }
        }
    }
}
