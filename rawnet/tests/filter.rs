//! The kernel-side BPF filter passes TCP to our address and port, and ARP,
//! and nothing else.
mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use rawnet::netns::TestNet;
use rawnet::{Filter, RawSocket, SocketConfig};

#[test]
fn filter_passes_only_tcp_to_our_port_and_arp() {
    let net = TestNet::new("filt", 21).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 21, 10); // not the kernel's
    let port = 7777;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: ours,
            tcp_port: port,
            arp: true,
            ipv6: None,
            all_ports: false,
        }),
        ..SocketConfig::default()
    };
    let mut rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let mut tx = sender_in_b(&net, false).0;
    let to = |dst_ip| Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip,
    };
    // (frame, should pass, what)
    let cases: Vec<(Vec<u8>, bool, &str)> = vec![
        (
            tcp_frame(&to(ours), 1001, port, 0x02, b"", true),
            true,
            "tcp to us",
        ),
        (
            tcp_frame(&to(ours), 1002, port, 0x10, b"data", false),
            true,
            "tcp to us, bad csum",
        ),
        (
            tcp_frame(&to(ours), 1003, port + 1, 0x02, b"", true),
            false,
            "tcp other port",
        ),
        (
            tcp_frame(&to(ours), port, 80, 0x02, b"", true),
            false,
            "tcp src port ours",
        ),
        (
            udp_frame(&to(ours), 1004, port, b"udp"),
            false,
            "udp to our port",
        ),
        (
            tcp_frame(&to(net.addr_a), 1005, port, 0x02, b"", true),
            false,
            "tcp other addr",
        ),
        (
            arp_frame([0xff; 6], 1, b.mac, net.addr_b, [0; 6], ours),
            true,
            "arp request",
        ),
    ];
    for (f, _, _) in &cases {
        tx.queue(f).unwrap();
    }
    assert_eq!(tx.flush().unwrap(), cases.len());
    let got = collect(&mut rx, Duration::from_millis(700));
    for (f, pass, what) in &cases {
        let n = got.iter().filter(|(g, _)| g == f).count();
        assert_eq!(n, usize::from(*pass), "{what}: seen {n} times");
    }
    let unexpected: Vec<_> = got
        .iter()
        // ns a's kernel answers the SYN to its own address with a RST and
        // ARPs for ns b first: b's ARP reply passes too, rightly.
        .filter(|(g, _)| !cases.iter().any(|(f, _, _)| f == g) && ethertype(g) != 0x0806)
        .map(|(g, _)| g.len())
        .collect();
    assert!(
        unexpected.is_empty(),
        "unexpected frames of lengths {unexpected:?}"
    );
    let st = rx.stats().unwrap();
    assert!(st.rx_frames >= 3);
    assert_eq!(st.drops, 0);
}

#[test]
fn no_filter_sees_everything_and_not_own_frames() {
    let net = TestNet::new("nofl", 22).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let mut rx = net
        .run_in_a(|| RawSocket::open(&a, &SocketConfig::default()))
        .unwrap()
        .unwrap();
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: Ipv4Addr::new(198, 18, 22, 99),
    };
    let u = udp_frame(&ends, 5, 6, b"x");
    let mut tx = sender_in_b(&net, false).0;
    tx.send(&u).unwrap();
    // A frame ns a sends itself must not come back (ignore_outgoing).
    let mine = udp_frame(
        &Ends {
            src_mac: a.mac,
            dst_mac: b.mac,
            src_ip: net.addr_a,
            dst_ip: net.addr_b,
        },
        7,
        8,
        b"mine",
    );
    rx.send(&mine).unwrap();
    let got = collect(&mut rx, Duration::from_millis(500));
    assert!(got.iter().any(|(f, _)| *f == u), "udp frame missing");
    assert!(!got.iter().any(|(f, _)| *f == mine), "own frame came back");
}

/// Own-address mode (`all_ports`): TCP to every port of our address passes,
/// so that the server can answer its closed ports with RFC 9293
/// §3.10.7.1's reset, and UDP to it (answered with port unreachable); TCP
/// to other addresses still does not.
#[test]
fn filter_with_all_ports_passes_all_tcp_to_our_address() {
    let net = TestNet::new("filp", 23).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 23, 10); // not the kernel's
    let port = 7777;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: ours,
            tcp_port: port,
            arp: true,
            ipv6: None,
            all_ports: true,
        }),
        ..SocketConfig::default()
    };
    let mut rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let mut tx = sender_in_b(&net, false).0;
    let to = |dst_ip| Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip,
    };
    let cases: Vec<(Vec<u8>, bool, &str)> = vec![
        (
            tcp_frame(&to(ours), 1001, port, 0x02, b"", true),
            true,
            "tcp to our port",
        ),
        (
            tcp_frame(&to(ours), 1003, port + 1, 0x02, b"", true),
            true,
            "tcp other port",
        ),
        (
            tcp_frame(&to(ours), 1006, 22, 0x10, b"data", true),
            true,
            "tcp port 22",
        ),
        // Own-address mode: every protocol to our address passes (the
        // endpoint answers it with an ICMP error).
        (
            udp_frame(&to(ours), 1004, port, b"udp"),
            true,
            "udp to our address",
        ),
        (
            tcp_frame(&to(net.addr_a), 1005, port + 1, 0x02, b"", true),
            false,
            "tcp other addr",
        ),
    ];
    for (f, _, _) in &cases {
        tx.queue(f).unwrap();
    }
    assert_eq!(tx.flush().unwrap(), cases.len());
    let got = collect(&mut rx, Duration::from_millis(700));
    for (f, pass, what) in &cases {
        let n = got.iter().filter(|(g, _)| g == f).count();
        assert_eq!(n, usize::from(*pass), "{what}: seen {n} times");
    }
}
