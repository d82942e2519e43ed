//! One TCP connection as a pure state machine (RFC 9293 §3.3.2, §3.10).
//!
//! [`State`] is an enum of per-state structs, each holding only the fields
//! that are valid in that state: after the peer's FIN the receive half is
//! gone, in TIME-WAIT only what is needed to acknowledge a retransmitted FIN
//! is left. The transitions are plain functions:
//!
//! - [`State::accept`]: a SYN arrives at the listener (the endpoint owns
//!   LISTEN); returns SYN-RECEIVED and the SYN-ACK.
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

mod config;
mod recv;
pub mod send;

pub use config::Config;
pub use recv::{Insert, RecvBuffer, RecvRanges, MAX_RANGES};
pub use send::Congestion;

pub(crate) use recv::valid_size as rxbuf_valid_size;

use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::{SackBlocks, TcpControl, TcpOptions, TcpRepr, Timestamps};

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
const PAWS_IDLE: Duration = Duration::from_secs(24 * 24 * 3600);

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
            ece: false,
            cwr: false,
            window_len: self.window,
            options: self.options,
            payload,
        }
    }

    fn rst(seq: SeqNum, ack: Option<SeqNum>) -> Reply {
        Reply {
            seq,
            len: 0,
            gso: 0,
            push: false,
            ack,
            control: TcpControl::Rst,
            window: 0,
            options: TcpOptions::default(),
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

/// Timestamp state when RFC 7323 timestamps were negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsState {
    /// TS.Recent: the peer's timestamp to echo.
    pub recent: u32,
    /// When TS.Recent was last updated (for the 24-day PAWS idle rule).
    pub recent_at: Instant,
    /// Added to our millisecond clock so that TSval does not reveal uptime.
    pub offset: u32,
}

/// Options and bookkeeping common to every synchronized state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcb {
    /// Timestamps, if negotiated.
    pub ts: Option<TsState>,
    /// SACK was negotiated.
    pub sack: bool,
    /// Last.ACK.sent (RFC 7323 §4.3).
    pub last_ack_sent: SeqNum,
    /// Start of the current challenge-ACK second, and how many were sent in it.
    pub challenge: (Instant, u8),
    /// Retransmission timer of the SYN-ACK or the FIN.
    pub rtx: Rtx,
}

/// RFC 6298 retransmission-timer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtx {
    /// SRTT and RTTVAR in microseconds, once a sample was taken.
    pub rtt: Option<(u64, u64)>,
    /// The current RTO (before backoff).
    pub rto: Duration,
    /// Retransmission timeouts (or unanswered zero-window probes) in a row
    /// without forward progress; the connection gives up at
    /// `Config::max_retries` (Linux `icsk_retransmits`, `icsk_probes_out`).
    pub retries: u8,
    /// RFC 6298 §5.5: how many times the RTO has doubled since the last
    /// valid RTT sample (Linux `icsk_backoff`). Karn: only a new sample
    /// collapses it, not the ACK of retransmitted data.
    pub backoff: u8,
    /// When the segment in flight was first sent (Karn: only a segment never
    /// retransmitted gives a sample).
    pub sent_at: Instant,
    /// When to retransmit, if something is in flight.
    pub deadline: Option<Instant>,
}

/// The send half: RFC 9293 §3.3.1 send sequence variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendHalf {
    /// ISS.
    pub iss: SeqNum,
    /// SND.UNA.
    pub una: SeqNum,
    /// SND.NXT.
    pub nxt: SeqNum,
    /// SND.WND, in bytes (already scaled).
    pub wnd: u32,
    /// The largest window the peer has offered (RFC 5961 §5.2 MAX.SND.WND).
    pub max_wnd: u32,
    /// SND.WL1.
    pub wl1: SeqNum,
    /// SND.WL2.
    pub wl2: SeqNum,
    /// The peer's window shift (Snd.Wind.Shift).
    pub wscale: u8,
    /// The effective send MSS (RFC 9293 §3.7.1): the peer's MSS clamped to
    /// what our link carries, see [`effective_send_mss`].
    pub mss: u16,
    /// The size of the send buffer (0: this connection sends no data).
    pub buf: u32,
    /// SND.MAX: the highest sequence number sent so far (SND.NXT goes back
    /// to SND.UNA after a retransmission timeout).
    pub max: SeqNum,
    /// The end of the data the application queued: the send buffer holds
    /// `[SND.UNA, end)`.
    pub end: SeqNum,
    /// The application closed: our FIN follows the byte before `end`.
    pub fin: bool,
    /// Congestion control and loss recovery.
    pub cc: Congestion,
}

/// The receive half while data may still arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvHalf {
    /// IRS.
    pub irs: SeqNum,
    /// RCV.NXT.
    pub nxt: SeqNum,
    /// The first byte the application has not consumed yet; the receive
    /// buffer covers `[read, read + N)`.
    pub read: SeqNum,
    /// Our window shift (Rcv.Wind.Shift).
    pub wscale: u8,
    /// The size of the receive buffer (a power of two).
    pub cap: u32,
    /// The right edge of the window we last advertised (never moves left,
    /// RFC 9293 §3.8.6).
    pub adv_right: SeqNum,
    /// In-order bytes received since we last sent an ACK.
    pub unacked: u32,
    /// When a delayed ACK is due.
    pub ack_due: Option<Instant>,
    /// The sequence number of the peer's FIN, seen while a gap was open.
    pub fin: Option<SeqNum>,
}

/// The receive half after the peer's FIN: only what is needed to ACK, and
/// where the application is in reading what came before the FIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvClosed {
    /// RCV.NXT (one past the peer's FIN).
    pub nxt: SeqNum,
    /// The window field we advertise, already scaled.
    pub window: u16,
    /// The first byte the application has not consumed yet (`nxt - 1` once
    /// everything before the FIN is read).
    pub read: SeqNum,
    /// The right edge of the receive window last advertised (at least
    /// `nxt`): a RST between `nxt` and here is in the window (RFC 5961
    /// §3.2) and gets a challenge ACK.
    pub right: SeqNum,
}

/// SYN-RECEIVED: our SYN-ACK is out, the peer's ACK not yet in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynReceived {
    /// Common state.
    pub tcb: Tcb,
    /// Send half.
    pub snd: SendHalf,
    /// Receive half.
    pub rcv: RecvHalf,
    /// Window scaling was negotiated (both SYNs carry the option).
    pub window_scaling: bool,
    /// When a retransmitted SYN was last answered (for the debounce of
    /// further duplicates); `None` until the first one. The SYN-ACKs sent by
    /// [`State::accept`] and by the retransmission timer do not count.
    pub dup_syn_answered: Option<Instant>,
    /// The application closed in SYN-RECEIVED: our FIN follows as soon as
    /// the handshake completes (RFC 9293 §3.10.4).
    pub close_queued: bool,
}

/// A state in which both halves are open or ours is closing: ESTABLISHED,
/// FIN-WAIT-1, FIN-WAIT-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// Common state.
    pub tcb: Tcb,
    /// Send half.
    pub snd: SendHalf,
    /// Receive half.
    pub rcv: RecvHalf,
}

/// FIN-WAIT-2: our FIN is acknowledged; waiting for the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinWait2 {
    /// Common state.
    pub tcb: Tcb,
    /// Send half.
    pub snd: SendHalf,
    /// Receive half.
    pub rcv: RecvHalf,
    /// When to give up waiting.
    pub deadline: Instant,
}

/// A state after the peer's FIN: CLOSE-WAIT, CLOSING, LAST-ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HalfClosed {
    /// Common state.
    pub tcb: Tcb,
    /// Send half.
    pub snd: SendHalf,
    /// What is left of the receive half.
    pub rcv: RecvClosed,
}

/// TIME-WAIT: both FINs done; a retransmitted FIN is acknowledged again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWait {
    /// Timestamps, to answer with.
    pub ts: Option<TsState>,
    /// SND.NXT.
    pub snd_nxt: SeqNum,
    /// What is left of the receive half.
    pub rcv: RecvClosed,
    /// When TIME-WAIT ends.
    pub expires: Instant,
    /// The challenge-ACK rate limit's second and count (RFC 5961 §7).
    pub challenge: (Instant, u8),
}

/// A connection's state (RFC 9293 §3.3.2). LISTEN lives in the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// SYN-RECEIVED.
    SynReceived(SynReceived),
    /// ESTABLISHED.
    Established(Open),
    /// FIN-WAIT-1: our FIN is out, the peer may still send.
    FinWait1(Open),
    /// FIN-WAIT-2.
    FinWait2(FinWait2),
    /// CLOSE-WAIT: the peer's FIN is in; ours not yet sent.
    CloseWait(HalfClosed),
    /// CLOSING: both FINs out, ours not yet acknowledged.
    Closing(HalfClosed),
    /// LAST-ACK: we closed after the peer; waiting for the ACK of our FIN.
    LastAck(HalfClosed),
    /// TIME-WAIT.
    TimeWait(TimeWait),
    /// CLOSED, and why.
    Closed(CloseReason),
}

/// The result of a transition: the next state, what to send, what happened.
#[must_use]
#[derive(Debug)]
pub struct Transition<'a> {
    /// The next state.
    pub state: State,
    /// Segments to send, in order.
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

    fn new(state: State) -> Self {
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

    fn reply(&mut self, r: Reply) {
        // Capacity 2 covers every path (at most an ACK and a FIN); should a
        // third ever be pushed, the last one is dropped, which TCP tolerates.
        let _ = self.replies.push(r);
    }

    fn event(&mut self, e: Event) {
        let _ = self.events.push(e);
    }

    fn drop_seg(mut self, why: SegmentDrop) -> Self {
        self.dropped = Some(why);
        self
    }
}

/// What the receive side of a connection exposes to the endpoint's
/// bookkeeping.
impl State {
    /// This state's name.
    pub const fn name(&self) -> StateName {
        match self {
            State::SynReceived(_) => StateName::SynReceived,
            State::Established(_) => StateName::Established,
            State::FinWait1(_) => StateName::FinWait1,
            State::FinWait2(_) => StateName::FinWait2,
            State::CloseWait(_) => StateName::CloseWait,
            State::Closing(_) => StateName::Closing,
            State::LastAck(_) => StateName::LastAck,
            State::TimeWait(_) => StateName::TimeWait,
            State::Closed(_) => StateName::Closed,
        }
    }

    /// RCV.NXT, where the state still has it.
    pub fn rcv_nxt(&self) -> Option<SeqNum> {
        match self {
            State::SynReceived(s) => Some(s.rcv.nxt),
            State::Established(s) | State::FinWait1(s) => Some(s.rcv.nxt),
            State::FinWait2(s) => Some(s.rcv.nxt),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => Some(s.rcv.nxt),
            State::TimeWait(s) => Some(s.rcv.nxt),
            State::Closed(_) => None,
        }
    }

    /// The right edge of the receive window last advertised, while data may
    /// still arrive.
    pub fn rcv_adv_right(&self) -> Option<SeqNum> {
        match self {
            State::SynReceived(s) => Some(s.rcv.adv_right),
            State::Established(s) | State::FinWait1(s) => Some(s.rcv.adv_right),
            State::FinWait2(s) => Some(s.rcv.adv_right),
            _ => None,
        }
    }

    /// Whether the state is SYN-RECEIVED (counts against the half-open bound).
    pub const fn is_half_open(&self) -> bool {
        matches!(self, State::SynReceived(_))
    }

    /// The earliest instant at which [`State::on_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            State::SynReceived(s) => s.tcb.rtx.deadline,
            State::Established(s) | State::FinWait1(s) => {
                min_opt(min_opt(s.tcb.rtx.deadline, s.rcv.ack_due), s.snd.cc.pto)
            }
            State::FinWait2(s) => min_opt(Some(s.deadline), s.rcv.ack_due),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                min_opt(s.tcb.rtx.deadline, s.snd.cc.pto)
            }
            State::TimeWait(s) => Some(s.expires),
            State::Closed(_) => None,
        }
    }
}

fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
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

fn snd_buf(snd: &SendHalf) -> usize {
    snd.buf as usize
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

fn ts_now(ts: &TsState, now: Instant) -> u32 {
    (now.as_millis() as u32).wrapping_add(ts.offset)
}

/// RFC 7323 §3.2: segments carry TSval = our clock, TSecr = TS.Recent.
fn ts_option(ts: Option<TsState>, now: Instant) -> Option<Timestamps> {
    ts.map(|t| Timestamps {
        tsval: ts_now(&t, now),
        tsecr: t.recent,
    })
}

/// The window field to advertise; records the right edge it stands for.
///
/// The buffer covers `[read, read + cap)`, so the window is the free space
/// from RCV.NXT to `read + cap`, scaled down by our shift. RFC 9293 §3.8.6
/// and RFC 7323 §2.4: never offer space that will not be accepted -- every
/// byte inside any window we advertised must be taken later, and no byte
/// beyond the buffer may ever be inside one. So the field is the free space
/// rounded DOWN to the scale unit, and with less than one unit free it is
/// zero (the peer then probes, RFC 9293 §3.8.6.1).
///
/// RFC 9293 §3.8.6: "A TCP receiver SHOULD NOT shrink the window, i.e.,
/// move the right window edge to the left (SHLD-14). However, a sending TCP
/// peer MUST be robust against window shrinking". Where rounding down puts
/// the edge left of the one advertised before (`adv_right`, which never
/// moves left), that edge cannot be kept: it is not a whole number of units
/// from RCV.NXT, and rounding up would offer bytes past the end of the
/// buffer, which would be dropped and never acknowledged, and the window
/// would never reach zero. RFC 7323 §2.4 allows exactly this retraction of
/// less than one unit with a non-zero shift; `adv_right` keeps the old
/// edge, and the acceptability test (`front_checks`) still accepts every
/// byte up to it, which the buffer has room for. (Linux's tcp_select_window
/// rounds the current window up instead, relying on the slack of its
/// socket memory accounting; this buffer has none.)
#[inline]
fn advertise(rcv: &mut RecvHalf) -> u16 {
    let free = (rcv.read + rcv.cap) - rcv.nxt;
    let field = (free >> rcv.wscale).min(0xffff);
    let right = rcv.nxt + (field << rcv.wscale);
    rcv.adv_right = rcv.adv_right.max(right);
    field as u16
}

/// An ACK for the current receive state, with timestamps and SACK blocks
/// when negotiated (RFC 2018 §4: the first block covers the segment that
/// triggered the ACK).
#[inline]
fn make_ack(
    tcb: &mut Tcb,
    snd_nxt: SeqNum,
    rcv: &mut RecvHalf,
    rx: &RecvBuffer<'_>,
    now: Instant,
) -> Reply {
    let window = advertise(rcv);
    let mut options = TcpOptions {
        timestamps: ts_option(tcb.ts, now),
        ..TcpOptions::default()
    };
    if tcb.sack {
        // 40 option bytes: with timestamps (12) room for 3 blocks, else 4.
        let max = if tcb.ts.is_some() { 3 } else { 4 };
        options.sack_blocks = rx.sack_blocks(max);
    }
    tcb.last_ack_sent = rcv.nxt;
    rcv.unacked = 0;
    rcv.ack_due = None;
    Reply {
        seq: snd_nxt,
        len: 0,
        gso: 0,
        push: false,
        ack: Some(rcv.nxt),
        control: TcpControl::None,
        window,
        options,
    }
}

/// RFC 2018 §4: the SACK blocks for a segment we send, when SACK was
/// negotiated and `rx` holds out-of-order data; room for 3 blocks with
/// timestamps, else 4 (Linux `tcp_established_options` adds them to every
/// segment).
fn sack_for(tcb: &Tcb, rx: &RecvRanges) -> SackBlocks {
    if tcb.sack {
        rx.sack_blocks(if tcb.ts.is_some() { 3 } else { 4 })
    } else {
        SackBlocks::new()
    }
}

fn make_ack_closed(tcb: &mut Tcb, snd_nxt: SeqNum, rcv: &RecvClosed, now: Instant) -> Reply {
    tcb.last_ack_sent = rcv.nxt;
    Reply {
        seq: snd_nxt,
        len: 0,
        gso: 0,
        push: false,
        ack: Some(rcv.nxt),
        control: TcpControl::None,
        window: rcv.window,
        options: TcpOptions {
            timestamps: ts_option(tcb.ts, now),
            ..TcpOptions::default()
        },
    }
}

/// RFC 5961 §7: challenge ACKs are rate-limited per connection.
fn challenge_allowed(tcb: &mut Tcb, now: Instant, cfg: &Config) -> bool {
    let (start, count) = tcb.challenge;
    if now.saturating_since(start) >= Duration::from_secs(1) {
        tcb.challenge = (now, 1);
        return cfg.challenge_acks_per_sec > 0;
    }
    if count < cfg.challenge_acks_per_sec {
        tcb.challenge.1 = count + 1;
        true
    } else {
        false
    }
}

/// Whether an unacceptable (out-of-window, PAWS-old or duplicate) segment
/// gets its ACK (RFC 9293 §3.10.7.4 first: "an acknowledgment should be
/// sent in reply"). Pure ACKs share the challenge-ACK budget (RFC 5961 §7),
/// so forged ones cannot make us an ACK amplifier; a segment that occupies
/// sequence space (data or FIN) is always answered: it is most likely a
/// retransmission whose ACK was lost, and the sender needs the duplicate
/// ACK (RFC 5681 §4.2). Linux tcp_oow_rate_limited: "Data packets without
/// SYNs are not subject to rate limiting".
fn dup_ack_allowed(tcb: &mut Tcb, seg: &TcpRepr<'_>, now: Instant, cfg: &Config) -> bool {
    let occupies = seg.segment_len() > 0 && seg.control != TcpControl::Syn;
    occupies || challenge_allowed(tcb, now, cfg)
}

/// RFC 9293 §3.10.7.4 first: the acceptability test, all four cases of
/// segment length and receive window.
pub fn acceptable(rcv_nxt: SeqNum, rcv_wnd: u32, seq: SeqNum, seg_len: u32) -> bool {
    let right = rcv_nxt + rcv_wnd;
    match (seg_len, rcv_wnd) {
        (0, 0) => seq == rcv_nxt,
        (0, _) => seq.in_window(rcv_nxt, right),
        (_, 0) => false,
        (_, _) => seq.in_window(rcv_nxt, right) || (seq + (seg_len - 1)).in_window(rcv_nxt, right),
    }
}

/// RFC 7323 §5.3 R1: PAWS. A non-RST segment whose TSval is older than
/// TS.Recent is a duplicate from an earlier incarnation of the sequence space.
fn paws_rejects(tcb: &Tcb, seg: &TcpRepr<'_>, now: Instant) -> bool {
    let (Some(ts), Some(seg_ts)) = (tcb.ts, seg.options.timestamps) else {
        return false;
    };
    if seg.control == TcpControl::Rst {
        return false;
    }
    let older = (seg_ts.tsval.wrapping_sub(ts.recent) as i32) < 0;
    older && now.saturating_since(ts.recent_at) < PAWS_IDLE
}

/// RFC 7323 §4.3: TS.Recent follows the peer's TSval when the segment covers
/// Last.ACK.sent.
fn update_ts_recent(tcb: &mut Tcb, seg: &TcpRepr<'_>, now: Instant) {
    if let (Some(ts), Some(seg_ts)) = (tcb.ts.as_mut(), seg.options.timestamps) {
        let newer = (seg_ts.tsval.wrapping_sub(ts.recent) as i32) >= 0;
        if newer && seg.seq_number.before_eq(tcb.last_ack_sent) {
            ts.recent = seg_ts.tsval;
            ts.recent_at = now;
        }
    }
}

/// RFC 6298 §2: a new RTT sample, from `rtx.sent_at` to `now`.
fn rtt_sample(rtx: &mut Rtx, now: Instant, cfg: &Config) {
    let sample = now.saturating_since(rtx.sent_at);
    send::rtt_update(rtx, sample, cfg);
}

fn arm(rtx: &mut Rtx, now: Instant, cfg: &Config) {
    rtx.sent_at = now;
    rtx.retries = 0;
    rtx.backoff = 0;
    rtx.deadline = Some(now + rtx.rto.min(cfg.rto_max));
}

fn syn_ack(s: &mut SynReceived, now: Instant, cfg: &Config) -> Reply {
    let window_scaling = s.window_scaling;
    let SynReceived { tcb, snd, rcv, .. } = s;
    let window = rcv.cap.min(0xffff) as u16; // RFC 7323 §2.2: the SYN's window is never scaled.
    rcv.adv_right = rcv.nxt + u32::from(window);
    let options = TcpOptions {
        mss: Some(cfg.mss),
        window_scale: window_scaling.then_some(rcv.wscale),
        sack_permitted: tcb.sack,
        sack_blocks: SackBlocks::new(),
        timestamps: ts_option(tcb.ts, now),
    };
    tcb.last_ack_sent = rcv.nxt;
    Reply {
        seq: snd.iss,
        len: 0,
        gso: 0,
        push: false,
        ack: Some(rcv.nxt),
        control: TcpControl::Syn,
        window,
        options,
    }
}

/// What the segment's ACK field did (RFC 9293 §3.10.7.4 fifth).
enum AckCheck {
    /// Acceptable; `fin_acked` says our FIN (if sent) is now acknowledged.
    Ok { fin_acked: bool },
    /// Not acceptable: send an ACK and drop (RFC 5961 §5.2).
    ChallengeAndDrop,
}

/// RFC 9293 §3.10.7.4 fifth, with RFC 5961 §5.2's acceptable range
/// `SND.UNA - MAX.SND.WND =< SEG.ACK =< SND.NXT` (SND.NXT being the highest
/// sent, SND.MAX), the send path's bookkeeping (`send::on_ack`), and the
/// window update rule (SND.WL1/SND.WL2).
#[inline]
fn check_ack(
    snd: &mut SendHalf,
    tcb: &mut Tcb,
    seg: &TcpRepr<'_>,
    now: Instant,
    cfg: &Config,
) -> AckCheck {
    let Some(ack) = seg.ack_number else {
        return AckCheck::ChallengeAndDrop;
    };
    if ack.after(snd.max) || ack.before(snd.una - snd.max_wnd) {
        return AckCheck::ChallengeAndDrop;
    }
    send::on_ack(snd, tcb, seg, ack, now, cfg);
    // RFC 9293 §3.10.7.4: "If SND.UNA =< SEG.ACK =< SND.NXT, the send window
    // should be updated. If (SND.WL1 < SEG.SEQ or (SND.WL1 = SEG.SEQ and
    // SND.WL2 =< SEG.ACK)), set SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, and
    // SND.WL2 <- SEG.ACK."
    if snd.una.before_eq(ack)
        && (snd.wl1.before(seg.seq_number) || (snd.wl1 == seg.seq_number && snd.wl2.before_eq(ack)))
    {
        let was_closed = snd.wnd == 0;
        snd.wnd = u32::from(seg.window_len) << snd.wscale;
        snd.max_wnd = snd.max_wnd.max(snd.wnd);
        snd.wl1 = seg.seq_number;
        snd.wl2 = ack;
        if was_closed && snd.wnd > 0 && snd.una != snd.max {
            // The window reopened with a zero-window probe outstanding: the
            // probe's byte was most likely dropped; send it again with the
            // data instead of waiting for the backed-off timer.
            snd.nxt = snd.una;
            tcb.rtx.retries = 0;
            tcb.rtx.backoff = 0; // Linux tcp_ack_probe
            tcb.rtx.deadline = None;
        }
    }
    AckCheck::Ok {
        fin_acked: snd.fin && snd.una == snd.end + 1,
    }
}

/// How a segment's text and FIN were taken in.
struct TextResult {
    /// The peer's FIN is now in order (RCV.NXT has passed it).
    fin: bool,
    /// The segment was out of order or filled a gap: ACK at once.
    ack_now: bool,
    /// Bytes dropped for lack of buffer space.
    dropped: u32,
}

/// RFC 9293 §3.10.7.4 seventh and eighth: take the segment's text (trimmed
/// to the window) and note its FIN. In-order text is handed out of the
/// segment without copying; out-of-order text goes into `rx`.
#[inline]
fn take_text<'a>(
    rcv: &mut RecvHalf,
    rx: &mut RecvBuffer<'_>,
    seg: &TcpRepr<'a>,
    t: &mut Transition<'a>,
) -> TextResult {
    let payload = seg.payload;
    let seq = seg.seq_number;
    let had_gap = rx.has_out_of_order();
    if seg.control == TcpControl::Fin {
        let fin_seq = seq + payload.len() as u32;
        // A FIN beyond the window is not seen (its data was trimmed).
        let right = rcv.read + rcv.cap;
        if fin_seq.before(right) && fin_seq.after_eq(rcv.nxt) {
            rcv.fin = Some(fin_seq);
        }
    }
    let mut res = TextResult {
        fin: false,
        ack_now: false,
        dropped: 0,
    };
    if !payload.is_empty() {
        let before = rcv.nxt;
        // While the application has unread bytes, new ones queue behind
        // them in the buffer; otherwise in-order bytes go out of the segment.
        let copy = rcv.read != rcv.nxt;
        let ins = rx.insert(rcv.read, rcv.nxt, seq, payload, copy);
        res.dropped = ins.dropped;
        if ins.advanced > 0 {
            // In-order: the part of the segment at RCV.NXT goes out directly,
            // then whatever out-of-order data it joined up with.
            let skip = (before - seq) as usize;
            let end = (payload.len()).min(skip + ins.advanced as usize);
            let direct = if copy {
                &[][..]
            } else {
                payload.get(skip..end).unwrap_or(&[])
            };
            t.data = direct;
            t.buffered = ins.advanced - direct.len() as u32;
            rcv.nxt += ins.advanced;
            rcv.unacked = rcv.unacked.saturating_add(ins.advanced);
            // RFC 9293 §3.8.6.3 / RFC 5681 §4.2: ACK at once when filling a gap.
            res.ack_now = had_gap;
        } else {
            // Out of order (or a duplicate): RFC 5681 §4.2 / RFC 2018, ACK at
            // once so the peer learns of the hole.
            res.ack_now = true;
        }
    }
    if rcv.fin == Some(rcv.nxt) {
        res.fin = true;
        rcv.nxt += 1;
        rcv.fin = None;
        res.ack_now = true;
    } else if seg.control == TcpControl::Fin && (seq + payload.len() as u32).after(rcv.nxt) {
        // A FIN still above RCV.NXT is out of order even without data: it
        // occupies a sequence number past a gap. RFC 5681 §4.2: "A TCP
        // receiver SHOULD send an immediate duplicate ACK when an
        // out-of-order segment arrives" (Linux queues the FIN out of order
        // and __tcp_ack_snd_check ACKs at once while that queue is not
        // empty).
        res.ack_now = true;
    }
    res
}

/// Acknowledge now or arm the delayed-ACK timer (RFC 9293 §3.8.6.3, RFC
/// 1122 §4.2.3.2): an ACK for at least every second full-sized segment, and
/// no later than `cfg.delayed_ack` (at most 200 ms).
#[allow(clippy::too_many_arguments)] // the pieces of one state, borrowed apart
#[inline]
fn ack_policy(
    tcb: &mut Tcb,
    snd_nxt: SeqNum,
    rcv: &mut RecvHalf,
    rx: &RecvBuffer<'_>,
    ack_now: bool,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'_>,
) {
    // A full-sized segment of the peer: our MSS less the options it must
    // carry in every segment (RFC 6691: the MSS excludes options; RFC 7323
    // §3.2: with timestamps, 12 bytes in every segment). Linux measures it
    // instead (tcp_measure_rcv_mss); a peer on a smaller path MTU still
    // gets its ACK by the delayed-ACK timer.
    let options = if tcb.ts.is_some() { 12 } else { 0 };
    let full = u32::from(cfg.mss).saturating_sub(options).max(1);
    if ack_now || rcv.unacked >= 2 * full {
        let r = make_ack(tcb, snd_nxt, rcv, rx, now);
        t.reply(r);
    } else if rcv.unacked > 0 && rcv.ack_due.is_none() {
        rcv.ack_due = Some(now + cfg.delayed_ack);
    }
}

fn close_reason_rst(t: &mut Transition<'_>) -> State {
    t.event(Event::Closed(CloseReason::Reset));
    State::Closed(CloseReason::Reset)
}

impl State {
    /// LISTEN receives a SYN (RFC 9293 §3.10.7.2): choose the ISS, negotiate
    /// options, enter SYN-RECEIVED and send `<SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>`.
    ///
    /// The SYN-ACK carries our MSS, and window scale, SACK-permitted and
    /// timestamps when the client offered them and `cfg` allows them.
    /// `ts_offset` randomises our timestamp clock. The caller has checked
    /// that `syn` is a SYN without ACK or RST.
    pub fn accept(
        syn: &TcpRepr<'_>,
        iss: SeqNum,
        ts_offset: u32,
        now: Instant,
        cfg: &Config,
        bufs: Buffers,
    ) -> Transition<'static> {
        let opts = &syn.options;
        // RFC 7323 §2.2: scaling only if both sides send the option; a shift
        // above 14 is taken as 14 (§2.3).
        let (snd_wscale, rcv_wscale, scaled) = match opts.window_scale {
            Some(peer) if cfg.window_scale => {
                (peer.min(MAX_WINDOW_SHIFT), window_shift_for(bufs.rx), true)
            }
            _ => (0, 0, false),
        };
        let ts = match opts.timestamps {
            Some(t) if cfg.timestamps => Some(TsState {
                recent: t.tsval,
                recent_at: now,
                offset: ts_offset,
            }),
            _ => None,
        };
        let irs = syn.seq_number;
        let send_mss = effective_send_mss(opts.mss, ts.is_some(), cfg);
        let mut s = SynReceived {
            tcb: Tcb {
                ts,
                sack: cfg.sack && opts.sack_permitted,
                last_ack_sent: irs + 1,
                challenge: (now, 0),
                rtx: Rtx {
                    rtt: None,
                    rto: cfg.rto_initial,
                    retries: 0,
                    backoff: 0,
                    sent_at: now,
                    deadline: None,
                },
            },
            snd: SendHalf {
                iss,
                una: iss,
                nxt: iss + 1,
                wnd: u32::from(syn.window_len), // RFC 7323 §2.2: the SYN's window is not scaled
                max_wnd: u32::from(syn.window_len),
                wl1: irs,
                wl2: iss,
                wscale: snd_wscale,
                mss: send_mss,
                buf: bufs.tx.min(1 << 30) as u32,
                max: iss + 1,
                end: iss + 1,
                fin: false,
                // RFC 6928 §2: IW from SMSS, the effective MSS less options.
                cc: Congestion::new(send::smss_for(send_mss, ts.is_some())),
            },
            rcv: RecvHalf {
                irs,
                nxt: irs + 1,
                read: irs + 1,
                wscale: rcv_wscale,
                cap: bufs.rx.min(1 << 30) as u32,
                adv_right: irs + 1,
                unacked: 0,
                ack_due: None,
                fin: None,
            },
            window_scaling: scaled,
            dup_syn_answered: None,
            close_queued: false,
        };
        let reply = syn_ack(&mut s, now, cfg);
        arm(&mut s.tcb.rtx, now, cfg);
        let mut t = Transition::new(State::SynReceived(s));
        t.reply(reply);
        t
    }

    /// RFC 9293 §3.10.7.4: one segment arrives for this connection. The steps
    /// run in the RFC's order: sequence number (with PAWS), RST, security,
    /// SYN, ACK, URG, text, FIN.
    ///
    /// `rx` is this connection's receive buffer. In-order payload is returned
    /// in [`Transition::data`] (borrowed from `seg`) and
    /// [`Transition::buffered`]; the caller hands both to the application.
    #[inline]
    pub fn on_segment<'a>(
        self,
        seg: &TcpRepr<'a>,
        now: Instant,
        cfg: &Config,
        rx: &mut RecvBuffer<'_>,
    ) -> Transition<'a> {
        match self {
            State::SynReceived(s) => syn_received(s, seg, now, cfg, rx),
            State::Established(s) => open(OpenKind::Established, s, seg, now, cfg, rx),
            State::FinWait1(s) => open(OpenKind::FinWait1, s, seg, now, cfg, rx),
            State::FinWait2(s) => fin_wait2(s, seg, now, cfg, rx),
            State::CloseWait(s) => half_closed(HalfKind::CloseWait, s, seg, now, cfg),
            State::Closing(s) => half_closed(HalfKind::Closing, s, seg, now, cfg),
            State::LastAck(s) => half_closed(HalfKind::LastAck, s, seg, now, cfg),
            State::TimeWait(s) => time_wait(s, seg, now, cfg),
            State::Closed(r) => {
                // RFC 9293 §3.10.7.1: CLOSED answers with a reset.
                let mut t = Transition::new(State::Closed(r));
                if let Some(rst) = reset_for(seg) {
                    t.reply(rst);
                }
                t
            }
        }
    }

    /// Timers fire (quinn's `handle_timeout`): retransmit the SYN-ACK, or
    /// data and FIN after a retransmission timeout (RFC 6298 §5.4-5.6, the
    /// segments themselves then come from [`State::poll_transmit`]), probe a
    /// zero window, send a delayed ACK, or end TIME-WAIT / FIN-WAIT-2.
    /// Calling it early is harmless.
    pub fn on_timeout(
        self,
        now: Instant,
        cfg: &Config,
        rx: &RecvBuffer<'_>,
    ) -> Transition<'static> {
        let due = |d: Option<Instant>| d.is_some_and(|d| now >= d);
        match self {
            State::SynReceived(mut s) => {
                if due(s.tcb.rtx.deadline) {
                    if s.tcb.rtx.retries >= cfg.synack_retries {
                        let mut t = Transition::new(State::Closed(CloseReason::TimedOut));
                        t.event(Event::Closed(CloseReason::TimedOut));
                        return t;
                    }
                    s.tcb.rtx.retries += 1;
                    s.tcb.rtx.backoff = s.tcb.rtx.backoff.saturating_add(1);
                    s.tcb.rtx.deadline = Some(now + send::backed_off(&s.tcb.rtx, cfg));
                    let r = syn_ack(&mut s, now, cfg);
                    let mut t = Transition::new(State::SynReceived(s));
                    t.reply(r);
                    return t;
                }
                Transition::new(State::SynReceived(s))
            }
            State::Established(s) => open_timeout(OpenKind::Established, s, now, cfg, rx),
            State::FinWait1(s) => open_timeout(OpenKind::FinWait1, s, now, cfg, rx),
            State::FinWait2(mut s) => {
                if now >= s.deadline {
                    let mut t = Transition::new(State::Closed(CloseReason::TimedOut));
                    t.event(Event::Closed(CloseReason::TimedOut));
                    return t;
                }
                let mut t = Transition::new(State::FinWait2(s));
                if due(s.rcv.ack_due) {
                    let r = make_ack(&mut s.tcb, s.snd.nxt, &mut s.rcv, rx, now);
                    t.reply(r);
                    t.state = State::FinWait2(s);
                }
                t
            }
            State::CloseWait(s) => half_closed_timeout(HalfKind::CloseWait, s, now, cfg),
            State::Closing(s) => half_closed_timeout(HalfKind::Closing, s, now, cfg),
            State::LastAck(s) => half_closed_timeout(HalfKind::LastAck, s, now, cfg),
            State::TimeWait(s) => {
                if now >= s.expires {
                    let mut t = Transition::new(State::Closed(CloseReason::Normal));
                    t.event(Event::Closed(CloseReason::Normal));
                    t
                } else {
                    Transition::new(State::TimeWait(s))
                }
            }
            st @ State::Closed(_) => Transition::new(st),
        }
    }

    /// The application closes its side (RFC 9293 §3.10.4): our FIN is queued
    /// after any data still to send, and [`State::poll_transmit`] sends it.
    /// ESTABLISHED enters FIN-WAIT-1, CLOSE-WAIT enters LAST-ACK;
    /// SYN-RECEIVED queues the close until the handshake completes;
    /// elsewhere nothing changes.
    pub fn close(self, _now: Instant, _cfg: &Config) -> Transition<'static> {
        match self {
            State::Established(mut s) => {
                s.snd.fin = true;
                Transition::new(State::FinWait1(s))
            }
            State::SynReceived(mut s) => {
                // RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have
                // been issued and there is no pending data to send, then
                // form a FIN segment and send it, and enter FIN-WAIT-1
                // state; otherwise, queue for processing after entering
                // ESTABLISHED state." Entering FIN-WAIT-1 now would leave
                // SND.UNA = ISS, and the retransmission timer would resend
                // from there a byte of the send buffer and the FIN instead
                // of the SYN-ACK. So the close is queued (the RFC's
                // "otherwise" branch): the SYN-ACK keeps being
                // retransmitted, and the handshake ACK enters ESTABLISHED
                // and then FIN-WAIT-1, our FIN going out at ISS + 1.
                s.close_queued = true;
                Transition::new(State::SynReceived(s))
            }
            State::CloseWait(mut s) => {
                s.snd.fin = true;
                Transition::new(State::LastAck(s))
            }
            other => Transition::new(other),
        }
    }

    /// The application queued `n` more bytes, written into the send buffer
    /// at [`State::send_end`]; returns how many fit: the buffer holds at most
    /// `M` bytes from SND.UNA, and nothing is taken once our FIN is queued.
    pub fn queue(&mut self, n: usize) -> usize {
        let Some(snd) = self.send_half_mut() else {
            return 0;
        };
        if snd.fin {
            return 0;
        }
        let used = (snd.end - snd.una) as usize;
        let take = n.min((snd.buf as usize).saturating_sub(used));
        snd.end += take as u32;
        take
    }

    /// Where the next byte the application sends goes in the send buffer,
    /// and how much room is left there, while it may still send.
    pub fn send_space(&self) -> Option<(SeqNum, usize)> {
        let snd = self.send_half()?;
        if snd.fin {
            return None;
        }
        let used = (snd.end - snd.una) as usize;
        Some((snd.end, (snd.buf as usize).saturating_sub(used)))
    }

    /// The end of the queued data (see [`State::queue`]).
    pub fn send_end(&self) -> Option<SeqNum> {
        self.send_half().map(|s| s.end)
    }

    /// SND.MAX, the highest sequence number sent (a segment that starts
    /// before it is a retransmission).
    pub fn send_max(&self) -> Option<SeqNum> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(s.snd.max),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => Some(s.snd.max),
            _ => None,
        }
    }

    /// Bytes queued and not yet acknowledged.
    pub fn send_pending(&self) -> u32 {
        self.send_half().map_or(0, |s| s.end - s.una)
    }

    fn send_half(&self) -> Option<&SendHalf> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(&s.snd),
            State::CloseWait(s) => Some(&s.snd),
            _ => None,
        }
    }

    fn send_half_mut(&mut self) -> Option<&mut SendHalf> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(&mut s.snd),
            State::CloseWait(s) => Some(&mut s.snd),
            _ => None,
        }
    }

    /// The next segment to send, if any (quinn's `poll_transmit`): a
    /// retransmission, new data from the send buffer (of `M` bytes) within
    /// the peer's window and the congestion window, or our FIN. Call it
    /// until it returns `None` after every other call. Each segment carries
    /// the current ACK and window, so a delayed ACK is sent with it, and
    /// (RFC 2018 §4) the SACK blocks of `rx`, the connection's receive
    /// ranges, where they fit.
    pub fn poll_transmit(&mut self, now: Instant, cfg: &Config, rx: &RecvRanges) -> Option<Reply> {
        let (tcb, snd, rcv) = match self {
            State::Established(s) | State::FinWait1(s) => (&mut s.tcb, &mut s.snd, Ok(&mut s.rcv)),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                (&mut s.tcb, &mut s.snd, Err(s.rcv))
            }
            _ => return None,
        };
        let (seq, len, fin) = send::next_segment(snd, tcb, snd_buf(snd), now, cfg)?;
        let mss = send::smss(snd, tcb);
        let gso = if len > mss { mss.min(0xffff) as u16 } else { 0 };
        let (rcv_nxt, window) = match rcv {
            Ok(rcv) => {
                // The segment carries the ACK: no delayed ACK is owed now.
                rcv.unacked = 0;
                rcv.ack_due = None;
                (rcv.nxt, advertise(rcv))
            }
            Err(closed) => (closed.nxt, closed.window),
        };
        tcb.last_ack_sent = rcv_nxt;
        let mut options = TcpOptions {
            timestamps: ts_option(tcb.ts, now),
            sack_blocks: sack_for(tcb, rx),
            ..TcpOptions::default()
        };
        // RFC 9293 §3.7.1: options and data together stay within the
        // effective send MSS; a full-sized segment (each piece of a GSO
        // one) has no room for SACK blocks, a shorter one takes what fits.
        // (Linux instead shortens the segments, tcp_current_mss counting
        // the SACK blocks; RFC 2018 §4 asks for them on ACKs, "at least"
        // where they fit is what the sizing here allows.)
        let piece = if gso > 0 { u32::from(gso) } else { len };
        while !options.sack_blocks.is_empty()
            && options.buffer_len() as u32 + piece > u32::from(snd.mss)
        {
            options.sack_blocks.truncate(options.sack_blocks.len() - 1);
        }
        Some(Reply {
            seq,
            len,
            gso,
            push: len > 0 && seq + len == snd.end,
            ack: Some(rcv_nxt),
            control: if fin {
                TcpControl::Fin
            } else {
                TcpControl::None
            },
            window,
            options,
        })
    }

    /// The bytes received in order that the application has not consumed:
    /// `[read, end)`, held in the connection's receive buffer.
    pub fn unread(&self) -> Option<(SeqNum, SeqNum)> {
        match self {
            State::SynReceived(s) => Some((s.rcv.read, s.rcv.nxt)),
            State::Established(s) | State::FinWait1(s) => Some((s.rcv.read, s.rcv.nxt)),
            State::FinWait2(s) => Some((s.rcv.read, s.rcv.nxt)),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                Some((s.rcv.read, s.rcv.nxt - 1))
            }
            State::TimeWait(s) => Some((s.rcv.read, s.rcv.nxt - 1)),
            State::Closed(_) => None,
        }
    }

    /// The application consumed `n` more in-order bytes. The window opens;
    /// when it had shrunk to less than half of what it can now be, and
    /// grows by at least one MSS (or half the buffer), a window update is
    /// sent (RFC 9293 §3.8.6.2.2, receiver-side silly window avoidance),
    /// with the SACK blocks of `rx`, the connection's receive ranges, while
    /// it holds out-of-order data (RFC 2018 §4).
    pub fn consume(
        &mut self,
        n: u32,
        now: Instant,
        cfg: &Config,
        rx: &RecvRanges,
    ) -> Option<Reply> {
        fn advance(read: &mut SeqNum, end: SeqNum, n: u32) {
            *read = (*read + n).min(end);
        }
        fn update(
            tcb: &mut Tcb,
            snd_nxt: SeqNum,
            rcv: &mut RecvHalf,
            n: u32,
            now: Instant,
            cfg: &Config,
            rx: &RecvRanges,
        ) -> Option<Reply> {
            advance(&mut rcv.read, rcv.nxt, n);
            let cur = rcv.adv_right - rcv.nxt;
            let new = ((rcv.read + rcv.cap) - rcv.nxt).min(0xffff << rcv.wscale);
            let step = u32::from(cfg.mss).min(rcv.cap / 2);
            if new >= cur.saturating_add(step) && new >= 2 * cur {
                let window = advertise(rcv);
                let mut r = make_ack_closed(
                    tcb,
                    snd_nxt,
                    &RecvClosed {
                        nxt: rcv.nxt,
                        window,
                        read: rcv.read,
                        right: rcv.adv_right,
                    },
                    now,
                );
                r.options.sack_blocks = sack_for(tcb, rx);
                rcv.unacked = 0;
                rcv.ack_due = None;
                Some(r)
            } else {
                None
            }
        }
        match self {
            State::SynReceived(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt, n);
                None
            }
            State::Established(s) | State::FinWait1(s) => {
                update(&mut s.tcb, s.snd.nxt, &mut s.rcv, n, now, cfg, rx)
            }
            State::FinWait2(s) => update(&mut s.tcb, s.snd.nxt, &mut s.rcv, n, now, cfg, rx),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt - 1, n);
                None
            }
            State::TimeWait(s) => {
                advance(&mut s.rcv.read, s.rcv.nxt - 1, n);
                None
            }
            State::Closed(_) => None,
        }
    }

    /// The window field to put in a segment about to be sent, computed
    /// afresh (after the application consumed data); records the right edge
    /// it advertises. `None` where the receive half is gone.
    pub fn readvertise(&mut self) -> Option<u16> {
        match self {
            State::Established(s) | State::FinWait1(s) => Some(advertise(&mut s.rcv)),
            State::FinWait2(s) => Some(advertise(&mut s.rcv)),
            _ => None,
        }
    }

    /// The application aborts (RFC 9293 §3.10.5): send a reset (where the
    /// state calls for one) and close.
    pub fn abort(self, now: Instant) -> Transition<'static> {
        self.abort_with(CloseReason::Aborted, now)
    }

    /// As [`State::abort`], reporting `reason` (the endpoint's idle timeout
    /// reports [`CloseReason::TimedOut`]).
    ///
    /// RFC 9293 §3.10.5: SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2
    /// and CLOSE-WAIT send `<SEQ=SND.NXT><CTL=RST>`; in "CLOSING STATE,
    /// LAST-ACK STATE, TIME-WAIT STATE: Respond with "ok" and delete the
    /// TCB" without a reset (Linux's tcp_need_reset agrees).
    pub fn abort_with(self, reason: CloseReason, now: Instant) -> Transition<'static> {
        let rst = match &self {
            State::SynReceived(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::Established(s) | State::FinWait1(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::FinWait2(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::CloseWait(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::Closing(_) | State::LastAck(_) | State::TimeWait(_) | State::Closed(_) => None,
        };
        if let State::Closed(r) = self {
            return Transition::new(State::Closed(r));
        }
        let mut t = Transition::new(State::Closed(reason));
        if let Some((seq, ack, ts)) = rst {
            t.reply(rst_ts(seq, Some(ack), ts, now));
        }
        t.event(Event::Closed(reason));
        t
    }
}

/// A reset on a connection: RFC 7323 §3.2, once timestamps are negotiated
/// TSopt "MUST be sent in every non-<RST> segment for the duration of the
/// connection, and SHOULD be sent in an <RST> segment" (TSval our clock,
/// TSecr TS.Recent, as Linux's tcp_send_active_reset does).
fn rst_ts(seq: SeqNum, ack: Option<SeqNum>, ts: Option<TsState>, now: Instant) -> Reply {
    let mut r = Reply::rst(seq, ack);
    r.options.timestamps = ts_option(ts, now);
    r
}

fn give_up(tcb: &Tcb, snd_nxt: SeqNum, rcv_nxt: SeqNum, now: Instant) -> Transition<'static> {
    let mut t = Transition::new(State::Closed(CloseReason::TimedOut));
    t.reply(rst_ts(snd_nxt, Some(rcv_nxt), tcb.ts, now));
    t.event(Event::Closed(CloseReason::TimedOut));
    t
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum OpenKind {
    Established,
    FinWait1,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum HalfKind {
    CloseWait,
    Closing,
    LastAck,
}

fn half_state(kind: HalfKind, s: HalfClosed) -> State {
    match kind {
        HalfKind::CloseWait => State::CloseWait(s),
        HalfKind::Closing => State::Closing(s),
        HalfKind::LastAck => State::LastAck(s),
    }
}

/// Steps one to four of RFC 9293 §3.10.7.4 for a state with an open
/// receive half: PAWS, acceptability, RST, SYN. `Err` carries the finished
/// transition when the segment stops here.
#[allow(clippy::too_many_arguments)] // the pieces of one state, borrowed apart
#[inline]
fn front_checks<'a>(
    tcb: &mut Tcb,
    snd_nxt: SeqNum,
    rcv: &mut RecvHalf,
    rx: &RecvBuffer<'_>,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    t: &mut Transition<'a>,
) -> Result<(), SegmentDrop> {
    // RFC 5961 §4.2: "If the SYN bit is set, irrespective of the sequence
    // number, TCP MUST send an ACK (also referred to as challenge ACK)",
    // rate-limited (§7) -- so before the window test, whose ACK would
    // otherwise answer every forged SYN.
    if seg.control == TcpControl::Syn {
        if challenge_allowed(tcb, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::UnexpectedSyn);
    }
    // RFC 7323 §5.3: PAWS comes before the acceptability test; the
    // offending segment is acknowledged and dropped.
    if paws_rejects(tcb, seg, now) {
        if dup_ack_allowed(tcb, seg, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::Paws);
    }
    // A RST is judged by its sequence number alone against the window we
    // advertised (RFC 5961 §3.2, which RFC 9293 §3.10.7.4 first and second
    // adopt): "1) If the RST bit is set and the sequence number is outside
    // the current receive window, silently drop the segment. 2) If the RST
    // bit is set and the sequence number exactly matches the next expected
    // sequence number (RCV.NXT), then TCP MUST reset the connection. 3) If
    // the RST bit is set and the sequence number does not exactly match the
    // next expected sequence value, yet is within the current receive
    // window, TCP MUST send an acknowledgment (challenge ACK)". The window
    // is [RCV.NXT, adv_right): what the peer was told, not the larger
    // buffer space that data may still use, and not the segment's payload
    // (a RST whose text starts below RCV.NXT is outside).
    if seg.control == TcpControl::Rst {
        if seg.seq_number == rcv.nxt {
            return Ok(());
        }
        if !seg.seq_number.in_window(rcv.nxt, rcv.adv_right) {
            return Err(SegmentDrop::OutOfWindow);
        }
        if challenge_allowed(tcb, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::RstNotExact);
    }
    // First: the sequence number. The receive window is the buffer space
    // from RCV.NXT (the application has consumed all in-order data).
    let wnd = rcv.adv_right.max(rcv.read + rcv.cap) - rcv.nxt;
    let seg_len = seg.segment_len() as u32;
    if !acceptable(rcv.nxt, wnd, seg.seq_number, seg_len) {
        // "If an incoming segment is not acceptable, an acknowledgment
        // should be sent in reply (unless the RST bit is set)" -- within the
        // challenge-ACK rate limit for pure ACKs, so that forged
        // out-of-window segments cannot turn us into an ACK amplifier
        // (Linux does the same with tcp_invalid_ratelimit); data is exempt.
        if dup_ack_allowed(tcb, seg, now, cfg) {
            let r = make_ack(tcb, snd_nxt, rcv, rx, now);
            t.reply(r);
        }
        return Err(SegmentDrop::OutOfWindow);
    }
    // Second: RST, handled above (RFC 5961 §3.2).
    // Third: security and compartment -- no IP security options are used.
    // Fourth: the SYN was handled first (RFC 5961 §4).
    Ok(())
}

#[inline]
fn syn_received<'a>(
    mut s: SynReceived,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    // A retransmitted SYN (SEG.SEQ = IRS) means the client lost our
    // SYN-ACK: it gets the same SYN-ACK at once. It would fail the
    // acceptability test ("If an incoming segment is not acceptable, an
    // acknowledgment should be sent in reply", RFC 9293 §3.10.7.4 first), so
    // it is recognised first, as Linux's tcp_check_req does. Only the
    // answers to further duplicates are debounced, one per
    // `cfg.syn_debounce` (Linux: tcp_oow_rate_limited with
    // tcp_invalid_ratelimit, 500 ms); the SYN-ACKs of `accept` and of the
    // retransmission timer do not count.
    if seg.control == TcpControl::Syn && seg.ack_number.is_none() && seg.seq_number == s.rcv.irs {
        let mut t = Transition::new(State::SynReceived(s));
        let limited = s
            .dup_syn_answered
            .is_some_and(|at| now.saturating_since(at) < cfg.syn_debounce);
        if !limited {
            s.dup_syn_answered = Some(now);
            let r = syn_ack(&mut s, now, cfg);
            t.reply(r);
            t.state = State::SynReceived(s);
        }
        return t;
    }
    let mut t = Transition::new(State::SynReceived(s));
    let snd_nxt = s.snd.nxt;
    if seg.control == TcpControl::Syn {
        // Any other SYN (or SYN-ACK). RFC 5961 §4 is for synchronized
        // states; SYN-RECEIVED keeps RFC 9293 §3.10.7.4's order. First, the
        // sequence number (with PAWS, RFC 7323 §5.3): a SYN that is not
        // acceptable "should" get an ACK, within the challenge-ACK budget
        // (RFC 5961 §7), and is dropped. Fourth, an acceptable SYN:
        // "SYN-RECEIVED STATE: If the connection was initiated with a passive
        // OPEN, then return this connection to the LISTEN state and return"
        // -- the embryonic connection goes, without a reply. (Linux
        // tcp_check_req does the same, except that it also sends a RST for
        // the in-window SYN, `embryonic_reset`; the RFC sends nothing, and
        // a RST to an address that may be spoofed helps no one.)
        let wnd = s.rcv.adv_right.max(s.rcv.read + s.rcv.cap) - s.rcv.nxt;
        let seg_len = seg.segment_len() as u32;
        let paws = paws_rejects(&s.tcb, seg, now);
        if paws || !acceptable(s.rcv.nxt, wnd, seg.seq_number, seg_len) {
            if challenge_allowed(&mut s.tcb, now, cfg) {
                let r = make_ack(&mut s.tcb, snd_nxt, &mut s.rcv, rx, now);
                t.reply(r);
            }
            t.state = State::SynReceived(s);
            let why = if paws {
                SegmentDrop::Paws
            } else {
                SegmentDrop::OutOfWindow
            };
            return t.drop_seg(why);
        }
        t.state = State::Closed(CloseReason::Reset);
        t.event(Event::Closed(CloseReason::Reset));
        return t;
    }
    if let Err(why) = front_checks(&mut s.tcb, snd_nxt, &mut s.rcv, rx, seg, now, cfg, &mut t) {
        t.state = State::SynReceived(s);
        return t.drop_seg(why);
    }
    if seg.control == TcpControl::Rst {
        // RFC 9293: a passive open in SYN-RECEIVED returns to LISTEN on RST;
        // for the endpoint that means the embryonic connection goes away.
        t.state = close_reason_rst(&mut t);
        return t;
    }
    // Fifth: ACK. "If SND.UNA < SEG.ACK =< SND.NXT, then enter ESTABLISHED
    // state ... If the segment acknowledgment is not acceptable, form a reset
    // segment <SEQ=SEG.ACK><CTL=RST> and send it."
    let Some(ack) = seg.ack_number else {
        t.state = State::SynReceived(s);
        return t.drop_seg(SegmentDrop::BadAck);
    };
    if !(s.snd.una.before(ack) && ack.before_eq(s.snd.nxt)) {
        t.reply(rst_ts(ack, None, s.tcb.ts, now));
        t.state = State::SynReceived(s);
        return t.drop_seg(SegmentDrop::BadAck);
    }
    let SynReceived {
        mut tcb,
        mut snd,
        rcv,
        window_scaling: _,
        dup_syn_answered,
        close_queued,
    } = s;
    // The handshake's RTT sample: from the ACK's TSecr when it echoes one
    // (RFC 7323 §4.1), which is never ambiguous; else from when the SYN-ACK
    // went out, if it went out once. Karn (RFC 6298 §3): the ACK of a
    // SYN-ACK sent more than once -- by the timer or in answer to a
    // retransmitted SYN (Linux counts both in req->num_retrans) -- gives no
    // sample. A connection made from a SYN cookie was created at this ACK's
    // arrival (`sent_at == now`): the SYN-ACK's time is unknown and no
    // sample is taken (Linux: a cookie's request has no snt_synack).
    // RFC 5681 §3.1: "If the SYN or SYN/ACK is lost, the initial window
    // used by a sender after a correctly transmitted SYN MUST be one
    // segment". The SYN-ACK timed out (`retries > 0`); unless the ACK's
    // TSecr echoes the TSval of the first SYN-ACK -- then that one arrived
    // and the timeout was spurious (Linux tcp_try_undo_spurious_syn) -- the
    // first flight is one segment. (Linux tcp_init_transfer cuts cwnd to 1
    // only after two or more SYN-ACK retransmissions, in view of the 1 s
    // initial RTO; the RFC's MUST has no such allowance and is followed.)
    if tcb.rtx.retries > 0 {
        let first_tsval = tcb.ts.map(|ts| ts_now(&ts, tcb.rtx.sent_at));
        let echo = seg.options.timestamps.map(|t| t.tsecr);
        let spurious = first_tsval.is_some() && first_tsval == echo;
        if !spurious {
            snd.cc.cwnd = send::smss(&snd, &tcb);
        }
    }
    if let Some(sample) = send::ts_rtt_sample(&tcb, seg, now) {
        send::rtt_update(&mut tcb.rtx, sample, cfg);
    } else if tcb.rtx.retries == 0 && dup_syn_answered.is_none() && tcb.rtx.sent_at != now {
        rtt_sample(&mut tcb.rtx, now, cfg);
    } else if tcb.rtx.retries > 0 && tcb.rtx.rtt.is_none() {
        // RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN
        // segment and the TCP implementation is using an RTO less than 3
        // seconds, the RTO MUST be re-initialized to 3 seconds when data
        // transmission begins" (Linux tcp_init_metrics:
        // TCP_TIMEOUT_FALLBACK).
        tcb.rtx.rto = tcb.rtx.rto.max(Duration::from_secs(3)).min(cfg.rto_max);
    }
    tcb.rtx.deadline = None;
    tcb.rtx.retries = 0;
    tcb.rtx.backoff = 0;
    snd.una = ack;
    // "...and continue processing with the variables below set to:
    // SND.WND <- SEG.WND, SND.WL1 <- SEG.SEQ, SND.WL2 <- SEG.ACK"
    snd.wnd = u32::from(seg.window_len) << snd.wscale;
    snd.max_wnd = snd.max_wnd.max(snd.wnd);
    snd.wl1 = seg.seq_number;
    snd.wl2 = ack;
    t.event(Event::Established);
    let est = Open { tcb, snd, rcv };
    // The rest of the segment (text, FIN) as in ESTABLISHED.
    let mut t = t;
    after_ack(OpenKind::Established, est, false, seg, now, cfg, rx, &mut t);
    if close_queued {
        // RFC 9293 §3.10.4: the CLOSE queued in SYN-RECEIVED is processed
        // now that the connection is ESTABLISHED (or CLOSE-WAIT, if this
        // segment carried the peer's FIN); `poll_transmit` sends the FIN.
        let c = t.state.close(now, cfg);
        t.state = c.state;
    }
    t
}

#[inline]
fn open<'a>(
    kind: OpenKind,
    mut s: Open,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    let wrap = |k: OpenKind, s: Open| match k {
        OpenKind::Established => State::Established(s),
        OpenKind::FinWait1 => State::FinWait1(s),
    };
    // The state goes into the transition once, at the end of each path.
    let mut t = Transition::new(State::Closed(CloseReason::Normal));
    let snd_nxt = s.snd.nxt;
    if let Err(why) = front_checks(&mut s.tcb, snd_nxt, &mut s.rcv, rx, seg, now, cfg, &mut t) {
        // RFC 9293 §3.10.7.4: "If the RCV.WND is zero, no segments will be
        // acceptable, but special allowance should be made to accept valid
        // ACKs". A segment at RCV.NXT refused only for our zero window still
        // carries the peer's ACK and window: without them a sender whose
        // own buffer is full (an echo) and a peer that keeps sending data
        // would wait on each other for ever.
        let wnd = s.rcv.adv_right.max(s.rcv.read + s.rcv.cap) - s.rcv.nxt;
        if why == SegmentDrop::OutOfWindow
            && wnd == 0
            && seg.seq_number == s.rcv.nxt
            && matches!(seg.control, TcpControl::None | TcpControl::Fin)
        {
            let _ = check_ack(&mut s.snd, &mut s.tcb, seg, now, cfg);
        }
        t.state = wrap(kind, s);
        return t.drop_seg(why);
    }
    if seg.control == TcpControl::Rst {
        t.state = close_reason_rst(&mut t);
        return t;
    }
    match check_ack(&mut s.snd, &mut s.tcb, seg, now, cfg) {
        AckCheck::ChallengeAndDrop => {
            // RFC 5961 §5.2 / RFC 9293: an ACK for something not yet sent is
            // answered with an ACK and dropped; a segment without ACK is
            // dropped silently.
            if seg.ack_number.is_some() && challenge_allowed(&mut s.tcb, now, cfg) {
                let r = make_ack(&mut s.tcb, snd_nxt, &mut s.rcv, rx, now);
                t.reply(r);
            }
            t.state = wrap(kind, s);
            t.drop_seg(SegmentDrop::BadAck)
        }
        AckCheck::Ok { fin_acked } => {
            after_ack(kind, s, fin_acked, seg, now, cfg, rx, &mut t);
            t
        }
    }
}

/// Steps six to eight (URG, text, FIN) for ESTABLISHED and FIN-WAIT-1/2,
/// after the ACK was taken. `fin_acked`: in FIN-WAIT-1, our FIN is now
/// acknowledged (enter FIN-WAIT-2).
#[allow(clippy::too_many_arguments)]
#[inline]
fn after_ack<'a>(
    kind: OpenKind,
    mut s: Open,
    fin_acked: bool,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
    t: &mut Transition<'a>,
) {
    update_ts_recent(&mut s.tcb, seg, now);
    // Sixth: URG. RFC 6093: urgent data is delivered in line; nothing to do.
    // Seventh and eighth: text and FIN.
    let text = take_text(&mut s.rcv, rx, seg, t);
    if text.dropped > 0 && t.dropped.is_none() && t.data.is_empty() && t.buffered == 0 {
        t.dropped = Some(SegmentDrop::NoBuffer);
    }
    let snd_nxt = s.snd.nxt;
    if text.fin {
        t.event(Event::PeerClosed);
        let Open {
            mut tcb,
            snd,
            mut rcv,
        } = s;
        let window = advertise(&mut rcv);
        let closed = RecvClosed {
            nxt: rcv.nxt,
            window,
            read: rcv.read,
            right: rcv.adv_right.max(rcv.nxt),
        };
        match (kind, fin_acked) {
            (OpenKind::Established, _) => {
                let mut hc = HalfClosed {
                    tcb,
                    snd,
                    rcv: closed,
                };
                // The endpoint closes our side once the application has
                // read everything (`Config::close_on_peer_fin`); its FIN
                // then replaces this ACK.
                let r = make_ack_closed(&mut hc.tcb, snd_nxt, &closed, now);
                t.reply(r);
                t.state = State::CloseWait(hc);
            }
            (OpenKind::FinWait1, false) => {
                // "If our FIN has not been ACKed, enter CLOSING."
                let mut hc = HalfClosed {
                    tcb,
                    snd,
                    rcv: closed,
                };
                let r = make_ack_closed(&mut hc.tcb, snd_nxt, &closed, now);
                t.reply(r);
                t.state = State::Closing(hc);
            }
            (OpenKind::FinWait1, true) => {
                // "If our FIN has been ACKed (perhaps in this segment), then
                // enter TIME-WAIT, start the time-wait timer".
                let r = make_ack_closed(&mut tcb, snd_nxt, &closed, now);
                t.reply(r);
                t.state = State::TimeWait(TimeWait {
                    ts: tcb.ts,
                    snd_nxt,
                    rcv: closed,
                    expires: now + cfg.time_wait,
                    challenge: (now, 0),
                });
            }
        }
        return;
    }
    ack_policy(
        &mut s.tcb,
        snd_nxt,
        &mut s.rcv,
        rx,
        text.ack_now,
        now,
        cfg,
        t,
    );
    t.state = match (kind, fin_acked) {
        (OpenKind::Established, _) => State::Established(s),
        (OpenKind::FinWait1, false) => State::FinWait1(s),
        (OpenKind::FinWait1, true) => {
            let Open { tcb, snd, rcv } = s;
            State::FinWait2(FinWait2 {
                tcb,
                snd,
                rcv,
                deadline: now + cfg.fin_wait2_timeout,
            })
        }
    };
}

#[inline]
fn fin_wait2<'a>(
    s: FinWait2,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
    rx: &mut RecvBuffer<'_>,
) -> Transition<'a> {
    let FinWait2 {
        tcb,
        snd,
        rcv,
        deadline,
    } = s;
    // FIN-WAIT-2 takes segments as FIN-WAIT-1 whose FIN is acknowledged:
    // text is still received; the peer's FIN leads to TIME-WAIT.
    let mut t = open(
        OpenKind::FinWait1,
        Open { tcb, snd, rcv },
        seg,
        now,
        cfg,
        rx,
    );
    // The application only half-closed: it still receives, and RFC 9293
    // (§3.10.7.4, FIN-WAIT-2: "process the segment text") sets no limit
    // on how long the peer may keep sending. The timeout is for a peer
    // that went quiet, so every acceptable segment (one that passed the
    // sequence, RST, SYN and ACK checks; data that found no buffer
    // space still shows the peer alive) restarts it. Linux's
    // tcp_fin_timeout applies only to orphaned sockets (closed by the
    // application, which then reads nothing: Linux resets on data
    // arriving there); a socket the application only shut down for
    // writing waits in FIN-WAIT-2 with no limit. Ours keeps reading, so
    // it waits as long as data flows and `fin_wait2_timeout` after the
    // last segment.
    let deadline = match t.dropped {
        None | Some(SegmentDrop::NoBuffer) => now + cfg.fin_wait2_timeout,
        Some(_) => deadline,
    };
    if let State::FinWait1(o) = t.state {
        // The FIN was acknowledged before; stay in FIN-WAIT-2.
        let Open { tcb, snd, rcv } = o;
        t.state = State::FinWait2(FinWait2 {
            tcb,
            snd,
            rcv,
            deadline,
        });
    } else if let State::FinWait2(mut f) = t.state {
        f.deadline = deadline;
        t.state = State::FinWait2(f);
    } else if let State::Closing(hc) = t.state {
        // Our FIN was acknowledged already: the peer's FIN means TIME-WAIT.
        t.state = State::TimeWait(TimeWait {
            ts: hc.tcb.ts,
            snd_nxt: hc.snd.nxt,
            rcv: hc.rcv,
            expires: now + cfg.time_wait,
            challenge: (now, 0),
        });
    }
    t
}

/// RFC 5961 §3.2 after the peer's FIN (CLOSE-WAIT, CLOSING, LAST-ACK,
/// TIME-WAIT): `Ok` for a RST exactly at RCV.NXT, which resets;
/// `Err(RstNotExact)` for one elsewhere in the window last advertised,
/// which gets a challenge ACK (within the rate limit of §7);
/// `Err(OutOfWindow)` for one outside it, dropped silently.
fn rst_check(rcv: &RecvClosed, seg: &TcpRepr<'_>) -> Result<(), SegmentDrop> {
    if seg.seq_number == rcv.nxt {
        Ok(())
    } else if seg.seq_number.in_window(rcv.nxt, rcv.right) {
        Err(SegmentDrop::RstNotExact)
    } else {
        Err(SegmentDrop::OutOfWindow)
    }
}

fn half_closed<'a>(
    kind: HalfKind,
    mut s: HalfClosed,
    seg: &TcpRepr<'a>,
    now: Instant,
    cfg: &Config,
) -> Transition<'a> {
    let mut t = Transition::new(half_state(kind, s));
    let snd_nxt = s.snd.nxt;
    if paws_rejects(&s.tcb, seg, now) {
        if dup_ack_allowed(&mut s.tcb, seg, now, cfg) {
            let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        t.state = half_state(kind, s);
        return t.drop_seg(SegmentDrop::Paws);
    }
    if seg.control == TcpControl::Rst {
        // RFC 5961 §3.2 holds in every synchronized state: a RST at
        // RCV.NXT resets; one elsewhere in the window we advertised gets a
        // challenge ACK; one outside it is dropped silently (Linux
        // tcp_validate_incoming, which CLOSE-WAIT, CLOSING and LAST-ACK go
        // through as ESTABLISHED does).
        return match rst_check(&s.rcv, seg) {
            Ok(()) => {
                // "CLOSING, LAST-ACK, TIME-WAIT: If the RST bit is set,
                // then enter the CLOSED state"; CLOSE-WAIT: "any
                // outstanding RECEIVEs and SEND should receive 'reset'".
                t.state = close_reason_rst(&mut t);
                t
            }
            Err(why) => {
                if why == SegmentDrop::RstNotExact && challenge_allowed(&mut s.tcb, now, cfg) {
                    let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
                    t.reply(r);
                }
                t.state = half_state(kind, s);
                t.drop_seg(why)
            }
        };
    }
    // The receive window after the peer's FIN: nothing more may come, so
    // only a zero-length segment at RCV.NXT is acceptable; a retransmitted
    // FIN (below RCV.NXT) is answered with an ACK.
    let seg_len = seg.segment_len() as u32;
    if seg.control != TcpControl::Syn && !acceptable(s.rcv.nxt, 0, seg.seq_number, seg_len) {
        // A retransmitted data or FIN segment always gets an ACK, a pure
        // ACK within the challenge-ACK rate limit.
        if dup_ack_allowed(&mut s.tcb, seg, now, cfg) {
            let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        t.state = half_state(kind, s);
        return t.drop_seg(SegmentDrop::OutOfWindow);
    }
    if seg.control == TcpControl::Syn {
        if challenge_allowed(&mut s.tcb, now, cfg) {
            let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        t.state = half_state(kind, s);
        return t.drop_seg(SegmentDrop::UnexpectedSyn);
    }
    match check_ack(&mut s.snd, &mut s.tcb, seg, now, cfg) {
        AckCheck::ChallengeAndDrop => {
            if seg.ack_number.is_some() && challenge_allowed(&mut s.tcb, now, cfg) {
                let r = make_ack_closed(&mut s.tcb, snd_nxt, &s.rcv, now);
                t.reply(r);
            }
            t.state = half_state(kind, s);
            t.drop_seg(SegmentDrop::BadAck)
        }
        AckCheck::Ok { fin_acked } => {
            // RFC 7323 §4.3: "If SEG.TSval >= TS.Recent and SEG.SEQ =<
            // Last.ACK.sent, then SEG.TSval is copied to TS.Recent" -- in
            // these states too, or our segments echo a stale TSval.
            update_ts_recent(&mut s.tcb, seg, now);
            t.state = match (kind, fin_acked) {
                // "LAST-ACK: The only thing that can arrive in this state is
                // an acknowledgment of our FIN. If our FIN is now
                // acknowledged, delete the TCB, enter the CLOSED state".
                (HalfKind::LastAck, true) => {
                    t.event(Event::Closed(CloseReason::Normal));
                    State::Closed(CloseReason::Normal)
                }
                // "CLOSING: if the ACK acknowledges our FIN, then enter the
                // TIME-WAIT state".
                (HalfKind::Closing, true) => State::TimeWait(TimeWait {
                    ts: s.tcb.ts,
                    snd_nxt: s.snd.nxt,
                    rcv: s.rcv,
                    expires: now + cfg.time_wait,
                    challenge: (now, 0),
                }),
                _ => half_state(kind, s),
            };
            t
        }
    }
}

fn half_closed_timeout(
    kind: HalfKind,
    mut s: HalfClosed,
    now: Instant,
    cfg: &Config,
) -> Transition<'static> {
    // RFC 8985 §7.2: a probe due no later than the RTO goes in its place.
    if s.snd
        .cc
        .pto
        .is_some_and(|p| now >= p && s.tcb.rtx.deadline.is_none_or(|d| p <= d))
    {
        send::on_pto(&mut s.snd, &mut s.tcb, now, cfg);
        return Transition::new(half_state(kind, s));
    }
    if s.tcb.rtx.deadline.is_none_or(|d| now < d) {
        return Transition::new(half_state(kind, s));
    }
    s.tcb.rtx.deadline = None;
    // Nothing in flight and no zero window to probe: the timer has nothing
    // to do. With data queued behind a zero window this is the persist
    // timer (RFC 9293 §3.8.6.1), which must send its probe here as in
    // ESTABLISHED (`open_timeout`): the application may still send after
    // the peer's FIN.
    let idle = s.snd.una == s.snd.max && !(s.snd.cc.persist && s.snd.una.before(s.snd.end));
    if idle {
        return Transition::new(half_state(kind, s));
    }
    if !send::on_rto(&mut s.snd, &mut s.tcb, now, cfg) {
        return give_up(&s.tcb, s.snd.nxt, s.rcv.nxt, now);
    }
    Transition::new(half_state(kind, s))
}

/// Timers of ESTABLISHED and FIN-WAIT-1: the delayed ACK, and the
/// retransmission or persist timer.
fn open_timeout(
    kind: OpenKind,
    mut s: Open,
    now: Instant,
    cfg: &Config,
    rx: &RecvBuffer<'_>,
) -> Transition<'static> {
    let wrap = |s: Open| match kind {
        OpenKind::Established => State::Established(s),
        OpenKind::FinWait1 => State::FinWait1(s),
    };
    let mut t = Transition::new(wrap(s));
    if s.rcv.ack_due.is_some_and(|d| now >= d) {
        let r = make_ack(&mut s.tcb, s.snd.nxt, &mut s.rcv, rx, now);
        t.reply(r);
    }
    // RFC 8985 §7.2: a probe due no later than the RTO goes in its place.
    if s.snd
        .cc
        .pto
        .is_some_and(|p| now >= p && s.tcb.rtx.deadline.is_none_or(|d| p <= d))
    {
        send::on_pto(&mut s.snd, &mut s.tcb, now, cfg);
    }
    if s.tcb.rtx.deadline.is_some_and(|d| now >= d) {
        s.tcb.rtx.deadline = None;
        let idle = s.snd.una == s.snd.max && !(s.snd.cc.persist && s.snd.una.before(s.snd.end));
        if !idle && !send::on_rto(&mut s.snd, &mut s.tcb, now, cfg) {
            return give_up(&s.tcb, s.snd.nxt, s.rcv.nxt, now);
        }
    }
    t.state = wrap(s);
    t
}

fn time_wait<'a>(mut s: TimeWait, seg: &TcpRepr<'a>, now: Instant, cfg: &Config) -> Transition<'a> {
    let mut t = Transition::new(State::TimeWait(s));
    // What TIME-WAIT keeps of a TCB, for the helpers: TS.Recent, the
    // challenge-ACK budget, Last.ACK.sent (RCV.NXT: every ACK we sent here
    // acknowledged the peer's FIN).
    let mut tcb = Tcb {
        ts: s.ts,
        sack: false,
        last_ack_sent: s.rcv.nxt,
        challenge: s.challenge,
        rtx: Rtx {
            rtt: None,
            rto: cfg.rto_initial,
            retries: 0,
            backoff: 0,
            sent_at: now,
            deadline: None,
        },
    };
    if seg.control == TcpControl::Rst {
        // RFC 9293: "If the RST bit is set, then enter the CLOSED state";
        // RFC 5961 §3.2 narrows that to a RST exactly at RCV.NXT, and has
        // one elsewhere in the window answered with a challenge ACK, in
        // every synchronized state. (RFC 1337 warns against TIME-WAIT
        // assassination; an exact RST is accepted here as the RFC says, as
        // Linux does with tcp_rfc1337 = 0. Linux's
        // tcp_timewait_state_process drops an inexact RST silently; RFC
        // 5961's MUST is followed instead -- the ACK is rate-limited and
        // costs the peer nothing.)
        match rst_check(&s.rcv, seg) {
            Ok(()) => {
                t.event(Event::Closed(CloseReason::Reset));
                t.state = State::Closed(CloseReason::Reset);
                return t;
            }
            Err(why) => {
                if why == SegmentDrop::RstNotExact && challenge_allowed(&mut tcb, now, cfg) {
                    let r = make_ack_closed(&mut tcb, s.snd_nxt, &s.rcv, now);
                    t.reply(r);
                }
                s.challenge = tcb.challenge;
                t.state = State::TimeWait(s);
                return t.drop_seg(why);
            }
        }
    }
    if seg.control == TcpControl::Syn && seg.ack_number.is_none() {
        // RFC 9293 §3.10.7.4 allows, and RFC 1122 4.2.2.13 and RFC 6191 §2
        // say how: a new SYN may end TIME-WAIT and open a new incarnation
        // when it cannot be an old duplicate, that is when its sequence
        // number is above the last RCV.NXT, or, if the old incarnation used
        // timestamps, when its TSval is newer than TS.Recent. As Linux
        // `tcp_timewait_state_process` decides it: a SYN that fails PAWS
        // (RFC 7323 §5) is refused whatever its sequence number; otherwise
        // `after(seq, rcv_nxt)` or a TSval newer than TS.Recent accepts it.
        let seq_newer = s.rcv.nxt.before(seg.seq_number);
        let (paws_reject, ts_newer) = match (s.ts, seg.options.timestamps) {
            (Some(ts), Some(seg_ts)) => {
                let d = seg_ts.tsval.wrapping_sub(ts.recent) as i32;
                (
                    d < 0 && now.saturating_since(ts.recent_at) < PAWS_IDLE,
                    d > 0,
                )
            }
            _ => (false, false),
        };
        if !paws_reject && (seq_newer || ts_newer) {
            // RFC 6191 §2 / RFC 1122 4.2.2.13: the new ISS must be above
            // every sequence number of the old incarnation; Linux takes
            // SND.NXT + 65535 + 2 (`tcp_timewait_state_process`).
            t.reopen = Some(s.snd_nxt + 65537u32);
            return t;
        }
    }
    // RFC 7323 §5.3 R1 (PAWS), in TIME-WAIT too (Linux
    // tcp_timewait_state_process: `paws_reject`): a segment with a TSval
    // older than TS.Recent is an old duplicate; it is acknowledged, within
    // the challenge-ACK budget, and dropped -- it neither updates TS.Recent
    // nor restarts the timer.
    if paws_rejects(&tcb, seg, now) {
        if challenge_allowed(&mut tcb, now, cfg) {
            let r = make_ack_closed(&mut tcb, s.snd_nxt, &s.rcv, now);
            t.reply(r);
        }
        s.challenge = tcb.challenge;
        t.state = State::TimeWait(s);
        return t.drop_seg(SegmentDrop::Paws);
    }
    // The acceptable segments: a bare ACK at RCV.NXT, and a retransmission
    // of the peer's FIN (ending at RCV.NXT). RFC 7323 §4.3: "If SEG.TSval
    // >= TS.Recent and SEG.SEQ =< Last.ACK.sent, then SEG.TSval is copied
    // to TS.Recent" (Linux `tw_ts_recent`), so that our ACK echoes the
    // newest TSval.
    let bare_ack =
        seg.control == TcpControl::None && seg.payload.is_empty() && seg.seq_number == s.rcv.nxt;
    let fin_again = seg.control == TcpControl::Fin
        && seg.seq_number + seg.payload.len() as u32 + 1 == s.rcv.nxt;
    if bare_ack || fin_again {
        update_ts_recent(&mut tcb, seg, now);
        s.ts = tcb.ts;
    }
    // "The only thing that can arrive in this state is a retransmission of
    // the remote FIN. Acknowledge it, and restart the 2 MSL timeout." Any
    // other segment is answered with an ACK as well (RFC 9293's
    // unacceptable-segment rule; RFC 5961 §4 for a SYN) -- except a bare ACK
    // at RCV.NXT: it is acceptable (zero length at RCV.NXT with a zero
    // window) and carries nothing to acknowledge, so answering it would be
    // an ACK for an ACK (Linux's tcp_timewait_state_process drops it too).
    if bare_ack {
        t.state = State::TimeWait(s);
        return t;
    }
    if seg.control == TcpControl::Fin {
        s.expires = now + cfg.time_wait;
    }
    // RFC 5961 §7: every ACK TIME-WAIT sends -- for a retransmitted FIN
    // too -- comes out of the challenge-ACK budget (Linux
    // tcp_timewait_check_oow_rate_limit). Linux's tcp_oow_rate_limited
    // exempts segments that occupy sequence space, FINs included; here,
    // where the connection is over, nothing legitimate arrives faster than
    // the peer's backed-off FIN retransmissions, far below the budget,
    // while forged FINs at any sequence number would otherwise each draw
    // an ACK.
    if challenge_allowed(&mut tcb, now, cfg) {
        let r = make_ack_closed(&mut tcb, s.snd_nxt, &s.rcv, now);
        t.reply(r);
    }
    s.challenge = tcb.challenge;
    t.state = State::TimeWait(s);
    t
}

#[cfg(test)]
mod tests;
