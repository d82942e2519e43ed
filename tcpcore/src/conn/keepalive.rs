//! Keep-alive (RFC 1122 §4.2.3.6), off unless [`Config::keepalive`] is set,
//! as Linux's `tcp_keepalive_timer` runs it:
//!
//! - the timer ([`Timer::KeepAlive`]) runs in ESTABLISHED and CLOSE-WAIT,
//!   and every segment accepted from the peer restarts it at `idle` and
//!   clears the probe count (Linux: `rcv_tstamp`, `icsk_probes_out = 0` in
//!   `tcp_ack`);
//! - when it fires with data in flight or queued, it only re-arms at
//!   `idle`: the retransmission or persist timer watches the peer then
//!   ("It is alive without keepalive 8)");
//! - otherwise, after `count` unanswered probes (or, with
//!   [`Config::user_timeout`], once that long has passed without an answer
//!   and a probe is out) the connection is reset,
//!   `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>`, and reported
//!   [`CloseReason::TimedOut`](crate::CloseReason::TimedOut) (Linux
//!   `tcp_send_active_reset`, then `tcp_write_err`);
//! - else a probe goes out and the timer re-arms at `interval`. The probe
//!   is Linux's `tcp_xmit_probe_skb`: `<SEQ=SND.UNA-1><ACK=RCV.NXT>` with
//!   no data (RFC 1122: "SEG.SEQ = SND.NXT-1", without the garbage
//!   octet), an old sequence number that the peer must answer with an ACK
//!   (RFC 9293 §3.10.7.4 first).
//!
//! Both are per connection ([`ConnOptions`], in the TCB): RFC 9293 §3.8.4
//! MUST-24 wants keep-alive turned on or off "for each TCP connection",
//! and RFC 5482 makes the user timeout a per-connection parameter. A new
//! connection takes [`Config::keepalive`] and [`Config::user_timeout`];
//! [`Stack::set_keepalive`](crate::Stack::set_keepalive) and
//! [`Stack::set_user_timeout`](crate::Stack::set_user_timeout) change
//! them (Linux's `SO_KEEPALIVE`, `TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
//! `TCP_KEEPCNT` and `TCP_USER_TIMEOUT` socket options).

use crate::conn::close::rst_ts;
use crate::conn::recv::ack::{make_ack, make_ack_closed};
use crate::conn::{
    Config, HalfClosed, KeepAlive, Open, RecvBuffer, Reply, SendHalf, State, Tcb, Timer,
};
use crate::seq::SeqNum;
use crate::time::{Duration, Instant};

/// A connection's keep-alive and user timeout, kept in milliseconds
/// (16 bytes in the TCB instead of the 48 of the [`Config`] fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnOptions {
    /// Keep-alive idle time; 0: keep-alive off.
    ka_idle_ms: u32,
    /// Between keep-alive probes.
    ka_interval_ms: u32,
    /// User timeout; 0: off.
    user_timeout_ms: u32,
    /// Keep-alive probes unanswered before the reset.
    ka_count: u8,
}

/// A duration in milliseconds, at least `min`, saturating at `u32::MAX`
/// (49 days).
fn ms(d: Duration, min: u32) -> u32 {
    u32::try_from(d.as_micros() / 1000)
        .unwrap_or(u32::MAX)
        .max(min)
}

impl ConnOptions {
    /// Those of a new connection: the endpoint's [`Config`].
    pub(crate) fn new(cfg: &Config) -> Self {
        let mut o = ConnOptions {
            ka_idle_ms: 0,
            ka_interval_ms: 0,
            user_timeout_ms: 0,
            ka_count: 0,
        };
        o.set_keepalive(cfg.keepalive);
        o.set_user_timeout(cfg.user_timeout);
        o
    }

    /// Keep-alive on with `ka` (times below 1 ms count as 1 ms), or off.
    pub(crate) fn set_keepalive(&mut self, ka: Option<KeepAlive>) {
        match ka {
            Some(ka) => {
                self.ka_idle_ms = ms(ka.idle, 1);
                self.ka_interval_ms = ms(ka.interval, 1);
                self.ka_count = ka.count;
            }
            None => self.ka_idle_ms = 0,
        }
    }

    /// The user timeout (`None` or zero: off, as Linux's 0).
    pub(crate) fn set_user_timeout(&mut self, t: Option<Duration>) {
        self.user_timeout_ms = t.map_or(0, |t| ms(t, 0));
    }

    /// Keep-alive, if on.
    pub(crate) fn keepalive(&self) -> Option<KeepAlive> {
        (self.ka_idle_ms > 0).then(|| KeepAlive {
            idle: Duration::from_millis(u64::from(self.ka_idle_ms)),
            interval: Duration::from_millis(u64::from(self.ka_interval_ms)),
            count: self.ka_count,
        })
    }

    /// The user timeout, if on.
    pub(crate) fn user_timeout(&self) -> Option<Duration> {
        (self.user_timeout_ms > 0).then(|| Duration::from_millis(u64::from(self.user_timeout_ms)))
    }
}

/// A segment from the peer arrived, `accepted` by the connection: in
/// ESTABLISHED and CLOSE-WAIT with keep-alive on, the timer starts again
/// at `idle` and the probe count is cleared.
pub(crate) fn on_segment(state: &mut State, accepted: bool, now: Instant) {
    if !accepted {
        return;
    }
    let tcb = match state {
        State::Established(s) => &mut s.tcb,
        State::CloseWait(s) => &mut s.tcb,
        _ => return,
    };
    let Some(ka) = tcb.opts.keepalive() else {
        return;
    };
    tcb.ka_probes = 0;
    tcb.timers.set(Timer::KeepAlive, now + ka.idle);
}

/// Something is in flight or waits to be sent: the retransmission or
/// persist timer is running (Linux: `packets_out || tcp_send_head`).
fn busy(snd: &SendHalf) -> bool {
    snd.una != snd.max || snd.una.before(snd.end) || snd.fin
}

/// What the keep-alive timer does when due.
enum Due {
    /// Not due, or nothing to do.
    Nothing,
    /// Send a probe.
    Probe,
    /// Reset the connection.
    Abort,
}

/// The keep-alive timer, if due: re-armed, and what to do.
fn due(tcb: &mut Tcb, snd: &SendHalf, now: Instant) -> Due {
    if !tcb.timers.due(Timer::KeepAlive, now) {
        return Due::Nothing;
    }
    let Some(ka) = tcb.opts.keepalive() else {
        tcb.timers.clear(Timer::KeepAlive);
        return Due::Nothing;
    };
    if busy(snd) {
        tcb.timers.set(Timer::KeepAlive, now + ka.idle);
        return Due::Nothing;
    }
    // Linux: with a user timeout the probing ends once that long has passed
    // since the last segment received (`idle` and the probes' intervals)
    // and a probe is out; otherwise after `count` probes.
    let elapsed = ka.idle + ka.interval.saturating_mul(u64::from(tcb.ka_probes));
    let out = match tcb.opts.user_timeout() {
        Some(u) => tcb.ka_probes > 0 && elapsed >= u,
        _ => tcb.ka_probes >= ka.count,
    };
    if out {
        return Due::Abort;
    }
    tcb.ka_probes = tcb.ka_probes.saturating_add(1);
    tcb.timers.set(Timer::KeepAlive, now + ka.interval);
    Due::Probe
}

/// The probe: an ACK with the sequence number before SND.UNA.
fn probe(mut r: Reply, snd: &SendHalf) -> Reply {
    r.seq = snd.una - 1;
    r
}

/// The reset that ends a connection whose probes went unanswered:
/// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>`.
fn reset(tcb: &Tcb, snd: &SendHalf, rcv_nxt: SeqNum, now: Instant) -> KeepAliveDue {
    KeepAliveDue::Reset(rst_ts(snd.nxt, Some(rcv_nxt), tcb.ts, now))
}

/// What the keep-alive timer has to send.
pub(crate) enum KeepAliveDue {
    /// The probe; the connection stays.
    Probe(Reply),
    /// The reset: the connection is over
    /// ([`CloseReason::TimedOut`](crate::CloseReason::TimedOut)).
    Reset(Reply),
}

impl State {
    /// The application turns keep-alive on (`Some`) or off for this
    /// connection. In ESTABLISHED and CLOSE-WAIT the timer starts at once
    /// from `now`, or stops (Linux `tcp_set_keepalive`); in the other
    /// states the choice is kept (it matters once the connection is
    /// established). `false` in TIME-WAIT and CLOSED.
    pub fn set_keepalive(&mut self, ka: Option<KeepAlive>, now: Instant) -> bool {
        let Some(opts) = self.options_mut() else {
            return false;
        };
        opts.set_keepalive(ka);
        if let State::Established(Open { tcb, .. }) | State::CloseWait(HalfClosed { tcb, .. }) =
            self
        {
            match ka {
                Some(ka) => tcb.timers.set(Timer::KeepAlive, now + ka.idle),
                None => tcb.timers.clear(Timer::KeepAlive),
            }
        }
        true
    }

    /// The application sets this connection's user timeout (RFC 5482;
    /// `None` or zero: off). `false` when the connection has gone to TIME-WAIT or CLOSED.
    pub fn set_user_timeout(&mut self, t: Option<Duration>) -> bool {
        let Some(opts) = self.options_mut() else {
            return false;
        };
        opts.set_user_timeout(t);
        true
    }

    /// The connection's options, in every state but TIME-WAIT and CLOSED.
    fn options_mut(&mut self) -> Option<&mut ConnOptions> {
        match self {
            State::SynSent(s) => Some(&mut s.opts),
            State::SynReceived(s) => Some(&mut s.tcb.opts),
            State::Established(s) | State::FinWait1(s) => Some(&mut s.tcb.opts),
            State::FinWait2(s) => Some(&mut s.tcb.opts),
            State::CloseWait(s) | State::Closing(s) | State::LastAck(s) => Some(&mut s.tcb.opts),
            State::TimeWait(_) | State::Closed(_) => None,
        }
    }

    /// The keep-alive timer of ESTABLISHED and CLOSE-WAIT, if due (the
    /// timer re-armed, the probe counted); nothing in other states.
    pub(crate) fn keepalive_timeout(
        &mut self,
        now: Instant,
        rx: &RecvBuffer<'_>,
    ) -> Option<KeepAliveDue> {
        match self {
            State::Established(s) => match due(&mut s.tcb, &s.snd, now) {
                Due::Nothing => None,
                Due::Probe => {
                    let r = make_ack(&mut s.tcb, s.snd.nxt, &mut s.rcv, rx.meta(), now);
                    Some(KeepAliveDue::Probe(probe(r, &s.snd)))
                }
                Due::Abort => Some(reset(&s.tcb, &s.snd, s.rcv.nxt, now)),
            },
            State::CloseWait(s) => match due(&mut s.tcb, &s.snd, now) {
                Due::Nothing => None,
                Due::Probe => {
                    let r = make_ack_closed(&mut s.tcb, s.snd.nxt, &s.rcv, now);
                    Some(KeepAliveDue::Probe(probe(r, &s.snd)))
                }
                Due::Abort => Some(reset(&s.tcb, &s.snd, s.rcv.nxt, now)),
            },
            _ => None,
        }
    }
}
