//! Timers (RFC 9293 §3.8): the SYN (RFC 6298 §5.5 back-off, given up after
//! `Config::syn_retries`), SYN-ACK and data retransmission timers (RFC
//! 6298 §5), tail loss probes (RFC 8985 §7.2), the persist timer (RFC 9293
//! §3.8.6.1), the delayed ACK (RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2), the
//! FIN-WAIT-2 timeout and the TIME-WAIT timer (RFC 9293 §3.10.8);
//! [`State::poll_timeout`] is the earliest of them, [`State::on_timeout`]
//! runs what is due.

use crate::conn::arrive::syn_received::syn_ack;
use crate::conn::arrive::syn_sent::syn_sent_timeout;
use crate::conn::close::give_up;
use crate::conn::recv::ack::make_ack;
use crate::conn::state::{half_state, HalfKind, OpenKind};
use crate::conn::{
    send, CloseReason, Config, Event, HalfClosed, Open, RecvBuffer, State, Transition,
};
use crate::time::Instant;

impl State {
    /// The earliest instant at which [`State::on_timeout`] has work to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self {
            State::SynSent(s) => s.rtx.deadline,
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
            State::SynSent(s) => syn_sent_timeout(s, now, cfg),
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
}

pub(crate) fn min_opt(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

pub(crate) fn half_closed_timeout(
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
pub(crate) fn open_timeout(
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
