//! Framing and sending: a reply or segment becomes an Ethernet + IPv4 +
//! TCP frame (a bare IPv4 + TCP packet on [`Medium::Ip`]) in a buffer from
//! [`Io::tx`] (or [`Io::tx_gso`]); a
//! connection's data and FIN go out as its windows allow; ACK batching
//! holds pure ACKs until [`Endpoint::flush_acks`].

use core::net::{IpAddr, Ipv6Addr};

use crate::conn::{IpEcn, Reply};
use crate::isn::FourTuple;
use crate::time::Instant;
use crate::wire::{
    self, EtherType, EthernetAddress, EthernetRepr, IpPair, IpProtocol, Ipv4Repr, Ipv6Packet,
    Ipv6Repr, TcpControl, TcpPacket,
};

/// The EtherType of IPv6.
pub(super) const ETHERTYPE_IPV6: u16 = 0x86dd;

/// Writes the link-layer header (with `link` 14: Ethernet from `src` to
/// `dst`, EtherType IPv6; with 0 none) and the IPv6 header `ip` at the
/// start of `buf`, and returns the rest: where the upper layer goes
/// (`ip.payload_len` bytes at least), or `None` when `buf` is too small.
pub(super) fn frame_v6<'b>(
    buf: &'b mut [u8],
    link: usize,
    src: EthernetAddress,
    dst: EthernetAddress,
    ip: &Ipv6Repr,
) -> Option<&'b mut [u8]> {
    let (head, rest) = buf.split_at_mut_checked(link)?;
    if link > 0 {
        let eth = EthernetRepr {
            src_addr: src,
            dst_addr: dst,
            ethertype: EtherType::Unknown(ETHERTYPE_IPV6),
        };
        eth.emit(&mut wire::EthernetFrame::new_unchecked(&mut *head))
            .ok()?;
    }
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut *rest)).ok()?;
    rest.get_mut(Ipv6Repr::HEADER_LEN..)
}

/// A segmentation-offload frame's data as [`Io::tx_gso_gather`] takes it;
/// `None` for a frame sent whole. (Only a connection's `transmit` makes
/// GSO frames; the replies `Endpoint::emit` builds without one never are.)
fn gather<'p>(r: &Reply, payload: &'p [u8], conn: Option<ConnId>) -> Option<TxPayload<'p>> {
    let conn = conn.filter(|_| r.gso > 0)?;
    Some(TxPayload {
        bytes: payload,
        conn,
        seq: r.seq,
    })
}

use super::neighbor::{arp_request, nd_solicit, next_hop, UNRESOLVED};
use super::{ConnId, DropReason, Endpoint, EndpointConfig, Io, Medium, Stats, TxPayload};

impl Endpoint<'_> {
    /// ACK batching: with it on, an ACK that only acknowledges new in-order
    /// data (not a duplicate ACK, not one with SACK blocks) is held by its
    /// connection until [`Endpoint::flush_acks`], which the caller calls
    /// after each batch of frames, or until the connection's own bounds
    /// ([`Config::ack_hold_bytes`](crate::Config::ack_hold_bytes),
    /// [`Config::ack_hold`](crate::Config::ack_hold)): a burst of
    /// segments then costs one ACK, as GRO makes it for Linux. Off by
    /// default (every ACK goes out at once).
    pub fn set_batching(&mut self, on: bool) {
        self.batching = on;
    }

    /// How many connections may have an ACK held back by batching, waiting
    /// for [`Endpoint::flush_acks`] (an upper bound: a connection's data
    /// may have carried its ACK since).
    pub fn acks_held(&self) -> usize {
        self.deferred.len()
    }

    /// Sends the ACKs held back by batching (see [`Endpoint::set_batching`]),
    /// built now: with the window and timestamp as they are.
    pub fn flush_acks<I: Io>(&mut self, now: Instant, io: &mut I) {
        let held = core::mem::take(&mut self.deferred);
        for (i, generation) in held {
            let Some(slot) = self.slots.get(i as usize) else {
                continue;
            };
            let Some(conn) = slot.conn.as_ref().filter(|_| slot.generation == generation) else {
                continue;
            };
            let (tuple, mac) = (conn.tuple, conn.peer_mac);
            if self.transmit(i, &tuple, mac, now, false, io) > 0 {
                self.wake_for(i);
            }
        }
    }

    /// Notes connection `i` for [`Endpoint::flush_acks`] when it holds an
    /// ACK back; sends it now when the list is full.
    pub(super) fn hold_ack<I: Io>(&mut self, i: u32, generation: u32, now: Instant, io: &mut I) {
        let Some(c) = self.slots[i as usize].conn.as_ref() else {
            return;
        };
        if !c.state.ack_held() || self.deferred.iter().any(|d| d.0 == i && d.1 == generation) {
            return;
        }
        let (tuple, mac) = (c.tuple, c.peer_mac);
        if self.deferred.push((i, generation)).is_err() {
            self.transmit(i, &tuple, mac, now, false, io);
        }
    }

    /// Connection `i` is gone: nothing of it is held any more.
    pub(super) fn forget_ack(&mut self, i: u32) {
        if !self.deferred.is_empty() {
            self.deferred.retain(|d| d.0 != i);
        }
    }

    pub(super) fn emit<I: Io>(
        &mut self,
        tuple: &FourTuple,
        peer_mac: EthernetAddress,
        r: &Reply,
        io: &mut I,
    ) {
        let mut out = Out {
            cfg: &self.cfg,
            ident: &mut self.ident,
            stats: &mut self.stats,
        };
        out.emit(tuple, peer_mac, r, &[], None, io);
    }

    /// Sends what connection `i` has to send: retransmissions, new data,
    /// its FIN, then the ACK it owes (see
    /// [`State::poll_transmit`](crate::State::poll_transmit)); with `hold`,
    /// an owed ACK that only acknowledges in-order data may stay held
    /// ([`Endpoint::set_batching`]). Returns how many segments went.
    pub(super) fn transmit<I: Io>(
        &mut self,
        i: u32,
        tuple: &FourTuple,
        peer_mac: EthernetAddress,
        now: Instant,
        hold: bool,
        io: &mut I,
    ) -> usize {
        let each = self.bufs.tx;
        let at = i as usize * each;
        let tx = &self.tx_mem[at..at + each];
        let slot = &mut self.slots[i as usize];
        let id = ConnId {
            index: i,
            generation: slot.generation,
        };
        let Some(conn) = slot.conn.as_mut() else {
            return 0;
        };
        let mut out = Out {
            cfg: &self.cfg,
            ident: &mut self.ident,
            stats: &mut self.stats,
        };
        // IPv6 connections have their own configuration (a lower MSS).
        let conn_cfg = if tuple.is_ipv6() {
            if io.gso() {
                &self.conn6
            } else {
                &self.conn6_no_gso
            }
        } else if io.gso() {
            &self.cfg.conn
        } else {
            &self.conn_no_gso
        };
        let mut sent = 0;
        // Bounded: the windows bound it already; this guards the loop.
        for _ in 0..4096 {
            let max = conn.state.send_max();
            let Some(r) = conn
                .state
                .poll_transmit_or_hold(now, conn_cfg, &slot.rx, hold)
            else {
                break;
            };
            let occupies = r.len > 0 || r.control != TcpControl::None;
            if occupies && max.is_some_and(|m| r.seq.before(m)) {
                out.stats.retransmits += 1;
            }
            let payload =
                super::app::payload(&self.borrowed, tx, i, id.generation, r.seq, r.len as usize);
            out.emit(tuple, peer_mac, &r, payload, Some(id), io);
            sent += 1;
        }
        sent
    }
}

/// What emitting a frame needs from the endpoint, borrowed apart from the
/// connection table.
struct Out<'a> {
    cfg: &'a EndpointConfig,
    ident: &'a mut u16,
    stats: &'a mut Stats,
}

impl Out<'_> {
    pub(super) fn emit<I: Io>(
        &mut self,
        tuple: &FourTuple,
        peer_mac: EthernetAddress,
        r: &Reply,
        payload: &[u8],
        conn: Option<ConnId>,
        io: &mut I,
    ) {
        let medium = self.cfg.medium;
        if medium == Medium::Ethernet && peer_mac == UNRESOLVED {
            // An active open whose next hop is not known yet: ask for it
            // instead (the SYN follows when the answer comes).
            return match next_hop(self.cfg, tuple.remote_addr) {
                IpAddr::V4(hop) => arp_request(self.cfg, self.stats, hop, io),
                IpAddr::V6(hop) => nd_solicit(self.cfg, self.stats, hop, io),
            };
        }
        // One branch on the family per frame; IPv4 goes on as before.
        let (src_addr, dst_addr) = match (tuple.local_addr, tuple.remote_addr) {
            (IpAddr::V4(s), IpAddr::V4(d)) => (s, d),
            (IpAddr::V6(s), IpAddr::V6(d)) => {
                return self.emit_v6(s, d, tuple, peer_mac, r, payload, conn, io);
            }
            _ => return,
        };
        let tcp = r.to_repr(tuple.local_port, tuple.remote_port, payload);
        *self.ident = self.ident.wrapping_add(1);
        let ip = Ipv4Repr {
            src_addr,
            dst_addr,
            protocol: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            ttl: 64,
            dscp: 0,
            // RFC 3168 §6.1.2: ECT(0) on the segments the connection says.
            ecn: if r.ect { IpEcn::Ect0.bits() } else { 0 },
            ident: *self.ident,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        // The frame's length: one branch on the medium per frame, the rest
        // is the same.
        let len = match medium {
            Medium::Ethernet => wire::tcp_frame_len(&tcp),
            Medium::Ip => wire::tcp_packet_len(&tcp),
        };
        let eth = EthernetRepr {
            src_addr: self.cfg.mac,
            dst_addr: peer_mac,
            ethertype: EtherType::Ipv4,
        };
        let eth = (medium == Medium::Ethernet).then_some(&eth);
        if let Some(payload) = gather(r, payload, conn) {
            // A segmentation-offload batch: the headers, then the data as it
            // lies in the send buffer (a gather write); the checksum field
            // holds the pseudo-header sum (Linux's CHECKSUM_PARTIAL), the
            // segmentation completes each segment's, so the data is not
            // read here.
            let head = len - payload.bytes.len();
            let sent = io.tx_gso_gather(head, r.gso, payload, |buf| {
                wire::emit_tcp_headers(buf, eth, &ip, &tcp).is_ok()
            });
            return self.count_sent(sent, r);
        }
        let sent = io.tx(len).is_some_and(|buf| match eth {
            Some(eth) => wire::emit_tcp_frame(buf, eth, &ip, &tcp).is_ok(),
            None => wire::emit_tcp_packet(buf, &ip, &tcp).is_ok(),
        });
        self.count_sent(sent, r);
    }

    /// Counts a frame that went (`sent`), or one the transport had no room
    /// for.
    fn count_sent(&mut self, sent: bool, r: &Reply) {
        if sent {
            self.stats.tx_frames += 1;
            if r.control == TcpControl::Rst {
                self.stats.tx_rsts += 1;
            }
        } else {
            self.stats.drops[DropReason::TxNoRoom as usize] += 1;
        }
    }

    /// [`Out::emit`] for a connection of the IPv6 family: Ethernet/IPv6/TCP
    /// (bare IPv6/TCP on [`Medium::Ip`]), hop limit 64, flow label 0, the
    /// traffic class carrying the ECN field as IPv4's TOS does, the TCP
    /// checksum over the IPv6 pseudo-header (RFC 8200 §8.1); a
    /// segmentation-offload batch as for IPv4 (no extension headers, so
    /// the transport's `VIRTIO_NET_HDR_GSO_TCPV6` finds TCP at 40).
    #[allow(clippy::too_many_arguments)]
    fn emit_v6<I: Io>(
        &mut self,
        src: Ipv6Addr,
        dst: Ipv6Addr,
        tuple: &FourTuple,
        peer_mac: EthernetAddress,
        r: &Reply,
        payload: &[u8],
        conn: Option<ConnId>,
        io: &mut I,
    ) {
        let tcp = r.to_repr(tuple.local_port, tuple.remote_port, payload);
        let ip = Ipv6Repr {
            src_addr: src,
            dst_addr: dst,
            next_header: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            hop_limit: 64,
            dscp: 0,
            ecn: if r.ect { IpEcn::Ect0.bits() } else { 0 },
            flow_label: 0,
        };
        let link = match self.cfg.medium {
            Medium::Ethernet => EthernetRepr::HEADER_LEN,
            Medium::Ip => 0,
        };
        let len = link + ip.buffer_len();
        let pair = IpPair::V6 { src, dst };
        let (mac, hdr) = (self.cfg.mac, &ip);
        if let Some(payload) = gather(r, payload, conn) {
            // A gather write with CHECKSUM_PARTIAL, as for IPv4 (Linux
            // `tcp6_gso_segment` expects the pseudo-header sum).
            let head = len - payload.bytes.len();
            let sent = io.tx_gso_gather(head, r.gso, payload, |buf| {
                frame_v6(buf, link, mac, peer_mac, hdr)
                    .is_some_and(|seg| tcp.emit_header_partial(seg, pair).is_ok())
            });
            return self.count_sent(sent, r);
        }
        let sent = io.tx(len).is_some_and(|buf| {
            frame_v6(buf, link, mac, peer_mac, hdr).is_some_and(|seg| {
                tcp.emit_ip(&mut TcpPacket::new_unchecked(seg), pair)
                    .is_ok()
            })
        });
        self.count_sent(sent, r);
    }
}
