//! Issue #16: undo of cwnd reductions shown spurious (Linux
//! `tcp_try_undo_recovery`, `tcp_try_undo_dsack`, `tcp_try_undo_loss`), as
//! packet traces in the manner of packetdrill's `tcp/undo/`: by D-SACK (RFC
//! 2883 §4, the sender side) and by timestamps (RFC 3522, the Eifel
//! detection algorithm).
//!
//! The client offers an MSS of 1000 (1012 with timestamps, so that SMSS is
//! 1000 either way).

mod common;

use common::{no_nagle, Harness};
use tcpcore::{CongestionControl, EndpointConfig, State};

/// The one connection's (ssthresh, cwnd).
fn cc_of(h: &Harness) -> (u32, u32) {
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    match h.ep.state(id) {
        Some(State::Established(o)) => (o.snd().cc().ssthresh(), o.snd().cc().cwnd()),
        other => panic!("not established: {other:?}"),
    }
}

/// Outgoing full segments `[from, to)` at `t` ms (below 1 s).
fn outs(t: u32, from: u32, to: u32) -> String {
    let mut s = String::new();
    let mut seq = from;
    while seq < to {
        s += &format!("0.{t:03} > . {seq}:{}(1000) ack 1001\n", seq + 1000);
        seq += 1000;
    }
    s
}

/// The endpoint's (undos, spurious retransmissions).
fn undo_stats(h: &Harness) -> (u64, u64) {
    let s = h.ep.stats();
    (s.undos, s.spurious_retransmits)
}

fn newreno() -> EndpointConfig {
    let mut c = no_nagle();
    c.conn.congestion_control = CongestionControl::NewReno;
    c
}

/// Handshake with SACK, no timestamps, MSS 1000.
const HS_SACK: &str = "
    0.100 < S 1000:1000(0) win 64240 <mss 1000,sackOK,nop,wscale 7>
    0.100 > S. 0:0(0) ack 1001
    0.110 < . 1001:1001(0) ack 1 win 502";

/// Handshake with timestamps (SMSS 1000), with or without SACK.
fn hs_ts(sack: bool) -> String {
    let sack = if sack { "sackOK," } else { "" };
    format!(
        "0.100 < S 1000:1000(0) win 64240 <mss 1012,{sack}TS val 100 ecr 0,nop,wscale 7>
         0.100 > S. 0:0(0) ack 1001
         0.110 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>"
    )
}

/// RFC 2883 §4 (the sender side) and Linux `tcp_try_undo_dsack`, as
/// packetdrill's `undo/undo-fr-ack-then-dsack`: segment 1 is reordered,
/// not lost. Three SACKs start SACK recovery (CUBIC: ssthresh = 0.7 ·
/// 10000) and the fast retransmit; the delayed original fills the hole
/// and a full ACK ends recovery with cwnd = ssthresh = 7001, seven
/// segments. Then the retransmission arrives too: the receiver reports it
/// with a D-SACK. The only retransmission was spurious: cwnd and ssthresh
/// are restored (cwnd = max(cwnd, prior_cwnd) = 10000, ssthresh back to
/// its initial value), and with 6000 in flight four segments go, not one.
#[test]
fn dsack_of_the_fast_retransmit_undoes_the_reduction() {
    let mut body = String::from("0.200 ! app-send 40000\n");
    body += &outs(200, 1, 10_001);
    body += "0.210 < . 1001:1001(0) ack 1 win 502 <sack 1001:2001>\n";
    body += &outs(210, 10_001, 11_001);
    body += "0.211 < . 1001:1001(0) ack 1 win 502 <sack 1001:3001>\n";
    body += &outs(211, 11_001, 12_001);
    body += "0.212 < . 1001:1001(0) ack 1 win 502 <sack 1001:4001>\n";
    body += &outs(212, 1, 1001);
    body += "0.220 < . 1001:1001(0) ack 12001 win 502\n";
    body += &outs(220, 12_001, 19_001);
    body += "0.221 ! state ESTABLISHED\n";
    let mut h = Harness::new(no_nagle());
    h.run(&format!("{HS_SACK}\n{body}"));
    assert_eq!(cc_of(&h), (7001, 7001), "recovery ended at ssthresh");
    assert_eq!(undo_stats(&h), (0, 0));
    // The D-SACK for [1, 1001), on an ACK of one more segment.
    let mut body = String::from("0.230 < . 1001:1001(0) ack 13001 win 502 <sack 1:1001>\n");
    body += &outs(230, 19_001, 23_001);
    body += "0.231 ! state ESTABLISHED\n";
    h.run(&body);
    assert_eq!(cc_of(&h), (u32::MAX, 10_000), "undone");
    assert_eq!(undo_stats(&h), (1, 1));
}

/// A D-SACK for data that was never retransmitted (a duplicate made by
/// the network) undoes nothing (Linux counts only D-SACKs above
/// `undo_marker` against `undo_retrans`).
#[test]
fn dsack_of_data_not_retransmitted_undoes_nothing() {
    let mut body = String::from("0.200 ! app-send 40000\n");
    body += &outs(200, 1, 10_001);
    body += "0.210 < . 1001:1001(0) ack 1 win 502 <sack 1001:2001>\n";
    body += &outs(210, 10_001, 11_001);
    body += "0.211 < . 1001:1001(0) ack 1 win 502 <sack 1001:3001>\n";
    body += &outs(211, 11_001, 12_001);
    body += "0.212 < . 1001:1001(0) ack 1 win 502 <sack 1001:4001>\n";
    body += &outs(212, 1, 1001);
    body += "0.220 < . 1001:1001(0) ack 12001 win 502\n";
    body += &outs(220, 12_001, 19_001);
    // [5001, 6001) reported twice: never retransmitted.
    body += "0.230 < . 1001:1001(0) ack 13001 win 502 <sack 5001:6001>\n";
    body += &outs(230, 19_001, 20_001);
    body += "0.231 ! state ESTABLISHED\n";
    let mut h = Harness::new(no_nagle());
    h.run(&format!("{HS_SACK}\n{body}"));
    assert_eq!(cc_of(&h).0, 7001, "not undone");
    assert_eq!(undo_stats(&h), (0, 0));
}

/// RFC 3522 (Eifel detection) and Linux `tcp_try_undo_loss`, as
/// packetdrill's `undo/undo-rto-tsecr`: the ACKs of ten segments are
/// delayed past the tail loss probe (a new segment, at 2·SRTT + 2 ms) and the
/// RTO (200 ms after the probe), which resends segment 1 and sets
/// ssthresh = 7001 (0.7 · 10000), cwnd one segment. Then the delayed ACK of everything
/// arrives echoing the TSval of the original transmissions, older than
/// the retransmission's: the timeout was spurious. cwnd and ssthresh come
/// back (10000, initial), and ten new segments go at once where the loss
/// window would have sent two.
#[test]
fn rto_shown_spurious_by_timestamps_is_undone() {
    let mut h = Harness::new(no_nagle());
    let mut body = hs_ts(true);
    body += "\n0.200 ! app-send 40000\n";
    body += &outs(200, 1, 10_001);
    h.run(&body);
    let ts_orig = h.last_tsval;
    let mut body = outs(222, 10_001, 11_001);
    body += &outs(422, 1, 1001);
    body +=
        &format!("0.430 < . 1001:1001(0) ack 11001 win 502 <nop,nop,TS val 430 ecr {ts_orig}>\n");
    body += &outs(430, 11_001, 21_001);
    body += "0.431 ! state ESTABLISHED\n";
    h.run(&body);
    assert_eq!(cc_of(&h), (u32::MAX, 10_000));
    assert_eq!(undo_stats(&h), (1, 1));
}

/// The same timeout, but the ACK echoes the retransmission's TSval: the
/// retransmission was needed, nothing is undone (ssthresh 7001, and the
/// loss window grown by one segment sends two).
#[test]
fn rto_needed_is_not_undone() {
    let mut h = Harness::new(no_nagle());
    let mut body = hs_ts(true);
    body += "\n0.200 ! app-send 40000\n";
    body += &outs(200, 1, 10_001);
    body += &outs(222, 10_001, 11_001);
    body += &outs(422, 1, 1001);
    h.run(&body);
    let ts_rtx = h.last_tsval;
    let mut body =
        format!("0.430 < . 1001:1001(0) ack 11001 win 502 <nop,nop,TS val 430 ecr {ts_rtx}>\n");
    body += &outs(430, 11_001, 13_001);
    body += "0.431 ! state ESTABLISHED\n";
    h.run(&body);
    assert_eq!(cc_of(&h), (7001, 2000));
    assert_eq!(undo_stats(&h), (0, 0));
}

/// RFC 3522 and Linux `tcp_try_undo_recovery`, without SACK (NewReno
/// recovery): segment 1 is reordered behind three more. Limited Transmit
/// sends two segments, the third duplicate ACK the fast retransmit
/// (ssthresh = FlightSize / 2 = 6000). The delayed original fills the
/// hole; the ACK of everything ends recovery, echoing the original's
/// TSval, older than the retransmission's: the reduction is undone at
/// once (cwnd 10000, ssthresh initial), ten segments go instead of six.
#[test]
fn fast_recovery_shown_spurious_by_timestamps_is_undone() {
    let mut h = Harness::new(newreno());
    let mut body = hs_ts(false);
    body += "\n0.200 ! app-send 40000\n";
    body += &outs(200, 1, 10_001);
    h.run(&body);
    let t = h.last_tsval;
    let dup = |ms: u32| {
        format!("0.{ms:03} < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val {ms} ecr {t}>\n")
    };
    let mut body = dup(210);
    body += &outs(210, 10_001, 11_001);
    body += &dup(211);
    body += &outs(211, 11_001, 12_001);
    body += &dup(212);
    body += &outs(212, 1, 1001);
    body += &format!("0.220 < . 1001:1001(0) ack 12001 win 502 <nop,nop,TS val 220 ecr {t}>\n");
    body += &outs(220, 12_001, 22_001);
    body += "0.221 ! state ESTABLISHED\n";
    h.run(&body);
    assert_eq!(cc_of(&h), (u32::MAX, 10_000));
    assert_eq!(undo_stats(&h), (1, 1));
}

/// RFC 3522 with RFC 4015's response (Linux `tcp_try_undo_loss` unmarks
/// the flight lost): the same spurious timeout, but the delayed ACK covers
/// only half of the flight. The timeout is undone at once, and the other
/// half, still in the network, is not sent again (go-back-N would resend
/// `[5001, 11001)`): with 6000 bytes in flight and cwnd 10000, four new
/// segments go.
#[test]
fn rto_undo_does_not_resend_the_flight() {
    let mut h = Harness::new(no_nagle());
    let mut body = hs_ts(true);
    body += "\n0.200 ! app-send 40000\n";
    body += &outs(200, 1, 10_001);
    h.run(&body);
    let ts_orig = h.last_tsval;
    let mut body = outs(222, 10_001, 11_001);
    body += &outs(422, 1, 1001);
    body +=
        &format!("0.430 < . 1001:1001(0) ack 5001 win 502 <nop,nop,TS val 430 ecr {ts_orig}>\n");
    body += &outs(430, 11_001, 15_001);
    body += "0.431 ! state ESTABLISHED\n";
    h.run(&body);
    assert_eq!(cc_of(&h), (u32::MAX, 10_000));
    assert_eq!(undo_stats(&h), (1, 1));
}

/// RFC 6298 §5.2-§5.3 after an undone timeout: a partial ACK shows the
/// timeout spurious, SND.NXT goes back to SND.MAX and nothing new is
/// queued, so nothing is sent -- the rest of the flight is still
/// outstanding and the retransmission timer must run for it (it was
/// cleared because SND.NXT, reset to SND.UNA by the go-back, equalled the
/// new SND.UNA; the stack fuzz target found the stall). Here the flight
/// is never acknowledged again: the timer resends it.
#[test]
fn undone_timeout_keeps_the_timer_for_the_rest() {
    let mut h = Harness::new(no_nagle());
    let mut body = hs_ts(true);
    body += "\n0.200 ! app-send 10000\n";
    body += &outs(200, 1, 9001);
    body += "0.200 > P. 9001:10001(1000) ack 1001\n";
    h.run(&body);
    let ts_orig = h.last_tsval;
    // The loss probe resends the last segment (nothing new is queued),
    // then the timeout resends the first.
    let mut body = String::from("0.222 > P. 9001:10001(1000) ack 1001\n");
    body += &outs(422, 1, 1001);
    body +=
        &format!("0.430 < . 1001:1001(0) ack 5001 win 502 <nop,nop,TS val 430 ecr {ts_orig}>\n");
    body += "0.431 ! state ESTABLISHED\n";
    h.run(&body);
    assert_eq!(undo_stats(&h), (1, 1));
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    let Some(State::Established(o)) = h.ep.state(id) else {
        panic!("not established");
    };
    assert!(
        o.tcb().timers().rto_deadline().is_some(),
        "data outstanding, no retransmission timer: {o:?}"
    );
}
