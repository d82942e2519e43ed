//! Interface discovery: `getifaddrs` (netlink underneath) plus `SIOCGIFMTU`.
//!
//! Everything is read in the network namespace of the calling thread (not
//! through `/sys`, which shows the namespace it was mounted in), so it works
//! on a thread that entered a namespace with `setns`.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::{sys, Error};

/// A network interface of the current network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// Kernel name, e.g. `eth0`.
    pub name: String,
    /// Interface index (what AF_PACKET binds to).
    pub index: u32,
    /// Hardware (MAC) address; all zero for loopback and for devices without
    /// one (a TUN device).
    pub mac: [u8; 6],
    /// First IPv4 address and its prefix length, if any.
    pub ipv4: Option<(Ipv4Addr, u8)>,
    /// All IPv4 addresses with prefix lengths, in the kernel's order.
    pub ipv4_all: Vec<(Ipv4Addr, u8)>,
    /// The usable global IPv6 addresses with prefix lengths, in the
    /// kernel's order (`ip -6 addr`'s): scope global, neither tentative
    /// (duplicate address detection still running) nor failed duplicate
    /// address detection. Link-local addresses are not in it.
    pub ipv6_global: Vec<(Ipv6Addr, u8)>,
    /// MTU in bytes (IP packet size, without the Ethernet header).
    pub mtu: u32,
    /// Administratively up (`IFF_UP`).
    pub up: bool,
    /// Carrier present (`IFF_RUNNING`); a veth whose peer is down is up but not running.
    pub running: bool,
    /// The loopback interface.
    pub loopback: bool,
}

impl Interface {
    /// The interface named `name`, which must be up.
    ///
    /// Errors: [`Error::NoSuchInterface`], [`Error::InterfaceDown`].
    pub fn by_name(name: &str) -> Result<Interface, Error> {
        let iface = Interface::list()?
            .into_iter()
            .find(|i| i.name == name)
            .ok_or_else(|| Error::NoSuchInterface(name.to_string()))?;
        if !iface.up {
            return Err(Error::InterfaceDown(iface.name));
        }
        Ok(iface)
    }

    /// The first interface (by index) that is up, not loopback, has a
    /// link-layer address (the server speaks Ethernet on it; a TUN device
    /// has none) and an IPv4 address; failing that, the first such one
    /// with a global IPv6 address (an IPv6-only host);
    /// [`Error::NoDefaultInterface`] if there is none.
    pub fn default_interface() -> Result<Interface, Error> {
        let mut list: Vec<Interface> = Interface::list()?
            .into_iter()
            .filter(|i| i.up && !i.loopback && i.mac != [0; 6])
            .collect();
        let v4 = list.iter().position(|i| i.ipv4.is_some());
        let v6 = || list.iter().position(|i| !i.ipv6_global.is_empty());
        match v4.or_else(v6) {
            Some(n) => Ok(list.swap_remove(n)),
            None => Err(Error::NoDefaultInterface),
        }
    }

    /// All interfaces of this network namespace, ordered by index.
    pub fn list() -> Result<Vec<Interface>, Error> {
        let addrs = getifaddrs().map_err(|e| Error::io("getifaddrs", e))?;
        let mut out: Vec<Interface> = Vec::new();
        let mut v4: Vec<(String, Ipv4Addr, u8)> = Vec::new();
        let mut v6: Vec<(String, Ipv6Addr, u8)> = Vec::new();
        for a in addrs {
            let Some(addr) = a.address else {
                // A link without a link-layer address (a TUN device, ...):
                // getifaddrs gives its AF_PACKET entry no address at all.
                if !out.iter().any(|i| i.name == a.interface_name) {
                    out.push(Interface {
                        name: a.interface_name.clone(),
                        index: if_nametoindex(a.interface_name.as_str()).unwrap_or(0),
                        mac: [0; 6],
                        ipv4: None,
                        ipv4_all: Vec::new(),
                        ipv6_global: Vec::new(),
                        mtu: 0,
                        up: a.flags.contains(InterfaceFlags::IFF_UP),
                        running: a.flags.contains(InterfaceFlags::IFF_RUNNING),
                        loopback: a.flags.contains(InterfaceFlags::IFF_LOOPBACK),
                    });
                }
                continue;
            };
            if let Some(link) = addr.as_link_addr() {
                if out.iter().any(|i| i.name == a.interface_name) {
                    continue;
                }
                out.push(Interface {
                    name: a.interface_name.clone(),
                    index: u32::try_from(link.ifindex()).unwrap_or(0),
                    mac: link.addr().unwrap_or([0; 6]),
                    ipv4: None,
                    ipv4_all: Vec::new(),
                    ipv6_global: Vec::new(),
                    mtu: 0,
                    up: a.flags.contains(InterfaceFlags::IFF_UP),
                    running: a.flags.contains(InterfaceFlags::IFF_RUNNING),
                    loopback: a.flags.contains(InterfaceFlags::IFF_LOOPBACK),
                });
            } else if let Some(sin) = addr.as_sockaddr_in() {
                let prefix = a
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in())
                    .map(|m| u32::from(m.ip()).count_ones() as u8)
                    .unwrap_or(32);
                v4.push((a.interface_name.clone(), sin.ip(), prefix));
            } else if let Some(sin6) = addr.as_sockaddr_in6() {
                let prefix = a
                    .netmask
                    .as_ref()
                    .and_then(|m| m.as_sockaddr_in6())
                    .map(|m| u128::from(m.ip()).count_ones() as u8)
                    .unwrap_or(128);
                v6.push((a.interface_name.clone(), sin6.ip(), prefix));
            }
        }
        // getifaddrs gives neither an IPv6 address's scope nor its flags
        // (tentative, DAD failed): the calling thread's namespace's
        // if_inet6 does.
        let states = std::fs::read_to_string("/proc/thread-self/net/if_inet6")
            .map(|t| parse_if_inet6(&t))
            .ok();
        let sock = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| Error::io("socket(AF_INET) for interface ioctls", e))?;
        for i in &mut out {
            i.ipv4_all = v4
                .iter()
                .filter(|(n, _, _)| *n == i.name)
                .map(|&(_, a, p)| (a, p))
                .collect();
            i.ipv4 = i.ipv4_all.first().copied();
            i.ipv6_global = v6
                .iter()
                .filter(|(n, a, _)| *n == i.name && usable_global(*a, &i.name, states.as_deref()))
                .map(|&(_, a, p)| (a, p))
                .collect();
            i.mtu = sys::interface_mtu(sock.as_fd(), &i.name).unwrap_or(0);
        }
        out.sort_by_key(|i| i.index);
        Ok(out)
    }

    /// Whether `addr` is assigned to any interface of the calling thread's
    /// network namespace, i.e. the kernel owns it and would answer for it.
    /// Unreadable interface lists count as "not owned".
    pub fn owns_address(&self, addr: Ipv4Addr) -> bool {
        Interface::list()
            .map(|l| l.iter().any(|i| i.ipv4_all.iter().any(|&(a, _)| a == addr)))
            .unwrap_or(false)
    }

    /// Whether the IPv6 `addr` is assigned to any interface of the calling
    /// thread's network namespace (as [`Interface::owns_address`]).
    pub fn owns_address6(&self, addr: Ipv6Addr) -> bool {
        getifaddrs()
            .map(|mut l| {
                l.any(|a| {
                    a.address
                        .as_ref()
                        .and_then(|s| s.as_sockaddr_in6())
                        .is_some_and(|s| s.ip() == addr)
                })
            })
            .unwrap_or(false)
    }

    /// The first usable global IPv6 address of the interface (see
    /// [`Interface::ipv6_global`]), if any.
    pub fn ipv6(&self) -> Option<(Ipv6Addr, u8)> {
        self.ipv6_global.first().copied()
    }

    /// [`Error::NoIpv4`] unless the interface has an IPv4 address; else it.
    pub fn require_ipv4(&self) -> Result<(Ipv4Addr, u8), Error> {
        self.ipv4.ok_or_else(|| Error::NoIpv4(self.name.clone()))
    }
}

/// One line of `/proc/net/if_inet6`: the address, the interface's name,
/// the address's scope and flags.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Inet6State {
    addr: Ipv6Addr,
    ifname: String,
    scope: u8,
    flags: u8,
}

/// `ifp->scope` for global addresses (`IPV6_ADDR_SCOPE_GLOBAL`, shifted as
/// the kernel prints it: 0x00 global, 0x10 host, 0x20 link, 0x40 site).
const SCOPE_GLOBAL: u8 = 0x00;
/// `IFA_F_DADFAILED`.
const IFA_F_DADFAILED: u8 = 0x08;
/// `IFA_F_TENTATIVE`.
const IFA_F_TENTATIVE: u8 = 0x40;

/// The lines of `/proc/net/if_inet6` (`if6_seq_show` in the kernel's
/// `net/ipv6/addrconf.c`: `%pi6 %02x %02x %02x %02x %8s`, i.e. address in
/// 32 hex digits, ifindex, prefix length, scope, flags, name); lines that do
/// not parse are left out.
fn parse_if_inet6(text: &str) -> Vec<Inet6State> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let [addr, _index, _prefix, scope, flags, name] = f.as_slice() else {
                return None;
            };
            let addr = u128::from_str_radix(addr, 16).ok().map(Ipv6Addr::from)?;
            Some(Inet6State {
                addr,
                ifname: (*name).to_string(),
                scope: u8::from_str_radix(scope, 16).ok()?,
                flags: u8::from_str_radix(flags, 16).ok()?,
            })
        })
        .collect()
}

/// Whether `addr` on `ifname` is a global address the kernel uses: by its
/// line of if_inet6 (scope global, not tentative, DAD not failed), or,
/// when if_inet6 could not be read, by its prefix alone (not link-local,
/// loopback, multicast or unspecified).
fn usable_global(addr: Ipv6Addr, ifname: &str, states: Option<&[Inet6State]>) -> bool {
    match states {
        Some(states) => states.iter().any(|s| {
            s.addr == addr
                && s.ifname == ifname
                && s.scope == SCOPE_GLOBAL
                && s.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED) == 0
        }),
        None => {
            !(addr.is_loopback()
                || addr.is_multicast()
                || addr.is_unspecified()
                || (addr.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as the kernel prints them: a global address, a tentative one,
    /// one whose DAD failed, a link-local one, loopback.
    const IF_INET6: &str = "\
20010002000000010000000000000001 03 40 00 80     veth0
20010002000000010000000000000002 03 40 00 c0     veth0
20010002000000010000000000000003 03 40 00 88     veth0
fe80000000000000a8bbccfffedd0001 03 40 20 80     veth0
00000000000000000000000000000001 01 80 10 80       lo
garbage
";

    #[test]
    fn if_inet6_is_parsed() {
        let s = parse_if_inet6(IF_INET6);
        assert_eq!(s.len(), 5);
        assert_eq!(
            s[0],
            Inet6State {
                addr: "2001:2:0:1::1".parse().unwrap(),
                ifname: "veth0".into(),
                scope: 0,
                flags: 0x80,
            }
        );
        assert_eq!(s[3].scope, 0x20);
        assert_eq!(s[4].ifname, "lo");
    }

    /// Only the global address that is neither tentative nor failed is
    /// usable; on its own interface only.
    #[test]
    fn only_settled_global_addresses_are_usable() {
        let s = parse_if_inet6(IF_INET6);
        let ok = |a: &str, n: &str| usable_global(a.parse().unwrap(), n, Some(&s));
        assert!(ok("2001:2:0:1::1", "veth0"));
        assert!(!ok("2001:2:0:1::1", "veth1"), "other interface");
        assert!(!ok("2001:2:0:1::2", "veth0"), "tentative");
        assert!(!ok("2001:2:0:1::3", "veth0"), "DAD failed");
        assert!(!ok("fe80::a8bb:ccff:fedd:1", "veth0"), "link-local");
        assert!(!ok("::1", "lo"), "loopback");
        assert!(!ok("2001:2:0:1::9", "veth0"), "not there");
        // Without if_inet6: by the prefix alone.
        let guess = |a: &str| usable_global(a.parse().unwrap(), "veth0", None);
        assert!(guess("2001:2:0:1::2"));
        assert!(!guess("fe80::1"));
        assert!(!guess("febf::1"));
        assert!(!guess("ff02::1"));
        assert!(!guess("::1"));
    }
}
