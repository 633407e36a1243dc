//! Outbound fetches other than forwarding: JWKS documents (file or https URL), refreshed on a
//! period and when a token names an unknown key id (the verifier rate-limits those requests).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::sync::watch;

use crate::authn::jwt::{JwksSource, Verifier};

const MAX_JWKS: usize = 1 << 20;

/// Fetches a JWKS document.
pub async fn jwks(source: &JwksSource, tls: Arc<rustls::ClientConfig>) -> Result<Vec<u8>, String> {
    match source {
        JwksSource::File(p) => tokio::fs::read(p).await.map_err(|e| format!("cannot read {}: {e}", p.display())),
        JwksSource::Url { url, .. } => get_https(url, tls).await,
    }
}

async fn get_https(url: &str, tls: Arc<rustls::ClientConfig>) -> Result<Vec<u8>, String> {
    let uri: http::Uri = url.parse().map_err(|_| format!("bad URL {url}"))?;
    let host = uri.host().ok_or("URL has no host")?.trim_start_matches('[').trim_end_matches(']').to_string();
    let port = uri.port_u16().unwrap_or(443);
    let fetch = async {
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port)).await.map_err(|e| format!("connect: {e}"))?;
        let name = ServerName::try_from(host.clone()).map_err(|_| "bad host name".to_string())?;
        let stream = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await.map_err(|e| format!("TLS: {e}"))?;
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let path = uri.path_and_query().map_or("/", |p| p.as_str());
        let req = http::Request::get(path)
            .header(http::header::HOST, uri.authority().map_or(host.as_str(), |a| a.as_str()))
            .header(http::header::ACCEPT, "application/json")
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let res = sender.send_request(req).await.map_err(|e| e.to_string())?;
        if !res.status().is_success() {
            return Err(format!("status {}", res.status()));
        }
        let body = http_body_util::Limited::new(res.into_body(), MAX_JWKS).collect().await.map_err(|e| e.to_string())?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(Duration::from_secs(10), fetch).await.map_err(|_| "timed out".to_string())?
}

/// Keeps a verifier's key set current until `shutdown`.
pub async fn keep_jwks(verifier: Arc<Verifier>, tls: Arc<rustls::ClientConfig>, mut shutdown: watch::Receiver<bool>) {
    let Some(source) = verifier.settings.jwks.clone() else { return };
    let (period, min_gap) = (verifier.settings.jwks_refresh, verifier.settings.jwks_min_interval);
    loop {
        match jwks(&source, tls.clone()).await.and_then(|doc| verifier.set_jwks(&doc)) {
            Ok(n) => tracing::debug!(keys = n, "JWKS refreshed"),
            Err(e) => tracing::warn!(error = %e, "JWKS refresh failed; keeping the previous keys"),
        }
        let fetched = tokio::time::Instant::now();
        let wanted = tokio::select! {
            _ = tokio::time::sleep(period) => false,
            _ = verifier.refresh_wanted.notified() => true,
            _ = shutdown.wait_for(|s| *s) => return,
        };
        if wanted {
            // Rate-limited: at most one fetch per `min_gap`, however many unknown kids arrive.
            tokio::time::sleep_until(fetched + min_gap).await;
        }
    }
}
