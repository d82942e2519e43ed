//! The ACKs we send and the window in them: window advertisement (RFC 9293
//! §3.8.6, RFC 7323 §2.4), ACKs with timestamps (RFC 7323 §3.2) and SACK
//! blocks (RFC 2018 §4) and a D-SACK block (RFC 2883, `dsack.rs`), and the
//! ACK policy (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2: delayed ACKs, an ACK
//! for every second full-sized segment, quick ACKs: `quickack.rs`).

use crate::conn::ecn;
use crate::conn::recv::{dsack, sws};
use crate::conn::state::ts_option;
use crate::conn::Timer;
use crate::conn::{
    Config, RecvBuffer, RecvClosed, RecvHalf, RecvRanges, Reply, State, Tcb, Transition,
};
use crate::seq::SeqNum;
use crate::time::Instant;
use crate::wire::{SackBlocks, TcpControl, TcpOptions};

/// An ACK the connection owes the peer and has not sent yet. The
/// transition records it; [`State::poll_transmit`](crate::State::poll_transmit)
/// sends it after the connection's data (which carries the same ACK and
/// so makes it redundant, unless it also carries SACK blocks a data
/// segment has no room for), built then, with the window as it is after
/// the application read. The endpoint's ACK batching may hold an
/// [`AckOwed::Held`] one a little longer (see [`Config::ack_hold`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum AckOwed {
    /// Nothing owed.
    #[default]
    No,
    /// An ACK that only acknowledges new in-order data (no SACK blocks):
    /// it may wait for the end of a batch of frames.
    Held,
    /// An ACK that must go now: a duplicate ACK, one with SACK blocks, a
    /// challenge ACK, a window update, the ACK of a FIN.
    Now,
}

impl Tcb {
    /// Records an owed ACK; a stronger one replaces a weaker one.
    #[inline]
    pub(crate) fn owe(&mut self, a: AckOwed) {
        self.ack_owed = self.ack_owed.max(a);
    }
}

/// The window field to advertise; records the right edge it stands for.
///
/// The buffer covers `[read, read + cap)`, so the window is the free space
/// from RCV.NXT to `read + cap` (less, while that is too small to offer:
/// RFC 9293 §3.8.6.2.2, `sws.rs`), scaled down by our shift. RFC 9293 §3.8.6
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
/// edge, and the acceptability test (`first_sequence`) still accepts every
/// byte up to it, which the buffer has room for. (Linux's tcp_select_window
/// rounds the current window up instead, relying on the slack of its
/// socket memory accounting; this buffer has none.)
#[inline]
pub(crate) fn advertise(rcv: &mut RecvHalf) -> u16 {
    // RFC 9293 §3.8.6.2.2: no silly window (`sws.rs`).
    let free = sws::window(rcv);
    let field = (free >> rcv.wscale).min(0xffff);
    let right = rcv.nxt + (field << rcv.wscale);
    rcv.adv_right = rcv.adv_right.max(right);
    field as u16
}

/// An ACK for the current receive state, with timestamps and SACK blocks
/// when negotiated (RFC 2018 §4: the first block covers the segment that
/// triggered the ACK).
#[inline]
pub(crate) fn make_ack(
    tcb: &mut Tcb,
    snd_nxt: SeqNum,
    rcv: &mut RecvHalf,
    rx: &RecvRanges,
    now: Instant,
) -> Reply {
    let window = advertise(rcv);
    let mut options = TcpOptions {
        timestamps: ts_option(tcb.ts, now),
        ..TcpOptions::default()
    };
    if tcb.sack {
        // 40 option bytes: with timestamps (12) room for 3 blocks, else 4;
        // a pending D-SACK block first (RFC 2883 §4).
        let max = if tcb.ts.is_some() { 3 } else { 4 };
        options.sack_blocks = dsack::with_dsack(rcv, |n| rx.sack_blocks(n), max);
    }
    tcb.last_ack_sent = rcv.nxt;
    tcb.ack_owed = AckOwed::No;
    if rcv.unacked > 0 {
        // An ACK of new data (Linux `tcp_event_ack_sent`).
        rcv.ackq.sent();
    }
    rcv.unacked = 0;
    tcb.timers.clear(Timer::DelayedAck);
    // RFC 3168 §6.1.4: a pure ACK is Not-ECT; it carries ECE while owed.
    let (ece, _, _) = ecn::marks(tcb, false);
    Reply {
        seq: snd_nxt,
        len: 0,
        gso: 0,
        push: false,
        ack: Some(rcv.nxt),
        control: TcpControl::None,
        window,
        options,
        ece,
        cwr: false,
        ect: false,
    }
}

/// RFC 2018 §4: the SACK blocks for a segment we send, when SACK was
/// negotiated and `rx` holds out-of-order data; room for 3 blocks with
/// timestamps, else 4 (Linux `tcp_established_options` adds them to every
/// segment).
pub(crate) fn sack_for(tcb: &Tcb, rx: &RecvRanges) -> SackBlocks {
    if tcb.sack {
        rx.sack_blocks(if tcb.ts.is_some() { 3 } else { 4 })
    } else {
        SackBlocks::new()
    }
}

pub(crate) fn make_ack_closed(
    tcb: &mut Tcb,
    snd_nxt: SeqNum,
    rcv: &RecvClosed,
    now: Instant,
) -> Reply {
    tcb.last_ack_sent = rcv.nxt;
    tcb.ack_owed = AckOwed::No;
    let (ece, _, _) = ecn::marks(tcb, false);
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
        ece,
        cwr: false,
        ect: false,
    }
}

/// Acknowledge now or arm the delayed-ACK timer (RFC 9293 §3.8.6.3, RFC
/// 1122 §4.2.3.2): an ACK for at least every second full-sized segment, and
/// no later than `cfg.delayed_ack` (at most 200 ms).
#[inline]
pub(crate) fn ack_policy(
    tcb: &mut Tcb,
    rcv: &mut RecvHalf,
    rx: &RecvBuffer<'_>,
    ack_now: bool,
    now: Instant,
    cfg: &Config,
    t: &Transition<'_>,
) {
    // Linux `__tcp_ack_snd_check`: more than one full-sized segment (as
    // the peer sends them, measured, `recv/quickack.rs`) unacknowledged, or
    // quick-ACK mode.
    if ack_now || rcv.ackq.ack_now(rcv.unacked) {
        // One that only acknowledges in-order data (no SACK blocks to
        // report) may wait for the end of a batch of frames.
        let advanced = !t.data.is_empty() || t.buffered > 0;
        let sack = tcb.sack && !rx.ranges().is_empty();
        tcb.owe(if advanced && !sack {
            AckOwed::Held
        } else {
            AckOwed::Now
        });
    } else if rcv.unacked > 0 && tcb.timers.get(Timer::DelayedAck).is_none() {
        tcb.timers.set(Timer::DelayedAck, now + cfg.delayed_ack);
    }
}

impl State {
    /// The pure ACK the connection owes, built now, if any (the last
    /// transition or [`State::consume`] asked for one and no segment has
    /// carried it since). [`State::poll_transmit`] returns it after the
    /// data; this is for a caller that wants the ACK alone.
    pub fn poll_ack(&mut self, now: Instant, cfg: &Config, rx: &RecvRanges) -> Option<Reply> {
        poll_ack(self, now, cfg, rx, false)
    }
}

/// The ACK the connection owes ([`AckOwed`]), built now, if any: with
/// `hold`, one that only acknowledges in-order data waits while fewer than
/// [`Config::ack_hold_bytes`] bytes are unacknowledged, for at most
/// [`Config::ack_hold`] (the delayed-ACK timer sends it then).
pub(crate) fn poll_ack(
    state: &mut State,
    now: Instant,
    cfg: &Config,
    rx: &RecvRanges,
    hold: bool,
) -> Option<Reply> {
    let (tcb, snd_nxt, rcv) = match state {
        State::Established(s) | State::FinWait1(s) => (&mut s.tcb, s.snd.nxt, Ok(&mut s.rcv)),
        State::FinWait2(s) => (&mut s.tcb, s.snd.nxt, Ok(&mut s.rcv)),
        State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => {
            (&mut s.tcb, s.snd.nxt, Err(&s.rcv))
        }
        _ => return None,
    };
    // A pending D-SACK block (RFC 2883) goes at once, in a pure ACK: a
    // data segment that carried the ACK did not carry it.
    let owed = match &rcv {
        Ok(rcv) if rcv.dsack.is_some() => AckOwed::Now,
        _ => tcb.ack_owed,
    };
    match (owed, rcv) {
        (AckOwed::No, _) => None,
        (AckOwed::Held, Ok(rcv)) if hold && rcv.unacked < cfg.ack_hold_bytes => {
            let by = now + cfg.ack_hold;
            if tcb.timers.get(Timer::DelayedAck).is_none_or(|at| at > by) {
                tcb.timers.set(Timer::DelayedAck, by);
            }
            None
        }
        (_, Ok(rcv)) => Some(make_ack(tcb, snd_nxt, rcv, rx, now)),
        (_, Err(closed)) => Some(make_ack_closed(tcb, snd_nxt, closed, now)),
    }
}
