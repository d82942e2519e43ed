//! `Medium::Ip` (issue #17): an endpoint that takes and writes bare IPv4
//! packets, as on a TUN device. The scripts of the other trace files that
//! call `run_both` run here too, once per medium; these are the traces
//! that only this medium has: an active open that sends its SYN at once
//! (no ARP, no neighbour cache), resets for a closed port, ARP and whole
//! Ethernet frames refused, GSO packets, and the `Stack` over the medium.

mod common;

use std::net::SocketAddrV4;

use common::*;
use tcpcore::stack::{OwnedStackStorage, Stack, StackEvent};
use tcpcore::wire::{
    self, ArpOperation, ArpRepr, ChecksumPolicy, EtherType, EthernetAddress, EthernetRepr,
};
use tcpcore::{DropReason, EndpointConfig, Instant, Medium};

fn ip_config() -> EndpointConfig {
    EndpointConfig {
        medium: Medium::Ip,
        ..default_config()
    }
}

/// An active open's harness: from port 50000, other ports left alone.
fn active(medium: Medium) -> Harness {
    let mut cfg = default_config();
    cfg.medium = medium;
    cfg.reset_other_ports = false;
    cfg.answer_arp = false;
    cfg.conn.nagle = false;
    let mut h = Harness::new(cfg);
    h.local_port = 50000;
    h
}

const SYN: &str = "0.000 > S 0:0(0) win 65535 <mss 1460,sackOK,TS val * ecr 0,nop,wscale 1>";

/// `Endpoint::connect` on `Medium::Ip`: the SYN goes at once, with nothing
/// in the neighbour cache and no ARP request; the handshake and data
/// follow as on Ethernet.
#[test]
fn active_open_sends_syn_at_once_without_arp() {
    let mut h = active(Medium::Ip);
    h.run(&format!(
        "0.000 ! connect\n{SYN}\n\
         0.000 ! state SYN-SENT\n\
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr *,nop,wscale 7>\n\
         0.050 > . 1:1(0) ack 5001 win 32768 <TS val * ecr 100>\n\
         0.050 ! state ESTABLISHED\n\
         0.060 ! app-send 100\n\
         0.060 > P. 1:101(100) ack 5001 <TS val * ecr 100>\n\
         0.070 < P. 5001:5101(100) ack 101 win 512 <TS val 101 ecr *>\n\
         0.070 > . 101:101(0) ack 5101\n\
         0.070 ! delivered 100\n"
    ));
    let st = h.ep.stats();
    assert_eq!(st.active_opens, 1);
    assert_eq!(st.arp_requests, 0);
    assert_eq!(h.ep.neighbor(CLIENT_IP), None, "nothing learnt");
}

/// The SYN's retransmissions are SYNs too (on Ethernet, with the next hop
/// unresolved, each would be an ARP request).
#[test]
fn syn_retransmitted_not_arp() {
    let mut h = active(Medium::Ip);
    h.run(&format!(
        "0.000 ! connect\n{SYN}\n\
         1.000 > S 0:0(0) <mss 1460,sackOK,TS val * ecr 0,nop,wscale 1>\n\
         3.000 > S 0:0(0) <mss 1460,sackOK,TS val * ecr 0,nop,wscale 1>\n\
         3.100 ! state SYN-SENT\n"
    ));
    assert_eq!(h.ep.stats().arp_requests, 0);
    assert_eq!(h.ep.stats().retransmits, 2);
    // The same on Ethernet without the neighbour: ARP requests, no SYN.
    let mut h = active(Medium::Ethernet);
    let remote = SocketAddrV4::new(CLIENT_IP, CLIENT_PORT);
    h.ep.connect(50000, remote, Instant::from_millis(0), &mut h.rec)
        .unwrap();
    h.rec.flush();
    let (_, f) = h.rec.out.pop_front().expect("an ARP request");
    assert!(matches!(
        wire::parse_frame(&f, ChecksumPolicy::Verify),
        Ok(wire::Frame::Arp { .. })
    ));
    assert_eq!(h.ep.stats().arp_requests, 1);
}

/// RFC 9293 §3.10.7.1 on both media: a SYN to a closed port of our own
/// address gets <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>, an ACK
/// <SEQ=SEG.ACK><CTL=RST>.
#[test]
fn closed_port_reset_on_both_media() {
    for medium in [Medium::Ethernet, Medium::Ip] {
        let mut h = Harness::new(EndpointConfig {
            medium,
            ..default_config()
        });
        h.local_port = 4000;
        h.run(
            "0.000 < S 1000:1000(0) win 100
             0.000 > R. 0:0(0) ack 1001
             0.010 < . 7000:7000(0) ack 12345 win 100
             0.010 > R 12345:12345(0)
             0.010 ! drops no-connection 2
             0.010 ! conns 0",
        );
        assert_eq!(h.ep.stats().resets_sent, 2, "{medium:?}");
    }
}

fn arp_request_frame() -> Vec<u8> {
    let arp = ArpRepr {
        operation: ArpOperation::Request,
        source_hardware_addr: CLIENT_MAC,
        source_protocol_addr: CLIENT_IP,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: SERVER_IP,
    };
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EtherType::Arp,
    };
    let mut buf = vec![0u8; wire::ARP_FRAME_LEN];
    wire::emit_arp_frame(&mut buf, &eth, &arp).unwrap();
    buf
}

/// No ARP on `Medium::Ip`: an ARP request for our address (the whole
/// frame, or the ARP packet alone) is not an IPv4 packet, and is dropped
/// unanswered; the same frame on Ethernet is answered.
#[test]
fn arp_is_neither_answered_nor_learnt() {
    let mut h = Harness::new(ip_config());
    let f = arp_request_frame();
    let now = Instant::from_millis(0);
    h.ep.handle_frame(now, &f, ChecksumPolicy::Verify, &mut h.rec);
    h.ep.handle_frame(now, &f[14..], ChecksumPolicy::Verify, &mut h.rec);
    h.rec.flush();
    assert!(h.rec.out.is_empty(), "an answer to ARP on Medium::Ip");
    assert_eq!(h.ep.stats().dropped(DropReason::BadIpv4), 2);
    assert_eq!(h.ep.neighbor(CLIENT_IP), None);

    let mut h = Harness::new(default_config());
    h.ep.handle_frame(now, &f, ChecksumPolicy::Verify, &mut h.rec);
    h.rec.flush();
    assert_eq!(h.rec.out.len(), 1, "the ARP reply on Ethernet");
}

/// Each medium takes its own framing only: a whole Ethernet frame is no
/// IPv4 packet, and a bare packet is no Ethernet frame.
#[test]
fn each_medium_refuses_the_other_framing() {
    // A script's frame, handed to the endpoint as it is (not through
    // `Harness::send`, which takes the header off on Medium::Ip).
    let mut h = Harness::new(ip_config());
    let frame = {
        let e = Harness::new(default_config());
        e.frame_for(&Seg {
            flags: "S".into(),
            seq: 1000,
            win: Some(100),
            ..Seg::default()
        })
    };
    let now = Instant::from_millis(0);
    h.ep.handle_frame(now, &frame, ChecksumPolicy::Verify, &mut h.rec);
    h.rec.flush();
    assert!(h.rec.out.is_empty());
    assert_eq!(h.ep.len(), 0);
    assert_eq!(h.ep.stats().dropped(DropReason::BadIpv4), 1);
    // The packet alone is taken.
    h.ep.handle_frame(now, &frame[14..], ChecksumPolicy::Verify, &mut h.rec);
    h.rec.flush();
    assert_eq!(h.ep.len(), 1, "the SYN opened a connection");
    assert_eq!(h.rec.out.len(), 1, "its SYN-ACK");

    let mut h = Harness::new(default_config());
    h.ep.handle_frame(now, &frame[14..], ChecksumPolicy::Verify, &mut h.rec);
    h.rec.flush();
    assert!(h.rec.out.is_empty());
    assert_eq!(h.ep.len(), 0);
}

/// GSO on `Medium::Ip`: one large packet, its TCP checksum field holding
/// the pseudo-header sum (CHECKSUM_PARTIAL) at the packet's offset, not a
/// frame's.
#[test]
fn gso_packet_has_partial_checksum_in_place() {
    for gather in [false, true] {
        let mut cfg = ip_config();
        cfg.conn.nagle = false;
        cfg.conn.gso_max = 64 * 1024;
        let mut h = Harness::new(cfg);
        h.rec.gso = true;
        h.rec.gather = gather;
        h.run(
            "0.000 < S 1000:1000(0) win 65535 <mss 1460,sackOK,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 <mss 1460,sackOK,nop,wscale 1>
         0.010 < . 1001:1001(0) ack 1 win 502",
        );
        let id = h.ep.connections().next().unwrap().0;
        let data = vec![7u8; 14600];
        let now = Instant::from_millis(20);
        h.rec.now = now;
        assert_eq!(h.ep.send(id, &data, now, &mut h.rec), data.len());
        h.rec.flush();
        let (_, f) = h.rec.out.pop_front().expect("a GSO packet");
        // The harness put the link's header on it: the packet is at 14.
        let packet = &f[14..];
        let (ip, tcp) = wire::parse_ip_packet(packet, ChecksumPolicy::Skip).unwrap();
        assert_eq!(tcp.payload.len(), 14600);
        let tcp_len = (packet.len() - 20) as u32;
        let ph = wire::checksum::pseudo_header(ip.src_addr, ip.dst_addr, 6, tcp_len);
        assert_eq!(&packet[20 + 16..20 + 18], &ph.to_be_bytes());
    }
}

/// The `Stack` over `Medium::Ip`: a client and a server exchange bytes
/// both ways through a wire of bare IPv4 packets, with no ARP.
#[test]
fn stack_pair_over_ip() {
    fn cfg(last: u8, port: u16) -> EndpointConfig {
        EndpointConfig {
            medium: Medium::Ip,
            mac: EthernetAddress([2, 0, 0, 0, 0, last]),
            addr: [10, 0, 0, last].into(),
            addr6: None,
            port,
            answer_arp: false,
            reset_other_ports: true,
            max_half_open: 8,
            gateway: None,
            prefix_len: 0,
            conn: Default::default(),
        }
    }
    let (mut m1, mut m2) = (
        OwnedStackStorage::new(4, 4096, 4096, 16384).unwrap(),
        OwnedStackStorage::new(4, 4096, 4096, 16384).unwrap(),
    );
    let mut client = Stack::new(cfg(1, 9), m1.storage(), [1; 16]).unwrap();
    let mut server = Stack::new(cfg(2, 7), m2.storage(), [2; 16]).unwrap();
    let now = Instant::from_millis(0);
    let id = client
        .connect(0, SocketAddrV4::new([10, 0, 0, 2].into(), 7), now)
        .unwrap();
    let (mut got_server, mut got_client) = (Vec::new(), Vec::new());
    let mut packets = 0;
    for _ in 0..20 {
        let mut to_server = Vec::new();
        while let Some(t) = client.poll_transmit() {
            to_server.push(t.frame.to_vec());
        }
        let mut to_client = Vec::new();
        while let Some(t) = server.poll_transmit() {
            to_client.push(t.frame.to_vec());
        }
        for p in to_server.iter().chain(&to_client) {
            assert!(
                wire::parse_ip_packet(p, ChecksumPolicy::Verify).is_ok(),
                "not a bare IPv4/TCP packet: {p:02x?}"
            );
            packets += 1;
        }
        to_server.iter().for_each(|f| server.handle_frame(now, f));
        to_client.iter().for_each(|f| client.handle_frame(now, f));
        while let Some(ev) = client.poll_event() {
            match ev {
                StackEvent::Established(c) if c == id => {
                    assert_eq!(client.send(id, b"hello", now), Ok(5));
                }
                StackEvent::Readable(c) => {
                    let mut buf = [0u8; 64];
                    while let Ok(n) = client.recv(c, &mut buf, now) {
                        got_client.extend_from_slice(&buf[..n]);
                    }
                }
                _ => {}
            }
        }
        while let Some(ev) = server.poll_event() {
            if let StackEvent::Readable(s) = ev {
                let mut buf = [0u8; 64];
                while let Ok(n) = server.recv(s, &mut buf, now) {
                    got_server.extend_from_slice(&buf[..n]);
                }
                assert_eq!(server.send(s, b"world", now), Ok(5));
            }
        }
    }
    assert_eq!(got_server, b"hello");
    assert_eq!(got_client, b"world");
    assert!(packets >= 5);
    assert_eq!(client.endpoint().stats().arp_requests, 0);
    assert_eq!(server.endpoint().stats().arp_requests, 0);
}
