//! Packet traces for the effective send MSS (RFC 9293 §3.7.1): every
//! segment we send fits our own link, whatever MSS the peer announces, and
//! a peer announcing a tiny MSS cannot make us cut data into tiny frames.

mod common;
use common::{no_nagle, run};

/// RFC 9293 §3.7.1 MUST-16: "Eff.snd.MSS = min(SendMSS+20, MMS_S) -
/// TCPhdrsize - IPoptionsize". A jumbo-frame host behind a router announces
/// MSS 8960; our link carries 1500 (MSS 1460): segments are 1460 bytes.
/// Before the fix one 3000-byte segment went out, larger than the link.
#[test]
fn peer_mss_above_our_link_is_clamped_to_our_mss() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 8960>
         0.000 > S. 0:0(0) ack 1001 <mss 1460>
         0.010 < . 1001:1001(0) ack 1 win 64240
         0.100 ! app-send 3000
         0.100 > . 1:1461(1460) ack 1001
         0.100 > . 1461:2921(1460) ack 1001
         0.100 > P. 2921:3001(80) ack 1001",
    );
}

/// The same clamp with timestamps: MSS 65535 (the field's largest value)
/// gives 1460 less the 12 bytes of the timestamp option.
#[test]
fn peer_mss_65535_with_timestamps() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 65535,TS val 100 ecr 0>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,TS val * ecr 100>
         0.010 < . 1001:1001(0) ack 1 win 64240 <TS val 110 ecr *>
         0.100 ! app-send 3000
         0.100 > . 1:1449(1448) ack 1001
         0.100 > . 1449:2897(1448) ack 1001
         0.100 > P. 2897:3001(104) ack 1001",
    );
}

/// A smaller link (our MSS 1000, an MTU of 1040) clamps a peer's 1460.
#[test]
fn our_smaller_mtu_clamps_a_standard_peer() {
    let mut cfg = no_nagle();
    cfg.conn.mss = 1000;
    run(
        cfg,
        "0.000 < S 1000:1000(0) win 64240 <mss 1460>
         0.000 > S. 0:0(0) ack 1001 <mss 1000>
         0.010 < . 1001:1001(0) ack 1 win 64240
         0.100 ! app-send 1500
         0.100 > . 1:1001(1000) ack 1001
         0.100 > P. 1001:1501(500) ack 1001",
    );
}

/// RFC 9293 §3.7.1 MUST-15: without an MSS option the send MSS is 536.
#[test]
fn no_mss_option_means_536() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001 <mss 1460>
         0.010 < . 1001:1001(0) ack 1 win 64240
         0.100 ! app-send 600
         0.100 > . 1:537(536) ack 1001
         0.100 > P. 537:601(64) ack 1001",
    );
}

/// CVE-2019-11479: a peer announcing MSS 8 (or 1) must not make us send one
/// frame per few bytes. As Linux's `tcp_min_snd_mss`, segments carry at
/// least 48 bytes. Before the fix 100 bytes went out as 13 frames.
#[test]
fn tiny_peer_mss_is_raised_to_48() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 8>
         0.000 > S. 0:0(0) ack 1001 <mss 1460>
         0.010 < . 1001:1001(0) ack 1 win 64240
         0.100 ! app-send 100
         0.100 > . 1:49(48) ack 1001
         0.100 > . 49:97(48) ack 1001
         0.100 > P. 97:101(4) ack 1001",
    );
}

/// MSS 1 with timestamps: still 48 bytes of payload per segment, the
/// timestamp option on top.
#[test]
fn mss_1_with_timestamps_is_raised_to_48_bytes_of_payload() {
    run(
        no_nagle(),
        "0.000 < S 1000:1000(0) win 64240 <mss 1,TS val 100 ecr 0>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,TS val * ecr 100>
         0.010 < . 1001:1001(0) ack 1 win 64240 <TS val 110 ecr *>
         0.100 ! app-send 60
         0.100 > . 1:49(48) ack 1001
         0.100 > P. 49:61(12) ack 1001",
    );
}
