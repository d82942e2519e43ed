//! The endpoint: every connection of one address: those accepted on its
//! listening ports ([`Endpoint::listen`], [`Endpoint::listen_any`]), and
//! those it opened ([`Endpoint::connect`]).
//!
//! It takes whole Ethernet frames in and writes whole frames out into buffers
//! the caller lends ([`Io::tx`]) -- or, on a medium without a link layer
//! ([`Medium::Ip`]: a TUN device, a PPP or SLIP link), bare IPv4 packets.
//! Between the two it parses Ethernet, ARP, IPv4 and TCP -- and, with an
//! IPv6 address ([`EndpointConfig::addr6`]), IPv6 with its extension
//! headers, ICMPv6 and neighbor discovery -- finds the connection by its 4-tuple in a bounded table with
//! O(1) lookup, runs the connection's pure transition ([`State::on_segment`]),
//! answers segments that match no connection with the RFC 9293 §3.10.7.1
//! reset, answers ARP for its own address, and counts every frame it drops
//! by reason ([`DropReason`]).
//!
//! Every connection with a deadline (a state timer or the idle timeout) is
//! filed in a timer heap kept inside the table's slots (`endpoint/timers.rs`):
//! [`Endpoint::poll_timeout`] is O(1), refiling a connection after each of
//! its transitions is O(log n), and [`Endpoint::handle_timeout`] visits only
//! the connections that are due, O(log n) each, however many others wait.
//!
//! # Calling order
//!
//! 1. [`Endpoint::handle_frame`] for every frame received, with `now`.
//! 2. [`Endpoint::handle_timeout`] whenever `now` has reached
//!    [`Endpoint::poll_timeout`] (an extra call is harmless).
//! 3. Sleep until a frame arrives or [`Endpoint::poll_timeout`].
//!
//! Application events (a connection established, bytes delivered in order,
//! the peer's FIN, the end of a connection, each state change) are handed to
//! [`Io::event`] during those calls. Delivered bytes are borrowed from the
//! frame or from the connection's receive buffer and must be consumed then.
//!
//! # Where each part lives
//!
//! | File | Responsibility |
//! |------|----------------|
//! | `mod.rs` | [`Endpoint`], [`EndpointConfig`], construction, accessors |
//! | `io.rs` | [`Io`], [`AppEvent`], [`ConnId`]: what the endpoint asks of its surroundings and tells them |
//! | `storage.rs` | [`Slot`], [`Storage`], `OwnedStorage`, [`StorageError`]: the lent memory and its checks |
//! | `stats.rs` | [`Stats`], [`DropReason`]: the counters |
//! | `table.rs` | the connection table: hash index, free list, per-source counts, TIME-WAIT list and recycling |
//! | `demux.rs` | [`Endpoint::handle_frame`]: parsing (IPv4 and IPv6), ARP, address checks, a segment to its connection |
//! | `connect.rs` | [`Endpoint::connect`]: active opens, ephemeral ports (RFC 6056), [`ConnectError`] |
//! | `neighbor.rs` | the neighbour cache, next hop and ARP requests (IPv6: neighbor solicitations) of active opens, [`Endpoint::set_neighbor`] |
//! | `icmp.rs` | ICMP and ICMPv6: echo, path MTU messages, neighbor solicitations answered |
//! | `dad.rs` | duplicate address detection of our IPv6 address (RFC 4862 §5.4), [`Endpoint::start_dad`] |
//! | `listeners.rs` | the listener table, accept queues, [`Endpoint::listen`], [`Endpoint::accept`], [`ListenError`] |
//! | `listen.rs` | LISTEN (RFC 9293 §3.10.7.2), SYN cookies (RFC 4987), ISNs of new connections |
//! | `apply.rs` | carrying out a connection's transition: state, data to the application, replies, events |
//! | `output.rs` | framing and sending: replies, data segments, ACK batching ([`Endpoint::flush_acks`]) |
//! | `timeout.rs` | each connection's deadline, [`Endpoint::poll_timeout`], [`Endpoint::handle_timeout`] |
//! | `timers.rs` | the timer heap kept inside the table's slots |
//! | `app.rs` | the application's calls: [`Endpoint::send`], [`Endpoint::echo`], [`Endpoint::close`], ... |
//! | `read.rs` | [`Endpoint::read`]: the application copying its unread bytes out (the pull side of [`Io::deliver`]) |

use core::net::{Ipv4Addr, Ipv6Addr};

use crate::conn::{Buffers, Config, RecvBuffer, State, StateName};
use crate::isn::{FourTuple, Keyed};
use crate::time::Instant;
use crate::wire::EthernetAddress;

mod app;
mod apply;
mod connect;
mod dad;
mod demux;
mod icmp;
mod io;
mod listen;
mod listeners;
mod neighbor;
mod output;
mod read;
mod stats;
mod storage;
mod table;
mod timeout;
mod timers;

pub use app::BORROWED;
pub use connect::{ConnectError, EPHEMERAL_FIRST, EPHEMERAL_LAST};
pub use dad::{Addr6State, DAD_RETRANS, DAD_TRANSMITS};
pub use icmp::{ICMP_BURST, ICMP_PER_SEC};
pub use io::{AppEvent, ConnId, Io, TxPayload};
pub use listeners::{ListenError, ListenerId, ListenerInfo, LISTENERS};
pub use neighbor::NEIGHBORS;
pub use stats::{DropReason, Stats};
#[cfg(feature = "std")]
pub use storage::OwnedStorage;
pub use storage::{Slot, Storage, StorageError};

use storage::tx_size_ok;
use timers::Timers;

const NIL: u32 = u32::MAX;

/// What the frames that go in and out of an [`Endpoint`] are, chosen at
/// construction ([`EndpointConfig::medium`]), as smoltcp's `Medium`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Medium {
    /// Whole Ethernet frames (an `AF_PACKET` socket, a NIC, a TAP device):
    /// Ethernet + IPv4 + TCP, and ARP, which the endpoint answers for its
    /// address (`answer_arp`) and sends to resolve the next hop of an
    /// active open ([`Endpoint::connect`]).
    #[default]
    Ethernet,
    /// Bare IP packets, no link-layer header (a TUN device, a PPP or SLIP
    /// link): what comes in and what goes out starts with the IPv4 header
    /// (or, with [`EndpointConfig::addr6`], the IPv6 one: the version
    /// nibble tells them apart; no neighbor discovery is done).
    /// There is no ARP: none is answered or sent, the neighbour cache is
    /// not used, and an active open sends its SYN at once. `mac`,
    /// `answer_arp`, `gateway` and `prefix_len` are not used. The MSS is
    /// still the MTU less 40 (the MTU of an IP link counts no link-layer
    /// header either).
    Ip,
}

/// The endpoint's settings.
#[derive(Clone, Copy, Debug)]
pub struct EndpointConfig {
    /// What the frames are: Ethernet frames, or bare IPv4 packets (see
    /// [`Medium`]). Fixed for the endpoint's life.
    pub medium: Medium,
    /// Our MAC address (unused with [`Medium::Ip`]).
    pub mac: EthernetAddress,
    /// Our address.
    pub addr: Ipv4Addr,
    /// Our IPv6 address, if the endpoint serves TCP over IPv6 too (issue
    /// #17): frames to it (EtherType 0x86DD on Ethernet, version 6 on
    /// [`Medium::Ip`]) reach the same listeners and connection table as
    /// IPv4. An IPv6 connection advertises an MSS 20 bytes below
    /// [`Config::mss`] (the MTU less 60: its IP header is 40 bytes), sends
    /// segmentation-offload batches as IPv4 does (when the [`Io`] takes
    /// them), and takes ICMPv6 "packet too big" for its path MTU. With [`EndpointConfig::answer_arp`] (own-address
    /// mode) neighbor solicitations for it are answered (RFC 4861), and
    /// with that or [`Medium::Ip`] ICMPv6 echo requests. `None`: IPv6 is
    /// dropped ([`DropReason::BadIpv6`]).
    pub addr6: Option<Ipv6Addr>,
    /// The port [`Endpoint::new`] listens on, with an auto-accepting
    /// listener (no accept queue: see `endpoint::listeners`); 0 for none
    /// (a client, or listeners made with [`Endpoint::listen`] only).
    pub port: u16,
    /// Answer ARP requests for `addr` (own-address mode; unused with
    /// [`Medium::Ip`]).
    pub answer_arp: bool,
    /// Answer a segment to a port of `addr` with no connection and no
    /// listener (see [`Endpoint::listen`]) with the reset of a CLOSED port
    /// (RFC 9293 §3.10.7.1). Set it when this endpoint is the
    /// address's only TCP (own-address mode, with `answer_arp`); leave it
    /// off when the address is the kernel's too, which answers for its
    /// other ports itself.
    pub reset_other_ports: bool,
    /// Most connections in SYN-RECEIVED at once, per listener (past it,
    /// SYN cookies or drops).
    pub max_half_open: usize,
    /// The router for remote addresses off our subnet (active opens
    /// resolve its MAC instead of theirs); `None`: every address is on-link.
    pub gateway: Option<Ipv4Addr>,
    /// Our subnet's prefix length (with `gateway`: addresses that share
    /// this many leading bits with `addr` are on-link).
    pub prefix_len: u8,
    /// Per-connection settings.
    pub conn: Config,
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    tuple: FourTuple,
    peer_mac: EthernetAddress,
    state: State,
    /// When a segment last arrived (for the idle timeout).
    last_rx: Instant,
    /// Opened by [`Endpoint::connect`]: the application knows of it from
    /// the start, and learns of its end even before it is established.
    active: bool,
    /// The listener that made it, and its place on that accept queue.
    lq: listeners::Membership,
}

/// Buckets of the per-source connection counts.
const SOURCE_BUCKETS: usize = 256;
/// Connections whose ACK can wait for the end of a batch at once.
const DEFERRED_ACKS: usize = 64;

/// The connections of one address: its listeners' and its own.
pub struct Endpoint<'s> {
    cfg: EndpointConfig,
    /// The listening ports and their accept queues.
    listeners: listeners::Listeners,
    slots: &'s mut [Slot],
    rx_mem: &'s mut [u8],
    tx_mem: &'s mut [u8],
    bufs: Buffers,
    free: u32,
    len: usize,
    half_open: usize,
    keyed: Keyed,
    ident: u16,
    /// The rate limit of the ICMP messages we send (`endpoint/icmp.rs`).
    icmp_limit: icmp::IcmpLimit,
    /// Every connection with a deadline, earliest first (see
    /// `endpoint/timers.rs`).
    timers: Timers,
    /// While [`Endpoint::handle_timeout`] runs: its `now`. A connection
    /// still due after its turn is parked until the end of the call.
    sweep: Option<Instant>,
    stats: Stats,
    /// Connections per keyed hash of the source address.
    per_source: [u16; SOURCE_BUCKETS],
    /// The slot [`Endpoint::lookup`] found last.
    last_hit: core::cell::Cell<u32>,
    /// ACK batching is on ([`Endpoint::set_batching`]).
    batching: bool,
    /// Echo: in-order bytes go straight into the send buffer
    /// ([`Endpoint::set_echo`]).
    echo: bool,
    /// Data sent from the application's memory ([`Endpoint::send_borrowed`]):
    /// per connection, at most one span.
    borrowed: heapless::Vec<app::Borrowed<'s>, BORROWED>,
    /// Connections that may hold an ACK until the end of the batch: slot,
    /// generation.
    deferred: heapless::Vec<(u32, u32), DEFERRED_ACKS>,
    /// The connections' configuration for an [`Io`] without segmentation
    /// offload (`gso_max` 0), made once.
    conn_no_gso: Config,
    /// The connections' configuration for IPv6 connections: the MSS 20
    /// bytes lower (40-byte IP header).
    conn6: Config,
    /// [`Endpoint::conn6`] for an [`Io`] without segmentation offload.
    conn6_no_gso: Config,
    /// Returning cookies are checked until then (two cookie periods after
    /// the last one was sent).
    cookies_until: Option<Instant>,
    /// The TIME-WAIT slots, oldest first (a list through [`Slot`]'s
    /// `tw_prev` / `tw_next`), or `NIL`.
    tw_head: u32,
    tw_tail: u32,
    /// The neighbour cache, and the active opens waiting for it.
    neighbors: neighbor::Neighbors,
    /// RFC 6056 Algorithm 3's counter (`next_ephemeral`).
    next_ephemeral: u32,
    /// Duplicate address detection of our IPv6 address (`endpoint/dad.rs`).
    dad: dad::Dad,
}

impl<'s> Endpoint<'s> {
    /// An endpoint working in `storage` (see [`Storage`] for its shape),
    /// keyed with 16 secret random bytes for ISNs and table placement.
    pub fn new(
        cfg: EndpointConfig,
        storage: Storage<'s>,
        key: [u8; 16],
    ) -> Result<Self, StorageError> {
        let Storage { slots, rx, tx } = storage;
        let n = slots.len();
        if n == 0 || n >= NIL as usize {
            return Err(StorageError::BadSlotCount);
        }
        let rx_each = rx.len() / n;
        if rx_each * n != rx.len() || !crate::conn::rxbuf_valid_size(rx_each) {
            return Err(StorageError::BadReceiveBuffer);
        }
        let tx_each = tx.len() / n;
        if tx_each * n != tx.len() || !tx_size_ok(tx_each) {
            return Err(StorageError::BadSendBuffer);
        }
        for (i, s) in slots.iter_mut().enumerate() {
            s.bucket = NIL;
            s.next = if i + 1 < n { (i + 1) as u32 } else { NIL };
            s.conn = None;
            s.rx.clear();
            s.tw_prev = NIL;
            s.tw_next = NIL;
            s.tw_linked = false;
        }
        let mut timers = Timers::new();
        timers.clear(slots);
        Ok(Endpoint {
            cfg,
            listeners: listeners::Listeners::new(cfg.port),
            free: 0,
            slots,
            rx_mem: rx,
            tx_mem: tx,
            bufs: Buffers {
                rx: rx_each,
                tx: tx_each,
            },
            len: 0,
            half_open: 0,
            keyed: Keyed::new(key),
            ident: 0,
            icmp_limit: icmp::IcmpLimit::new(),
            timers,
            sweep: None,
            stats: Stats::default(),
            per_source: [0; SOURCE_BUCKETS],
            last_hit: core::cell::Cell::new(0),
            batching: false,
            echo: false,
            borrowed: heapless::Vec::new(),
            deferred: heapless::Vec::new(),
            conn_no_gso: Config {
                gso_max: 0,
                ..cfg.conn
            },
            conn6: Config {
                mss: cfg.conn.mss.saturating_sub(20).max(1),
                ..cfg.conn
            },
            conn6_no_gso: Config {
                gso_max: 0,
                mss: cfg.conn.mss.saturating_sub(20).max(1),
                ..cfg.conn
            },
            cookies_until: None,
            tw_head: NIL,
            tw_tail: NIL,
            neighbors: neighbor::Neighbors::default(),
            next_ephemeral: 0,
            dad: dad::Dad::new(),
        })
    }

    /// The connections' configuration for a connection of this family:
    /// [`EndpointConfig::conn`] for IPv4, its IPv6 variant (see
    /// [`EndpointConfig::addr6`]) for IPv6.
    #[inline(always)]
    fn conn_cfg(&self, v6: bool) -> &Config {
        if v6 {
            &self.conn6
        } else {
            &self.cfg.conn
        }
    }

    /// Each connection's buffer sizes.
    pub fn buffers(&self) -> Buffers {
        self.bufs
    }

    /// Connection `i`'s receive buffer.
    fn rx_buf(&mut self, i: u32) -> (&mut Option<Conn>, RecvBuffer<'_>) {
        let n = self.bufs.rx;
        let at = i as usize * n;
        let slot = &mut self.slots[i as usize];
        let mem = &mut self.rx_mem[at..at + n];
        (&mut slot.conn, RecvBuffer::from_checked(&mut slot.rx, mem))
    }

    /// The settings.
    pub fn config(&self) -> &EndpointConfig {
        &self.cfg
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Connections in the table, in any state.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Connections in SYN-RECEIVED, over all listeners.
    pub fn half_open(&self) -> usize {
        self.half_open
    }

    /// The table's capacity.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The state of connection `id`, if it still exists.
    pub fn state(&self, id: ConnId) -> Option<&State> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.conn.as_ref().map(|c| &c.state)
    }

    /// The connection with this 4-tuple.
    pub fn find(&self, tuple: &FourTuple) -> Option<ConnId> {
        let i = self.lookup(tuple)?;
        Some(ConnId {
            index: i,
            generation: self.slots[i as usize].generation,
        })
    }

    /// Every live connection, with its 4-tuple and state name.
    pub fn connections(&self) -> impl Iterator<Item = (ConnId, FourTuple, StateName)> + '_ {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            s.conn.as_ref().map(|c| {
                (
                    ConnId {
                        index: i as u32,
                        generation: s.generation,
                    },
                    c.tuple,
                    c.state.name(),
                )
            })
        })
    }
}
