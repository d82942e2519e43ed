//! Checksum status of received frames: kernel-made frames over veth with and
//! without checksum offload, and a hand-made frame with a wrong checksum.
mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use common::*;
use rawnet::netns::TestNet;
use rawnet::{CsumStatus, Filter, Interface, RawSocket, SocketConfig};

const PORT: u16 = 9000;

fn open_a(net: &TestNet) -> RawSocket {
    net.run_in_a(|| {
        let iface = Interface::by_name(&net.if_a)?;
        let cfg = SocketConfig {
            filter: Some(Filter {
                ipv4: net.addr_a,
                tcp_port: PORT,
                arp: false,
                ipv6: None,
                all_ports: false,
            }),
            ..SocketConfig::default()
        };
        RawSocket::open(&iface, &cfg)
    })
    .unwrap()
    .unwrap()
}

/// A kernel TCP connect from ns b to ns a (nobody listens: the SYN is refused).
fn connect_from_b(net: &TestNet) {
    let to = SocketAddr::from((net.addr_a, PORT));
    net.run_in_b(|| {
        let _ = TcpStream::connect_timeout(&to, Duration::from_millis(500));
    })
    .unwrap();
}

fn kernel_syn(net: &TestNet) -> (Vec<u8>, rawnet::RxMeta) {
    let mut sock = open_a(net);
    connect_from_b(net);
    wait_for(&mut sock, Duration::from_secs(3), |f| {
        ports(f).map(|p| p.1) == Some(PORT) && f.get(14 + 20 + 13) == Some(&0x02)
    })
    .expect("the SYN from ns b did not arrive within 3 s")
}

#[test]
fn kernel_frame_offloads_on_is_not_ready_or_valid() {
    let net = TestNet::new("cson", 11).unwrap();
    net.set_offloads(true).unwrap();
    let (frame, meta) = kernel_syn(&net);
    eprintln!("offloads on: {:?}", meta.csum);
    assert!(
        matches!(meta.csum, CsumStatus::NotReady | CsumStatus::Valid),
        "got {:?}",
        meta.csum
    );
    assert_eq!(meta.len, frame.len());
}

#[test]
fn kernel_frame_offloads_off_is_unknown_and_verifies() {
    let net = TestNet::new("csoff", 12).unwrap();
    net.set_offloads(false).unwrap();
    let (frame, meta) = kernel_syn(&net);
    assert_eq!(meta.csum, CsumStatus::Unknown);
    assert!(
        l4_checksum_ok(&frame),
        "kernel SYN checksum does not verify"
    );
    let age = meta.timestamp.elapsed().unwrap_or_default();
    assert!(age < Duration::from_secs(10), "timestamp {age:?} old");
}

#[test]
fn wrong_checksum_from_raw_socket_is_unknown() {
    let net = TestNet::new("csbad", 13).unwrap();
    let mut rx = open_a(&net);
    let (mut tx, ends) = sender_in_b(&net, false);
    let bad = tcp_frame(&ends, 40000, PORT, 0x02, b"bad", false);
    let good = tcp_frame(&ends, 40001, PORT, 0x02, b"good", true);
    assert!(!l4_checksum_ok(&bad) && l4_checksum_ok(&good));
    tx.queue(&bad).unwrap();
    tx.queue(&good).unwrap();
    assert_eq!(tx.flush().unwrap(), 2);
    let got = collect(&mut rx, Duration::from_millis(500));
    let find = |sport| {
        got.iter()
            .find(|(f, _)| ports(f) == Some((sport, PORT)))
            .cloned()
    };
    let (fb, mb) = find(40000).expect("bad-checksum frame did not arrive");
    assert_eq!(mb.csum, CsumStatus::Unknown);
    assert_eq!(fb, bad);
    let (fg, mg) = find(40001).expect("good frame did not arrive");
    assert_ne!(mg.csum, CsumStatus::NotReady);
    assert_eq!(fg, good);
}
