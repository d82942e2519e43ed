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

use crate::conn::close::rst_ts;
use crate::conn::recv::ack::{make_ack, make_ack_closed};
use crate::conn::{Config, RecvBuffer, Reply, SendHalf, State, Tcb, Timer};
use crate::time::{Duration, Instant};

/// A segment from the peer arrived, `accepted` by the connection: in
/// ESTABLISHED and CLOSE-WAIT with keep-alive on, the timer starts again
/// at `idle` and the probe count is cleared.
pub(crate) fn on_segment(state: &mut State, accepted: bool, now: Instant, cfg: &Config) {
    let Some(ka) = cfg.keepalive else { return };
    if !accepted {
        return;
    }
    let tcb = match state {
        State::Established(s) => &mut s.tcb,
        State::CloseWait(s) => &mut s.tcb,
        _ => return,
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
fn due(tcb: &mut Tcb, snd: &SendHalf, now: Instant, cfg: &Config) -> Due {
    if !tcb.timers.due(Timer::KeepAlive, now) {
        return Due::Nothing;
    }
    let Some(ka) = cfg.keepalive else {
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
    let out = match cfg.user_timeout {
        Some(u) if u > Duration::ZERO => tcb.ka_probes > 0 && elapsed >= u,
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

/// What the keep-alive timer has to send.
pub(crate) enum KeepAliveDue {
    /// The probe; the connection stays.
    Probe(Reply),
    /// The reset: the connection is over
    /// ([`CloseReason::TimedOut`](crate::CloseReason::TimedOut)).
    Reset(Reply),
}

impl State {
    /// The keep-alive timer of ESTABLISHED and CLOSE-WAIT, if due (the
    /// timer re-armed, the probe counted); nothing in other states.
    pub(crate) fn keepalive_timeout(
        &mut self,
        now: Instant,
        cfg: &Config,
        rx: &RecvBuffer<'_>,
    ) -> Option<KeepAliveDue> {
        match self {
            State::Established(s) => match due(&mut s.tcb, &s.snd, now, cfg) {
                Due::Nothing => None,
                Due::Probe => {
                    let r = make_ack(&mut s.tcb, s.snd.nxt, &mut s.rcv, rx.meta(), now);
                    Some(KeepAliveDue::Probe(probe(r, &s.snd)))
                }
                Due::Abort => Some(KeepAliveDue::Reset(rst_ts(
                    s.snd.nxt,
                    Some(s.rcv.nxt),
                    s.tcb.ts,
                    now,
                ))),
            },
            State::CloseWait(s) => match due(&mut s.tcb, &s.snd, now, cfg) {
                Due::Nothing => None,
                Due::Probe => {
                    let r = make_ack_closed(&mut s.tcb, s.snd.nxt, &s.rcv, now);
                    Some(KeepAliveDue::Probe(probe(r, &s.snd)))
                }
                Due::Abort => Some(KeepAliveDue::Reset(rst_ts(
                    s.snd.nxt,
                    Some(s.rcv.nxt),
                    s.tcb.ts,
                    now,
                ))),
            },
            _ => None,
        }
    }
}
