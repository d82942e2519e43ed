//! Two sockets in one fanout group share the frames, each flow on one socket.
mod common;

use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
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
    let mut tx = net
        .run_in_b(|| {
            RawSocket::open(
                &b,
                &SocketConfig {
                    ring_bytes: 1 << 20,
                    ..SocketConfig::default()
                },
            )
        })
        .unwrap()
        .unwrap();
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
