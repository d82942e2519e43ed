//! Packet traces for keep-alive (RFC 1122 §4.2.3.6, Linux
//! `tcp_keepalive_timer`) and the user timeout (RFC 5482, Linux
//! `TCP_USER_TIMEOUT`) through the endpoint.

mod common;
use common::{default_config, Harness};
use tcpcore::{Duration, EndpointConfig, KeepAlive};

/// Keep-alive after 10 s idle, a probe every 2 s, 3 probes.
fn keepalive_config() -> EndpointConfig {
    let mut cfg = default_config();
    cfg.conn.keepalive = Some(KeepAlive {
        idle: Duration::from_secs(10),
        interval: Duration::from_secs(2),
        count: 3,
    });
    cfg
}

/// An idle connection is probed with `<SEQ=SND.UNA-1><ACK=RCV.NXT>` (Linux
/// tcp_xmit_probe_skb); the peer's answer restarts the idle interval;
/// after `count` unanswered probes, one interval later, the connection is
/// reset and reported timed out (Linux tcp_send_active_reset, tcp_write_err).
#[test]
fn keepalive_probes_then_resets() {
    let mut h = Harness::new(keepalive_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         10.010 > . 0:0(0) ack 1001
         11.000 < . 1001:1001(0) ack 1 win 502
         21.000 > . 0:0(0) ack 1001
         23.000 > . 0:0(0) ack 1001
         25.000 > . 0:0(0) ack 1001
         26.999 ! state ESTABLISHED
         27.000 > R. 1:1(0) ack 1001
         27.000 ! closed timedout",
    );
}

/// Off by default (RFC 1122 §4.2.3.6 MUST): an idle connection sends
/// nothing (every frame sent must be expected by the script).
#[test]
fn no_keepalive_by_default() {
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         7200.000 tick
         100000.000 tick
         100000.000 ! state ESTABLISHED",
    );
}

/// RFC 9293 §3.8.4 MUST-24: keep-alive is turned on "for each TCP
/// connection" (Linux `SO_KEEPALIVE` with `TCP_KEEPIDLE` 10 s,
/// `TCP_KEEPINTVL` 2 s, `TCP_KEEPCNT` 3): with the endpoint's default off,
/// one connection probes from the moment it was turned on.
#[test]
fn keepalive_on_for_one_connection() {
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         5.000 ! app-keepalive 10000 2000 3
         15.000 > . 0:0(0) ack 1001
         17.000 > . 0:0(0) ack 1001
         19.000 > . 0:0(0) ack 1001
         21.000 > R. 1:1(0) ack 1001
         21.000 ! closed timedout",
    );
}

/// And off for one connection while the endpoint's default is on: the
/// timer stops, nothing is sent however long the connection idles.
#[test]
fn keepalive_off_for_one_connection() {
    let mut h = Harness::new(keepalive_config());
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         5.000 ! app-keepalive off
         100000.000 tick
         100000.000 ! state ESTABLISHED",
    );
}

/// RFC 5482 makes the user timeout a parameter of each connection (Linux
/// `TCP_USER_TIMEOUT`): set to 500 ms on this one, data unacknowledged
/// since 0.100 ends it at the first retransmission timeout after 0.600
/// (Linux `retransmits_timed_out`), not after `max_retries` (8).
#[test]
fn user_timeout_for_one_connection() {
    let mut cfg = default_config();
    cfg.conn.nagle = false;
    let mut h = Harness::new(cfg);
    h.run(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.010 < . 1001:1001(0) ack 1 win 502
         0.050 ! app-user-timeout 500
         0.100 ! app-send 100
         0.100 > P. 1:101(100) ack 1001
         0.300 > P. 1:101(100) ack 1001
         0.500 > P. 1:101(100) ack 1001
         0.900 > R. 101:101(0) ack 1001
         0.900 ! closed timedout",
    );
}
