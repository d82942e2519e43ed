//! The endpoint: every connection of one listening address and port.
//!
//! It takes whole Ethernet frames in and writes whole frames out into buffers
//! the caller lends ([`Io::tx`]). Between the two it parses Ethernet, ARP,
//! IPv4 and TCP, finds the connection by its 4-tuple in a bounded table with
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

use core::net::Ipv4Addr;

use crate::conn::{
    reset_for, send, Buffers, CloseReason, Config, Event, RecvBuffer, RecvRanges, Reply,
    SegmentDrop, State, StateName, Transition,
};
use crate::cookie;
use crate::isn::{FourTuple, Keyed};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{
    self, ArpOperation, ArpRepr, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr, Frame,
    FrameError, IpProtocol, Ipv4Repr, TcpControl, TcpRepr,
};

mod timers;
use timers::{HasTimer, TimerNode, Timers};

const NIL: u32 = u32::MAX;

/// What the endpoint needs from its surroundings.
pub trait Io {
    /// A buffer of exactly `len` bytes for one outgoing frame; the frame is
    /// sent once the endpoint has written it. `None` when there is no room:
    /// the frame is dropped and counted (TCP recovers by retransmission).
    fn tx(&mut self, len: usize) -> Option<&mut [u8]>;

    /// Something happened on connection `id`.
    fn event(&mut self, id: ConnId, tuple: &FourTuple, event: AppEvent<'_>);

    /// In-order bytes for connection `id`; returns how many the application
    /// took. Bytes not taken stay in the connection's receive buffer, the
    /// receive window shrinks by as much, and they are offered again by
    /// [`Endpoint::resume`]. The default takes everything, as
    /// [`AppEvent::Data`].
    fn deliver(&mut self, id: ConnId, tuple: &FourTuple, data: &[u8]) -> usize {
        self.event(id, tuple, AppEvent::Data(data));
        data.len()
    }

    /// Whether [`Io::tx_gso`] works: the transport takes one large TCP
    /// segment and cuts it into segments of a given size (GSO/TSO). The
    /// default says no, and segments are then never larger than the MSS.
    fn gso(&self) -> bool {
        false
    }

    /// As [`Io::tx`], for a frame whose TCP payload the transport cuts into
    /// segments of `gso_size` bytes. Its TCP checksum field holds the
    /// pseudo-header sum (folded, not inverted) for the transport or device
    /// to complete, as in Linux's `CHECKSUM_PARTIAL`.
    fn tx_gso(&mut self, len: usize, gso_size: u16) -> Option<&mut [u8]> {
        let _ = (len, gso_size);
        None
    }
}

/// An event for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEvent<'a> {
    /// The connection moved from one state to another (for traces).
    StateChange {
        /// The state before.
        from: StateName,
        /// The state after.
        to: StateName,
    },
    /// The three-way handshake completed.
    Established,
    /// In-order bytes from the peer, each delivered exactly once.
    Data(&'a [u8]),
    /// The peer sent its FIN.
    PeerClosed,
    /// The connection is over and its slot free. Sent only for a
    /// connection that was reported [`AppEvent::Established`]; one that
    /// ends during the handshake is counted in
    /// [`Stats::handshakes_failed`] instead.
    Closed(CloseReason),
}

/// Identifies a connection slot and its incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    index: u32,
    generation: u32,
}

impl ConnId {
    /// The slot index in the table.
    pub fn index(&self) -> usize {
        self.index as usize
    }
}

/// Why the endpoint dropped a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum DropReason {
    /// Ethernet header truncated or 802.1Q-tagged.
    BadEthernet,
    /// Malformed ARP.
    BadArp,
    /// Malformed IPv4 header.
    BadIpv4,
    /// Malformed TCP header or options.
    BadTcp,
    /// An IPv4 or TCP checksum did not verify.
    BadChecksum,
    /// An IPv4 fragment (the core does not reassemble).
    Fragment,
    /// Neither IPv4 nor ARP.
    OtherEtherType,
    /// IPv4 but not TCP.
    OtherProtocol,
    /// Not addressed to our MAC, address or port.
    NotForUs,
    /// From a broadcast, multicast, unspecified or loopback address, or our
    /// own (RFC 9293 §3.10.7.2, RFC 1122 §3.2.1.3).
    BadSource,
    /// ARP not asking for our address.
    ArpIgnored,
    /// A segment for no connection (answered with a reset where one is due).
    NoConnection,
    /// A SYN while the connection table was full.
    TableFull,
    /// A SYN while the half-open bound was reached.
    HalfOpenFull,
    /// Failed the acceptability test (RFC 9293 §3.10.7.4).
    OutOfWindow,
    /// Failed PAWS (RFC 7323 §5).
    Paws,
    /// A RST in the window but not at RCV.NXT (RFC 5961 §3).
    RstNotExact,
    /// A SYN on a synchronized connection (RFC 5961 §4).
    UnexpectedSyn,
    /// An unacceptable ACK (RFC 5961 §5) or none.
    BadAck,
    /// Out-of-order data with no room in the receive buffer.
    NoBuffer,
    /// An outgoing frame found no transmit buffer.
    TxNoRoom,
    /// A SYN from a source address that has its most connections.
    PerSourceLimit,
    /// While SYN cookies are out, an ACK whose cookie has a current time
    /// slot but whose MAC does not verify: most likely a client whose
    /// handshake ACK and first segment were lost, so SEG.SEQ is past its
    /// ISN plus one. Dropped without a reset; the client's retransmission
    /// of that first segment brings the cookie back.
    CookieUnverified,
}

impl DropReason {
    /// Number of reasons.
    pub const COUNT: usize = 23;

    /// Every reason, in order.
    pub const ALL: [DropReason; Self::COUNT] = [
        DropReason::BadEthernet,
        DropReason::BadArp,
        DropReason::BadIpv4,
        DropReason::BadTcp,
        DropReason::BadChecksum,
        DropReason::Fragment,
        DropReason::OtherEtherType,
        DropReason::OtherProtocol,
        DropReason::NotForUs,
        DropReason::BadSource,
        DropReason::ArpIgnored,
        DropReason::NoConnection,
        DropReason::TableFull,
        DropReason::HalfOpenFull,
        DropReason::OutOfWindow,
        DropReason::Paws,
        DropReason::RstNotExact,
        DropReason::UnexpectedSyn,
        DropReason::BadAck,
        DropReason::NoBuffer,
        DropReason::TxNoRoom,
        DropReason::PerSourceLimit,
        DropReason::CookieUnverified,
    ];

    /// A short stable name, for counters and summaries.
    pub const fn as_str(self) -> &'static str {
        match self {
            DropReason::BadEthernet => "bad-ethernet",
            DropReason::BadArp => "bad-arp",
            DropReason::BadIpv4 => "bad-ipv4",
            DropReason::BadTcp => "bad-tcp",
            DropReason::BadChecksum => "bad-checksum",
            DropReason::Fragment => "fragment",
            DropReason::OtherEtherType => "other-ethertype",
            DropReason::OtherProtocol => "other-protocol",
            DropReason::NotForUs => "not-for-us",
            DropReason::BadSource => "bad-source",
            DropReason::ArpIgnored => "arp-ignored",
            DropReason::NoConnection => "no-connection",
            DropReason::TableFull => "table-full",
            DropReason::HalfOpenFull => "half-open-full",
            DropReason::OutOfWindow => "out-of-window",
            DropReason::Paws => "paws",
            DropReason::RstNotExact => "rst-not-exact",
            DropReason::UnexpectedSyn => "unexpected-syn",
            DropReason::BadAck => "bad-ack",
            DropReason::NoBuffer => "no-buffer",
            DropReason::TxNoRoom => "tx-no-room",
            DropReason::PerSourceLimit => "per-source-limit",
            DropReason::CookieUnverified => "cookie-unverified",
        }
    }

    fn from_frame_error(e: &FrameError) -> DropReason {
        match e {
            FrameError::Ethernet(_) => DropReason::BadEthernet,
            FrameError::Arp(_) => DropReason::BadArp,
            FrameError::Ipv4(wire::Ipv4Error::BadChecksum) => DropReason::BadChecksum,
            FrameError::Ipv4(_) => DropReason::BadIpv4,
            FrameError::Tcp(wire::TcpError::BadChecksum) => DropReason::BadChecksum,
            FrameError::Tcp(_) => DropReason::BadTcp,
            FrameError::Fragment => DropReason::Fragment,
            FrameError::UnsupportedEtherType(_) => DropReason::OtherEtherType,
            FrameError::UnsupportedProtocol(_) => DropReason::OtherProtocol,
        }
    }

    fn from_segment_drop(d: SegmentDrop) -> DropReason {
        match d {
            SegmentDrop::OutOfWindow => DropReason::OutOfWindow,
            SegmentDrop::Paws => DropReason::Paws,
            SegmentDrop::RstNotExact => DropReason::RstNotExact,
            SegmentDrop::UnexpectedSyn => DropReason::UnexpectedSyn,
            SegmentDrop::BadAck => DropReason::BadAck,
            SegmentDrop::NoBuffer => DropReason::NoBuffer,
        }
    }
}

/// Counters of an endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Frames handed to [`Endpoint::handle_frame`].
    pub rx_frames: u64,
    /// Frames written for sending.
    pub tx_frames: u64,
    /// Connections that completed the handshake.
    pub established: u64,
    /// Connections that ended, by reason: normal, reset, timed out, aborted.
    /// Only connections that were established (reported with
    /// [`AppEvent::Established`]) count here.
    pub closed: [u64; 4],
    /// Connections that ended in SYN-RECEIVED, before the handshake
    /// completed, by the same reasons as `closed` (a RST, a new SYN, the
    /// SYN-ACK retransmission limit, an abort). The application was never
    /// told of them, so it gets no [`AppEvent::Closed`] for them either.
    pub handshakes_failed: [u64; 4],
    /// Payload bytes delivered in order to the application.
    pub bytes_delivered: u64,
    /// SYN-ACK and FIN retransmissions.
    pub retransmits: u64,
    /// Resets sent for segments that matched no connection.
    pub resets_sent: u64,
    /// SYN-ACKs sent with a SYN cookie (RFC 4987) instead of state.
    pub syn_cookies_sent: u64,
    /// Connections created from a valid returning cookie.
    pub syn_cookies_accepted: u64,
    /// TIME-WAIT connections ended early to make room for a new connection
    /// in a full table (Linux counts these as `TCPTimeWaitOverflow`).
    pub time_wait_recycled: u64,
    /// Frames dropped, indexed by `DropReason as usize`.
    pub drops: [u64; DropReason::COUNT],
}

impl Stats {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Connections ended for `reason`.
    pub fn closed_by(&self, reason: CloseReason) -> u64 {
        self.closed[close_index(reason)]
    }

    /// Connections that ended in SYN-RECEIVED for `reason`.
    pub fn handshakes_failed_by(&self, reason: CloseReason) -> u64 {
        self.handshakes_failed[close_index(reason)]
    }
}

fn close_index(r: CloseReason) -> usize {
    match r {
        CloseReason::Normal => 0,
        CloseReason::Reset => 1,
        CloseReason::TimedOut => 2,
        CloseReason::Aborted => 3,
    }
}

/// The endpoint's settings.
#[derive(Clone, Copy, Debug)]
pub struct EndpointConfig {
    /// Our MAC address.
    pub mac: EthernetAddress,
    /// The address we listen on.
    pub addr: Ipv4Addr,
    /// The port we listen on.
    pub port: u16,
    /// Answer ARP requests for `addr` (own-address mode).
    pub answer_arp: bool,
    /// Answer a segment to any other port of `addr` with the reset of a
    /// CLOSED port (RFC 9293 §3.10.7.1). Set it when this endpoint is the
    /// address's only TCP (own-address mode, with `answer_arp`); leave it
    /// off when the address is the kernel's too, which answers for its
    /// other ports itself.
    pub reset_other_ports: bool,
    /// Most connections in SYN-RECEIVED at once.
    pub max_half_open: usize,
    /// Per-connection settings.
    pub conn: Config,
}

/// One entry of the connection table: a connection (or none), the
/// bookkeeping of its receive buffer, the links of the hash index, and its
/// share of the timer heap. The buffers' bytes are in [`Storage::rx`] and
/// [`Storage::tx`].
pub struct Slot {
    /// Head of the hash chain of the bucket with this slot's index.
    bucket: u32,
    /// Next slot in the same chain, or in the free list.
    next: u32,
    generation: u32,
    conn: Option<Conn>,
    rx: RecvRanges,
    /// Links of the list of TIME-WAIT slots in the order they entered
    /// TIME-WAIT (see [`Endpoint::recycle_time_wait`]).
    tw_prev: u32,
    tw_next: u32,
    /// The slot is on that list.
    tw_linked: bool,
    /// Where this connection is in the timer heap, and the heap entry at
    /// the position of this slot's index (see `endpoint/timers.rs`).
    timer: TimerNode,
}

impl HasTimer for Slot {
    fn timer(&self) -> &TimerNode {
        &self.timer
    }
    fn timer_mut(&mut self) -> &mut TimerNode {
        &mut self.timer
    }
}

impl Slot {
    /// An empty slot.
    pub const fn new() -> Self {
        Slot {
            bucket: NIL,
            next: NIL,
            generation: 0,
            conn: None,
            rx: RecvRanges::new(),
            tw_prev: NIL,
            tw_next: NIL,
            tw_linked: false,
            timer: TimerNode::new(),
        }
    }
}

impl Default for Slot {
    fn default() -> Self {
        Self::new()
    }
}

/// The memory an endpoint works in, lent by the caller: one [`Slot`] per
/// connection, and each connection's share of the receive and send buffers.
///
/// With `n` slots, `rx.len() / n` is each connection's receive buffer (a
/// power of two, at least 2) and `tx.len() / n` its send buffer (a power of
/// two, or 0 for a server that never sends data). Only the bytes where data
/// lands are ever written, so memory the operating system hands out zeroed
/// and lazily (a `vec![0u8; n]`) costs nothing until it is used.
pub struct Storage<'s> {
    /// The connection table.
    pub slots: &'s mut [Slot],
    /// Receive buffers, `slots.len()` equal shares.
    pub rx: &'s mut [u8],
    /// Send buffers, `slots.len()` equal shares.
    pub tx: &'s mut [u8],
}

/// Why [`Endpoint::new`] refused its [`Storage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StorageError {
    /// No slots, or more than 2^32 - 2.
    BadSlotCount,
    /// The receive buffer per connection is not a power of two from 2 to
    /// 2^30, or `rx` is not an exact multiple of the slot count.
    BadReceiveBuffer,
    /// The send buffer per connection is not 0 or a power of two up to
    /// 2^30, or `tx` is not an exact multiple of the slot count.
    BadSendBuffer,
}

impl core::fmt::Display for StorageError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            StorageError::BadSlotCount => "the connection table needs 1 to 2^32 - 2 slots",
            StorageError::BadReceiveBuffer => {
                "each connection's receive buffer must be a power of two from 2 bytes to 1 GiB"
            }
            StorageError::BadSendBuffer => {
                "each connection's send buffer must be 0 or a power of two up to 1 GiB"
            }
        })
    }
}

fn tx_size_ok(n: usize) -> bool {
    n == 0 || (n.is_power_of_two() && n <= 1 << 30)
}

/// Storage that owns its memory (with the `std` feature).
#[cfg(feature = "std")]
pub struct OwnedStorage {
    slots: std::vec::Vec<Slot>,
    rx: std::vec::Vec<u8>,
    tx: std::vec::Vec<u8>,
}

#[cfg(feature = "std")]
impl OwnedStorage {
    /// Room for `conns` connections with `rx` and `tx` bytes of buffer each.
    /// The buffers are allocated zeroed, which the operating system does
    /// lazily: an idle connection costs only its slot.
    pub fn new(conns: usize, rx: usize, tx: usize) -> Result<Self, StorageError> {
        if conns == 0 || conns >= NIL as usize {
            return Err(StorageError::BadSlotCount);
        }
        let rx_total = conns
            .checked_mul(rx)
            .filter(|_| crate::conn::rxbuf_valid_size(rx));
        let tx_total = conns.checked_mul(tx).filter(|_| tx_size_ok(tx));
        let rx_total = rx_total.ok_or(StorageError::BadReceiveBuffer)?;
        let tx_total = tx_total.ok_or(StorageError::BadSendBuffer)?;
        Ok(OwnedStorage {
            slots: (0..conns).map(|_| Slot::new()).collect(),
            rx: std::vec![0u8; rx_total],
            tx: std::vec![0u8; tx_total],
        })
    }

    /// The storage to hand to [`Endpoint::new`].
    pub fn storage(&mut self) -> Storage<'_> {
        Storage {
            slots: &mut self.slots,
            rx: &mut self.rx,
            tx: &mut self.tx,
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Conn {
    tuple: FourTuple,
    peer_mac: EthernetAddress,
    state: State,
    /// When a segment last arrived (for the idle timeout).
    last_rx: Instant,
}

/// Buckets of the per-source connection counts.
const SOURCE_BUCKETS: usize = 256;
/// Connections whose ACK can wait for the end of a batch at once.
const DEFERRED_ACKS: usize = 64;

/// The connections of one listening address and port.
pub struct Endpoint<'s> {
    cfg: EndpointConfig,
    slots: &'s mut [Slot],
    rx_mem: &'s mut [u8],
    tx_mem: &'s mut [u8],
    bufs: Buffers,
    free: u32,
    len: usize,
    half_open: usize,
    keyed: Keyed,
    ident: u16,
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
    /// ACKs owed at the end of the batch: slot, generation, the ACK.
    deferred: heapless::Vec<(u32, u32, Reply), DEFERRED_ACKS>,
    /// Returning cookies are checked until then (two cookie periods after
    /// the last one was sent).
    cookies_until: Option<Instant>,
    /// The TIME-WAIT slots, oldest first (a list through [`Slot`]'s
    /// `tw_prev` / `tw_next`), or `NIL`.
    tw_head: u32,
    tw_tail: u32,
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
            timers,
            sweep: None,
            stats: Stats::default(),
            per_source: [0; SOURCE_BUCKETS],
            last_hit: core::cell::Cell::new(0),
            batching: false,
            deferred: heapless::Vec::new(),
            cookies_until: None,
            tw_head: NIL,
            tw_tail: NIL,
        })
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

    /// Connections in SYN-RECEIVED.
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

    /// ACK batching: with it on, an ACK that only acknowledges new in-order
    /// data (not a duplicate ACK, not one with SACK blocks) is held until
    /// [`Endpoint::flush_acks`], which the caller calls after each batch of
    /// frames: a burst of segments then costs one ACK, as GRO makes it for
    /// Linux. Off by default (every ACK goes out at once).
    pub fn set_batching(&mut self, on: bool) {
        self.batching = on;
    }

    /// How many connections have an ACK held back by batching, waiting for
    /// [`Endpoint::flush_acks`].
    pub fn acks_held(&self) -> usize {
        self.deferred.len()
    }

    /// Sends the ACKs held back by batching (see [`Endpoint::set_batching`]).
    pub fn flush_acks<I: Io>(&mut self, io: &mut I) {
        let held = core::mem::take(&mut self.deferred);
        for (i, generation, r) in held {
            let Some(slot) = self.slots.get(i as usize) else {
                continue;
            };
            let Some(conn) = slot.conn.as_ref().filter(|_| slot.generation == generation) else {
                continue;
            };
            let (tuple, mac) = (conn.tuple, conn.peer_mac);
            self.emit(&tuple, mac, &r, io);
        }
    }

    fn defer_ack<I: Io>(
        &mut self,
        i: u32,
        generation: u32,
        r: Reply,
        tuple: &FourTuple,
        mac: EthernetAddress,
        io: &mut I,
    ) {
        if let Some(d) = self
            .deferred
            .iter_mut()
            .find(|d| d.0 == i && d.1 == generation)
        {
            // A later ACK covers the earlier one.
            d.2 = r;
            return;
        }
        if self.deferred.push((i, generation, r)).is_err() {
            self.emit(tuple, mac, &r, io);
        }
    }

    fn forget_ack(&mut self, i: u32) {
        if !self.deferred.is_empty() {
            self.deferred.retain(|d| d.0 != i);
        }
    }

    /// When [`Endpoint::handle_timeout`] next has work to do: the earliest
    /// deadline of any connection (its state's timers, or its idle
    /// timeout). O(1): the root of the timer heap.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek(self.slots)
    }

    fn bucket_of(&self, tuple: &FourTuple) -> usize {
        (self.keyed.bucket_hash(tuple) % self.slots.len() as u64) as usize
    }

    fn lookup(&self, tuple: &FourTuple) -> Option<u32> {
        // Frames of one connection come in runs (a bulk transfer, a burst
        // of ACKs): the last connection found is tried first, before the
        // keyed hash.
        let last = self.last_hit.get();
        if let Some(s) = self.slots.get(last as usize) {
            if s.conn.as_ref().is_some_and(|c| c.tuple == *tuple) {
                return Some(last);
            }
        }
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.slots[self.bucket_of(tuple)].bucket;
        while i != NIL {
            let s = &self.slots[i as usize];
            if s.conn.as_ref().is_some_and(|c| c.tuple == *tuple) {
                self.last_hit.set(i);
                return Some(i);
            }
            i = s.next;
        }
        None
    }

    fn source_bucket(&self, addr: Ipv4Addr) -> usize {
        (self.keyed.hash_addr(addr) % SOURCE_BUCKETS as u64) as usize
    }

    fn insert(&mut self, conn: Conn) -> Option<u32> {
        let tuple_addr = conn.tuple.remote_addr;
        let i = self.free;
        if i == NIL {
            return None;
        }
        let b = self.bucket_of(&conn.tuple);
        let head = self.slots[b].bucket;
        let slot = &mut self.slots[i as usize];
        self.free = slot.next;
        slot.conn = Some(conn);
        slot.generation = slot.generation.wrapping_add(1);
        slot.rx.clear();
        slot.next = head;
        self.slots[b].bucket = i;
        self.len += 1;
        let src = self.source_bucket(tuple_addr);
        self.per_source[src] = self.per_source[src].saturating_add(1);
        self.wake_for(i);
        Some(i)
    }

    fn remove(&mut self, i: u32) {
        let Some(conn) = self.slots[i as usize].conn.take() else {
            return;
        };
        self.timers.remove(self.slots, i);
        // Its held ACK would not be sent (wrong generation); let it go now.
        self.forget_ack(i);
        self.tw_unlink(i);
        let b = self.bucket_of(&conn.tuple);
        // Unlink from the bucket's chain.
        let mut prev = NIL;
        let mut cur = self.slots[b].bucket;
        while cur != NIL && cur != i {
            prev = cur;
            cur = self.slots[cur as usize].next;
        }
        let next = self.slots[i as usize].next;
        if cur == i {
            if prev == NIL {
                self.slots[b].bucket = next;
            } else {
                self.slots[prev as usize].next = next;
            }
        }
        self.slots[i as usize].next = self.free;
        self.free = i;
        self.len -= 1;
        let src = self.source_bucket(conn.tuple.remote_addr);
        self.per_source[src] = self.per_source[src].saturating_sub(1);
        if conn.state.is_half_open() {
            self.half_open -= 1;
        }
    }

    /// Puts slot `i` at the tail of the TIME-WAIT list, unless it is on it.
    fn tw_link(&mut self, i: u32) {
        let tail = self.tw_tail;
        let slot = &mut self.slots[i as usize];
        if slot.tw_linked {
            return;
        }
        slot.tw_linked = true;
        slot.tw_prev = tail;
        slot.tw_next = NIL;
        if tail == NIL {
            self.tw_head = i;
        } else {
            self.slots[tail as usize].tw_next = i;
        }
        self.tw_tail = i;
    }

    /// Takes slot `i` off the TIME-WAIT list, if it is on it.
    fn tw_unlink(&mut self, i: u32) {
        let slot = &mut self.slots[i as usize];
        if !slot.tw_linked {
            return;
        }
        let (prev, next) = (slot.tw_prev, slot.tw_next);
        slot.tw_linked = false;
        slot.tw_prev = NIL;
        slot.tw_next = NIL;
        if prev == NIL {
            self.tw_head = next;
        } else {
            self.slots[prev as usize].tw_next = next;
        }
        if next == NIL {
            self.tw_tail = prev;
        } else {
            self.slots[next as usize].tw_prev = prev;
        }
    }

    /// Ends the TIME-WAIT of the connection in slot `i` now, as its timer
    /// would: CLOSED, reported as a normal close, and the slot freed.
    fn end_time_wait<I: Io>(&mut self, i: u32, now: Instant, io: &mut I) {
        let mut t = Transition::idle(State::Closed(CloseReason::Normal));
        let _ = t.events.push(Event::Closed(CloseReason::Normal));
        self.apply(i, StateName::TimeWait, t, now, io);
    }

    /// The table is full: frees the slot that entered TIME-WAIT first, if
    /// any, for a new connection. TIME-WAIT guards against old duplicates
    /// (RFC 9293 §3.6) and must not turn new peers away. Linux bounds it the
    /// same way in spirit: past `tcp_max_tw_buckets` a closing socket skips
    /// TIME-WAIT ("TCP: time wait bucket table overflow",
    /// `inet_twsk_alloc`); here TIME-WAIT shares the table with live
    /// connections, so the oldest one gives way when a SYN needs its room.
    /// O(1): the TIME-WAIT slots are kept on a list in the order they
    /// entered it.
    fn recycle_time_wait<I: Io>(&mut self, now: Instant, io: &mut I) -> bool {
        let i = self.tw_head;
        if i == NIL {
            return false;
        }
        self.stats.time_wait_recycled += 1;
        self.end_time_wait(i, now, io);
        true
    }

    fn drop_frame(&mut self, why: DropReason) {
        self.stats.drops[why as usize] += 1;
    }

    /// One received Ethernet frame. `tcp_checksum` says whether to verify
    /// the TCP checksum ([`ChecksumPolicy::Skip`] when the kernel reports
    /// it valid, or not yet filled in on veth and loopback).
    pub fn handle_frame<I: Io>(
        &mut self,
        now: Instant,
        frame: &[u8],
        tcp_checksum: ChecksumPolicy,
        io: &mut I,
    ) {
        self.stats.rx_frames += 1;
        let parsed = match wire::parse_frame(frame, tcp_checksum) {
            Ok(f) => f,
            Err(e) => return self.drop_frame(DropReason::from_frame_error(&e)),
        };
        match parsed {
            Frame::Arp { eth, arp } => self.handle_arp(&eth, &arp, io),
            Frame::Tcp { eth, ip, tcp } => self.handle_tcp(now, &eth, &ip, &tcp, io),
        }
    }

    fn handle_arp<I: Io>(&mut self, eth: &EthernetRepr, arp: &ArpRepr, io: &mut I) {
        if !self.cfg.answer_arp
            || arp.operation != ArpOperation::Request
            || arp.target_protocol_addr != self.cfg.addr
        {
            return self.drop_frame(DropReason::ArpIgnored);
        }
        let reply = ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: self.cfg.mac,
            source_protocol_addr: self.cfg.addr,
            target_hardware_addr: arp.source_hardware_addr,
            target_protocol_addr: arp.source_protocol_addr,
        };
        let eth = EthernetRepr {
            src_addr: self.cfg.mac,
            dst_addr: eth.src_addr,
            ethertype: EtherType::Arp,
        };
        // ARP frames are padded to the Ethernet minimum of 60 bytes.
        match io.tx(60) {
            Some(buf) => {
                if wire::emit_arp_frame(buf, &eth, &reply).is_ok() {
                    self.stats.tx_frames += 1;
                }
            }
            None => self.drop_frame(DropReason::TxNoRoom),
        }
    }

    fn handle_tcp<I: Io>(
        &mut self,
        now: Instant,
        eth: &EthernetRepr,
        ip: &Ipv4Repr,
        tcp: &TcpRepr<'_>,
        io: &mut I,
    ) {
        if eth.dst_addr != self.cfg.mac
            || ip.dst_addr != self.cfg.addr
            || (tcp.dst_port != self.cfg.port && !self.cfg.reset_other_ports)
        {
            return self.drop_frame(DropReason::NotForUs);
        }
        // RFC 9293 §3.10.7.2: a SYN from a broadcast or multicast address is
        // ignored; so is any segment from an address that cannot be a peer.
        // RFC 1122 §3.2.1.3 (g): loopback addresses "MUST NOT appear outside
        // a host", and a datagram from one MUST be silently discarded. Our
        // own address as the source is a LAND attack (a SYN-ACK to
        // ourselves): Linux drops that "martian source" in
        // `fib_validate_source`.
        let src = ip.src_addr;
        if src.is_broadcast()
            || src.is_multicast()
            || src.is_unspecified()
            || src.is_loopback()
            || src == self.cfg.addr
            || eth.src_addr.is_multicast()
        {
            return self.drop_frame(DropReason::BadSource);
        }
        let tuple = FourTuple {
            local_addr: self.cfg.addr,
            local_port: tcp.dst_port,
            remote_addr: src,
            remote_port: tcp.src_port,
        };
        if tcp.dst_port != self.cfg.port {
            // Own-address mode: nothing else listens on this address, so
            // every other port is CLOSED. RFC 9293 §3.10.7.1: "all data in
            // the incoming segment is discarded. An incoming segment
            // containing a RST is discarded. An incoming segment not
            // containing a RST causes a RST to be sent in response." The
            // reset carries no data or options, so it is never larger than
            // what it answers; like Linux (`tcp_v4_send_reset`, which the
            // kernel sends for a closed port without a rate limit), it is
            // not rate-limited.
            self.drop_frame(DropReason::NoConnection);
            if let Some(rst) = reset_for(tcp) {
                self.stats.resets_sent += 1;
                self.emit(&tuple, eth.src_addr, &rst, io);
            }
            return;
        }
        if let Some(i) = self.lookup(&tuple) {
            let cfg = self.cfg.conn;
            let (conn, mut rx) = self.rx_buf(i);
            let Some(conn) = conn.as_mut() else {
                return;
            };
            let before = conn.state;
            let t = before.on_segment(tcp, now, &cfg, &mut rx);
            // Only a segment the connection took (not one dropped as out of
            // window, PAWS-old or with a bad ACK, which anyone who knows
            // the 4-tuple can send) shows that the peer is there and where
            // it is: it alone refreshes the idle timer and the peer's MAC.
            // A keepalive probe (RFC 9293 §3.8.4: SEG.SEQ = RCV.NXT - 1,
            // at most one byte) is dropped as old, yet comes from a live
            // peer.
            let keepalive = t.dropped == Some(SegmentDrop::OutOfWindow)
                && tcp.payload.len() <= 1
                && before.rcv_nxt().is_some_and(|n| tcp.seq_number == n - 1u32);
            if t.dropped.is_none() {
                conn.peer_mac = eth.src_addr;
            }
            if t.dropped.is_none() || keepalive {
                conn.last_rx = now;
            }
            if let Some(d) = t.dropped {
                self.drop_frame(DropReason::from_segment_drop(d));
            }
            if let Some(iss) = t.reopen {
                // A new incarnation from TIME-WAIT (RFC 6191): the old one
                // ends, and the SYN goes to LISTEN.
                self.end_time_wait(i, now, io);
                return self.listen(now, eth.src_addr, &tuple, tcp, Some(iss), io);
            }
            self.apply(i, before.name(), t, now, io);
            return;
        }
        self.listen(now, eth.src_addr, &tuple, tcp, None, io)
    }

    /// A segment for no connection on the listening port: LISTEN (RFC 9293
    /// §3.10.7.2). `iss` is the ISS to use when it opens a new incarnation
    /// of a connection that was in TIME-WAIT.
    fn listen<I: Io>(
        &mut self,
        now: Instant,
        mac: EthernetAddress,
        tuple: &FourTuple,
        tcp: &TcpRepr<'_>,
        iss: Option<SeqNum>,
        io: &mut I,
    ) {
        let tuple = *tuple;
        let src = tuple.remote_addr;
        // LISTEN (RFC 9293 §3.10.7.2): first check for a RST, then an ACK,
        // then a SYN.
        if tcp.control == TcpControl::Rst {
            return self.drop_frame(DropReason::NoConnection);
        }
        if let (Some(ack), TcpControl::None | TcpControl::Fin) = (tcp.ack_number, tcp.control) {
            if self.cookies_until.is_some_and(|u| now <= u) {
                let tsecr = tcp.options.timestamps.map(|t| t.tsecr);
                if let Some(opts) =
                    cookie::check(&self.keyed, &tuple, tcp.seq_number, ack, tsecr, now)
                {
                    return self.accept_cookie(&tuple, mac, tcp, opts, now, io);
                }
                // The MAC covers the client's ISN, known only from a
                // segment at ISN + 1. When the handshake ACK and the first
                // segment after it were lost, later segments fail the
                // check; the reset of RFC 9293 §3.10.7.2 (which Linux
                // sends) would kill a connection that the client's
                // retransmission of its first segment completes.
                if cookie::slot_is_current(ack, now) {
                    return self.drop_frame(DropReason::CookieUnverified);
                }
            }
        }
        if tcp.ack_number.is_some() {
            // RFC 9293 §3.10.7.2, second: "Any acknowledgment is bad if it
            // arrives on a connection still in the LISTEN state. An
            // acceptable reset segment should be formed for any arriving
            // ACK-bearing segment. The RST should be formatted as follows:
            // <SEQ=SEG.ACK><CTL=RST>".
            self.drop_frame(DropReason::NoConnection);
            if let Some(rst) = reset_for(tcp) {
                self.stats.resets_sent += 1;
                self.emit(&tuple, mac, &rst, io);
            }
            return;
        }
        if tcp.control != TcpControl::Syn {
            // RFC 9293 §3.10.7.2, fourth, other text or control: "Any other
            // control or text-bearing segment (not containing SYN) must have
            // an ACK and thus would be discarded by the ACK processing ...
            // if you get here, drop the segment, and return." (No flags, a
            // FIN alone, data without ACK; Linux `tcp_rcv_state_process`
            // discards them too.)
            return self.drop_frame(DropReason::NoConnection);
        }
        let max_src = self.cfg.conn.max_per_source;
        if max_src > 0 && u32::from(self.per_source[self.source_bucket(src)]) >= max_src {
            return self.drop_frame(DropReason::PerSourceLimit);
        }
        if self.free == NIL && self.tw_head == NIL {
            // A full table with no TIME-WAIT to recycle drops new SYNs and
            // leaves every connection as it is.
            return self.drop_frame(DropReason::TableFull);
        }
        if self.half_open >= self.cfg.max_half_open {
            if self.cfg.conn.syn_cookies {
                return self.send_cookie(&tuple, mac, tcp, now, io);
            }
            return self.drop_frame(DropReason::HalfOpenFull);
        }
        if self.free == NIL {
            self.recycle_time_wait(now, io);
        }
        let iss = iss.unwrap_or_else(|| self.keyed.isn(&tuple, now));
        let ts_offset = self.keyed.ts_offset(&tuple);
        let t = State::accept(tcp, iss, ts_offset, now, &self.cfg.conn, self.bufs);
        let conn = Conn {
            tuple,
            peer_mac: mac,
            state: t.state,
            last_rx: now,
        };
        let Some(i) = self.insert(conn) else {
            return self.drop_frame(DropReason::TableFull);
        };
        self.half_open += 1;
        self.apply(i, StateName::Listen, t, now, io);
    }

    /// RFC 4987 §3.6: the half-open bound is reached; answer with a SYN
    /// cookie and keep nothing. Without timestamps the SYN-ACK offers no
    /// window scaling and no SACK (see [`crate::cookie`]).
    fn send_cookie<I: Io>(
        &mut self,
        tuple: &FourTuple,
        mac: EthernetAddress,
        syn: &TcpRepr<'_>,
        now: Instant,
        io: &mut I,
    ) {
        let iss = cookie::make(&self.keyed, tuple, syn.seq_number, syn.options.mss, now);
        let mut syn = *syn;
        let with_ts = self.cfg.conn.timestamps && syn.options.timestamps.is_some();
        let bits = cookie::ts_bits(syn.options.window_scale, syn.options.sack_permitted);
        if !with_ts {
            syn.options.window_scale = None;
            syn.options.sack_permitted = false;
        }
        let t = State::accept(
            &syn,
            iss,
            self.keyed.ts_offset(tuple),
            now,
            &self.cfg.conn,
            self.bufs,
        );
        if let Some(mut r) = t.replies.first().copied() {
            if let Some(ts) = r.options.timestamps.as_mut() {
                ts.tsval = cookie::ts_value(ts.tsval, bits);
            }
            self.stats.syn_cookies_sent += 1;
            self.cookies_until = Some(now + crate::time::Duration::from_secs(128));
            self.emit(tuple, mac, &r, io);
        }
    }

    /// A valid cookie came back: the connection is made as if its SYN had
    /// just arrived, and the ACK completes the handshake as usual.
    #[allow(clippy::too_many_arguments)]
    fn accept_cookie<I: Io>(
        &mut self,
        tuple: &FourTuple,
        mac: EthernetAddress,
        ack: &TcpRepr<'_>,
        opts: cookie::CookieOptions,
        now: Instant,
        io: &mut I,
    ) {
        let max_src = self.cfg.conn.max_per_source;
        if max_src > 0
            && u32::from(self.per_source[self.source_bucket(tuple.remote_addr)]) >= max_src
        {
            return self.drop_frame(DropReason::PerSourceLimit);
        }
        let Some(iss) = ack.ack_number.map(|a| a - 1u32) else {
            return;
        };
        let syn = TcpRepr {
            seq_number: ack.seq_number - 1u32,
            ack_number: None,
            control: TcpControl::Syn,
            payload: &[],
            options: crate::wire::TcpOptions {
                mss: Some(opts.mss),
                window_scale: opts.window_scale,
                sack_permitted: opts.sack_permitted,
                sack_blocks: crate::wire::SackBlocks::new(),
                timestamps: ack.options.timestamps.map(|t| crate::wire::Timestamps {
                    tsval: t.tsval,
                    tsecr: 0,
                }),
            },
            ..*ack
        };
        let t = State::accept(
            &syn,
            iss,
            self.keyed.ts_offset(tuple),
            now,
            &self.cfg.conn,
            self.bufs,
        );
        let conn = Conn {
            tuple: *tuple,
            peer_mac: mac,
            state: t.state,
            last_rx: now,
        };
        if self.free == NIL {
            self.recycle_time_wait(now, io);
        }
        let Some(i) = self.insert(conn) else {
            return self.drop_frame(DropReason::TableFull);
        };
        self.stats.syn_cookies_accepted += 1;
        self.half_open += 1;
        // The SYN-ACK went out with the cookie; now the ACK as usual.
        let cfg = self.cfg.conn;
        let (_, mut rx) = self.rx_buf(i);
        let t = t.state.on_segment(ack, now, &cfg, &mut rx);
        if let Some(d) = t.dropped {
            self.drop_frame(DropReason::from_segment_drop(d));
        }
        io.event(
            ConnId {
                index: i,
                generation: self.slots[i as usize].generation,
            },
            tuple,
            AppEvent::StateChange {
                from: StateName::Listen,
                to: StateName::SynReceived,
            },
        );
        self.apply(i, StateName::SynReceived, t, now, io);
    }

    /// Carries out a transition of the connection in slot `i`: stores the
    /// new state, offers the application its data, closes our side after the
    /// peer's FIN when configured to, sends the replies, reports events, and
    /// frees the slot when the connection is closed.
    fn apply<I: Io>(
        &mut self,
        i: u32,
        from: StateName,
        t: Transition<'_>,
        now: Instant,
        io: &mut I,
    ) {
        let slot = &mut self.slots[i as usize];
        let id = ConnId {
            index: i,
            generation: slot.generation,
        };
        let Some(conn) = slot.conn.as_ref() else {
            return;
        };
        let (tuple, peer_mac) = (conn.tuple, conn.peer_mac);
        let to = t.state.name();
        // The new state goes into the table once; what follows works on it
        // there, in place.
        if let Some(c) = self.slots[i as usize].conn.as_mut() {
            c.state = t.state;
        }
        if from == StateName::SynReceived && to != StateName::SynReceived {
            self.half_open -= 1;
        }
        if from != to {
            io.event(id, &tuple, AppEvent::StateChange { from, to });
        }
        // Events in the RFC's order: establishment, data, FIN, closing.
        let mut events = t.events.iter().peekable();
        // A connection that leaves SYN-RECEIVED without being established
        // was never reported to the application: its end is not either.
        let mut reported = from != StateName::SynReceived;
        while let Some(Event::Established) = events.peek() {
            events.next();
            reported = true;
            self.stats.established += 1;
            io.event(id, &tuple, AppEvent::Established);
        }
        let mut replies = t.replies;
        let mut more: heapless::Vec<Reply, 4> = heapless::Vec::new();
        let unread = t.state.unread();
        let consumed = self.deliver(i, id, &tuple, unread, t.data, io);
        let cfg = self.cfg.conn;
        let slot = &mut self.slots[i as usize];
        if let Some(state) = slot.conn.as_mut().map(|c| &mut c.state) {
            if consumed > 0 {
                let update = state.consume(consumed, now, &cfg, &slot.rx);
                if replies.is_empty() {
                    more.extend(update);
                } else if let Some(w) = state.readvertise() {
                    // The replies were made before the application took the
                    // data: they advertise the window as it is now instead.
                    for r in replies.iter_mut().filter(|r| r.control != TcpControl::Rst) {
                        r.window = w;
                    }
                }
            }
            // The seed's behaviour: once the peer's FIN is in and everything
            // before it read, close our side.
            if cfg.close_on_peer_fin
                && matches!(state, State::CloseWait(_))
                && state.unread().is_some_and(|(r, e)| r == e)
            {
                let c = state.close(now, &cfg);
                *state = c.state;
                more.extend(c.replies);
            }
        }
        // Data and FIN to send go first; a pure ACK they make redundant (the
        // same ACK, no SACK blocks) is left out.
        let sent = self.transmit(i, &tuple, peer_mac, now, io);
        let (rcv_nxt, last, closed) = match self.slots[i as usize].conn.as_ref() {
            Some(c) => (
                c.state.rcv_nxt(),
                c.state.name(),
                matches!(c.state, State::Closed(_)),
            ),
            None => (None, StateName::Closed, true),
        };
        let advanced = !t.data.is_empty() || t.buffered > 0;
        for r in replies.iter().chain(more.iter()) {
            let pure =
                r.control == TcpControl::None && r.len == 0 && r.options.sack_blocks.is_empty();
            if sent > 0 && pure && r.ack == rcv_nxt {
                // Made redundant by the segments just sent.
                self.forget_ack(i);
                continue;
            }
            if self.batching && pure && advanced && !closed {
                // Batching: an ACK that only moves RCV.NXT forward waits for
                // the end of the batch, where one ACK per connection covers
                // every segment of the batch.
                self.defer_ack(i, id.generation, *r, &tuple, peer_mac, io);
                continue;
            }
            if r.ack.is_some() {
                // It acknowledges at least as much as any held ACK.
                self.forget_ack(i);
            }
            self.emit(&tuple, peer_mac, r, io);
        }
        if sent > 0 {
            self.forget_ack(i);
        }
        if last != to {
            io.event(id, &tuple, AppEvent::StateChange { from: to, to: last });
        }
        for e in events {
            match e {
                Event::Established => {}
                Event::PeerClosed => io.event(id, &tuple, AppEvent::PeerClosed),
                Event::Closed(r) if !reported => {
                    self.stats.handshakes_failed[close_index(*r)] += 1;
                }
                Event::Closed(r) => {
                    self.stats.closed[close_index(*r)] += 1;
                    io.event(id, &tuple, AppEvent::Closed(*r));
                }
            }
        }
        if closed {
            self.remove(i);
        } else {
            if last == StateName::TimeWait {
                self.tw_link(i);
            }
            self.wake_for(i);
        }
    }

    /// When connection `i` next needs [`Endpoint::handle_timeout`]: its
    /// state's timers, or the idle timeout.
    fn deadline(&self, conn: &Conn) -> Option<Instant> {
        let idle = self.cfg.conn.idle_timeout;
        let idle = (idle > crate::time::Duration::ZERO).then(|| conn.last_rx + idle);
        match (conn.state.poll_timeout(), idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Files connection `i` in the timer heap under its deadline as it is
    /// now, or takes it out when it has none (or no connection). Called
    /// after every change of a connection's state or last-receive time, so
    /// that the heap's keys stay the true deadlines. During
    /// [`Endpoint::handle_timeout`], a connection still due is parked
    /// instead, so that the call runs it only once. O(log n).
    fn wake_for(&mut self, i: u32) {
        let d = self.slots[i as usize]
            .conn
            .as_ref()
            .and_then(|c| self.deadline(c));
        match d {
            None => self.timers.remove(self.slots, i),
            Some(d) if self.sweep.is_some_and(|now| d <= now) => self.timers.park(self.slots, i, d),
            Some(d) => self.timers.schedule(self.slots, i, d),
        }
    }

    /// Offers the application the in-order bytes it has not consumed:
    /// `data` straight from the segment (it starts at the first unread byte
    /// when non-empty), then what waits in the receive buffer. Bytes it
    /// refuses from `data` are kept in the buffer. Returns how many it took.
    fn deliver<I: Io>(
        &mut self,
        i: u32,
        id: ConnId,
        tuple: &FourTuple,
        unread: Option<(SeqNum, SeqNum)>,
        data: &[u8],
        io: &mut I,
    ) -> u32 {
        let Some((read, end)) = unread else {
            return 0;
        };
        let (_, mut rx) = self.rx_buf(i);
        let mut taken = 0u32;
        if !data.is_empty() {
            let n = io.deliver(id, tuple, data).min(data.len());
            taken += n as u32;
            if n < data.len() {
                rx.store(read + n as u32, &data[n..]);
                self.stats.bytes_delivered += u64::from(taken);
                return taken;
            }
        }
        let from = read + taken;
        if from.before(end) {
            let (a, b) = rx.slices(from, end);
            for part in [a, b] {
                if part.is_empty() {
                    continue;
                }
                let n = io.deliver(id, tuple, part).min(part.len());
                taken += n as u32;
                if n < part.len() {
                    break;
                }
            }
        }
        self.stats.bytes_delivered += u64::from(taken);
        taken
    }

    /// The application is ready for more bytes on connection `id`: what
    /// waits in its receive buffer is offered again through [`Io::deliver`],
    /// and the window reopens (with a window update when it had closed).
    pub fn resume<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) {
        if let Some(state) = self.state(id).copied() {
            let t = Transition::idle(state);
            self.apply(id.index, state.name(), t, now, io);
        }
    }

    fn emit<I: Io>(&mut self, tuple: &FourTuple, peer_mac: EthernetAddress, r: &Reply, io: &mut I) {
        let mut out = Out {
            cfg: &self.cfg,
            ident: &mut self.ident,
            stats: &mut self.stats,
        };
        out.emit(tuple, peer_mac, r, &[], io);
    }

    /// Sends what connection `i` has to send: retransmissions, new data,
    /// its FIN (see [`State::poll_transmit`]). Pure ACKs in `acks` are left
    /// out when a segment goes anyway, since it carries the same ACK.
    fn transmit<I: Io>(
        &mut self,
        i: u32,
        tuple: &FourTuple,
        peer_mac: EthernetAddress,
        now: Instant,
        io: &mut I,
    ) -> usize {
        let each = self.bufs.tx;
        let at = i as usize * each;
        let tx = &self.tx_mem[at..at + each];
        let slot = &mut self.slots[i as usize];
        let Some(conn) = slot.conn.as_mut() else {
            return 0;
        };
        let mut out = Out {
            cfg: &self.cfg,
            ident: &mut self.ident,
            stats: &mut self.stats,
        };
        let mut conn_cfg = self.cfg.conn;
        if !io.gso() {
            conn_cfg.gso_max = 0;
        }
        let mut sent = 0;
        // Bounded: the windows bound it already; this guards the loop.
        for _ in 0..4096 {
            let max = conn.state.send_max();
            let Some(r) = conn.state.poll_transmit(now, &conn_cfg, &slot.rx) else {
                break;
            };
            if max.is_some_and(|m| r.seq.before(m)) {
                out.stats.retransmits += 1;
            }
            let payload = send::ring_read(tx, r.seq, r.len as usize);
            out.emit(tuple, peer_mac, &r, payload, io);
            sent += 1;
        }
        sent
    }

    /// The application sends `data` on connection `id`; returns how many
    /// bytes the send buffer took (fewer when it is full, none once the
    /// connection is closing). They go out as the windows allow.
    pub fn send<I: Io>(&mut self, id: ConnId, data: &[u8], now: Instant, io: &mut I) -> usize {
        let Some(slot) = self.slots.get_mut(id.index as usize) else {
            return 0;
        };
        if slot.generation != id.generation {
            return 0;
        }
        let Some(conn) = slot.conn.as_mut() else {
            return 0;
        };
        let Some((end, room)) = conn.state.send_space() else {
            return 0;
        };
        let n = data.len().min(room);
        let each = self.bufs.tx;
        let at = id.index as usize * each;
        send::ring_write(&mut self.tx_mem[at..at + each], end, &data[..n]);
        let taken = conn.state.queue(n);
        let (tuple, mac) = (conn.tuple, conn.peer_mac);
        self.transmit(id.index, &tuple, mac, now, io);
        self.wake_for(id.index);
        taken
    }

    /// RFC 862 echo without a copy through the application: moves as many
    /// of connection `id`'s unread received bytes as its send buffer has room
    /// for into the send buffer, reopens the receive window by as much, and
    /// sends. Returns how many bytes moved. An application that echoes
    /// leaves its [`Io::deliver`] taking nothing and calls this after each
    /// batch of frames (and after ACKs free send-buffer room).
    pub fn echo<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) -> usize {
        let Some(mut state) = self.state(id).copied() else {
            return 0;
        };
        let (Some((read, end)), Some((send_at, room))) = (state.unread(), state.send_space())
        else {
            return 0;
        };
        let n = ((end - read) as usize).min(room);
        if n == 0 {
            return 0;
        }
        let i = id.index;
        let tx_each = self.bufs.tx;
        let tx_at = i as usize * tx_each;
        let rx_each = self.bufs.rx;
        let rx_at = i as usize * rx_each;
        let tx = &mut self.tx_mem[tx_at..tx_at + tx_each];
        let rx = RecvBuffer::from_checked(
            &mut self.slots[i as usize].rx,
            &mut self.rx_mem[rx_at..rx_at + rx_each],
        );
        let (a, b) = rx.slices(read, read + n as u32);
        send::ring_write(tx, send_at, a);
        send::ring_write(tx, send_at + a.len() as u32, b);
        let queued = state.queue(n);
        let update = state.consume(
            queued as u32,
            now,
            &self.cfg.conn,
            &self.slots[i as usize].rx,
        );
        self.stats.bytes_delivered += queued as u64;
        let mut t = Transition::idle(state);
        if let Some(r) = update {
            t.push_reply(r);
        }
        if let Some(conn) = self.slots[i as usize].conn.as_mut() {
            conn.state = state;
        }
        self.apply(i, state.name(), t, now, io);
        queued
    }

    /// Bytes connection `id` could still queue with [`Endpoint::send`].
    pub fn send_room(&self, id: ConnId) -> usize {
        self.state(id)
            .and_then(|s| s.send_space())
            .map_or(0, |(_, r)| r)
    }

    /// Runs the timers that are due: retransmissions, delayed ACKs, the end
    /// of TIME-WAIT and FIN-WAIT-2, the idle timeout, and drops half-open
    /// connections that ran out of SYN-ACK retries. Each connection whose
    /// deadline is `now` or earlier runs once (in deadline order); an early
    /// call does nothing.
    ///
    /// Cost: O((k + 1) log n) for `k` connections due among `n` slots; the
    /// timer heap hands out the due connections without looking at the
    /// others.
    pub fn handle_timeout<I: Io>(&mut self, now: Instant, io: &mut I) {
        self.sweep = Some(now);
        while let Some(i) = self.timers.pop_due(self.slots, now) {
            let Some(conn) = self.slots[i as usize].conn.as_ref() else {
                continue;
            };
            let before = conn.state;
            if self.deadline(conn).is_none_or(|d| d > now) {
                // Not due after all (the heap's keys are the true
                // deadlines, so this does not happen): file it again.
                self.wake_for(i);
                continue;
            }
            let idle = self.cfg.conn.idle_timeout;
            if idle > crate::time::Duration::ZERO && now >= conn.last_rx + idle {
                // Nothing heard for the idle timeout: reset and report it.
                let t = before.abort_with(CloseReason::TimedOut, now);
                self.apply(i, before.name(), t, now, io);
                continue;
            }
            let cfg = self.cfg.conn;
            let (_, rx) = self.rx_buf(i);
            let t = before.on_timeout(now, &cfg, &rx);
            self.stats.retransmits += t
                .replies
                .iter()
                .filter(|r| r.control == TcpControl::Syn)
                .count() as u64;
            self.apply(i, before.name(), t, now, io);
        }
        self.sweep = None;
        self.timers.unpark_all(self.slots);
    }

    /// The application closes connection `id` (sends our FIN).
    pub fn close<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) {
        if let Some(state) = self.state(id).copied() {
            let t = state.close(now, &self.cfg.conn);
            self.apply(id.index, state.name(), t, now, io);
        }
    }

    /// The application aborts connection `id` (sends a reset).
    pub fn abort<I: Io>(&mut self, id: ConnId, now: Instant, io: &mut I) {
        if let Some(state) = self.state(id).copied() {
            let t = state.abort(now);
            self.apply(id.index, state.name(), t, now, io);
        }
    }

    /// Closes every connection gracefully (for shutdown): each gets our FIN,
    /// and [`Endpoint::handle_frame`] / [`Endpoint::handle_timeout`] finish
    /// the exchange.
    pub fn close_all<I: Io>(&mut self, now: Instant, io: &mut I) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if let Some(conn) = slot.conn.as_ref() {
                let id = ConnId {
                    index: i as u32,
                    generation: slot.generation,
                };
                let _ = conn;
                self.close(id, now, io);
            }
        }
    }

    /// Aborts every connection that is still open (the last step of a
    /// shutdown whose graceful close ran out of time).
    pub fn abort_all<I: Io>(&mut self, now: Instant, io: &mut I) {
        for i in 0..self.slots.len() {
            let slot = &self.slots[i];
            if slot.conn.is_some() {
                let id = ConnId {
                    index: i as u32,
                    generation: slot.generation,
                };
                self.abort(id, now, io);
            }
        }
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
    fn emit<I: Io>(
        &mut self,
        tuple: &FourTuple,
        peer_mac: EthernetAddress,
        r: &Reply,
        payload: &[u8],
        io: &mut I,
    ) {
        let tcp = r.to_repr(tuple.local_port, tuple.remote_port, payload);
        let eth = EthernetRepr {
            src_addr: self.cfg.mac,
            dst_addr: peer_mac,
            ethertype: EtherType::Ipv4,
        };
        *self.ident = self.ident.wrapping_add(1);
        let ip = Ipv4Repr {
            src_addr: tuple.local_addr,
            dst_addr: tuple.remote_addr,
            protocol: IpProtocol::Tcp,
            payload_len: tcp.buffer_len(),
            ttl: 64,
            dscp: 0,
            ecn: 0,
            ident: *self.ident,
            dont_frag: true,
            more_frags: false,
            frag_offset: 0,
        };
        let len = wire::tcp_frame_len(&tcp);
        let buf = if r.gso > 0 {
            io.tx_gso(len, r.gso)
        } else {
            io.tx(len)
        };
        match buf {
            Some(buf) => {
                if wire::emit_tcp_frame(buf, &eth, &ip, &tcp).is_ok() {
                    self.stats.tx_frames += 1;
                    if r.gso > 0 {
                        // CHECKSUM_PARTIAL: the pseudo-header sum only; the
                        // segmentation completes each segment's checksum.
                        let tcp_len = (len - 14 - Ipv4Repr::HEADER_LEN) as u32;
                        let ph =
                            wire::checksum::pseudo_header(ip.src_addr, ip.dst_addr, 6, tcp_len);
                        let at = 14 + Ipv4Repr::HEADER_LEN + 16;
                        if let Some(c) = buf.get_mut(at..at + 2) {
                            c.copy_from_slice(&ph.to_be_bytes());
                        }
                    }
                }
            }
            None => self.stats.drops[DropReason::TxNoRoom as usize] += 1,
        }
    }
}
