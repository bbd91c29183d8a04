//! `ip_class`: public / private / reserved, from the IANA special-purpose address registries
//! (RFC 6890 and its updates). No lists, no allocation.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use gw_model::IpClass;

/// Classifies an address.
///
/// * **private**: RFC 1918 (`10/8`, `172.16/12`, `192.168/16`), CGNAT shared space (`100.64/10`,
///   RFC 6598), loopback (`127/8`, `::1`), link-local (`169.254/16`, `fe80::/10`), unique-local
///   (`fc00::/7`), deprecated site-local (`fec0::/10`), local-use NAT64 (`64:ff9b:1::/48`).
/// * **reserved**: "this network" and unspecified (`0/8`, `::`), IETF protocol assignments
///   (`192.0.0/24`, `2001::/23`), documentation (`192.0.2/24`, `198.51.100/24`, `203.0.113/24`,
///   `2001:db8::/32`, `3fff::/20`), benchmarking (`198.18/15`), deprecated 6to4 relay anycast
///   (`192.88.99/24`), multicast (`224/4`, `ff00::/8`), future use and broadcast (`240/4`),
///   discard-only (`100::/64`), SRv6 SIDs (`5f00::/16`) and all IPv6 outside `2000::/3` (not
///   allocated for unicast).
/// * **public**: everything else.
///
/// IPv4-mapped (`::ffff:a.b.c.d`) and well-known NAT64 (`64:ff9b::/96`) addresses are classified
/// by the IPv4 address they carry.
pub fn ip_class(ip: IpAddr) -> IpClass {
    match ip.to_canonical() {
        IpAddr::V4(v4) => ipv4_class(v4),
        IpAddr::V6(v6) => ipv6_class(v6),
    }
}

fn in_v4(ip: u32, net: [u8; 4], len: u32) -> bool {
    let mask = u32::MAX.checked_shl(32 - len).unwrap_or(0);
    ip & mask == u32::from_be_bytes(net)
}

fn ipv4_class(ip: Ipv4Addr) -> IpClass {
    const PRIVATE: [([u8; 4], u32); 6] = [
        ([10, 0, 0, 0], 8),
        ([172, 16, 0, 0], 12),
        ([192, 168, 0, 0], 16),
        ([100, 64, 0, 0], 10),
        ([127, 0, 0, 0], 8),
        ([169, 254, 0, 0], 16),
    ];
    const RESERVED: [([u8; 4], u32); 9] = [
        ([0, 0, 0, 0], 8),
        ([192, 0, 0, 0], 24),
        ([192, 0, 2, 0], 24),
        ([198, 51, 100, 0], 24),
        ([203, 0, 113, 0], 24),
        ([198, 18, 0, 0], 15),
        ([192, 88, 99, 0], 24),
        ([224, 0, 0, 0], 4),
        ([240, 0, 0, 0], 4),
    ];
    let ip = u32::from(ip);
    if PRIVATE.iter().any(|&(net, len)| in_v4(ip, net, len)) {
        IpClass::Private
    } else if RESERVED.iter().any(|&(net, len)| in_v4(ip, net, len)) {
        IpClass::Reserved
    } else {
        IpClass::Public
    }
}

fn in_v6(ip: u128, net: u128, len: u32) -> bool {
    let mask = u128::MAX.checked_shl(128 - len).unwrap_or(0);
    ip & mask == net
}

fn ipv6_class(ip: Ipv6Addr) -> IpClass {
    const PRIVATE: [(u128, u32); 5] = [
        (1, 128),                     // ::1 loopback
        (0xfc00 << 112, 7),           // unique local
        (0xfe80 << 112, 10),          // link-local
        (0xfec0 << 112, 10),          // site-local (deprecated)
        (0x0064_ff9b_0001 << 80, 48), // local-use NAT64
    ];
    const RESERVED: [(u128, u32); 3] = [
        (0x2001_0db8 << 96, 32), // documentation
        (0x2001 << 112, 23),     // IETF protocol assignments
        (0x3fff << 112, 20),     // documentation (RFC 9637)
    ];
    const NAT64_WELL_KNOWN: u128 = 0x0064_ff9b << 96;
    let bits = u128::from(ip);
    if PRIVATE.iter().any(|&(net, len)| in_v6(bits, net, len)) {
        return IpClass::Private;
    }
    if in_v6(bits, NAT64_WELL_KNOWN, 96) {
        return ipv4_class(Ipv4Addr::from(bits as u32));
    }
    if RESERVED.iter().any(|&(net, len)| in_v6(bits, net, len)) {
        return IpClass::Reserved;
    }
    if in_v6(bits, 0x2000 << 112, 3) {
        IpClass::Public
    } else {
        IpClass::Reserved
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> IpClass {
        ip_class(s.parse().unwrap())
    }

    #[test]
    fn ipv4_private_ranges_and_their_edges() {
        for ip in [
            "10.0.0.0",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.169.254",
        ] {
            assert_eq!(class(ip), IpClass::Private, "{ip}");
        }
        for ip in [
            "172.15.255.255",
            "172.32.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "11.0.0.0",
        ] {
            assert_eq!(class(ip), IpClass::Public, "{ip}");
        }
    }

    #[test]
    fn ipv4_reserved_ranges() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.200",
            "203.0.113.45",
            "198.18.0.1",
            "198.19.255.255",
            "192.88.99.1",
            "224.0.0.251",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert_eq!(class(ip), IpClass::Reserved, "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "1.1.1.1",
            "198.20.0.0",
            "223.255.255.255",
            "192.0.3.0",
        ] {
            assert_eq!(class(ip), IpClass::Public, "{ip}");
        }
    }

    #[test]
    fn ipv6_classes() {
        for (ip, want) in [
            ("::1", IpClass::Private),
            ("fd12:3456::1", IpClass::Private),
            ("fc00::1", IpClass::Private),
            ("fe80::1", IpClass::Private),
            ("febf::1", IpClass::Private),
            ("fec0::1", IpClass::Private),
            ("64:ff9b:1::1", IpClass::Private),
            ("::", IpClass::Reserved),
            ("::2", IpClass::Reserved),
            ("100::1", IpClass::Reserved),
            ("2001:db8::1", IpClass::Reserved),
            ("2001::1", IpClass::Reserved),
            ("3fff::1", IpClass::Reserved),
            ("ff02::1", IpClass::Reserved),
            ("5f00::1", IpClass::Reserved),
            ("4000::1", IpClass::Reserved),
            ("2a00:1450:4001::1", IpClass::Public),
            ("2606:4700::1111", IpClass::Public),
            ("2001:200::1", IpClass::Public),
            ("2002:c000:204::1", IpClass::Public),
            ("3ffe::1", IpClass::Public),
        ] {
            assert_eq!(class(ip), want, "{ip}");
        }
    }

    #[test]
    fn embedded_ipv4_is_classified_as_ipv4() {
        assert_eq!(class("::ffff:10.1.2.3"), IpClass::Private);
        assert_eq!(class("::ffff:8.8.8.8"), IpClass::Public);
        assert_eq!(class("64:ff9b::8.8.8.8"), IpClass::Public);
        assert_eq!(class("64:ff9b::192.168.0.1"), IpClass::Private);
        assert_eq!(class("64:ff9b::192.0.2.1"), IpClass::Reserved);
    }
}
