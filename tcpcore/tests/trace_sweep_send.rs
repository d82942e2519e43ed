//! Packet traces for the send-path defects found by the conformance sweep
//! (`CONFORMANCE.md`, "Defects found by the sweep"): D3 (sender silly-window
//! override timer), D9 (SACK blocks on every ACK while holes exist), D10
//! (the tail loss probe sends new data), D16 (initial window from the
//! effective MSS), D18 (the probe timeout's delayed-ACK allowance) and D21
//! (SACK blocks repeated by recency).

mod common;
use common::{default_config, no_nagle, run, Harness};
use tcpcore::Duration;

/// Handshake with SACK and window scaling, no timestamps (client window
/// 502 << 7; our window shift is 1 for the 64 KiB trace buffer).
const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

/// As [`HS`], with timestamps.
const HS_TS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>";

/// D3. RFC 9293 §3.8.6.2.1 (MUST-38): the sender sends when a full segment,
/// or all queued data, or at least half the peer's largest window can go,
/// "or if the override timeout occurs" (0.1 to 1.0 s). With nothing in
/// flight, a window reopened by 100 bytes (of a largest window of 3000) gets
/// no 100-byte segment at once; the override timer (the RTO, 200 ms here,
/// as Linux's probe timer: `tcp_write_xmit` refuses the segment in
/// `tcp_snd_wnd_test`, `tcp_probe_timer` -> `tcp_write_wakeup` sends what
/// the window allows) sends it.
#[test]
fn d3_sws_override_timer_sends_small_window() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 3000 <mss 1460>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 3000
         0.100 ! app-send 5000
         0.100 > . 1:1461(1460) ack 1001
         0.100 > . 1461:2921(1460) ack 1001
         0.110 < . 1001:1001(0) ack 2921 win 100
         0.300 tick
         0.310 > . 2921:3021(100) ack 1001",
    );
}

/// D3. RFC 9293 §3.8.6.2.1: once the window opens to a full segment before
/// the override timer fires, the segment goes at once, and the timer sends
/// nothing more.
#[test]
fn d3_sws_full_window_cancels_override() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 3000 <mss 1460>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 3000
         0.100 ! app-send 3080
         0.100 > . 1:1461(1460) ack 1001
         0.100 > . 1461:2921(1460) ack 1001
         0.110 < . 1001:1001(0) ack 2921 win 50
         0.200 < . 1001:1001(0) ack 2921 win 3000
         0.200 > P. 2921:3081(160) ack 1001
         0.250 < . 1001:1001(0) ack 3081 win 3000
         1.500 tick",
    );
}

/// D10. RFC 8985 §7.3: "If a previously unsent segment exists AND the
/// receive window allows new data to be sent: Transmit that new segment"
/// (Linux `tcp_send_loss_probe` pushes one new segment past cwnd). The
/// flight is limited by cwnd (ten segments), more data is queued: the probe
/// (PTO = 2 SRTT + 2 ms = 22 ms, Linux's tcp_schedule_loss_probe) is the
/// eleventh segment, not the tenth again.
#[test]
fn d10_tlp_sends_new_data() {
    let mut s = String::from(HS);
    s.push_str("\n0.100 ! app-send 20000\n");
    for i in 0..10 {
        let a = 1 + i * 1460;
        s.push_str(&format!("0.100 > . {a}:{}(1460) ack 1001\n", a + 1460));
    }
    s.push_str("0.122 > . 14601:16061(1460) ack 1001\n");
    run(no_nagle(), &s);
}

/// D10. RFC 8985 §7.3: "Otherwise ... retransmit the last segment": when
/// the peer's window holds no new segment the probe resends the last one.
#[test]
fn d10_tlp_resends_last_when_window_full() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 2920 <mss 1460,sackOK>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 2920
         0.100 ! app-send 5000
         0.100 > . 1:1461(1460) ack 1001
         0.100 > . 1461:2921(1460) ack 1001
         0.122 > . 1461:2921(1460) ack 1001",
    );
}

/// D16. RFC 6928 §2: IW = min(10·SMSS, max(2·SMSS, 14600)), SMSS being the
/// effective send MSS. On a 9000-byte link with a peer announcing MSS 8960
/// that is 17920 bytes: two segments before any ACK, not ten. (The ACK of
/// both grows cwnd by both, RFC 9406 §4.2's slow start with L = 8, as
/// Linux `tcp_slow_start`: four segments go.)
#[test]
fn d16_initial_window_capped() {
    let mut cfg = no_nagle();
    cfg.conn.mss = 8960;
    let mut h = Harness::new(cfg);
    // A client port whose ISS puts the end of the 64 KiB send ring past the
    // data sent here, so that no segment is cut short by it.
    h.port = 40026;
    h.run(
        "0.000 < S 1000:1000(0) win 65535 <mss 8960>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 65535
         0.100 ! app-send 60000
         0.100 > . 1:8961(8960) ack 1001
         0.100 > . 8961:17921(8960) ack 1001
         0.110 < . 1001:1001(0) ack 17921 win 65535
         0.110 > . 17921:26881(8960) ack 1001
         0.110 > . 26881:35841(8960) ack 1001
         0.110 > . 35841:44801(8960) ack 1001
         0.110 > . 44801:53761(8960) ack 1001",
    );
}

/// D16. RFC 6928 §2 with RFC 5681's SMSS (options excluded): with
/// timestamps a segment carries 1448 bytes, and IW = 10 · 1448 = 14480
/// bytes; of 14600 bytes queued, the last 120 wait for an ACK (an IW of
/// 10 · 1460, from the MSS before the option, would send them at once).
#[test]
fn d16_initial_window_from_smss_with_timestamps() {
    let mut s = String::from(HS_TS);
    s.push_str("\n0.100 ! app-send 14600\n");
    for i in 0..10 {
        let a = 1 + i * 1448;
        s.push_str(&format!("0.100 > . {a}:{}(1448) ack 1001\n", a + 1448));
    }
    s.push_str("0.105 tick\n");
    run(no_nagle(), &s);
}

/// D9. RFC 2018 §4: "SACK options SHOULD be included in all ACKs which do
/// not ACK the highest sequence number in the data receiver's queue": the
/// window update sent when the application reads again carries the block of
/// the out-of-order data still held (Linux `tcp_established_options`).
#[test]
fn d9_window_update_carries_sack() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.050 ! app-budget 0
             0.100 < . 1001:33769(32768) ack 1 win 502
             0.100 > . 1:1(0) ack 33769 win 16384
             0.110 < . 40000:41000(1000) ack 1 win 502
             0.110 > . 1:1(0) ack 33769 <sack 40000:41000>
             0.200 ! app-resume
             0.200 > . 1:1(0) ack 33769 <sack 40000:41000>"
        ),
    );
}

/// D9. RFC 2018 §4: data segments we send while holes exist carry the SACK
/// blocks too, where the option fits within the MSS: a full-sized segment
/// has no room for it (the effective MSS counts options, RFC 9293 §3.7.1),
/// the short one that follows carries it.
#[test]
fn d9_data_segments_carry_sack() {
    run(
        no_nagle(),
        &format!(
            "{HS}
             0.100 < . 2001:2101(100) ack 1 win 502
             0.100 > . 1:1(0) ack 1001 <sack 2001:2101>
             0.150 ! app-send 1500
             0.150 > . 1:1461(1460) ack 1001 <>
             0.150 > P. 1461:1501(40) ack 1001 <sack 2001:2101>"
        ),
    );
}

/// D21. RFC 2018 §4: "The first SACK block ... MUST specify the contiguous
/// block of data containing the segment which triggered this ACK"; the
/// option "SHOULD be filled out by repeating the most recently reported SACK
/// blocks (based on first SACK blocks in previous SACK options)". With four
/// held ranges and room for three blocks, the range that last grew comes
/// first, then the two reported most recently (Linux keeps
/// `selective_acks[]` in that order, `tcp_sack_new_ofo_skb`).
#[test]
fn d21_sack_blocks_by_recency() {
    run(
        default_config(),
        &format!(
            "{HS_TS}
             0.100 < . 5001:5101(100) ack 1 win 502 <nop,nop,TS val 200 ecr *>
             0.100 > . 1:1(0) ack 1001
             0.101 < . 4001:4101(100) ack 1 win 502 <nop,nop,TS val 200 ecr *>
             0.101 > . 1:1(0) ack 1001
             0.102 < . 3001:3101(100) ack 1 win 502 <nop,nop,TS val 200 ecr *>
             0.102 > . 1:1(0) ack 1001
             0.103 < . 2001:2101(100) ack 1 win 502 <nop,nop,TS val 200 ecr *>
             0.103 > . 1:1(0) ack 1001 <nop,nop,TS val * ecr 110,sack 2001:2101 3001:3101 4001:4101>
             0.104 < . 5101:5201(100) ack 1 win 502 <nop,nop,TS val 200 ecr *>
             0.104 > . 1:1(0) ack 1001 <nop,nop,TS val * ecr 110,sack 5001:5201 2001:2101 3001:3101>"
        ),
    );
}

/// D18. RFC 8985 §7.2: with one segment in flight, PTO = 2·SRTT +
/// TLP.max_ack_delay, "WCDelAckT ... RECOMMENDED ... 200 ms" (Linux adds
/// TCP_RTO_MIN, `tcp_schedule_loss_probe`). A reply ACK delayed by 150 ms
/// draws no probe.
#[test]
fn d18_pto_allows_delayed_ack() {
    run(
        no_nagle(),
        &format!(
            "{HS}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.250 < . 1001:1001(0) ack 101 win 502
             0.600 tick"
        ),
    );
}

/// D18. RFC 8985 §7.2: the probe for a lone segment goes exactly 2·SRTT +
/// 200 ms after it (SRTT 10 ms from the handshake); an RTO floor of 1 s
/// keeps the RTO from coming first.
#[test]
fn d18_pto_single_segment_is_2srtt_plus_200ms() {
    let mut cfg = no_nagle();
    cfg.conn.rto_min = Duration::from_secs(1);
    run(
        cfg,
        &format!(
            "{HS}
             0.100 ! app-send 100
             0.100 > P. 1:101(100) ack 1001
             0.319 tick
             0.320 > P. 1:101(100) ack 1001"
        ),
    );
}
