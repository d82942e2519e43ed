//! IPv6 in the endpoint (issue #17). The scripts of the other trace files
//! that call `run_both` run over IPv6 too (`common::run_v6`); these are the
//! traces only IPv6 has: our MSS, resets for a closed port, neighbor
//! discovery (RFC 4861), ICMPv6 echo and "packet too big" (RFC 8201),
//! fragments and malformed extension headers, an active open that resolves
//! its peer with a neighbor solicitation, and two stacks talking over
//! IPv6.

mod common;

use std::net::{Ipv6Addr, SocketAddr, SocketAddrV6};

use common::*;
use tcpcore::endpoint::Addr6State;
use tcpcore::stack::{OwnedStackStorage, Stack, StackEvent};
use tcpcore::wire::{
    self, ChecksumPolicy, EtherType, EthernetAddress, EthernetFrame, EthernetRepr, Icmpv6Packet,
    Icmpv6Repr, IpProtocol, Ipv6Packet, Ipv6Repr, NdpNeighborAdvert, NdpNeighborSolicit,
};
use tcpcore::{DropReason, EndpointConfig, Instant, Medium};

fn v6_config() -> EndpointConfig {
    EndpointConfig {
        addr6: Some(SERVER_IP6),
        ..default_config()
    }
}

const SOLICITED: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 1);
const SOLICITED_MAC: EthernetAddress = EthernetAddress([0x33, 0x33, 0xff, 0, 0, 1]);

/// An Ethernet/IPv6/ICMPv6 frame from the client.
fn icmp6_frame(
    dst_mac: EthernetAddress,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    icmp: &Icmpv6Repr<'_>,
) -> Vec<u8> {
    let ip = Ipv6Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: IpProtocol::from(58),
        payload_len: icmp.buffer_len(),
        hop_limit,
        dscp: 0,
        ecn: 0,
        flow_label: 0,
    };
    let mut f = vec![0u8; 14 + ip.buffer_len()];
    EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: dst_mac,
        ethertype: EtherType::Unknown(0x86dd),
    }
    .emit(&mut EthernetFrame::new_unchecked(&mut f[..]))
    .unwrap();
    ip.emit(&mut Ipv6Packet::new_unchecked(&mut f[14..]))
        .unwrap();
    icmp.emit(&mut Icmpv6Packet::new_unchecked(&mut f[54..]), src, dst)
        .unwrap();
    f
}

/// Parses an Ethernet/IPv6/ICMPv6 frame we sent.
fn parse_icmp6(f: &[u8]) -> (EthernetRepr, Ipv6Repr, Icmpv6Repr<'_>) {
    let eth = EthernetRepr::parse(&EthernetFrame::new_checked(f).unwrap()).unwrap();
    assert_eq!(eth.ethertype, EtherType::Unknown(0x86dd));
    let p = Ipv6Packet::new_checked(&f[14..]).unwrap();
    let ip = Ipv6Repr::parse(&p).unwrap();
    assert_eq!(ip.next_header, IpProtocol::from(58));
    let body = &f[54..54 + ip.payload_len];
    let icmp = Icmpv6Repr::parse(
        &Icmpv6Packet::new_checked(body).unwrap(),
        ip.src_addr,
        ip.dst_addr,
        ChecksumPolicy::Verify,
    )
    .unwrap();
    (eth, ip, icmp)
}

fn ns(slla: Option<EthernetAddress>) -> Icmpv6Repr<'static> {
    Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
        target_addr: SERVER_IP6,
        source_lladdr: slla,
    })
}

/// Our IPv6 MSS is the MTU less 60: the configured (IPv4) MSS less 20.
#[test]
fn ipv6_syn_ack_advertises_mss_less_20() {
    let mut h = Harness::new(v6_config());
    h.run(
        "0.000 < S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 win 65535 <mss 1440,sackOK,TS val * ecr 100,nop,wscale 1>
         0.010 < . 1001:1001(0) ack 1 win 512 <TS val 101 ecr *>
         0.010 ! state ESTABLISHED
         0.020 < P. 1001:1101(100) ack 1 win 512 <TS val 102 ecr *>
         0.020 > . 1:1(0) ack 1101
         0.020 ! delivered 100",
    );
    // The IPv4 endpoint with the same settings still says 1460.
    let mut h = Harness::new(default_config());
    h.run(
        "0.000 < S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 win 65535 <mss 1460,sackOK,TS val * ecr 100,nop,wscale 1>",
    );
}

/// RFC 9293 §3.10.7.1 over IPv6, on both media.
#[test]
fn closed_port_reset_over_ipv6() {
    for medium in [Medium::Ethernet, Medium::Ip] {
        let mut h = Harness::new(EndpointConfig {
            medium,
            ..v6_config()
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

/// Without an IPv6 address, IPv6 is dropped as `bad-ipv6` and the IPv4
/// endpoint goes on.
#[test]
fn ipv6_without_address_is_dropped() {
    let mut h = Harness::new(v6_config());
    let syn = "0.000 < S 1000:1000(0) win 100";
    // Built as IPv6 by the harness of a v6 endpoint...
    h.run(&format!("{syn}\n0.000 > S. 0:0(0) ack 1001 <mss 1440>"));
    // ... and the same frame to an endpoint with no IPv6 address.
    let f = v4_to_v6(&h.frame_for(&Default::default()));
    let mut h4 = Harness::new(default_config());
    h4.ep.handle_frame(
        Instant::from_millis(0),
        &f,
        ChecksumPolicy::Verify,
        &mut h4.rec,
    );
    h4.rec.flush();
    assert!(h4.rec.out.is_empty());
    assert_eq!(h4.ep.stats().dropped(DropReason::BadIpv6), 1);
}

/// A neighbor solicitation for our address, to its solicited-node
/// multicast address, is answered with a solicited advertisement (S and
/// O, our MAC as the target link-layer address) to the solicitation's
/// source; the source's MAC is learnt. To our unicast address too.
#[test]
fn neighbor_solicitation_answered() {
    for (mac, dst) in [(SOLICITED_MAC, SOLICITED), (SERVER_MAC, SERVER_IP6)] {
        let mut h = Harness::new(v6_config());
        h.send(&icmp6_frame(
            mac,
            CLIENT_IP6,
            dst,
            255,
            &ns(Some(CLIENT_MAC)),
        ));
        let (_, f) = h.rec.out.pop_front().expect("a neighbor advertisement");
        assert!(h.rec.out.is_empty());
        let (eth, ip, icmp) = parse_icmp6(&f);
        assert_eq!(eth.src_addr, SERVER_MAC);
        assert_eq!(eth.dst_addr, CLIENT_MAC);
        assert_eq!(ip.src_addr, SERVER_IP6);
        assert_eq!(ip.dst_addr, CLIENT_IP6);
        assert_eq!(ip.hop_limit, 255);
        assert_eq!(
            icmp,
            Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
                router_flag: false,
                solicited_flag: true,
                override_flag: true,
                target_addr: SERVER_IP6,
                target_lladdr: Some(SERVER_MAC),
            })
        );
        assert_eq!(icmp.check_ndp(&ip), Ok(()));
        assert_eq!(h.ep.neighbor(CLIENT_IP6), Some(CLIENT_MAC));
        assert_eq!(h.ep.stats().nd_adverts, 1);
    }
}

/// RFC 4861 §7.1.1: a solicitation with a hop limit other than 255 (it
/// crossed a router), for another target, with a bad checksum, or from ::
/// with a source link-layer option, is ignored. Without own-address mode,
/// or on `Medium::Ip`, none is answered.
#[test]
fn malformed_neighbor_solicitation_ignored() {
    let mut h = Harness::new(v6_config());
    let other = Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
        target_addr: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 9),
        source_lladdr: Some(CLIENT_MAC),
    });
    let mut bad_sum = icmp6_frame(SOLICITED_MAC, CLIENT_IP6, SOLICITED, 255, &ns(None));
    let n = bad_sum.len();
    bad_sum[n - 1] ^= 1;
    let frames = [
        icmp6_frame(
            SOLICITED_MAC,
            CLIENT_IP6,
            SOLICITED,
            254,
            &ns(Some(CLIENT_MAC)),
        ),
        icmp6_frame(SOLICITED_MAC, CLIENT_IP6, SOLICITED, 255, &other),
        bad_sum,
        icmp6_frame(
            SOLICITED_MAC,
            Ipv6Addr::UNSPECIFIED,
            SOLICITED,
            255,
            &ns(Some(CLIENT_MAC)),
        ),
    ];
    for f in &frames {
        h.send(f);
    }
    assert!(h.rec.out.is_empty(), "nothing answered");
    assert_eq!(h.ep.stats().dropped(DropReason::IcmpIgnored), 4);
    assert_eq!(h.ep.neighbor(CLIENT_IP6), None);
    let good = icmp6_frame(SOLICITED_MAC, CLIENT_IP6, SOLICITED, 255, &ns(None));
    let mut shared = Harness::new(EndpointConfig {
        answer_arp: false,
        ..v6_config()
    });
    shared.send(&good);
    assert!(shared.rec.out.is_empty(), "not own-address mode");
    // A duplicate address detection probe for our address: answered to
    // all-nodes, S clear.
    let dad = icmp6_frame(
        SOLICITED_MAC,
        Ipv6Addr::UNSPECIFIED,
        SOLICITED,
        255,
        &ns(None),
    );
    h.send(&dad);
    let (_, f) = h.rec.out.pop_front().expect("an advertisement");
    let (eth, ip, icmp) = parse_icmp6(&f);
    assert_eq!(eth.dst_addr, EthernetAddress([0x33, 0x33, 0, 0, 0, 1]));
    assert_eq!(ip.dst_addr, Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1));
    assert!(matches!(icmp, Icmpv6Repr::NeighborAdvert(na) if !na.solicited_flag));
}

/// An ICMPv6 echo request for our address is answered with its data, on
/// both media; within the ICMP rate limit.
#[test]
fn icmpv6_echo_answered() {
    let req = Icmpv6Repr::EchoRequest {
        ident: 7,
        seq_no: 3,
        data: b"ping over six",
    };
    for medium in [Medium::Ethernet, Medium::Ip] {
        let mut h = Harness::new(EndpointConfig {
            medium,
            ..v6_config()
        });
        let f = icmp6_frame(SERVER_MAC, CLIENT_IP6, SERVER_IP6, 64, &req);
        h.send(&f);
        let (_, out) = h.rec.out.pop_front().expect("an echo reply");
        let (_, ip, icmp) = parse_icmp6(&out);
        assert_eq!(ip.src_addr, SERVER_IP6);
        assert_eq!(ip.dst_addr, CLIENT_IP6);
        assert_eq!(
            icmp,
            Icmpv6Repr::EchoReply {
                ident: 7,
                seq_no: 3,
                data: b"ping over six",
            }
        );
        assert_eq!(h.ep.stats().icmp_sent, 1, "{medium:?}");
        // The burst, then the limit.
        for _ in 0..tcpcore::endpoint::ICMP_BURST + 5 {
            h.send(&f);
        }
        assert_eq!(
            h.ep.stats().icmp_sent,
            u64::from(tcpcore::endpoint::ICMP_BURST),
            "{medium:?}"
        );
    }
}

/// RFC 8201: a "packet too big" quoting one of our segments in flight
/// lowers the connection's MSS to the MTU less 60 (and the timestamps),
/// and what is in flight goes again cut to it. One quoting a sequence
/// number out of flight is ignored (RFC 5927 §4.1).
#[test]
fn packet_too_big_lowers_mss() {
    let mut h = Harness::new(EndpointConfig {
        conn: tcpcore::Config {
            nagle: false,
            ..default_config().conn
        },
        ..v6_config()
    });
    h.run(
        "0.000 < S 1000:1000(0) win 65535 <mss 1460,sackOK,TS val 100 ecr 0,nop,wscale 7>
         0.000 > S. 0:0(0) ack 1001 <mss 1440,sackOK,TS val * ecr 100,nop,wscale 1>
         0.010 < . 1001:1001(0) ack 1 win 512 <TS val 101 ecr *>
         0.020 ! app-send 1428
         0.020 > P. 1:1429(1428) ack 1001",
    );
    let iss = h.iss.unwrap();
    let ptb = |seq: u32, mtu: u32| {
        // The quote: our IPv6 header and the start of our TCP header.
        let mut quote = vec![0u8; 40 + 20];
        let ip = Ipv6Repr {
            src_addr: SERVER_IP6,
            dst_addr: CLIENT_IP6,
            next_header: IpProtocol::Tcp,
            payload_len: 20 + 12 + 1428,
            hop_limit: 64,
            dscp: 0,
            ecn: 0,
            flow_label: 0,
        };
        ip.emit(&mut Ipv6Packet::new_unchecked(&mut quote[..]))
            .unwrap();
        quote[40..42].copy_from_slice(&SERVER_PORT.to_be_bytes());
        quote[42..44].copy_from_slice(&CLIENT_PORT.to_be_bytes());
        quote[44..48].copy_from_slice(&seq.to_be_bytes());
        let msg = Icmpv6Repr::PacketTooBig { mtu, quote: &quote };
        icmp6_frame(
            SERVER_MAC,
            Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0xfe),
            SERVER_IP6,
            64,
            &msg,
        )
    };
    // Out of flight: ignored.
    h.send(&ptb(iss.wrapping_add(5000), 1280));
    assert!(h.rec.out.is_empty());
    assert_eq!(h.ep.stats().pmtu_lowered, 0);
    assert_eq!(h.ep.stats().dropped(DropReason::IcmpIgnored), 1);
    // In flight: the MSS becomes 1280 - 60 = 1220, 1208 bytes of data
    // with timestamps, and the segment goes again in two.
    h.send(&ptb(iss.wrapping_add(1), 1280));
    assert_eq!(h.ep.stats().pmtu_lowered, 1);
    h.run(
        "0.020 > . 1:1209(1208) ack 1001
         0.020 > P. 1209:1429(220) ack 1001",
    );
}

/// An active open over IPv6 on Ethernet with the peer's MAC unknown sends
/// a neighbor solicitation to its solicited-node address; the advertisement
/// brings the SYN.
#[test]
fn active_open_resolves_with_neighbor_solicitation() {
    let mut h = Harness::new(EndpointConfig {
        reset_other_ports: false,
        ..v6_config()
    });
    h.local_port = 50000;
    let remote = SocketAddrV6::new(CLIENT_IP6, CLIENT_PORT, 0, 0);
    h.ep.connect(50000, remote, Instant::from_millis(0), &mut h.rec)
        .unwrap();
    h.rec.flush();
    let (_, f) = h.rec.out.pop_front().expect("a neighbor solicitation");
    let (eth, ip, icmp) = parse_icmp6(&f);
    assert_eq!(eth.dst_addr, SOLICITED_MAC_CLIENT);
    assert_eq!(ip.dst_addr, Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00, 2));
    assert_eq!(ip.hop_limit, 255);
    assert_eq!(
        icmp,
        Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
            target_addr: CLIENT_IP6,
            source_lladdr: Some(SERVER_MAC),
        })
    );
    assert_eq!(icmp.check_ndp(&ip), Ok(()));
    assert_eq!(h.ep.stats().nd_solicits, 1);
    let na = Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
        router_flag: false,
        solicited_flag: true,
        override_flag: true,
        target_addr: CLIENT_IP6,
        target_lladdr: Some(CLIENT_MAC),
    });
    h.send(&icmp6_frame(SERVER_MAC, CLIENT_IP6, SERVER_IP6, 255, &na));
    assert_eq!(h.ep.neighbor(CLIENT_IP6), Some(CLIENT_MAC));
    h.run(
        "0.000 > S 0:0(0) win 65535 <mss 1440,sackOK,TS val * ecr 0,nop,wscale 1>
         0.050 < S. 5000:5000(0) ack 1 win 65535 <mss 1460,sackOK,TS val 100 ecr *,nop,wscale 7>
         0.050 > . 1:1(0) ack 5001
         0.050 ! state ESTABLISHED",
    );
}

const SOLICITED_MAC_CLIENT: EthernetAddress = EthernetAddress([0x33, 0x33, 0xff, 0, 0, 2]);

/// Ethernet/IPv6 frame `f` with its Next Header `nh` and `ext` (extension
/// headers) put before its upper-layer bytes, the payload length grown.
fn with_next_header(f: &[u8], nh: u8, ext: &[u8]) -> Vec<u8> {
    let mut g = f[..54].to_vec();
    g[14 + 6] = nh;
    let len = u16::from_be_bytes([g[18], g[19]]) + ext.len() as u16;
    g[18..20].copy_from_slice(&len.to_be_bytes());
    g.extend_from_slice(ext);
    g.extend_from_slice(&f[54..]);
    g
}

/// An IPv6 fragment is dropped as IPv4 fragments are; a Routing header
/// with segments left is a malformed packet for us (`bad-ipv6`).
#[test]
fn fragments_and_bad_extension_headers_dropped() {
    let mut h = Harness::new(v6_config());
    let syn = h.frame_for(&Seg {
        flags: "S".into(),
        seq: 1000,
        ..Default::default()
    });
    let f = v4_to_v6(&syn);
    // An 8-byte extension header before TCP.
    let with_ext = |nh: u8, ext: [u8; 8]| with_next_header(&f, nh, &ext);
    h.send(&with_ext(44, [6, 0, 0, 1, 0, 0, 0, 1])); // fragment, M set
    assert!(h.rec.out.is_empty());
    // RFC 8200 §4.4: a Routing header with segments left (of a type we do
    // not route) is answered with a Parameter Problem, code 0, pointing at
    // its Routing Type (40 + 2).
    let routed = with_ext(43, [6, 0, 0, 1, 0, 0, 0, 0]); // routing, 1 left
    h.send(&routed);
    assert_eq!(h.ep.stats().dropped(DropReason::Fragment), 1);
    assert_eq!(h.ep.stats().dropped(DropReason::BadIpv6), 1);
    let (_, f) = h.rec.out.pop_front().expect("a parameter problem");
    let (_, ip, icmp) = parse_icmp6(&f);
    assert_eq!((ip.src_addr, ip.dst_addr), (SERVER_IP6, CLIENT_IP6));
    assert_eq!(
        icmp,
        Icmpv6Repr::ParamProblem {
            code: 0,
            pointer: 42,
            quote: &routed[14..],
        }
    );
    // A Destination Options header of padding is walked over.
    h.send(&with_ext(60, [6, 0, 1, 4, 0, 0, 0, 0]));
    assert_eq!(h.rec.out.len(), 1, "SYN-ACK");
}

/// RFC 8200 §4 and §4.2, RFC 4443 §3.1 and §2.4, in own-address mode: UDP
/// (we serve no UDP port) is answered with port unreachable; an
/// unrecognized Next Header, right after the IPv6 header or after a
/// Destination Options header, with a Parameter Problem code 1 pointing
/// at the field that names it; an unrecognized option of type `10xxxxxx`
/// with code 2 pointing at the option, one of type `01xxxxxx` with
/// nothing; No Next Header with nothing. Each quotes the packet. Without
/// own-address mode (the kernel's address) nothing is answered, and the
/// answers keep within the ICMP rate limit.
#[test]
fn unknown_upper_layers_and_options_answered() {
    let mut h = Harness::new(v6_config());
    let syn = h.frame_for(&Seg {
        flags: "S".into(),
        seq: 1000,
        ..Default::default()
    });
    let f = v4_to_v6(&syn);
    let packet = |nh: u8, ext: &[u8]| with_next_header(&f, nh, ext);
    let expect = |h: &mut Harness, sent: &[u8], want: Option<(u8, u8, u32)>| {
        h.send(sent);
        match want {
            None => assert!(h.rec.out.is_empty(), "answered: {:02x?}", h.rec.out),
            Some((ty, code, pointer)) => {
                let (_, f) = h.rec.out.pop_front().expect("an ICMPv6 error");
                assert!(h.rec.out.is_empty());
                let (eth, ip, icmp) = parse_icmp6(&f);
                assert_eq!(eth.dst_addr, CLIENT_MAC);
                assert_eq!((ip.src_addr, ip.dst_addr), (SERVER_IP6, CLIENT_IP6));
                let quote = &sent[14..];
                let want = match ty {
                    1 => Icmpv6Repr::DstUnreachable { code, quote },
                    _ => Icmpv6Repr::ParamProblem {
                        code,
                        pointer,
                        quote,
                    },
                };
                assert_eq!(icmp, want);
            }
        }
    };
    expect(&mut h, &packet(17, &[]), Some((1, 4, 0)));
    expect(&mut h, &packet(253, &[]), Some((4, 1, 6)));
    expect(
        &mut h,
        &packet(60, &[253, 0, 1, 4, 0, 0, 0, 0]),
        Some((4, 1, 40)),
    );
    // Option 0x87 (10xxxxxx) at 42: code 2 pointing at it.
    expect(
        &mut h,
        &packet(60, &[6, 0, 0x87, 4, 0, 0, 0, 0]),
        Some((4, 2, 42)),
    );
    expect(&mut h, &packet(60, &[6, 0, 0x47, 4, 0, 0, 0, 0]), None);
    expect(&mut h, &packet(59, &[]), None);
    assert_eq!(h.ep.stats().icmp_sent, 4);
    // A big packet is quoted up to 1,232 bytes (1,280 in all).
    let mut big = packet(253, &[]);
    big.extend_from_slice(&[0u8; 1400]);
    let len = (big.len() - 54) as u16;
    big[18..20].copy_from_slice(&len.to_be_bytes());
    h.send(&big);
    let (_, f) = h.rec.out.pop_front().expect("an ICMPv6 error");
    assert_eq!(f.len(), 14 + 1280);
    // The rate limit: a burst of 60 at one instant gets ICMP_BURST answers
    // at most (5 of the bucket's tokens spent above).
    for _ in 0..60 {
        h.send(&packet(17, &[]));
    }
    let answered = h.rec.out.len() as u32;
    assert!(
        answered <= tcpcore::endpoint::ICMP_BURST - 5,
        "{answered} answered"
    );
    assert!(answered > 0);
    // The kernel's address (shared-address mode): it answers, not us.
    let mut shared = Harness::new(EndpointConfig {
        answer_arp: false,
        reset_other_ports: false,
        ..v6_config()
    });
    expect(&mut shared, &packet(17, &[]), None);
    expect(&mut shared, &packet(253, &[]), None);
}

/// Two stacks over IPv6 on one Ethernet segment, both in own-address mode:
/// the client resolves the server with a neighbor solicitation, then the
/// handshake and bytes both ways.
#[test]
fn stack_pair_over_ipv6() {
    fn cfg(last: u8, port: u16) -> EndpointConfig {
        EndpointConfig {
            medium: Medium::Ethernet,
            mac: EthernetAddress([2, 0, 0, 0, 0, last]),
            addr: [198, 18, 0, last].into(),
            addr6: Some(Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, u16::from(last))),
            port,
            answer_arp: true,
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
    let mut client = Stack::new(cfg(2, 0), m1.storage(), [1; 16]).unwrap();
    let mut server = Stack::new(cfg(1, 7), m2.storage(), [2; 16]).unwrap();
    let now = Instant::from_millis(0);
    let remote: SocketAddr = SocketAddrV6::new(SERVER_IP6, 7, 0, 0).into();
    let id = client.connect(0, remote, now).unwrap();
    let (mut got_server, mut got_client) = (Vec::new(), Vec::new());
    let mut frames = 0;
    for _ in 0..20 {
        let mut to_server = Vec::new();
        while let Some(t) = client.poll_transmit() {
            to_server.push(t.frame.to_vec());
        }
        let mut to_client = Vec::new();
        while let Some(t) = server.poll_transmit() {
            to_client.push(t.frame.to_vec());
        }
        for f in to_server.iter().chain(&to_client) {
            assert_eq!(&f[12..14], &[0x86, 0xdd], "not IPv6: {f:02x?}");
            frames += 1;
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
    assert!(frames >= 7);
    assert_eq!(client.endpoint().stats().nd_solicits, 1);
    assert_eq!(server.endpoint().stats().nd_adverts, 1);
    assert_eq!(client.endpoint().stats().arp_requests, 0);
    let _ = wire::ARP_FRAME_LEN;
}

const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_NODES_MAC: EthernetAddress = EthernetAddress([0x33, 0x33, 0, 0, 0, 1]);
const OTHER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x99]);

/// A harness whose address is tentative: duplicate address detection
/// started at 0 s; returns it with its probe, checked (RFC 4862 §5.4.2:
/// from ::, to the solicited-node group, hop limit 255, no source
/// link-layer address option).
fn tentative() -> Harness {
    let mut h = Harness::new(v6_config());
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Preferred));
    assert!(h.ep.start_dad(h.rec.now, &mut h.rec));
    h.rec.flush();
    let (_, f) = h.rec.out.pop_front().expect("a duplicate address probe");
    assert!(h.rec.out.is_empty());
    let (eth, ip, icmp) = parse_icmp6(&f);
    assert_eq!((eth.src_addr, eth.dst_addr), (SERVER_MAC, SOLICITED_MAC));
    assert_eq!(
        (ip.src_addr, ip.dst_addr),
        (Ipv6Addr::UNSPECIFIED, SOLICITED)
    );
    assert_eq!(ip.hop_limit, 255);
    assert_eq!(icmp, ns(None));
    assert_eq!(icmp.check_ndp(&ip), Ok(()));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Tentative));
    assert_eq!(h.ep.poll_timeout(), Some(Instant::from_millis(1000)));
    h
}

/// Nothing is answered for the address while it is tentative (a SYN, a
/// neighbor solicitation from a unicast source, an echo request), and no
/// connection is opened from it; after one retransmission timer with no
/// conflict it is preferred, with no further probe, and serves.
#[test]
fn dad_tentative_address_is_silent_then_preferred() {
    let mut h = tentative();
    h.run("0.100 < S 1000:1000(0) win 65535 <mss 1460>");
    h.send(&icmp6_frame(
        SOLICITED_MAC,
        CLIENT_IP6,
        SOLICITED,
        255,
        &ns(Some(CLIENT_MAC)),
    ));
    let echo = Icmpv6Repr::EchoRequest {
        ident: 1,
        seq_no: 1,
        data: b"ping",
    };
    h.send(&icmp6_frame(SERVER_MAC, CLIENT_IP6, SERVER_IP6, 64, &echo));
    h.rec.flush();
    assert!(h.rec.out.is_empty(), "sent from a tentative address");
    let remote = SocketAddr::V6(SocketAddrV6::new(CLIENT_IP6, 80, 0, 0));
    assert_eq!(
        h.ep.connect(0, remote, h.rec.now, &mut h.rec).err(),
        Some(tcpcore::ConnectError::AddressTentative)
    );
    h.advance(Instant::from_millis(999));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Tentative));
    h.advance(Instant::from_millis(1000));
    h.rec.flush();
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Preferred));
    assert!(h.rec.out.is_empty(), "a second probe");
    assert_eq!(h.ep.poll_timeout(), None);
    assert_eq!(h.ep.stats().dad_conflicts, 0);
    h.run(
        "1.100 < S 2000:2000(0) win 65535 <mss 1460>
         1.100 > S. 0:0(0) ack 2001 win 65535 <mss 1440>",
    );
}

/// RFC 4862 §5.4.4: an advertisement of the tentative address (to
/// all-nodes, as Linux answers a probe) makes it a duplicate, for good:
/// still unused after the timer.
#[test]
fn dad_advertisement_makes_a_duplicate() {
    let mut h = tentative();
    let na = Icmpv6Repr::NeighborAdvert(NdpNeighborAdvert {
        router_flag: false,
        solicited_flag: false,
        override_flag: true,
        target_addr: SERVER_IP6,
        target_lladdr: Some(OTHER_MAC),
    });
    h.send(&icmp6_frame(ALL_NODES_MAC, CLIENT_IP6, ALL_NODES, 255, &na));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Duplicate(OTHER_MAC)));
    assert_eq!(h.ep.stats().dad_conflicts, 1);
    h.advance(Instant::from_millis(3000));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Duplicate(OTHER_MAC)));
    h.run("3.100 < S 1000:1000(0) win 65535 <mss 1460>");
    h.rec.flush();
    assert!(h.rec.out.is_empty(), "a duplicate address served");
}

/// RFC 4862 §5.4.3: another node's probe for the same address (a
/// solicitation from ::) makes it a duplicate; our own probe, looped back
/// to us (our MAC), does not, nor does a probe for another address.
#[test]
fn dad_probe_from_another_node_makes_a_duplicate() {
    let mut h = tentative();
    let mut own = icmp6_frame(
        SOLICITED_MAC,
        Ipv6Addr::UNSPECIFIED,
        SOLICITED,
        255,
        &ns(None),
    );
    own[6..12].copy_from_slice(&SERVER_MAC.0);
    h.send(&own);
    let other_target = Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
        target_addr: Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 9),
        source_lladdr: None,
    });
    h.send(&icmp6_frame(
        SOLICITED_MAC,
        Ipv6Addr::UNSPECIFIED,
        SOLICITED,
        255,
        &other_target,
    ));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Tentative));
    h.send(&icmp6_frame(
        SOLICITED_MAC,
        Ipv6Addr::UNSPECIFIED,
        SOLICITED,
        255,
        &ns(None),
    ));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Duplicate(CLIENT_MAC)));
    h.rec.flush();
    assert!(h.rec.out.is_empty());
}

/// Once preferred, a probe for our address is defended (answered to
/// all-nodes) as before, not taken as a conflict; on `Medium::Ip` (no
/// neighbor discovery) and without an IPv6 address there is nothing to
/// detect.
#[test]
fn dad_not_on_medium_ip_nor_after_preferred() {
    let mut h = Harness::new(EndpointConfig {
        medium: Medium::Ip,
        ..v6_config()
    });
    assert!(!h.ep.start_dad(h.rec.now, &mut h.rec));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Preferred));
    let mut h = Harness::new(default_config());
    assert!(!h.ep.start_dad(h.rec.now, &mut h.rec));
    assert_eq!(h.ep.addr6_state(), None);
    let mut h = tentative();
    h.advance(Instant::from_millis(1000));
    h.send(&icmp6_frame(
        SOLICITED_MAC,
        Ipv6Addr::UNSPECIFIED,
        SOLICITED,
        255,
        &ns(None),
    ));
    assert_eq!(h.ep.addr6_state(), Some(Addr6State::Preferred));
    h.rec.flush();
    let (_, f) = h.rec.out.pop_front().expect("the defence");
    let (eth, ip, _) = parse_icmp6(&f);
    assert_eq!((eth.dst_addr, ip.dst_addr), (ALL_NODES_MAC, ALL_NODES));
}

/// GSO over IPv6, on both media: the burst a write makes goes as one large
/// segment (as over IPv4), with the IPv6 pseudo-header sum in its TCP
/// checksum field (CHECKSUM_PARTIAL, what Linux's `tcp6_gso_segment`
/// expects), TCP right after the fixed header; without GSO, MSS-sized
/// segments.
#[test]
fn gso_over_ipv6_sends_one_large_segment() {
    for medium in [Medium::Ethernet, Medium::Ip] {
        for (gso, gather) in [(true, false), (true, true), (false, false)] {
            let mut cfg = v6_config();
            cfg.medium = medium;
            cfg.conn.nagle = false;
            cfg.conn.gso_max = 64 * 1024;
            let mut h = Harness::new(cfg);
            h.rec.gso = gso;
            h.rec.gather = gather;
            h.run(
                "0.000 < S 1000:1000(0) win 65535 <mss 1440,sackOK,nop,wscale 7>
                 0.000 > S. 0:0(0) ack 1001 <mss 1440,sackOK,nop,wscale 1>
                 0.010 < . 1001:1001(0) ack 1 win 502",
            );
            let id = h.ep.connections().next().unwrap().0;
            let data = vec![7u8; 14400];
            let now = Instant::from_millis(20);
            h.rec.now = now;
            // The frames as sent, not turned back into IPv4 by the harness.
            h.rec.ipv6 = false;
            h.rec.ip_medium = false;
            assert_eq!(h.ep.send(id, &data, now, &mut h.rec), data.len());
            h.rec.flush();
            let link = if medium == Medium::Ethernet { 14 } else { 0 };
            let frames: Vec<Vec<u8>> = h.rec.out.drain(..).map(|(_, f)| f).collect();
            assert_eq!(
                frames.len(),
                if gso { 1 } else { 10 },
                "{medium:?} gso {gso}"
            );
            for f in &frames {
                let p = Ipv6Packet::new_checked(&f[link..]).unwrap();
                let ip = Ipv6Repr::parse(&p).unwrap();
                assert_eq!(ip.next_header, IpProtocol::Tcp);
                let seg = &f[link + 40..];
                assert_eq!(seg.len(), ip.payload_len);
                assert_eq!(seg.len() - 20, if gso { 14400 } else { 1440 });
                let ph =
                    wire::checksum::pseudo_header_v6(ip.src_addr, ip.dst_addr, 6, seg.len() as u32);
                if gso {
                    assert_eq!(&seg[16..18], &ph.to_be_bytes());
                } else {
                    // A whole checksum: it verifies.
                    let pair = wire::IpPair::V6 {
                        src: ip.src_addr,
                        dst: ip.dst_addr,
                    };
                    let tcp = wire::TcpPacket::new_checked(seg).unwrap();
                    assert!(wire::TcpRepr::parse_ip(&tcp, pair, ChecksumPolicy::Verify).is_ok());
                }
            }
        }
    }
}
