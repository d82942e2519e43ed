//! Packet traces for the send path: segmentation, FIN after data, RTO with
//! backoff and Karn's rule (RFC 6298), fast retransmit and NewReno recovery
//! (RFC 5681, RFC 6582), SACK-based recovery (RFC 6675), zero window and
//! persist probes (RFC 9293 §3.8.6.1), Nagle (RFC 896), PSH at the end of
//! each write (RFC 9293 §3.9.1, as Linux `tcp_push`).

mod common;
use common::{default_config, no_nagle, run, run_both};
use tcpcore::{Instant, SeqNum};

/// Handshake with SACK and window scaling (client window 502 << 7).
const HS_SACK: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// Handshake without SACK (NewReno alone).
const HS_PLAIN: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// Segmentation by the peer's MSS; Nagle (RFC 896) holds the small tail
/// while data is in flight; the FIN goes after the last byte, on the same
/// segment (RFC 9293 §3.10.4).
#[test]
fn segments_by_mss_nagle_then_fin_after_data() {
    run_both(
        default_config(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 3000
             0.100 > . 1:1461(1460) ack 1001
             0.100 > . 1461:2921(1460) ack 1001
             0.100 ! app-close
             0.100 ! state FIN-WAIT-1
             0.110 < . 1001:1001(0) ack 2921 win 502
             0.110 > FP. 2921:3001(80) ack 1001
             0.120 < . 1001:1001(0) ack 3002 win 502
             0.120 ! state FIN-WAIT-2"
        ),
    );
}

/// Without Nagle the tail goes at once.
#[test]
fn no_nagle_sends_tail_at_once() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 1500
             0.100 > . 1:1461(1460) ack 1001
             0.100 > P. 1461:1501(40) ack 1001"
        ),
    );
}

/// RFC 6298 §5.4-5.5: on timeout the earliest unacknowledged segment is
/// retransmitted and the RTO doubles. The RTO comes from the handshake's
/// RTT (10 ms) and is bounded below by 200 ms. The tail loss probe (RFC
/// 8985 §7.2: 2 SRTT + TLP.max_ack_delay, 200 ms as Linux's, for a single
/// segment, but never later than the RTO) goes first, at the RTO's time,
/// and re-arms the RTO (§7.3).
/// Karn's rule (RFC 6298 §3, §5): the ACK of a retransmitted segment gives
/// no RTT sample, so the backed-off RTO (200 ms << 3) stays for the next
/// segment until a new sample is taken.
#[test]
fn rto_backoff_and_karn() {
    let (h, _) = run_both(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.300 > P. 1:101(100) ack 1001
             0.500 > P. 1:101(100) ack 1001
             0.900 > P. 1:101(100) ack 1001
             1.700 > P. 1:101(100) ack 1001
             1.710 < . 1001:1001(0) ack 101 win 502
             2.000 ! app-send 100
             2.000 > P. 101:201(100) ack 1001
             2.220 > P. 101:201(100) ack 1001
             3.820 > P. 101:201(100) ack 1001"
        ),
    );
    assert_eq!(h.ep.stats().retransmits, 6);
    // Four of them timeouts (0.500, 0.900, 1.700, 3.820); 0.300 and 2.220
    // were loss probes.
    assert_eq!(h.ep.stats().timeouts, 4);
}

/// After the retry limit the connection is reset and reported timed out.
#[test]
fn retry_limit_resets() {
    let mut cfg = no_nagle();
    cfg.conn.max_retries = 2;
    run(
        cfg,
        &format!(
            "{HS_SACK}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.300 > P. 1:101(100) ack 1001
             0.500 > P. 1:101(100) ack 1001
             0.900 > P. 1:101(100) ack 1001
             1.700 > R. 101:101(0) ack 1001
             1.700 ! closed timedout"
        ),
    );
}

/// RFC 5681 §3.2: the third duplicate ACK triggers a fast retransmit;
/// RFC 6582 §3.2 step 5: a partial ACK in recovery retransmits the next
/// unacknowledged segment at once; the full ACK ends recovery.
#[test]
fn three_dupacks_fast_retransmit_then_partial_ack() {
    let mut body = String::from("0.100 ! app-send 14600\n");
    for k in 0..10 {
        body += &format!(
            "0.100 > {} {}:{}(1460) ack 1001\n",
            if k == 9 { "P." } else { "." },
            1 + 1460 * k,
            1461 + 1460 * k
        );
    }
    body += "
        0.110 < . 1001:1001(0) ack 1461 win 502
        0.111 < . 1001:1001(0) ack 1461 win 502
        0.112 < . 1001:1001(0) ack 1461 win 502
        0.113 < . 1001:1001(0) ack 1461 win 502
        0.113 > . 1461:2921(1460) ack 1001
        0.114 < . 1001:1001(0) ack 1461 win 502
        0.120 < . 1001:1001(0) ack 4381 win 502
        0.120 > . 4381:5841(1460) ack 1001
        0.130 < . 1001:1001(0) ack 14601 win 502
        0.200 tick";
    let h = run(no_nagle(), &format!("{HS_PLAIN}\n{body}"));
    assert_eq!(h.ep.stats().retransmits, 2);
}

/// RFC 6675: with SACK, recovery starts when the SACKed data shows a loss
/// (the third duplicate ACK), the first hole is resent at once, and the
/// next hole as soon as `pipe` falls below cwnd -- before any new data.
#[test]
fn sack_holes_retransmitted_first() {
    let mut body = String::from("0.100 ! app-send 14600\n");
    for k in 0..10 {
        body += &format!(
            "0.100 > {} {}:{}(1460) ack 1001\n",
            if k == 9 { "P." } else { "." },
            1 + 1460 * k,
            1461 + 1460 * k
        );
    }
    // Segments 1 (1461) and 3 (4381) are lost.
    body += "
        0.110 < . 1001:1001(0) ack 1461 win 502
        0.111 < . 1001:1001(0) ack 1461 win 502 <sack 2921:4381>
        0.112 < . 1001:1001(0) ack 1461 win 502 <sack 5841:7301 2921:4381>
        0.113 < . 1001:1001(0) ack 1461 win 502 <sack 5841:8761 2921:4381>
        0.113 > . 1461:2921(1460) ack 1001
        0.114 < . 1001:1001(0) ack 1461 win 502 <sack 5841:10221 2921:4381>
        0.114 > . 4381:5841(1460) ack 1001
        0.120 < . 1001:1001(0) ack 4381 win 502 <sack 5841:14601>
        0.121 < . 1001:1001(0) ack 14601 win 502
        0.200 tick";
    let (h, _) = run_both(no_nagle(), &format!("{HS_SACK}\n{body}"));
    assert_eq!(h.ep.stats().retransmits, 2);
}

/// RFC 9293 §3.8.6.1: with the peer's window zero, the persist timer sends
/// one-byte probes, backing off (RFC 6298 §5.5) and never giving up while
/// the peer answers; when the window opens, the data goes out.
#[test]
fn zero_window_probes_with_backoff() {
    let mut cfg = no_nagle();
    cfg.conn.max_retries = 2;
    run(
        cfg,
        &format!(
            "{HS_SACK}
             0.050 < . 1001:1001(0) ack 1 win 0
             0.100 ! app-send 100
             0.300 > . 1:2(1) ack 1001
             0.310 < . 1001:1001(0) ack 1 win 0
             0.700 > . 1:2(1) ack 1001
             0.710 < . 1001:1001(0) ack 1 win 0
             1.500 > . 1:2(1) ack 1001
             1.510 < . 1001:1001(0) ack 1 win 0
             3.100 > . 1:2(1) ack 1001
             3.110 < . 1001:1001(0) ack 1 win 502
             3.110 > P. 1:101(100) ack 1001
             3.120 < . 1001:1001(0) ack 101 win 502
             3.120 ! state ESTABLISHED"
        ),
    );
}

/// Data queued after the peer's FIN still goes out (CLOSE-WAIT may send),
/// and our FIN follows it.
#[test]
fn close_wait_sends_then_fin() {
    let mut cfg = no_nagle();
    cfg.conn.close_on_peer_fin = false;
    run(
        cfg,
        &format!(
            "{HS_SACK}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1002
             0.110 ! app-send 10
             0.110 > P. 1:11(10) ack 1002
             0.120 ! app-close
             0.120 > F. 11:11(0) ack 1002
             0.130 < . 1002:1002(0) ack 12 win 502
             0.130 ! state CLOSED"
        ),
    );
}

/// The peer's window limits what is sent (RFC 9293 §3.8.6): never beyond
/// SND.UNA + SND.WND; and sender-side silly window avoidance (§3.8.6.2.1)
/// does not send the 80 bytes that would fit, being neither a full segment,
/// nor all that is queued, nor half the peer's largest window.
#[test]
fn never_beyond_peer_window() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 3000 <mss 1460>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 3000
         0.100 ! app-send 5000
         0.100 > . 1:1461(1460) ack 1001
         0.100 > . 1461:2921(1460) ack 1001
         0.110 < . 1001:1001(0) ack 2921 win 3000
         0.110 > . 2921:4381(1460) ack 1001
         0.110 > P. 4381:5001(620) ack 1001",
    );
}

/// `Endpoint::echo` moves received bytes the application left unread into
/// the send buffer and sends them; the window reopens by as much.
#[test]
fn echo_moves_received_bytes_out() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.050 ! app-budget 0
             0.100 < P. 1001:4001(3000) ack 1 win 502
             0.100 > . 1:1(0) ack 4001 win 31268
             0.110 ! app-echo
             0.110 > . 1:1461(1460) ack 4001
             0.110 > . 1461:2921(1460) ack 4001
             0.110 > P. 2921:3001(80) ack 4001
             0.120 < . 4001:4001(0) ack 3001 win 502
             0.130 < P. 4001:5001(1000) ack 3001 win 502
             0.130 > . 3001:3001(0) ack 5001
             0.140 ! app-echo
             0.140 > P. 3001:4001(1000) ack 5001"
        ),
    );
}

/// RFC 8985 §7: a lost tail draws no duplicate ACKs. The tail loss probe
/// (2 SRTT + 2 ms after the last ACK, as Linux's tcp_schedule_loss_probe)
/// sends the last segment again; its SACK, one RTT later, shows the hole
/// before it lost (RFC 8985 §6.2: sent earlier than a delivered segment,
/// by more than the reordering window), which is then retransmitted at
/// once -- long before the 200 ms RTO. (A SACK of the probe sooner than
/// min_RTT after it would be taken for the original's, Linux
/// tcp_rack_advance, and give no RACK sample.)
#[test]
fn tail_loss_probe_recovers_lost_tail() {
    let h = run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 7300
             0.100 > . 1:1461(1460) ack 1001
             0.100 > . 1461:2921(1460) ack 1001
             0.100 > . 2921:4381(1460) ack 1001
             0.100 > . 4381:5841(1460) ack 1001
             0.100 > P. 5841:7301(1460) ack 1001
             0.110 < . 1001:1001(0) ack 4381 win 502
             0.132 > P. 5841:7301(1460) ack 1001
             0.142 < . 1001:1001(0) ack 4381 win 502 <sack 5841:7301>
             0.142 > . 4381:5841(1460) ack 1001
             0.152 < . 1001:1001(0) ack 7301 win 502
             0.500 tick"
        ),
    );
    assert_eq!(h.ep.stats().retransmits, 2);
}

/// RFC 9293 §3.10.7.4: "If the RCV.WND is zero, no segments will be
/// acceptable, but special allowance should be made to accept valid ACKs":
/// with our window closed (the application reads nothing), the peer's data
/// segment is refused, but its ACK of our data is taken -- nothing is
/// retransmitted afterwards.
#[test]
fn zero_receive_window_still_takes_acks() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.050 ! app-budget 0
             0.100 < . 1001:33769(32768) ack 1 win 502
             0.100 > . 1:1(0) ack 33769 win 16384
             0.101 < . 33769:66537(32768) ack 1 win 502
             0.101 > . 1:1(0) ack 66537 win 0
             0.105 ! app-send 100
             0.105 > P. 1:101(100) ack 66537 win 0
             0.110 < P. 66537:66637(100) ack 101 win 502
             0.110 > . 101:101(0) ack 66537 win 0
             0.110 ! drops out-of-window 1
             1.000 tick"
        ),
    );
}

/// A harness without Nagle whose transport takes GSO frames (of up to 64
/// KiB), through a gather write (`gather`) or the trait's default.
fn gso_harness(gather: bool) -> common::Harness {
    let mut cfg = no_nagle();
    cfg.conn.gso_max = 64 * 1024;
    let mut h = common::Harness::new(cfg);
    h.rec.gso = true;
    h.rec.gather = gather;
    h
}

/// Segmentation offload: with a transport that takes GSO frames and
/// `gso_max` set, one frame carries as much as the windows allow (here the
/// initial congestion window, ten segments), to be cut into MSS-sized
/// segments below; without it, segments stay at the MSS.
#[test]
fn gso_sends_large_segments_within_the_windows() {
    // Through the trait's default `tx_gso_gather` and through a gather
    // write (headers in a buffer of their own).
    for gather in [false, true] {
        let mut h = gso_harness(gather);
        h.run(&format!(
            "{HS_SACK}
             0.100 ! app-send 14600
             0.100 > P. 1:14601(14600) ack 1001
             0.110 < . 1001:1001(0) ack 14601 win 502
             0.500 tick"
        ));
    }
    // Without a transport that takes GSO frames: MSS-sized segments.
    let mut cfg = no_nagle();
    cfg.conn.gso_max = 64 * 1024;
    let mut h = common::Harness::new(cfg);
    h.run(&format!(
        "{HS_SACK}
         0.100 ! app-send 2920
         0.100 > . 1:1461(1460) ack 1001
         0.100 > P. 1461:2921(1460) ack 1001"
    ));
}

/// With segmentation offload, a burst that the congestion window cuts
/// ends on a segment boundary (Linux `tcp_mss_split_point`: cwnd counts
/// whole packets): an ACK of 1000 bytes (not a whole segment) leaves 2000
/// bytes of cwnd room; one segment goes, not 2000 bytes, and the 540
/// left are no runt of their own (one more packet and one more ACK for
/// the same bytes): they wait for the next ACK, which sends the rest --
/// cut where the send ring wraps (harness ring: 17726 bytes to its end).
#[test]
fn gso_burst_cut_by_cwnd_ends_on_a_segment() {
    let mut cfg = no_nagle();
    cfg.conn.gso_max = 64 * 1024;
    let mut h = common::Harness::new(cfg);
    h.rec.gso = true;
    h.run(&format!(
        "{HS_SACK}
         0.100 ! app-send 20000
         0.100 > . 1:14601(14600) ack 1001
         0.110 < . 1001:1001(0) ack 1001 win 502
         0.110 > . 14601:16061(1460) ack 1001
         0.120 < . 1001:1001(0) ack 14601 win 502
         0.120 > . 16061:17727(1666) ack 1001
         0.120 > P. 17727:20001(2274) ack 1001
         0.130 < . 1001:1001(0) ack 20001 win 502
         0.500 tick"
    ));
}

/// With segmentation offload and Nagle, the last piece of the queued data,
/// less than a segment, is not the tail of a burst while data is in
/// flight (Linux `tcp_mss_split_point` puts the partial tail to
/// `tcp_nagle_check`): a write of 3000 bytes with a segment in flight
/// sends two segments; the 80 bytes left go once all is acknowledged.
#[test]
fn gso_burst_tail_waits_for_nagle() {
    let mut cfg = default_config();
    cfg.conn.gso_max = 64 * 1024;
    let mut h = common::Harness::new(cfg);
    h.rec.gso = true;
    h.run(&format!(
        "{HS_SACK}
         0.100 ! app-send 1460
         0.100 > P. 1:1461(1460) ack 1001
         0.101 ! app-send 3000
         0.101 > . 1461:4381(2920) ack 1001
         0.110 < . 1001:1001(0) ack 1461 win 502
         0.111 < . 1001:1001(0) ack 4381 win 502
         0.111 > P. 4381:4461(80) ack 1001
         0.120 < . 1001:1001(0) ack 4461 win 502
         0.500 tick"
    ));
}

/// PSH at write ends (RFC 9293 §3.9.1; Linux `tcp_push` marks the last
/// buffer of each write): two writes of 3000 bytes without Nagle go out as
/// 1460, 1460, 80 each; the segments ending at 3000 and 6000 carry PSH,
/// the others not.
#[test]
fn psh_at_each_write_end() {
    run(
        no_nagle(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 3000
             0.100 > . 1:1461(1460) ack 1001
             0.100 > . 1461:2921(1460) ack 1001
             0.100 > P. 2921:3001(80) ack 1001
             0.100 ! app-send 3000
             0.100 > . 3001:4461(1460) ack 1001
             0.100 > . 4461:5921(1460) ack 1001
             0.100 > P. 5921:6001(80) ack 1001"
        ),
    );
}

/// With Nagle the first write's 80-byte tail waits and the second write
/// joins it: the full segment that carries the end of the first write
/// (byte 3000) is pushed although more data follows it, as Linux pushes
/// the buffer a later write filled up; the one carrying the end of the
/// second write (the last byte) is pushed too, the others are not.
#[test]
fn psh_on_segment_carrying_a_write_end() {
    run(
        default_config(),
        &format!(
            "{HS_SACK}
             0.100 ! app-send 3000
             0.100 > . 1:1461(1460) ack 1001
             0.100 > . 1461:2921(1460) ack 1001
             0.100 ! app-send 3000
             0.100 > P. 2921:4381(1460) ack 1001
             0.100 > . 4381:5841(1460) ack 1001
             0.110 < . 1001:1001(0) ack 5841 win 502
             0.110 > P. 5841:6001(160) ack 1001"
        ),
    );
}

/// `Endpoint::unacked` (for a transport that sends a gather frame's data
/// after the endpoint's call): the bytes of a sent range as they were
/// queued, for as long as none of them is acknowledged; `None` once any
/// is, past the end of the queued data, and for a connection that is gone.
#[test]
fn unacked_lends_sent_bytes_until_acknowledged() {
    let mut cfg = no_nagle();
    cfg.conn.gso_max = 64 * 1024;
    let mut h = common::Harness::new(cfg);
    h.rec.gso = true;
    h.rec.gather = true;
    h.run(&format!(
        "{HS_SACK}
         0.100 ! app-send 14600
         0.100 > P. 1:14601(14600) ack 1001"
    ));
    let id = h.ep.connections().next().unwrap().0;
    let first = SeqNum::new(h.iss.unwrap().wrapping_add(1));
    let sent: Vec<u8> = h.ep.unacked(id, first, 14600).expect("all sent").to_vec();
    assert_eq!(sent.len(), 14600);
    // What went out is what `app-send` queued (byte i is i % 253).
    let queued: Vec<u8> = (0..14600).map(|i| (i % 253) as u8).collect();
    assert_eq!(sent, queued);
    assert_eq!(h.ep.unacked(id, first + 100, 50), Some(&sent[100..150]));
    // Past the end of the queued data, or starting before SND.UNA.
    assert_eq!(h.ep.unacked(id, first + 14000, 601), None);
    assert_eq!(h.ep.unacked(id, first - 1, 10), None);
    h.run("0.110 < . 1001:1001(0) ack 1461 win 502");
    assert_eq!(h.ep.unacked(id, first, 14600), None, "partly acknowledged");
    assert_eq!(h.ep.unacked(id, first + 1460, 13140), Some(&sent[1460..]));
    // Gone: the slot's generation moved on.
    h.ep.abort(id, Instant::from_millis(200), &mut h.rec);
    assert_eq!(h.ep.unacked(id, first + 1460, 10), None);
}

/// `Endpoint::set_echo` (RFC 862 echo): the in-order bytes of a segment larger than the
/// MSS (here 3000 bytes, as GRO makes them) go straight into the send
/// buffer and out with its ACK; those of a smaller one wait for
/// `Endpoint::echo` (so that a batch of them goes out together); what the
/// send buffer has no room for waits in the receive buffer until
/// `Endpoint::echo` moves it, in order (the lossy-link and smoltcp echo
/// tests run half their seeds with it on, and check the stream).
#[test]
fn set_echo_sends_bytes_back_with_the_ack() {
    let mut h = common::Harness::new(no_nagle());
    h.ep.set_echo(true);
    h.run(&format!(
        "{HS_SACK}
         0.050 ! app-budget 0
         0.100 < P. 1001:4001(3000) ack 1 win 502
         0.100 > . 1:1461(1460) ack 4001
         0.100 > . 1461:2921(1460) ack 4001
         0.100 > P. 2921:3001(80) ack 4001
         0.110 < . 4001:4001(0) ack 3001 win 502
         0.120 < P. 4001:5001(1000) ack 3001 win 502
         0.120 > . 3001:3001(0) ack 5001
         0.130 ! app-echo
         0.130 > P. 3001:4001(1000) ack 5001"
    ));
    // Without it, the same segment draws a pure ACK and the bytes wait
    // for `Endpoint::echo`.
    let mut h = common::Harness::new(no_nagle());
    h.run(&format!(
        "{HS_SACK}
         0.050 ! app-budget 0
         0.100 < P. 1001:4001(3000) ack 1 win 502
         0.100 > . 1:1(0) ack 4001
         0.110 ! app-echo
         0.110 > . 1:1461(1460) ack 4001
         0.110 > . 1461:2921(1460) ack 4001
         0.110 > P. 2921:3001(80) ack 4001"
    ));
}

/// `Endpoint::send_borrowed`: the bytes go out from the application's
/// memory, as they lie there (first sends and retransmissions alike), in
/// continued calls as ACKs make room; `send` takes nothing while borrowed
/// data is unacknowledged, and works again once it is all acknowledged; a
/// call that does not continue the last one takes nothing meanwhile.
#[test]
fn send_borrowed_sends_from_the_application_memory() {
    let file: &'static [u8] = Box::leak((0..100_000u32).map(|i| (i % 241) as u8).collect());
    for gather in [false, true] {
        let mut h = gso_harness(gather);
        h.run(HS_SACK);
        let id = h.ep.connections().next().unwrap().0;
        let now = Instant::from_millis(100);
        h.rec.now = now;
        // The send buffer (64 KiB) takes the first 64 KiB of the file.
        let took = h.ep.send_borrowed(id, file, 0, now, &mut h.rec);
        assert_eq!(took, common::TXBUF);
        h.rec.flush();
        let sent: Vec<u8> = h
            .rec
            .out
            .drain(..)
            .flat_map(|(_, f)| f[54..].to_vec())
            .collect();
        assert_eq!(
            &sent[..],
            &file[..sent.len()],
            "gather {gather}: first flight"
        );
        assert_eq!(
            h.ep.send(id, b"x", now, &mut h.rec),
            0,
            "send while borrowing"
        );
        assert_eq!(
            h.ep.send_borrowed(id, file, 10, now, &mut h.rec),
            0,
            "not continuing"
        );
        let first = SeqNum::new(h.iss.unwrap().wrapping_add(1));
        assert_eq!(h.ep.unacked(id, first + 5, 10), Some(&file[5..15]));
        // An ACK of the first 1460 bytes, then SACKs: the next segment is
        // lost and resent from the file.
        h.rec.out.clear();
        for seg in [
            ". 1001:1001(0) ack 1461 win 502",
            ". 1001:1001(0) ack 1461 win 502 <nop,nop,sack 2921:5841>",
            ". 1001:1001(0) ack 1461 win 502 <nop,nop,sack 2921:7301>",
            ". 1001:1001(0) ack 1461 win 502 <nop,nop,sack 2921:8761>",
        ] {
            h.rec.now += tcpcore::Duration::from_millis(1);
            h.inject(seg);
        }
        let resent: Vec<Vec<u8>> = h.rec.out.drain(..).map(|(_, f)| f).collect();
        let r = resent
            .iter()
            .find(|f| f.len() > 54 && f[38..42] == (first + 1460).get().to_be_bytes())
            .expect("the lost segment resent");
        assert_eq!(
            &r[54..],
            &file[1460..1460 + r.len() - 54],
            "gather {gather}: resent"
        );
        // Acknowledging all that is sent, until the first 64 KiB are: every
        // data frame carries the file's bytes at its offset.
        let iss = h.iss.unwrap();
        let check_and_ack_all = |h: &mut common::Harness, upto: usize| {
            for _ in 0..200 {
                for (_, f) in h.rec.out.drain(..) {
                    if f.len() > 54 {
                        let seq = u32::from_be_bytes([f[38], f[39], f[40], f[41]]);
                        let at = seq.wrapping_sub(iss).wrapping_sub(1) as usize;
                        assert_eq!(&f[54..], &file[at..at + f.len() - 54], "bytes at {at}");
                    }
                }
                let st = h.ep.state(id).unwrap();
                let max = st.send_max().unwrap().get().wrapping_sub(iss);
                if max as usize > upto && st.send_pending() == 0 {
                    break;
                }
                h.rec.now += tcpcore::Duration::from_millis(1);
                h.inject(&format!(". 1001:1001(0) ack {max} win 502"));
            }
        };
        check_and_ack_all(&mut h, common::TXBUF);
        assert_eq!(h.ep.state(id).unwrap().send_pending(), 0);
        // Continued from where it ended, once ACKs made room.
        let now = h.rec.now;
        let more = h.ep.send_borrowed(id, file, common::TXBUF, now, &mut h.rec);
        assert_eq!(more, file.len() - common::TXBUF);
        check_and_ack_all(&mut h, file.len());
        assert_eq!(h.ep.state(id).unwrap().send_pending(), 0);
        // All acknowledged: `send` works again.
        let now = h.rec.now;
        assert_eq!(h.ep.send(id, b"tail", now, &mut h.rec), 4);
    }
}
