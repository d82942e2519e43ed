//! Packet traces for LISTEN and SYN-RECEIVED (RFC 9293 §3.10.7.1-§3.10.7.4,
//! RFC 7323, RFC 2018, RFC 6298, RFC 5961).

mod common;
use common::{default_config, run, run_both};

const SYN_FULL: &str =
    "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>";

/// RFC 9293 §3.10.7.2: a SYN to LISTEN gets <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>;
/// the SYN-ACK carries our MSS and, because the client offered them, window
/// scale (RFC 7323 §2.2), SACK-permitted (RFC 2018 §2) and timestamps
/// echoing the client's TSval (RFC 7323 §3.2). The SYN's window is never
/// scaled.
#[test]
fn listen_syn_gets_syn_ack_with_negotiated_options() {
    let (h, _) = run_both(
        default_config(),
        &format!(
            "{SYN_FULL}
             0.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
             0.000 ! state SYN-RECEIVED"
        ),
    );
    assert_eq!(h.ep.half_open(), 1);
}

/// RFC 7323 §2.2 / RFC 2018 §2: options the client did not offer are not
/// sent in the SYN-ACK; RFC 9293 §3.7.1: the MSS always is.
#[test]
fn listen_syn_without_options_gets_mss_only() {
    run(
        default_config(),
        "0.000 < S 5000:5000(0) win 8192
         0.000 > S. 0:0(0) ack 5001 win 65535 <mss 1460>",
    );
}

/// RFC 7323 §2.3: a window shift above 14 is used as 14 -- and ours is the
/// one our buffer needs, whatever the client asks.
#[test]
fn listen_syn_with_huge_wscale_is_accepted() {
    run_both(
        default_config(),
        "0.000 < S 5000:5000(0) win 8192 <mss 1460,wscale 15>
         0.000 > S. 0:0(0) ack 5001 win 65535 <mss 1460,wscale 1>
         0.010 < . 5001:5001(0) ack 1 win 2
         0.010 ! state ESTABLISHED",
    );
}

/// RFC 9293 §3.10.7.1: a segment with an ACK for no connection gets
/// <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn no_connection_ack_gets_reset_at_seg_ack() {
    let (h, _) = run_both(
        default_config(),
        "0.000 < . 7000:7000(0) ack 12345 win 100
         0.000 > R 12345:12345(0)
         0.000 ! drops no-connection 1",
    );
    assert_eq!(h.ep.stats().resets_sent, 1);
}

/// RFC 9293 §3.10.7.2, fourth: on the listening port, data without ACK "must
/// have an ACK and thus would be discarded ... drop the segment, and
/// return": no reset. (The <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK> reset
/// of §3.10.7.1 is for a CLOSED port: `trace_listen.rs`.)
#[test]
fn listen_drops_data_without_ack() {
    run(
        default_config(),
        "0.000 < P 7000:7010(10) win 100
         0.000 ! drops no-connection 1
         0.000 ! conns 0",
    );
}

/// RFC 9293 §3.10.7.1: "An incoming segment containing a RST is discarded."
#[test]
fn no_connection_reset_is_never_answered() {
    run(
        default_config(),
        "0.000 < R 7000:7000(0) win 0
         0.000 ! drops no-connection 1
         0.000 ! conns 0",
    );
}

/// RFC 9293 §3.10.7.2: a SYN-ACK arriving at LISTEN is "bad" -- its ACK
/// gets a reset.
#[test]
fn listen_syn_ack_gets_reset() {
    run(
        default_config(),
        "0.000 < S. 7000:7000(0) ack 99 win 100
         0.000 > R 99:99(0)",
    );
}

/// RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED): "If SND.UNA < SEG.ACK =< SND.NXT,
/// then enter ESTABLISHED state"; the window is taken from the segment.
#[test]
fn syn_received_ack_completes_handshake() {
    let h = run(
        default_config(),
        &format!(
            "{SYN_FULL}
             0.000 > S. 0:0(0) ack 1001
             0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr 0>
             0.010 ! state ESTABLISHED
             0.010 ! established 1"
        ),
    );
    assert_eq!(h.ep.half_open(), 0);
    assert_eq!(h.rec.states.len(), 2);
}

/// RFC 9293 §3.10.7.4 fifth (SYN-RECEIVED): "If the segment acknowledgment is
/// not acceptable, form a reset segment <SEQ=SEG.ACK><CTL=RST>".
#[test]
fn syn_received_bad_ack_gets_reset() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 5 win 502
         0.010 > R 5:5(0)
         0.010 ! state SYN-RECEIVED",
    );
}

/// The retransmission debounce: a retransmitted SYN in SYN-RECEIVED gets
/// the same SYN-ACK at once; further duplicates at most once per 500 ms
/// (Linux `tcp_oow_rate_limited`).
#[test]
fn syn_received_duplicate_syn_is_answered_once_per_interval() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460>
         0.000 > S. 0:0(0) ack 1001 <mss 1460>
         0.050 < S 1000:1000(0) win 64240 <mss 1460>
         0.050 > S. 0:0(0) ack 1001 <mss 1460>
         0.100 tick
         0.300 < S 1000:1000(0) win 64240 <mss 1460>
         0.550 < S 1000:1000(0) win 64240 <mss 1460>
         0.550 > S. 0:0(0) ack 1001 <mss 1460>
         0.600 ! conns 1",
    );
}

/// RFC 6298 §5.5 and §2.1: the SYN-ACK is retransmitted after an initial RTO
/// of 1 s, doubling each time; after 5 retries the embryonic connection is
/// dropped.
///
/// The end was checked with `closed timedout`, an `AppEvent::Closed`. A
/// connection that was never established is no longer reported closed to
/// the application, which never heard of it (no `Established`); the end
/// is counted in `Stats::handshakes_failed` instead, checked here.
#[test]
fn syn_received_synack_backoff_then_drop() {
    let h = run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         1.000 > S. 0:0(0) ack 1001
         3.000 > S. 0:0(0) ack 1001
         7.000 > S. 0:0(0) ack 1001
         15.000 > S. 0:0(0) ack 1001
         31.000 > S. 0:0(0) ack 1001
         62.000 ! state SYN-RECEIVED
         63.000 ! state CLOSED",
    );
    assert_eq!(h.ep.half_open(), 0);
    assert_eq!(h.ep.stats().retransmits, 5);
    assert!(h.rec.closed.is_empty(), "{:?}", h.rec.closed);
    assert_eq!(
        h.ep.stats()
            .handshakes_failed_by(tcpcore::CloseReason::TimedOut),
        1
    );
}

/// RFC 5961 §3.2 / RFC 9293 §3.10.7.4 second: a RST at exactly RCV.NXT in
/// SYN-RECEIVED (passive open) removes the embryonic connection.
///
/// The end was checked with `closed reset`, an `AppEvent::Closed`; the
/// application never heard of this connection, so it is now counted in
/// `Stats::handshakes_failed` instead (see `trace_sweep_state.rs`).
#[test]
fn syn_received_exact_reset_closes() {
    let h = run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < R 1001:1001(0) win 0
         0.010 ! state CLOSED",
    );
    assert!(h.rec.closed.is_empty(), "{:?}", h.rec.closed);
    assert_eq!(
        h.ep.stats()
            .handshakes_failed_by(tcpcore::CloseReason::Reset),
        1
    );
}

/// RFC 9293 §3.10.7.4 fifth: the ACK that completes the handshake may carry
/// data and a FIN; both are processed in ESTABLISHED right after.
#[test]
fn syn_received_ack_with_data_and_fin() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < FP. 1001:1006(5) ack 1 win 502
         0.010 > . 1:1(0) ack 1007
         0.010 ! delivered 5
         0.010 ! peer-closed
         0.010 ! state CLOSE-WAIT",
    );
}

/// A full table drops new SYNs and leaves the existing connection untouched.
#[test]
fn full_table_drops_new_syns() {
    let mut h = common::Harness::with_slots(default_config(), 1);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502",
    );
    h.port = 40001;
    h.run(
        "0.020 < S 3000:3000(0) win 64240
         0.020 ! drops table-full 1
         0.020 ! conns 1",
    );
    h.port = common::CLIENT_PORT;
    h.run("0.030 ! state ESTABLISHED");
}

/// The half-open bound: without SYN cookies, SYNs beyond it are dropped.
#[test]
fn half_open_bound() {
    let mut cfg = default_config();
    cfg.max_half_open = 1;
    cfg.conn.syn_cookies = false;
    let mut h = common::Harness::new(cfg);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    h.port = 40001;
    h.run(
        "0.010 < S 3000:3000(0) win 64240
         0.010 ! drops half-open-full 1",
    );
}
