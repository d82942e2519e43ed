//! Issue #16, pacing (`Config::pacing`; Linux's `tcp_update_pacing_rate`
//! as `sch_fq` applies it): what the windows allow leaves spread at twice
//! cwnd per round trip in slow start (the least RTT seen, here SRTT too), the first ten segments unpaced, the EDT
//! schedule giving a late sender back half of a segment's time; the
//! pacing timer sends what was held in every state that sends data.
//!
//! The client offers an MSS of 1000 and no timestamps; the handshake's RTT
//! is 100 ms (SRTT and the least RTT 100 ms), so that the gaps are
//! milliseconds. NewReno
//! (the first slow start: one SMSS per ACK of a segment).

mod common;

use common::{no_nagle, Harness};
use tcpcore::{CongestionControl, EndpointConfig};

fn cfg(pacing: bool) -> EndpointConfig {
    let mut c = no_nagle();
    c.conn.congestion_control = CongestionControl::NewReno;
    c.conn.pacing = pacing;
    c
}

/// Handshake with SACK, MSS 1000, RTT 100 ms.
const HS: &str = "
    0.100 < S 1000:1000(0) win 64240 <mss 1000,sackOK,nop,wscale 7>
    0.100 > S. 0:0(0) ack 1001
    0.200 < . 1001:1001(0) ack 1 win 502";

/// `n` segments from byte `from` (relative), each at its time from `at`,
/// acknowledging `ack`; the last of the write (ending at `end`) with PSH.
fn out(segs: &[(u32, f64)], ack: u32, end: u32) -> String {
    segs.iter()
        .map(|&(from, t)| {
            let flags = if from + 1000 == end { "P." } else { "." };
            format!("{t:.6} > {flags} {from}:{}(1000) ack {ack}\n", from + 1000)
        })
        .collect()
}

/// The initial window at `t`: ten segments at once, never paced.
fn iw(t: f64, ack: u32, end: u32) -> String {
    let segs: Vec<(u32, f64)> = (0..10).map(|k| (1 + 1000 * k, t)).collect();
    out(&segs, ack, end)
}

/// The client's ACKs of the initial window at `t`, one per segment.
fn ack_iw(t: f64, seq: u32) -> String {
    (1..=10)
        .map(|k| format!("{t:.3} < . {seq}:{seq}(0) ack {} win 502\n", 1 + 1000 * k))
        .collect()
}

/// `end - 1` bytes sent at 0.300 (more than the initial window): the
/// initial window at once; at 0.400 the first of its ACKs lets the next
/// segment go at once, and the other nine ACKs follow (the script up to
/// there; with pacing, the segment after waits).
fn paced_start(end: u32) -> String {
    let mut s = format!("0.300 ! app-send {}\n", end - 1);
    s += &iw(0.300, 1001, end);
    let acks = ack_iw(0.400, 1001);
    let mut acks = acks.lines();
    s += &format!("{}\n", acks.next().unwrap_or_default());
    s += &out(&[(10001, 0.400)], 1001, end);
    for a in acks {
        s += &format!("{a}\n");
    }
    s
}

/// 30,000 bytes at 0.300: the initial window at once; its ACKs at 0.400
/// take cwnd to 20,000 and leave room for 20 segments. The first goes at
/// once (its schedule began at 0.300, so it is 100 ms late: the EDT
/// credit takes half of its time, 1,000 bytes at 2 × 11,000 per 100 ms =
/// 4.545 ms, off the next departure: 0.402273); the others one per 2.5 ms,
/// 1,000 bytes at 2 × 20,000 bytes per 100 ms.
#[test]
fn slow_start_paces_at_twice_cwnd_per_rtt() {
    let mut h = Harness::new(cfg(true));
    h.run(HS);
    let mut s = paced_start(30001);
    let paced: Vec<(u32, f64)> = (0..19)
        .map(|k| (11001 + 1000 * k, 0.402273 + 0.0025 * f64::from(k)))
        .collect();
    s += &out(&paced, 1001, 30001);
    s += "0.460 ! state ESTABLISHED\n";
    h.run(&s);
}

/// The same without pacing (the default): each ACK at 0.400 lets two
/// segments go at once, the whole window in the same instant.
#[test]
fn unpaced_the_window_goes_as_the_acks_open_it() {
    let mut h = Harness::new(cfg(false));
    h.run(HS);
    let mut s = String::from("0.300 ! app-send 30000\n");
    s += &iw(0.300, 1001, 30001);
    for (k, ack) in ack_iw(0.400, 1001).lines().enumerate() {
        s += ack;
        s += "\n";
        let k = k as u32;
        s += &out(
            &[(10001 + 2000 * k, 0.400), (11001 + 2000 * k, 0.400)],
            1001,
            30001,
        );
    }
    h.run(&s);
}

/// After the peer's FIN (CLOSE-WAIT) and after ours (FIN-WAIT-1, then
/// LAST-ACK), the pacing timer still sends what it held, and
/// our FIN follows the last byte. 12,000 bytes: the initial window at
/// 0.300, the ACK of its first segment at 0.400 (cwnd 11,000) lets two
/// go, the first at once, the second 2.273 ms later.
#[test]
fn the_pacing_timer_sends_in_every_state_that_sends() {
    // (the peer's FIN before, our close after app-send, the state after
    // the pacing timer's segment, the ACK number of our segments)
    let cases = [
        (false, false, "ESTABLISHED", 1001),
        (true, false, "CLOSE-WAIT", 1002),
        (false, true, "FIN-WAIT-1", 1001),
        (true, true, "LAST-ACK", 1002),
    ];
    for (peer_fin, close, state, ack) in cases {
        let mut h = Harness::new(cfg(true));
        h.run(HS);
        let mut s = String::new();
        if peer_fin {
            s += "0.250 < F. 1001:1001(0) ack 1 win 502\n0.250 > . 1:1(0) ack 1002\n";
        }
        s += "0.300 ! app-send 12000\n";
        s += &iw(0.300, ack, 12001);
        if close {
            s += "0.300 ! app-close\n";
        }
        s += &format!("0.400 < . {ack}:{ack}(0) ack 1001 win 502\n");
        s += &out(&[(10001, 0.400)], ack, 12001);
        if close {
            // The FIN rides on the last segment.
            s += &format!("0.402273 > FP. 11001:12001(1000) ack {ack}\n");
        } else {
            s += &out(&[(11001, 0.402273)], ack, 12001);
        }
        s += &format!("0.410 ! state {state}\n");
        h.run(&s);
    }
}

/// The slack (Linux's 50 µs timer slack): a segment due within 50 µs goes
/// when something else brings the sender by (here a window update), one
/// due later waits for its own time. 13,000 bytes: the last segment is due
/// at 0.404773 (2.5 ms after the one of 0.402273).
#[test]
fn a_segment_due_within_the_slack_goes_with_an_ack() {
    // (the window update's time, when the last segment goes)
    for (update, sent) in [(0.404733, 0.404733), (0.404713, 0.404773)] {
        let mut h = Harness::new(cfg(true));
        h.run(HS);
        let mut s = paced_start(13001);
        s += &out(&[(11001, 0.402273)], 1001, 13001);
        s += &format!("{update:.6} < . 1001:1001(0) ack 10001 win 503\n");
        let last = out(&[(12001, sent)], 1001, 13001);
        // The check fails on a frame sent before it and not expected.
        let check = format!("{:.6} ! state ESTABLISHED\n", update + 0.000001);
        if sent == update {
            s += &last;
            s += &check;
        } else {
            s += &check;
            s += &last;
        }
        h.run(&s);
    }
}
