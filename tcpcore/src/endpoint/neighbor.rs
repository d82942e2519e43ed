//! Neighbour resolution for active opens (RFC 826 ARP; for IPv6, RFC 4861
//! neighbor solicitations and advertisements): a small cache of
//! link-layer addresses, learnt from ARP requests and replies addressed to
//! us (neighbor solicitations and advertisements for IPv6) and from the
//! source of accepted TCP segments; the next hop of a
//! remote address (itself on our subnet, else the gateway); ARP requests
//! for a connection whose next hop is not known yet; and, when the answer
//! comes, the SYN that was waiting for it.

use core::net::{IpAddr, Ipv4Addr};

use crate::wire::{self, ArpOperation, ArpRepr, EtherType, EthernetAddress, EthernetRepr};

use super::{DropReason, Endpoint, EndpointConfig, Io, Stats};

/// Entries in the neighbour cache.
pub const NEIGHBORS: usize = 16;
/// Connections whose SYN waits for an ARP answer, tracked for sending it
/// the moment the answer arrives (more still work: the SYN timer looks the
/// cache up again).
const PENDING: usize = 16;

/// The peer MAC of a connection whose next hop is not resolved yet: frames
/// for it become ARP requests. All-zero is never a station's address.
pub(super) const UNRESOLVED: EthernetAddress = EthernetAddress([0; 6]);

/// The peer "MAC" of every connection on [`Medium::Ip`](super::Medium::Ip),
/// which has no link-layer addresses: a locally administered unicast
/// address, never [`UNRESOLVED`], so that nothing waits for ARP. It is
/// never written to the wire.
pub(super) const NO_LINK: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0]);

/// A bounded neighbour cache (IPv4 address to MAC), replaced oldest first.
/// Entries do not expire: a peer that moves is learnt again from its
/// segments or ARP.
#[derive(Clone, Debug, Default)]
pub(super) struct Neighbors {
    entries: heapless::Vec<(IpAddr, EthernetAddress), NEIGHBORS>,
    /// The entry to replace next when full.
    victim: usize,
    /// Slots and generations of connections waiting for resolution.
    pub(super) pending: heapless::Vec<(u32, u32), PENDING>,
}

impl Neighbors {
    #[inline]
    pub(super) fn get(&self, addr: IpAddr) -> Option<EthernetAddress> {
        self.entries.iter().find(|e| e.0 == addr).map(|e| e.1)
    }

    /// Records `addr` at `mac`; returns whether that changed the cache.
    pub(super) fn learn(&mut self, addr: IpAddr, mac: EthernetAddress) -> bool {
        if !mac.is_unicast() || mac == UNRESOLVED || addr.is_unspecified() {
            return false;
        }
        if let Some(e) = self.entries.iter_mut().find(|e| e.0 == addr) {
            let changed = e.1 != mac;
            e.1 = mac;
            return changed;
        }
        if self.entries.push((addr, mac)).is_err() {
            let v = self.victim % NEIGHBORS;
            self.entries[v] = (addr, mac);
            self.victim = (v + 1) % NEIGHBORS;
        }
        true
    }
}

/// The address whose MAC frames to `remote` go to: `remote` itself on our
/// subnet (or always, without a gateway), else the gateway.
#[inline]
pub(super) fn next_hop(cfg: &EndpointConfig, remote: IpAddr) -> IpAddr {
    // IPv6: every address is taken as on-link (no IPv6 gateway is
    // configured; a router answers for off-link ones with proxy NDP).
    let (IpAddr::V4(remote), Some(gw)) = (remote, cfg.gateway) else {
        return remote;
    };
    let bits = u32::from(cfg.prefix_len.min(32));
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    if u32::from(remote) & mask == u32::from(cfg.addr) & mask {
        remote.into()
    } else {
        gw.into()
    }
}

/// Sends the ARP request "who has `target`, tell `cfg.addr`" (RFC 826),
/// broadcast.
pub(super) fn arp_request<I: Io>(
    cfg: &EndpointConfig,
    stats: &mut Stats,
    target: Ipv4Addr,
    io: &mut I,
) {
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: cfg.mac,
        source_protocol_addr: cfg.addr,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    let eth = EthernetRepr {
        src_addr: cfg.mac,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    };
    // ARP frames are padded to the Ethernet minimum of 60 bytes.
    match io.tx(60) {
        Some(buf) => {
            if wire::emit_arp_frame(buf, &eth, &arp).is_ok() {
                stats.tx_frames += 1;
                stats.arp_requests += 1;
            }
        }
        None => stats.drops[DropReason::TxNoRoom as usize] += 1,
    }
}

/// Sends the neighbor solicitation for `target` (RFC 4861 §7.2.2): to its
/// solicited-node multicast address, hop limit 255, our MAC in the source
/// link-layer address option. The IPv6 counterpart of [`arp_request`].
pub(super) fn nd_solicit<I: Io>(
    cfg: &EndpointConfig,
    stats: &mut Stats,
    target: core::net::Ipv6Addr,
    io: &mut I,
) {
    let Some(src) = cfg.addr6 else {
        return;
    };
    let group = super::icmp::solicited_node(target);
    let ns = wire::Icmpv6Repr::NeighborSolicit(wire::NdpNeighborSolicit {
        target_addr: target,
        source_lladdr: Some(cfg.mac),
    });
    let mac = super::icmp::multicast_mac(group);
    match super::icmp::send_icmpv6(cfg, src, mac, group, 255, &ns, io) {
        Some(true) => {
            stats.tx_frames += 1;
            stats.nd_solicits += 1;
        }
        Some(false) => {}
        None => stats.drops[DropReason::TxNoRoom as usize] += 1,
    }
}

impl Endpoint<'_> {
    /// Adds (or replaces) a neighbour cache entry: frames to `addr` (as a
    /// next hop) go to `mac`. For embedders that know a neighbour already
    /// (from the operating system's table, or configuration); others are
    /// learnt from ARP.
    pub fn set_neighbor(&mut self, addr: impl Into<IpAddr>, mac: EthernetAddress) {
        self.neighbors.learn(addr.into(), mac);
    }

    /// The MAC address the neighbour cache holds for `addr` (IPv4 or
    /// IPv6).
    pub fn neighbor(&self, addr: impl Into<IpAddr>) -> Option<EthernetAddress> {
        self.neighbors.get(addr.into())
    }

    /// An ARP request or reply addressed to us taught us where `addr` is:
    /// the connections waiting for it send their SYN now.
    pub(super) fn resolved<I: Io>(
        &mut self,
        addr: IpAddr,
        mac: EthernetAddress,
        now: crate::time::Instant,
        io: &mut I,
    ) {
        if !self.neighbors.learn(addr, mac) && self.neighbors.pending.is_empty() {
            return;
        }
        let pending = core::mem::take(&mut self.neighbors.pending);
        for (i, generation) in pending {
            let waiting = self.slots.get(i as usize).and_then(|s| {
                let c = s.conn.as_ref().filter(|_| s.generation == generation)?;
                (c.peer_mac == UNRESOLVED).then_some(c.tuple)
            });
            let Some(tuple) = waiting else {
                continue;
            };
            if next_hop(&self.cfg, tuple.remote_addr) != addr {
                let _ = self.neighbors.pending.push((i, generation));
                continue;
            }
            let cfg = *self.conn_cfg(tuple.is_ipv6());
            let Some(conn) = self.slots[i as usize].conn.as_mut() else {
                continue;
            };
            conn.peer_mac = mac;
            if let Some(syn) = conn.state.resend_syn(now, &cfg) {
                self.emit(&tuple, mac, &syn, io);
            }
            self.wake_for(i);
        }
    }

    /// The MAC to send connection `i`'s frames to: its own, or, while
    /// unresolved, the cache's (which it then keeps).
    #[inline]
    pub(super) fn peer_mac_of(&mut self, i: u32) -> EthernetAddress {
        let cfg = &self.cfg;
        let Some(conn) = self.slots.get_mut(i as usize).and_then(|s| s.conn.as_mut()) else {
            return UNRESOLVED;
        };
        if conn.peer_mac == UNRESOLVED {
            if let Some(mac) = self.neighbors.get(next_hop(cfg, conn.tuple.remote_addr)) {
                conn.peer_mac = mac;
            }
        }
        conn.peer_mac
    }
}
