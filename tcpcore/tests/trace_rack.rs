//! Issue #16, RACK-TLP (RFC 8985) as packet traces, in the manner of
//! Linux packetdrill's `tcp/rack/` and `tcp/tlp/` scripts: time-based loss
//! detection with a reordering window and its timer (§6), the reordering
//! window widened by DSACK (§6.2 step 4), and tail loss probes (§7): new
//! data when there is some, else the last segment; the RTO re-armed after
//! the probe; the congestion response when the probe repaired a loss.
//!
//! The client offers an MSS of 1000 and no timestamps; the handshake's
//! RTT is 40 ms (SRTT 40 ms, RTO the 200 ms floor, PTO 2 SRTT + 2 ms =
//! 82 ms, Linux's tcp_schedule_loss_probe),
//! and so is every data round trip below: RACK.min_RTT is 40 ms and the
//! reordering window, before any DSACK, min_RTT / 4 = 10 ms. NewReno
//! (RFC 5681) makes the windows asserted easy to follow.

mod common;

use common::{no_nagle, run, Harness};
use tcpcore::{CongestionControl, EndpointConfig, State};

/// [`no_nagle`] with NewReno in place of the default CUBIC.
fn newreno() -> EndpointConfig {
    let mut c = no_nagle();
    c.conn.congestion_control = CongestionControl::NewReno;
    c
}

/// Handshake with SACK, MSS 1000, RTT 40 ms.
const HS: &str = "
    0.100 < S 1000:1000(0) win 64240 <mss 1000,sackOK,nop,wscale 7>
    0.100 > S. 0:0(0) ack 1001
    0.140 < . 1001:1001(0) ack 1 win 502";

/// After [`HS`]: four segments out at 0.200.
const FOUR_OUT: &str = "
    0.200 ! app-send 4000
    0.200 > . 1:1001(1000) ack 1001
    0.200 > . 1001:2001(1000) ack 1001
    0.200 > . 2001:3001(1000) ack 1001
    0.200 > P. 3001:4001(1000) ack 1001";

/// After [`HS`]: two segments, the first displaced; the SACK of the second
/// (0.240) leaves it waiting the reordering window, the timer resends it
/// at 0.250, and its late original's ACK comes at 0.255.
const LATE_HOLE: &str = "
    0.200 ! app-send 2000
    0.200 > . 1:1001(1000) ack 1001
    0.200 > P. 1001:2001(1000) ack 1001
    0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:2001>
    0.250 > . 1:1001(1000) ack 1001
    0.255 < . 1001:1001(0) ack 2001 win 502";

/// The one connection's send half: (ssthresh, cwnd).
fn cc_of(h: &Harness) -> (u32, u32) {
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    match h.ep.state(id) {
        Some(State::Established(o)) => (o.snd().cc().ssthresh(), o.snd().cc().cwnd()),
        other => panic!("not established: {other:?}"),
    }
}

/// The one connection's RACK state: (reordering seen, reo_wnd_mult).
fn rack_of(h: &Harness) -> (bool, u8) {
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    match h.ep.state(id) {
        Some(State::Established(o)) => {
            let r = o.snd().cc().rack();
            (r.reordering_seen(), r.reo_wnd_mult())
        }
        other => panic!("not established: {other:?}"),
    }
}

/// RFC 8985 §6.2: a segment SACKed above a hole, fewer than DupThresh of
/// them, with no reordering seen: the hole waits the reordering window
/// (min_RTT / 4 = 10 ms, the timer armed for 0.250). The missing segment
/// arrives 5 ms later, reordered: nothing is retransmitted, ever, and
/// RACK.reordering_seen is set (§6.2 step 3: a never-retransmitted
/// segment delivered below RACK.fack).
#[test]
fn reordering_within_the_window_is_not_a_loss() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 3000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > . 1001:2001(1000) ack 1001
             0.200 > P. 2001:3001(1000) ack 1001
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:2001>
             0.245 < . 1001:1001(0) ack 2001 win 502
             0.246 < . 1001:1001(0) ack 3001 win 502
             1.000 tick
             1.000 ! state ESTABLISHED"
        ),
    );
    assert_eq!(rack_of(&h), (true, 1), "reordering seen");
    assert_eq!(cc_of(&h).0, u32::MAX, "no congestion event");
}

/// RFC 8985 §6.2 step 4 (Linux `tcp_rack_reo_wnd`): with no reordering
/// seen, DupThresh segments SACKed make the window zero, and the hole
/// below them is lost at once -- the classic rule, kept as a time rule.
/// Once reordering has been seen, three SACKed segments are not enough:
/// the hole waits the window (10 ms), then the reordering timer marks it
/// lost (§6.3), recovery begins and it is resent.
#[test]
fn dupthresh_sacks_mark_a_loss_at_once_until_reordering_is_seen() {
    // No reordering seen: at once.
    run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 5000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > . 1001:2001(1000) ack 1001
             0.200 > . 2001:3001(1000) ack 1001
             0.200 > . 3001:4001(1000) ack 1001
             0.200 > P. 4001:5001(1000) ack 1001
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:4001>
             0.240 > . 1:1001(1000) ack 1001"
        ),
    );
    // Reordering seen first (as in the test above), then the same.
    run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 2000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > P. 1001:2001(1000) ack 1001
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:2001>
             0.245 < . 1001:1001(0) ack 2001 win 502
             0.300 ! app-send 5000
             0.300 > . 2001:3001(1000) ack 1001
             0.300 > . 3001:4001(1000) ack 1001
             0.300 > . 4001:5001(1000) ack 1001
             0.300 > . 5001:6001(1000) ack 1001
             0.300 > P. 6001:7001(1000) ack 1001
             0.340 < . 1001:1001(0) ack 2001 win 502 <sack 3001:6001>
             0.350 > . 2001:3001(1000) ack 1001"
        ),
    );
}

/// RFC 8985 §6.3, the reordering timer: one segment SACKed above a hole at
/// 0.240, the hole sent at 0.200; it is lost once not delivered by its
/// send time + RACK.rtt (40 ms) + reo_wnd (10 ms): the timer fires at
/// 0.250 (Linux `tcp_rack_reo_timeout`), SACK-based recovery begins
/// (ssthresh = FlightSize / 2, at least 2 SMSS) and PRR lets the
/// retransmission go. The segment after the SACKed one, sent with it, is
/// not suspected. The full ACK ends recovery with cwnd = ssthresh.
#[test]
fn reordering_timer_marks_the_hole_lost() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 3000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > . 1001:2001(1000) ack 1001
             0.200 > P. 2001:3001(1000) ack 1001
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:2001>
             0.249 tick
             0.250 > . 1:1001(1000) ack 1001
             0.290 < . 1001:1001(0) ack 3001 win 502
             1.000 tick"
        ),
    );
    assert_eq!(cc_of(&h), (2000, 2000));
    assert_eq!(rack_of(&h), (false, 1));
}

/// RFC 8985 §6.2 step 5: a segment SACKed that was sent 30 ms after the
/// two below it -- more than the reordering window -- shows them lost at
/// once, one segment SACKed or not. PRR (RFC 6937) paces the resends:
/// the first at once; the second on the partial ACK that the first
/// draws, the slow start reduction bound (pipe 0 <= ssthresh 2000) with
/// its extra segment, that ACK showing no new loss.
#[test]
fn loss_detected_by_send_time() {
    run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 2000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > P. 1001:2001(1000) ack 1001
             0.230 ! app-send 1000
             0.230 > P. 2001:3001(1000) ack 1001
             0.270 < . 1001:1001(0) ack 1 win 502 <sack 2001:3001>
             0.270 > . 1:1001(1000) ack 1001
             0.310 < . 1001:1001(0) ack 1001 win 502 <sack 2001:3001>
             0.310 > P. 1001:2001(1000) ack 1001
             0.350 < . 1001:1001(0) ack 3001 win 502
             1.000 tick"
        ),
    );
}

/// RFC 8985 §6.2 step 4, DSACK adaptation (Linux
/// `tcp_rack_update_reo_wnd`): the reordering timer resends the hole at
/// 0.250, but the original was only late (its ACK at 0.255); the peer's
/// DSACK for the resent copy (RFC 2883) widens the window by a step:
/// reo_wnd_mult 2, so the next time a hole waits 20 ms, not 10: the
/// timer fires at 0.360, not 0.350.
#[test]
fn dsack_widens_the_reordering_window() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
{LATE_HOLE}
             0.290 < . 1001:1001(0) ack 2001 win 502 <sack 1:1001>
             0.300 ! app-send 2000
             0.300 > . 2001:3001(1000) ack 1001
             0.300 > P. 3001:4001(1000) ack 1001
             0.340 < . 1001:1001(0) ack 2001 win 502 <sack 3001:4001>
             0.359 tick
             0.360 > . 2001:3001(1000) ack 1001"
        ),
    );
    // The resent copy's ACK alone is no reordering (it was retransmitted);
    // the DSACK that shows the original arrived too is.
    assert_eq!(rack_of(&h), (true, 2));
}

/// RFC 8985 §7.3: at the PTO (2 SRTT + 2 ms = 82 ms after the flight went out)
/// the probe is a new segment when there is one and the peer's window
/// allows it -- beyond cwnd, the initial window of ten being all out
/// (Linux `tcp_send_loss_probe`). "After attempting to send a loss probe
/// ... the sender MUST re-arm the RTO timer": from 0.282, so the
/// timeout comes at 0.482, not at 0.400.
#[test]
fn probe_sends_new_data_and_rearms_the_rto() {
    let mut body = String::from("0.200 ! app-send 11000\n");
    for k in 0..10 {
        body += &format!(
            "0.200 > . {}:{}(1000) ack 1001\n",
            1 + 1000 * k,
            1001 + 1000 * k
        );
    }
    body += "0.282 > P. 10001:11001(1000) ack 1001\n";
    body += "0.481 tick\n";
    body += "0.482 > . 1:1001(1000) ack 1001\n";
    run(newreno(), &format!("{HS}\n{body}"));
}

/// RFC 8985 §7.3: with no new data, the probe is the last segment sent,
/// again; the RTO is re-armed from the probe.
#[test]
fn probe_resends_the_last_segment() {
    run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 3000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > . 1001:2001(1000) ack 1001
             0.200 > P. 2001:3001(1000) ack 1001
             0.282 > P. 2001:3001(1000) ack 1001
             0.481 tick
             0.482 > . 1:1001(1000) ack 1001"
        ),
    );
}

/// RFC 8985 §7.4.2: the last segment is lost; the probe (at 0.440: the PTO
/// of a lone segment, 2 SRTT + 200 ms, is clipped to the RTO, §7.2)
/// repairs it. The ACK of just the probe's end waits (a DSACK or a
/// duplicate ACK may yet show both copies arrived); the ACK beyond it,
/// with no such sign, ends the episode with a loss: "congestion control
/// MUST react appropriately to that loss" -- as Linux
/// `tcp_process_tlp_ack`, ssthresh from cwnd (NewReno: 10000 / 2: the ACK
/// of two segments at 0.240 grows nothing, three segments out never
/// having filled a cwnd of ten -- Linux `tcp_is_cwnd_limited`, in slow
/// start cwnd < 2 · the largest flight) and cwnd = ssthresh.
#[test]
fn probe_that_repaired_a_loss_reduces_cwnd() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 3000
             0.200 > . 1:1001(1000) ack 1001
             0.200 > . 1001:2001(1000) ack 1001
             0.200 > P. 2001:3001(1000) ack 1001
             0.240 < . 1001:1001(0) ack 2001 win 502
             0.440 > P. 2001:3001(1000) ack 1001
             0.450 ! app-send 1000
             0.450 > P. 3001:4001(1000) ack 1001
             0.480 < . 1001:1001(0) ack 3001 win 502
             0.490 < . 1001:1001(0) ack 4001 win 502
             1.000 tick"
        ),
    );
    assert_eq!(cc_of(&h), (5000, 5000));
}

/// RFC 8985 §7.4 (Linux `tcp_process_tlp_ack`: "TLP of new data has been
/// acknowledged"): a probe that carried new data repaired nothing; its
/// ACK ends the episode, and the ACK of later data beyond it is no loss:
/// ssthresh untouched, cwnd as slow start left it (RFC 9406 §4.3: at most
/// L = 8 SMSS per ACK, unpaced: 10000 + 8000; the ACK of the lone segment
/// at 0.370 grows nothing, one segment out not filling cwnd, Linux
/// `tcp_is_cwnd_limited`).
#[test]
fn probe_of_new_data_is_no_loss() {
    let mut body = String::from("0.200 ! app-send 11000\n");
    for k in 0..10 {
        body += &format!(
            "0.200 > . {}:{}(1000) ack 1001\n",
            1 + 1000 * k,
            1001 + 1000 * k
        );
    }
    body += "0.282 > P. 10001:11001(1000) ack 1001\n";
    body += "0.320 < . 1001:1001(0) ack 11001 win 502\n";
    body += "0.330 ! app-send 1000\n";
    body += "0.330 > P. 11001:12001(1000) ack 1001\n";
    body += "0.370 < . 1001:1001(0) ack 12001 win 502\n";
    body += "1.000 tick\n";
    let h = run(newreno(), &format!("{HS}\n{body}"));
    assert_eq!(cc_of(&h), (u32::MAX, 18_000));
}

/// RFC 8985 §6.2 step 5 on a retransmission (its §3.3.4, "Lost
/// retransmission"; Linux counts it as `TCPLostRetransmit`): the hole
/// resent at 0.240 is lost again. A segment sent after the resend (new
/// data at 0.250) is SACKed at 0.290, more than RACK.rtt + reo_wnd (0 in
/// recovery) after the resend went: the resend is lost too and goes
/// again at once, with no timeout. Only send times can tell: the resent
/// hole lies below the SACKed segment in sequence space either way.
#[test]
fn lost_retransmission_is_detected() {
    run(
        newreno(),
        &format!(
            "{HS}
{FOUR_OUT}
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:4001>
             0.240 > . 1:1001(1000) ack 1001
             0.250 ! app-send 1000
             0.250 > P. 4001:5001(1000) ack 1001
             0.290 < . 1001:1001(0) ack 1 win 502 <sack 1001:5001>
             0.290 > . 1:1001(1000) ack 1001
             0.330 < . 1001:1001(0) ack 5001 win 502
             1.000 tick"
        ),
    );
}

/// A DSACK for a retransmission makes later holes wait (RFC 8985 §6.2
/// with RFC 2883; see `rack.rs`): the hole at 1 is resent at DupThresh
/// SACKs; its original arrives anyway (ACK 4001) and the peer reports
/// the copy with a DSACK. The next hole, at 4001, again has three
/// segments SACKed above it, but reordering has been seen: it waits the
/// reordering window (two steps of min_RTT / 4 = 20 ms) and its original
/// fills it at 0.350. Nothing is sent twice. Without the DSACK counting
/// as reordering, 4001:5001 goes again at once at 0.340.
#[test]
fn dsack_of_a_retransmission_counts_as_reordering() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
{FOUR_OUT}
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:4001>
             0.240 > . 1:1001(1000) ack 1001
             0.242 < . 1001:1001(0) ack 4001 win 502
             0.280 < . 1001:1001(0) ack 4001 win 502 <sack 1:1001>
             0.300 ! app-send 4000
             0.300 > . 4001:5001(1000) ack 1001
             0.300 > . 5001:6001(1000) ack 1001
             0.300 > . 6001:7001(1000) ack 1001
             0.300 > P. 7001:8001(1000) ack 1001
             0.340 < . 1001:1001(0) ack 4001 win 502 <sack 5001:8001>
             0.350 < . 1001:1001(0) ack 8001 win 502
             1.000 tick"
        ),
    );
    assert!(rack_of(&h).0, "reordering seen");
}

/// A retransmission acknowledged sooner than SRTT / 2 after it went is
/// taken for its late original (see `rack.rs`, `update`), not as the most
/// recent delivery RACK measures from. One quick round trip (2 ms) makes
/// min_RTT 2 ms while SRTT stays near 40 ms. The hole at 1001 is resent
/// at 0.340 (three SACKed above it); 5001:6001, sent at 0.320, is still
/// on its way when ACK 5001 comes at 0.345. Taken for the resend (5 ms
/// is more than min_RTT), that ACK would make RACK.rtt 5 ms and mark
/// 5001:6001 lost at once (its 20 ms in flight being more than 5 ms +
/// a zero window): it would go again at 0.345. It is delivered at 0.360.
#[test]
fn quick_ack_of_a_retransmission_is_the_originals() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
             0.200 ! app-send 1000
             0.200 > P. 1:1001(1000) ack 1001
             0.202 < . 1001:1001(0) ack 1001 win 502
             0.300 ! app-send 4000
             0.300 > . 1001:2001(1000) ack 1001
             0.300 > . 2001:3001(1000) ack 1001
             0.300 > . 3001:4001(1000) ack 1001
             0.300 > P. 4001:5001(1000) ack 1001
             0.320 ! app-send 1000
             0.320 > P. 5001:6001(1000) ack 1001
             0.340 < . 1001:1001(0) ack 1001 win 502 <sack 2001:5001>
             0.340 > . 1001:2001(1000) ack 1001
             0.345 < . 1001:1001(0) ack 5001 win 502
             0.360 < . 1001:1001(0) ack 6001 win 502
             1.000 tick"
        ),
    );
    // 5 ms is more than min_RTT (2 ms): the resend could have been
    // delivered, so nothing is inferred about reordering.
    assert_eq!(rack_of(&h), (false, 1));
}

/// RFC 8985 §6.2 steps 3 and 4 (reordering seen, the window widened): a
/// resend ACKed sooner than min_RTT after it went cannot have been
/// delivered itself: its original arrived late, which is reordering as a
/// DSACK for the resend would show (Linux `tcp_skb_spurious_retrans`, from
/// timestamps; here by time, which milliseconds of TSval cannot tell on a
/// LAN). The hole resent at 0.250 is ACKed at 0.255, 5 ms later, with
/// min_RTT 40 ms: reordering seen, and the window a step wider, with no
/// DSACK at all.
#[test]
fn resend_acked_before_min_rtt_is_reordering() {
    let h = run(
        newreno(),
        &format!(
            "{HS}
{LATE_HOLE}
             1.000 tick"
        ),
    );
    assert_eq!(rack_of(&h), (true, 2));
}

/// A resend and new data sent in the same microsecond: RFC 8985's
/// `RACK_sent_after` breaks a tie of send times by sequence, which orders
/// first transmissions only. Here new data (4001:5001) goes at 0.240
/// first, then the ACK handled at the same instant shows the hole and
/// the hole is resent after it. When the new data is SACKed at 0.280, the
/// resend, sent after it, is not yet due: nothing goes, and its own ACK
/// comes at 0.281. Ordered by sequence, the resend would count as sent
/// before the new data and be marked lost at once (RACK.rtt 40 ms + a
/// zero window in recovery): it went again at 0.280 (see `rack.rs`,
/// `detect`).
#[test]
fn resend_after_new_data_in_the_same_instant_is_not_lost() {
    run(
        newreno(),
        &format!(
            "{HS}
{FOUR_OUT}
             0.240 ! app-send 1000
             0.240 > P. 4001:5001(1000) ack 1001
             0.240 < . 1001:1001(0) ack 1 win 502 <sack 1001:4001>
             0.240 > . 1:1001(1000) ack 1001
             0.280 < . 1001:1001(0) ack 1 win 502 <sack 1001:5001>
             0.281 < . 1001:1001(0) ack 5001 win 502
             1.000 tick"
        ),
    );
}

/// RFC 7661's "cwnd-limited", as Linux (`tcp_is_cwnd_limited`,
/// `tcp_cwnd_validate`): an ACK grows cwnd only if the flight filled it in
/// the current window (in slow start: if cwnd is less than twice the
/// largest flight). Three writes of one segment each, each ACKed, leave
/// the initial window of ten as it was; a write of ten segments fills it,
/// and its ACK grows it (slow start, HyStart++'s L = 8 SMSS per ACK).
#[test]
fn cwnd_grows_only_when_the_flight_fills_it() {
    let mut h = Harness::new(newreno());
    h.run(&format!(
        "{HS}
         0.200 ! app-send 1000
         0.200 > P. 1:1001(1000) ack 1001
         0.240 < . 1001:1001(0) ack 1001 win 502
         0.300 ! app-send 1000
         0.300 > P. 1001:2001(1000) ack 1001
         0.340 < . 1001:1001(0) ack 2001 win 502
         0.400 ! app-send 1000
         0.400 > P. 2001:3001(1000) ack 1001
         0.440 < . 1001:1001(0) ack 3001 win 502"
    ));
    assert_eq!(cc_of(&h), (u32::MAX, 10_000), "not cwnd-limited");
    let mut body = String::from("0.500 ! app-send 10000\n");
    for k in 0..10 {
        body += &format!(
            "0.500 > {}. {}:{}(1000) ack 1001\n",
            if k == 9 { "P" } else { "" },
            3001 + 1000 * k,
            4001 + 1000 * k
        );
    }
    body += "0.540 < . 1001:1001(0) ack 13001 win 502\n";
    h.run(&body);
    assert_eq!(cc_of(&h), (u32::MAX, 18_000), "cwnd-limited");
}

/// RFC 8985 §6.2 step 2: "If ACK.ts_option.echo_reply < Segment.xmit_ts:
/// Return" (Linux `tcp_skb_spurious_retrans`). With timestamps, the hole's
/// resend (0.250) is ACKed 50 ms later, as slow as a real round trip (not
/// sooner than min_RTT, 40 ms), but the ACK echoes the original's TSval
/// (0.200): it was the original that arrived, late. Reordering is seen
/// and the window a step wider, and RACK takes no sample from the resend
/// (taken, its send time and RTT would make every segment sent before it
/// and not yet delivered look lost at once).
/// [`HS`] with timestamps (MSS 1000, so 988 bytes of data a segment);
/// returns the harness and our TSval at 0.200.
fn ts_handshake() -> (Harness, u32) {
    let mut h = Harness::new(newreno());
    h.run(
        "0.100 < S 1000:1000(0) win 64240 <mss 1000,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.100 > S. 0:0(0) ack 1001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         0.140 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 140 ecr *>",
    );
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    let off = match h.ep.state(id) {
        Some(State::Established(o)) => o.tcb().ts().expect("timestamps").offset(),
        other => panic!("not established: {other:?}"),
    };
    (h, 200u32.wrapping_add(off))
}

#[test]
fn resend_acked_with_the_originals_echo_is_reordering() {
    let (mut h, t200) = ts_handshake();
    h.run(&format!(
        "0.200 ! app-send 1976
         0.200 > . 1:989(988) ack 1001
         0.200 > P. 989:1977(988) ack 1001
         0.240 < . 1001:1001(0) ack 1 win 502 <sack 989:1977,TS val 240 ecr {t200}>
         0.250 > . 1:989(988) ack 1001
         0.300 < . 1001:1001(0) ack 1977 win 502 <nop,nop,TS val 300 ecr {t200}>
         0.330 tick"
    ));
    assert_eq!(rack_of(&h), (true, 2));
}

/// The echo rule above holds for what the cumulative ACK delivers only
/// (Linux applies it in `tcp_clean_rtx_queue`): the receiver's TS.Recent
/// moves with the left edge only (RFC 7323 §4.3). Two holes, 1:989 and
/// 1977:2965: the first is resent by the timer at 0.250, the second when
/// the ACK of 0.255 lets PRR send one more. The second resend is SACKed
/// at 0.320, 65 ms after it went, while the first hole is still open, so
/// that ACK echoes the TSval of 0.200 however it came: no reordering is
/// inferred from it (it was, the window widened at 1 % random loss and
/// goodput fell 7 %). RACK takes its sample, and the first resend, sent
/// before it and not delivered 65 ms later (a zero window in recovery),
/// goes again.
#[test]
fn sacked_resend_above_a_hole_is_not_taken_for_its_original() {
    let (mut h, t200) = ts_handshake();
    h.run(&format!(
        "0.200 ! app-send 4940
         0.200 > . 1:989(988) ack 1001
         0.200 > . 989:1977(988) ack 1001
         0.200 > . 1977:2965(988) ack 1001
         0.200 > . 2965:3953(988) ack 1001
         0.200 > P. 3953:4941(988) ack 1001
         0.240 < . 1001:1001(0) ack 1 win 502 <sack 989:1977 2965:3953,TS val 240 ecr {t200}>
         0.250 > . 1:989(988) ack 1001
         0.255 < . 1001:1001(0) ack 1 win 502 <sack 989:1977 2965:4941,TS val 255 ecr {t200}>
         0.255 > . 1977:2965(988) ack 1001
         0.320 < . 1001:1001(0) ack 1 win 502 <sack 989:4941,TS val 320 ecr {t200}>
         0.320 > . 1:989(988) ack 1001"
    ));
    assert_eq!(rack_of(&h), (false, 1));
}
