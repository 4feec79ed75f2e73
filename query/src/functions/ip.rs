//! IP address functions (section 4.7), on `std::net` parsing: dotted quads without leading zeros,
//! and RFC 4291 IPv6 text (including `::ffff:1.2.3.4`). No zone ids, no surrounding spaces.
//!
//! Validity tests (`isValidIp*`) answer false for anything that is not an address, including a
//! missing field. The other tests give no value for a missing address or an unparsable CIDR, and
//! false for text that is not an address.

use std::net::{IpAddr, Ipv4Addr};

use super::{boolean, text, FnContext, ScalarFunction};
use crate::value::Value;

pub(super) const FUNCTIONS: &[ScalarFunction] = &[
    unary("isValidIp", is_valid_ip),
    unary("isValidIpV4", is_valid_ipv4),
    unary("isValidIpV6", is_valid_ipv6),
    binary("isIpInSubnet", is_ip_in_subnet),
    binary("isIpv4InSubnet", is_ipv4_in_subnet),
    binary("isIpv6InSubnet", is_ipv6_in_subnet),
    unary("ipv4ToNumber", ipv4_to_number),
    unary("isPrivateIP", is_private_ip),
    unary("isPublicIP", is_public_ip),
    unary("isReservedIP", is_reserved_ip),
];

const fn unary(name: &'static str, call: super::ScalarImpl) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args: 1,
        max_args: Some(1),
        call,
    }
}

const fn binary(name: &'static str, call: super::ScalarImpl) -> ScalarFunction {
    ScalarFunction {
        name,
        min_args: 2,
        max_args: Some(2),
        call,
    }
}

/// RFC 1918 private IPv4 networks.
const PRIVATE_V4: &[([u8; 4], u8)] = &[([10, 0, 0, 0], 8), ([172, 16, 0, 0], 12), ([192, 168, 0, 0], 16)];

/// Unique local IPv6 addresses, fc00::/7 (RFC 4193), the IPv6 counterpart of RFC 1918.
const PRIVATE_V6: &[(u128, u8)] = &[(0xfc00_u128 << 112, 7)];

/// IANA IPv4 special-purpose ranges (RFC 6890 and successors) plus multicast and class E.
// UNSURE: the service's exact list; this is the IANA special-purpose registry's common core.
const RESERVED_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),
    ([10, 0, 0, 0], 8),
    ([100, 64, 0, 0], 10),
    ([127, 0, 0, 0], 8),
    ([169, 254, 0, 0], 16),
    ([172, 16, 0, 0], 12),
    ([192, 0, 0, 0], 24),
    ([192, 0, 2, 0], 24),
    ([192, 88, 99, 0], 24),
    ([192, 168, 0, 0], 16),
    ([198, 18, 0, 0], 15),
    ([198, 51, 100, 0], 24),
    ([203, 0, 113, 0], 24),
    ([224, 0, 0, 0], 4),
    ([240, 0, 0, 0], 4),
    ([255, 255, 255, 255], 32),
];

/// IANA IPv6 special-purpose ranges: unspecified, loopback, unique local, link local,
/// documentation, multicast.
const RESERVED_V6: &[(u128, u8)] = &[
    (0, 128),
    (1, 128),
    (0xfc00_u128 << 112, 7),
    (0xfe80_u128 << 112, 10),
    (0x2001_0db8_u128 << 96, 32),
    (0xff00_u128 << 112, 8),
];

fn address(args: &[Option<Value>], i: usize) -> Option<Result<IpAddr, ()>> {
    Some(text(args, i)?.parse::<IpAddr>().map_err(|_| ()))
}

fn is_valid_ip(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(matches!(address(args, 0), Some(Ok(_))))
}

fn is_valid_ipv4(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(matches!(address(args, 0), Some(Ok(IpAddr::V4(_)))))
}

fn is_valid_ipv6(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(matches!(address(args, 0), Some(Ok(IpAddr::V6(_)))))
}

/// A network in CIDR form. Host bits set in the address are ignored (`192.0.2.5/24` is
/// `192.0.2.0/24`).
// UNSURE: a bare address without `/len` is read as a single-host network (/32 or /128).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Network {
    V4(u32, u8),
    V6(u128, u8),
}

impl Network {
    pub(crate) fn parse(cidr: &str) -> Option<Network> {
        let (address, prefix) = match cidr.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (cidr, None),
        };
        // u8's parser takes a leading `+`; a prefix length is digits only.
        let prefix = match prefix {
            Some(p) if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) => return None,
            Some(p) => Some(p.parse::<u8>().ok()?),
            None => None,
        };
        match address.parse::<IpAddr>().ok()? {
            IpAddr::V4(a) => {
                let prefix = prefix.unwrap_or(32);
                (prefix <= 32).then_some(Network::V4(u32::from(a), prefix))
            }
            IpAddr::V6(a) => {
                let prefix = prefix.unwrap_or(128);
                (prefix <= 128).then_some(Network::V6(u128::from(a), prefix))
            }
        }
    }

    /// The prefix length: longer is more specific.
    pub(crate) fn prefix(self) -> u8 {
        match self {
            Network::V4(_, p) | Network::V6(_, p) => p,
        }
    }

    pub(crate) fn contains(self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Network::V4(net, prefix), IpAddr::V4(a)) => in_v4(u32::from(a), net, prefix),
            (Network::V6(net, prefix), IpAddr::V6(a)) => in_v6(u128::from(a), net, prefix),
            _ => false,
        }
    }
}

fn in_v4(address: u32, network: u32, prefix: u8) -> bool {
    // A shift by the full width is an overflow; `checked_shl` makes /0 match everything.
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    address & mask == network & mask
}

fn in_v6(address: u128, network: u128, prefix: u8) -> bool {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    address & mask == network & mask
}

/// Shared body of the subnet tests: `family` says which address family the function accepts.
fn in_subnet(args: &[Option<Value>], family: Option<fn(&IpAddr) -> bool>) -> Option<Value> {
    let ip = address(args, 0)?;
    let network = Network::parse(&text(args, 1)?)?;
    boolean(ip.is_ok_and(|ip| family.is_none_or(|accepts| accepts(&ip)) && network.contains(ip)))
}

fn is_ip_in_subnet(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    in_subnet(args, None)
}

fn is_ipv4_in_subnet(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    in_subnet(args, Some(IpAddr::is_ipv4))
}

fn is_ipv6_in_subnet(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    in_subnet(args, Some(IpAddr::is_ipv6))
}

fn ipv4_to_number(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    let a: Ipv4Addr = text(args, 0)?.parse().ok()?;
    Value::num(f64::from(u32::from(a)))
}

fn in_ranges(ip: IpAddr, v4: &[([u8; 4], u8)], v6: &[(u128, u8)]) -> bool {
    match ip {
        IpAddr::V4(a) => v4
            .iter()
            .any(|(net, prefix)| in_v4(u32::from(a), u32::from(Ipv4Addr::from(*net)), *prefix)),
        IpAddr::V6(a) => v6.iter().any(|(net, prefix)| in_v6(u128::from(a), *net, *prefix)),
    }
}

fn is_private(ip: IpAddr) -> bool {
    in_ranges(ip, PRIVATE_V4, PRIVATE_V6)
}

fn is_reserved(ip: IpAddr) -> bool {
    in_ranges(ip, RESERVED_V4, RESERVED_V6)
}

// UNSURE (private/public/reserved): IPv4-mapped IPv6 (`::ffff:10.0.0.1`) is judged as IPv6, not
// unwrapped to its IPv4 address.
fn is_private_ip(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(address(args, 0)?.is_ok_and(is_private))
}

fn is_public_ip(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(address(args, 0)?.is_ok_and(|ip| !is_reserved(ip)))
}

fn is_reserved_ip(_: &FnContext, args: &[Option<Value>]) -> Option<Value> {
    boolean(address(args, 0)?.is_ok_and(is_reserved))
}

#[cfg(test)]
mod tests {
    use super::super::tests::{b, call, n, s};
    use super::Network;

    #[test]
    fn valid_ip_accepts_v4_and_v6() {
        assert_eq!(call("isValidIp", &[s("192.0.2.1")]), b(true));
        assert_eq!(call("isValidIp", &[s("2001:db8::1")]), b(true));
        assert_eq!(call("isValidIp", &[s("::ffff:1.2.3.4")]), b(true));
        assert_eq!(call("isValidIp", &[s("256.1.1.1")]), b(false));
        assert_eq!(call("isValidIp", &[s("01.2.3.4")]), b(false));
        assert_eq!(call("isValidIp", &[s(" 1.2.3.4")]), b(false));
        assert_eq!(call("isValidIp", &[s("fe80::1%eth0")]), b(false));
        assert_eq!(call("isValidIp", &[None]), b(false));
        assert_eq!(call("isValidIp", &[n(1.0)]), b(false));
    }

    #[test]
    fn valid_ip_v4_and_v6_check_the_family() {
        assert_eq!(call("isValidIpV4", &[s("10.1.2.3")]), b(true));
        assert_eq!(call("isValidIpV4", &[s("::1")]), b(false));
        assert_eq!(call("isValidIpV4", &[s("1.2.3")]), b(false));
        assert_eq!(call("isValidIpV6", &[s("::1")]), b(true));
        assert_eq!(call("isValidIpV6", &[s("10.1.2.3")]), b(false));
        assert_eq!(call("isValidIpV6", &[s("2001:db8:::1")]), b(false));
        assert_eq!(call("isValidIpV6", &[None]), b(false));
    }

    #[test]
    fn ip_in_subnet_handles_both_families() {
        assert_eq!(
            call("isIpInSubnet", &[s("192.0.2.77"), s("192.0.2.0/24")]),
            b(true)
        );
        assert_eq!(
            call("isIpInSubnet", &[s("192.0.3.1"), s("192.0.2.0/24")]),
            b(false)
        );
        assert_eq!(
            call("isIpInSubnet", &[s("2001:db8:1::5"), s("2001:db8::/32")]),
            b(true)
        );
        assert_eq!(
            call("isIpInSubnet", &[s("2001:db9::5"), s("2001:db8::/32")]),
            b(false)
        );
        assert_eq!(
            call("isIpInSubnet", &[s("192.0.2.1"), s("2001:db8::/32")]),
            b(false)
        );
        assert_eq!(call("isIpInSubnet", &[s("8.8.8.8"), s("0.0.0.0/0")]), b(true));
        assert_eq!(call("isIpInSubnet", &[s("::1"), s("::/0")]), b(true));
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.1"), s("10.0.0.1")]), b(true));
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.2"), s("10.0.0.1/32")]), b(false));
        assert_eq!(
            call("isIpInSubnet", &[s("192.0.2.9"), s("192.0.2.5/24")]),
            b(true)
        );
    }

    #[test]
    fn ip_in_subnet_with_bad_input() {
        assert_eq!(call("isIpInSubnet", &[s("nope"), s("10.0.0.0/8")]), b(false));
        assert_eq!(call("isIpInSubnet", &[None, s("10.0.0.0/8")]), None);
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.1"), s("10.0.0.0/33")]), None);
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.1"), s("10.0.0.0/")]), None);
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.1"), s("10.0.0.0/+8")]), None);
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.1"), s("garbage")]), None);
        assert_eq!(call("isIpInSubnet", &[s("10.0.0.1"), None]), None);
    }

    #[test]
    fn cidr_parsing_reads_prefixes() {
        assert_eq!(Network::parse("10.0.0.0/8"), Some(Network::V4(0x0a00_0000, 8)));
        assert_eq!(Network::parse("::/128"), Some(Network::V6(0, 128)));
        assert_eq!(Network::parse("::/129"), None);
    }

    #[test]
    fn ipv4_in_subnet_is_false_for_v6_input() {
        assert_eq!(call("isIpv4InSubnet", &[s("10.1.2.3"), s("10.0.0.0/8")]), b(true));
        assert_eq!(
            call("isIpv4InSubnet", &[s("11.1.2.3"), s("10.0.0.0/8")]),
            b(false)
        );
        assert_eq!(call("isIpv4InSubnet", &[s("::1"), s("::/0")]), b(false));
        assert_eq!(call("isIpv4InSubnet", &[s("::1"), s("10.0.0.0/8")]), b(false));
    }

    #[test]
    fn ipv6_in_subnet_is_false_for_v4_input() {
        assert_eq!(call("isIpv6InSubnet", &[s("fe80::1"), s("fe80::/10")]), b(true));
        assert_eq!(call("isIpv6InSubnet", &[s("fec0::1"), s("fe80::/10")]), b(false));
        assert_eq!(call("isIpv6InSubnet", &[s("10.0.0.1"), s("0.0.0.0/0")]), b(false));
    }

    #[test]
    fn ipv4_to_number_reads_dotted_quads() {
        assert_eq!(call("ipv4ToNumber", &[s("192.168.1.1")]), n(3_232_235_777.0));
        assert_eq!(call("ipv4ToNumber", &[s("0.0.0.0")]), n(0.0));
        assert_eq!(call("ipv4ToNumber", &[s("255.255.255.255")]), n(4_294_967_295.0));
        assert_eq!(call("ipv4ToNumber", &[s("::1")]), None);
        assert_eq!(call("ipv4ToNumber", &[None]), None);
    }

    #[test]
    fn private_ip_is_rfc1918_and_unique_local() {
        for private in [
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.0.1",
            "fd00::1",
            "fc00::",
        ] {
            assert_eq!(call("isPrivateIP", &[s(private)]), b(true), "{private}");
        }
        for other in [
            "172.32.0.1",
            "8.8.8.8",
            "127.0.0.1",
            "100.64.0.1",
            "fe80::1",
            "::ffff:10.0.0.1",
            "bogus",
        ] {
            assert_eq!(call("isPrivateIP", &[s(other)]), b(false), "{other}");
        }
        assert_eq!(call("isPrivateIP", &[None]), None);
    }

    #[test]
    fn reserved_ip_covers_the_special_purpose_ranges() {
        for reserved in [
            "0.1.2.3",
            "10.0.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "169.254.1.1",
            "172.20.0.1",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.5.5",
            "198.19.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.255",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fd12::1",
            "fe80::1",
            "febf::1",
            "2001:db8::1",
            "ff02::1",
        ] {
            assert_eq!(call("isReservedIP", &[s(reserved)]), b(true), "{reserved}");
        }
        for public in [
            "8.8.8.8",
            "1.1.1.1",
            "100.128.0.1",
            "198.20.0.1",
            "2606:4700::1111",
            "fec0::1",
        ] {
            assert_eq!(call("isReservedIP", &[s(public)]), b(false), "{public}");
        }
        assert_eq!(call("isReservedIP", &[s("bogus")]), b(false));
        assert_eq!(call("isReservedIP", &[None]), None);
    }

    #[test]
    fn public_ip_is_valid_and_not_reserved() {
        assert_eq!(call("isPublicIP", &[s("8.8.8.8")]), b(true));
        assert_eq!(call("isPublicIP", &[s("2606:4700::1111")]), b(true));
        assert_eq!(call("isPublicIP", &[s("192.168.1.1")]), b(false));
        assert_eq!(call("isPublicIP", &[s("::1")]), b(false));
        assert_eq!(call("isPublicIP", &[s("bogus")]), b(false));
        assert_eq!(call("isPublicIP", &[None]), None);
    }
}
