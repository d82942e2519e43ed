//! Issue #16, the sending side of loss recovery, as packet traces: RFC 3042
//! Limited Transmit on the first two duplicate ACKs, and RFC 6937
//! Proportional Rate Reduction (PRR-SSRB, Linux `tcp_cwnd_reduction`) for
//! the window in SACK-based recovery, ending with cwnd = ssthresh (RFC
//! 6937 §3.1, Linux `tcp_end_cwnd_reduction`).
//!
//! The client offers an MSS of 1000 and no timestamps, so every full
//! segment carries 1000 bytes and SMSS is 1000.

mod common;

use common::{no_nagle, run, Harness};
use tcpcore::{CongestionControl, EndpointConfig, State};

/// [`no_nagle`] with NewReno (RFC 5681, RFC 6582) in place of the default
/// CUBIC: the ssthresh and cwnd these traces assert are NewReno's
/// (FlightSize / 2 on a loss).
fn newreno() -> EndpointConfig {
    let mut c = no_nagle();
    c.conn.congestion_control = CongestionControl::NewReno;
    c
}

/// Handshake with SACK, MSS 1000, at 100 ms: the ISS (RFC 6528, with its
/// clock) then puts the end of the 64 KiB send ring beyond the 40000 bytes
/// sent, so that no segment is cut there.
const HS_SACK: &str = "
    0.100 < S 1000:1000(0) win 64240 <mss 1000,sackOK,nop,wscale 7>
    0.100 > S. 0:0(0) ack 1001
    0.110 < . 1001:1001(0) ack 1 win 502";

/// Handshake without SACK, MSS 1000.
const HS_PLAIN: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// [`HS_PLAIN`] at 100 ms (see [`HS_SACK`]).
const HS_PLAIN_LATE: &str = "
    0.100 < S 1000:1000(0) win 64240 <mss 1000,nop,wscale 7>
    0.100 > S. 0:0(0) ack 1001
    0.110 < . 1001:1001(0) ack 1 win 502";

/// At 200 ms, 10 segments of `total` bytes go; ten ACKs of one segment each
/// (211..220 ms) release two more each (slow start): cwnd 20000 and
/// `[10001, 30001)` in flight.
fn slow_start_to_20(total: u32) -> String {
    let mut body = format!("0.200 ! app-send {total}\n");
    for k in 0..10 {
        body += &out(200, 1 + 1000 * k, false);
    }
    let mut next = 10_001;
    for k in 1..=10u32 {
        body += &format!(
            "0.{:03} < . 1001:1001(0) ack {} win 502\n",
            210 + k,
            1 + 1000 * k
        );
        for _ in 0..2 {
            body += &out(210 + k, next, false);
            next += 1000;
        }
    }
    body
}

/// The one connection's (ssthresh, cwnd).
fn cc_of(h: &Harness) -> (u32, u32) {
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    match h.ep.state(id) {
        Some(State::Established(o)) => (o.snd().cc().ssthresh(), o.snd().cc().cwnd()),
        other => panic!("not established: {other:?}"),
    }
}

/// One outgoing full segment `[seq, seq + 1000)` at `t` ms (below 1 s).
fn out(t: u32, seq: u32, push: bool) -> String {
    let flags = if push { "P." } else { "." };
    format!("0.{t:03} > {flags} {seq}:{}(1000) ack 1001\n", seq + 1000)
}

/// RFC 3042 / RFC 5681 §3.2 Limited Transmit, without SACK: ten segments
/// in flight (the initial window), the first lost. The first and the
/// second duplicate ACK each release one segment of new data, cwnd
/// unchanged (FlightSize up to cwnd + 2 SMSS); the third is the fast
/// retransmit, and the fourth sends nothing (PRR: ceil(2000 * 6000 /
/// 12000) - 1000 = 0).
#[test]
fn limited_transmit_releases_one_segment_per_first_two_dupacks() {
    let mut body = String::from("0.100 ! app-send 20000\n");
    for k in 0..10 {
        body += &out(100, 1 + 1000 * k, false);
    }
    body += "0.110 < . 1001:1001(0) ack 1 win 502\n";
    body += &out(110, 10_001, false);
    body += "0.111 < . 1001:1001(0) ack 1 win 502\n";
    body += &out(111, 11_001, false);
    body += "0.112 < . 1001:1001(0) ack 1 win 502\n";
    body += &out(112, 1, false);
    body += "0.113 < . 1001:1001(0) ack 1 win 502\n";
    body += "0.114 ! state ESTABLISHED\n";
    let h = run(newreno(), &format!("{HS_PLAIN}\n{body}"));
    // ssthresh from the FlightSize of 12 segments; cwnd = pipe + sndcnt =
    // (12000 - 4 duplicate ACKs) + 0.
    assert_eq!(cc_of(&h), (6000, 8000));
}

/// RFC 6937 PRR in SACK-based recovery. Slow start takes cwnd to 20
/// segments with 20 in flight, `[10001, 30001)`; the first of them is lost
/// and one ACK SACKs the next three, which starts recovery (RFC 6675: more
/// than DupThresh - 1 segments SACKed above SND.UNA) with ssthresh = 10000
/// and RecoverFS = 20000.
///
/// - That ACK delivered 3000 bytes: sndcnt = ceil(3000 * 10000 / 20000) =
///   1500, two segments as Linux counts them: the fast retransmit and one
///   new segment.
/// - Then each ACK SACKs one more segment (DeliveredData 1000). While pipe
///   is above ssthresh, one new segment per two ACKs (sndcnt =
///   ceil(prr_delivered / 2) - prr_out), the proportional part; the old
///   rule (cwnd = ssthresh on entry) sent nothing new until pipe fell
///   below ssthresh, and then one segment per ACK.
/// - When pipe reaches ssthresh (the 14th ACK, pipe = 10000) nothing; below
///   it (pipe 9000) the slow start reduction bound sends one segment per ACK,
///   holding pipe at ssthresh.
/// - The ACK of the retransmission covers RecoveryPoint (30001): recovery
///   ends with cwnd = ssthresh (Linux `tcp_end_cwnd_reduction`), and with
///   9000 in flight one more segment goes, the last.
#[test]
fn prr_sends_in_proportion_and_ends_at_ssthresh() {
    let mut body = slow_start_to_20(40_000);
    let mut next = 30_001;
    // [10001, 11001) is lost. One ACK SACKs three segments: recovery.
    body += "0.221 < . 1001:1001(0) ack 10001 win 502 <sack 11001:14001>\n";
    body += &out(221, 10_001, false);
    body += &out(221, next, false);
    next += 1000;
    // One more segment SACKed per ACK.
    let mut sent_at = Vec::new();
    for k in 0..16u32 {
        let t = 222 + k;
        body += &format!(
            "0.{t:03} < . 1001:1001(0) ack 10001 win 502 <sack 11001:{}>\n",
            15_001 + 1000 * k
        );
        // Proportional: k odd, up to k = 12; k = 13: pipe = ssthresh;
        // k = 14, 15: the slow start reduction bound.
        if (k % 2 == 1 && k <= 12) || k >= 14 {
            body += &out(t, next, false);
            next += 1000;
            sent_at.push(k);
        }
    }
    assert_eq!(sent_at, [1, 3, 5, 7, 9, 11, 14, 15]);
    assert_eq!(next, 39_001);
    // The retransmission arrives: a full ACK, recovery ends.
    body += "0.238 < . 1001:1001(0) ack 30001 win 502\n";
    body += &out(238, 39_001, true);
    body += "0.238 ! state ESTABLISHED\n";
    let h = run(newreno(), &format!("{HS_SACK}\n{body}"));
    assert_eq!(cc_of(&h), (10_000, 10_000), "cwnd = ssthresh at the end");
}

/// RFC 6937 PRR in NewReno recovery (no SACK; Linux runs
/// `tcp_cwnd_reduction` there too, its `pipe` less one segment per
/// duplicate ACK, `tcp_add_reno_sack`). 20 segments in flight, the first
/// lost: duplicate ACKs 1 and 2 release one segment each (Limited
/// Transmit), the third starts recovery with FlightSize 22000: ssthresh
/// 11000, RecoverFS 22000; DeliveredData is one SMSS per duplicate ACK
/// (RFC 6937 §3).
///
/// - Entry: pipe = 22000 - 3000 - the lost head = 18000 > ssthresh,
///   sndcnt = ceil(1000 * 11000 / 22000) = one segment, the fast
///   retransmit.
/// - Duplicate ACKs 4 to 16: one new segment per two (at 5, 7, ... 15).
///   RFC 6582's inflation sent nothing new before the 12th.
/// - The 17th: pipe = ssthresh, nothing; the 18th and 19th: pipe below
///   it, the slow start reduction bound, one each.
/// - The full ACK (32001, RFC 6582 `recover`): cwnd = ssthresh (RFC 6937
///   §3.1, Linux `tcp_end_cwnd_reduction`), 8000 in flight: three more.
#[test]
fn prr_without_sack_sends_in_proportion_and_ends_at_ssthresh() {
    let mut body = slow_start_to_20(43_000);
    body += "0.221 < . 1001:1001(0) ack 10001 win 502\n";
    body += &out(221, 30_001, false);
    body += "0.222 < . 1001:1001(0) ack 10001 win 502\n";
    body += &out(222, 31_001, false);
    body += "0.223 < . 1001:1001(0) ack 10001 win 502\n";
    body += &out(223, 10_001, false);
    let mut next = 32_001;
    let mut sent_at = Vec::new();
    for k in 4..=19u32 {
        let t = 220 + k;
        body += &format!("0.{t:03} < . 1001:1001(0) ack 10001 win 502\n");
        if (k % 2 == 1 && k <= 15) || k >= 18 {
            body += &out(t, next, false);
            next += 1000;
            sent_at.push(k);
        }
    }
    assert_eq!(sent_at, [5, 7, 9, 11, 13, 15, 18, 19]);
    assert_eq!(next, 40_001);
    body += "0.240 < . 1001:1001(0) ack 32001 win 502\n";
    body += &out(240, 40_001, false);
    body += &out(240, 41_001, false);
    body += &out(240, 42_001, true);
    body += "0.240 ! state ESTABLISHED\n";
    let h = run(newreno(), &format!("{HS_PLAIN_LATE}\n{body}"));
    assert_eq!(cc_of(&h), (11_000, 11_000), "cwnd = ssthresh at the end");
}

/// RFC 8985 §6.2 (RACK) driving RFC 6675 recovery under RFC 6937 PRR, with
/// three holes: `[10001, 11001)` (found at once: three segments SACKed
/// above it, reo_wnd 0), `[15001, 16001)` (found by the first SACK above
/// it: in recovery reo_wnd is 0, and it was sent before the SACKed one)
/// and `[28001, 29001)`, revealed by the partial ACK that the first
/// retransmission draws at 235 ms. By then RACK's most recently sent
/// delivered segment is that retransmission (sent at 221 ms), and the
/// hole was sent at 220 ms alongside a segment sent at 221 ms: the send
/// times kept for it (a merged run, `rack.rs`) cannot order it before the
/// retransmission, but first transmissions go in sequence order, so the
/// SACKed `[29001, 30001)` shows it lost, and it is resent at once, ahead
/// of new data. The new segments between follow PRR: one per two ACKs
/// while pipe > ssthresh.
#[test]
fn rack_finds_each_hole_in_prr_recovery() {
    let mut body = slow_start_to_20(60_000);
    body += "0.221 < . 1001:1001(0) ack 10001 win 502 <sack 11001:14001>\n";
    body += &out(221, 10_001, false);
    body += &out(221, 30_001, false);
    body += "0.222 < . 1001:1001(0) ack 10001 win 502 <sack 11001:15001>\n";
    body += "0.223 < . 1001:1001(0) ack 10001 win 502 <sack 11001:15001 16001:17001>\n";
    body += &out(223, 15_001, false);
    let mut next = 31_001;
    for k in 0..11u32 {
        let t = 224 + k;
        body += &format!(
            "0.{t:03} < . 1001:1001(0) ack 10001 win 502 <sack 11001:15001 16001:{}>\n",
            18_001 + 1000 * k
        );
        if k % 2 == 1 && k != 9 || k == 10 {
            body += &out(t, next, false);
            next += 1000;
        }
    }
    assert_eq!(next, 36_001);
    body += "0.235 < . 1001:1001(0) ack 15001 win 502 <sack 16001:28001 29001:30001>\n";
    body += &out(235, 28_001, false);
    body += &out(235, 36_001, false);
    body += &out(235, 37_001, false);
    body += "0.235 ! state ESTABLISHED\n";
    let h = run(newreno(), &format!("{HS_SACK}\n{body}"));
    assert_eq!(cc_of(&h), (10_000, 10_000));
}
