//! The timer table (issue #15, Tests): for each state, `State::on_timeout`
//! at the connection's `poll_timeout` -> (next state, segments returned,
//! events), then what `poll_transmit` sends; a microsecond before the
//! deadline, `on_timeout` must change nothing. Each row cites its RFC rule.
//! The fixtures and the runner are in `transitions/mod.rs`.
//!
//! The fixtures' RTT: the handshake ACK comes 10 ms after the SYN-ACK, so
//! the RTO is the 200 ms floor (`Config::rto_min`).

#[path = "transitions/mod.rs"]
mod table;

use table::*;
use tcpcore::{CloseReason, Duration, Event, StateName::*};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// `fx` after its next `n` timers fired (and what they made due was sent).
fn fired(mut fx: Fx, n: usize) -> Fx {
    for _ in 0..n {
        let _ = fx.fire();
    }
    fx
}

/// `fx` after `s` (which must lead to `want`).
fn after(mut fx: Fx, s: Seg, want: tcpcore::StateName) -> Fx {
    fx.step(s, want);
    fx
}

/// `fx` past quick-ACK mode (issue #16, Linux `tcp_incr_quickack`): the
/// first data segments of a connection are acknowledged at once; 1-byte
/// segments (too small to change the measured segment size, Linux
/// `tcp_measure_rcv_mss`) until one is not, which arms the delayed ACK.
fn past_quick_acks(mut fx: Fx, want: tcpcore::StateName) -> Fx {
    for _ in 0..=16 {
        let o = fx.feed(&seg().len(1));
        assert_eq!(o.state.name(), want);
        if o.replies.is_empty() {
            return fx;
        }
    }
    panic!("still in quick-ACK mode after 16 ACKs");
}

#[test]
fn timers() {
    let cfg = tcpcore::Config::default();
    assert_eq!((cfg.synack_retries, cfg.max_retries), (5, 8));
    let rows = [
        timer(
            "SYN-RECEIVED: SYN-ACK retransmission",
            "RFC 6298 §5.4-5.5 / RFC 9293 MUST-22: the SYN-ACK is retransmitted after the initial RTO (1 s), which doubles",
            Fx::syn_received(PLAIN),
            ms(990),
            to(SynReceived)
                .reply(syn_ack())
                .then(After::Timeout(Some(ms(2000)))),
            vec![],
        ),
        timer(
            "SYN-RECEIVED: SYN-ACK retries exhausted",
            "RFC 9293 §3.8.3 R2 for a SYN (MUST-23 analogue; Config::synack_retries = 5 as Linux): the half-open connection is dropped, nothing sent",
            fired(Fx::syn_received(PLAIN), 5),
            ms(32_000),
            to(Closed).event(Event::Closed(CloseReason::TimedOut)),
            vec![],
        ),
        timer(
            "ESTABLISHED: delayed ACK",
            "RFC 9293 §3.8.6.3 (MUST-40): a delayed ACK goes within 0.5 s (Config::delayed_ack = 40 ms)",
            after(past_quick_acks(Fx::established(PLAIN), Established), seg().len(100), Established),
            ms(40),
            to(Established).reply(challenge()),
            vec![],
        ),
        timer(
            "ESTABLISHED: tail loss probe",
            "RFC 8985 §7.2-7.3: PTO no later than the RTO; no new data, so the last segment is sent again",
            Fx::established(PLAIN),
            ms(200),
            to(Established),
            vec![data(P::SndUna(0), IN_FLIGHT)],
        ),
        timer(
            "ESTABLISHED: retransmission timeout",
            "RFC 6298 §5.4-5.6: retransmit the earliest unacknowledged segment, back off the timer (x2)",
            fired(Fx::established(PLAIN), 1),
            ms(200),
            to(Established).then(After::Timeout(Some(ms(400)))),
            vec![data(P::SndUna(0), IN_FLIGHT)],
        ),
        timer(
            "ESTABLISHED: persist timer",
            "RFC 9293 §3.8.6.1 (MUST-36, SHLD-29): a zero window is probed after one RTO, with one byte",
            {
                let mut fx = after(
                    Fx::established(PLAIN),
                    seg().ack(P::SndNxt(0)).wnd(0),
                    Established,
                );
                assert!(fx.send(100).is_empty(), "nothing goes into a zero window");
                fx
            },
            ms(200),
            to(Established).then(After::Timeout(Some(ms(400)))),
            vec![data(P::SndUna(0), 1)],
        ),
        timer(
            "FIN-WAIT-1: FIN retransmission",
            "RFC 6298 §5.4 / RFC 9293 §3.10.4: our FIN is retransmitted on timeout",
            after(Fx::fin_wait_1(PLAIN), seg().ack(P::SndNxt(-1)), FinWait1),
            ms(200),
            to(FinWait1).then(After::Timeout(Some(ms(400)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "FIN-WAIT-2: timeout",
            "CONFORMANCE.md Timers: FIN-WAIT-2 gives up Config::fin_wait2_timeout (60 s) after the last acceptable segment, nothing sent",
            Fx::fin_wait_2(PLAIN),
            ms(59_000),
            to(Closed).event(Event::Closed(CloseReason::TimedOut)),
            vec![],
        ),
        timer(
            "FIN-WAIT-2: delayed ACK",
            "RFC 9293 §3.8.6.3 (MUST-40): text received in FIN-WAIT-2 is acknowledged within 0.5 s",
            after(past_quick_acks(Fx::fin_wait_2(PLAIN), FinWait2), seg().len(100), FinWait2),
            ms(40),
            to(FinWait2).reply(challenge()),
            vec![],
        ),
        timer(
            "CLOSE-WAIT: tail loss probe",
            "RFC 8985 §7.2-7.3: the last segment is sent again at the PTO",
            Fx::close_wait(PLAIN),
            ms(200),
            to(CloseWait),
            vec![data(P::SndUna(0), IN_FLIGHT)],
        ),
        timer(
            "CLOSE-WAIT: retransmission timeout",
            "RFC 6298 §5.4-5.6: retransmit from SND.UNA, back off the timer",
            fired(Fx::close_wait(PLAIN), 1),
            ms(200),
            to(CloseWait).then(After::Timeout(Some(ms(400)))),
            vec![data(P::SndUna(0), IN_FLIGHT)],
        ),
        timer(
            "CLOSING: FIN retransmission",
            "RFC 6298 §5.4: our FIN is retransmitted on timeout",
            Fx::closing(PLAIN),
            ms(200),
            to(Closing).then(After::Timeout(Some(ms(400)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "LAST-ACK: FIN retransmission",
            "RFC 6298 §5.4: our FIN is retransmitted on timeout",
            after(Fx::last_ack(PLAIN), seg().ack(P::SndNxt(-1)), LastAck),
            ms(200),
            to(LastAck).then(After::Timeout(Some(ms(400)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "LAST-ACK: retries exhausted",
            "RFC 9293 §3.8.3 R2 (MUST-20): close the connection after R2 retransmissions (Config::max_retries = 8), <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>",
            fired(
                after(Fx::last_ack(PLAIN), seg().ack(P::SndNxt(-1)), LastAck),
                8,
            ),
            ms(51_200),
            to(Closed).event(Event::Closed(CloseReason::TimedOut)).reply(rst_ack_out(P::SndNxt(0), P::RcvNxt(0))),
            vec![],
        ),
        timer(
            "TIME-WAIT: expiry",
            "RFC 9293 §3.10.8 / MUST-13: when the time-wait timeout expires, delete the TCB, enter CLOSED (60 s, CONFORMANCE.md)",
            Fx::time_wait(PLAIN),
            ms(59_000),
            to(Closed).event(Event::Closed(CloseReason::Normal)),
            vec![],
        ),
    ];
    run_timers(&rows);
}

#[test]
fn timers_timestamps() {
    let rows = [
        timer(
            "SYN-RECEIVED: SYN-ACK retransmission with TSopt",
            "RFC 6298 §5.4 / RFC 7323 §3.2: the retransmitted SYN-ACK carries TSopt",
            Fx::syn_received(FULL),
            ms(990),
            to(SynReceived).reply(syn_ack()),
            vec![],
        ),
        timer(
            "ESTABLISHED: delayed ACK with TSopt",
            "RFC 9293 §3.8.6.3 / RFC 7323 §3.2: TSopt in every non-RST segment",
            after(
                past_quick_acks(Fx::established(FULL), Established),
                seg().len(100),
                Established,
            ),
            ms(40),
            to(Established).reply(challenge()),
            vec![],
        ),
        timer(
            "LAST-ACK: retries exhausted, RST with TSopt",
            "RFC 9293 §3.8.3 R2 (MUST-20) / RFC 7323 §3.2 SHOULD: the reset carries TSopt",
            fired(
                after(Fx::last_ack(FULL), seg().ack(P::SndNxt(-1)), LastAck),
                8,
            ),
            ms(51_200),
            to(Closed)
                .event(Event::Closed(CloseReason::TimedOut))
                .reply(rst_ack_out(P::SndNxt(0), P::RcvNxt(0))),
            vec![],
        ),
    ];
    run_timers(&rows);
}

/// The application's ABORT (RFC 9293 §3.10.5) and CLOSE (§3.10.4) in each
/// state: the next state, the events and the segment sent.
#[test]
fn abort_and_close() {
    let fixtures = || {
        [
            Fx::syn_received(PLAIN),
            Fx::established(PLAIN),
            Fx::fin_wait_1(PLAIN),
            Fx::fin_wait_2(PLAIN),
            Fx::close_wait(PLAIN),
            Fx::closing(PLAIN),
            Fx::last_ack(PLAIN),
            Fx::time_wait(PLAIN),
        ]
    };
    let mut failures = Vec::new();
    for fx in fixtures() {
        let name = fx.state.name();
        // "SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2, CLOSE-WAIT:
        // Send a reset segment: <SEQ=SND.NXT><CTL=RST>" (with the ACK of
        // RCV.NXT, as Linux tcp_send_active_reset); "CLOSING, LAST-ACK,
        // TIME-WAIT: Respond with 'ok' and delete the TCB" (CONFORMANCE.md
        // D19, D23, fixed).
        let want: Vec<Out> = match name {
            Closing | LastAck | TimeWait => vec![],
            _ => vec![rst_ack_out(P::SndNxt(0), P::RcvNxt(0))],
        };
        let v = fx.vars();
        let t = fx.state.abort(fx.now);
        let mut errs = Vec::new();
        if t.state.name() != Closed {
            errs.push(format!("state {}", t.state.name()));
        }
        if t.events.as_slice() != [Event::Closed(CloseReason::Aborted)] {
            errs.push(format!("events {:?}", t.events));
        }
        let replies: Vec<_> = t.replies.iter().copied().collect();
        check_replies(&fx, &v, &replies, &want, None, "replies", &mut errs);
        if !errs.is_empty() {
            failures.push(format!(
                "ABORT in {name} [RFC 9293 §3.10.5]: {}",
                errs.join("; ")
            ));
        }
    }
    for fx in fixtures() {
        let name = fx.state.name();
        // §3.10.4: ESTABLISHED -> FIN-WAIT-1, CLOSE-WAIT -> LAST-ACK (the
        // FIN is then sent by poll_transmit); SYN-RECEIVED queues the close
        // until ESTABLISHED (CONFORMANCE.md); elsewhere nothing changes
        // ("error: connection closing").
        let want = match name {
            Established => FinWait1,
            CloseWait => LastAck,
            other => other,
        };
        let t = fx.state.close(fx.now, &fx.cfg);
        if t.state.name() != want || !t.replies.is_empty() || !t.events.is_empty() {
            failures.push(format!(
                "CLOSE in {name} [RFC 9293 §3.10.4]: state {}, want {want}; replies {:?}; events {:?}",
                t.state.name(),
                t.replies,
                t.events
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
