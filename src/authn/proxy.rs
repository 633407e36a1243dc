//! A trusted proxy header (Kibana or an SSO proxy in front of Sluice): the user named in a
//! header, honoured only from configured source networks or mTLS identities; from anyone else
//! it is ignored (and the request audited as such).

use std::net::IpAddr;

use super::mtls::{identity, CertField};
use super::{Principal, Scheme};

#[derive(Clone, Debug)]
pub struct ProxySettings {
    pub user_header: String,
    pub groups_header: Option<String>,
    pub trusted_sources: Vec<Cidr>,
    /// Client-certificate CNs of proxies allowed to assert identities.
    pub trusted_cns: Vec<String>,
}

impl ProxySettings {
    pub fn trusted(&self, peer: Option<IpAddr>, certs: &[Vec<u8>]) -> bool {
        if peer.is_some_and(|ip| self.trusted_sources.iter().any(|c| c.contains(ip))) {
            return true;
        }
        certs.first().and_then(|leaf| identity(leaf, CertField::Cn)).is_some_and(|cn| self.trusted_cns.contains(&cn))
    }
}

pub fn principal(_s: &ProxySettings, user: &str, groups: Option<&str>) -> Principal {
    let groups = groups.map(|g| g.split(',').map(str::trim).filter(|g| !g.is_empty()).map(str::to_string).collect()).unwrap_or_default();
    Principal::new(user, groups, Scheme::Proxy)
}

/// An IP network such as `10.0.0.0/8` or `::1/128` (a bare address is a /32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (ip, prefix) = match s.split_once('/') {
            Some((ip, p)) => (ip, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = ip.trim().parse().map_err(|_| format!("[{s}] is not an IP network"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.trim().parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(|| format!("[{s}] has a bad prefix length"))?,
            None => max,
        };
        Ok(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask(u128::from(u32::from(n)), u128::from(u32::from(a)), self.prefix, 32),
            (IpAddr::V6(n), IpAddr::V6(a)) => mask(u128::from(n), u128::from(a), self.prefix, 128),
            _ => false,
        }
    }
}

fn mask(n: u128, a: u128, prefix: u8, bits: u32) -> bool {
    if prefix == 0 {
        return true;
    }
    let shift = bits - u32::from(prefix);
    (n >> shift) == (a >> shift)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains("10.2.3.4".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("127.0.0.1").unwrap().contains("::ffff:127.0.0.1".parse().unwrap()));
        assert!(Cidr::parse("::1/128").unwrap().contains("::1".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nope", "1.2.3.4/x"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
