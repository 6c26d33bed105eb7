//! Where deliveries may go. A webhook URL is typed by a desk user, and the server sends to it
//! from inside the deployment: without a guard it would reach the database, the metadata
//! service of the cloud it runs in, or anything else on the private network (server-side
//! request forgery). Unless `webhook_allow_private_networks` is set (tests, on-premises
//! receivers), a delivery goes only to public addresses: names are resolved through
//! [`PublicOnly`], so a name that resolves to a private address (or is re-pointed there after
//! the check: DNS rebinding) is never connected to, and literal addresses are checked before
//! the request.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Resolves names to their public addresses only; none public is an error.
#[derive(Debug, Clone, Copy)]
pub struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            // One message whether the name is unknown or only private: the delivery log must
            // not tell a desk user which internal names exist.
            let refused = || format!("{host} does not resolve to a public address");
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|_| refused())?
                .collect();
            let public: Vec<SocketAddr> = all.into_iter().filter(|a| is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(refused().into());
            }
            Ok(Box::new(public.into_iter()) as Addrs)
        })
    }
}

/// An address on the public internet: not loopback, private, link-local, shared (CGNAT),
/// documentation, benchmarking, multicast, broadcast or unspecified. IPv6 must be global
/// unicast (`2000::/3`); addresses that carry an IPv4 one (mapped, NAT64 `64:ff9b::/96`, 6to4
/// `2002::/16`) are judged as that IPv4, and Teredo and local-use NAT64 are refused.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => public_v4(v4),
            None => public_v6(v6),
        },
    }
}

fn public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let o = ip.octets();
    // NAT64 (RFC 6052): the IPv4 address in the last 32 bits is where it goes.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return public_v4(Ipv4Addr::new(o[12], o[13], o[14], o[15]));
    }
    // 6to4: the IPv4 address in bits 16..48.
    if s[0] == 0x2002 {
        return public_v4(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    let global_unicast = (s[0] & 0xe000) == 0x2000;
    let documentation = s[0] == 0x2001 && s[1] == 0x0db8;
    let teredo = s[0] == 0x2001 && s[1] == 0;
    global_unicast && !documentation && !teredo
}

/// The URL's host, when it is a literal address that is not public.
pub fn private_literal(url: &str) -> Option<IpAddr> {
    // The URL parser normalises every spelling of an address (`0x7f.1`, `[::ffff:7f00:1]`).
    let u = reqwest::Url::parse(url).ok()?;
    let host = u.host_str()?;
    let ip: IpAddr = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    (!is_public(ip)).then_some(ip)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:5",
            "64:ff9b:1::1",
            "2002:a00:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "::ffff:0:a00:1",
            "::127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "1.1.1.1",
            "203.0.114.1",
            "2606:4700:4700::1111",
            "64:ff9b::101:101",
            "2002:101:101::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        assert_eq!(
            private_literal("http://169.254.169.254/latest/meta-data"),
            Some("169.254.169.254".parse().unwrap())
        );
        assert_eq!(
            private_literal("http://[::1]:8080/"),
            Some("::1".parse().unwrap())
        );
        assert_eq!(private_literal("https://hooks.example.com/x"), None);
        assert_eq!(
            private_literal("http://0x7f.1/"),
            Some("127.0.0.1".parse().unwrap()),
            "another spelling of loopback"
        );
    }
}
