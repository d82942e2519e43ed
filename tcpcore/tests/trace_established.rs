//! Packet traces for ESTABLISHED: acceptability, RST, SYN, ACK, text and FIN
//! processing (RFC 9293 §3.10.7.4), RFC 5961, RFC 2018, RFC 7323.

mod common;
use common::{default_config, run, run_both, Harness};

/// Handshake without timestamps, with SACK and window scaling.
const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// Handshake with timestamps.
const HS_TS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr 0>";

/// The handshake with timestamps, then 100 bytes with TSval 200 (TS.Recent
/// 200), acknowledged: where the PAWS tests start.
fn paws_script(body: &str) -> String {
    format!(
        "{HS_TS}
         0.100 < P. 1001:1101(100) ack 1 win 502 <nop,nop,TS val 200 ecr 0>
         0.100 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 200>
         {body}"
    )
}

fn script(body: &str) -> String {
    format!("{HS}\n{body}")
}

/// RFC 9293 §3.8.6.3 / RFC 1122 §4.2.3.2: in-order data is delivered at
/// once; the first segment of a connection is acknowledged at once too
/// (quick-ACK mode, Linux `tcp_incr_quickack`, issue #16; was: after the
/// 40 ms delay; the delay after quick-ACK mode is
/// `quick_ack_for_first_segments_then_delayed`).
#[test]
fn in_order_data_delayed_ack() {
    run_both(
        default_config(),
        &script(
            "0.100 < P. 1001:1101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1101 win 32768
             0.100 ! delivered 100",
        ),
    );
}

/// RFC 5681 §4.2: an ACK for at least every second full-sized segment
/// (in quick-ACK mode, at the start of the connection, for every one:
/// Linux `tcp_incr_quickack`, issue #16; was one ACK for both; the ACK per
/// two segments after quick-ACK mode is
/// `ack_every_second_measured_segment_after_quick_ack`).
#[test]
fn every_second_full_segment_acked_at_once() {
    run(
        default_config(),
        &script(
            "0.100 < . 1001:2461(1460) ack 1 win 502
             0.100 > . 1:1(0) ack 2461
             0.100 < . 2461:3921(1460) ack 1 win 502
             0.100 > . 1:1(0) ack 3921
             0.200 ! delivered 2920",
        ),
    );
}

/// RFC 5681 §4.2 and RFC 2018 §4: out-of-order data is acknowledged at
/// once with a duplicate ACK whose SACK block covers it; the segment that
/// fills the hole is acknowledged at once too, and every byte is delivered
/// once, in order.
#[test]
fn out_of_order_gets_sack_then_gap_fill_acked() {
    run_both(
        default_config(),
        &script(
            "0.100 < . 2001:2101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1001 <nop,nop,sack 2001:2101>
             0.100 ! delivered 0
             0.110 < . 1001:2001(1000) ack 1 win 502
             0.110 > . 1:1(0) ack 2101 <>
             0.110 ! delivered 1100",
        ),
    );
}

/// RFC 2018 §4: "The first SACK block MUST specify the contiguous block of
/// data containing the segment which triggered this ACK"; the others follow.
#[test]
fn sack_blocks_most_recent_first() {
    run(
        default_config(),
        &script(
            "0.100 < . 2001:2101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1001 <sack 2001:2101>
             0.101 < . 3001:3101(100) ack 1 win 502
             0.101 > . 1:1(0) ack 1001 <sack 3001:3101 2001:2101>
             0.102 < . 2101:2201(100) ack 1 win 502
             0.102 > . 1:1(0) ack 1001 <sack 2001:2201 3001:3101>",
        ),
    );
}

/// RFC 9293 §3.10.7.4 first: a segment wholly before RCV.NXT is not
/// acceptable; it is acknowledged and its bytes are not delivered twice.
#[test]
fn duplicate_segment_acked_not_redelivered() {
    run(
        default_config(),
        &script(
            "0.100 < P. 1001:1101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1101
             0.200 < P. 1001:1101(100) ack 1 win 502
             0.200 > . 1:1(0) ack 1101 <sack 1001:1101>
             0.200 ! delivered 100
             0.200 ! drops out-of-window 1",
        ),
    );
}

/// RFC 9293 §3.10.7.4: a segment overlapping RCV.NXT is trimmed; only its
/// new bytes are delivered (the first segment is quick-ACKed, the second's
/// duplicate part reported at once in a D-SACK block, RFC 2883 §4; issue
/// #16; was one delayed ACK at 0.140).
#[test]
fn overlapping_segment_trimmed() {
    run(
        default_config(),
        &script(
            "0.100 < P. 1001:1101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1101
             0.110 < P. 1051:1201(150) ack 1 win 502
             0.110 > . 1:1(0) ack 1201 <sack 1051:1101>
             0.110 ! delivered 200",
        ),
    );
}

/// RFC 9293 §3.10.7.4 first: a segment beyond the window is acknowledged
/// and dropped.
#[test]
fn beyond_window_acked_and_dropped() {
    run(
        default_config(),
        &script(
            "0.100 < . 70000:70100(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1001
             0.100 ! drops out-of-window 1
             0.100 ! delivered 0",
        ),
    );
}

/// RFC 9293 §3.10.7.4, the acceptability table: a zero-length segment at
/// RCV.NXT+RCV.WND (just past the window) is not acceptable, one just
/// inside is.
#[test]
fn zero_length_acceptability_at_window_edge() {
    run(
        default_config(),
        &script(
            "0.100 < . 66537:66537(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1001
             0.110 < . 66536:66536(0) ack 1 win 502
             0.110 ! drops out-of-window 1",
        ),
    );
}

/// RFC 9293 §3.10.7.4, the acceptability table, a segment that starts
/// before the window but ends inside it is acceptable.
#[test]
fn segment_straddling_left_edge_is_acceptable() {
    run(
        default_config(),
        &script(
            "0.100 < P. 901:1101(200) ack 1 win 502
             0.100 > . 1:1(0) ack 1101 <sack 901:1001>
             0.100 ! delivered 100",
        ),
    );
}

/// RFC 5961 §3.2: a RST with SEG.SEQ = RCV.NXT resets the connection.
#[test]
fn exact_reset_closes() {
    run_both(
        default_config(),
        &script(
            "0.100 < R 1001:1001(0) win 0
             0.100 ! state CLOSED
             0.100 ! closed reset",
        ),
    );
}

/// RFC 5961 §3.2: a RST in the window but not at RCV.NXT gets a challenge
/// ACK and the connection stays.
#[test]
fn in_window_reset_gets_challenge_ack() {
    run(
        default_config(),
        &script(
            "0.100 < R 1500:1500(0) win 0
             0.100 > . 1:1(0) ack 1001
             0.100 ! state ESTABLISHED
             0.100 ! drops rst-not-exact 1",
        ),
    );
}

/// RFC 9293 §3.10.7.4 first: a RST outside the window is dropped silently.
#[test]
fn out_of_window_reset_ignored() {
    run(
        default_config(),
        &script(
            "0.100 < R 900000:900000(0) win 0
             0.100 ! state ESTABLISHED",
        ),
    );
}

/// RFC 5961 §4: a SYN in a synchronized state gets a challenge ACK.
#[test]
fn syn_in_established_gets_challenge_ack() {
    run(
        default_config(),
        &script(
            "0.100 < S 1500:1500(0) win 64240
             0.100 > . 1:1(0) ack 1001
             0.100 ! state ESTABLISHED
             0.100 ! drops unexpected-syn 1",
        ),
    );
}

/// RFC 5961 §7: challenge ACKs are rate-limited (10 per second here).
#[test]
fn challenge_acks_are_rate_limited() {
    let mut body = String::new();
    for i in 0..15 {
        body += &format!("0.{:03} < R {}:{}(0) win 0\n", 100 + i, 1100 + i, 1100 + i);
        if i < 10 {
            body += &format!("0.{:03} > . 1:1(0) ack 1001\n", 100 + i);
        }
    }
    // A new second, a new allowance.
    body += "1.200 < R 1300:1300(0) win 0\n1.200 > . 1:1(0) ack 1001\n";
    let h = run(default_config(), &script(&body));
    assert_eq!(h.ep.stats().dropped(tcpcore::DropReason::RstNotExact), 16);
}

/// RFC 5961 §5.2 / RFC 9293 §3.10.7.4 fifth: an ACK of something not yet
/// sent (SEG.ACK > SND.NXT) is answered with an ACK and dropped, data and
/// all.
#[test]
fn ack_beyond_snd_nxt_gets_ack_and_drop() {
    run(
        default_config(),
        &script(
            "0.100 < P. 1001:1101(100) ack 5 win 502
             0.100 > . 1:1(0) ack 1001
             0.100 ! delivered 0
             0.100 ! drops bad-ack 1",
        ),
    );
}

/// RFC 9293 §3.10.7.4 fifth: "if the ACK bit is off, drop the segment".
#[test]
fn segment_without_ack_dropped() {
    run(
        default_config(),
        &script(
            "0.100 < P 1001:1101(100) win 502
             0.100 ! delivered 0
             0.100 ! drops bad-ack 1",
        ),
    );
}

/// RFC 7323 §5.3: PAWS -- a segment whose TSval is older than TS.Recent is
/// acknowledged and dropped.
#[test]
fn paws_drops_old_timestamp() {
    run(
        default_config(),
        &paws_script(
            "0.100 ! delivered 100
             0.110 < P. 1101:1201(100) ack 1 win 502 <nop,nop,TS val 150 ecr 0>
             0.110 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 200>
             0.110 ! delivered 100
             0.110 ! drops paws 1",
        ),
    );
}

/// RFC 7323 §5.3 R1 (PAWS) with Linux's tolerance (`TCP_PAWS_WINDOW`,
/// one tick, `tcp_paws_discard`; the RFC has none): a segment
/// one tick older than TS.Recent is taken (a Linux peer's ACKs from two
/// CPUs may cross), TS.Recent staying where it is; two ticks older, it is
/// dropped.
#[test]
fn paws_lets_a_segment_one_tick_old_pass() {
    run(
        default_config(),
        &paws_script(
            "0.110 < P. 1101:1201(100) ack 1 win 502 <nop,nop,TS val 199 ecr 0>
             0.110 > . 1:1(0) ack 1201 <nop,nop,TS val * ecr 200>
             0.110 ! delivered 200
             0.110 ! drops paws 0
             0.120 < P. 1201:1301(100) ack 1 win 502 <nop,nop,TS val 198 ecr 0>
             0.120 > . 1:1(0) ack 1201 <nop,nop,TS val * ecr 200>
             0.120 ! delivered 200
             0.120 ! drops paws 1",
        ),
    );
}

/// RFC 7323 §5.3 R1 as Linux takes it: R1 would drop every segment behind
/// TS.Recent, but `tcp_disordered_ack` (`tcp_paws_discard`) spares a pure
/// duplicate ACK: one at RCV.NXT, with the window it had, five ticks
/// behind TS.Recent, is taken, not answered; the same ACK with a new window, a
/// segment with data, or a duplicate ACK further behind than the RTO (1 s,
/// 1,024 ticks) are dropped by PAWS and answered.
#[test]
fn paws_spares_a_disordered_duplicate_ack() {
    run(
        default_config(),
        &paws_script(
            "0.105 < . 1101:1101(0) ack 1 win 502 <nop,nop,TS val 200 ecr 0>
             0.110 < . 1101:1101(0) ack 1 win 502 <nop,nop,TS val 195 ecr 0>
             0.110 ! drops paws 0
             0.120 < . 1101:1101(0) ack 1 win 600 <nop,nop,TS val 195 ecr 0>
             0.120 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 200>
             0.120 ! drops paws 1
             0.130 < P. 1101:1201(100) ack 1 win 502 <nop,nop,TS val 195 ecr 0>
             0.130 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 200>
             0.130 ! drops paws 2
             0.140 < . 1101:1101(0) ack 1 win 502 <nop,nop,TS val 4294965996 ecr 0>
             0.140 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 200>
             0.140 ! drops paws 3
             0.150 ! delivered 100",
        ),
    );
}

/// RFC 7323 §3.2 and §4.3: our ACKs echo TS.Recent, updated from segments
/// that cover Last.ACK.sent.
#[test]
fn timestamps_echoed() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 < P. 1001:1101(100) ack 1 win 502 <nop,nop,TS val 200 ecr 0>
             0.100 > . 1:1(0) ack 1101 <nop,nop,TS val * ecr 200>"
        ),
    );
}

/// Segments longer than the MSS (GSO super-frames) are accepted whole.
#[test]
fn gso_sized_segment_accepted() {
    run(
        default_config(),
        &script(
            "0.100 < P. 1001:61001(60000) ack 1 win 502
             0.100 > . 1:1(0) ack 61001
             0.100 ! delivered 60000",
        ),
    );
}

/// RFC 9293 §3.10.7.4 eighth: the peer's FIN is acknowledged at once,
/// reported, and ESTABLISHED becomes CLOSE-WAIT.
#[test]
fn fin_acked_and_close_wait() {
    run_both(
        default_config(),
        &script(
            "0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1002
             0.100 ! peer-closed
             0.100 ! state CLOSE-WAIT",
        ),
    );
}

/// RFC 9293 §3.10.7.4 eighth: a FIN that arrives before the data in front
/// of it is held; when the gap fills, data and FIN are taken together.
#[test]
fn out_of_order_fin_waits_for_gap() {
    run(
        default_config(),
        &script(
            "0.100 < FP. 1101:1201(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1001 <sack 1101:1201>
             0.100 ! state ESTABLISHED
             0.110 < P. 1001:1101(100) ack 1 win 502
             0.110 > . 1:1(0) ack 1202
             0.110 ! delivered 200
             0.110 ! state CLOSE-WAIT",
        ),
    );
}

/// A window field describes the whole buffer (scaled, RFC 7323 §2.3) and the
/// right edge never moves left (RFC 9293 §3.8.6): with out-of-order data
/// held, the advertised window does not shrink.
#[test]
fn window_does_not_shrink_with_held_data() {
    run(
        default_config(),
        &script(
            "0.100 < . 1101:2101(1000) ack 1 win 502
             0.100 > . 1:1(0) ack 1001 win 32768
             0.110 < . 1001:1101(100) ack 1 win 502
             0.110 > . 1:1(0) ack 2101 win 32768",
        ),
    );
}

/// Without window scaling, the window field is capped at 65535.
#[test]
fn unscaled_window_capped() {
    run(
        default_config(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1460>
         0.000 > S. 0:0(0) ack 1001 win 65535
         0.010 < . 1001:1001(0) ack 1 win 502
         0.100 < P. 1001:1101(100) ack 1 win 502
         0.100 > . 1:1(0) ack 1101 win 65535",
    );
}

/// The checksum is verified when the kernel did not vouch for it.
#[test]
fn bad_checksum_dropped() {
    let mut h = Harness::new(default_config());
    h.run(HS);
    let mut f = h.frame_for(&common::Seg {
        flags: "P.".into(),
        seq: 1001,
        len: 10,
        ack: Some(1),
        win: Some(502),
        options: None,
        ecn: None,
    });
    let last = f.len() - 1;
    f[last] ^= 0xff;
    h.send(&f);
    h.run("0.200 ! delivered 0\n0.200 ! drops bad-checksum 1");
}

/// Receive-side flow control through the application: bytes it does not
/// take stay in the buffer and the window closes (RFC 9293 §3.8.6); a
/// segment beyond a zero window is not acceptable and is answered with an
/// ACK; when the application reads again, a window update goes out
/// (RFC 9293 §3.8.6.2.2) and nothing was lost.
#[test]
fn window_closes_when_application_stops_reading_then_update() {
    run(
        default_config(),
        &script(
            "0.050 ! app-budget 1000
             0.100 < . 1001:33769(32768) ack 1 win 502
             0.100 > . 1:1(0) ack 33769 win 16884
             0.100 ! delivered 1000
             0.110 < . 33769:67537(33768) ack 1 win 502
             0.110 > . 1:1(0) ack 67537 win 0
             0.120 < . 67537:68537(1000) ack 1 win 502
             0.120 > . 1:1(0) ack 67537 win 0
             0.120 ! drops out-of-window 1
             0.130 < . 67537:67538(1) ack 1 win 502
             0.130 > . 1:1(0) ack 67537 win 0
             0.200 ! app-resume
             0.200 > . 1:1(0) ack 67537 win 32768
             0.200 ! delivered 66536
             0.210 < . 67537:68537(1000) ack 1 win 502
             0.210 > . 1:1(0) ack 68537 win 32768
             0.210 ! delivered 67536",
        ),
    );
}

/// With unread data held, the server does not close after the peer's FIN
/// until the application has read everything (nothing is lost); then its
/// FIN carries the ACK.
#[test]
fn close_after_fin_waits_for_application() {
    let mut cfg = default_config();
    cfg.conn.close_on_peer_fin = true;
    run(
        cfg,
        &script(
            "0.050 ! app-budget 10
             0.100 < FP. 1001:1101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1102
             0.100 ! state CLOSE-WAIT
             0.100 ! delivered 10
             0.200 ! app-resume
             0.200 > F. 1:1(0) ack 1102
             0.200 ! delivered 100
             0.200 ! state LAST-ACK",
        ),
    );
}

/// ACK batching (`Endpoint::set_batching`): ACKs that only move RCV.NXT
/// forward wait for the end of the batch, where one ACK per connection
/// covers all of it -- still within RFC 9293 §3.8.6.3's "ACK at least every
/// second full-sized segment" per batch. Duplicate ACKs (out-of-order data,
/// SACK blocks) are never held back.
#[test]
fn batched_acks_one_per_batch() {
    run(
        default_config(),
        &script(
            "0.050 ! batching on
             0.100 < . 1001:2461(1460) ack 1 win 502
             0.100 < . 2461:3921(1460) ack 1 win 502
             0.100 < . 3921:5381(1460) ack 1 win 502
             0.100 < . 5381:6841(1460) ack 1 win 502
             0.100 ! delivered 5840
             0.100 ! flush-acks
             0.100 > . 1:1(0) ack 6841
             0.110 < . 8301:9761(1460) ack 1 win 502
             0.110 > . 1:1(0) ack 6841 <sack 8301:9761>
             0.110 ! flush-acks
             0.200 tick",
        ),
    );
}

/// The connection bounds how long batching holds its ACK
/// (`Config::ack_hold`, 50 µs): a caller that never flushes still gets the
/// ACK sent, by the connection's own timer.
#[test]
fn held_ack_goes_by_its_timer() {
    run(
        default_config(),
        &script(
            "0.050 ! batching on
             0.100 < . 1001:2461(1460) ack 1 win 502
             0.100 < . 2461:3921(1460) ack 1 win 502
             0.100 ! acks-held 1
             0.10004 tick
             0.10005 > . 1:1(0) ack 3921
             0.200 tick",
        ),
    );
}

/// ... and how many bytes it covers (`Config::ack_hold_bytes`; 32 KiB by
/// default, Linux's stretch ACKs under GRO cover about as much; 8 KiB
/// here, below where the window update of a 64 KiB buffer would go): the
/// segment that takes the unacknowledged bytes to it is acknowledged at
/// once, flush or not.
#[test]
fn held_ack_goes_after_ack_hold_bytes() {
    let mut cfg = default_config();
    cfg.conn.ack_hold_bytes = 8 * 1024;
    let mut lines = String::from("0.050 ! batching on\n");
    let mut seq = 1001u32;
    for _ in 0..5 {
        lines += &format!("0.100 < . {}:{}(1460) ack 1 win 502\n", seq, seq + 1460);
        seq += 1460;
    }
    // 5 segments are 7,300 bytes, held; the sixth makes 8,760.
    lines += "0.100 ! acks-held 1\n";
    lines += &format!("0.100 < . {}:{}(1460) ack 1 win 502\n", seq, seq + 1460);
    seq += 1460;
    lines += &format!("0.100 > . 1:1(0) ack {seq}\n0.100 ! flush-acks\n0.200 tick");
    run(cfg, &script(&lines));
}

/// A connection that ends while its ACK is held by batching (here: an
/// exact RST in the same batch) takes the held ACK with it: nothing goes
/// out at the flush.
#[test]
fn held_ack_goes_with_a_reset_connection() {
    run(
        default_config(),
        &script(
            "0.050 ! batching on
             0.100 < . 1001:2461(1460) ack 1 win 502
             0.100 < . 2461:3921(1460) ack 1 win 502
             0.100 ! delivered 2920
             0.100 ! acks-held 1
             0.100 < R 3921:3921(0) win 0
             0.100 ! closed reset
             0.100 ! acks-held 0
             0.100 ! flush-acks
             0.200 tick",
        ),
    );
}
