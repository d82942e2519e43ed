//! Packet traces for closing: CLOSE-WAIT, LAST-ACK, FIN-WAIT-1/2, CLOSING,
//! TIME-WAIT (RFC 9293 §3.10.4, §3.10.7.4, §3.6), and FIN retransmission
//! (RFC 6298).

mod common;
use common::{default_config, run, run_both};
use tcpcore::EndpointConfig;

const HS: &str = "
    0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
    0.000 > S. 0:0(0) ack 1001
    0.010 < . 1001:1001(0) ack 1 win 502";

fn auto_close() -> EndpointConfig {
    let mut c = default_config();
    c.conn.close_on_peer_fin = true;
    c
}

/// The seed's behaviour: the server closes as soon as the peer's FIN
/// arrives; the ACK of that FIN carries our FIN (LAST-ACK), and the final
/// ACK closes the connection (RFC 9293 §3.10.7.4, LAST-ACK).
#[test]
fn passive_close_with_auto_close() {
    let (h, _) = run_both(
        auto_close(),
        &format!(
            "{HS}
             0.100 < P. 1001:1006(5) ack 1 win 502
             0.100 > . 1:1(0) ack 1006
             0.100 < F. 1006:1006(0) ack 1 win 502
             0.100 > F. 1:1(0) ack 1007
             0.100 ! state LAST-ACK
             0.110 < . 1007:1007(0) ack 2 win 502
             0.110 ! state CLOSED
             0.110 ! closed normal
             0.110 ! delivered 5"
        ),
    );
    assert_eq!(h.ep.len(), 0);
    assert_eq!(h.ep.stats().closed_by(tcpcore::CloseReason::Normal), 1);
}

/// RFC 9293 §3.10.4: CLOSE in CLOSE-WAIT sends our FIN and enters LAST-ACK.
#[test]
fn close_wait_then_app_close() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1002
             0.100 ! state CLOSE-WAIT
             0.200 ! app-close
             0.200 > F. 1:1(0) ack 1002
             0.200 ! state LAST-ACK
             0.210 < . 1002:1002(0) ack 2 win 502
             0.210 ! state CLOSED"
        ),
    );
}

/// RFC 6298 §5.5: an unacknowledged FIN is retransmitted with the RTO
/// doubling each time (the RTO comes from the handshake's RTT sample,
/// bounded below by 200 ms).
#[test]
fn last_ack_fin_retransmitted_with_backoff() {
    let (h, _) = run_both(
        auto_close(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > F. 1:1(0) ack 1002
             0.300 > F. 1:1(0) ack 1002
             0.700 > F. 1:1(0) ack 1002
             1.500 > F. 1:1(0) ack 1002
             1.600 < . 1002:1002(0) ack 2 win 502
             1.600 ! state CLOSED
             1.600 ! closed normal"
        ),
    );
    assert_eq!(h.ep.stats().retransmits, 3);
}

/// After the FIN retry limit the connection is reset and reported timed out.
#[test]
fn fin_retry_limit_resets() {
    let mut cfg = auto_close();
    cfg.conn.max_retries = 2;
    run(
        cfg,
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > F. 1:1(0) ack 1002
             0.300 > F. 1:1(0) ack 1002
             0.700 > F. 1:1(0) ack 1002
             1.500 > R. 2:2(0) ack 1002
             1.500 ! state CLOSED
             1.500 ! closed timedout"
        ),
    );
}

/// The active close (RFC 9293 §3.10.4 and §3.10.7.4): ESTABLISHED -> FIN-WAIT-1
/// on CLOSE; the ACK of our FIN -> FIN-WAIT-2; the peer's FIN -> TIME-WAIT,
/// acknowledged; after 2 MSL -> CLOSED.
#[test]
fn active_close_through_time_wait() {
    let mut cfg = default_config();
    cfg.conn.time_wait = tcpcore::time::Duration::from_secs(2);
    run_both(
        cfg,
        &format!(
            "{HS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001
             0.100 ! state FIN-WAIT-1
             0.110 < . 1001:1001(0) ack 2 win 502
             0.110 ! state FIN-WAIT-2
             0.120 < P. 1001:1011(10) ack 2 win 502
             0.120 > . 2:2(0) ack 1011
             0.120 ! delivered 10
             0.130 < F. 1011:1011(0) ack 2 win 502
             0.130 > . 2:2(0) ack 1012
             0.130 ! state TIME-WAIT
             2.120 ! state TIME-WAIT
             2.130 ! state CLOSED
             2.130 ! closed normal"
        ),
    );
}

/// RFC 9293 §3.10.7.4 eighth, FIN-WAIT-1: "If our FIN has been ACKed
/// (perhaps in this segment), then enter TIME-WAIT".
#[test]
fn fin_wait1_fin_with_ack_of_our_fin_goes_to_time_wait() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001
             0.110 < F. 1001:1001(0) ack 2 win 502
             0.110 > . 2:2(0) ack 1002
             0.110 ! state TIME-WAIT"
        ),
    );
}

/// Simultaneous close (RFC 9293 §3.6, figure 13): FIN-WAIT-1 receives a FIN
/// that does not acknowledge ours -> CLOSING; the ACK of our FIN ->
/// TIME-WAIT.
#[test]
fn simultaneous_close_through_closing() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 2:2(0) ack 1002
             0.100 ! state CLOSING
             0.110 < . 1002:1002(0) ack 2 win 502
             0.110 ! state TIME-WAIT"
        ),
    );
}

/// TIME-WAIT: "The only thing that can arrive in this state is a
/// retransmission of the remote FIN. Acknowledge it, and restart the 2 MSL
/// timeout."
#[test]
fn time_wait_acks_retransmitted_fin_and_restarts() {
    let mut cfg = default_config();
    cfg.conn.time_wait = tcpcore::time::Duration::from_secs(2);
    run(
        cfg,
        &format!(
            "{HS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001
             0.110 < F. 1001:1001(0) ack 2 win 502
             0.110 > . 2:2(0) ack 1002
             1.500 < F. 1001:1001(0) ack 2 win 502
             1.500 > . 2:2(0) ack 1002
             3.400 ! state TIME-WAIT
             3.500 ! state CLOSED"
        ),
    );
}

/// FIN-WAIT-2 does not wait forever for the peer's FIN.
#[test]
fn fin_wait2_times_out() {
    let mut cfg = default_config();
    cfg.conn.fin_wait2_timeout = tcpcore::time::Duration::from_secs(5);
    run(
        cfg,
        &format!(
            "{HS}
             0.100 ! app-close
             0.100 > F. 1:1(0) ack 1001
             0.110 < . 1001:1001(0) ack 2 win 502
             5.100 ! state FIN-WAIT-2
             5.110 ! state CLOSED
             5.110 ! closed timedout"
        ),
    );
}

/// RFC 9293 §3.10.5: ABORT sends a reset and the connection is gone.
#[test]
fn abort_sends_reset() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 ! rsts 0
             0.100 ! app-abort
             0.100 > R. 1:1(0) ack 1001
             0.100 ! rsts 1
             0.100 ! state CLOSED
             0.100 ! closed aborted"
        ),
    );
}

/// RFC 9293 §3.10.7.4 second, LAST-ACK: a RST at RCV.NXT closes.
#[test]
fn reset_in_last_ack_closes() {
    run(
        auto_close(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > F. 1:1(0) ack 1002
             0.110 < R 1002:1002(0) win 0
             0.110 ! state CLOSED
             0.110 ! closed reset"
        ),
    );
}

/// A retransmitted FIN in CLOSE-WAIT (below RCV.NXT) is acknowledged again.
#[test]
fn close_wait_retransmitted_fin_acked() {
    run(
        default_config(),
        &format!(
            "{HS}
             0.100 < F. 1001:1001(0) ack 1 win 502
             0.100 > . 1:1(0) ack 1002
             0.300 < F. 1001:1001(0) ack 1 win 502
             0.300 > . 1:1(0) ack 1002
             0.300 ! state CLOSE-WAIT"
        ),
    );
}
