//! mTLS: when the listener verified a client certificate, its subject CN (or a chosen SAN)
//! becomes the user; the certificate's SHA-256 fingerprint is the credential id.

use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::{AuthnError, Principal, Scheme};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertField {
    Cn,
    SanEmail,
    SanDns,
    SanUri,
}

impl CertField {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "cn" => CertField::Cn,
            "san_email" => CertField::SanEmail,
            "san_dns" => CertField::SanDns,
            "san_uri" => CertField::SanUri,
            _ => return None,
        })
    }
}

#[derive(Clone, Debug)]
pub struct MtlsSettings {
    pub user_from: CertField,
}

/// The certificate's identity per `field`.
pub fn identity(leaf_der: &[u8], field: CertField) -> Option<String> {
    let (_, cert) = X509Certificate::from_der(leaf_der).ok()?;
    if field == CertField::Cn {
        return cert.subject().iter_common_name().next()?.as_str().ok().map(str::to_string);
    }
    let san = cert.subject_alternative_name().ok()??;
    san.value.general_names.iter().find_map(|n| match (field, n) {
        (CertField::SanEmail, GeneralName::RFC822Name(v)) | (CertField::SanDns, GeneralName::DNSName(v)) | (CertField::SanUri, GeneralName::URI(v)) => {
            Some(v.to_string())
        }
        _ => None,
    })
}

pub fn principal(s: &MtlsSettings, leaf_der: &[u8]) -> Result<Principal, AuthnError> {
    let user = identity(leaf_der, s.user_from)
        .filter(|u| !u.is_empty())
        .ok_or_else(|| AuthnError::invalid(Scheme::Mtls, "the client certificate has no usable identity"))?;
    let mut p = Principal::new(user, Vec::new(), Scheme::Mtls);
    let fp = ring::digest::digest(&ring::digest::SHA256, leaf_der);
    p.credential_id = Some(fp.as_ref().iter().map(|b| format!("{b:02x}")).collect());
    Ok(p)
}
