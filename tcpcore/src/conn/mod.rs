//! One TCP connection as a pure state machine (RFC 9293 §3.3.2, §3.10).
//!
//! [`State`] is an enum of per-state structs, each holding only the fields
//! that are valid in that state: after the peer's FIN the receive half is
//! gone, in TIME-WAIT only what is needed to acknowledge a retransmitted FIN
//! is left. The transitions are plain functions:
//!
//! - [`State::accept`]: a SYN arrives at the listener (the endpoint owns
//!   LISTEN); returns SYN-RECEIVED and the SYN-ACK.
//! - [`State::connect`]: the application opens a connection (active open);
//!   returns SYN-SENT and the SYN.
//! - [`State::on_segment`]: the state and one incoming segment (and `now`) in;
//!   the next state, the segments to send, and the events for the
//!   application out, as a [`Transition`].
//! - [`State::on_timeout`] / [`State::poll_timeout`]: timers enter the same
//!   way.
//! - [`State::close`] / [`State::abort`]: the application's calls.
//!
//! Payload bytes are not copied when they arrive in order: the transition
//! hands out a slice of the segment ([`Transition::data`]), followed by
//! [`Transition::buffered`] bytes that had been waiting out of order in the
//! caller's [`RecvBuffer`].
//!
//! This server core only receives application data; its send half carries
//! the SYN and the FIN.
//!
//! Where each part of the RFCs lives:
//!
//! | RFC | file | entry points |
//! |-----|------|--------------|
//! | RFC 9293 §3.3.2 states, §3.3.1 sequence variables | `state.rs` | [`State`], [`Tcb`], [`SendHalf`], [`RecvHalf`] |
//! | §3.10.7.1 CLOSED, §3.10.7.4 dispatch | `arrive/mod.rs` | [`State::on_segment`] |
//! | §3.10.7.2 LISTEN, §3.10.7.4 SYN-RECEIVED | `arrive/syn_received.rs` | [`State::accept`] |
//! | §3.10.7.3 SYN-SENT, first to fifth in the RFC's order (the ACK, RST as §3.5.3 has it in SYN-SENT, security, SYN, neither), §3.10.1 OPEN (active) | `arrive/syn_sent.rs` (the steps' table is in `arrive/mod.rs`) | [`State::connect`] |
//! | §3.10.7.4 first to fifth (RFC 5961, RFC 7323 §5) | `arrive/checks.rs` | [`acceptable`] |
//! | §3.10.7.4 ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 | `arrive/synchronized.rs` | |
//! | §3.10.7.4 CLOSE-WAIT, CLOSING, LAST-ACK | `arrive/closing.rs` | |
//! | §3.10.7.4 TIME-WAIT (RFC 6191) | `arrive/time_wait.rs` | |
//! | §3.10.7.4 seventh and eighth: text, FIN | `recv/text.rs` | |
//! | reassembly (RFC 2018 SACK blocks) | `recv/rxbuf.rs` | [`RecvBuffer`], [`RecvRanges`] |
//! | §3.8.6 window, §3.8.6.3 delayed ACK (RFC 1122 §4.2.3.2), owed and batched ACKs | `recv/ack.rs` | [`State::poll_transmit`] |
//! | when to ACK: quick-ACK mode, every second full-sized segment as measured (RFC 5681 §4.2; Linux `tcp_incr_quickack`, `tcp_measure_rcv_mss`) | `recv/quickack.rs` | |
//! | D-SACK (RFC 2883) | `recv/dsack.rs` | |
//! | §3.8.6.2.2 receiver SWS avoidance (Linux `__tcp_select_window`) | `recv/sws.rs`, `recv/mod.rs` | [`State::consume`] |
//! | send buffer, segmentation, RTO, recovery modes (RFC 5681, 6582, 6675), congestion control (CUBIC, NewReno), TLP | `send/` | [`State::poll_transmit`], [`send`], [`send::Recovery`], [`send::Cc`] |
//! | §3.8 timers (RFC 6298, RFC 8985 §7.2, §3.10.8): one [`Timer`] enum, a [`TimerTable`] per connection | `timers.rs` | [`State::on_timeout`], [`State::poll_timeout`] |
//! | RFC 1122 §4.2.3.6 keep-alive (Linux `tcp_keepalive_timer`), RFC 5482 user timeout | `keepalive.rs`, `send/rto.rs` | [`Config::keepalive`], [`Config::user_timeout`] |
//! | §3.10.4 CLOSE, §3.10.5 ABORT | `close.rs` | [`State::close`], [`State::abort`] |
//! | RFC 1191 / RFC 8201 path MTU (RFC 5927 §4.1 validation), RFC 4821's black-hole fallback | `pmtu.rs` | [`State::on_packet_too_big`], [`Config::blackhole_fallback`] |
//! | RFC 5461 ICMP errors (soft errors, RFC 5927 §4.1 validation), RFC 6069 TCP-LCD | `icmp_err.rs` | [`State::on_icmp_error`], [`IcmpSignal`], [`CloseReason::Icmp`] |
//! | RFC 3168 §6.1 ECN: negotiation, ECT(0) on new data, ECE and CWR (Linux `tcp_ecn = 2`) | `ecn.rs` | [`State::on_segment_ecn`], [`Config::ecn`], [`Ecn`] |

mod access;
mod arrive;
mod close;
mod config;
pub mod ecn;
pub mod icmp_err;
mod keepalive;
pub mod pmtu;
mod recv;
pub mod send;
mod state;
mod timers;

pub use arrive::acceptable;
pub use config::{Config, CongestionControl, KeepAlive};
pub use ecn::{Ecn, EcnState, IpEcn};
pub use icmp_err::{IcmpEffect, IcmpError, IcmpSignal};
pub use recv::{Insert, RecvBuffer, RecvRanges, MAX_RANGES};
pub use send::Congestion;
pub use state::{
    FinWait2, HalfClosed, Open, RecvClosed, RecvHalf, Rtx, SendHalf, State, SynReceived, SynSent,
    Tcb, TimeWait, TsState,
};
pub use timers::{Timer, TimerTable};

pub(crate) use recv::valid_size as rxbuf_valid_size;

use crate::seq::SeqNum;
use crate::time::Duration;
use crate::wire::{TcpControl, TcpOptions, TcpRepr};

/// RFC 9293 §3.7.1: the MSS assumed when the peer sends no MSS option.
pub const DEFAULT_MSS: u16 = 536;
/// The smallest payload we cut a segment to, whatever MSS the peer
/// announces: Linux's `tcp_min_snd_mss` (48), added against CVE-2019-11479,
/// where a peer announcing MSS 1 or 8 made a sender cut its data into
/// thousands of tiny frames. RFC 1122 §3.3.2 has every host accept 576-byte
/// datagrams, so 48 bytes of payload never overrun a real peer.
pub const MIN_SND_MSS: u16 = 48;
/// RFC 7323 §2.3: the largest window shift.
pub const MAX_WINDOW_SHIFT: u8 = 14;

/// RFC 7323 §5.5: a TS.Recent older than this is not used for PAWS.
pub(crate) const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

/// A segment this connection wants sent. The endpoint adds the ports and
/// addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// Sequence number.
    pub seq: SeqNum,
    /// Payload bytes, taken from the send buffer starting at `seq`.
    pub len: u32,
    /// When the payload is larger than one segment: the segment size the
    /// transport cuts it into (GSO); 0 otherwise.
    pub gso: u16,
    /// The PSH flag.
    pub push: bool,
    /// Acknowledgment number; `Some` sets the ACK flag.
    pub ack: Option<SeqNum>,
    /// SYN, FIN, RST or none.
    pub control: TcpControl,
    /// The window field, already scaled down.
    pub window: u16,
    /// Options to carry.
    pub options: TcpOptions,
    /// The ECE flag (RFC 3168 §6.1.3: congestion seen, the peer's CWR
    /// awaited; on a SYN-ACK, ECN accepted).
    pub ece: bool,
    /// The CWR flag (RFC 3168 §6.1.2: the window was reduced).
    pub cwr: bool,
    /// Send with ECT(0) in the IP header's ECN field (RFC 3168 §6.1.2:
    /// new data of a connection that negotiated ECN).
    pub ect: bool,
}

impl Reply {
    /// The TCP segment for this reply, from `src_port` to `dst_port`, with
    /// `payload` (`len` bytes from the send buffer; empty when `len` is 0).
    pub fn to_repr<'p>(&self, src_port: u16, dst_port: u16, payload: &'p [u8]) -> TcpRepr<'p> {
        TcpRepr {
            src_port,
            dst_port,
            seq_number: self.seq,
            ack_number: self.ack,
            control: self.control,
            push: self.push,
            urgent: None,
            ece: self.ece,
            cwr: self.cwr,
            window_len: self.window,
            options: self.options,
            payload,
        }
    }

    pub(crate) fn rst(seq: SeqNum, ack: Option<SeqNum>) -> Reply {
        Reply {
            seq,
            len: 0,
            gso: 0,
            push: false,
            ack,
            control: TcpControl::Rst,
            window: 0,
            options: TcpOptions::default(),
            ece: false,
            cwr: false,
            ect: false,
        }
    }
}

/// The RFC 9293 §3.10.7.1 reset for a segment that belongs to no connection:
/// if it carries an ACK, `<SEQ=SEG.ACK><CTL=RST>`; otherwise
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`. Never a reset for a reset.
pub fn reset_for(seg: &TcpRepr<'_>) -> Option<Reply> {
    if seg.control == TcpControl::Rst {
        return None;
    }
    Some(match seg.ack_number {
        Some(ack) => Reply::rst(ack, None),
        None => Reply::rst(
            SeqNum::new(0),
            Some(seg.seq_number + seg.segment_len() as u32),
        ),
    })
}

/// Why a connection ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// Both FINs were exchanged and acknowledged.
    Normal,
    /// The peer reset the connection.
    Reset,
    /// A retransmission limit or an idle timer ran out.
    TimedOut,
    /// The application aborted it (we sent a reset).
    Aborted,
    /// An ICMP or ICMPv6 error: at once for a connection request (RFC
    /// 5461), or, for a synchronized connection that then timed out, its
    /// last soft error in place of [`CloseReason::TimedOut`] (Linux
    /// `tcp_write_err`; `icmp_err.rs`).
    Icmp(IcmpError),
}

impl CloseReason {
    /// A short text, e.g. `timed out`, `host unreachable (ICMP)`.
    pub const fn as_str(self) -> &'static str {
        match self {
            CloseReason::Normal => "normal",
            CloseReason::Reset => "reset",
            CloseReason::TimedOut => "timed out",
            CloseReason::Aborted => "aborted",
            CloseReason::Icmp(e) => match e {
                IcmpError::NetUnreachable => "network unreachable (ICMP)",
                IcmpError::HostUnreachable => "host unreachable (ICMP)",
                IcmpError::ProtocolUnreachable => "protocol unreachable (ICMP)",
                IcmpError::PortUnreachable => "port unreachable (ICMP)",
                IcmpError::AdminProhibited => "administratively prohibited (ICMP)",
                IcmpError::SourceRouteFailed => "source route failed (ICMP)",
                IcmpError::HostUnknown => "host unknown (ICMP)",
                IcmpError::HostIsolated => "host isolated (ICMP)",
                IcmpError::ProtocolError => "protocol error (ICMP)",
            },
        }
    }
}

impl core::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the application learns from a transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The three-way handshake completed.
    Established,
    /// The peer sent its FIN: no more data will come.
    PeerClosed,
    /// The connection is over; the endpoint frees it.
    Closed(CloseReason),
}

/// Which state a connection is in, without its data (for logs and traces).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StateName {
    /// Listening (the endpoint's state, never a connection's).
    Listen,
    /// SYN-SENT.
    SynSent,
    /// SYN-RECEIVED.
    SynReceived,
    /// ESTABLISHED.
    Established,
    /// CLOSE-WAIT.
    CloseWait,
    /// LAST-ACK.
    LastAck,
    /// FIN-WAIT-1.
    FinWait1,
    /// FIN-WAIT-2.
    FinWait2,
    /// CLOSING.
    Closing,
    /// TIME-WAIT.
    TimeWait,
    /// CLOSED.
    Closed,
}

impl StateName {
    /// The RFC's spelling, e.g. `SYN-RECEIVED`.
    pub const fn as_str(self) -> &'static str {
        match self {
            StateName::Listen => "LISTEN",
            StateName::SynSent => "SYN-SENT",
            StateName::SynReceived => "SYN-RECEIVED",
            StateName::Established => "ESTABLISHED",
            StateName::CloseWait => "CLOSE-WAIT",
            StateName::LastAck => "LAST-ACK",
            StateName::FinWait1 => "FIN-WAIT-1",
            StateName::FinWait2 => "FIN-WAIT-2",
            StateName::Closing => "CLOSING",
            StateName::TimeWait => "TIME-WAIT",
            StateName::Closed => "CLOSED",
        }
    }
}

impl core::fmt::Display for StateName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The result of a transition: the next state, what to send, what happened.
#[must_use]
#[derive(Debug)]
pub struct Transition<'a> {
    /// The next state.
    pub state: State,
    /// Segments to send now, in order: handshake segments, resets, and the
    /// ACKs of states that send nothing else (SYN-RECEIVED, TIME-WAIT).
    /// The ACK a synchronized state owes is not here: it is recorded in
    /// the state, and [`State::poll_transmit`] sends it, on the
    /// connection's next data segment or as a pure ACK (see
    /// [`State::poll_ack`]).
    pub replies: heapless::Vec<Reply, 2>,
    /// Events for the application, in order.
    pub events: heapless::Vec<Event, 3>,
    /// In-order payload to hand to the application now, straight out of the
    /// segment.
    pub data: &'a [u8],
    /// Then this many in-order bytes from the receive buffer, starting at the
    /// sequence number right after `data`.
    pub buffered: u32,
    /// The segment was dropped without effect on the state (out of window,
    /// PAWS, bad ACK, ...); the reason, for counters.
    pub dropped: Option<SegmentDrop>,
    /// TIME-WAIT received a SYN that opens a new incarnation of the
    /// connection (RFC 6191): the endpoint ends this one and handles the SYN
    /// as LISTEN would, with this ISS (past everything the old incarnation
    /// sent). The state is unchanged and nothing is to be sent.
    pub reopen: Option<SeqNum>,
}

/// Why a segment was dropped by a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SegmentDrop {
    /// Failed the acceptability test (RFC 9293 §3.10.7.4 first).
    OutOfWindow,
    /// Failed PAWS (RFC 7323 §5).
    Paws,
    /// A RST not exactly at RCV.NXT (RFC 5961 §3).
    RstNotExact,
    /// A SYN in a synchronized state (RFC 5961 §4).
    UnexpectedSyn,
    /// An ACK outside the acceptable range (RFC 5961 §5), or none at all.
    BadAck,
    /// Out-of-order data that did not fit in the receive buffer.
    NoBuffer,
}

impl SegmentDrop {
    /// A short stable name, for counters.
    pub const fn as_str(self) -> &'static str {
        match self {
            SegmentDrop::OutOfWindow => "out-of-window",
            SegmentDrop::Paws => "paws",
            SegmentDrop::RstNotExact => "rst-not-exact",
            SegmentDrop::UnexpectedSyn => "unexpected-syn",
            SegmentDrop::BadAck => "bad-ack",
            SegmentDrop::NoBuffer => "no-buffer",
        }
    }
}

impl<'a> Transition<'a> {
    /// No change: `state` as it is, nothing to send, no events.
    pub fn idle(state: State) -> Self {
        Self::new(state)
    }

    /// Adds a segment to send (for transitions composed by the endpoint).
    pub fn push_reply(&mut self, r: Reply) {
        self.reply(r);
    }

    pub(crate) fn new(state: State) -> Self {
        Transition {
            state,
            replies: heapless::Vec::new(),
            events: heapless::Vec::new(),
            data: &[],
            buffered: 0,
            dropped: None,
            reopen: None,
        }
    }

    pub(crate) fn reply(&mut self, r: Reply) {
        // Capacity 2 covers every path (at most an ACK and a FIN); should a
        // third ever be pushed, the last one is dropped, which TCP tolerates.
        let _ = self.replies.push(r);
    }

    pub(crate) fn event(&mut self, e: Event) {
        let _ = self.events.push(e);
    }
}

/// The sizes of a connection's buffers, in bytes: the receive buffer (a
/// power of two) and the send buffer (a power of two, or 0 when the
/// connection sends no data).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Buffers {
    /// Receive buffer size.
    pub rx: usize,
    /// Send buffer size.
    pub tx: usize,
}

/// Our window shift for a receive buffer of `cap` bytes: the smallest that
/// lets the 16-bit field describe the whole buffer.
pub fn window_shift_for(cap: usize) -> u8 {
    let mut shift = 0u8;
    while shift < MAX_WINDOW_SHIFT && (cap >> shift) > 0xffff {
        shift += 1;
    }
    shift
}

/// RFC 9293 §3.7.1 (MUST-16): the effective send MSS is the smaller of
/// the peer's MSS (536 when it sent none, MUST-15) and what our interface
/// carries (`cfg.mss`, the MTU less 40), "Eff.snd.MSS = min(SendMSS+20,
/// MMS_S) - TCPhdrsize - IPoptionsize". A peer announcing MSS 8960 on a
/// 1500-byte link is sent 1460-byte segments, never frames the link cannot
/// carry. The result is raised to [`MIN_SND_MSS`] bytes of payload (plus
/// the timestamp option, which [`send::smss`] takes off again), as Linux's
/// `tcp_min_snd_mss`, but never above what the interface carries.
pub fn effective_send_mss(peer: Option<u16>, timestamps: bool, cfg: &Config) -> u16 {
    let opts = if timestamps { 12 } else { 0 };
    let floor = (MIN_SND_MSS + opts).min(cfg.mss);
    peer.unwrap_or(DEFAULT_MSS).min(cfg.mss).max(floor).max(1)
}

#[cfg(test)]
mod tests;
