//! Packet traces for the state-machine defects found by the conformance
//! sweep (`CONFORMANCE.md`, "Defects found by the sweep": D4, D5, D6, D11,
//! D17, D24, and the handshake-reset, half-closed RST and FIN-WAIT-1
//! zero-window items). Each test names the RFC rule it checks.

mod common;
use common::{default_config, no_nagle, run, Harness};
use tcpcore::CloseReason;

const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// The handshake with timestamps (TS.Recent ends at 110).
const HS_TS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
    0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>";

// ---------------------------------------------------------------- D4 / D5

/// D4, RFC 6298 §5.7: "If the timer expires awaiting the ACK of a SYN
/// segment and the TCP implementation is using an RTO less than 3 seconds,
/// the RTO MUST be re-initialized to 3 seconds when data transmission
/// begins". The SYN-ACK timed out and the handshake ACK has no timestamps,
/// so there is no RTT sample: the first data segment is retransmitted 3 s
/// after it was sent (the loss probe of RFC 8985 §7.2, without an SRTT due
/// after 1 s, is sent first and re-arms the RTO).
#[test]
fn synack_timeout_sets_rto_to_3s() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         1.000 > S. 0:0(0) ack 1001
         1.010 < . 1001:1001(0) ack 1 win 502
         1.100 ! app-send 100
         1.100 > P. 1:101(100) ack 1001
         2.100 > P. 1:101(100) ack 1001
         5.100 > P. 1:101(100) ack 1001",
    );
}

/// D4, RFC 5681 §3.1: "If the SYN or SYN/ACK is lost, the initial window
/// used by a sender after a correctly transmitted SYN MUST be one segment
/// consisting of SMSS bytes." After a SYN-ACK timeout the first flight is
/// one segment; its ACK opens the window to two (slow start).
#[test]
fn synack_timeout_sets_initial_window_to_one_segment() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         1.000 > S. 0:0(0) ack 1001
         1.010 < . 1001:1001(0) ack 1 win 502
         1.100 ! app-send 5000
         1.100 > . 1:1461(1460) ack 1001
         1.200 < . 1001:1001(0) ack 1461 win 502
         1.200 > . 1461:2921(1460) ack 1001
         1.200 > . 2921:4381(1460) ack 1001",
    );
}

/// D4 with timestamps: the handshake ACK echoes the TSval of the
/// retransmitted SYN-ACK, so RFC 7323 §4.1 gives an unambiguous RTT sample
/// (10 ms): the RTO comes from it (the 200 ms floor) instead of the 3 s of
/// RFC 6298 §5.7, and the loss probe (RFC 8985 §7.2, 2 SRTT + 200 ms,
/// capped by the RTO) fires at 1.3 s; with new data queued and room in the
/// peer's window the probe is the next new segment (RFC 8985 §7.3, D10).
/// The first SYN-ACK was still lost (the echo is not its TSval), so the
/// initial window is one segment (RFC 5681 §3.1): nothing else goes before
/// the probe.
#[test]
fn synack_timeout_with_ts_sample_keeps_measured_rto_and_iw1() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         1.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         1.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
         1.100 ! app-send 3000
         1.100 > . 1:1449(1448) ack 1001
         1.300 > . 1449:2897(1448) ack 1001",
    );
}

/// D4, the spurious case (Linux `tcp_try_undo_spurious_syn`): the handshake
/// ACK echoes the TSval of the *first* SYN-ACK, so that one was not lost --
/// only its ACK was late -- and RFC 5681 §3.1's one-segment window does not
/// apply: the initial window stays ten segments (RFC 6928).
#[test]
fn synack_spurious_timeout_keeps_initial_window() {
    let mut h = Harness::new(no_nagle());
    h.run(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>",
    );
    let first = h.last_tsval;
    h.run(&format!(
        "1.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         1.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr {first}>
         1.100 ! app-send 3000
         1.100 > . 1:1449(1448) ack 1001
         1.100 > . 1449:2897(1448) ack 1001
         1.100 > P. 2897:3001(104) ack 1001"
    ));
}

/// D5, RFC 6298 §3 (Karn, MUST-18): "RTT samples MUST NOT be made using
/// segments that were retransmitted". The SYN-ACK was sent again for a
/// retransmitted SYN, so the handshake ACK (without timestamps) gives no
/// sample: the RTO stays at the initial 1 s and the data is retransmitted
/// at 1.6 s. (A 510 ms sample would put the RTO at 1.53 s and send a loss
/// probe at 1.62 s instead.)
#[test]
fn karn_no_rtt_sample_after_synack_resent_for_duplicate_syn() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.500 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.500 > S. 0:0(0) ack 1001
         0.510 < . 1001:1001(0) ack 1 win 502
         0.600 ! app-send 100
         0.600 > P. 1:101(100) ack 1001
         1.600 > P. 1:101(100) ack 1001",
    );
}

// ---------------------------------------------------------------- D11

/// D11, RFC 9293 §3.10.7.4 fourth, SYN-RECEIVED: "If the connection was
/// initiated with a passive OPEN, then return this connection to the LISTEN
/// state and return." A SYN in the window with another sequence number than
/// the original one (not a retransmission) ends the embryonic connection,
/// without a reply (Linux `tcp_check_req` sends a RST here); the listener
/// stays, so the port answers the next SYN as before.
#[test]
fn syn_received_new_syn_in_window_returns_to_listen() {
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.100 < S 5000:5000(0) win 64240
         0.100 ! state CLOSED",
    );
    assert!(
        h.rec.closed.is_empty(),
        "no Closed event: {:?}",
        h.rec.closed
    );
    assert_eq!(h.ep.stats().handshakes_failed_by(CloseReason::Reset), 1);
    // A new connection has a new ISS, which the harness learns again.
    h.iss = None;
    h.run(
        "0.200 < S 7000:7000(0) win 64240
         0.200 > S. 0:0(0) ack 7001
         0.200 ! state SYN-RECEIVED",
    );
}

/// D11: a SYN-ACK in SYN-RECEIVED whose sequence number is in the window is
/// a SYN too (RFC 9293 §3.10.7.4 fourth comes before the ACK check): the
/// embryonic connection goes, nothing is sent.
#[test]
fn syn_received_syn_ack_in_window_returns_to_listen() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.100 < S. 1500:1500(0) ack 1 win 64240
         0.100 ! state CLOSED",
    );
}

/// D11: a SYN outside the window is not acceptable (RFC 9293 §3.10.7.4
/// first: "an acknowledgment should be sent in reply"), and the connection
/// stays; the retransmitted original SYN still gets the SYN-ACK again.
#[test]
fn syn_received_syn_out_of_window_is_acked() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.100 < S 500:500(0) win 64240
         0.100 > . 1:1(0) ack 1001
         0.100 ! state SYN-RECEIVED
         0.200 < S 1000:1000(0) win 64240
         0.200 > S. 0:0(0) ack 1001
         0.300 < . 1001:1001(0) ack 1 win 502
         0.300 ! state ESTABLISHED",
    );
}

// ---------------------------------------------------------------- handshake RST

/// RFC 9293 §3.10.7.4 second (SYN-RECEIVED, passive open): a RST at
/// RCV.NXT returns the connection to LISTEN. The application never learnt
/// of it (no `Established`), so it gets no `Closed` event either; the
/// endpoint counts it in `Stats::handshakes_failed`, not in `Stats::closed`.
#[test]
fn syn_received_reset_is_not_reported_as_closed() {
    let h = run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < R 1001:1001(0) win 0
         0.010 ! state CLOSED
         0.010 ! established 0",
    );
    assert!(
        h.rec.closed.is_empty(),
        "no Closed event: {:?}",
        h.rec.closed
    );
    let s = h.ep.stats();
    assert_eq!(s.closed_by(CloseReason::Reset), 0);
    assert_eq!(s.handshakes_failed_by(CloseReason::Reset), 1);
}

// ---------------------------------------------------------------- D24

/// D24, RFC 5681 §4.2: "A TCP receiver SHOULD send an immediate duplicate
/// ACK when an out-of-order segment arrives"; a FIN above a gap occupies a
/// sequence number, so it is one (Linux queues it out of order and ACKs at
/// once).
#[test]
fn out_of_order_bare_fin_gets_immediate_dup_ack() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < F. 1101:1101(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1001
             0.200 < P. 1001:1101(100) ack 1 win 502
             0.200 > . 1:1(0) ack 1102
             0.200 ! state CLOSE-WAIT"
        ),
    );
}

// ---------------------------------------------------------------- D17 / D6

/// The close of `HS` into TIME-WAIT.
const TO_TIME_WAIT: &str = "
    0.100 ! app-close
    0.100 > F. 1:1(0) ack 1001
    0.110 < F. 1001:1001(0) ack 2 win 502
    0.110 > . 2:2(0) ack 1002
    0.110 ! state TIME-WAIT";

/// D17, RFC 5961 §7: the ACKs TIME-WAIT sends for segments it cannot accept
/// -- retransmitted FINs included -- share the challenge-ACK budget (10 a
/// second): the eleventh and twelfth FIN within the second go unanswered, a
/// FIN in the next second is answered again.
#[test]
fn time_wait_fin_acks_are_rate_limited() {
    let mut script = format!("{HS}{TO_TIME_WAIT}\n");
    for i in 0..12 {
        let t = 0.200 + 0.001 * f64::from(i);
        script.push_str(&format!("{t:.3} < F. 1001:1001(0) ack 2 win 502\n"));
        if i < 10 {
            script.push_str(&format!("{t:.3} > . 2:2(0) ack 1002\n"));
        }
    }
    script.push_str(
        "0.500 tick
         1.200 < F. 1001:1001(0) ack 2 win 502
         1.200 > . 2:2(0) ack 1002",
    );
    run(default_config(), &script);
}

/// D6 in TIME-WAIT, RFC 7323 §4.3: "If SEG.TSval >= TS.Recent and SEG.SEQ
/// =< Last.ACK.sent, then SEG.TSval is copied to TS.Recent": the ACK of a
/// retransmitted FIN echoes that FIN's TSval. RFC 7323 §5.3 R1 (PAWS): a
/// segment with an older TSval is not acceptable -- acknowledged (echoing
/// TS.Recent) and dropped, even a bare ACK at RCV.NXT that TIME-WAIT would
/// otherwise take silently.
#[test]
fn time_wait_updates_ts_recent_and_applies_paws() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001 <nop,nop,TS val * ecr 110>
             0.110 < F. 1001:1001(0) ack 2 win 502 <nop,nop,TS val 200 ecr *>
             0.110 > . 2:2(0) ack 1002 <nop,nop,TS val * ecr 200>
             0.110 ! state TIME-WAIT
             0.500 < F. 1001:1001(0) ack 2 win 502 <nop,nop,TS val 300 ecr *>
             0.500 > . 2:2(0) ack 1002 <nop,nop,TS val * ecr 300>
             0.600 < . 1002:1002(0) ack 2 win 502 <nop,nop,TS val 250 ecr *>
             0.600 > . 2:2(0) ack 1002 <nop,nop,TS val * ecr 300>
             0.600 ! drops paws 1
             0.700 < . 1002:1002(0) ack 2 win 502 <nop,nop,TS val 310 ecr *>
             0.800 tick
             0.800 ! state TIME-WAIT"
        ),
    );
}

// ---------------------------------------------------------------- RST after FIN

/// RFC 5961 §3.2 in CLOSE-WAIT (a synchronized state): a RST in the
/// window but not at RCV.NXT gets a challenge ACK and changes nothing; the
/// RST at RCV.NXT then resets the connection.
#[test]
fn close_wait_in_window_rst_gets_challenge_ack() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1002
             0.100 ! state CLOSE-WAIT
             0.200 < R 1500:1500(0) win 0
             0.200 > . 1:1(0) ack 1002
             0.200 ! state CLOSE-WAIT
             0.300 < R 1002:1002(0) win 0
             0.300 ! state CLOSED
             0.300 ! closed reset"
        ),
    );
}

/// RFC 5961 §3.2 in LAST-ACK.
#[test]
fn last_ack_in_window_rst_gets_challenge_ack() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1002
             0.150 ! app-close
             0.150 > F. 1:1(0) ack 1002
             0.150 ! state LAST-ACK
             0.200 < R 1500:1500(0) win 0
             0.200 > . 2:2(0) ack 1002
             0.200 ! state LAST-ACK
             0.300 < R 1002:1002(0) win 0
             0.300 ! state CLOSED
             0.300 ! closed reset"
        ),
    );
}

/// RFC 5961 §3.2 in CLOSING (simultaneous close).
#[test]
fn closing_in_window_rst_gets_challenge_ack() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001
             0.110 < F. 1001:1001(0) ack 1 win 502
             0.110 > . 2:2(0) ack 1002
             0.110 ! state CLOSING
             0.150 < R 1500:1500(0) win 0
             0.150 > . 2:2(0) ack 1002
             0.150 ! state CLOSING
             0.160 < R 1002:1002(0) win 0
             0.160 ! state CLOSED
             0.160 ! closed reset"
        ),
    );
}

/// RFC 5961 §3.2 in TIME-WAIT.
#[test]
fn time_wait_in_window_rst_gets_challenge_ack() {
    run(
        default_config(),
        &format!(
            "{HS}{TO_TIME_WAIT}
             0.200 < R 1500:1500(0) win 0
             0.200 > . 2:2(0) ack 1002
             0.200 ! state TIME-WAIT
             0.300 < R 1002:1002(0) win 0
             0.300 ! state CLOSED"
        ),
    );
}

// ---------------------------------------------------------------- FIN-WAIT-1

/// RFC 9293 §3.10.7.4 fifth, FIN-WAIT-1: "if the FIN segment is now
/// acknowledged, then enter FIN-WAIT-2". An ACK of our FIN that closes the
/// window does so too: there is nothing left to send, so nothing to probe.
#[test]
fn fin_wait1_fin_acked_with_zero_window_enters_fin_wait2() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.100 ! app-close
             0.100 > F. 101:101(0) ack 1001
             0.200 < . 1001:1001(0) ack 102 win 0
             0.200 ! state FIN-WAIT-2
             5.000 tick
             5.000 ! state FIN-WAIT-2"
        ),
    );
}

/// As above, with the window already closed when the application closes:
/// the FIN still goes, and the ACK that takes it, with a zero window again,
/// enters FIN-WAIT-2; no probes follow.
#[test]
fn fin_wait1_fin_probe_acked_with_zero_window_enters_fin_wait2() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.150 < . 1001:1001(0) ack 101 win 0
             0.200 ! app-close
             0.200 > F. 101:101(0) ack 1001
             0.210 < . 1001:1001(0) ack 102 win 0
             0.210 ! state FIN-WAIT-2
             5.000 tick
             5.000 ! state FIN-WAIT-2"
        ),
    );
}

/// Zero-window probing in FIN-WAIT-1 (RFC 9293 §3.8.6.1) ends when an ACK
/// takes everything, the FIN included, even with the window still zero:
/// FIN-WAIT-2, and no more probes.
#[test]
fn fin_wait1_probing_ends_when_fin_acked_with_zero_window() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 0
         0.100 ! app-send 1
         0.100 ! app-close
         0.100 ! state FIN-WAIT-1
         0.300 > P. 1:2(1) ack 1001
         0.300 > F. 2:2(0) ack 1001
         0.310 < . 1001:1001(0) ack 3 win 0
         0.310 ! state FIN-WAIT-2
         5.000 tick
         5.000 ! state FIN-WAIT-2",
    );
}
