//! A connection's state (RFC 9293 §3.3.2): the enum [`State`] of per-state
//! structs, each holding only the fields valid in that state, and the
//! pieces they share: the TCB's options and bookkeeping ([`Tcb`], RFC 7323
//! timestamps [`TsState`], the RFC 6298 timer [`Rtx`]), the send half (RFC
//! 9293 §3.3.1 send sequence variables, [`SendHalf`]) and the receive half
//! ([`RecvHalf`], and [`RecvClosed`] after the peer's FIN).
//!
//! The fields are `pub(crate)`: only the transitions make and change a
//! state, so an embedder cannot build an impossible one. They are read
//! through accessors named after them (`access.rs`) and through the
//! [`State`] methods below.

use crate::conn::ecn::EcnState;
use crate::conn::icmp_err::IcmpError;
use crate::conn::keepalive::ConnOptions;
use crate::conn::recv::ack::AckOwed;
use crate::conn::recv::quickack::QuickAck;
use crate::conn::send::WriteEnds;
use crate::conn::{CloseReason, Config, Congestion, StateName, TimerTable};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};
use crate::wire::Timestamps;

/// Timestamp state when RFC 7323 timestamps were negotiated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsState {
    /// TS.Recent: the peer's timestamp to echo.
    pub(crate) recent: u32,
    /// When TS.Recent was last updated (for the 24-day PAWS idle rule).
    pub(crate) recent_at: Instant,
    /// Added to our millisecond clock so that TSval does not reveal uptime.
    pub(crate) offset: u32,
}

/// Options and bookkeeping common to every synchronized state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcb {
    /// Timestamps, if negotiated.
    pub(crate) ts: Option<TsState>,
    /// SACK was negotiated.
    pub(crate) sack: bool,
    /// Last.ACK.sent (RFC 7323 §4.3).
    pub(crate) last_ack_sent: SeqNum,
    /// Start of the current challenge-ACK second, and how many were sent in it.
    pub(crate) challenge: (Instant, u8),
    /// RFC 6298 state of the retransmission timer (SYN-ACK, data, FIN).
    pub(crate) rtx: Rtx,
    /// The connection's timers.
    pub(crate) timers: TimerTable,
    /// An ACK owed and not sent yet.
    pub(crate) ack_owed: AckOwed,
    /// Keep-alive probes sent without an answer (Linux `icsk_probes_out`
    /// for keep-alive; `keepalive.rs`).
    pub(crate) ka_probes: u8,
    /// Keep-alive and user timeout of this connection (`keepalive.rs`).
    pub(crate) opts: ConnOptions,
    /// ECN (RFC 3168): negotiated, and the ECE and CWR owed (`ecn.rs`).
    pub(crate) ecn: EcnState,
    /// The last ICMP error quoting data in flight, reported if the
    /// connection times out (Linux `sk_err_soft`; `icmp_err.rs`).
    pub(crate) soft_err: Option<IcmpError>,
}

impl Tcb {
    /// A fresh TCB: no RTT sample yet (RFC 6298 §2.1: the initial RTO),
    /// no timer armed, no ACK owed, a full challenge-ACK budget from `now`,
    /// ECN off.
    pub(crate) fn new(
        ts: Option<TsState>,
        sack: bool,
        last_ack_sent: SeqNum,
        now: Instant,
        cfg: &Config,
    ) -> Tcb {
        Tcb {
            ts,
            sack,
            last_ack_sent,
            challenge: (now, 0),
            rtx: Rtx::new(now, cfg),
            timers: TimerTable::new(),
            ack_owed: AckOwed::No,
            ka_probes: 0,
            opts: ConnOptions::new(cfg),
            ecn: EcnState::OFF,
            soft_err: None,
        }
    }
}

impl Rtx {
    /// Before any RTT sample: the initial RTO, nothing retried.
    pub(crate) fn new(now: Instant, cfg: &Config) -> Rtx {
        Rtx {
            rtt: None,
            rto: cfg.rto_initial,
            retries: 0,
            backoff: 0,
            sent_at: now,
            stall: now,
        }
    }
}

/// RFC 6298 retransmission-timer state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rtx {
    /// SRTT and RTTVAR in microseconds, once a sample was taken.
    pub(crate) rtt: Option<(u64, u64)>,
    /// The current RTO (before backoff).
    pub(crate) rto: Duration,
    /// Retransmission timeouts (or unanswered zero-window probes) in a row
    /// without forward progress; the connection gives up at
    /// `Config::max_retries` (Linux `icsk_retransmits`, `icsk_probes_out`).
    pub(crate) retries: u8,
    /// RFC 6298 §5.5: how many times the RTO has doubled since the last
    /// valid RTT sample (Linux `icsk_backoff`). Karn: only a new sample
    /// collapses it, not the ACK of retransmitted data.
    pub(crate) backoff: u8,
    /// When the segment in flight was first sent (Karn: only a segment never
    /// retransmitted gives a sample).
    pub(crate) sent_at: Instant,
    /// While `retries > 0`: since when the data in flight has gone
    /// unacknowledged (the first timeout less the RTO that ran out), or the
    /// first unanswered zero-window probe went out, for
    /// [`Config::user_timeout`] (Linux `retrans_stamp`,
    /// `icsk_probes_tstamp`).
    pub(crate) stall: Instant,
}

/// The send half: RFC 9293 §3.3.1 send sequence variables.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SendHalf {
    /// ISS.
    pub(crate) iss: SeqNum,
    /// SND.UNA.
    pub(crate) una: SeqNum,
    /// SND.NXT.
    pub(crate) nxt: SeqNum,
    /// SND.WND, in bytes (already scaled).
    pub(crate) wnd: u32,
    /// The largest window the peer has offered (RFC 5961 §5.2 MAX.SND.WND).
    pub(crate) max_wnd: u32,
    /// SND.WL1.
    pub(crate) wl1: SeqNum,
    /// SND.WL2.
    pub(crate) wl2: SeqNum,
    /// The peer's window shift (Snd.Wind.Shift).
    pub(crate) wscale: u8,
    /// The effective send MSS (RFC 9293 §3.7.1): the peer's MSS clamped to
    /// what our link carries, see [`effective_send_mss`](crate::conn::effective_send_mss).
    pub(crate) mss: u16,
    /// The size of the send buffer (0: this connection sends no data).
    pub(crate) buf: u32,
    /// SND.MAX: the highest sequence number sent so far (SND.NXT goes back
    /// to SND.UNA after a retransmission timeout).
    pub(crate) max: SeqNum,
    /// The end of the data the application queued: the send buffer holds
    /// `[SND.UNA, end)`.
    pub(crate) end: SeqNum,
    /// The application closed: our FIN follows the byte before `end`.
    pub(crate) fin: bool,
    /// Where the latest writes end: the segments that carry PSH.
    pub(crate) writes: WriteEnds,
    /// Congestion control and loss recovery.
    pub(crate) cc: Congestion,
}

/// The receive half while data may still arrive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvHalf {
    /// IRS.
    pub(crate) irs: SeqNum,
    /// RCV.NXT.
    pub(crate) nxt: SeqNum,
    /// The first byte the application has not consumed yet; the receive
    /// buffer covers `[read, read + N)`.
    pub(crate) read: SeqNum,
    /// Our window shift (Rcv.Wind.Shift).
    pub(crate) wscale: u8,
    /// The size of the receive buffer (a power of two).
    pub(crate) cap: u32,
    /// The right edge of the window we last advertised (never moves left,
    /// RFC 9293 §3.8.6).
    pub(crate) adv_right: SeqNum,
    /// In-order bytes received since we last sent an ACK (the delayed ACK
    /// is [`Timer::DelayedAck`](crate::conn::Timer::DelayedAck)).
    pub(crate) unacked: u32,
    /// The sequence number of the peer's FIN, seen while a gap was open.
    pub(crate) fin: Option<SeqNum>,
    /// When to ACK: the peer's measured segment size and the quick-ACK
    /// count (Linux `icsk_ack`; `recv/quickack.rs`).
    pub(crate) ackq: QuickAck,
    /// A D-SACK block (RFC 2883) for the next ACK (`recv/dsack.rs`).
    pub(crate) dsack: Option<(SeqNum, SeqNum)>,
}

/// The receive half after the peer's FIN: only what is needed to ACK, and
/// where the application is in reading what came before the FIN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RecvClosed {
    /// RCV.NXT (one past the peer's FIN).
    pub(crate) nxt: SeqNum,
    /// The window field we advertise, already scaled.
    pub(crate) window: u16,
    /// The first byte the application has not consumed yet (`nxt - 1` once
    /// everything before the FIN is read).
    pub(crate) read: SeqNum,
    /// The right edge of the receive window last advertised (at least
    /// `nxt`): a RST between `nxt` and here is in the window (RFC 5961
    /// §3.2) and gets a challenge ACK.
    pub(crate) right: SeqNum,
}

/// SYN-SENT (active open): our SYN is out, nothing of the peer's known
/// yet but its address. Only what the SYN offered and the timer are kept;
/// the send and receive halves are made when the peer's SYN arrives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynSent {
    /// ISS.
    pub(crate) iss: SeqNum,
    /// Our timestamp clock's offset, when the SYN offered timestamps.
    pub(crate) ts_offset: Option<u32>,
    /// Our window shift, when the SYN offered window scaling.
    pub(crate) wscale: Option<u8>,
    /// The SYN offered SACK.
    pub(crate) sack: bool,
    /// The size of the receive buffer (a power of two).
    pub(crate) rcv_cap: u32,
    /// The size of the send buffer (0: this connection sends no data).
    pub(crate) snd_buf: u32,
    /// The SYN's retransmission timer (RFC 6298 §5); `retries` counts the
    /// SYN's retransmissions.
    pub(crate) rtx: Rtx,
    /// The connection's timers (only [`Timer::Retransmit`](crate::conn::Timer::Retransmit) runs here).
    pub(crate) timers: TimerTable,
    /// Keep-alive and user timeout, for the TCB (`keepalive.rs`).
    pub(crate) opts: ConnOptions,
    /// The SYN asked for ECN (RFC 3168 §6.1.1, [`Ecn::On`](crate::conn::Ecn::On)).
    pub(crate) ecn: bool,
}

/// SYN-RECEIVED: our SYN-ACK is out, the peer's ACK not yet in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynReceived {
    /// Common state.
    pub(crate) tcb: Tcb,
    /// Send half.
    pub(crate) snd: SendHalf,
    /// Receive half.
    pub(crate) rcv: RecvHalf,
    /// Window scaling was negotiated (both SYNs carry the option).
    pub(crate) window_scaling: bool,
    /// When a retransmitted SYN was last answered (for the debounce of
    /// further duplicates); `None` until the first one. The SYN-ACKs sent by
    /// [`State::accept`] and by the retransmission timer do not count.
    pub(crate) dup_syn_answered: Option<Instant>,
    /// The application closed in SYN-RECEIVED: our FIN follows as soon as
    /// the handshake completes (RFC 9293 §3.10.4).
    pub(crate) close_queued: bool,
    /// Entered from SYN-SENT (a simultaneous open, RFC 9293 §3.5 figure
    /// 7): the peer's SYN-ACK then completes the handshake.
    pub(crate) simultaneous: bool,
}

/// A state in which both halves are open or ours is closing: ESTABLISHED,
/// FIN-WAIT-1, FIN-WAIT-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Open {
    /// Common state.
    pub(crate) tcb: Tcb,
    /// Send half.
    pub(crate) snd: SendHalf,
    /// Receive half.
    pub(crate) rcv: RecvHalf,
}

/// FIN-WAIT-2: our FIN is acknowledged; waiting for the peer's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FinWait2 {
    /// Common state.
    pub(crate) tcb: Tcb,
    /// Send half.
    pub(crate) snd: SendHalf,
    /// Receive half. When to give up waiting is [`Timer::FinWait2`](crate::conn::Timer::FinWait2).
    pub(crate) rcv: RecvHalf,
}

/// A state after the peer's FIN: CLOSE-WAIT, CLOSING, LAST-ACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HalfClosed {
    /// Common state.
    pub(crate) tcb: Tcb,
    /// Send half.
    pub(crate) snd: SendHalf,
    /// What is left of the receive half.
    pub(crate) rcv: RecvClosed,
}

/// TIME-WAIT: both FINs done; a retransmitted FIN is acknowledged again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWait {
    /// Timestamps, to answer with.
    pub(crate) ts: Option<TsState>,
    /// SND.NXT.
    pub(crate) snd_nxt: SeqNum,
    /// What is left of the receive half.
    pub(crate) rcv: RecvClosed,
    /// When TIME-WAIT ends: [`Timer::TimeWait`](crate::conn::Timer::TimeWait).
    pub(crate) timers: TimerTable,
    /// The challenge-ACK rate limit's second and count (RFC 5961 §7).
    pub(crate) challenge: (Instant, u8),
}

/// A connection's state (RFC 9293 §3.3.2). LISTEN lives in the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// SYN-SENT.
    SynSent(SynSent),
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

impl State {
    /// This state's name.
    pub const fn name(&self) -> StateName {
        match self {
            State::SynSent(_) => StateName::SynSent,
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
            State::SynSent(_) | State::Closed(_) => None,
        }
    }

    /// SND.UNA, where the state has a send half (TIME-WAIT: SND.NXT, all of
    /// it acknowledged).
    pub fn snd_una(&self) -> Option<SeqNum> {
        match self {
            State::SynReceived(s) => Some(s.snd.una),
            State::Established(s) | State::FinWait1(s) => Some(s.snd.una),
            State::FinWait2(s) => Some(s.snd.una),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => Some(s.snd.una),
            State::TimeWait(s) => Some(s.snd_nxt),
            State::SynSent(s) => Some(s.iss),
            State::Closed(_) => None,
        }
    }

    /// SND.WND, the peer's window in bytes (scaled), where the state has a
    /// send half.
    pub fn snd_wnd(&self) -> Option<u32> {
        match self {
            State::SynReceived(s) => Some(s.snd.wnd),
            State::Established(s) | State::FinWait1(s) => Some(s.snd.wnd),
            State::FinWait2(s) => Some(s.snd.wnd),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => Some(s.snd.wnd),
            _ => None,
        }
    }

    /// TS.Recent (RFC 7323 §4.3), when timestamps are in use.
    pub fn ts_recent(&self) -> Option<u32> {
        let ts = match self {
            State::SynReceived(s) => s.tcb.ts,
            State::Established(s) | State::FinWait1(s) => s.tcb.ts,
            State::FinWait2(s) => s.tcb.ts,
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => s.tcb.ts,
            State::TimeWait(s) => s.ts,
            State::SynSent(_) | State::Closed(_) => None,
        };
        ts.map(|t| t.recent)
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
            State::SynSent(_) | State::Closed(_) => None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpenKind {
    Established,
    FinWait1,
    /// FIN-WAIT-1 whose FIN was acknowledged.
    FinWait2,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum HalfKind {
    CloseWait,
    Closing,
    LastAck,
}

pub(crate) fn half_state(kind: HalfKind, s: HalfClosed) -> State {
    match kind {
        HalfKind::CloseWait => State::CloseWait(s),
        HalfKind::Closing => State::Closing(s),
        HalfKind::LastAck => State::LastAck(s),
    }
}

pub(crate) fn ts_now(ts: &TsState, now: Instant) -> u32 {
    (now.as_millis() as u32).wrapping_add(ts.offset)
}

/// RFC 7323 §3.2: segments carry TSval = our clock, TSecr = TS.Recent.
pub(crate) fn ts_option(ts: Option<TsState>, now: Instant) -> Option<Timestamps> {
    ts.map(|t| Timestamps {
        tsval: ts_now(&t, now),
        tsecr: t.recent,
    })
}
