//! Issue #17, ICMP at the endpoint (`endpoint/icmp.rs`): echo requests for
//! an address of ours alone answered (RFC 792), at most 1000 a second in
//! bursts of 50 (Linux `icmp_msgs_per_sec`, `icmp_msgs_burst`); a
//! "fragmentation needed" (RFC 1191) quoting a segment in flight lowers
//! the connection's MSS and resends, one quoting anything else changes
//! nothing (RFC 5927 §4.1).

mod common;

use common::{default_config, no_nagle, Harness, CLIENT_IP, CLIENT_MAC, SERVER_IP, SERVER_MAC};
use tcpcore::wire::{
    ChecksumPolicy, EtherType, EthernetFrame, EthernetRepr, Icmpv4Packet, Icmpv4Repr, IpProtocol,
    Ipv4Packet, Ipv4Repr,
};
use tcpcore::{DropReason, Instant};

/// An ICMP message from the client (or a router, `src`) to us, in a frame.
fn icmp_frame(src: std::net::Ipv4Addr, icmp: &Icmpv4Repr<'_>) -> Vec<u8> {
    let mut body = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut body[..]))
        .unwrap();
    datagram_from(src, IpProtocol::Icmp, &body, false)
}

/// The ICMP message in a frame we sent, its checksums verified, with its
/// IPv4 header.
fn icmp_of(frame: &[u8]) -> (EthernetRepr, Ipv4Repr, Vec<u8>) {
    let eth = EthernetRepr::parse(&EthernetFrame::new_checked(frame).unwrap()).unwrap();
    let p = Ipv4Packet::new_checked(&frame[14..]).unwrap();
    let ip = Ipv4Repr::parse(&p, ChecksumPolicy::Verify).unwrap();
    assert_eq!(ip.protocol, IpProtocol::Icmp);
    (eth, ip, p.payload().to_vec())
}

fn echo_request(seq_no: u16, data: &[u8]) -> Vec<u8> {
    icmp_frame(
        CLIENT_IP,
        &Icmpv4Repr::EchoRequest {
            ident: 0x1234,
            seq_no,
            data,
        },
    )
}

/// RFC 792: an echo request for our address, in own-address mode, is
/// answered to its sender with the same identifier, sequence number and
/// data.
#[test]
fn echo_request_is_answered() {
    let mut h = Harness::new(default_config());
    let data: Vec<u8> = (0..56u8).collect();
    h.send(&echo_request(3, &data));
    let (_, frame) = h.rec.out.pop_front().expect("an echo reply");
    let (eth, ip, icmp) = icmp_of(&frame);
    assert_eq!((eth.src_addr, eth.dst_addr), (SERVER_MAC, CLIENT_MAC));
    assert_eq!((ip.src_addr, ip.dst_addr), (SERVER_IP, CLIENT_IP));
    let reply = Icmpv4Repr::parse(
        &Icmpv4Packet::new_checked(&icmp[..]).unwrap(),
        ChecksumPolicy::Verify,
    )
    .unwrap();
    assert_eq!(
        reply,
        Icmpv4Repr::EchoReply {
            ident: 0x1234,
            seq_no: 3,
            data: &data
        }
    );
    assert!(h.rec.out.is_empty());
    assert_eq!(h.ep.stats().icmp_sent, 1);
}

/// Sharing the kernel's address (no ARP answered), the kernel answers
/// pings: we do not. Nor to an echo request with a bad checksum, nor to an
/// echo reply.
#[test]
fn echo_not_ours_to_answer() {
    let mut cfg = default_config();
    cfg.answer_arp = false;
    let mut h = Harness::new(cfg);
    h.send(&echo_request(1, b"x"));
    assert!(h.rec.out.is_empty());
    let mut h = Harness::new(default_config());
    let mut bad = echo_request(1, b"abc");
    let last = bad.len() - 1;
    bad[last] ^= 0xff;
    h.send(&bad);
    h.send(&icmp_frame(
        CLIENT_IP,
        &Icmpv4Repr::EchoReply {
            ident: 1,
            seq_no: 1,
            data: b"",
        },
    ));
    assert!(h.rec.out.is_empty());
    assert_eq!(h.ep.stats().drops[DropReason::IcmpIgnored as usize], 2);
}

/// At most 50 replies at once, then one a millisecond (Linux's global ICMP
/// limit, 1000 a second in bursts of 50).
#[test]
fn echo_replies_are_rate_limited() {
    let mut h = Harness::new(default_config());
    h.rec.now = Instant::from_millis(100);
    for i in 0..80 {
        h.send(&echo_request(i, b"p"));
    }
    assert_eq!(h.rec.out.len(), 50);
    h.rec.out.clear();
    h.rec.now = Instant::from_millis(110);
    for i in 0..80 {
        h.send(&echo_request(i, b"p"));
    }
    assert_eq!(h.rec.out.len(), 10, "ten tokens in ten ms");
}

/// The quote of a segment of ours, as a router would send it back: our
/// IPv4 header and the first 8 bytes of the TCP header.
fn quote(src_port: u16, dst_port: u16, seq: u32) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: SERVER_IP,
        dst_addr: CLIENT_IP,
        protocol: IpProtocol::Tcp,
        payload_len: 1480,
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    // The header as sent (emit wants room for the payload), then the
    // first 8 bytes of the TCP header.
    let mut sent = vec![0u8; ip.buffer_len()];
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut sent[..]))
        .unwrap();
    let mut q = sent[..28].to_vec();
    q[20..22].copy_from_slice(&src_port.to_be_bytes());
    q[22..24].copy_from_slice(&dst_port.to_be_bytes());
    q[24..28].copy_from_slice(&seq.to_be_bytes());
    q
}

fn frag_needed(mtu: u16, quote: &[u8]) -> Vec<u8> {
    icmp_frame(
        std::net::Ipv4Addr::new(198, 18, 0, 254),
        &Icmpv4Repr::DstUnreachable {
            code: Icmpv4Repr::CODE_FRAG_NEEDED,
            next_hop_mtu: mtu,
            quote,
        },
    )
}

/// RFC 1191 with RFC 5927 §4.1: a router with a 576-byte link quotes our
/// first segment in flight: the MSS goes to 536 and the three segments in
/// flight go again at once in 536-byte pieces. A message quoting a
/// sequence number not in flight, or another connection's ports, changes
/// nothing.
#[test]
fn fragmentation_needed_lowers_the_mss() {
    let mut h = Harness::new(no_nagle());
    h.run(
        "0.100 < S 1000:1000(0) win 64240 <mss 1460,sackOK,nop,wscale 7>
         0.100 > S. 0:0(0) ack 1001
         0.110 < . 1001:1001(0) ack 1 win 502
         0.200 ! app-send 3000
         0.200 > . 1:1461(1460) ack 1001
         0.200 > . 1461:2921(1460) ack 1001
         0.200 > P. 2921:3001(80) ack 1001",
    );
    let iss = h.iss.expect("the ISS");
    let (ours, peer) = (common::SERVER_PORT, h.port);
    // Not in flight (SND.NXT), then another port: ignored.
    h.send(&frag_needed(
        576,
        &quote(ours, peer, iss.wrapping_add(3001)),
    ));
    h.send(&frag_needed(576, &quote(ours, 9, iss.wrapping_add(1))));
    assert!(h.rec.out.is_empty());
    assert_eq!(h.ep.stats().pmtu_lowered, 0);
    h.send(&frag_needed(
        576,
        &quote(ours, peer, iss.wrapping_add(1461)),
    ));
    assert_eq!(h.ep.stats().pmtu_lowered, 1);
    h.run(
        "0.200 > . 1:537(536) ack 1001
         0.200 > . 537:1073(536) ack 1001
         0.200 > . 1073:1609(536) ack 1001
         0.200 > . 1609:2145(536) ack 1001
         0.200 > . 2145:2681(536) ack 1001
         0.200 > P. 2681:3001(320) ack 1001
         0.215 < . 1001:1001(0) ack 3001 win 502",
    );
}

/// An IPv4 datagram from the client to us of protocol `protocol`, with
/// `payload`; a first fragment if `more_frags`.
fn datagram(protocol: IpProtocol, payload: &[u8], more_frags: bool) -> Vec<u8> {
    datagram_from(CLIENT_IP, protocol, payload, more_frags)
}

/// [`datagram`] from `src`.
fn datagram_from(
    src: std::net::Ipv4Addr,
    protocol: IpProtocol,
    payload: &[u8],
    more_frags: bool,
) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: SERVER_IP,
        protocol,
        payload_len: payload.len(),
        ttl: 64,
        dscp: 0,
        ecn: 0,
        ident: 7,
        dont_frag: false,
        more_frags,
        frag_offset: 0,
    };
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    };
    let mut f = vec![0u8; 14 + ip.buffer_len()];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut f[..14]))
        .unwrap();
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut f[14..]))
        .unwrap();
    f[34..].copy_from_slice(payload);
    f
}

/// RFC 1122 §3.2.2.1, in own-address mode: UDP (no port open: we serve
/// TCP) is answered with port unreachable, an unknown protocol with
/// protocol unreachable, each quoting the datagram (up to 548 bytes, a
/// 576-byte message in all, as Linux `icmp_send`); a fragment is not
/// answered, nor anything in shared-address mode (the kernel's address).
#[test]
fn unknown_protocols_are_unreachable() {
    let mut h = Harness::new(default_config());
    for (proto, code) in [(IpProtocol::Udp, 3u8), (IpProtocol::Unknown(253), 2)] {
        let d = datagram(proto, &[1, 2, 3, 4, 5, 6, 7, 8, 9], false);
        h.send(&d);
        h.rec.flush();
        let (_, f) = h.rec.out.pop_front().expect("an ICMP error");
        let (eth, ip, body) = icmp_of(&f);
        assert_eq!(
            (eth.dst_addr, ip.src_addr, ip.dst_addr),
            (CLIENT_MAC, SERVER_IP, CLIENT_IP)
        );
        let icmp = Icmpv4Repr::parse(
            &Icmpv4Packet::new_checked(&body[..]).unwrap(),
            ChecksumPolicy::Verify,
        )
        .unwrap();
        assert_eq!(
            icmp,
            Icmpv4Repr::DstUnreachable {
                code,
                next_hop_mtu: 0,
                quote: &d[14..],
            }
        );
    }
    let big = datagram(IpProtocol::Udp, &[0u8; 1000], false);
    h.send(&big);
    h.rec.flush();
    let (_, f) = h.rec.out.pop_front().expect("an ICMP error");
    assert_eq!(f.len(), 14 + 576);
    h.send(&datagram(IpProtocol::Udp, &[0u8; 16], true));
    h.rec.flush();
    assert!(h.rec.out.is_empty(), "a fragment answered");
    assert_eq!(h.ep.stats().icmp_sent, 3);
    let mut cfg = default_config();
    cfg.answer_arp = false;
    cfg.reset_other_ports = false;
    let mut shared = Harness::new(cfg);
    shared.send(&datagram(IpProtocol::Udp, &[1, 2, 3, 4, 5, 6, 7, 8], false));
    shared.rec.flush();
    assert!(shared.rec.out.is_empty(), "the kernel's address answered");
}
