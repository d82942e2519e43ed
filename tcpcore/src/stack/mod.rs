//! [`Stack`]: the pull API over an [`Endpoint`], in quinn-proto's manner
//! (issue #15): frames and timeouts go in through `handle_*`, frames to
//! send, events and the next deadline come out through `poll_*`, and the
//! application reads and writes with [`Stack::recv`] and [`Stack::send`].
//! Nothing calls back into the application.
//!
//! The name: an [`Endpoint`] is the low-level, zero-copy layer (callbacks
//! through [`Io`], fired inside `handle_frame`, which the server uses); a
//! `Stack` is that endpoint together with the memory that turns it inside
//! out -- a staging area for outgoing frames and an event queue -- so that
//! it is the whole TCP stack of one address an embedder drives.
//!
//! # Where each part lives
//!
//! | File | Responsibility |
//! |------|----------------|
//! | `mod.rs` | [`Stack`], [`StackStorage`], [`StackEvent`], [`Transmit`], the errors, the private [`Io`] |
//! | `staging.rs` | outgoing frames back to back in lent memory |
//! | `events.rs` | [`EventSlot`]: the events not yet pulled, a FIFO over per-connection flags |

use core::net::SocketAddr;

use crate::conn::{CloseReason, KeepAlive, StateName};
use crate::endpoint::{
    AppEvent, ConnId, ConnectError, Endpoint, EndpointConfig, Io, ListenError, ListenerId, Storage,
    StorageError,
};
use crate::isn::FourTuple;
use crate::time::{Duration, Instant};
use crate::wire::ChecksumPolicy;

mod events;
mod staging;

pub use events::EventSlot;

use events::Events;
use staging::Staging;

/// The memory a [`Stack`] works in, lent by the caller.
pub struct StackStorage<'s> {
    /// The endpoint's connection table and buffers (see [`Storage`]).
    pub endpoint: Storage<'s>,
    /// Outgoing frames wait here until [`Stack::poll_transmit`], back to
    /// back, each with a 6-byte header. Size it for what one call can send:
    /// a send buffer's worth of full frames (about `tx / mss * (mss + 60)`)
    /// keeps a busy connection from losing frames to it.
    pub staging: &'s mut [u8],
    /// One per connection slot (`endpoint.slots.len()` of them): the
    /// events not yet pulled.
    pub events: &'s mut [EventSlot],
}

/// Why [`Stack::new`] refused its [`StackStorage`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// The endpoint's storage is malformed.
    Storage(StorageError),
    /// `events` does not have one entry per connection slot.
    EventSlots,
    /// `staging` cannot hold one full-sized frame.
    Staging,
}

impl core::fmt::Display for StackError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StackError::Storage(e) => e.fmt(f),
            StackError::EventSlots => f.write_str("events needs one entry per connection slot"),
            StackError::Staging => f.write_str("staging cannot hold one full-sized frame"),
        }
    }
}

/// Storage that owns its memory (with the `std` feature).
#[cfg(feature = "std")]
pub struct OwnedStackStorage {
    endpoint: crate::endpoint::OwnedStorage,
    staging: std::vec::Vec<u8>,
    events: std::vec::Vec<EventSlot>,
}

#[cfg(feature = "std")]
impl OwnedStackStorage {
    /// Room for `conns` connections with `rx` and `tx` bytes of buffer
    /// each (see [`OwnedStorage`](crate::OwnedStorage)), and `staging`
    /// bytes of outgoing frames.
    pub fn new(conns: usize, rx: usize, tx: usize, staging: usize) -> Result<Self, StorageError> {
        Ok(OwnedStackStorage {
            endpoint: crate::endpoint::OwnedStorage::new(conns, rx, tx)?,
            staging: std::vec![0; staging],
            events: std::vec![EventSlot::EMPTY; conns],
        })
    }

    /// The storage to hand to [`Stack::new`].
    pub fn storage(&mut self) -> StackStorage<'_> {
        StackStorage {
            endpoint: self.endpoint.storage(),
            staging: &mut self.staging,
            events: &mut self.events,
        }
    }
}

/// One frame to send, borrowed from the staging area until the next call
/// on the [`Stack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transmit<'a> {
    /// The whole Ethernet frame, or on
    /// [`Medium::Ip`](crate::endpoint::Medium::Ip) the bare IPv4 packet.
    pub frame: &'a [u8],
    /// With GSO on ([`Stack::set_gso`]): the TCP payload is to be cut into
    /// segments of this many bytes by the transport, and the TCP checksum
    /// holds the pseudo-header sum (see [`Io::tx_gso`]).
    pub gso_size: Option<u16>,
}

/// What happened on a connection. Each comes once, in a connection's
/// order: `Established`, `Readable` (any number of times), `PeerClosed`,
/// `Closed`; none borrows anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackEvent {
    /// The handshake completed: a connection accepted on the listening
    /// port (a new [`ConnId`]), or one of ours from [`Stack::connect`].
    Established(ConnId),
    /// In-order bytes wait: call [`Stack::recv`] until it says
    /// [`RecvError::WouldBlock`]. Readiness merges: several arrivals before
    /// the event is pulled make one, and one pulled after `recv` emptied the
    /// buffer finds nothing.
    Readable(ConnId),
    /// The peer sent its FIN: after what waits, no more bytes come.
    PeerClosed(ConnId),
    /// The connection is over and its id dead; bytes still unread are gone.
    /// A connection the application never saw established (a passive one
    /// dying in the handshake) ends without it.
    Closed(ConnId, CloseReason),
}

/// Why [`Stack::recv`] returned no bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecvError {
    /// Nothing unread now; a [`StackEvent::Readable`] tells when there is.
    WouldBlock,
    /// The peer closed its side and every byte before its FIN was read.
    Finished,
    /// No such connection (closed, or never was).
    NoConnection,
}

/// Why [`Stack::send`] took no bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendError {
    /// The send buffer is full (or the endpoint has none); try again after
    /// the next `handle_*` call, as the peer's ACKs free room.
    WouldBlock,
    /// The handshake has not completed yet (wait for
    /// [`StackEvent::Established`]).
    NotEstablished,
    /// Our side is closed already ([`Stack::close`]).
    Closing,
    /// No such connection (closed, or never was).
    NoConnection,
}

impl core::fmt::Display for RecvError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            RecvError::WouldBlock => "no bytes to read yet",
            RecvError::Finished => "the peer closed and every byte was read",
            RecvError::NoConnection => "no such connection",
        })
    }
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            SendError::WouldBlock => "the send buffer is full",
            SendError::NotEstablished => "the connection is not established yet",
            SendError::Closing => "our side of the connection is closed",
            SendError::NoConnection => "no such connection",
        })
    }
}

/// The counters of the pull layer (the endpoint's are in
/// [`Stack::endpoint`]`.stats()`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackStats {
    /// Frames refused for want of room in the staging area (also counted
    /// by the endpoint as [`DropReason::TxNoRoom`](crate::DropReason::TxNoRoom)):
    /// lost as on a full NIC queue, and retransmitted by TCP.
    pub staging_full: u64,
    /// Events lost because a connection slot was reused while its previous
    /// connection's events waited: 0 whenever the call order is kept.
    pub events_overwritten: u64,
}

/// A TCP stack for one address, pulled: an [`Endpoint`] (the connections
/// accepted on its listening port and those it opened) with a staging area
/// for outgoing frames and an event queue, all in lent memory.
///
/// Either medium works ([`EndpointConfig::medium`]): Ethernet frames, or
/// bare IPv4 packets ([`Medium::Ip`](crate::endpoint::Medium::Ip), for a
/// TUN device), which go in through [`Stack::handle_frame`] and come out
/// of [`Stack::poll_transmit`] alike.
///
/// # Call order
///
/// 1. Input: [`Stack::handle_frame`] for every frame received, and
///    [`Stack::handle_timeout`] when [`Stack::poll_timeout`] has come (an
///    early or extra call is harmless).
/// 2. Output, after every call that takes `&mut self`: drain
///    [`Stack::poll_transmit`] onto the wire, then drain
///    [`Stack::poll_event`] and act on each event ([`Stack::recv`],
///    [`Stack::send`], [`Stack::close`], ...).
/// 3. What those calls queued: drain [`Stack::poll_transmit`] again.
/// 4. Sleep until a frame arrives or [`Stack::poll_timeout`].
///
/// Nothing is lost silently when the order is not kept. A frame that finds
/// the staging area full is dropped and counted
/// ([`StackStats::staging_full`], and the endpoint's
/// [`DropReason::TxNoRoom`](crate::DropReason::TxNoRoom)), as a full NIC
/// queue drops it, and TCP retransmits it. Events cannot overflow: they are
/// kept as one set of flags per connection slot, so repeated readiness
/// merges (see [`EventSlot`]); only a slot reused while its previous
/// connection's events wait loses them, counted in
/// [`StackStats::events_overwritten`].
///
/// Received bytes stay in the connection's receive buffer until
/// [`Stack::recv`] copies them out; the advertised window shrinks while
/// they wait, and reading reopens it (with a window update once it has
/// grown enough, RFC 9293 §3.8.6.2.2).
///
/// # Example
///
/// A client and a server over a wire that is a list of frames:
///
/// ```
/// use std::net::SocketAddrV4;
/// use tcpcore::stack::{OwnedStackStorage, Stack, StackEvent};
/// use tcpcore::wire::EthernetAddress;
/// use tcpcore::{EndpointConfig, Instant};
///
/// fn cfg(last: u8, port: u16) -> EndpointConfig {
///     EndpointConfig {
///         medium: tcpcore::Medium::Ethernet,
///         mac: EthernetAddress([2, 0, 0, 0, 0, last]),
///         addr: [10, 0, 0, last].into(),
///         addr6: None,
///         port,
///         answer_arp: true,
///         reset_other_ports: true,
///         max_half_open: 8,
///         gateway: None,
///         prefix_len: 0,
///         conn: Default::default(),
///     }
/// }
/// let (mut m1, mut m2) = (
///     OwnedStackStorage::new(4, 4096, 4096, 16384).unwrap(),
///     OwnedStackStorage::new(4, 4096, 4096, 16384).unwrap(),
/// );
/// let mut client = Stack::new(cfg(1, 9), m1.storage(), [1; 16]).unwrap();
/// let mut server = Stack::new(cfg(2, 7), m2.storage(), [2; 16]).unwrap();
/// let now = Instant::from_millis(0);
/// let id = client.connect(0, SocketAddrV4::new([10, 0, 0, 2].into(), 7), now).unwrap();
/// let mut got = Vec::new();
/// for _ in 0..10 {
///     // Output: every frame of each side to the other (the wire).
///     let mut to_server = Vec::new();
///     while let Some(t) = client.poll_transmit() {
///         to_server.push(t.frame.to_vec());
///     }
///     let mut to_client = Vec::new();
///     while let Some(t) = server.poll_transmit() {
///         to_client.push(t.frame.to_vec());
///     }
///     // Input.
///     to_server.iter().for_each(|f| server.handle_frame(now, f));
///     to_client.iter().for_each(|f| client.handle_frame(now, f));
///     // Events, and what the applications do about them.
///     while let Some(ev) = client.poll_event() {
///         if ev == StackEvent::Established(id) {
///             assert_eq!(client.send(id, b"hello", now), Ok(5));
///         }
///     }
///     while let Some(ev) = server.poll_event() {
///         if let StackEvent::Readable(s) = ev {
///             let mut buf = [0u8; 64];
///             while let Ok(n) = server.recv(s, &mut buf, now) {
///                 got.extend_from_slice(&buf[..n]);
///             }
///         }
///     }
/// }
/// assert_eq!(got, b"hello");
/// ```
pub struct Stack<'s> {
    ep: Endpoint<'s>,
    staging: Staging<'s>,
    events: Events<'s>,
    tcp_checksum: ChecksumPolicy,
    gso: bool,
}

/// The private [`Io`]: frames into the staging area, events into the queue,
/// received bytes left in the connection's buffer.
struct PullIo<'a, 's> {
    staging: &'a mut Staging<'s>,
    events: &'a mut Events<'s>,
    gso: bool,
}

impl Io for PullIo<'_, '_> {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.staging.reserve(len, 0)
    }

    fn event(&mut self, id: ConnId, _tuple: &FourTuple, event: AppEvent<'_>) {
        match event {
            AppEvent::Established => self.events.established(id),
            AppEvent::Data(_) => self.events.readable(id),
            AppEvent::PeerClosed => self.events.peer_closed(id),
            AppEvent::Closed(r) => self.events.closed(id, r),
            AppEvent::StateChange { .. } => {}
        }
    }

    /// Takes nothing: the bytes stay in the receive buffer for
    /// [`Stack::recv`].
    fn deliver(&mut self, id: ConnId, _tuple: &FourTuple, _data: &[u8]) -> usize {
        self.events.readable(id);
        0
    }

    fn gso(&self) -> bool {
        self.gso
    }

    fn tx_gso(&mut self, len: usize, gso_size: u16) -> Option<&mut [u8]> {
        self.staging.reserve(len, gso_size.max(1))
    }
}

/// The largest frame without GSO: the link-layer header (Ethernet's, or
/// none on [`Medium::Ip`](crate::endpoint::Medium::Ip)), IPv4 and TCP
/// headers with options at their longest, and one MSS.
fn frame_max(cfg: &EndpointConfig) -> usize {
    let link = match cfg.medium {
        crate::endpoint::Medium::Ethernet => 14,
        crate::endpoint::Medium::Ip => 0,
    };
    link + 60 + 60 + usize::from(cfg.conn.mss)
}

impl<'s> Stack<'s> {
    /// A stack working in `storage`, keyed with 16 secret random bytes (for
    /// ISNs, ephemeral ports and table placement, see [`Endpoint::new`]).
    ///
    /// `cfg.conn.close_on_peer_fin` (on by default, the server's
    /// behaviour) closes our side by itself once the peer's FIN is in and
    /// everything before it was read; an application that still writes
    /// after [`StackEvent::PeerClosed`] turns it off and calls
    /// [`Stack::close`] itself.
    pub fn new(
        cfg: EndpointConfig,
        storage: StackStorage<'s>,
        key: [u8; 16],
    ) -> Result<Self, StackError> {
        let StackStorage {
            endpoint,
            staging,
            events,
        } = storage;
        if events.len() != endpoint.slots.len() {
            return Err(StackError::EventSlots);
        }
        if staging.len() < staging::HDR + frame_max(&cfg) {
            return Err(StackError::Staging);
        }
        let ep = Endpoint::new(cfg, endpoint, key).map_err(StackError::Storage)?;
        Ok(Stack {
            ep,
            staging: Staging::new(staging),
            events: Events::new(events),
            tcp_checksum: ChecksumPolicy::Verify,
            gso: false,
        })
    }

    /// The endpoint underneath, for its settings, counters and connection
    /// list.
    pub fn endpoint(&self) -> &Endpoint<'s> {
        &self.ep
    }

    /// The pull layer's counters.
    pub fn stats(&self) -> StackStats {
        StackStats {
            staging_full: self.staging.refused,
            events_overwritten: self.events.overwritten,
        }
    }

    /// Whether to verify the TCP checksum of received frames (the
    /// default), or to skip it when the transport has (see
    /// [`Endpoint::handle_frame`]).
    pub fn set_tcp_checksum(&mut self, policy: ChecksumPolicy) {
        self.tcp_checksum = policy;
    }

    /// Whether the transport cuts large TCP frames into segments itself
    /// (GSO/TSO); then frames may carry [`Transmit::gso_size`]. Off by
    /// default.
    pub fn set_gso(&mut self, on: bool) {
        self.gso = on;
    }

    fn io(&mut self) -> (&mut Endpoint<'s>, PullIo<'_, 's>) {
        let io = PullIo {
            staging: &mut self.staging,
            events: &mut self.events,
            gso: self.gso,
        };
        (&mut self.ep, io)
    }

    /// One frame received from the wire: a whole Ethernet frame, or on
    /// [`Medium::Ip`](crate::endpoint::Medium::Ip) a bare IPv4 packet (see
    /// [`EndpointConfig::medium`]).
    pub fn handle_frame(&mut self, now: Instant, frame: &[u8]) {
        let policy = self.tcp_checksum;
        let (ep, mut io) = self.io();
        ep.handle_frame(now, frame, policy, &mut io);
    }

    /// Starts duplicate address detection for our IPv6 address (see
    /// [`Endpoint::start_dad`]; its state is
    /// [`Endpoint::addr6_state`] on [`Stack::endpoint`]). Returns false,
    /// doing nothing, without an IPv6 address or on
    /// [`Medium::Ip`](crate::endpoint::Medium::Ip).
    pub fn start_dad(&mut self, now: Instant) -> bool {
        let (ep, mut io) = self.io();
        ep.start_dad(now, &mut io)
    }

    /// Runs the timers that are due at `now` (retransmissions, delayed
    /// ACKs, TIME-WAIT, ...); an early call does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        let (ep, mut io) = self.io();
        ep.handle_timeout(now, &mut io);
    }

    /// The next frame to send, oldest first; `None` when none waits.
    #[must_use = "a frame pulled and not sent is lost"]
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_>> {
        let (frame, gso) = self.staging.pop()?;
        Some(Transmit {
            frame,
            gso_size: (gso > 0).then_some(gso),
        })
    }

    /// The next event, if any (see [`StackEvent`] for their order).
    #[must_use = "an event pulled and ignored is lost"]
    pub fn poll_event(&mut self) -> Option<StackEvent> {
        self.events.pop()
    }

    /// When [`Stack::handle_timeout`] next has work to do.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.ep.poll_timeout()
    }

    /// Frames waiting for [`Stack::poll_transmit`].
    pub fn transmits_waiting(&self) -> usize {
        self.staging.len()
    }

    /// Whether events wait for [`Stack::poll_event`].
    pub fn has_events(&self) -> bool {
        !self.events.is_empty()
    }

    /// Opens a connection to `remote` from `local_port` (0: an ephemeral
    /// port); its SYN (or first an ARP request for the next hop) is staged.
    /// [`StackEvent::Established`] follows when the handshake completes,
    /// [`StackEvent::Closed`] if it never does. See [`Endpoint::connect`].
    pub fn connect(
        &mut self,
        local_port: u16,
        remote: impl Into<SocketAddr>,
        now: Instant,
    ) -> Result<ConnId, ConnectError> {
        let (ep, mut io) = self.io();
        ep.connect(local_port, remote, now, &mut io)
    }

    /// Listens on `port` with an accept queue of `backlog` connections
    /// (see [`Endpoint::listen`]): each connection it completes is reported
    /// [`StackEvent::Established`] and waits in the queue until
    /// [`Stack::accept`] takes it; while the queue is full, new SYNs for the
    /// port are dropped, as Linux does.
    pub fn listen(&mut self, port: u16, backlog: u16) -> Result<ListenerId, ListenError> {
        self.ep.listen(port, backlog)
    }

    /// Listens on every port of our address that has no listener of its
    /// own, for transparent-proxy use (see [`Endpoint::listen_any`]).
    pub fn listen_any(&mut self, backlog: u16) -> Result<ListenerId, ListenError> {
        self.ep.listen_any(backlog)
    }

    /// Stops listening on `port` (see [`Endpoint::unlisten`]): accepted
    /// connections carry on; those still on its accept queue are reset
    /// (each reported [`StackEvent::Closed`] with
    /// [`CloseReason::Aborted`], after its [`StackEvent::Established`]),
    /// and its half-open ones are reset silently. The resets are staged,
    /// stamped `now`. Returns whether there was a listener.
    pub fn unlisten(&mut self, port: u16, now: Instant) -> bool {
        let (ep, mut io) = self.io();
        ep.unlisten(port, now, &mut io)
    }

    /// The oldest connection of `listener`'s accept queue, taken off it.
    #[must_use]
    pub fn accept(&mut self, listener: ListenerId) -> Option<ConnId> {
        self.ep.accept(listener)
    }

    /// Queues as much of `data` as the send buffer of connection `id` has
    /// room for, and stages what the windows let go out now. Returns how
    /// many bytes it took (`Ok(0)` only for empty `data`).
    pub fn send(&mut self, id: ConnId, data: &[u8], now: Instant) -> Result<usize, SendError> {
        let Some(state) = self.ep.state(id) else {
            return Err(SendError::NoConnection);
        };
        let room = match state.send_space() {
            Some((_, room)) => room,
            None => {
                return Err(match state.name() {
                    StateName::SynSent | StateName::SynReceived => SendError::NotEstablished,
                    _ => SendError::Closing,
                })
            }
        };
        if data.is_empty() {
            return Ok(0);
        }
        if room == 0 {
            return Err(SendError::WouldBlock);
        }
        let (ep, mut io) = self.io();
        Ok(ep.send(id, data, now, &mut io))
    }

    /// Copies up to `buf.len()` unread bytes of connection `id` into `buf`
    /// and frees them in its receive buffer, reopening the window (a window
    /// update is staged when due). Returns how many (`Ok(0)` only for an
    /// empty `buf`). `now` stamps that update.
    pub fn recv(&mut self, id: ConnId, buf: &mut [u8], now: Instant) -> Result<usize, RecvError> {
        let Some(name) = self.ep.state(id).map(|s| s.name()) else {
            return Err(RecvError::NoConnection);
        };
        let (ep, mut io) = self.io();
        match ep.read(id, buf, now, &mut io) {
            Some(n) if n > 0 || buf.is_empty() => Ok(n),
            _ if peer_fin_in(name) => Err(RecvError::Finished),
            _ => Err(RecvError::WouldBlock),
        }
    }

    /// Turns keep-alive (RFC 1122 §4.2.3.6) on with `ka`, or off, for
    /// connection `id` alone (RFC 9293 §3.8.4 MUST-24), in place of
    /// [`Config::keepalive`](crate::Config::keepalive); an established
    /// connection's idle time counts from `now`. `false` when `id` is
    /// unknown, in TIME-WAIT or closed. See
    /// [`Endpoint::set_keepalive`].
    pub fn set_keepalive(&mut self, id: ConnId, ka: Option<KeepAlive>, now: Instant) -> bool {
        let (ep, mut io) = self.io();
        ep.set_keepalive(id, ka, now, &mut io)
    }

    /// Sets connection `id`'s user timeout (RFC 5482; `None` or zero: off)
    /// in place of [`Config::user_timeout`](crate::Config::user_timeout).
    /// `false` when `id` is unknown, in TIME-WAIT or closed.
    pub fn set_user_timeout(&mut self, id: ConnId, t: Option<Duration>, now: Instant) -> bool {
        let (ep, mut io) = self.io();
        ep.set_user_timeout(id, t, now, &mut io)
    }

    /// Closes our side of connection `id` (our FIN follows the data
    /// queued); a connection not yet established is simply dropped.
    /// Unknown ids are ignored.
    pub fn close(&mut self, id: ConnId, now: Instant) {
        let (ep, mut io) = self.io();
        ep.close(id, now, &mut io);
    }

    /// Aborts connection `id`: a reset goes out, and
    /// [`StackEvent::Closed`] with [`CloseReason::Aborted`] follows.
    /// Unknown ids are ignored.
    pub fn abort(&mut self, id: ConnId, now: Instant) {
        let (ep, mut io) = self.io();
        ep.abort(id, now, &mut io);
    }

    /// The state of connection `id`, or `None` once it is gone.
    #[must_use]
    pub fn state(&self, id: ConnId) -> Option<StateName> {
        self.ep.state(id).map(|s| s.name())
    }
}

/// Whether the peer's FIN has been received in this state.
fn peer_fin_in(name: StateName) -> bool {
    matches!(
        name,
        StateName::CloseWait | StateName::LastAck | StateName::Closing | StateName::TimeWait
    )
}
