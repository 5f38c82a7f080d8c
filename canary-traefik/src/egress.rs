//! Where this crate's outgoing requests to user-given URLs (webhooks, notifications, `web` metrics) may go. Such
//! a URL comes from a spec file, and a spec file can be written by someone who should not reach
//! the machine's cloud metadata service: link-local and metadata addresses are refused unless
//! the spec allows them for that hook (web metrics never may). The names are resolved here and the connection is pinned to
//! the addresses checked, so a name cannot resolve elsewhere between the check and the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use canary_core::{Error, Result};

/// True for the addresses a hook may not reach by default: link-local (169.254.0.0/16, which
/// holds most clouds' metadata service at 169.254.169.254; fe80::/10), the metadata services at
/// other addresses (100.100.100.200, fd00:ec2::254), the unspecified address, and IPv4 ones
/// written as IPv6.
pub(crate) fn is_guarded(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => guarded_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return guarded_v4(v4);
            }
            v6.is_unspecified()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
        }
    }
}

fn guarded_v4(v4: Ipv4Addr) -> bool {
    v4.is_link_local() || v4.is_unspecified() || v4 == Ipv4Addr::new(100, 100, 100, 200)
}

/// The addresses `url` reaches, resolved now, or an error when one of them is guarded and
/// `allow_guarded` is false (the error names the host, never the query, and ends with `hint`).
/// `field` names the URL's field in errors about the URL itself.
pub(crate) async fn resolve_checked(
    url: &reqwest::Url,
    allow_guarded: bool,
    field: &str,
    hint: &str,
) -> Result<(String, Vec<SocketAddr>)> {
    let host = url
        .host_str()
        .ok_or_else(|| Error::invalid(field, "the URL has no host"))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = url
        .port_or_known_default()
        .ok_or_else(|| Error::invalid(field, "the URL has no port"))?;
    let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| Error::unavailable(format!("cannot resolve {host}: {e}")).with_source(e))?
            .take(16)
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Error::unavailable(format!("{host} resolves to no address")));
    }
    if !allow_guarded {
        if let Some(a) = addrs.iter().find(|a| is_guarded(a.ip())) {
            return Err(Error::rejected(
                "canary",
                format!(
                    "{host} resolves to {}, a link-local or metadata address{hint}",
                    a.ip()
                ),
            ));
        }
    }
    Ok((host, addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_are_guarded_loopback_and_private_are_not() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "100.100.100.200",
            "0.0.0.0",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
            "::",
        ] {
            assert!(is_guarded(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "127.0.0.1",
            "10.0.0.5",
            "192.168.1.1",
            "::1",
            "2001:db8::1",
            "100.100.100.201",
        ] {
            assert!(!is_guarded(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn literal_addresses_are_checked_without_dns() {
        let u = reqwest::Url::parse("http://169.254.169.254/latest/meta-data?token=x").unwrap();
        let e = resolve_checked(&u, false, "u", "; hint").await.unwrap_err();
        assert!(e.to_string().contains("169.254.169.254"), "{e}");
        assert!(e.to_string().ends_with("; hint"), "{e}");
        assert!(!e.to_string().contains("token"), "{e}");
        assert!(resolve_checked(&u, true, "u", "").await.is_ok());
        let u = reqwest::Url::parse("http://[fe80::1]:8080/x").unwrap();
        assert!(resolve_checked(&u, false, "u", "").await.is_err());
        let u = reqwest::Url::parse("http://127.0.0.1:9/x").unwrap();
        assert_eq!(
            resolve_checked(&u, false, "u", "").await.unwrap().1.len(),
            1
        );
    }
}
