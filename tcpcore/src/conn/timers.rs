//! Timers (RFC 9293 §3.8): one [`Timer`] enum and a small table per
//! connection ([`TimerTable`]); [`State::poll_timeout`] is the earliest of the
//! timers the state runs (a `min` over the table), [`State::on_timeout`]
//! runs those that are due.
//!
//! | [`Timer`] | what | RFC |
//! |-----------|------|-----|
//! | `Retransmit` | the SYN (back-off, given up after `Config::syn_retries`), the SYN-ACK, data and FIN | RFC 6298 §5 |
//! | `Persist` | zero-window probes | RFC 9293 §3.8.6.1 |
//! | `SwsOverride` | the sender's silly-window override | RFC 9293 §3.8.6.2.1 |
//! | `TailLossProbe` | the probe timeout, never after the RTO | RFC 8985 §7.2 |
//! | `RackReorder` | RACK's reordering timer: segments sent before a delivered one, not yet past the reordering window | RFC 8985 §6.3 (Linux `tcp_rack_reo_timeout`) |
//! | `DelayedAck` | the delayed ACK | RFC 9293 §3.8.6.3, RFC 1122 §4.2.3.2 |
//! | `FinWait2` | the FIN-WAIT-2 timeout | (Linux `tcp_fin_timeout`) |
//! | `TimeWait` | 2 MSL in TIME-WAIT | RFC 9293 §3.10.8 |
//! | `KeepAlive` | keep-alive probes in ESTABLISHED and CLOSE-WAIT, off by default (`keepalive.rs`) | RFC 1122 §4.2.3.6 (Linux `tcp_keepalive_timer`) |
//! | `Pace` | the departure of a segment pacing held back, off by default (`send/pace.rs`) | (Linux `pacing_timer`) |
//!
//! `Retransmit`, `Persist` and `SwsOverride` share one slot (at most one of
//! them runs, [`TimerTable::rto`]): RFC 9293 §3.8.6.1's persist timer and the
//! override timer run only with nothing in flight, when the retransmission
//! timer does not.

use crate::conn::arrive::syn_received::syn_ack;
use crate::conn::arrive::syn_sent::syn_sent_timeout;
use crate::conn::close::give_up;
use crate::conn::keepalive::KeepAliveDue;
use crate::conn::recv::ack::make_ack;
use crate::conn::state::{half_state, HalfKind, OpenKind};
use crate::conn::{
    send, CloseReason, Config, Event, HalfClosed, Open, RecvBuffer, SendHalf, State, Transition,
};
use crate::time::Instant;

/// A connection's timers (RFC 9293 §3.8), one slot each in [`TimerTable`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Timer {
    /// RFC 6298 §5: the retransmission timer of the SYN, the SYN-ACK, data
    /// and the FIN.
    Retransmit,
    /// RFC 9293 §3.8.6.1: the persist timer (zero-window probes).
    Persist,
    /// RFC 9293 §3.8.6.2.1: the sender's silly-window override timer.
    SwsOverride,
    /// RFC 8985 §7.2: the tail-loss-probe timer (PTO).
    TailLossProbe,
    /// RFC 8985 §6.3: RACK's reordering timer.
    RackReorder,
    /// RFC 9293 §3.8.6.3: the delayed ACK.
    DelayedAck,
    /// The FIN-WAIT-2 timeout.
    FinWait2,
    /// RFC 9293 §3.10.8: the TIME-WAIT timer (2 MSL).
    TimeWait,
    /// RFC 1122 §4.2.3.6: the keep-alive timer ([`Config::keepalive`]).
    KeepAlive,
    /// Pacing ([`Config::pacing`]): a segment held back may leave.
    Pace,
}

impl Timer {
    /// Every timer, in table order.
    pub const ALL: [Timer; 10] = [
        Timer::Retransmit,
        Timer::Persist,
        Timer::SwsOverride,
        Timer::TailLossProbe,
        Timer::RackReorder,
        Timer::DelayedAck,
        Timer::FinWait2,
        Timer::TimeWait,
        Timer::KeepAlive,
        Timer::Pace,
    ];
    /// The timers that share the retransmission timer's slot.
    pub(crate) const RTO: [Timer; 3] = [Timer::Retransmit, Timer::Persist, Timer::SwsOverride];
}

/// The timers each state runs (others may hold a deadline, carried over
/// from the state before, that waits for a later state or is never run).
const SYN: &[Timer] = &[Timer::Retransmit];
const ESTABLISHED: &[Timer] = &[
    Timer::Retransmit,
    Timer::Persist,
    Timer::SwsOverride,
    Timer::TailLossProbe,
    Timer::RackReorder,
    Timer::DelayedAck,
    Timer::KeepAlive,
    Timer::Pace,
];
const OPEN: &[Timer] = &[
    Timer::Retransmit,
    Timer::Persist,
    Timer::SwsOverride,
    Timer::TailLossProbe,
    Timer::RackReorder,
    Timer::DelayedAck,
    Timer::Pace,
];
const FIN_WAIT_2: &[Timer] = &[Timer::FinWait2, Timer::DelayedAck];
const HALF_CLOSED: &[Timer] = &[
    Timer::Retransmit,
    Timer::Persist,
    Timer::SwsOverride,
    Timer::TailLossProbe,
    Timer::RackReorder,
    Timer::Pace,
];
const CLOSE_WAIT: &[Timer] = &[
    Timer::Retransmit,
    Timer::Persist,
    Timer::SwsOverride,
    Timer::TailLossProbe,
    Timer::RackReorder,
    Timer::KeepAlive,
    Timer::Pace,
];
const TIME_WAIT: &[Timer] = &[Timer::TimeWait];

/// The bits of `timers` in a [`TimerTable`]'s `armed` mask.
const fn mask_of(timers: &[Timer]) -> u16 {
    let mut m = 0;
    let mut i = 0;
    while i < timers.len() {
        m |= 1 << timers[i] as u8;
        i += 1;
    }
    m
}

// The `armed` mask of a [`TimerTable`] has a bit per timer.
const _: () = assert!(Timer::ALL.len() <= u16::BITS as usize);

/// A connection's timer table: one deadline per [`Timer`], each armed or
/// not. Unarmed slots hold [`Instant::ZERO`], so that equal tables compare
/// equal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimerTable {
    at: [Instant; Timer::ALL.len()],
    armed: u16,
}

impl TimerTable {
    /// No timer armed.
    pub const fn new() -> Self {
        TimerTable {
            at: [Instant::ZERO; Timer::ALL.len()],
            armed: 0,
        }
    }

    /// When `timer` fires, if armed.
    pub const fn get(&self, timer: Timer) -> Option<Instant> {
        if self.armed & (1 << timer as u8) != 0 {
            Some(self.at[timer as usize])
        } else {
            None
        }
    }

    /// Arms `timer` to fire at `at` (re-arms it if it runs).
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.at[timer as usize] = at;
        self.armed |= 1 << timer as u8;
    }

    /// Stops `timer`.
    pub(crate) fn clear(&mut self, timer: Timer) {
        self.at[timer as usize] = Instant::ZERO;
        self.armed &= !(1 << timer as u8);
    }

    /// Whether `timer` is armed and due at `now`.
    pub(crate) fn due(&self, timer: Timer, now: Instant) -> bool {
        self.get(timer).is_some_and(|d| now >= d)
    }

    /// The earliest armed timer and its deadline.
    pub fn next(&self) -> Option<(Timer, Instant)> {
        self.next_of(&Timer::ALL)
    }

    /// The earliest of `timers` that is armed, and its deadline.
    pub(crate) fn next_of(&self, timers: &[Timer]) -> Option<(Timer, Instant)> {
        timers
            .iter()
            .filter_map(|&k| self.get(k).map(|at| (k, at)))
            .min_by_key(|&(_, at)| at)
    }

    /// The earliest deadline among the armed timers whose bits are in
    /// `mask`: a walk over the set bits only (usually one or two), since
    /// the endpoint asks for it after every segment.
    pub(crate) fn earliest(&self, mask: u16) -> Option<Instant> {
        let mut bits = self.armed & mask;
        let mut best: Option<Instant> = None;
        while bits != 0 {
            let at = self.at[bits.trailing_zeros() as usize];
            bits &= bits - 1;
            if best.is_none_or(|b| at < b) {
                best = Some(at);
            }
        }
        best
    }

    /// The timer in the retransmission slot (retransmission, persist or
    /// silly-window override), and when it fires.
    pub(crate) fn rto(&self) -> Option<(Timer, Instant)> {
        self.next_of(&Timer::RTO)
    }

    /// When the retransmission slot fires, whichever timer holds it
    /// (retransmission, persist or silly-window override).
    pub fn rto_deadline(&self) -> Option<Instant> {
        self.rto_at()
    }

    /// When the retransmission slot fires, whichever timer holds it.
    pub(crate) fn rto_at(&self) -> Option<Instant> {
        self.rto().map(|(_, at)| at)
    }

    /// The persist or the override timer holds the retransmission slot.
    pub(crate) fn persist(&self) -> bool {
        self.rto().is_some_and(|(k, _)| k != Timer::Retransmit)
    }

    /// Arms `kind` (one of [`Timer::RTO`]) in the retransmission slot,
    /// stopping the other two.
    pub(crate) fn set_rto(&mut self, kind: Timer, at: Instant) {
        self.clear_rto();
        self.set(kind, at);
    }

    /// Re-arms the retransmission slot with whichever timer holds it (the
    /// retransmission timer if none does).
    pub(crate) fn rearm_rto(&mut self, at: Instant) {
        let kind = self.rto().map_or(Timer::Retransmit, |(k, _)| k);
        self.set(kind, at);
    }

    /// Stops the retransmission slot.
    pub(crate) fn clear_rto(&mut self) {
        for k in Timer::RTO {
            self.clear(k);
        }
    }
}

impl State {
    /// The timer table and the timers this state runs.
    fn timer_table(&self) -> Option<(&TimerTable, &'static [Timer])> {
        self.timer_runs().map(|(t, runs, _)| (t, runs))
    }

    /// The timer table, the timers this state runs, and their bits.
    fn timer_runs(&self) -> Option<(&TimerTable, &'static [Timer], u16)> {
        const SYN_BITS: u16 = mask_of(SYN);
        const OPEN_BITS: u16 = mask_of(OPEN);
        const FIN_WAIT_2_BITS: u16 = mask_of(FIN_WAIT_2);
        const HALF_CLOSED_BITS: u16 = mask_of(HALF_CLOSED);
        const TIME_WAIT_BITS: u16 = mask_of(TIME_WAIT);
        const ESTABLISHED_BITS: u16 = mask_of(ESTABLISHED);
        const CLOSE_WAIT_BITS: u16 = mask_of(CLOSE_WAIT);
        match self {
            State::SynSent(s) => Some((&s.timers, SYN, SYN_BITS)),
            State::SynReceived(s) => Some((&s.tcb.timers, SYN, SYN_BITS)),
            State::Established(s) => Some((&s.tcb.timers, ESTABLISHED, ESTABLISHED_BITS)),
            State::FinWait1(s) => Some((&s.tcb.timers, OPEN, OPEN_BITS)),
            State::FinWait2(s) => Some((&s.tcb.timers, FIN_WAIT_2, FIN_WAIT_2_BITS)),
            State::CloseWait(s) => Some((&s.tcb.timers, CLOSE_WAIT, CLOSE_WAIT_BITS)),
            State::Closing(s) | State::LastAck(s) => {
                Some((&s.tcb.timers, HALF_CLOSED, HALF_CLOSED_BITS))
            }
            State::TimeWait(s) => Some((&s.timers, TIME_WAIT, TIME_WAIT_BITS)),
            State::Closed(_) => None,
        }
    }

    /// When `timer` fires, if this state runs it and it is armed.
    pub fn timer(&self, timer: Timer) -> Option<Instant> {
        let (table, runs) = self.timer_table()?;
        runs.contains(&timer).then(|| table.get(timer)).flatten()
    }

    /// The earliest timer this state runs, and when it fires.
    pub fn next_timer(&self) -> Option<(Timer, Instant)> {
        let (table, runs) = self.timer_table()?;
        table.next_of(runs)
    }

    /// The earliest instant at which [`State::on_timeout`] has work to do:
    /// the `min` of the state's [`TimerTable`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let (table, _, bits) = self.timer_runs()?;
        table.earliest(bits)
    }

    /// Timers fire (quinn's `handle_timeout`): retransmit the SYN-ACK, or
    /// data and FIN after a retransmission timeout (RFC 6298 §5.4-5.6, the
    /// segments themselves then come from [`State::poll_transmit`]), probe a
    /// zero window, send a delayed ACK, send a keep-alive probe (RFC 1122
    /// §4.2.3.6), or end TIME-WAIT / FIN-WAIT-2. Calling it early is
    /// harmless.
    pub fn on_timeout(
        mut self,
        now: Instant,
        cfg: &Config,
        rx: &RecvBuffer<'_>,
    ) -> Transition<'static> {
        // Linux tcp_keepalive_timer -> tcp_write_err: the soft error, if
        // an ICMP error left one.
        let soft = self.soft_error();
        let probe = match self.keepalive_timeout(now, rx) {
            None => None,
            Some(KeepAliveDue::Probe(r)) => Some(r),
            Some(KeepAliveDue::Reset(rst)) => {
                let mut t = timed_out(soft.map_or(CloseReason::TimedOut, CloseReason::Icmp));
                t.reply(rst);
                return t;
            }
        };
        let mut t = self.run_timers(now, cfg, rx);
        if let Some(r) = probe {
            if !matches!(t.state, State::Closed(_)) {
                t.reply(r);
            }
        }
        t
    }

    /// The timers other than keep-alive.
    fn run_timers(self, now: Instant, cfg: &Config, rx: &RecvBuffer<'_>) -> Transition<'static> {
        match self {
            State::SynSent(s) => syn_sent_timeout(s, now, cfg),
            State::SynReceived(mut s) => {
                if s.tcb.timers.due(Timer::Retransmit, now) {
                    if s.tcb.rtx.retries >= cfg.synack_retries {
                        return timed_out(CloseReason::TimedOut);
                    }
                    s.tcb.rtx.retries += 1;
                    s.tcb.rtx.backoff = s.tcb.rtx.backoff.saturating_add(1);
                    let at = now + send::backed_off(&s.tcb.rtx, cfg);
                    s.tcb.timers.set(Timer::Retransmit, at);
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
                if s.tcb.timers.due(Timer::FinWait2, now) {
                    return timed_out(CloseReason::TimedOut);
                }
                let mut t = Transition::new(State::FinWait2(s));
                if s.tcb.timers.due(Timer::DelayedAck, now) {
                    let r = make_ack(&mut s.tcb, s.snd.nxt, &mut s.rcv, rx.meta(), now);
                    t.reply(r);
                    t.state = State::FinWait2(s);
                }
                t
            }
            State::CloseWait(s) => half_closed_timeout(HalfKind::CloseWait, s, now, cfg),
            State::Closing(s) => half_closed_timeout(HalfKind::Closing, s, now, cfg),
            State::LastAck(s) => half_closed_timeout(HalfKind::LastAck, s, now, cfg),
            State::TimeWait(s) => {
                if s.timers.due(Timer::TimeWait, now) {
                    timed_out(CloseReason::Normal)
                } else {
                    Transition::new(State::TimeWait(s))
                }
            }
            st @ State::Closed(_) => Transition::new(st),
        }
    }
}

/// CLOSED, and the event that says why.
fn timed_out(why: CloseReason) -> Transition<'static> {
    let mut t = Transition::new(State::Closed(why));
    t.event(Event::Closed(why));
    t
}

/// RFC 8985 §7.2: the loss probe is due, and no later than the RTO (a
/// probe due no later than the RTO goes in its place).
fn pto_due(timers: &TimerTable, now: Instant) -> bool {
    timers
        .get(Timer::TailLossProbe)
        .is_some_and(|p| now >= p && timers.rto_at().is_none_or(|d| p <= d))
}

/// The pacing timer, if due, is stopped: what it held back goes in the
/// transmission that follows every timeout (`State::poll_transmit`).
fn pace_due(timers: &mut TimerTable, now: Instant) {
    if timers.due(Timer::Pace, now) {
        timers.clear(Timer::Pace);
    }
}

/// The timer in the retransmission slot, if it is due; it is stopped.
fn take_due_rto(timers: &mut TimerTable, now: Instant) -> Option<Timer> {
    let (kind, at) = timers.rto()?;
    if now < at {
        return None;
    }
    timers.clear_rto();
    Some(kind)
}

/// Nothing in flight and no zero window to probe: the retransmission slot
/// has nothing to do. With data queued behind a zero window it is the
/// persist timer (RFC 9293 §3.8.6.1), which sends its probe.
fn rto_idle(s: &SendHalf, kind: Timer) -> bool {
    s.una == s.max && !(kind != Timer::Retransmit && s.una.before(s.end))
}

pub(crate) fn half_closed_timeout(
    kind: HalfKind,
    mut s: HalfClosed,
    now: Instant,
    cfg: &Config,
) -> Transition<'static> {
    pace_due(&mut s.tcb.timers, now);
    if s.tcb.timers.due(Timer::RackReorder, now) {
        let _ = send::on_reorder_timeout(&mut s.snd, &mut s.tcb, now);
    }
    if pto_due(&s.tcb.timers, now) {
        send::on_pto(&mut s.snd, &mut s.tcb, now, cfg);
        return Transition::new(half_state(kind, s));
    }
    let Some(due) = take_due_rto(&mut s.tcb.timers, now) else {
        return Transition::new(half_state(kind, s));
    };
    // The application may still send after the peer's FIN: the persist
    // timer sends its probe here as in ESTABLISHED (`open_timeout`).
    if rto_idle(&s.snd, due) {
        return Transition::new(half_state(kind, s));
    }
    if !send::on_rto(&mut s.snd, &mut s.tcb, due, now, cfg) {
        return give_up(&s.tcb, s.snd.nxt, s.rcv.nxt, now);
    }
    if cfg.blackhole_fallback && due == Timer::Retransmit {
        let _ = crate::conn::pmtu::on_rto(&s.tcb, &mut s.snd);
    }
    Transition::new(half_state(kind, s))
}

/// Timers of ESTABLISHED and FIN-WAIT-1: the delayed ACK, the loss probe,
/// and the retransmission, persist or override timer.
pub(crate) fn open_timeout(
    kind: OpenKind,
    mut s: Open,
    now: Instant,
    cfg: &Config,
    rx: &RecvBuffer<'_>,
) -> Transition<'static> {
    let wrap = |s: Open| crate::conn::arrive::synchronized::wrap(kind, s);
    let mut t = Transition::new(wrap(s));
    pace_due(&mut s.tcb.timers, now);
    if s.tcb.timers.due(Timer::DelayedAck, now) {
        let r = make_ack(&mut s.tcb, s.snd.nxt, &mut s.rcv, rx.meta(), now);
        t.reply(r);
    }
    if s.tcb.timers.due(Timer::RackReorder, now) {
        let _ = send::on_reorder_timeout(&mut s.snd, &mut s.tcb, now);
    }
    if pto_due(&s.tcb.timers, now) {
        send::on_pto(&mut s.snd, &mut s.tcb, now, cfg);
    }
    if let Some(due) = take_due_rto(&mut s.tcb.timers, now) {
        let idle = rto_idle(&s.snd, due);
        if !idle && !send::on_rto(&mut s.snd, &mut s.tcb, due, now, cfg) {
            return give_up(&s.tcb, s.snd.nxt, s.rcv.nxt, now);
        }
        if !idle && cfg.blackhole_fallback && due == Timer::Retransmit {
            let _ = crate::conn::pmtu::on_rto(&s.tcb, &mut s.snd);
        }
    }
    t.state = wrap(s);
    t
}

/// The timer table of a new TIME-WAIT: 2 MSL from `now` (RFC 9293 §3.10.8).
pub(crate) fn time_wait_timer(now: Instant, cfg: &Config) -> TimerTable {
    let mut timers = TimerTable::new();
    timers.set(Timer::TimeWait, now + cfg.time_wait);
    timers
}
