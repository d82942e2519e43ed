//! Packet traces for many listeners on one endpoint (`endpoint/listeners.rs`):
//! each listening port opens connections of its own (RFC 9293 §3.10.7.2),
//! a port with no listener is CLOSED (§3.10.7.1), each listener has a
//! bounded accept queue and its own half-open bound with SYN cookies past
//! it (RFC 4987 §3.6), and an any-port listener takes what no exact
//! listener does.

mod common;
use common::{default_config, Harness, CLIENT_PORT, SERVER_PORT};
use tcpcore::endpoint::{ListenError, ListenerId, LISTENERS};
use tcpcore::{CloseReason, ConnId, DropReason, EndpointConfig, StateName};

/// A second listening port.
const OTHER_PORT: u16 = 8080;

/// The harness's view of one connection: our port, the client's, our ISS
/// and the client's ISN as learnt from the handshake.
#[derive(Clone, Copy)]
struct Side {
    local_port: u16,
    port: u16,
    iss: Option<u32>,
    client_isn: Option<u32>,
    last_tsval: u32,
}

/// Turns the harness to the connection from client port `port` to our
/// `local_port`, returning the one it was turned to before.
fn turn(h: &mut Harness, to: Side) -> Side {
    let was = Side {
        local_port: h.local_port,
        port: h.port,
        iss: h.iss,
        client_isn: h.client_isn,
        last_tsval: h.last_tsval,
    };
    h.local_port = to.local_port;
    h.port = to.port;
    h.iss = to.iss;
    h.client_isn = to.client_isn;
    h.last_tsval = to.last_tsval;
    was
}

/// A new connection from client port `port` to our `local_port`.
fn fresh(local_port: u16, port: u16) -> Side {
    Side {
        local_port,
        port,
        iss: None,
        client_isn: None,
        last_tsval: 0,
    }
}

/// A handshake at time `t` (client ISN 1000).
fn handshake(t: f64) -> String {
    format!(
        "{t:.3} < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         {t:.3} > S. 0:0(0) ack 1001
         {t2:.3} < . 1001:1001(0) ack 1 win 502
         {t2:.3} ! state ESTABLISHED",
        t2 = t + 0.001
    )
}

/// A SYN at `t` that gets no answer.
fn unanswered_syn(t: f64) -> String {
    format!("{t:.3} < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>")
}

/// The connection from client port `port`.
fn conn_from(h: &Harness, port: u16) -> Option<(ConnId, u16, StateName)> {
    h.ep.connections()
        .find(|(_, t, _)| t.remote_port == port)
        .map(|(id, t, s)| (id, t.local_port, s))
}

/// `Endpoint::unlisten` at the harness's time, the frames it sends
/// recorded for the script's next `>` lines.
fn unlisten(h: &mut Harness, port: u16) -> bool {
    let now = h.rec.now;
    let had = h.ep.unlisten(port, now, &mut h.rec);
    h.rec.flush();
    had
}

fn shared_address() -> EndpointConfig {
    let mut c = default_config();
    c.answer_arp = false;
    c.reset_other_ports = false;
    c
}

/// Two listeners on one endpoint: the configured port (auto-accepting, as
/// every endpoint before listeners) and one made by `listen`. Each SYN
/// finds the listener of its own port (RFC 9293 §3.10.7.2), each handshake
/// completes with SYN-ACKs from that port, and the data of each connection
/// is delivered, interleaved.
#[test]
fn two_listeners_each_complete_handshakes_and_deliver() {
    let mut h = Harness::new(default_config());
    let first = h.ep.listener(SERVER_PORT).expect("the config's listener");
    assert!(h.ep.listener_info(first).unwrap().auto_accept);
    let second = h.ep.listen(OTHER_PORT, 4).unwrap();
    assert_eq!(h.ep.listen(OTHER_PORT, 4), Err(ListenError::InUse));

    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT));
    h.run(&handshake(0.0));
    let a_side = turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(&handshake(0.010));
    h.run(
        "0.020 < P. 1001:1101(100) ack 1 win 502
         0.020 > . 1:1(0) ack 1101
         0.020 ! delivered 100",
    );
    h.rec.data.clear();
    turn(&mut h, a_side);
    h.run(
        "0.070 < P. 1001:1201(200) ack 1 win 502
         0.070 > . 1:1(0) ack 1201
         0.070 ! delivered 200",
    );
    let (id_a, port_a, st_a) = conn_from(&h, CLIENT_PORT).unwrap();
    let (id_b, port_b, st_b) = conn_from(&h, CLIENT_PORT + 1).unwrap();
    assert_eq!((port_a, st_a), (SERVER_PORT, StateName::Established));
    assert_eq!((port_b, st_b), (OTHER_PORT, StateName::Established));
    assert_eq!(h.ep.stats().established, 2);
    // The auto-accepting listener queues nothing; the other one queued B.
    assert_eq!(h.ep.accept(first), None);
    assert_eq!(h.ep.accept(second), Some(id_b));
    assert_eq!(h.ep.accept(second), None);
    assert_ne!(id_a, id_b);
}

/// RFC 9293 §3.10.7.1: in own-address mode a SYN to a port with no
/// listener (though others have one) gets the reset of a CLOSED port,
/// <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>; in shared-address mode the
/// kernel answers for that port, and the endpoint sends nothing.
#[test]
fn syn_to_unlistened_port_is_reset_or_left_to_the_kernel() {
    let mut h = Harness::new(default_config());
    h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT + 1, CLIENT_PORT));
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > R. 0:0(0) ack 1001
         0.000 ! conns 0",
    );
    assert_eq!(h.ep.stats().resets_sent, 1);

    let mut h = Harness::new(shared_address());
    h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT + 1, CLIENT_PORT));
    h.run(&format!("{}\n 0.000 ! conns 0", unanswered_syn(0.0)));
    assert_eq!(h.ep.stats().dropped(DropReason::NotForUs), 1);
    assert_eq!(h.ep.stats().resets_sent, 0);
    // The listened ports of a shared address are ours.
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(&handshake(0.010));
}

/// `unlisten`: the port is CLOSED from then on (a SYN gets the §3.10.7.1
/// reset), while the connection it made and the application accepted goes
/// on; the listener's id names nothing any more, even when the port is
/// listened on again.
#[test]
fn unlisten_then_syn_is_reset() {
    let mut h = Harness::new(default_config());
    let l = h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(&handshake(0.0));
    let (accepted, ..) = conn_from(&h, CLIENT_PORT).unwrap();
    assert_eq!(h.ep.accept(l), Some(accepted));
    assert!(unlisten(&mut h, OTHER_PORT));
    assert!(!unlisten(&mut h, OTHER_PORT));
    assert_eq!(h.ep.listener(OTHER_PORT), None);
    assert_eq!(h.ep.accept(l), None, "the old id names nothing");
    // The established connection still delivers.
    h.run(
        "0.010 < P. 1001:1101(100) ack 1 win 502
         0.010 > . 1:1(0) ack 1101
         0.010 ! delivered 100",
    );
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(
        "0.100 < S 7000:7000(0) win 64240
         0.100 > R. 0:0(0) ack 7001
         0.100 ! conns 1",
    );
    // Listened on again: a new listener, a new id.
    let again = h.ep.listen(OTHER_PORT, 4).unwrap();
    assert_ne!(again, l);
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 2));
    h.run(&handshake(0.200));
    assert_eq!(h.ep.listener_info(again).unwrap().queued, 1);
    // The connection from before the unlisten is in no queue.
    let (newest, ..) = conn_from(&h, CLIENT_PORT + 2).unwrap();
    assert_eq!(h.ep.accept(again), Some(newest));
    assert_eq!(h.ep.accept(again), None);
}

/// Accept queue, as Linux's `tcp_conn_request`: with backlog 2 and nothing
/// accepted, a third SYN is dropped (`sk_acceptq_is_full`), cookies on or
/// not; `accept` hands the connections over in the order they were
/// established, and once there is room the client's retransmitted SYN
/// opens the third.
#[test]
fn accept_queue_bounds_and_pops_in_order() {
    let mut h = Harness::new(default_config());
    assert!(h.ep.config().conn.syn_cookies);
    let l = h.ep.listen(OTHER_PORT, 2).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(&handshake(0.0));
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(&handshake(0.010));
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 2));
    h.run(&format!(
        "{}\n 0.020 ! conns 2\n 0.020 ! drops accept-queue-full 1",
        unanswered_syn(0.020)
    ));
    assert_eq!(h.ep.stats().syn_cookies_sent, 0);
    let info = h.ep.listener_info(l).unwrap();
    assert_eq!((info.queued, info.half_open), (2, 0));
    let (first, ..) = conn_from(&h, CLIENT_PORT).unwrap();
    let (second, ..) = conn_from(&h, CLIENT_PORT + 1).unwrap();
    assert_eq!(h.ep.accept(l), Some(first));
    // Room for one: the SYN sent again opens the third connection.
    h.run(&handshake(1.020));
    assert_eq!(h.ep.accept(l), Some(second));
    let (third, ..) = conn_from(&h, CLIENT_PORT + 2).unwrap();
    assert_eq!(h.ep.accept(l), Some(third));
    assert_eq!(h.ep.accept(l), None);
    assert_eq!(h.ep.listener_info(l).unwrap().queued, 0);
}

/// A connection in SYN-RECEIVED whose handshake ACK arrives while the
/// accept queue is full stays in SYN-RECEIVED, the ACK dropped (Linux's
/// `tcp_check_req` with `tcp_abort_on_overflow` off); the client's next
/// ACK completes it once `accept` made room. A queued connection that
/// closes before it is accepted leaves the queue.
#[test]
fn handshake_into_a_full_accept_queue_waits() {
    let mut h = Harness::new(default_config());
    let l = h.ep.listen(OTHER_PORT, 1).unwrap();
    let a = fresh(OTHER_PORT, CLIENT_PORT);
    turn(&mut h, a);
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    let a = turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(
        "0.001 < S 3000:3000(0) win 64240
         0.001 > S. 0:0(0) ack 3001",
    );
    assert_eq!(h.ep.listener_info(l).unwrap().half_open, 2);
    let b = turn(&mut h, a);
    h.run(
        "0.010 < . 1001:1001(0) ack 1 win 502
         0.010 ! state ESTABLISHED",
    );
    turn(&mut h, b);
    h.run(
        "0.020 < . 3001:3001(0) ack 1 win 502
         0.020 ! state SYN-RECEIVED
         0.020 ! drops accept-queue-full 1",
    );
    let (first, ..) = conn_from(&h, CLIENT_PORT).unwrap();
    assert_eq!(h.ep.accept(l), Some(first));
    h.run(
        "0.030 < . 3001:3001(0) ack 1 win 502
         0.030 ! state ESTABLISHED",
    );
    let (second, ..) = conn_from(&h, CLIENT_PORT + 1).unwrap();
    // It closes (the peer resets it) before it is accepted.
    h.run(
        "0.040 < R. 3001:3001(0) ack 1 win 502
         0.040 ! state CLOSED",
    );
    assert_eq!(h.ep.listener_info(l).unwrap().queued, 0);
    assert_eq!(h.ep.accept(l), None, "not {second:?}");
}

/// A SYN cookie (RFC 4987 §3.6) that returns while the accept queue is
/// full opens nothing (Linux: `cookie_v4_check` → `tcp_v4_syn_recv_sock`
/// finds no room and the ACK is dropped); the same cookie opens the
/// connection once `accept` made room.
#[test]
fn returning_cookie_waits_for_room_in_the_accept_queue() {
    let mut cfg = default_config();
    cfg.max_half_open = 1;
    let mut h = Harness::new(cfg);
    let l = h.ep.listen(OTHER_PORT, 1).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    let a = turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(
        "0.010 < S 5000:5000(0) win 64240
         0.010 > S. 0:0(0) ack 5001
         0.010 ! conns 1",
    );
    assert_eq!(h.ep.stats().syn_cookies_sent, 1);
    let cookie = turn(&mut h, a);
    h.run(
        "0.020 < . 1001:1001(0) ack 1 win 502
         0.020 ! state ESTABLISHED",
    );
    turn(&mut h, cookie);
    h.run(
        "0.030 < . 5001:5001(0) ack 1 win 502
         0.030 ! conns 1
         0.030 ! drops accept-queue-full 1",
    );
    let (first, ..) = conn_from(&h, CLIENT_PORT).unwrap();
    assert_eq!(h.ep.accept(l), Some(first));
    h.run(
        "0.040 < . 5001:5001(0) ack 1 win 502
         0.040 ! state ESTABLISHED
         0.040 ! conns 2",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
    let (second, ..) = conn_from(&h, CLIENT_PORT + 1).unwrap();
    assert_eq!(h.ep.accept(l), Some(second));
}

/// The any-port listener (transparent-proxy use) opens connections on any
/// port of our address, even a shared one; an exact listener still wins
/// for its port; without it, other ports are CLOSED again.
#[test]
fn any_port_listener_below_exact_ones() {
    let mut h = Harness::new(shared_address());
    let exact = h.ep.listener(SERVER_PORT).unwrap();
    let any = h.ep.listen_any(4).unwrap();
    assert_eq!(h.ep.listen_any(4), Err(ListenError::InUse));
    assert_eq!(h.ep.any_listener(), Some(any));
    turn(&mut h, fresh(5555, CLIENT_PORT));
    h.run(&handshake(0.0));
    h.run(
        "0.010 < P. 1001:1101(100) ack 1 win 502
         0.010 > . 1:1(0) ack 1101
         0.010 ! delivered 100",
    );
    h.rec.data.clear();
    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT + 1));
    h.run(&handshake(0.100));
    let (on_5555, ..) = conn_from(&h, CLIENT_PORT).unwrap();
    // Only the any-port listener's connection is queued there.
    let info = h.ep.listener_info(any).unwrap();
    assert_eq!((info.port, info.queued), (0, 1));
    assert_eq!(h.ep.accept(any), Some(on_5555));
    assert_eq!(h.ep.accept(any), None);
    assert_eq!(h.ep.accept(exact), None);

    let now = h.rec.now;
    assert!(h.ep.unlisten_any(now, &mut h.rec));
    turn(&mut h, fresh(5556, CLIENT_PORT + 2));
    h.run(&format!("{}\n 0.200 ! conns 2", unanswered_syn(0.200)));
    assert_eq!(h.ep.stats().dropped(DropReason::NotForUs), 1);
}

/// The half-open bound is per listener (Linux: each listener's SYN queue):
/// with `max_half_open` 1 a second SYN on one listener gets a SYN cookie
/// (RFC 4987 §3.6) or, without cookies, is dropped, while another
/// listener still opens a connection of its own. A cookie is good only
/// on the port that sent it (its MAC covers the 4-tuple).
#[test]
fn half_open_bound_and_cookies_per_listener() {
    let mut cfg = default_config();
    cfg.max_half_open = 1;
    cfg.conn.syn_cookies = false;
    let mut h = Harness::new(cfg);
    h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT));
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT + 1));
    h.run(&format!(
        "{}\n 0.010 ! drops half-open-full 1",
        unanswered_syn(0.010)
    ));
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 2));
    h.run(
        "0.020 < S 1000:1000(0) win 64240
         0.020 > S. 0:0(0) ack 1001
         0.020 ! conns 2",
    );
    assert_eq!(h.ep.half_open(), 2);

    let mut cfg = default_config();
    cfg.max_half_open = 1;
    let mut h = Harness::new(cfg);
    h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT));
    h.run(
        "0.000 < S 1000:1000(0) win 64240
         0.000 > S. 0:0(0) ack 1001",
    );
    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT + 1));
    h.run(
        "0.010 < S 5000:5000(0) win 64240
         0.010 > S. 0:0(0) ack 5001
         0.010 ! conns 1",
    );
    assert_eq!(h.ep.stats().syn_cookies_sent, 1);
    let cookie = turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    // The cookie brought to the other port does not verify there.
    h.iss = cookie.iss;
    h.run(
        "0.020 < . 5001:5001(0) ack 1 win 502
         0.020 ! conns 1",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 0);
    turn(&mut h, cookie);
    h.run(
        "0.030 < . 5001:5001(0) ack 1 win 502
         0.030 ! state ESTABLISHED
         0.030 ! conns 2",
    );
    assert_eq!(h.ep.stats().syn_cookies_accepted, 1);
}

/// RFC 6191's new incarnation from TIME-WAIT is the listener's to open: once
/// the port is no longer listened on, a SYN for the 4-tuple in TIME-WAIT
/// opens nothing (dropped, no reset), and TIME-WAIT stays as it was.
#[test]
fn time_wait_reopens_only_with_a_listener() {
    let mut h = Harness::new(default_config());
    let l = h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(&handshake(0.0));
    // Accepted, so `unlisten` leaves it to its TIME-WAIT.
    assert!(h.ep.accept(l).is_some());
    h.run(
        "0.100 ! app-close
         0.100 > F. 1:1(0) ack 1001
         0.110 < F. 1001:1001(0) ack 2 win 502
         0.110 > . 2:2(0) ack 1002
         0.110 ! state TIME-WAIT",
    );
    assert!(unlisten(&mut h, OTHER_PORT));
    h.run(
        "0.200 < S 5000:5000(0) win 64240
         0.200 ! state TIME-WAIT
         0.200 ! drops no-connection 1
         0.200 ! conns 1",
    );
    // Listened on again, the same SYN opens the new incarnation.
    h.ep.listen(OTHER_PORT, 4).unwrap();
    h.run(
        "0.300 < S 5000:5000(0) win 64240
         0.300 > S. 65539:65539(0) ack 5001
         0.300 ! state SYN-RECEIVED",
    );
}

/// The table holds [`LISTENERS`] exact listeners; port 0 and a zero
/// backlog are refused.
#[test]
fn listener_table_bounds() {
    let mut h = Harness::new(default_config());
    assert_eq!(h.ep.listen(0, 4), Err(ListenError::PortZero));
    assert_eq!(h.ep.listen(9000, 0), Err(ListenError::ZeroBacklog));
    let ids: Vec<ListenerId> = (1..LISTENERS as u16)
        .map(|p| h.ep.listen(9000 + p, 1).unwrap())
        .collect();
    assert_eq!(ids.len(), LISTENERS - 1);
    assert_eq!(h.ep.listen(9999, 1), Err(ListenError::TableFull));
    assert!(h.ep.listen_any(1).is_ok(), "the any-port listener is extra");
    assert!(unlisten(&mut h, SERVER_PORT));
    assert!(h.ep.listen(9999, 1).is_ok());
    // Port 0 in the config: no listener at all (the client's endpoint).
    let mut cfg = default_config();
    cfg.port = 0;
    let h = Harness::new(cfg);
    assert_eq!(h.ep.listener(0), None);
    assert_eq!(h.ep.any_listener(), None);
}

/// `unlisten` orphans nothing (Linux's `inet_csk_listen_stop`: each child
/// on the accept queue goes through `inet_child_forget` → `tcp_disconnect`,
/// which sends a RST): a connection established on the listener and never
/// accepted is aborted, `<SEQ=SND.NXT><CTL=RST,ACK>` (RFC 9293 §3.10.5),
/// and its slot freed, so the SYN a full table refused before now opens a
/// connection. It counts as an aborted close; the application, told of it
/// by `AppEvent::Established`, learns of its end too.
#[test]
fn unlisten_resets_established_connections_not_accepted() {
    let mut h = Harness::with_slots(default_config(), 1);
    let l = h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(&format!("{}\n 0.001 ! established 1", handshake(0.0)));
    assert_eq!(h.ep.listener_info(l).unwrap().queued, 1);
    // The table is full: a SYN to the configured port is dropped.
    let queued = turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT + 1));
    h.run(&format!(
        "{}\n 0.010 ! drops table-full 1",
        unanswered_syn(0.010)
    ));
    let newcomer = turn(&mut h, queued);
    h.run("0.020 tick");
    assert!(unlisten(&mut h, OTHER_PORT));
    h.run(
        "0.020 > R. 1:1(0) ack 1001
         0.020 ! state CLOSED
         0.020 ! conns 0
         0.020 ! closed aborted",
    );
    assert_eq!(h.ep.stats().closed_by(CloseReason::Aborted), 1);
    assert_eq!(h.ep.stats().handshakes_failed_by(CloseReason::Aborted), 0);
    assert_eq!(h.ep.accept(l), None, "the listener is gone");
    // Nothing else follows (no timer of the aborted connection is left).
    h.run("5.000 tick");
    // The freed slot takes the client the full table refused.
    turn(&mut h, newcomer);
    h.run(&handshake(5.010));
}

/// `unlisten` frees the listener's connections in SYN-RECEIVED too: each
/// gets the abort's `<SEQ=SND.NXT><CTL=RST,ACK>` (SND.NXT = ISS+1), its
/// slot and half-open counts are freed, it counts as a handshake that
/// failed (aborted), and the application, which never knew it, is told
/// nothing. No SYN-ACK is retransmitted after, and the client's handshake
/// ACK then finds a CLOSED port (RFC 9293 §3.10.7.1, `<SEQ=SEG.ACK><CTL=RST>`).
/// Linux drops its request socks without a RST and resets that ACK; the
/// RST here tells the client sooner.
#[test]
fn unlisten_resets_half_open_connections() {
    let mut h = Harness::with_slots(default_config(), 1);
    let l = h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(
        "0.000 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001
         0.000 ! state SYN-RECEIVED",
    );
    assert_eq!(h.ep.half_open(), 1);
    assert_eq!(h.ep.listener_info(l).unwrap().half_open, 1);
    h.run("0.010 tick");
    assert!(unlisten(&mut h, OTHER_PORT));
    h.run(
        "0.010 > R. 1:1(0) ack 1001
         0.010 ! state CLOSED
         0.010 ! conns 0",
    );
    assert_eq!(h.ep.half_open(), 0);
    assert_eq!(h.ep.stats().handshakes_failed_by(CloseReason::Aborted), 1);
    assert_eq!(h.ep.stats().closed_by(CloseReason::Aborted), 0);
    assert!(h.rec.closed.is_empty(), "the application never knew it");
    assert_eq!(h.rec.established, 0);
    h.run(
        "0.020 < . 1001:1001(0) ack 1 win 502
         0.020 > R 1:1(0)
         0.020 ! conns 0
         5.000 tick",
    );
    // The freed slot opens a new connection on the configured port.
    turn(&mut h, fresh(SERVER_PORT, CLIENT_PORT + 1));
    h.run(&handshake(5.010));
}

/// `unlisten` leaves accepted connections alone: of two connections of one
/// listener, the one never accepted is reset, and the accepted one goes on
/// -- data in, data out, and its close -- as Linux's accepted sockets
/// outlive their listener.
#[test]
fn unlisten_leaves_accepted_connections_working() {
    let mut h = Harness::new(default_config());
    let l = h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(&handshake(0.0));
    let (kept, ..) = conn_from(&h, CLIENT_PORT).unwrap();
    assert_eq!(h.ep.accept(l), Some(kept));
    let kept_side = turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(&handshake(0.010));
    h.run("0.020 tick");
    assert!(unlisten(&mut h, OTHER_PORT));
    // Only the connection never accepted is reset.
    h.run(
        "0.020 > R. 1:1(0) ack 1001
         0.020 ! state CLOSED
         0.020 ! conns 1",
    );
    turn(&mut h, kept_side);
    h.run(
        "0.030 ! state ESTABLISHED
         0.030 < P. 1001:1101(100) ack 1 win 502
         0.030 > . 1:1(0) ack 1101
         0.030 ! delivered 100
         0.100 ! app-send 50
         0.100 > P. 1:51(50) ack 1101
         0.110 < . 1101:1101(0) ack 51 win 502
         0.120 ! app-close
         0.120 > F. 51:51(0) ack 1101
         0.130 < F. 1101:1101(0) ack 52 win 502
         0.130 > . 52:52(0) ack 1102
         0.130 ! state TIME-WAIT",
    );
    assert_eq!(
        h.ep.state(kept).map(|s| s.name()),
        Some(StateName::TimeWait)
    );
    assert_eq!(h.rec.closed, vec![CloseReason::Aborted], "only the other");
    assert_eq!(h.ep.stats().closed_by(CloseReason::Aborted), 1);
}

/// After `unlisten`, nothing of the listener answers for it: a segment of
/// a connection it had not handed over, and a new SYN, each get the reset
/// of a CLOSED port (RFC 9293 §3.10.7.1): `<SEQ=SEG.ACK><CTL=RST>` for the
/// first, `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` for the SYN.
#[test]
fn unlisten_then_its_ports_segments_find_a_closed_port() {
    let mut h = Harness::new(default_config());
    h.ep.listen(OTHER_PORT, 4).unwrap();
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT));
    h.run(&handshake(0.0));
    h.run("0.010 tick");
    assert!(unlisten(&mut h, OTHER_PORT));
    h.run(
        "0.010 > R. 1:1(0) ack 1001
         0.020 < P. 1001:1101(100) ack 1 win 502
         0.020 > R 1:1(0)
         0.020 ! delivered 0
         0.020 ! conns 0",
    );
    turn(&mut h, fresh(OTHER_PORT, CLIENT_PORT + 1));
    h.run(
        "0.030 < S 7000:7000(0) win 64240
         0.030 > R. 0:0(0) ack 7001
         0.030 ! conns 0",
    );
    assert_eq!(h.ep.stats().resets_sent, 2);
}
