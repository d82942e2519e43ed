//! Packet traces for the state-transition defects of issue #14: the
//! retransmitted SYN in SYN-RECEIVED, the scaled window advertisement, the
//! FIN-WAIT-2 timeout, CLOSE in SYN-RECEIVED, timestamps on our resets, RSTs
//! outside the window, and duplicate data under an exhausted challenge-ACK
//! budget. Each test names the RFC rule it checks.

mod common;
use common::{
    default_config, pattern, run, storage, Harness, Recorder, Seg, BUF, CLIENT_PORT, TXBUF,
};
use tcpcore::endpoint::OwnedStorage;
use tcpcore::wire::{self, ChecksumPolicy, Frame, TcpControl};
use tcpcore::{Endpoint, EndpointConfig, Instant};

const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// The handshake with timestamps (TS.Recent ends at 110).
const HS_TS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
    0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>";

fn secs(t: f64) -> Instant {
    Instant::from_micros((t * 1e6).round() as u64)
}

/// RFC 9293 §3.10.7.4 (SYN-RECEIVED, first check: a segment that is not
/// acceptable is answered) and Linux `tcp_check_req`: a retransmitted SYN
/// (same IRS) means the client lost our SYN-ACK, so it gets the same
/// SYN-ACK at once; only the answers to further duplicates are debounced,
/// at most one per 500 ms (Linux `tcp_oow_rate_limited`,
/// `tcp_invalid_ratelimit`). The timer-driven retransmission at 1 s does not
/// count against the debounce.
#[test]
fn syn_received_retransmitted_syn_is_answered_at_once() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460>
         0.000 > S. 0:0(0) ack 1001 <mss 1460>
         0.050 < S 1000:1000(0) win 64240 <mss 1460>
         0.050 > S. 0:0(0) ack 1001 <mss 1460>
         0.100 < S 1000:1000(0) win 64240 <mss 1460>
         0.540 < S 1000:1000(0) win 64240 <mss 1460>
         0.560 < S 1000:1000(0) win 64240 <mss 1460>
         0.560 > S. 0:0(0) ack 1001 <mss 1460>
         1.000 > S. 0:0(0) ack 1001 <mss 1460>
         1.070 < S 1000:1000(0) win 64240 <mss 1460>
         1.070 > S. 0:0(0) ack 1001 <mss 1460>
         1.100 < . 1001:1001(0) ack 1 win 502
         1.100 ! state ESTABLISHED",
    );
}

/// A harness whose receive buffer is `rx` bytes.
fn harness_with_rx(cfg: EndpointConfig, rx: usize) -> Harness {
    let st = if rx == BUF {
        storage(4)
    } else {
        let owned = Box::leak(Box::new(OwnedStorage::new(1, rx, TXBUF).expect("storage")));
        owned.storage()
    };
    Harness {
        ep: Endpoint::new(cfg, st, [42; 16]).expect("endpoint"),
        rec: Recorder::default(),
        iss: None,
        port: CLIENT_PORT,
        tcp_checksum: ChecksumPolicy::Verify,
        client_isn: None,
        last_tsval: 0,
        local_port: common::SERVER_PORT,
        active: false,
    }
}

/// The ACKs sent since the last call: (ack, window field).
fn drain_acks(h: &mut Harness) -> Vec<(u32, u16, TcpControl)> {
    let mut v = Vec::new();
    while let Some((_, f)) = h.rec.out.pop_front() {
        let Ok(Frame::Tcp { tcp, .. }) = wire::parse_frame(&f, ChecksumPolicy::Verify) else {
            panic!("not a TCP frame");
        };
        assert!(tcp.payload.is_empty(), "the server sends no data here");
        v.push((
            tcp.ack_number.map_or(0, |a| a.get()),
            tcp.window_len,
            tcp.control,
        ));
    }
    v
}

/// The client fills every window we advertise, in odd-sized segments, while
/// the application reads nothing (`app-budget 0`).
fn window_closes_to_zero(rx: usize, shift: u8) {
    let mut h = harness_with_rx(default_config(), rx);
    h.run(&format!(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,wscale {shift}>
         0.010 < . 1001:1001(0) ack 1 win 502
         0.010 ! app-budget 0"
    ));
    let read = 1001u32; // the application has read nothing
    let buf_edge = read + rx as u32;
    // RFC 7323 §2.2: the SYN-ACK's window is not scaled.
    let mut right = read + (rx as u32).min(0xffff);
    let mut nxt = read;
    let mut t = 0.1;
    let mut last = (read, 0u16);
    for _ in 0..100_000 {
        let room = right - nxt;
        if room > 0 {
            let len = room.min(3001);
            let f = h.frame_for(&Seg {
                flags: "P.".into(),
                seq: nxt,
                len,
                ack: Some(1),
                win: Some(502),
                options: None,
                ecn: None,
            });
            h.send(&f);
            nxt += len;
        }
        t += 0.05;
        h.advance(secs(t));
        for (ack, win, ctl) in drain_acks(&mut h) {
            assert_eq!(ctl, TcpControl::None, "only ACKs");
            // Every byte inside a window we advertised is acknowledged.
            assert_eq!(
                ack, nxt,
                "bytes inside the advertised window were not ACKed"
            );
            let edge = ack + (u32::from(win) << shift);
            // Never advertise space we will not accept.
            assert!(
                edge <= buf_edge,
                "advertised right edge {edge} past the buffer's end {buf_edge} (win {win})"
            );
            right = right.max(edge);
            last = (ack, win);
        }
        if last.1 == 0 && right == nxt {
            break;
        }
    }
    assert_eq!(
        last.1, 0,
        "the window never reached zero (last ACK {last:?})"
    );
    // A zero-window probe (RFC 9293 §3.8.6.1) is answered with win 0; a byte
    // the buffer can still hold is taken, none beyond it.
    for _ in 0..2 {
        let f = h.frame_for(&Seg {
            flags: "P.".into(),
            seq: nxt,
            len: 1,
            ack: Some(1),
            win: Some(502),
            options: None,
            ecn: None,
        });
        h.send(&f);
        t += 0.05;
        h.advance(secs(t));
        let acks = drain_acks(&mut h);
        assert_eq!(acks.len(), 1, "a zero-window probe gets one ACK: {acks:?}");
        let (ack, win, _) = acks[0];
        assert_eq!(win, 0, "zero-window probe answered with win {win}");
        assert!(
            ack == nxt || ack == nxt + 1,
            "probe ACK {ack}, expected {nxt}"
        );
        assert!(ack <= buf_edge);
        nxt = ack;
    }
    // RFC 5961 §3.2: with the window at zero, a RST not at RCV.NXT is
    // outside the window and dropped silently.
    for off in [1u32, 5, 1000] {
        let f = h.frame_for(&Seg {
            flags: "R".into(),
            seq: nxt + off,
            ..Seg::default()
        });
        h.send(&f);
        assert!(
            drain_acks(&mut h).is_empty(),
            "RST at RCV.NXT+{off} with a zero window was answered"
        );
    }
    // Everything acknowledged reaches the application when it reads again.
    h.rec.budget = None;
    let id = h.ep.connections().next().expect("connection").0;
    h.ep.resume(id, secs(t), &mut h.rec);
    h.rec.flush();
    assert_eq!(h.rec.data.len() as u32, nxt - read, "bytes delivered");
    for (i, b) in h.rec.data.iter().enumerate() {
        assert_eq!(*b, pattern(read + i as u32), "byte {i}");
    }
}

/// RFC 7323 §2.4 and RFC 9293 §3.8.6: never advertise space that will not
/// be accepted. With our window shift 1 (64 KiB buffer), an application
/// that stops reading: every byte inside each advertised window is ACKed,
/// the right edge never passes the end of the buffer, the window reaches
/// zero, and a zero-window probe gets an ACK with win 0.
#[test]
fn scaled_window_closes_to_zero_shift_1() {
    window_closes_to_zero(BUF, 1);
}

/// As above with our window shift 7 (a 4 MiB buffer), where the rounding
/// of the scaled window field is 128 bytes.
#[test]
fn scaled_window_closes_to_zero_shift_7() {
    window_closes_to_zero(1 << 22, 7);
}

/// RFC 9293 §3.10.7.4 (FIN-WAIT-2: "process the segment text") and §3.6: a
/// half-close by the application waits for the peer as long as it keeps
/// sending; the FIN-WAIT-2 timeout (60 s) counts from the last segment
/// received, so only a peer that went quiet is given up on.
#[test]
fn fin_wait2_stays_up_while_data_flows() {
    let mut script = format!(
        "{HS}
         0.100 ! app-close
         0.100 > F. 1:1(0) ack 1001
         0.110 < . 1001:1001(0) ack 2 win 502
         0.110 ! state FIN-WAIT-2"
    );
    let mut seq = 1001;
    for k in 1..=6 {
        let t = 30 * k;
        script += &format!(
            "
             {t}.000 < P. {seq}:{e}(10) ack 2 win 502
             {t}.000 > . 2:2(0) ack {e}
             {t}.040 ! state FIN-WAIT-2",
            e = seq + 10
        );
        seq += 10;
    }
    script += "
         239.900 ! state FIN-WAIT-2
         239.900 ! delivered 60
         241.000 ! state CLOSED
         241.000 ! closed timedout";
    run(default_config(), &script);
}

/// RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have been issued
/// and there is no pending data to send, then form a FIN segment and send
/// it, and enter FIN-WAIT-1 state; otherwise, queue for processing after
/// entering ESTABLISHED state." Our FIN needs the handshake to complete
/// first (the SYN-ACK is not acknowledged yet), so the close is queued: the
/// retransmission timer resends the SYN-ACK (never a byte or FIN at the
/// ISS), and the handshake ACK releases the FIN at ISS + 1.
#[test]
fn close_in_syn_received_is_queued_until_established() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460>
         0.000 > S. 0:0(0) ack 1001 <mss 1460>
         0.100 ! app-close
         0.100 ! state SYN-RECEIVED
         1.000 > S. 0:0(0) ack 1001 <mss 1460>
         1.100 < . 1001:1001(0) ack 1 win 502
         1.100 > F. 1:1(0) ack 1001
         1.100 ! state FIN-WAIT-1
         1.100 ! established 1
         1.200 < . 1001:1001(0) ack 2 win 502
         1.200 ! state FIN-WAIT-2
         1.300 < F. 1001:1001(0) ack 2 win 502
         1.300 > . 2:2(0) ack 1002
         1.300 ! state TIME-WAIT",
    );
}

/// RFC 7323 §3.2: once timestamps are negotiated, TSopt "MUST be sent in
/// every non-<RST> segment ... and SHOULD be sent in an <RST> segment". The
/// reset of an abort carries TSval (our clock) and TSecr = TS.Recent.
#[test]
fn abort_reset_carries_timestamps() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 ! app-abort
             0.100 > R. 1:1(0) ack 1001 <nop,nop,TS val * ecr 110>
             0.100 ! closed aborted"
        ),
    );
}

/// RFC 7323 §3.2, as above, for the reset sent when the retransmission
/// limit runs out (RFC 9293 §3.8.3 R2).
#[test]
fn give_up_reset_carries_timestamps() {
    let mut cfg = default_config();
    cfg.conn.max_retries = 2;
    let mut h = harness_with_rx(cfg, BUF);
    h.run(&format!(
        "{HS_TS}
         0.100 ! app-send 10
         0.100 > P. 1:11(10) ack 1001 <nop,nop,TS val * ecr 110>"
    ));
    h.advance(secs(600.0));
    let mut last = None;
    while let Some((_, f)) = h.rec.out.pop_front() {
        let Ok(Frame::Tcp { tcp, .. }) = wire::parse_frame(&f, ChecksumPolicy::Verify) else {
            panic!("not a TCP frame");
        };
        last = Some((tcp.control, tcp.options.timestamps));
    }
    let (ctl, ts) = last.expect("nothing sent");
    assert_eq!(ctl, TcpControl::Rst, "the connection gives up with a reset");
    let ts = ts.expect("the reset carries no timestamps");
    assert_eq!(ts.tsecr, 110, "TSecr is TS.Recent");
}

/// The state prefixes for the out-of-window RST table, each ending by
/// 0.120 s with nothing outstanding to send before 0.3 s, and RCV.NXT.
fn state_prefixes() -> Vec<(&'static str, String, u32)> {
    let est = HS_TS.to_string();
    let fw1 = format!(
        "{est}
         0.100 ! app-close
         0.100 > F. 1:1(0) ack 1001 <nop,nop,TS val * ecr 110>"
    );
    let fw2 = format!(
        "{fw1}
         0.110 < . 1001:1001(0) ack 2 win 502 <nop,nop,TS val 120 ecr *>"
    );
    let cw = format!(
        "{est}
         0.100 < F. 1001:1001(0) ack 1 win 502 <nop,nop,TS val 120 ecr *>
         0.100 > . 1:1(0) ack 1002"
    );
    let la = format!(
        "{cw}
         0.110 ! app-close
         0.110 > F. 1:1(0) ack 1002"
    );
    let closing = format!(
        "{fw1}
         0.110 < F. 1001:1001(0) ack 1 win 502 <nop,nop,TS val 120 ecr *>
         0.110 > . 2:2(0) ack 1002"
    );
    let tw = format!(
        "{fw2}
         0.120 < F. 1001:1001(0) ack 2 win 502 <nop,nop,TS val 130 ecr *>
         0.120 > . 2:2(0) ack 1002"
    );
    let syn_rcvd = "
        0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
        0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>"
        .to_string();
    vec![
        ("SYN-RECEIVED", syn_rcvd, 1001),
        ("ESTABLISHED", est, 1001),
        ("FIN-WAIT-1", fw1, 1001),
        ("FIN-WAIT-2", fw2, 1001),
        ("CLOSE-WAIT", cw, 1002),
        ("LAST-ACK", la, 1002),
        ("CLOSING", closing, 1002),
        ("TIME-WAIT", tw, 1002),
    ]
}

/// RFC 9293 §3.10.7.4 first check ("If the RST bit is set, ... drop the
/// segment and return" for an unacceptable segment) and RFC 5961 §3.2 ("If
/// the RST bit is set and the sequence number is outside the current
/// receive window, silently drop the segment"); RFC 7323 §5.3 R1 (PAWS does
/// not reject a RST, but that makes it no more acceptable). In every state
/// from SYN-RECEIVED to TIME-WAIT, a RST outside the window -- just below
/// RCV.NXT, far below, at or past the advertised right edge, far above,
/// with and without ACK, with an old TSval, with payload starting below
/// RCV.NXT -- produces no segment and no state change.
#[test]
fn out_of_window_rst_is_dropped_silently_in_every_state() {
    let mut failures = Vec::new();
    for (name, prefix, nxt) in state_prefixes() {
        // Our advertised window: 65535 (SYN-ACK, unscaled) until an ACK
        // with a scaled window is sent; ESTABLISHED sent none. After the
        // peer's FIN the window last advertised stays the receive window
        // for RSTs (RFC 5961 §3.2 in every synchronized state, as Linux's
        // tcp_validate_incoming): the ACK of the FIN advertised 32767 << 1
        // bytes from RCV.NXT, or, from FIN-WAIT-1, the edge advertised
        // before (1001 + 65536; it never moves left). (This was `nxt + 1`,
        // when a RST anywhere but at RCV.NXT was dropped there; a RST
        // inside that window now draws a challenge ACK,
        // `trace_sweep_state.rs`.)
        let edge = match name {
            "SYN-RECEIVED" | "ESTABLISHED" => nxt + 65535,
            "FIN-WAIT-1" | "FIN-WAIT-2" => nxt + 65536,
            "CLOSE-WAIT" | "LAST-ACK" => nxt + 65534,
            _ => nxt + 65535,
        };
        let rsts = [
            format!("R {s}:{s}(0) win 0", s = nxt - 1),
            format!("R. {s}:{s}(0) ack 1 win 0", s = nxt - 1),
            format!("R {s}:{s}(0) win 0", s = nxt.wrapping_sub(100_000)),
            format!("R {s}:{s}(0) win 0", s = edge),
            format!("R. {s}:{s}(0) ack 1 win 0", s = edge + 1000),
            format!("R {s}:{s}(0) win 0", s = nxt.wrapping_add(1 << 31)),
            format!("R {s}:{s}(0) win 0 <nop,nop,TS val 1 ecr 0>", s = nxt - 1),
            format!("R. {s}:{e}(20) ack 1 win 0", s = nxt - 10, e = nxt + 10),
        ];
        for rst in rsts {
            let script = format!(
                "{prefix}
                 0.150 < {rst}
                 0.150 ! state {name}"
            );
            let r = std::panic::catch_unwind(|| {
                run(default_config(), &script);
            });
            if r.is_err() {
                failures.push(format!("{name}: `{rst}`"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "out-of-window RSTs answered or acted on:\n{}",
        failures.join("\n")
    );
}

/// RFC 5961 §7 limits challenge ACKs; an ACK for a duplicate data segment
/// is no challenge ACK (RFC 9293 §3.10.7.4 first: the unacceptable segment
/// is acknowledged; RFC 5681 §4.2: a duplicate segment is ACKed at once).
/// Linux `tcp_oow_rate_limited`: "Data packets without SYNs are not
/// subject to rate limiting". With the budget spent by ten SYNs, a
/// retransmitted data segment still gets its ACK.
#[test]
fn duplicate_data_is_acked_when_challenge_budget_is_spent() {
    let mut script = format!(
        "{HS}
         0.100 < P. 1001:1101(100) ack 1 win 502
         0.100 > . 1:1(0) ack 1101
         0.150 ! delivered 100"
    );
    for _ in 0..10 {
        script += "
             0.200 < S 5000:5000(0) win 502
             0.200 > . 1:1(0) ack 1101";
    }
    script += "
         0.210 < S 5000:5000(0) win 502
         0.300 < P. 1001:1101(100) ack 1 win 502
         0.300 > . 1:1(0) ack 1101
         0.300 ! state ESTABLISHED";
    run(default_config(), &script);
}

/// As above after the peer's FIN (CLOSE-WAIT): a retransmitted data+FIN
/// segment is ACKed although the challenge-ACK budget is spent.
#[test]
fn duplicate_data_fin_is_acked_in_close_wait_when_budget_is_spent() {
    let mut script = format!(
        "{HS}
         0.100 < FP. 1001:1101(100) ack 1 win 502
         0.100 > . 1:1(0) ack 1102"
    );
    for _ in 0..10 {
        script += "
             0.200 < S 5000:5000(0) win 502
             0.200 > . 1:1(0) ack 1102";
    }
    script += "
         0.210 < S 5000:5000(0) win 502
         0.300 < FP. 1001:1101(100) ack 1 win 502
         0.300 > . 1:1(0) ack 1102
         0.300 ! state CLOSE-WAIT";
    run(default_config(), &script);
}

/// RFC 7323 §4.3: TS.Recent follows the peer's TSval in every synchronized
/// state, CLOSE-WAIT included ("If SEG.TSval >= TS.Recent and SEG.SEQ =<
/// Last.ACK.sent, then SEG.TSval is copied to TS.Recent"). After the peer's
/// FIN, our data segments must echo the TSval of the peer's latest ACK, or
/// its RTT measurement (RFC 7323 §4.1) is taken from a stale echo.
#[test]
fn ts_recent_follows_the_peer_in_close_wait() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 < F. 1001:1001(0) ack 1 win 502 <nop,nop,TS val 120 ecr *>
             0.100 > . 1:1(0) ack 1002 <nop,nop,TS val * ecr 120>
             0.100 ! state CLOSE-WAIT
             0.110 ! app-send 10
             0.110 > P. 1:11(10) ack 1002 <nop,nop,TS val * ecr 120>
             0.120 < . 1002:1002(0) ack 11 win 502 <nop,nop,TS val 200 ecr *>
             0.130 ! app-send 10
             0.130 > P. 11:21(10) ack 1002 <nop,nop,TS val * ecr 200>"
        ),
    );
}

/// RFC 9293 §3.10.5, ABORT in "CLOSING STATE, LAST-ACK STATE, TIME-WAIT
/// STATE: Respond with "ok" and delete the TCB, enter CLOSED state, and
/// return" -- no reset (Linux `tcp_need_reset` excludes them too); the
/// application still learns that the connection is gone.
#[test]
fn abort_in_last_ack_closing_and_time_wait_sends_no_reset() {
    let prefixes = state_prefixes();
    for (name, prefix, _) in prefixes {
        if !matches!(name, "LAST-ACK" | "CLOSING" | "TIME-WAIT") {
            continue;
        }
        let h = run(
            default_config(),
            &format!(
                "{prefix}
                 0.150 ! app-abort
                 0.150 ! state CLOSED
                 0.150 ! closed aborted"
            ),
        );
        assert_eq!(h.ep.len(), 0, "{name}");
    }
}

/// RFC 9293 §3.10.7.4, TIME-WAIT: a bare ACK at RCV.NXT is acceptable and
/// "The only thing that can arrive in this state is a retransmission of the
/// remote FIN": the ACK is not answered (an ACK for an ACK), as in Linux's
/// `tcp_timewait_state_process`; the retransmitted FIN still is.
#[test]
fn time_wait_does_not_answer_a_bare_ack() {
    let (_, tw, _) = state_prefixes()
        .into_iter()
        .find(|(n, _, _)| *n == "TIME-WAIT")
        .expect("prefix");
    run(
        default_config(),
        &format!(
            "{tw}
             0.150 < . 1002:1002(0) ack 2 win 502 <nop,nop,TS val 140 ecr *>
             0.160 < F. 1001:1001(0) ack 2 win 502 <nop,nop,TS val 150 ecr *>
             0.160 > . 2:2(0) ack 1002
             0.170 ! state TIME-WAIT"
        ),
    );
}

/// RFC 9293 §3.8.6.3 / RFC 5681 §4.2: "an ACK SHOULD be generated for at
/// least every second full-sized segment". With timestamps, every segment
/// of the peer carries 12 option bytes inside our MSS (RFC 6691), so a
/// full-sized segment holds MSS - 12 = 1448 bytes: the second one is
/// acknowledged at once, not after a third or the delayed-ACK timer. At
/// the start of the connection (quick-ACK mode, Linux `tcp_incr_quickack`,
/// issue #16) each one is; the ACK per two segments after quick-ACK mode
/// is `trace_established.rs::ack_every_second_measured_segment_after_quick_ack`.
#[test]
fn every_second_full_sized_segment_is_acked_with_timestamps() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 < . 1001:2449(1448) ack 1 win 502 <nop,nop,TS val 120 ecr *>
             0.100 > . 1:1(0) ack 2449
             0.101 < . 2449:3897(1448) ack 1 win 502 <nop,nop,TS val 121 ecr *>
             0.101 > . 1:1(0) ack 3897
             0.200 ! delivered 2896"
        ),
    );
}

/// RFC 9293 §3.8.6.1: "The transmitting host SHOULD send the first
/// zero-window probe when a zero window has existed for the retransmission
/// timeout period ... and SHOULD increase exponentially the interval between
/// successive probes" (MUST-36 / SHLD-29) -- in CLOSE-WAIT too, where the
/// application still sends after the peer's FIN. Without probes a lost
/// window update leaves both ends waiting for ever.
#[test]
fn zero_window_is_probed_in_close_wait() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 0
             0.100 > . 1:1(0) ack 1002
             0.110 ! app-send 10
             0.310 > . 1:2(1) ack 1002
             0.710 > . 1:2(1) ack 1002
             0.720 < . 1002:1002(0) ack 1 win 502
             0.720 > P. 1:11(10) ack 1002
             0.730 < . 1002:1002(0) ack 11 win 502
             0.730 ! state CLOSE-WAIT"
        ),
    );
}
