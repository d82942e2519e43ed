//! Issue #17, ICMP errors for a connection (`conn/icmp_err.rs`), as RFC
//! 5461 and Linux (`tcp_v4_err`, `tcp_v6_err`, `tcp_req_err`,
//! `tcp_write_err`, `tcp_ld_RTO_revert`) handle them: a connection request
//! is aborted with the error; a half-open passive connection is dropped
//! when the error says so (else kept); a synchronized connection is never
//! aborted, but reports the error when it later times out; a message
//! quoting a sequence number not in flight is ignored (RFC 5927 §4.1); a
//! net or host unreachable during RTO backoff undoes one doubling (RFC
//! 6069). Each test runs over IPv4 and IPv6, on Ethernet and on
//! `Medium::Ip`.

mod common;

use std::net::{Ipv4Addr, Ipv6Addr};

use common::*;
use tcpcore::conn::Timer;
use tcpcore::wire::{
    EtherType, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, Icmpv6Packet, Icmpv6Repr,
    IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr,
};
use tcpcore::{CloseReason, EndpointConfig, IcmpError, Instant, Medium};

/// Our port for active opens.
const LOCAL: u16 = 50000;
/// The router that sends the errors.
const ROUTER: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 254);
const ROUTER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe);

/// An ICMP error, as each family spells it.
#[derive(Clone, Copy, Debug)]
enum Msg {
    /// Destination unreachable with an ICMP code and an ICMPv6 code.
    Unreach(u8, u8),
    /// Time exceeded in transit.
    TimeExceeded,
    /// Parameter problem.
    ParamProblem,
}

/// The four ways to run a test: IPv4 and IPv6, on Ethernet and bare IP.
fn modes(base: EndpointConfig) -> Vec<(&'static str, EndpointConfig)> {
    let mut out = Vec::new();
    for (name, medium, v6) in [
        ("ipv4/ethernet", Medium::Ethernet, false),
        ("ipv4/ip", Medium::Ip, false),
        ("ipv6/ethernet", Medium::Ethernet, true),
        ("ipv6/ip", Medium::Ip, true),
    ] {
        let mut cfg = EndpointConfig { medium, ..base };
        if v6 {
            // The IPv6 MSS is the MTU less 60: keep the scripts' 1460.
            cfg.addr6 = Some(SERVER_IP6);
            cfg.conn.mss += 20;
        }
        out.push((name, cfg));
    }
    out
}

fn active_cfg() -> EndpointConfig {
    let mut cfg = default_config();
    cfg.reset_other_ports = false;
    cfg.answer_arp = false;
    cfg.conn.nagle = false;
    cfg
}

fn active(cfg: EndpointConfig) -> Harness {
    let mut h = Harness::new(cfg);
    h.local_port = LOCAL;
    h
}

/// The error `msg` from a router, quoting a segment of ours from
/// `h.local_port` to `h.port` with sequence number `seq` (relative to our
/// ISS), in the harness's family; sent to the endpoint.
fn icmp(h: &mut Harness, msg: Msg, seq: u32) {
    let seq = h.iss.expect("our ISS").wrapping_add(seq);
    let frame = if h.rec.ipv6 {
        icmp6(h.local_port, h.port, seq, msg)
    } else {
        icmp4(h.local_port, h.port, seq, msg)
    };
    h.send(&frame);
}

fn icmp4(src_port: u16, dst_port: u16, seq: u32, msg: Msg) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: SERVER_IP,
        dst_addr: CLIENT_IP,
        protocol: IpProtocol::Tcp,
        payload_len: 40,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut sent = vec![0u8; ip.buffer_len()];
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut sent[..]))
        .unwrap();
    let mut quote = sent[..28].to_vec();
    quote[20..22].copy_from_slice(&src_port.to_be_bytes());
    quote[22..24].copy_from_slice(&dst_port.to_be_bytes());
    quote[24..28].copy_from_slice(&seq.to_be_bytes());
    let icmp = match msg {
        Msg::Unreach(code, _) => Icmpv4Repr::DstUnreachable {
            code,
            next_hop_mtu: 0,
            quote: &quote,
        },
        Msg::TimeExceeded => Icmpv4Repr::TimeExceeded {
            code: 0,
            quote: &quote,
        },
        Msg::ParamProblem => Icmpv4Repr::ParamProblem {
            code: 0,
            pointer: 9,
            quote: &quote,
        },
    };
    let outer = Ipv4Repr {
        src_addr: ROUTER,
        dst_addr: SERVER_IP,
        protocol: IpProtocol::Icmp,
        payload_len: icmp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 7,
        dont_frag: false,
        more_frags: false,
        frag_offset: 0,
    };
    let mut f = vec![0u8; 14 + outer.buffer_len()];
    EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..14]))
    .unwrap();
    outer
        .emit(&mut Ipv4Packet::new_unchecked(&mut f[14..]))
        .unwrap();
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut f[34..]))
        .unwrap();
    f
}

fn icmp6(src_port: u16, dst_port: u16, seq: u32, msg: Msg) -> Vec<u8> {
    let ip = Ipv6Repr {
        src_addr: SERVER_IP6,
        dst_addr: CLIENT_IP6,
        next_header: IpProtocol::Tcp,
        payload_len: 20,
        hop_limit: 64,
        dscp: 0,
        ecn: 0,
        flow_label: 0,
    };
    let mut sent = vec![0u8; ip.buffer_len()];
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut sent[..]))
        .unwrap();
    let mut quote = sent[..48].to_vec();
    quote[40..42].copy_from_slice(&src_port.to_be_bytes());
    quote[42..44].copy_from_slice(&dst_port.to_be_bytes());
    quote[44..48].copy_from_slice(&seq.to_be_bytes());
    let icmp = match msg {
        Msg::Unreach(_, code) => Icmpv6Repr::DstUnreachable {
            code,
            quote: &quote,
        },
        Msg::TimeExceeded => Icmpv6Repr::TimeExceeded {
            code: 0,
            quote: &quote,
        },
        Msg::ParamProblem => Icmpv6Repr::ParamProblem {
            code: 0,
            pointer: 6,
            quote: &quote,
        },
    };
    let outer = Ipv6Repr {
        src_addr: ROUTER6,
        dst_addr: SERVER_IP6,
        next_header: IpProtocol::from(58),
        payload_len: icmp.buffer_len(),
        hop_limit: 64,
        dscp: 0,
        ecn: 0,
        flow_label: 0,
    };
    let mut f = vec![0u8; 14 + outer.buffer_len()];
    EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Unknown(0x86dd),
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..14]))
    .unwrap();
    outer
        .emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]))
        .unwrap();
    icmp.emit(
        &mut Icmpv6Packet::new_unchecked(&mut f[54..]),
        ROUTER6,
        SERVER_IP6,
    )
    .unwrap();
    f
}

/// Our SYN, as `trace_syn_sent.rs` has it.
const SYN: &str = "0.000 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 1>";

/// Runs every timer until the connection is gone (within a bound),
/// discarding what it sends.
fn run_out(h: &mut Harness) {
    for _ in 0..100 {
        if h.ep.is_empty() {
            return;
        }
        let t = h.ep.poll_timeout().expect("a timer while connected");
        h.advance(t);
        h.rec.out.clear();
    }
    panic!("the connection never timed out");
}

/// RFC 5461 §4.1, Linux `tcp_v4_err` / `tcp_v6_err` in SYN-SENT: a host
/// unreachable (ICMPv6 address unreachable) quoting our SYN aborts the
/// connection request at once, with that error, without a reset.
#[test]
fn syn_sent_host_unreachable_aborts() {
    for (mode, cfg) in modes(active_cfg()) {
        let mut h = active(cfg);
        h.run(&format!("0.000 ! connect\n{SYN}\n0.000 ! state SYN-SENT"));
        h.rec.now = Instant::from_millis(30);
        icmp(&mut h, Msg::Unreach(1, 3), 0);
        h.run(
            "0.030 ! state CLOSED
             0.030 ! conns 0
             0.030 ! closed icmp(hostunreachable)
             0.030 ! rsts 0",
        );
        let s = h.ep.stats();
        let reason = CloseReason::Icmp(IcmpError::HostUnreachable);
        assert_eq!(s.handshakes_failed_by(reason), 1, "{mode}");
        assert_eq!((s.icmp_errors, s.icmp_aborts), (1, 1), "{mode}");
        assert!(h.rec.out.is_empty(), "{mode}: nothing sent");
        assert_eq!(h.ep.poll_timeout(), None, "{mode}: no SYN retransmission");
    }
}

/// The other errors in SYN-SENT: each aborts with its own reason (port
/// unreachable, administratively prohibited, net unreachable / ICMPv6 no
/// route, time exceeded as host unreachable, parameter problem as a
/// protocol error).
#[test]
fn syn_sent_each_error_is_reported() {
    let cases = [
        (Msg::Unreach(3, 4), "icmp(portunreachable)"),
        (Msg::Unreach(13, 1), "icmp(adminprohibited)"),
        (Msg::Unreach(0, 0), "icmp(netunreachable)"),
        (Msg::TimeExceeded, "icmp(hostunreachable)"),
        (Msg::ParamProblem, "icmp(protocolerror)"),
    ];
    for (mode, cfg) in modes(active_cfg()) {
        for (msg, reason) in cases {
            let mut h = active(cfg);
            h.run(&format!("0.000 ! connect\n{SYN}"));
            icmp(&mut h, msg, 0);
            h.run(&format!("0.000 ! closed {reason}\n0.000 ! conns 0"));
            assert_eq!(h.ep.stats().icmp_aborts, 1, "{mode} {msg:?}");
        }
    }
}

/// RFC 5927 §4.1: in SYN-SENT only the ISS is in flight. A message quoting
/// ISS + 1, or another port, changes nothing; the SYN-ACK then completes
/// the handshake.
#[test]
fn syn_sent_wrong_quote_is_ignored() {
    for (mode, cfg) in modes(active_cfg()) {
        let mut h = active(cfg);
        h.run(&format!("0.000 ! connect\n{SYN}"));
        icmp(&mut h, Msg::Unreach(1, 3), 1);
        let port = h.port;
        h.port = 9;
        icmp(&mut h, Msg::Unreach(1, 3), 0);
        h.port = port;
        h.run(
            "0.000 ! state SYN-SENT
             0.000 ! drops icmp-out-of-window 1
             0.000 ! drops icmp-ignored 1
             0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr *,nop,wscale 7>
             0.050 > . 1:1(0) ack 5001 win 32768 <TS val * ecr 100>
             0.050 ! state ESTABLISHED",
        );
        assert_eq!(h.ep.stats().icmp_errors, 0, "{mode}");
    }
}

const HANDSHAKE: &str = "0.100 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
     0.100 > S. 0:0(0) ack 1001";

/// Linux `tcp_req_err`: a half-open passive connection is dropped,
/// silently (no reset, no event: the application never knew of it), by an
/// ICMP host unreachable (Linux: net or host unreachable, time exceeded,
/// parameter problem) or a fatal ICMPv6 error (port unreachable here).
/// The peer's handshake ACK then finds no connection.
#[test]
fn syn_received_dropped_by_fatal_error() {
    for (mode, cfg) in modes(default_config()) {
        let mut h = Harness::new(cfg);
        h.run(HANDSHAKE);
        let msg = if cfg.addr6.is_some() {
            Msg::Unreach(0, 4)
        } else {
            Msg::Unreach(1, 0)
        };
        icmp(&mut h, msg, 0);
        h.run("0.100 ! conns 0\n0.100 ! rsts 0");
        let s = h.ep.stats();
        assert_eq!((s.icmp_errors, s.icmp_aborts), (1, 1), "{mode}");
        assert_eq!(h.ep.half_open(), 0, "{mode}");
        assert!(
            h.rec.closed.is_empty(),
            "{mode}: no event for a passive open"
        );
        let any = s.handshakes_failed.iter().sum::<u64>();
        assert_eq!(any, 1, "{mode}: one handshake failed");
        assert!(h.rec.out.is_empty(), "{mode}");
    }
}

/// Linux `tcp_req_err`: an error that does not drop the request (ICMP
/// port unreachable; ICMPv6 no route, which is soft) leaves the half-open
/// connection as it was, and the handshake completes. A message quoting
/// ISS + 1 is out of window.
#[test]
fn syn_received_kept_by_soft_error() {
    for (mode, cfg) in modes(default_config()) {
        let mut h = Harness::new(cfg);
        h.run(HANDSHAKE);
        icmp(&mut h, Msg::Unreach(3, 0), 0);
        icmp(&mut h, Msg::Unreach(1, 4), 1);
        h.run(
            "0.100 ! state SYN-RECEIVED
             0.100 ! drops icmp-ignored 1
             0.100 ! drops icmp-out-of-window 1
             0.110 < . 1001:1001(0) ack 1 win 502
             0.110 ! state ESTABLISHED
             0.110 ! established 1",
        );
        assert_eq!(h.ep.stats().icmp_errors, 0, "{mode}");
    }
}

const ESTABLISHED: &str = "0.100 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
     0.100 > S. 0:0(0) ack 1001
     0.110 < . 1001:1001(0) ack 1 win 502
     0.200 ! app-send 100
     0.200 > P. 1:101(100) ack 1001";

/// RFC 5461 §4, RFC 1122 §4.2.3.9, Linux without IP_RECVERR: a port
/// unreachable for an established connection does not abort it (even
/// though it is a "hard" error); when its retransmissions run out, the
/// close reason is that error instead of "timed out" (Linux
/// `tcp_write_err`: `sk_err_soft ?: ETIMEDOUT`).
#[test]
fn established_soft_error_reported_at_timeout() {
    for (mode, cfg) in modes(no_nagle()) {
        let mut h = Harness::new(cfg);
        h.run(ESTABLISHED);
        h.rec.now = Instant::from_millis(210);
        icmp(&mut h, Msg::Unreach(3, 4), 1);
        h.run("0.210 ! state ESTABLISHED");
        assert!(h.rec.out.is_empty(), "{mode}: nothing sent");
        let id = h.ep.connections().next().unwrap().0;
        assert_eq!(
            h.ep.state(id).unwrap().soft_error(),
            Some(IcmpError::PortUnreachable),
            "{mode}"
        );
        assert_eq!(h.ep.stats().icmp_errors, 1, "{mode}");
        run_out(&mut h);
        assert_eq!(
            h.rec.closed,
            [CloseReason::Icmp(IcmpError::PortUnreachable)],
            "{mode}"
        );
        let s = h.ep.stats();
        assert_eq!(
            s.closed_by(CloseReason::Icmp(IcmpError::PortUnreachable)),
            1
        );
        assert_eq!(s.closed_by(CloseReason::TimedOut), 0, "{mode}");
    }
}

/// RFC 5927 §4.1: a message quoting SND.NXT (nothing there in flight) or a
/// sequence number already acknowledged is ignored, and the connection
/// that then times out reports "timed out".
#[test]
fn established_quote_outside_flight_is_ignored() {
    for (mode, cfg) in modes(no_nagle()) {
        let mut h = Harness::new(cfg);
        h.run(ESTABLISHED);
        icmp(&mut h, Msg::Unreach(1, 0), 101);
        icmp(&mut h, Msg::Unreach(1, 0), 0);
        h.run("0.200 ! drops icmp-out-of-window 2\n0.200 ! state ESTABLISHED");
        assert_eq!(h.ep.stats().icmp_errors, 0, "{mode}");
        run_out(&mut h);
        assert_eq!(h.rec.closed, [CloseReason::TimedOut], "{mode}");
    }
}

/// Linux `tcp_ack`: an acceptable ACK clears the soft error ("Something
/// worked..."); a connection that later times out reports "timed out".
#[test]
fn ack_clears_the_soft_error() {
    for (mode, cfg) in modes(no_nagle()) {
        let mut h = Harness::new(cfg);
        h.run(ESTABLISHED);
        icmp(&mut h, Msg::TimeExceeded, 1);
        let id = h.ep.connections().next().unwrap().0;
        assert_eq!(
            h.ep.state(id).unwrap().soft_error(),
            Some(IcmpError::HostUnreachable),
            "{mode}"
        );
        h.run(
            "0.250 < . 1001:1001(0) ack 101 win 502
             0.300 ! app-send 100
             0.300 > P. 101:201(100) ack 1001",
        );
        assert_eq!(h.ep.state(id).unwrap().soft_error(), None, "{mode}");
        run_out(&mut h);
        assert_eq!(h.rec.closed, [CloseReason::TimedOut], "{mode}");
    }
}

/// RFC 6069 (Linux `tcp_ld_RTO_revert`): after three timeouts the RTO is
/// backed off 2^3; a host unreachable (ICMPv6 no route) quoting SND.UNA
/// undoes one doubling: the timer runs from the last retransmission with
/// the RTO backed off 2^2. A port unreachable does not.
#[test]
fn unreachable_reverts_one_backoff() {
    for (mode, cfg) in modes(no_nagle()) {
        let mut h = Harness::new(cfg);
        h.run(ESTABLISHED);
        let id = h.ep.connections().next().unwrap().0;
        let mut last = Instant::ZERO;
        for _ in 0..3 {
            last = h.ep.poll_timeout().unwrap();
            h.advance(last);
            h.rec.out.clear();
        }
        let rto = |h: &Harness| h.ep.state(id).unwrap().timer(Timer::Retransmit).unwrap();
        let before = rto(&h);
        let backed = (before - last).as_micros();
        h.rec.now = last + tcpcore::Duration::from_millis(100);
        icmp(&mut h, Msg::Unreach(3, 4), 1);
        assert_eq!(rto(&h), before, "{mode}: port unreachable reverts nothing");
        icmp(&mut h, Msg::Unreach(1, 0), 1);
        let after = rto(&h);
        assert_eq!(
            (after - last).as_micros(),
            backed / 2,
            "{mode}: one doubling undone"
        );
        assert_eq!(h.ep.stats().icmp_rto_reverts, 1, "{mode}");
        assert_eq!(h.ep.stats().icmp_errors, 2, "{mode}");
    }
}
