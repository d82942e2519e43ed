//! The active open (RFC 9293 §3.10.1, OPEN with a foreign socket given):
//! [`Endpoint::connect`] picks the local port (RFC 6056 §3.3.3, Algorithm
//! 3, over Linux's ephemeral range), the ISS (RFC 6528), and sends the SYN
//! of [`State::connect`] -- or, while the next hop's MAC is unknown, an ARP
//! request first (see `neighbor.rs`).

use core::net::{IpAddr, SocketAddr};

use crate::conn::{State, StateName, Transition};
use crate::isn::FourTuple;
use crate::time::Instant;

use super::neighbor::{next_hop, NO_LINK, UNRESOLVED};
use super::{Conn, ConnId, Endpoint, Io, Medium, NIL};

/// The first ephemeral port (Linux `ip_local_port_range`: 32768-60999).
pub const EPHEMERAL_FIRST: u16 = 32768;
/// The last ephemeral port.
pub const EPHEMERAL_LAST: u16 = 60999;

/// Why [`Endpoint::connect`] opened nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectError {
    /// The connection table is full (and holds no TIME-WAIT to recycle).
    TableFull,
    /// A connection with this 4-tuple exists already.
    TupleInUse,
    /// Every ephemeral port is in use towards this remote address and port.
    NoFreePort,
    /// The remote address cannot be a peer (unspecified, broadcast,
    /// multicast, loopback or our own), or its port is 0.
    BadRemote,
    /// An IPv6 remote while our IPv6 address is still tentative, or found
    /// to be a duplicate ([`Endpoint::start_dad`]).
    AddressTentative,
}

impl core::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            ConnectError::TableFull => "the connection table is full",
            ConnectError::TupleInUse => "a connection with this address and ports exists",
            ConnectError::NoFreePort => "no ephemeral port is free for this remote",
            ConnectError::BadRemote => "the remote address or port cannot be connected to",
            ConnectError::AddressTentative => {
                "our IPv6 address is not usable (duplicate address detection)"
            }
        })
    }
}

impl Endpoint<'_> {
    /// Opens a connection to `remote` from `local_port` of our address (0:
    /// an ephemeral port, see below) and sends its SYN; the connection is
    /// in SYN-SENT. Its events come through `io` as a passive connection's
    /// do: [`AppEvent::Established`](super::AppEvent::Established) when the
    /// handshake completes, then data; and
    /// [`AppEvent::Closed`](super::AppEvent::Closed) also when it never
    /// gets there (refused: `Reset`; no answer after
    /// [`Config::syn_retries`](crate::Config::syn_retries) SYN
    /// retransmissions: `TimedOut`). Data can be sent once it is
    /// established.
    ///
    /// With `local_port` 0 the port is chosen as RFC 6056 §3.3.3
    /// (Algorithm 3) does, from Linux's ephemeral range 32768-60999: a
    /// keyed hash of the addresses and remote port, plus a counter, probing
    /// upwards to the first port free for this remote (and other than our
    /// listening ports).
    ///
    /// On [`Medium::Ip`] the SYN always goes at once. On Ethernet, when
    /// the MAC of the next hop (the remote itself, or
    /// [`EndpointConfig::gateway`](super::EndpointConfig::gateway) for a
    /// remote off our subnet) is not in the neighbour cache, an ARP request
    /// goes out instead of the SYN, and the SYN follows the moment the
    /// reply arrives; each SYN timeout sends the request again, and the
    /// connection gives up as it would without an answer to its SYN. That is
    /// not an error here.
    ///
    /// `remote` may be IPv6 when [`EndpointConfig::addr6`](super::EndpointConfig::addr6)
    /// is set (else [`ConnectError::BadRemote`]); on Ethernet its MAC is
    /// resolved with a neighbor solicitation (RFC 4861) as ARP does for
    /// IPv4, or given with [`Endpoint::set_neighbor`].
    pub fn connect<I: Io>(
        &mut self,
        local_port: u16,
        remote: impl Into<SocketAddr>,
        now: Instant,
        io: &mut I,
    ) -> Result<ConnId, ConnectError> {
        let remote: SocketAddr = remote.into();
        let addr = remote.ip();
        let local_addr: IpAddr = match addr {
            IpAddr::V4(a)
                if !(a.is_unspecified()
                    || a.is_broadcast()
                    || a.is_multicast()
                    || a.is_loopback()
                    || a == self.cfg.addr) =>
            {
                self.cfg.addr.into()
            }
            // IPv6 needs an address of ours ([`EndpointConfig::addr6`]).
            IpAddr::V6(_) if !self.addr6_usable() => return Err(ConnectError::AddressTentative),
            IpAddr::V6(a) => match self.cfg.addr6 {
                Some(ours)
                    if !(a.is_unspecified()
                        || a.is_multicast()
                        || a.is_loopback()
                        || a == ours) =>
                {
                    ours.into()
                }
                _ => return Err(ConnectError::BadRemote),
            },
            _ => return Err(ConnectError::BadRemote),
        };
        if remote.port() == 0 {
            return Err(ConnectError::BadRemote);
        }
        let mut tuple = FourTuple {
            local_addr,
            local_port,
            remote_addr: addr,
            remote_port: remote.port(),
        };
        if local_port == 0 {
            tuple.local_port = self.ephemeral_port(&tuple)?;
        } else if self.lookup(&tuple).is_some() {
            return Err(ConnectError::TupleInUse);
        }
        if self.free == NIL && !self.recycle_time_wait(now, io) {
            return Err(ConnectError::TableFull);
        }
        let iss = self.keyed.isn(&tuple, now);
        let ts_offset = self.keyed.ts_offset(&tuple);
        let (state, syn) = State::connect(
            iss,
            ts_offset,
            now,
            self.conn_cfg(tuple.is_ipv6()),
            self.bufs,
        );
        let mac = match self.cfg.medium {
            Medium::Ethernet => self
                .neighbors
                .get(next_hop(&self.cfg, addr))
                .unwrap_or(UNRESOLVED),
            // No link layer, nothing to resolve: the SYN goes at once.
            Medium::Ip => NO_LINK,
        };
        let conn = Conn {
            tuple,
            peer_mac: mac,
            state,
            last_rx: now,
            active: true,
            lq: super::listeners::Membership::NONE,
        };
        let i = self.insert(conn).ok_or(ConnectError::TableFull)?;
        let id = ConnId {
            index: i,
            generation: self.slots[i as usize].generation,
        };
        if mac == UNRESOLVED {
            let _ = self.neighbors.pending.push((i, id.generation));
        }
        self.stats.active_opens += 1;
        let mut t = Transition::idle(state);
        t.push_reply(syn);
        self.apply(i, StateName::Closed, &t, now, io);
        Ok(id)
    }

    /// RFC 6056 §3.3.3, Algorithm 3 ("Simple Hash-Based Port Selection"):
    /// `offset = F(local address, remote address, remote port, key)`, then
    /// ports `first + (offset + next + k) % count` for k = 0, 1, ... until
    /// one is free for this remote; `next` moves on past it. (Linux's
    /// `__inet_hash_connect` is this algorithm, with a table of counters.)
    fn ephemeral_port(&mut self, tuple: &FourTuple) -> Result<u16, ConnectError> {
        let count = u32::from(EPHEMERAL_LAST - EPHEMERAL_FIRST) + 1;
        let offset = self.keyed.hash(tuple, 2) as u32;
        for k in 0..count {
            let p = offset.wrapping_add(self.next_ephemeral).wrapping_add(k) % count;
            let port = EPHEMERAL_FIRST + p as u16;
            let candidate = FourTuple {
                local_port: port,
                ..*tuple
            };
            if self.listeners.exact(port).is_none() && self.lookup(&candidate).is_none() {
                self.next_ephemeral = self.next_ephemeral.wrapping_add(k + 1);
                return Ok(port);
            }
        }
        Err(ConnectError::NoFreePort)
    }
}
