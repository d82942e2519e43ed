//! Two sockets in one fanout group share the frames, each flow on one
//! socket, and the ICMP and ICMPv6 errors quoting a flow's segments on the
//! flow's socket.
mod common;

use std::collections::{HashMap, HashSet};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::{Filter, RawSocket, SocketConfig};

const FLOWS: u16 = 64;
const PER_FLOW: u16 = 20;

#[test]
fn fanout_keeps_each_flow_on_one_socket() {
    let net = TestNet::new("fan", 41).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 41, 10);
    let port = 6000;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: ours,
            tcp_port: port,
            arp: false,
            ipv6: None,
            all_ports: false,
        }),
        fanout: Some(4242),
        ..SocketConfig::default()
    };
    let mut socks: Vec<RawSocket> = net
        .run_in_a(|| -> Result<Vec<RawSocket>, rawnet::Error> {
            Ok(vec![RawSocket::open(&a, &cfg)?, RawSocket::open(&a, &cfg)?])
        })
        .unwrap()
        .unwrap();
    let mut tx = sender_in_b(&net, false).0;
    // Like a server's workers: one thread per socket, receiving while we send.
    let total = usize::from(FLOWS * PER_FLOW);
    let got = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs(5);
    let workers: Vec<_> = socks
        .drain(..)
        .map(|mut s| {
            let got = got.clone();
            std::thread::spawn(move || {
                let mut flows: HashSet<u16> = HashSet::new();
                let mut n = 0usize;
                while got.load(Ordering::Acquire) < total && Instant::now() < end {
                    let k = s
                        .recv_batch(Some(Duration::from_millis(5)), |f, _| {
                            if let Some((sport, _)) = ports(f) {
                                flows.insert(sport);
                            }
                        })
                        .unwrap();
                    n += k;
                    got.fetch_add(k, Ordering::AcqRel);
                }
                (flows, n, s.stats().unwrap())
            })
        })
        .collect();
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    for i in 0..PER_FLOW {
        for f in 0..FLOWS {
            tx.queue(&tcp_frame(
                &ends,
                20000 + f,
                port,
                0x10,
                &i.to_be_bytes(),
                true,
            ))
            .unwrap();
        }
    }
    assert_eq!(tx.flush().unwrap(), total);
    let results: Vec<_> = workers.into_iter().map(|w| w.join().unwrap()).collect();
    let per_sock: Vec<usize> = results.iter().map(|r| r.1).collect();
    let stats: Vec<_> = results.iter().map(|r| r.2).collect();
    eprintln!("fanout: per socket {per_sock:?}, stats {stats:?}");
    // flow (src port) -> set of socket indexes that saw it
    let mut seen: HashMap<u16, HashSet<usize>> = HashMap::new();
    for (i, r) in results.iter().enumerate() {
        for &f in &r.0 {
            seen.entry(f).or_default().insert(i);
        }
    }
    assert_eq!(per_sock.iter().sum::<usize>(), total, "frames lost");
    assert_eq!(seen.len(), usize::from(FLOWS));
    for (flow, on) in &seen {
        assert_eq!(on.len(), 1, "flow {flow} split over sockets {on:?}");
    }
    assert!(
        per_sock.iter().all(|&n| n > 0),
        "one socket got nothing: {per_sock:?}"
    );
}

/// A TCP segment, an ICMP or ICMPv6 error about it, as the wire has them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Key {
    V4(u16),
    V6(u16),
}

/// Ethernet, then an IPv4 header of `proto` from `src` to `dst`, then `l4`.
fn v4(e: &Ends, src: Ipv4Addr, dst: Ipv4Addr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&e.dst_mac);
    f.extend_from_slice(&e.src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(20 + l4.len() as u16).to_be_bytes());
    ip[6] = 0x40;
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&src.octets());
    ip[16..20].copy_from_slice(&dst.octets());
    let c = !fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(l4);
    f
}

/// Ethernet, then an IPv6 header of `nh` from `src` to `dst`, then `rest`.
fn v6(e: &Ends, src: Ipv6Addr, dst: Ipv6Addr, nh: u8, rest: &[u8]) -> Vec<u8> {
    let mut f = Vec::new();
    f.extend_from_slice(&e.dst_mac);
    f.extend_from_slice(&e.src_mac);
    f.extend_from_slice(&[0x86, 0xdd]);
    let mut ip = [0u8; 40];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&(rest.len() as u16).to_be_bytes());
    ip[6] = nh;
    ip[7] = 64;
    ip[8..24].copy_from_slice(&src.octets());
    ip[24..40].copy_from_slice(&dst.octets());
    f.extend_from_slice(&ip);
    f.extend_from_slice(rest);
    f
}

/// A bare TCP header from `sport` to `dport` (ACK).
fn tcp(sport: u16, dport: u16) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = 0x10;
    t
}

/// What a received frame is about: the peer's port of its TCP segment,
/// or of the segment its ICMP or ICMPv6 error quotes.
fn key(f: &[u8]) -> Option<Key> {
    let port = |at: usize| f.get(at..at + 2).map(|p| u16::from_be_bytes([p[0], p[1]]));
    match ethertype(f) {
        0x0800 => match f.get(23)? {
            6 => port(34).map(Key::V4),
            1 => port(34 + 8 + 20 + 2).map(Key::V4),
            _ => None,
        },
        0x86dd => match f.get(20)? {
            6 => port(54).map(Key::V6),
            0 => port(54 + 8).map(Key::V6),
            58 => port(54 + 8 + 40 + 2).map(Key::V6),
            _ => None,
        },
        _ => None,
    }
}

/// The peer's segments (IPv4, IPv6, IPv6 behind a hop-by-hop header) and
/// a router's "fragmentation needed" and "packet too big" quoting ours,
/// for 32 connections: each connection's frames, errors included, all on
/// one of the two sockets, and each socket with some connections.
#[test]
fn fanout_puts_icmp_errors_with_their_connection() {
    const CONNS: u16 = 32;
    let net = TestNet::new("fani", 42).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 42, 10);
    let router = Ipv4Addr::new(198, 18, 42, 254);
    let ours6: Ipv6Addr = "2001:2:0:42::10".parse().unwrap();
    let peer6: Ipv6Addr = "2001:2:0:43::2".parse().unwrap();
    let router6: Ipv6Addr = "2001:2:0:42::1".parse().unwrap();
    let port = 6000;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: ours,
            tcp_port: port,
            arp: false,
            ipv6: Some(ours6),
            all_ports: false,
        }),
        fanout: Some(4343),
        ..SocketConfig::default()
    };
    let socks = net
        .run_in_a(|| RawSocket::open_group(&a, &cfg, 2))
        .unwrap()
        .unwrap();
    let mut tx = sender_in_b(&net, false).0;
    let e = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    let mut frames = Vec::new();
    for i in 0..CONNS {
        let peer_port = 40000 + 2 * i;
        frames.push(v4(&e, net.addr_b, ours, 6, &tcp(peer_port, port)));
        // Fragmentation needed, MTU 1280, quoting our segment's IP header
        // and its first 8 bytes.
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0x00];
        let quoted = v4(&e, ours, net.addr_b, 6, &tcp(port, peer_port));
        icmp.extend_from_slice(&quoted[14..14 + 28]);
        frames.push(v4(&e, router, ours, 1, &icmp));
        frames.push(v6(&e, peer6, ours6, 6, &tcp(peer_port, port)));
        let mut hbh = vec![6, 0, 1, 4, 0, 0, 0, 0]; // PadN
        hbh.extend_from_slice(&tcp(peer_port, port));
        frames.push(v6(&e, peer6, ours6, 0, &hbh));
        let mut ptb = vec![2, 0, 0, 0, 0, 0, 0x05, 0x00];
        let quoted = v6(&e, ours6, peer6, 6, &tcp(port, peer_port));
        ptb.extend_from_slice(&quoted[14..]);
        frames.push(v6(&e, router6, ours6, 58, &ptb));
    }
    let total = frames.len();
    for f in &frames {
        tx.queue(f).unwrap();
    }
    let got = Arc::new(AtomicUsize::new(0));
    let end = Instant::now() + Duration::from_secs(5);
    let readers: Vec<_> = socks
        .into_iter()
        .map(|mut s| {
            let got = got.clone();
            std::thread::spawn(move || {
                let mut keys: Vec<Key> = Vec::new();
                while got.load(Ordering::Acquire) < total && Instant::now() < end {
                    let k = s
                        .recv_batch(Some(Duration::from_millis(5)), |f, _| {
                            keys.extend(key(f));
                        })
                        .unwrap();
                    got.fetch_add(k, Ordering::AcqRel);
                }
                keys
            })
        })
        .collect();
    assert_eq!(tx.flush().unwrap(), total);
    let per_sock: Vec<Vec<Key>> = readers.into_iter().map(|r| r.join().unwrap()).collect();
    assert_eq!(
        per_sock.iter().map(Vec::len).sum::<usize>(),
        total,
        "frames lost or not understood"
    );
    let mut on: HashMap<Key, HashSet<usize>> = HashMap::new();
    let mut count: HashMap<Key, usize> = HashMap::new();
    for (i, keys) in per_sock.iter().enumerate() {
        for k in keys {
            on.entry(*k).or_default().insert(i);
            *count.entry(*k).or_default() += 1;
        }
    }
    assert_eq!(on.len(), 2 * usize::from(CONNS));
    for (k, socks) in &on {
        assert_eq!(socks.len(), 1, "{k:?} on sockets {socks:?}");
    }
    for (k, n) in &count {
        let want = if matches!(k, Key::V4(_)) { 2 } else { 3 };
        assert_eq!(*n, want, "{k:?}");
    }
    let conns: Vec<usize> = (0..2)
        .map(|i| on.values().filter(|s| s.contains(&i)).count())
        .collect();
    eprintln!("fanout with ICMP: connections per socket {conns:?}");
    assert!(conns.iter().all(|&n| n > 0), "{conns:?}");
}
