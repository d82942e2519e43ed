//! TSO/GRO super-frames (far above the MTU) arrive whole through the ring.
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::{CsumStatus, Filter, RawSocket, SocketConfig};

#[test]
fn super_frames_arrive_whole() {
    let net = TestNet::new("gro", 81).unwrap();
    net.set_offloads(true).unwrap();
    let a = net.iface_a().unwrap();
    let port = 8100;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: net.addr_a,
            tcp_port: port,
            arp: false,
        }),
        ..SocketConfig::default()
    };
    let (mut sock, listener) = net
        .run_in_a(|| {
            let l = TcpListener::bind((net.addr_a, port)).unwrap();
            (RawSocket::open(&a, &cfg).unwrap(), l)
        })
        .unwrap();
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = vec![0u8; 1 << 16];
        let mut total = 0;
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            total += n;
        }
        total
    });
    const BYTES: usize = 4 << 20;
    net.run_in_b(|| {
        let to = SocketAddr::from((net.addr_a, port));
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&vec![0x5au8; BYTES]).unwrap();
    })
    .unwrap();
    assert_eq!(sink.join().unwrap(), BYTES);

    let (mut largest, mut frames, mut short, mut bad) = (0usize, 0usize, 0usize, 0usize);
    let mut csum = [0usize; 3];
    let end = Instant::now() + Duration::from_secs(2);
    while Instant::now() < end {
        let n = sock
            .recv_batch(Some(Duration::from_millis(50)), |f, m| {
                frames += 1;
                largest = largest.max(f.len());
                if f.len() != m.len {
                    short += 1;
                }
                match m.csum {
                    CsumStatus::NotReady => csum[0] += 1,
                    CsumStatus::Valid => csum[1] += 1,
                    CsumStatus::Unknown => {
                        csum[2] += 1;
                        if !l4_checksum_ok(f) {
                            bad += 1;
                        }
                    }
                }
                assert!(ports(f).is_some());
            })
            .unwrap();
        if n == 0 && frames > 0 {
            break;
        }
    }
    let st = sock.stats().unwrap();
    eprintln!("gro: {frames} frames, largest {largest} bytes, [not ready, valid, unknown] {csum:?}, stats {st:?}");
    assert_eq!(bad, 0, "frames of unknown status whose checksum is wrong");
    assert_eq!(short, 0);
    assert_eq!(st.truncated, 0);
    assert_eq!(st.drops, 0);
    assert!(largest > 1514, "no super-frame seen (largest {largest})");
}
