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
            "FIN-WAIT-1: FIN loss probe",
            "RFC 8985 §7.2-7.3 (Linux tcp_send_loss_probe): with only our FIN in flight the probe is the FIN, at the PTO clipped to the RTO; the RTO is re-armed after it, not backed off",
            after(Fx::fin_wait_1(PLAIN), seg().ack(P::SndNxt(-1)), FinWait1),
            ms(200),
            to(FinWait1).then(After::Timeout(Some(ms(200)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "FIN-WAIT-1: FIN retransmission",
            "RFC 6298 §5.4 / RFC 9293 §3.10.4: our FIN is retransmitted on timeout",
            fired(after(Fx::fin_wait_1(PLAIN), seg().ack(P::SndNxt(-1)), FinWait1), 1),
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
            "CLOSING: FIN loss probe",
            "RFC 8985 §7.2-7.3: the probe is the lone FIN; the RTO is re-armed after it",
            Fx::closing(PLAIN),
            ms(200),
            to(Closing).then(After::Timeout(Some(ms(200)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "CLOSING: FIN retransmission",
            "RFC 6298 §5.4: our FIN is retransmitted on timeout",
            fired(Fx::closing(PLAIN), 1),
            ms(200),
            to(Closing).then(After::Timeout(Some(ms(400)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "LAST-ACK: FIN loss probe",
            "RFC 8985 §7.2-7.3: the probe is the lone FIN; the RTO is re-armed after it",
            after(Fx::last_ack(PLAIN), seg().ack(P::SndNxt(-1)), LastAck),
            ms(200),
            to(LastAck).then(After::Timeout(Some(ms(200)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "LAST-ACK: FIN retransmission",
            "RFC 6298 §5.4: our FIN is retransmitted on timeout",
            fired(after(Fx::last_ack(PLAIN), seg().ack(P::SndNxt(-1)), LastAck), 1),
            ms(200),
            to(LastAck).then(After::Timeout(Some(ms(400)))),
            vec![fin_out(P::SndNxt(-1))],
        ),
        timer(
            "LAST-ACK: retries exhausted",
            "RFC 9293 §3.8.3 R2 (MUST-20): close the connection after R2 retransmissions (Config::max_retries = 8; the loss probe before them is not one), <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>",
            fired(
                after(Fx::last_ack(PLAIN), seg().ack(P::SndNxt(-1)), LastAck),
                9,
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
            "ESTABLISHED: RACK reordering timer",
            "RFC 8985 §6.3 (Linux tcp_rack_reo_timeout): a segment sent before a SACKed one, not yet past the reordering window (min_RTT / 4 = 2.5 ms: one segment SACKed, no reordering seen), is lost when the timer fires; recovery begins and it is resent",
            {
                let mut fx = Fx::established(FULL);
                fx.cfg.nagle = false;
                assert_eq!(fx.send(300).len(), 1);
                fx.wait(ms(10));
                let o = fx.feed(&seg().ack(P::SndUna(0)).sack(P::SndUna(300), P::SndUna(600)));
                assert!(o.replies.is_empty());
                fx
            },
            Duration::from_micros(2500),
            to(Established),
            vec![data(P::SndUna(0), IN_FLIGHT)],
        ),
        timer(
            "LAST-ACK: retries exhausted, RST with TSopt",
            "RFC 9293 §3.8.3 R2 (MUST-20) / RFC 7323 §3.2 SHOULD: the reset carries TSopt",
            fired(
                after(Fx::last_ack(FULL), seg().ack(P::SndNxt(-1)), LastAck),
                9,
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

/// The keep-alive of the rows below: a probe after 60 s idle, Linux's
/// interval (75 s) and count (9).
const KA_IDLE: u64 = 60_000;

fn keepalive() -> tcpcore::KeepAlive {
    tcpcore::KeepAlive::after(ms(KA_IDLE))
}

/// `fx` after `d`.
fn waited(mut fx: Fx, d: Duration) -> Fx {
    fx.wait(d);
    fx
}

/// ESTABLISHED with keep-alive on (`ka`), the peer's ACK of everything we
/// sent just in: nothing in flight, the keep-alive timer runs.
fn ka_established(o: Opts, ka: tcpcore::KeepAlive) -> Fx {
    let mut fx = Fx::established(o);
    assert!(fx.state.set_keepalive(Some(ka), fx.now));
    fx.step(seg().ack(P::SndNxt(0)), Established);
    fx
}

/// The keep-alive probe (Linux tcp_xmit_probe_skb):
/// `<SEQ=SND.UNA-1><ACK=RCV.NXT><CTL=ACK>`, no data.
fn ka_probe() -> Out {
    ack(P::SndUna(-1), P::RcvNxt(0))
}

/// Keep-alive (RFC 1122 §4.2.3.6; Linux tcp_keepalive_timer) and the user
/// timeout (RFC 5482; Linux TCP_USER_TIMEOUT), issue #16.
#[test]
fn keepalive_timers() {
    let cfg = tcpcore::Config::default();
    assert_eq!(
        (cfg.keepalive, cfg.user_timeout),
        (None, None),
        "off by default"
    );
    assert_eq!(
        (keepalive().interval, keepalive().count),
        (ms(75_000), 9),
        "Linux's defaults"
    );
    let rows = [
        timer(
            "ESTABLISHED: keep-alive probe after idle",
            "RFC 1122 §4.2.3.6: after the idle interval with nothing received, a probe; Linux tcp_write_wakeup -> tcp_xmit_probe_skb sends <SEQ=SND.UNA-1><ACK=RCV.NXT> without data (RFC 1122: SEG.SEQ = SND.NXT-1, no garbage octet); next probe after tcp_keepalive_intvl (75 s)",
            ka_established(PLAIN, keepalive()),
            ms(KA_IDLE),
            to(Established)
                .reply(ka_probe())
                .then(After::Timeout(Some(ms(75_000)))),
            vec![],
        ),
        timer(
            "ESTABLISHED: keep-alive probe with TSopt",
            "RFC 1122 §4.2.3.6 / RFC 7323 §3.2: the probe is a non-RST segment and carries TSopt",
            ka_established(FULL, keepalive()),
            ms(KA_IDLE),
            to(Established).reply(ka_probe()),
            vec![],
        ),
        timer(
            "ESTABLISHED: a segment received restarts the keep-alive timer",
            "RFC 1122 §4.2.3.6: probes go only after the idle interval without a segment received (Linux keepalive_time_elapsed from rcv_tstamp)",
            after(waited(ka_established(PLAIN, keepalive()), ms(30_000)), seg(), Established),
            ms(KA_IDLE),
            to(Established).reply(ka_probe()),
            vec![],
        ),
        timer(
            "ESTABLISHED: the answer to a probe clears the probe count",
            "RFC 1122 §4.2.3.6 / Linux tcp_ack (icsk_probes_out = 0): nine probes out, then the peer's ACK: after the idle interval a probe again, no reset",
            after(fired(ka_established(PLAIN, keepalive()), 9), seg(), Established),
            ms(KA_IDLE),
            to(Established).reply(ka_probe()),
            vec![],
        ),
        timer(
            "ESTABLISHED: keep-alive gives up after count probes",
            "RFC 1122 §4.2.3.6 / Linux tcp_keepalive_timer: tcp_keepalive_probes (9) unanswered, tcp_send_active_reset <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK> and tcp_write_err (ETIMEDOUT)",
            fired(ka_established(PLAIN, keepalive()), 9),
            ms(75_000),
            to(Closed)
                .event(Event::Closed(CloseReason::TimedOut))
                .reply(rst_ack_out(P::SndNxt(0), P::RcvNxt(0))),
            vec![],
        ),
        timer(
            "ESTABLISHED: no keep-alive probe with data in flight",
            "RFC 1122 §4.2.3.6 / Linux tcp_keepalive_timer (\"It is alive without keepalive\": packets_out or a send head): the retransmission timer watches the peer; the keep-alive timer re-arms at idle",
            {
                let mut fx = ka_established(PLAIN, tcpcore::KeepAlive::after(ms(100)));
                assert_eq!(fx.send(100).len(), 1, "data in flight");
                fx
            },
            ms(100),
            to(Established).then(After::Timeout(Some(ms(100)))),
            vec![],
        ),
        timer(
            "CLOSE-WAIT: keep-alive probe after idle",
            "RFC 1122 §4.2.3.6 / Linux tcp_keepalive_timer: keep-alive runs in CLOSE-WAIT too; the probe acknowledges the peer's FIN",
            {
                let mut fx = Fx::close_wait(PLAIN);
                assert!(fx.state.set_keepalive(Some(keepalive()), fx.now));
                fx.step(seg().ack(P::SndNxt(0)), CloseWait);
                fx
            },
            ms(KA_IDLE),
            to(CloseWait).reply(ka_probe()),
            vec![],
        ),
        timer(
            "ESTABLISHED: user timeout ends retransmission before max_retries",
            "RFC 5482 / Linux TCP_USER_TIMEOUT (retransmits_timed_out, never at the first RTO): data unacknowledged for 1 s (the TLP, RTOs at 0.4 and 0.8 s): at the next RTO <SEQ=SND.NXT><ACK=RCV.NXT><CTL=RST,ACK>, TimedOut, after 2 of the 8 retransmissions",
            fired(
                {
                    let mut fx = Fx::established(PLAIN);
                    assert!(fx.state.set_user_timeout(Some(ms(1000))));
                    fx
                },
                3,
            ),
            ms(800),
            to(Closed)
                .event(Event::Closed(CloseReason::TimedOut))
                .reply(rst_ack_out(P::SndNxt(0), P::RcvNxt(0))),
            vec![],
        ),
        timer(
            "ESTABLISHED: user timeout ends unanswered zero-window probes",
            "RFC 5482 / Linux tcp_probe_timer (icsk_probes_tstamp against TCP_USER_TIMEOUT): zero-window probes (at 0.2, 0.6 s) unanswered for 1 s: at the third, 1.4 s, the connection ends with a reset (max_retries would allow 8)",
            fired(
                {
                    let mut fx =
                        after(Fx::established(PLAIN), seg().ack(P::SndNxt(0)).wnd(0), Established);
                    assert!(fx.state.set_user_timeout(Some(ms(1000))));
                    assert!(fx.send(100).is_empty(), "nothing goes into a zero window");
                    fx
                },
                2,
            ),
            ms(800),
            to(Closed)
                .event(Event::Closed(CloseReason::TimedOut))
                .reply(rst_ack_out(P::SndNxt(0), P::RcvNxt(0))),
            vec![],
        ),
    ];
    run_timers(&rows);
}

/// RFC 1122 §4.2.3.6: keep-alive "MUST default to off": an idle connection
/// runs no timer at all, and nothing is sent however long it stays idle.
#[test]
fn keepalive_off_by_default() {
    let mut fx = Fx::established(PLAIN);
    assert_eq!(fx.cfg.keepalive, None);
    fx.step(seg().ack(P::SndNxt(0)), Established);
    assert_eq!(fx.state.poll_timeout(), None, "no timer armed");
    assert_eq!(fx.state.timer(tcpcore::conn::Timer::KeepAlive), None);
    let at = fx.now + ms(10 * 3600 * 1000);
    let o = fx.timeout_at(at);
    assert_eq!(o.state.name(), Established);
    assert!(o.replies.is_empty() && o.events.is_empty(), "{o:?}");
}
