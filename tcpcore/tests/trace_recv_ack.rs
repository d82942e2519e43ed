//! Packet traces for when the receiver acknowledges (issue #16), as Linux
//! does by default: quick-ACK mode at the start of a connection and after
//! out-of-order data (Linux `tcp_incr_quickack`, `tcp_enter_quickack_mode`),
//! an ACK for every second full-sized segment as the peer sends them
//! (RFC 9293 §3.8.6.3, RFC 5681 §4.2; Linux `tcp_measure_rcv_mss`,
//! `__tcp_ack_snd_check`), and D-SACK (RFC 2883; Linux `tcp_dsack_set`).

mod common;
use common::{default_config, run};

/// Handshake without timestamps, with SACK and window scaling (a 64 KiB
/// receive buffer: window shift 1).
const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// Handshake with timestamps and SACK.
const HS_TS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>";

/// Linux `TCP_MAX_QUICKACKS`: with a 64 KiB window, as many quick ACKs
/// (the window holds more than 2 × 16 segments).
const QUICK: u32 = 16;

/// `n` segments of `len` bytes from `seq`, 1 ms apart from `t` ms, each
/// acknowledged at once.
fn each_acked(script: &mut String, seq: &mut u32, t: &mut u32, n: u32, len: u32, ts: bool) {
    for _ in 0..n {
        let e = *seq + len;
        let opt = if ts {
            format!(" <nop,nop,TS val 1{t:03} ecr *>")
        } else {
            String::new()
        };
        script.push_str(&format!(
            "\n0.{t:03} < . {seq}:{e}({len}) ack 1 win 502{opt}\n0.{t:03} > . 1:1(0) ack {e}"
        ));
        *seq = e;
        *t += 1;
    }
}

/// Quick-ACK mode (Linux `tcp_event_data_recv` -> `tcp_incr_quickack`):
/// the first 16 data segments of a connection are each acknowledged at
/// once, so that delayed ACKs do not slow the peer's slow start; the
/// segment after them, smaller than one full-sized segment, waits for the
/// delayed ACK (40 ms, RFC 9293 §3.8.6.3).
#[test]
fn quick_ack_for_first_segments_then_delayed() {
    let mut s = HS.to_string();
    let (mut seq, mut t) = (1001, 100);
    each_acked(&mut s, &mut seq, &mut t, QUICK, 100, false);
    let e = seq + 100;
    s.push_str(&format!(
        "\n0.{t:03} < . {seq}:{e}(100) ack 1 win 502
         0.{t:03} ! delivered {d}
         0.{a:03} > . 1:1(0) ack {e}",
        d = 17 * 100,
        a = t + 40,
    ));
    run(default_config(), &s);
}

/// After quick-ACK mode, an ACK for every second full-sized segment (RFC
/// 5681 §4.2, Linux `__tcp_ack_snd_check`: "more than one full frame
/// received"), full-sized as the peer sends it: with timestamps 1448
/// bytes (Linux `tcp_measure_rcv_mss`). The first of each pair waits.
#[test]
fn ack_every_second_measured_segment_after_quick_ack() {
    let mut s = HS_TS.to_string();
    let (mut seq, mut t) = (1001, 100);
    each_acked(&mut s, &mut seq, &mut t, QUICK, 1448, true);
    for _ in 0..2 {
        let (m, e) = (seq + 1448, seq + 2 * 1448);
        s.push_str(&format!(
            "\n0.{t:03} < . {seq}:{m}(1448) ack 1 win 502 <nop,nop,TS val 1{t:03} ecr *>
             0.{t:03} ! delivered {d1}
             0.{u:03} < . {m}:{e}(1448) ack 1 win 502 <nop,nop,TS val 1{u:03} ecr *>
             0.{u:03} > . 1:1(0) ack {e}",
            d1 = m - 1001,
            u = t + 1,
        ));
        seq = e;
        t += 2;
    }
    run(default_config(), &s);
}

/// A peer on a smaller path (MSS 1400: 1388 bytes with timestamps) gets
/// its ACK every two segments too, not every three: the full-sized
/// segment is measured (Linux `tcp_measure_rcv_mss`), not derived from
/// our MSS.
#[test]
fn ack_every_second_segment_of_a_smaller_peer_mss() {
    let mut s = "
        0.000 < S 1000:1000(0) win 64240 <mss 1400,sackOK,TS val 100 ecr 0,nop,wscale 7>
        0.000 > S. 0:0(0) ack 1001
        0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>"
        .to_string();
    let (mut seq, mut t) = (1001, 100);
    each_acked(&mut s, &mut seq, &mut t, QUICK, 1388, true);
    let (m, e) = (seq + 1388, seq + 2 * 1388);
    s.push_str(&format!(
        "\n0.{t:03} < . {seq}:{m}(1388) ack 1 win 502 <nop,nop,TS val 1{t:03} ecr *>
         0.{t:03} ! delivered {d1}
         0.{u:03} < . {m}:{e}(1388) ack 1 win 502 <nop,nop,TS val 1{u:03} ecr *>
         0.{u:03} > . 1:1(0) ack {e}",
        d1 = m - 1001,
        u = t + 1,
    ));
    run(default_config(), &s);
}

/// Out-of-order data enters quick-ACK mode again (Linux
/// `tcp_enter_quickack_mode`): after the gap is filled (ACKed at once, RFC
/// 5681 §4.2), the next in-order segment is acknowledged at once too,
/// where it would have waited for the delayed ACK before.
#[test]
fn quick_ack_reentered_after_out_of_order_data() {
    let mut s = HS.to_string();
    let (mut seq, mut t) = (1001, 100);
    each_acked(&mut s, &mut seq, &mut t, QUICK, 100, false);
    let (a, b, c) = (seq + 100, seq + 200, seq + 300);
    s.push_str(&format!(
        "\n0.200 < . {a}:{b}(100) ack 1 win 502
         0.200 > . 1:1(0) ack {seq} <sack {a}:{b}>
         0.210 < . {seq}:{a}(100) ack 1 win 502
         0.210 > . 1:1(0) ack {b} <>
         0.220 < . {b}:{c}(100) ack 1 win 502
         0.220 > . 1:1(0) ack {c}
         0.220 ! delivered {d}",
        d = c - 1001,
    ));
    run(default_config(), &s);
}

/// RFC 2883 §4: a retransmitted segment we already have (wholly below
/// RCV.NXT) is acknowledged at once with a D-SACK block, first, covering
/// it (Linux `tcp_send_dupack` -> `tcp_dsack_set`); it is reported once:
/// the next ACK carries no SACK block.
#[test]
fn dsack_for_retransmitted_segment() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < . 1001:1101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1101 <>
             0.200 < . 1001:1101(100) ack 1 win 502
             0.200 > . 1:1(0) ack 1101 <nop,nop,sack 1001:1101>
             0.200 ! delivered 100
             0.210 < . 1101:1201(100) ack 1 win 502
             0.210 > . 1:1(0) ack 1201 <>"
        ),
    );
}

/// RFC 2883 §4 with timestamps: the D-SACK block for a segment partly
/// below RCV.NXT covers only the duplicate part; the new bytes are
/// delivered (Linux `tcp_data_queue`: `tcp_dsack_set(seq, rcv_nxt)`).
#[test]
fn dsack_for_partly_duplicate_segment_with_timestamps() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 < . 1001:1101(100) ack 1 win 502 <nop,nop,TS val 120 ecr *>
             0.100 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 120>
             0.200 < . 1051:1201(150) ack 1 win 502 <nop,nop,TS val 130 ecr *>
             0.200 > . 1:1(0) ack 1201 <nop,nop,TS val * ecr 130,nop,nop,sack 1051:1101>
             0.200 ! delivered 200"
        ),
    );
}

/// RFC 2883 §4: data received again that is held out of order: the first
/// block is the D-SACK block, the second the held block containing it
/// (RFC 2883 §4.2.1's example; Linux `tcp_data_queue_ofo`).
#[test]
fn dsack_for_duplicate_out_of_order_data() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < . 2001:2101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1001 <nop,nop,sack 2001:2101>
             0.110 < . 2101:2201(100) ack 1 win 502
             0.110 > . 1:1(0) ack 1001 <nop,nop,sack 2001:2201>
             0.120 < . 2101:2201(100) ack 1 win 502
             0.120 > . 1:1(0) ack 1001 <nop,nop,sack 2101:2201 2001:2201>
             0.130 < . 1001:2001(1000) ack 1 win 502
             0.130 > . 1:1(0) ack 2201 <>
             0.130 ! delivered 1200"
        ),
    );
}

/// Without SACK negotiated there is no D-SACK (RFC 2883 §4 extends the
/// SACK option): the duplicate gets a plain ACK.
#[test]
fn no_dsack_without_sack() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         0.100 < . 1001:1101(100) ack 1 win 502
         0.100 > . 1:1(0) ack 1101 <>
         0.200 < . 1001:1101(100) ack 1 win 502
         0.200 > . 1:1(0) ack 1101 <>",
    );
}

/// RFC 9293 §3.8.6.2.2 (MUST-39), receiver silly-window avoidance on every
/// ACK (was CONFORMANCE.md D2): after a zero window, an application that
/// reads 100 bytes does not make the next ACK offer a 100-byte window; the
/// right edge stays until at least one full-sized segment (or half the
/// buffer) is free (Linux `__tcp_select_window`).
#[test]
fn no_silly_window_on_ack_after_zero_window() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.050 ! app-budget 0
             0.100 < . 1001:33769(32768) ack 1 win 502
             0.100 > . 1:1(0) ack 33769 win 16384
             0.101 < . 33769:66537(32768) ack 1 win 502
             0.101 > . 1:1(0) ack 66537 win 0
             0.200 ! app-budget 100
             0.300 < . 66537:66538(1) ack 1 win 502
             0.300 > . 1:1(0) ack 66537 win 0"
        ),
    );
}

/// With ACK batching on, an ACK that carries a D-SACK block is not held to
/// the end of the batch (like one with SACK blocks): RFC 2883 §4.
#[test]
fn dsack_ack_not_held_by_batching() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.050 ! batching on
             0.100 < . 1001:1101(100) ack 1 win 502
             0.100 ! flush-acks
             0.100 > . 1:1(0) ack 1101
             0.200 < . 1051:1201(150) ack 1 win 502
             0.200 > . 1:1(0) ack 1201 <nop,nop,sack 1051:1101>
             0.200 ! acks-held 0"
        ),
    );
}
