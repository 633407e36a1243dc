//! A throw-away PKI made with rcgen: a CA, a server certificate for 127.0.0.1/localhost and
//! client certificates, written as PEM files into a temporary folder.

use std::path::PathBuf;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub struct TestPki {
    pub dir: tempfile::TempDir,
    ca_cert: rcgen::Certificate,
    ca_key: KeyPair,
}

pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl TestPki {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, "Sluice Test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca_cert = params.self_signed(&ca_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca_cert.pem()).unwrap();
        Self { dir, ca_cert, ca_key }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Issues a certificate with this CN for 127.0.0.1 and localhost.
    pub fn issue(&self, name: &str, cn: &str) -> Issued {
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        params.distinguished_name.push(DnType::CommonName, cn);
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key).unwrap();
        let out = Issued { cert: self.dir.path().join(format!("{name}.pem")), key: self.dir.path().join(format!("{name}-key.pem")) };
        std::fs::write(&out.cert, cert.pem()).unwrap();
        std::fs::write(&out.key, key.serialize_pem()).unwrap();
        out
    }

    pub fn roots(&self) -> rustls::RootCertStore {
        let mut store = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_file_iter(self.ca()).unwrap() {
            store.add(c.unwrap()).unwrap();
        }
        store
    }

    /// A client configuration trusting this CA, with an optional client certificate.
    pub fn client_config(&self, client: Option<&Issued>, alpn: &[&[u8]]) -> Arc<rustls::ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let b = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(self.roots());
        let mut cfg = match client {
            Some(c) => b.with_client_auth_cert(certs(&c.cert), key(&c.key)).unwrap(),
            None => b.with_no_client_auth(),
        };
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }

    /// A server configuration for the fake node, optionally requiring client certificates.
    pub fn server_config(&self, server: &Issued, require_client: bool) -> Arc<rustls::ServerConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let b = rustls::ServerConfig::builder_with_provider(provider.clone()).with_safe_default_protocol_versions().unwrap();
        let b = if require_client {
            let v = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(self.roots()), provider).build().unwrap();
            b.with_client_cert_verifier(v)
        } else {
            b.with_no_client_auth()
        };
        let mut cfg = b.with_single_cert(certs(&server.cert), key(&server.key)).unwrap();
        cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(cfg)
    }
}

fn certs(p: &PathBuf) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(p).unwrap().map(|c| c.unwrap()).collect()
}

fn key(p: &PathBuf) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(p).unwrap()
}
