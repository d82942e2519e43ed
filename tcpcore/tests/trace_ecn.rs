//! Issue #16, ECN (RFC 3168 §6.1) with Linux's default policy (`tcp_ecn =
//! 2`), as packet traces in the manner of packetdrill's `tcp/ecn/`
//! scripts: the IP header's ECN field is written before the flags
//! (`[ect0]`, `[ce]`, `[noecn]`), set on incoming segments and checked on
//! outgoing ones. Flags print as `TcpFlags` does: `SEW` is a SYN with ECE
//! and CWR, `SE.` a SYN-ACK with ECE, `E.` an ACK with ECE, `W.` one with
//! CWR.
//!
//! The client offers an MSS of 1000 and no timestamps, so every full
//! segment carries 1000 bytes and SMSS is 1000.

mod common;

use common::{default_config, no_nagle, run, Harness};
use tcpcore::conn::Ecn;
use tcpcore::{CongestionControl, EndpointConfig, State};

/// [`no_nagle`] with NewReno, whose ssthresh (FlightSize / 2) the traces
/// of the sender's reduction assert.
fn newreno() -> EndpointConfig {
    let mut c = no_nagle();
    c.conn.congestion_control = CongestionControl::NewReno;
    c
}

/// An ECN-setup handshake at 100 ms (RFC 3168 §6.1.1): the SYN has ECE and
/// CWR, the SYN-ACK ECE alone, and neither is ECT.
const HS_ECN: &str = "
    0.100 < SEW 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
    0.100 > [noecn] SE. 0:0(0) ack 1001
    0.110 < . 1001:1001(0) ack 1 win 502";

/// The one connection's (ssthresh, cwnd).
fn cc_of(h: &Harness) -> (u32, u32) {
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    match h.ep.state(id) {
        Some(State::Established(o)) => (o.snd().cc().ssthresh(), o.snd().cc().cwnd()),
        other => panic!("not established: {other:?}"),
    }
}

/// Whether the connection from the harness's port negotiated ECN.
fn ecn_of(h: &Harness) -> bool {
    let (id, _, _) =
        h.ep.connections()
            .find(|(_, t, _)| t.remote_port == h.port)
            .expect("a connection");
    match h.ep.state(id) {
        Some(State::Established(o)) => o.tcb().ecn().negotiated(),
        other => panic!("not established: {other:?}"),
    }
}

/// RFC 3168 §6.1.1 and §6.1.2: a SYN with ECE and CWR gets a SYN-ACK with
/// ECE and not CWR; new data then goes ECT(0) (Linux `tcp_ecn_send`).
#[test]
fn ecn_setup_syn_is_accepted_and_data_is_ect0() {
    let h = run(
        no_nagle(),
        &format!(
            "{HS_ECN}
            0.200 ! app-send 3000
            0.200 > [ect0] . 1:1001(1000) ack 1001
            0.200 > [ect0] . 1001:2001(1000) ack 1001
            0.200 > [ect0] P. 2001:3001(1000) ack 1001
            0.210 < . 1001:1001(0) ack 3001 win 502"
        ),
    );
    assert!(ecn_of(&h));
}

/// RFC 3168 §6.1.1: "a host ... MUST NOT" take a SYN with only ECE (or
/// none) as an ECN-setup SYN: a plain SYN-ACK, and no ECT on data later.
#[test]
fn syn_without_both_flags_gets_plain_syn_ack() {
    for flags in ["SE", "SW", "S"] {
        let h = run(
            no_nagle(),
            &format!(
                "0.100 < {flags} 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
                0.100 > [noecn] S. 0:0(0) ack 1001
                0.110 < . 1001:1001(0) ack 1 win 502
                0.200 ! app-send 1000
                0.200 > [noecn] P. 1:1001(1000) ack 1001
                0.210 < . 1001:1001(0) ack 1001 win 502"
            ),
        );
        assert!(!ecn_of(&h), "{flags}");
    }
}

/// Linux `tcp_ecn_create_request` (`!ect`): an ECN-setup SYN whose own IP
/// header is ECT or CE (RFC 3168 §6.1.1: SYNs MUST NOT be ECT) is not
/// taken as asking for ECN.
#[test]
fn ect_marked_syn_gets_plain_syn_ack() {
    for mark in ["[ect0]", "[ect1]", "[ce]"] {
        run(
            no_nagle(),
            &format!(
                "0.100 < {mark} SEW 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
                0.100 > [noecn] S. 0:0(0) ack 1001"
            ),
        );
    }
}

/// `Config::ecn = Off` (Linux `tcp_ecn = 0`) refuses ECN.
#[test]
fn ecn_off_refuses() {
    let mut cfg = no_nagle();
    cfg.conn.ecn = Ecn::Off;
    let h = run(
        cfg,
        "0.100 < SEW 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
        0.100 > [noecn] S. 0:0(0) ack 1001
        0.110 < . 1001:1001(0) ack 1 win 502
        0.200 ! app-send 1000
        0.200 > [noecn] P. 1:1001(1000) ack 1001
        0.210 < [ce] P. 1001:2001(1000) ack 1001 win 502
        0.210 > [noecn] . 1001:1001(0) ack 2001",
    );
    assert!(!ecn_of(&h));
}

/// RFC 3168 §6.1.5: "the TCP data sender MUST NOT set either an ECT
/// codepoint or CWR on retransmitted packets"; §6.1.4: pure ACKs are
/// Not-ECT. The lost segment goes again, Not-ECT, when the loss probe
/// fires (RFC 8985 §7.3: the last segment again).
#[test]
fn retransmissions_and_pure_acks_are_not_ect() {
    run(
        no_nagle(),
        &format!(
            "{HS_ECN}
            0.200 ! app-send 1000
            0.200 > [ect0] P. 1:1001(1000) ack 1001
            0.400 > [noecn] P. 1:1001(1000) ack 1001
            0.410 < . 1001:1001(0) ack 1001 win 502
            0.500 < [ect0] P. 1001:1501(500) ack 1001 win 502
            0.500 > [noecn] . 1001:1001(0) ack 1501"
        ),
    );
}

/// RFC 3168 §6.1.6 (as the issue has it): a zero-window probe is not ECT,
/// though its byte was never sent; the data that follows when the window
/// opens starts with that byte again, so it is not ECT either.
#[test]
fn zero_window_probe_is_not_ect() {
    run(
        no_nagle(),
        &format!(
            "{HS_ECN}
            0.150 < . 1001:1001(0) ack 1 win 0
            0.200 ! app-send 100
            0.400 > [noecn] . 1:2(1) ack 1001
            0.410 < . 1001:1001(0) ack 1 win 502
            0.410 > [noecn] P. 1:101(100) ack 1001
            0.420 < . 1001:1001(0) ack 101 win 502
            0.500 ! app-send 100
            0.500 > [ect0] P. 101:201(100) ack 1001"
        ),
    );
}

/// The client's 16 segments that use up the quick-ACK mode of the start of
/// the connection (Linux `tcp_incr_quickack`: 16 ACKs at most), each
/// acknowledged at once, from 0.200 s; then every second full-sized
/// segment is acknowledged, a lone one after the delayed-ACK time.
fn quick_acks_used_up() -> String {
    let mut s = String::new();
    for k in 0..16u32 {
        let seq = 1001 + 1000 * k;
        s += &format!(
            "0.{t:03} < [ect0] . {seq}:{e}(1000) ack 1 win 502\n\
             0.{t:03} > [noecn] . 1:1(0) ack {e}\n",
            t = 200 + k,
            e = seq + 1000
        );
    }
    s
}

/// RFC 3168 §6.1.3: a data segment with CE makes every ACK carry ECE until
/// a data segment with CWR arrives. As Linux (`__tcp_ecn_check_ce` →
/// `tcp_enter_quickack_mode(sk, 2)`), the segment with CE is acknowledged
/// at once (not after the delayed-ACK time a lone segment waits otherwise)
/// and so is the next; the one after that waits again. The CWR segment is
/// acknowledged at once (Linux `tcp_ecn_accept_cwr`), without ECE. Once
/// ECT has been seen, a Not-ECT data segment (likely a retransmission) is
/// acknowledged at once too (Linux's "funny extension" in
/// `__tcp_ecn_check_ce`).
#[test]
fn ce_is_echoed_with_ece_until_cwr() {
    run(
        no_nagle(),
        &format!(
            "{HS_ECN}
            {quick}
            0.300 < [ce] . 17001:18001(1000) ack 1 win 502
            0.300 > [noecn] E. 1:1(0) ack 18001
            0.301 < [ect0] . 18001:19001(1000) ack 1 win 502
            0.301 > [noecn] E. 1:1(0) ack 19001
            0.302 < [ect0] . 19001:20001(1000) ack 1 win 502
            0.342 > [noecn] E. 1:1(0) ack 20001
            0.400 < [ect0] W. 20001:21001(1000) ack 1 win 502
            0.400 > [noecn] . 1:1(0) ack 21001
            0.500 < [ect0] . 21001:22001(1000) ack 1 win 502
            0.540 > [noecn] . 1:1(0) ack 22001
            0.600 < [noecn] . 22001:23001(1000) ack 1 win 502
            0.600 > [noecn] . 1:1(0) ack 23001",
            quick = quick_acks_used_up()
        ),
    );
}

/// The echo also rides on our data (Linux `tcp_ecn_send`: ECE on every
/// segment while `TCP_ECN_DEMAND_CWR`).
#[test]
fn ece_rides_on_data() {
    run(
        no_nagle(),
        &format!(
            "{HS_ECN}
            0.200 < [ce] P. 1001:2001(1000) ack 1 win 502
            0.200 > [noecn] E. 1:1(0) ack 2001
            0.210 ! app-send 1000
            0.210 > [ect0] PE. 1:1001(1000) ack 2001
            0.220 < [ect0] PW. 2001:3001(1000) ack 1001 win 502
            0.220 > [noecn] . 1001:1001(0) ack 3001"
        ),
    );
}

/// Ten segments in flight (the initial window, [1, 10001)), ECN on.
const TEN_OUT: &str = "
    0.200 ! app-send 12000
    0.200 > [ect0] . 1:1001(1000) ack 1001
    0.200 > [ect0] . 1001:2001(1000) ack 1001
    0.200 > [ect0] . 2001:3001(1000) ack 1001
    0.200 > [ect0] . 3001:4001(1000) ack 1001
    0.200 > [ect0] . 4001:5001(1000) ack 1001
    0.200 > [ect0] . 5001:6001(1000) ack 1001
    0.200 > [ect0] . 6001:7001(1000) ack 1001
    0.200 > [ect0] . 7001:8001(1000) ack 1001
    0.200 > [ect0] . 8001:9001(1000) ack 1001
    0.200 > [ect0] . 9001:10001(1000) ack 1001";

/// RFC 3168 §6.1.2: an ACK with ECE makes the sender reduce cwnd as for a
/// loss, without a retransmission, and set CWR on the next new data
/// segment; further ECEs in the same window of data are ignored. As Linux
/// (`tcp_enter_cwr`, `TCP_CA_CWR`): ssthresh from congestion control
/// (NewReno: FlightSize / 2 = 5000), then PRR (RFC 6937) on each ACK:
/// the first (DeliveredData 1000) allows ceil(1000 * 5000 / 10000),
/// rounded up to one segment, which carries CWR; the second (ECE again)
/// nothing; the third one more segment, without CWR. Once SND.UNA passes
/// the recovery point (10001), cwnd = ssthresh.
#[test]
fn ece_reduces_once_per_window_and_sets_cwr() {
    let mut h = Harness::new(newreno());
    h.run(&format!(
        "{HS_ECN}
        {TEN_OUT}
        0.210 < E. 1001:1001(0) ack 1001 win 502
        0.210 > [ect0] W. 10001:11001(1000) ack 1001
        0.211 < E. 1001:1001(0) ack 2001 win 502
        0.212 < . 1001:1001(0) ack 3001 win 502
        0.212 > [ect0] P. 11001:12001(1000) ack 1001"
    ));
    // Reduced once: not again by the second ECE (that would be 4500).
    assert_eq!(cc_of(&h).0, 5000);
    h.run(
        "0.213 < . 1001:1001(0) ack 6001 win 502
        0.214 < . 1001:1001(0) ack 10001 win 502
        0.215 < E. 1001:1001(0) ack 11001 win 502",
    );
    // The reduction ended at 11001 (cwnd = ssthresh); the ECE on that ACK
    // begins a new one, for data sent after the first: ssthresh =
    // FlightSize / 2, of the 1000 bytes left in flight, at least 2 SMSS.
    assert_eq!(cc_of(&h).0, 2000);
}

/// A loss found during an ECN reduction turns it into fast recovery
/// without cutting the window again (Linux `tcp_enter_recovery`: no new
/// ssthresh while `tcp_in_cwnd_reduction`): ssthresh stays 5000, not half
/// of the 9000 bytes then in flight. The retransmission is Not-ECT.
#[test]
fn loss_during_cwr_does_not_reduce_again() {
    let mut h = Harness::new(newreno());
    h.run(&format!(
        "{HS_ECN}
        {TEN_OUT}
        0.210 < E. 1001:1001(0) ack 1001 win 502
        0.210 > [ect0] W. 10001:11001(1000) ack 1001
        0.211 < E. 1001:1001(0) ack 2001 win 502
        0.212 < . 1001:1001(0) ack 3001 win 502
        0.212 > [ect0] P. 11001:12001(1000) ack 1001
        0.213 < . 1001:1001(0) ack 3001 win 502
        0.214 < . 1001:1001(0) ack 3001 win 502
        0.215 < . 1001:1001(0) ack 3001 win 502
        0.215 > [noecn] . 3001:4001(1000) ack 1001"
    ));
    assert_eq!(cc_of(&h).0, 5000);
}

/// An ECE on an ACK with nothing in flight changes nothing (Linux
/// `tcp_ack`: no `tcp_fastretrans_alert` without packets out), and an ECE
/// on a connection without ECN is not taken as congestion.
#[test]
fn ece_without_ecn_or_flight_is_ignored() {
    let mut h = Harness::new(newreno());
    h.run(
        "0.100 < S 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
        0.100 > S. 0:0(0) ack 1001
        0.110 < . 1001:1001(0) ack 1 win 502
        0.200 ! app-send 2000
        0.200 > . 1:1001(1000) ack 1001
        0.200 > P. 1001:2001(1000) ack 1001
        0.210 < E. 1001:1001(0) ack 1001 win 502",
    );
    // Not a reduction; nor growth: two segments out never filled the
    // initial cwnd of ten (Linux `tcp_is_cwnd_limited`).
    assert_eq!(cc_of(&h), (u32::MAX, 10_000));
    let mut h = Harness::new(newreno());
    h.run(&format!(
        "{HS_ECN}
        0.120 < E. 1001:1001(0) ack 1 win 502"
    ));
    assert_eq!(cc_of(&h), (u32::MAX, 10_000));
}

const LOCAL: u16 = 50000;

fn active(ecn: Ecn) -> Harness {
    let mut cfg = default_config();
    cfg.reset_other_ports = false;
    cfg.answer_arp = false;
    cfg.conn.nagle = false;
    cfg.conn.ecn = ecn;
    cfg.conn.timestamps = false;
    let mut h = Harness::new(cfg);
    h.local_port = LOCAL;
    h
}

/// RFC 3168 §6.1.1 with `Ecn::On` (Linux `tcp_ecn = 1`): our SYN has ECE
/// and CWR and is Not-ECT; a SYN-ACK with ECE alone turns ECN on, and our
/// data goes ECT(0).
#[test]
fn active_open_with_on_asks_and_accepts_ece_syn_ack() {
    let mut h = active(Ecn::On);
    h.run(
        "0.000 ! connect
        0.000 > [noecn] SEW 0:0(0)
        0.050 < SE. 5000:5000(0) ack 1 win 65535 <mss 1000,nop,wscale 7>
        0.050 > [noecn] . 1:1(0) ack 5001
        0.060 ! app-send 1000
        0.060 > [ect0] P. 1:1001(1000) ack 5001",
    );
    assert!(ecn_of(&h));
}

/// Linux `tcp_ecn_rcv_synack`: a SYN-ACK with both ECE and CWR (or
/// neither) is no ECN-setup SYN-ACK: ECN stays off.
#[test]
fn active_open_refuses_syn_ack_with_cwr() {
    for flags in ["SEW.", "S."] {
        let mut h = active(Ecn::On);
        h.run(&format!(
            "0.000 ! connect
            0.000 > SEW 0:0(0)
            0.050 < {flags} 5000:5000(0) ack 1 win 65535 <mss 1000,nop,wscale 7>
            0.050 > . 1:1(0) ack 5001
            0.060 ! app-send 1000
            0.060 > [noecn] P. 1:1001(1000) ack 5001"
        ));
        assert!(!ecn_of(&h), "{flags}");
    }
}

/// Linux's default (`tcp_ecn = 2`, `Ecn::Passive`) does not ask on an
/// active open: a plain SYN, and a SYN-ACK with ECE does not turn ECN on.
/// With `Ecn::On`, the retransmitted SYN goes without ECE and CWR (Linux
/// `tcp_ecn_clear_syn`, `tcp_ecn_fallback = 1`; RFC 3168 §6.1.1.1).
#[test]
fn active_open_passive_default_and_syn_fallback() {
    let mut h = active(Ecn::Passive);
    h.run(
        "0.000 ! connect
        0.000 > [noecn] S 0:0(0)
        0.050 < SE. 5000:5000(0) ack 1 win 65535 <mss 1000,nop,wscale 7>
        0.050 > . 1:1(0) ack 5001",
    );
    assert!(!ecn_of(&h));
    let mut h = active(Ecn::On);
    h.run(
        "0.000 ! connect
        0.000 > SEW 0:0(0)
        1.000 > [noecn] S 0:0(0)",
    );
}

/// Fills the one half-open place (with `max_half_open` 1), so that the
/// next SYN, from port 40001, is answered with a SYN cookie.
fn cookies_from_now() -> Harness {
    let mut cfg = no_nagle();
    cfg.max_half_open = 1;
    let mut h = Harness::new(cfg);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    h.port = 40001;
    h.iss = None;
    h
}

/// SYN cookies (RFC 4987) with timestamps: as Linux (`cookie_ecn_ok`), the
/// SYN-ACK's acceptance of ECN is kept in our TSval's low bits and comes
/// back in the client's TSecr, so the connection the cookie makes has ECN.
#[test]
fn syn_cookie_with_timestamps_keeps_ecn() {
    let mut h = cookies_from_now();
    h.run(
        "0.100 < SEW 5000:5000(0) win 64240 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.100 > [noecn] SE. 0:0(0) ack 5001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         0.110 < . 5001:5001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
         0.110 ! state ESTABLISHED
         0.120 ! app-send 100
         0.120 > [ect0] P. 1:101(100) ack 5001",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
    assert!(ecn_of(&h));
}

/// Without timestamps a cookie cannot carry ECN: the SYN-ACK does not
/// accept it (Linux `tcp_conn_request`: no `tstamp_ok`, no `ecn_ok`).
#[test]
fn syn_cookie_without_timestamps_has_no_ecn() {
    let mut h = cookies_from_now();
    h.run(
        "0.100 < SEW 5000:5000(0) win 64240 <mss 1000,nop,wscale 7>
         0.100 > [noecn] S. 0:0(0) ack 5001
         0.110 < . 5001:5001(0) ack 1 win 502
         0.110 ! state ESTABLISHED
         0.120 ! app-send 100
         0.120 > [noecn] P. 1:101(100) ack 5001",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
    assert!(!ecn_of(&h));
}
