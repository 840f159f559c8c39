//! Where Atrium may send a request on an operator's or a tenant's behalf
//! (providers, engines, webhooks, the audit anchor): checked when the URL is
//! registered (`base_url`), and again for every address a host name
//! resolves to when a connection is made (`reachable`, used by
//! `server::net`), so a name cannot be pointed at an internal service.

use std::net::{IpAddr, SocketAddr};

use super::validation::Invalid;

/// A provider's base URL. Requests carry the provider's credential, so
/// they go over https; plain http only to loopback. A literal private,
/// link-local or unspecified address (a cloud metadata endpoint, an
/// internal service) is refused unless its host is in `allowed_private`
/// (`ATRIUM_ALLOW_PRIVATE_UPSTREAMS`, for tests and self-hosted engines),
/// which also permits http to it.
pub fn base_url(raw: &str, allowed_private: &[String]) -> Result<String, Invalid> {
    let bad = |m: &str| Invalid::new("base_url", m.to_string());
    let u = raw.trim().trim_end_matches('/');
    if u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("must be a URL without spaces"));
    }
    let (https, rest) = match (u.strip_prefix("https://"), u.strip_prefix("http://")) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return Err(bad("must be an https:// URL")),
    };
    // `\` ends the authority too: URL parsers read it as `/` in http(s)
    // URLs, so `https://10.0.0.5\x.example.com` goes to 10.0.0.5.
    let authority = rest.split(['/', '\\', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(bad("must not carry credentials in the URL"));
    }
    let host = host_of(authority).ok_or_else(|| bad("must name a host"))?;
    if !plain_host(&host, authority.starts_with('[')) {
        // Percent-escapes and non-ASCII digits (`%31%30.0.0.5`, full-width
        // `１０.０.０.５`) are decoded by URL parsers into an address the
        // checks below would not see.
        return Err(bad(
            "must name its host in ASCII letters, digits, dots, hyphens and underscores \
             (punycode for an international name), or an IPv6 address in brackets",
        ));
    }
    let allowed = allowed_private
        .iter()
        .any(|h| h.eq_ignore_ascii_case(&host));
    if looks_numeric(&host) && host.parse::<IpAddr>().is_err() {
        // `167772165`, `0x0a.5`, `012.0.0.5`: browsers and resolvers read
        // these as addresses, so one could hide a private one.
        return Err(bad(
            "must name a host, or an IPv4 address as four decimal numbers",
        ));
    }
    let ip = host.parse::<IpAddr>().ok();
    let loopback = host.eq_ignore_ascii_case("localhost") || ip.is_some_and(|ip| ip.is_loopback());
    if ip.is_some_and(|ip| !ip.is_loopback() && is_private(ip)) && !allowed {
        return Err(bad(
            "is a private address; list its host in ATRIUM_ALLOW_PRIVATE_UPSTREAMS to allow it",
        ));
    }
    if !https && !loopback && !allowed {
        return Err(bad(
            "must be https:// (http:// only to loopback or an allowed private host)",
        ));
    }
    Ok(u.to_string())
}

/// The host of `host[:port]` or `[v6]:port`, lower-cased.
fn host_of(authority: &str) -> Option<String> {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next()?,
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A host as URL parsers will read it: a name or IPv4 address in ASCII
/// letters, digits, dots, hyphens and underscores, or an IPv6 address (in brackets).
fn plain_host(host: &str, bracketed: bool) -> bool {
    if bracketed {
        return host.parse::<std::net::Ipv6Addr>().is_ok();
    }
    // `_` too: container and compose service names carry it.
    host.bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

/// A host whose last label is a number (decimal, octal or hex): resolvers
/// and URL parsers read it as an IPv4 address in one of inet_aton's forms.
fn looks_numeric(host: &str) -> bool {
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    let hex = last
        .strip_prefix("0x")
        .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
    !last.is_empty() && (hex || last.bytes().all(|b| b.is_ascii_digit()))
}

/// Addresses a request on a tenant's or operator's behalf must not reach
/// without being allowed by name: private (RFC 1918, unique local),
/// shared (CGNAT, 100.64/10), link-local (cloud metadata), loopback,
/// unspecified, broadcast, benchmarking, reserved and multicast ranges,
/// and IPv6 forms that carry an IPv4 address (mapped, compatible, NAT64).
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
        }
    }
}

/// The IPv4 address an IPv6 one carries: mapped (`::ffff:a.b.c.d`),
/// compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let tail =
        std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let nat64 = s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4];
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    let compatible = s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified();
    (nat64 || mapped || compatible).then_some(tail)
}

/// Of the addresses `host` resolved to, those a request may reach: all
/// of them for `localhost` and the hosts in `allowed`; otherwise none that
/// is private (a name that resolves to an internal address, or is made to
/// at connection time, reaches nothing).
pub fn reachable(host: &str, addrs: Vec<SocketAddr>, allowed: &[String]) -> Vec<SocketAddr> {
    let host = host.trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|h| h.eq_ignore_ascii_case(host))
    {
        return addrs;
    }
    addrs.into_iter().filter(|a| !is_private(a.ip())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_addresses_are_refused_in_every_spelling() {
        let none: [String; 0] = [];
        for bad in [
            "https://10.0.0.5",
            "https://167772165/",
            "https://0x0a000005",
            "https://012.0.0.5",
            "https://10.5",
            "https://[::ffff:10.0.0.5]",
            "https://[::ffff:169.254.169.254]/latest",
            "https://[64:ff9b::a00:5]",
            "https://100.64.0.1",
            "https://169.254.169.254",
            "https://0.0.0.0",
            "https://198.18.0.1",
            "https://10.0.0.5\\x.example.com",
            "https://%31%30.0.0.%35",
            "https://\u{ff11}\u{ff10}.\u{ff10}.\u{ff10}.\u{ff15}",
            "https://[10.0.0.5]",
        ] {
            assert!(base_url(bad, &none).is_err(), "{bad}");
        }
        for good in [
            "https://api.example.com",
            "https://8.8.8.8",
            "http://127.0.0.1:9099",
            "https://[2001:db8::1]:8443/v1",
            "https://xn--bcher-kva.example/v1",
        ] {
            assert!(base_url(good, &none).is_ok(), "{good}");
        }
        let allowed = ["10.0.0.5".to_string()];
        assert!(base_url("http://10.0.0.5:8000", &allowed).is_ok());
    }

    #[test]
    fn a_name_reaches_only_public_addresses_unless_allowed() {
        let addrs = |ips: &[&str]| -> Vec<SocketAddr> {
            ips.iter()
                .map(|ip| SocketAddr::new(ip.parse().expect("ip"), 443))
                .collect()
        };
        let mixed = addrs(&[
            "10.0.0.1",
            "93.184.216.34",
            "127.0.0.1",
            "::ffff:192.168.1.1",
        ]);
        assert_eq!(
            reachable("evil.example", mixed.clone(), &[]),
            addrs(&["93.184.216.34"])
        );
        assert!(reachable("rebound.example", addrs(&["127.0.0.1"]), &[]).is_empty());
        assert_eq!(reachable("localhost", mixed.clone(), &[]).len(), 4);
        let allowed = ["engine.internal".to_string()];
        assert_eq!(reachable("engine.internal.", mixed, &allowed).len(), 4);
    }
}
