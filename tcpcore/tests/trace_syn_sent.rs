//! SYN-SENT (RFC 9293 §3.10.7.3) and the active open, as packet traces:
//! `! connect` opens a connection from port 50000 of the endpoint (not its
//! listening port, and with `reset_other_ports` off: the segments reach the
//! connection by its 4-tuple) to the peer, whose segments come in with `<`.
//! Our sequence numbers are relative to our ISS, the peer's absolute.

mod common;

use common::*;
use tcpcore::wire::{self, ArpOperation, ArpRepr, ChecksumPolicy, EtherType, EthernetRepr, Frame};
use tcpcore::{CloseReason, Duration, EndpointConfig, Instant, State};

const LOCAL: u16 = 50000;

fn client_cfg() -> EndpointConfig {
    let mut cfg = default_config();
    cfg.reset_other_ports = false;
    cfg.answer_arp = false;
    cfg.conn.nagle = false;
    cfg
}

fn harness(cfg: EndpointConfig) -> Harness {
    let mut h = Harness::new(cfg);
    h.local_port = LOCAL;
    h
}

fn run_active(script: &str) -> Harness {
    let mut h = harness(client_cfg());
    h.run(script);
    h
}

/// Our SYN as every test sees it: MSS from the MTU, SACK-permitted,
/// timestamps, window scale 1 for a 64 KiB receive buffer; window 65535.
const SYN: &str = "0.000 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 1>";

// RFC 9293 §3.10.7.3 fourth: a SYN-ACK acknowledging our SYN: ESTABLISHED,
// and "form an ACK segment <SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK> and send
// it" at once. RFC 7323 §2.2: both sides sent window scale, so our window
// from now on is scaled by 1 (65536 free bytes -> 32768), and the peer's
// (shift 7) scales what we may send.
#[test]
fn syn_ack_establishes_and_is_acked() {
    let h = run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.000 ! state SYN-SENT\n\
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr *,nop,wscale 7>\n\
         0.050 > . 1:1(0) ack 5001 win 32768 <TS val * ecr 100>\n\
         0.050 ! state ESTABLISHED\n\
         0.050 ! established 1\n\
         0.060 ! app-send 100\n\
         0.060 > P. 1:101(100) ack 5001 <TS val * ecr 100>\n"
    ));
    assert_eq!(h.ep.stats().active_opens, 1);
    assert_eq!(h.ep.stats().established, 1);
}

// RFC 9293 §3.10.7.3 (data in a SYN-ACK is queued for the application, and
// processing continues at the sixth step).
#[test]
fn data_in_syn_ack_is_delivered() {
    let h = run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S. 5000:5000(10) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr *,nop,wscale 7>\n\
         0.050 > . 1:1(0) ack 5011 <TS val * ecr 100>\n"
    ));
    // The harness fills a segment's payload from its SEG.SEQ on.
    let want: Vec<u8> = (5000..5010).map(pattern).collect();
    assert_eq!(h.rec.data, want);
}

// RFC 9293 §3.10.7.3 first: "If SEG.ACK =< ISS or SEG.ACK > SND.NXT, send a
// reset ... <SEQ=SEG.ACK><CTL=RST> and discard the segment."
#[test]
fn syn_ack_with_bad_ack_gets_reset() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S. 5000:5000(0) ack 5 win 65535\n\
         0.050 > R 5:5(0)\n\
         0.050 ! state SYN-SENT\n\
         0.050 ! drops bad-ack 1\n\
         0.060 < S. 5000:5000(0) ack 0 win 65535\n\
         0.060 > R 0:0(0)\n\
         0.060 ! state SYN-SENT\n"
    ));
}

// RFC 9293 §3.10.7.3 second, RFC 5961 §3.2: a RST whose ACK acknowledges
// our SYN refuses the connection; the application learns it.
#[test]
fn rst_with_good_ack_closes() {
    let h = run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < R. 0:0(0) ack 1 win 0\n\
         0.050 ! state CLOSED\n\
         0.050 ! closed reset\n\
         0.050 ! conns 0\n"
    ));
    assert_eq!(h.ep.stats().handshakes_failed_by(CloseReason::Reset), 1);
}

// RFC 9293 §3.10.7.3: a RST with an unacceptable ACK is dropped without a
// reply ("unless the RST bit is set"); one without ACK is dropped too.
#[test]
fn rst_with_bad_or_no_ack_is_dropped() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < R. 0:0(0) ack 7 win 0\n\
         0.050 ! state SYN-SENT\n\
         0.060 < R 0:0(0) win 0\n\
         0.060 ! state SYN-SENT\n\
         0.060 ! drops rst-not-exact 1\n\
         0.060 ! drops bad-ack 1\n"
    ));
}

// RFC 9293 §3.10.7.3 fifth: "if neither of the SYN or RST bits is set, then
// drop the segment and return" -- an ACK, data, a FIN.
#[test]
fn segment_without_syn_or_rst_is_dropped() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < . 5000:5000(0) ack 1 win 65535\n\
         0.051 < P. 5000:5010(10) ack 1 win 65535\n\
         0.052 < F. 5000:5000(0) ack 1 win 65535\n\
         0.053 < P 5000:5010(10) win 65535\n\
         0.060 ! state SYN-SENT\n\
         0.060 ! delivered 0\n\
         0.060 ! drops bad-ack 4\n"
    ));
}

// RFC 9293 §3.10.7.3 fourth, simultaneous open (§3.5 figure 7, MUST-10): a
// SYN without ACK: SYN-RECEIVED and <SEQ=ISS><ACK=RCV.NXT><CTL=SYN,ACK>,
// the options negotiated against the peer's SYN; the peer's SYN-ACK then
// completes the handshake (as Linux's tcp_validate_incoming lets it).
#[test]
fn bare_syn_is_a_simultaneous_open() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S 5000:5000(0) win 65535 <mss 1400,sackOK,TS val 100 ecr 0,nop,wscale 7>\n\
         0.050 > S. 0:0(0) ack 5001 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>\n\
         0.050 ! state SYN-RECEIVED\n\
         0.060 < S. 5000:5000(0) ack 1 win 65535 <mss 1400,sackOK,TS val 110 ecr *,nop,wscale 7>\n\
         0.060 ! state ESTABLISHED\n\
         0.060 ! established 1\n"
    ));
    // ... or the peer's plain ACK does.
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S 5000:5000(0) win 65535 <mss 1400>\n\
         0.050 > S. 0:0(0) ack 5001 win 65535 <mss 1460>\n\
         0.060 < . 5001:5001(0) ack 1 win 65535\n\
         0.060 ! state ESTABLISHED\n"
    ));
}

// RFC 9293 §3.10.7.4 fourth, SYN-RECEIVED: "If the connection was initiated
// with a passive OPEN, then return this connection to the LISTEN state ...
// Otherwise, handle per the directions for synchronized states": after a
// simultaneous open, a new in-window SYN gets RFC 5961 §4's challenge ACK
// and the connection stays (Linux tcp_validate_incoming does the same).
#[test]
fn syn_after_simultaneous_open_gets_challenge_ack() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S 5000:5000(0) win 65535 <mss 1400>\n\
         0.050 > S. 0:0(0) ack 5001 win 65535 <mss 1460>\n\
         0.060 < S 5100:5100(0) win 65535 <mss 1400>\n\
         0.060 > . 1:1(0) ack 5001\n\
         0.060 ! state SYN-RECEIVED\n\
         0.070 < . 5001:5001(0) ack 1 win 65535\n\
         0.070 ! state ESTABLISHED\n"
    ));
}

// RFC 6298 §5.5 (back-off, initial RTO 1 s as Linux's TCP_TIMEOUT_INIT) and
// Linux's tcp_syn_retries = 6: SYNs at 0, 1, 3, 7, 15, 31, 63 s (the RTO
// bounded by rto_max, 60 s: RFC 6298 §2.5), then the connection gives up,
// timed out, without a reset.
#[test]
fn syn_retransmission_backs_off_then_gives_up() {
    let mut s = format!("0.000 ! connect\n{SYN}\n");
    for t in [1, 3, 7, 15, 31, 63] {
        s += &format!("{t}.000 > S 0:0(0) <mss 1460,sackOK,TS val * ecr 0,nop,wscale 1>\n");
    }
    s += "122.900 ! state SYN-SENT\n123.000 ! state CLOSED\n123.000 ! closed timedout\n";
    let h = run_active(&s);
    assert_eq!(h.ep.stats().handshakes_failed_by(CloseReason::TimedOut), 1);
    assert_eq!(h.ep.stats().retransmits, 6);
}

// RFC 7323 §2.2, §3.2, RFC 2018 §2: a SYN-ACK without window scale,
// timestamps or SACK-permitted turns them off: no TS option, our window
// unscaled (65535, not 32768), no SACK blocks.
#[test]
fn options_absent_in_syn_ack_are_off() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460>\n\
         0.050 > . 1:1(0) ack 5001 win 65535 <>\n\
         0.060 ! app-send 100\n\
         0.060 > P. 1:101(100) ack 5001 <>\n\
         0.070 < . 5002:5012(10) ack 101 win 65535\n\
         0.070 > . 101:101(0) ack 5001 <>\n"
    ));
}

// RFC 9293 §3.7.1 (MUST-16, effective_send_mss): MSS 1 in the SYN-ACK is
// raised to Linux's tcp_min_snd_mss, 48; MSS 65535 is bounded by our MTU
// (1460, less nothing without timestamps).
#[test]
fn extreme_mss_in_syn_ack() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1>\n\
         0.050 > . 1:1(0) ack 5001\n\
         0.060 ! app-send 100\n\
         0.060 > . 1:49(48) ack 5001\n\
         0.060 > . 49:97(48) ack 5001\n\
         0.060 > P. 97:101(4) ack 5001\n"
    ));
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 65535>\n\
         0.050 > . 1:1(0) ack 5001\n\
         0.060 ! app-send 3000\n\
         0.060 > . 1:1461(1460) ack 5001\n\
         0.060 > . 1461:2921(1460) ack 5001\n\
         0.060 > P. 2921:3001(80) ack 5001\n"
    ));
}

fn conn_state(h: &Harness) -> State {
    let (id, _, _) = h.ep.connections().next().expect("a connection");
    *h.ep.state(id).expect("state")
}

// RFC 6298 §3 (Karn) and §5.7, RFC 5681 §3.1: after the SYN timed out, the
// SYN-ACK (without timestamps) gives no RTT sample, the RTO is 3 s when
// data begins, and the initial window is one segment. Without a
// retransmission the SYN-ACK's delay is the first sample.
#[test]
fn syn_timeout_means_rto_3s_and_iw_1() {
    let h = run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         1.000 > S 0:0(0)\n\
         1.100 < S. 5000:5000(0) ack 1 win 65535 <mss 1460>\n\
         1.100 > . 1:1(0) ack 5001\n"
    ));
    let State::Established(o) = conn_state(&h) else {
        panic!("not established");
    };
    assert_eq!(
        o.tcb().rtx().rtt(),
        None,
        "Karn: no sample from a retransmitted SYN"
    );
    assert_eq!(o.tcb().rtx().rto(), Duration::from_secs(3));
    assert_eq!(o.snd().cc().cwnd(), 1460);

    let h = run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.100 < S. 5000:5000(0) ack 1 win 65535 <mss 1460>\n\
         0.100 > . 1:1(0) ack 5001\n"
    ));
    let State::Established(o) = conn_state(&h) else {
        panic!("not established");
    };
    assert_eq!(o.tcb().rtx().rtt(), Some((100_000, 50_000)));
    assert!(o.snd().cc().cwnd() > 1460);
}

// A connection from an ephemeral port (RFC 6056 Algorithm 3 over Linux's
// 32768-60999): a second connect to the same remote gets another port; a
// given local port already in use with that remote is refused.
#[test]
fn ephemeral_ports_and_tuple_in_use() {
    let mut h = harness(client_cfg());
    h.ep.set_neighbor(CLIENT_IP, CLIENT_MAC);
    let remote = std::net::SocketAddrV4::new(CLIENT_IP, CLIENT_PORT);
    let now = Instant::from_micros(0);
    let a = h.ep.connect(0, remote, now, &mut h.rec).unwrap();
    let b = h.ep.connect(0, remote, now, &mut h.rec).unwrap();
    let ports: Vec<u16> = h.ep.connections().map(|(_, t, _)| t.local_port).collect();
    assert_ne!(a, b);
    assert_ne!(ports[0], ports[1]);
    assert!(
        ports.iter().all(|p| (32768..=60999).contains(p)),
        "{ports:?}"
    );
    let err = h.ep.connect(ports[0], remote, now, &mut h.rec).unwrap_err();
    assert_eq!(err, tcpcore::endpoint::ConnectError::TupleInUse);
}

fn arp_of(frame: &[u8]) -> Option<(EthernetRepr, ArpRepr)> {
    match wire::parse_frame(frame, ChecksumPolicy::Verify) {
        Ok(Frame::Arp { eth, arp }) => Some((eth, arp)),
        _ => None,
    }
}

fn arp_reply_frame(from_ip: std::net::Ipv4Addr) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Arp,
    };
    let arp = ArpRepr {
        operation: ArpOperation::Reply,
        source_hardware_addr: CLIENT_MAC,
        source_protocol_addr: from_ip,
        target_hardware_addr: SERVER_MAC,
        target_protocol_addr: SERVER_IP,
    };
    let mut buf = vec![0u8; 60];
    wire::emit_arp_frame(&mut buf, &eth, &arp).unwrap();
    buf
}

/// Drains what the endpoint sent: (ARP requests for `target`, TCP SYNs).
fn sent(h: &mut Harness, target: std::net::Ipv4Addr) -> (usize, usize) {
    let (mut arps, mut syns) = (0, 0);
    while let Some((_, f)) = h.rec.out.pop_front() {
        if let Some((eth, arp)) = arp_of(&f) {
            assert_eq!(eth.dst_addr, tcpcore::wire::EthernetAddress::BROADCAST);
            assert_eq!(arp.operation, ArpOperation::Request);
            assert_eq!(arp.target_protocol_addr, target);
            assert_eq!(arp.source_protocol_addr, SERVER_IP);
            arps += 1;
        } else if let Ok(Frame::Tcp { eth, tcp, .. }) =
            wire::parse_frame(&f, ChecksumPolicy::Verify)
        {
            assert_eq!(eth.dst_addr, CLIENT_MAC);
            assert_eq!(tcp.control, tcpcore::wire::TcpControl::Syn);
            syns += 1;
        }
    }
    (arps, syns)
}

// RFC 826 / RFC 1122 §2.3.2.2: with the peer's MAC unknown, connect asks
// for it first; the SYN goes the moment the reply arrives.
#[test]
fn arp_request_first_then_syn_on_reply() {
    let mut h = harness(client_cfg());
    let remote = std::net::SocketAddrV4::new(CLIENT_IP, CLIENT_PORT);
    h.ep.connect(LOCAL, remote, h.rec.now, &mut h.rec).unwrap();
    h.rec.flush();
    assert_eq!(sent(&mut h, CLIENT_IP), (1, 0));
    h.advance(Instant::from_micros(300_000));
    let f = arp_reply_frame(CLIENT_IP);
    h.send(&f);
    assert_eq!(sent(&mut h, CLIENT_IP), (0, 1));
    assert_eq!(h.ep.neighbor(CLIENT_IP), Some(CLIENT_MAC));
    // The SYN's timer restarted when it left: no retransmission at 1 s.
    h.advance(Instant::from_micros(1_200_000));
    assert_eq!(sent(&mut h, CLIENT_IP), (0, 0));
    h.advance(Instant::from_micros(1_300_000));
    assert_eq!(sent(&mut h, CLIENT_IP), (0, 1));
}

// Unanswered, the ARP request is sent again at each SYN timeout, and the
// connection gives up as an unanswered SYN would (Closed(TimedOut)).
#[test]
fn unresolved_arp_is_retried_then_gives_up() {
    let mut h = harness(client_cfg());
    let remote = std::net::SocketAddrV4::new(CLIENT_IP, CLIENT_PORT);
    h.ep.connect(LOCAL, remote, h.rec.now, &mut h.rec).unwrap();
    h.rec.flush();
    h.advance(Instant::from_micros(200_000_000));
    assert_eq!(sent(&mut h, CLIENT_IP), (7, 0));
    assert_eq!(h.rec.closed, vec![CloseReason::TimedOut]);
    assert_eq!(h.ep.len(), 0);
    assert_eq!(h.ep.stats().arp_requests, 7);
}

// With a gateway, a remote off our subnet is reached through the gateway's
// MAC: the ARP request asks for the gateway.
#[test]
fn off_subnet_remote_resolves_the_gateway() {
    let gw = std::net::Ipv4Addr::new(198, 18, 0, 254);
    let mut cfg = client_cfg();
    cfg.gateway = Some(gw);
    cfg.prefix_len = 24;
    let mut h = harness(cfg);
    let far = std::net::SocketAddrV4::new(std::net::Ipv4Addr::new(198, 19, 1, 2), 80);
    h.ep.connect(0, far, h.rec.now, &mut h.rec).unwrap();
    h.rec.flush();
    assert_eq!(sent(&mut h, gw), (1, 0));
    let near = std::net::SocketAddrV4::new(CLIENT_IP, 80);
    h.ep.connect(0, near, h.rec.now, &mut h.rec).unwrap();
    h.rec.flush();
    assert_eq!(sent(&mut h, CLIENT_IP), (1, 0));
}

/// Keep-alive turned on in SYN-SENT (as Linux's `SO_KEEPALIVE` before
/// `connect`) is kept for the synchronized connection: the idle time runs
/// from the SYN-ACK (the last segment accepted).
#[test]
fn keepalive_set_in_syn_sent_is_kept() {
    run_active(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.000 ! app-keepalive 10000 2000 1\n\
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr *,nop,wscale 7>\n\
         0.050 > . 1:1(0) ack 5001 win 32768 <TS val * ecr 100>\n\
         10.050 > . 0:0(0) ack 5001 win 32768 <TS val * ecr 100>\n\
         12.050 > R. 1:1(0) ack 5001 <TS val * ecr 100>\n\
         12.050 ! closed timedout\n"
    ));
}
