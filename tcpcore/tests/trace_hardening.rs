//! Packet traces for the endpoint's defences: SYN cookies (RFC 4987), the
//! per-source connection limit, the idle timeout.

mod common;
use common::{default_config, Harness, CLIENT_PORT};
use tcpcore::EndpointConfig;

fn one_half_open() -> EndpointConfig {
    let mut c = default_config();
    c.max_half_open = 1;
    c
}

/// Fills the one half-open place with a connection from port 40000.
fn occupy(h: &mut Harness) {
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    h.port = 40001;
    h.iss = None;
}

/// RFC 4987 §3.6: with the half-open bound reached, a SYN gets a SYN-ACK
/// whose ISS is a cookie and no state is kept; the returning ACK recreates
/// the connection, which then works as any other. With timestamps, the
/// client's window scale and SACK-permitted come back in the echoed TSval,
/// so the connection scales its window and sends SACK blocks.
#[test]
fn syn_cookie_with_timestamps_keeps_wscale_and_sack() {
    let mut h = Harness::new(one_half_open());
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.100 > S. 0:0(0) ack 5001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         0.100 ! conns 1
         0.110 < . 5001:5001(0) ack 1 win 502 <nop,nop,TS val 110 ecr *>
         0.110 ! conns 2
         0.110 ! state ESTABLISHED
         0.120 < . 5101:5201(100) ack 1 win 502 <nop,nop,TS val 120 ecr *>
         0.120 > . 1:1(0) ack 5001 win 32768 <nop,nop,TS val * ecr 110,nop,nop,sack 5101:5201>
         0.130 < . 5001:5101(100) ack 1 win 502 <nop,nop,TS val 130 ecr *>
         0.130 > . 1:1(0) ack 5201 win 32768 <nop,nop,TS val * ecr 130>
         0.130 ! delivered 200",
    );
    assert_eq!(h.ep.stats().syn_cookies_sent, 1);
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
}

/// Without timestamps a cookie cannot carry window scale and SACK: the
/// SYN-ACK offers neither (RFC 4987 §3.6's trade-off, as Linux makes it).
#[test]
fn syn_cookie_without_timestamps_offers_no_wscale_or_sack() {
    let mut h = Harness::new(one_half_open());
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.100 > S. 0:0(0) ack 5001 <mss 1460>
         0.110 < P. 5001:5011(10) ack 1 win 64240
         0.110 > . 1:1(0) ack 5011
         0.110 ! state ESTABLISHED
         0.110 ! delivered 10",
    );
}

/// The MSS of a cookie connection comes from the cookie (rounded down to a
/// table value): 1450 becomes 1440, so segments we send are at most 1440.
#[test]
fn syn_cookie_carries_mss() {
    let mut cfg = one_half_open();
    cfg.conn.nagle = false;
    let mut h = Harness::new(cfg);
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240 <mss 1450>
         0.100 > S. 0:0(0) ack 5001
         0.110 < . 5001:5001(0) ack 1 win 64240
         0.120 ! app-send 2000
         0.120 > . 1:1441(1440) ack 5001
         0.120 > P. 1441:2001(560) ack 5001",
    );
}

/// An ACK whose cookie does not verify, from a time slot no cookie of ours
/// carries now, gets the reset of RFC 9293 §3.10.7.2 and creates nothing.
#[test]
fn forged_cookie_is_reset() {
    let mut h = Harness::new(one_half_open());
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240
         0.100 > S. 0:0(0) ack 5001",
    );
    // The cookie with its slot moved on by 8 periods (bits 27..32).
    h.run(
        "0.110 < . 5001:5001(0) ack 1073741825 win 64240
         0.110 > R 1073741825:1073741825(0)
         0.110 ! conns 1
         0.110 ! drops cookie-unverified 0",
    );
}

/// While cookies are out (RFC 4987 §3.6), an ACK with a current slot whose
/// MAC fails is dropped without the reset of RFC 9293 §3.10.7.2, and
/// creates nothing: a forged cookie (here the
/// right numbers on another port) learns nothing and reflects nothing.
#[test]
fn unverified_cookie_with_current_slot_is_dropped() {
    let mut h = Harness::new(one_half_open());
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240
         0.100 > S. 0:0(0) ack 5001",
    );
    h.port = 40002;
    h.run(
        "0.110 < . 5001:5001(0) ack 1 win 64240
         0.110 ! conns 1
         0.110 ! drops cookie-unverified 1",
    );
}

/// The handshake ACK and the first data segment of a cookie connection
/// (RFC 4987 §3.6) are lost: the second segment (SEG.SEQ past the client's
/// ISN plus one) cannot verify the cookie, and is dropped without the
/// reset of RFC 9293 §3.10.7.2 (which Linux sends).
/// The client's retransmission of its first segment then completes the
/// handshake, and the second segment follows: all 200 bytes delivered.
#[test]
fn cookie_connection_survives_a_lost_first_segment() {
    let mut h = Harness::new(one_half_open());
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.100 > S. 0:0(0) ack 5001 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>
         0.120 < . 5101:5201(100) ack 1 win 502 <nop,nop,TS val 120 ecr *>
         0.120 ! drops cookie-unverified 1
         0.120 ! conns 1
         0.400 < . 5001:5101(100) ack 1 win 502 <nop,nop,TS val 400 ecr *>
         0.400 > . 1:1(0) ack 5101
         0.400 ! conns 2
         0.400 ! state ESTABLISHED
         0.410 < . 5101:5201(100) ack 1 win 502 <nop,nop,TS val 410 ecr *>
         0.410 > . 1:1(0) ack 5201
         0.440 ! delivered 200",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
    assert_eq!(h.ep.stats().resets_sent, 0);
}

/// A client whose handshake ACK was lost may send its data and FIN in one
/// segment: that segment returns the cookie as well (RFC 4987 §3.6: the
/// cookie comes back in SEG.ACK of the client's next segment; as in Linux,
/// any segment with ACK and without SYN or RST may carry it), and is then
/// processed as in SYN-RECEIVED (RFC 9293 §3.10.7.4).
#[test]
fn cookie_returns_on_a_fin() {
    let mut h = Harness::new(one_half_open());
    occupy(&mut h);
    h.run(
        "0.100 < S 5000:5000(0) win 64240
         0.100 > S. 0:0(0) ack 5001
         0.110 < F. 5001:5011(10) ack 1 win 64240
         0.110 > . 1:1(0) ack 5012
         0.110 ! conns 2
         0.110 ! state CLOSE-WAIT
         0.110 ! delivered 10",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
}

/// The per-source limit: a second connection from the same address is
/// refused while the first is open.
#[test]
fn per_source_limit() {
    let mut cfg = default_config();
    cfg.conn.max_per_source = 1;
    let mut h = Harness::new(cfg);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    h.port = 40001;
    h.run(
        "0.010 < S 3000:3000(0) win 64240
         0.010 ! drops per-source-limit 1
         0.010 ! conns 1",
    );
    // When the first goes, the second may come.
    h.port = CLIENT_PORT;
    h.run("0.020 < R 1001:1001(0) win 0\n0.020 ! conns 0");
    h.port = 40001;
    h.iss = None;
    h.run(
        "0.030 < S 3000:3000(0) win 64240
         0.030 > S. 0:0(0) ack 3001",
    );
}

/// The idle timeout: nothing heard for that long, the connection is reset
/// and reported timed out; traffic keeps it alive.
#[test]
fn idle_timeout_resets() {
    let mut cfg = default_config();
    cfg.conn.idle_timeout = tcpcore::Duration::from_secs(10);
    let mut h = Harness::new(cfg);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         5.000 < P. 1001:1011(10) ack 1 win 502
         5.000 > . 1:1(0) ack 1011
         14.000 ! state ESTABLISHED
         15.000 > R. 1:1(0) ack 1011
         15.000 ! closed timedout",
    );
}

/// The idle timeout measures silence from the peer, so only segments the
/// connection accepts refresh it: forged segments far outside the window
/// (anyone who knows the 4-tuple can send them; they get a rate-limited
/// ACK and are dropped) do not keep a dead peer's slot, and do not move
/// where our frames go (the peer's MAC). A keepalive probe (RFC 9293
/// §3.8.4: SEG.SEQ = RCV.NXT - 1) does refresh it: the peer is alive.
/// Before the fix every segment refreshed it and the reset never came.
#[test]
fn idle_timeout_ignores_forged_segments_but_not_keepalives() {
    let mut h = Harness::new(default_config_idle());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         5.000 < . 900000:900010(10) ack 1 win 502
         5.000 > . 1:1(0) ack 1001
         9.000 < . 700000:700010(10) ack 1 win 502
         9.000 > . 1:1(0) ack 1001
         10.010 > R. 1:1(0) ack 1001
         10.010 ! closed timedout",
    );
    let mut h = Harness::new(default_config_idle());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         8.000 < . 1000:1000(0) ack 1 win 502
         8.000 > . 1:1(0) ack 1001
         16.000 ! state ESTABLISHED
         18.000 > R. 1:1(0) ack 1001
         18.000 ! closed timedout",
    );
}

fn default_config_idle() -> tcpcore::EndpointConfig {
    let mut cfg = default_config();
    cfg.conn.idle_timeout = tcpcore::Duration::from_secs(10);
    cfg
}

/// RFC 5961 §4.2: a SYN gets a challenge ACK "irrespective of the sequence
/// number" -- also far outside the window -- and those ACKs are rate-limited
/// (§7): forged SYNs cannot make the server an ACK amplifier. Out-of-window
/// data segments are answered each (RFC 9293 §3.10.7.4 first; Linux
/// `tcp_oow_rate_limited`: "Data packets without SYNs are not subject to
/// rate limiting"), even with the challenge-ACK budget spent: one ACK for
/// one larger segment amplifies nothing, and a retransmission whose ACK was
/// lost needs it.
#[test]
fn out_of_window_syns_and_data_get_rate_limited_acks() {
    let mut body = String::from(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502\n",
    );
    // 15 SYNs far out of the window, then 15 data segments far out of it,
    // all within one second: 10 challenge ACKs, then an ACK for each data
    // segment.
    for i in 0..15u32 {
        let seq = 500_000 + i * 7919;
        body += &format!("0.{:03} < S {seq}:{seq}(0) win 64240\n", 100 + i);
        if i < 10 {
            body += &format!("0.{:03} > . 1:1(0) ack 1001\n", 100 + i);
        }
    }
    for i in 0..15u32 {
        let seq = 900_000 + i * 100;
        body += &format!(
            "0.{:03} < . {seq}:{}(10) ack 1 win 502\n",
            200 + i,
            seq + 10
        );
        body += &format!("0.{:03} > . 1:1(0) ack 1001\n", 200 + i);
    }
    body += "0.300 ! state ESTABLISHED\n";
    let h = common::run(default_config(), &body);
    assert_eq!(h.ep.stats().dropped(tcpcore::DropReason::UnexpectedSyn), 15);
    assert_eq!(h.ep.stats().dropped(tcpcore::DropReason::OutOfWindow), 15);
}
