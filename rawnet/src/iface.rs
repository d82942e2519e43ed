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
    /// has none) and an IPv4 address; [`Error::NoDefaultInterface`] if
    /// there is none.
    pub fn default_interface() -> Result<Interface, Error> {
        Interface::list()?
            .into_iter()
            .find(|i| i.up && !i.loopback && i.mac != [0; 6] && i.ipv4.is_some())
            .ok_or(Error::NoDefaultInterface)
    }

    /// All interfaces of this network namespace, ordered by index.
    pub fn list() -> Result<Vec<Interface>, Error> {
        let addrs = getifaddrs().map_err(|e| Error::io("getifaddrs", e))?;
        let mut out: Vec<Interface> = Vec::new();
        let mut v4: Vec<(String, Ipv4Addr, u8)> = Vec::new();
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
            }
        }
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

    /// [`Error::NoIpv4`] unless the interface has an IPv4 address; else it.
    pub fn require_ipv4(&self) -> Result<(Ipv4Addr, u8), Error> {
        self.ipv4.ok_or_else(|| Error::NoIpv4(self.name.clone()))
    }
}
