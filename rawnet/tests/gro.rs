//! TSO/GRO super-frames (far above the MTU) arrive whole through the ring:
//! zero-copy in a TPACKET_V3 block, and through the socket's receive queue
//! (`TP_STATUS_COPY`) for a TPACKET_V2 ring, whose slots hold 2 KiB.
mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::{CsumStatus, Filter, RawSocket, RingVersion, SocketConfig};

#[test]
fn super_frames_arrive_whole() {
    super_frames(RingVersion::V2, "gro", 81);
}

#[test]
fn super_frames_arrive_whole_v3() {
    super_frames(RingVersion::V3, "grov", 82);
}

fn super_frames(ring: RingVersion, tag: &str, subnet: u8) {
    let net = TestNet::new(tag, subnet).unwrap();
    net.set_offloads(true).unwrap();
    let a = net.iface_a().unwrap();
    let port = 8100;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: net.addr_a,
            tcp_port: port,
            arp: false,
            ipv6: None,
            all_ports: false,
        }),
        ring,
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
    eprintln!("gro {ring:?}: {frames} frames, largest {largest} bytes, [not ready, valid, unknown] {csum:?}, stats {st:?}");
    assert_eq!(bad, 0, "frames of unknown status whose checksum is wrong");
    assert_eq!(short, 0);
    assert_eq!(st.truncated, 0);
    assert_eq!(st.drops, 0);
    assert!(largest > 1514, "no super-frame seen (largest {largest})");
    if ring == RingVersion::V2 {
        assert!(st.copied > 0, "no frame took the copy path");
    }
}

/// 4 MiB of pseudo-random bytes, deterministic.
fn pattern(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect()
}

/// What the tap saw of one TCP stream.
struct Tapped {
    data: Vec<u8>,
    covered: Vec<bool>,
    frames: usize,
    largest: usize,
    whole_super: usize,
    stats: rawnet::Stats,
}

#[test]
fn gro_stream_reassembles_exactly_v2() {
    let t = tap_stream(RingVersion::V2, "grora", 83);
    assert!(t.stats.copied > 0, "no frame took the copy path");
}

#[test]
fn gro_stream_reassembles_exactly_v3() {
    tap_stream(RingVersion::V3, "grorb", 84);
}

/// A kernel TCP connection from ns b to a kernel listener in ns a carries
/// 4 MiB (offloads on: TSO/GRO super-frames); a `ring` socket in ns a taps
/// it, and the TCP payload of the frames it saw, placed by sequence number,
/// must be exactly the bytes sent.
fn tap_stream(ring: RingVersion, tag: &str, subnet: u8) -> Tapped {
    const BYTES: usize = 4 << 20;
    let net = TestNet::new(tag, subnet).unwrap();
    net.set_offloads(true).unwrap();
    let a = net.iface_a().unwrap();
    let port = 8300;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: net.addr_a,
            tcp_port: port,
            arp: false,
            ipv6: None,
            all_ports: false,
        }),
        ring,
        ..SocketConfig::default()
    };
    let (mut sock, listener) = net
        .run_in_a(|| {
            let l = TcpListener::bind((net.addr_a, port)).unwrap();
            (RawSocket::open(&a, &cfg).unwrap(), l)
        })
        .unwrap();
    let sent = pattern(BYTES);
    let sink = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::with_capacity(BYTES);
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = s.read(&mut buf) {
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        got
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    // The tap reads while the transfer runs, like a server would.
    let tap = std::thread::spawn(move || {
        let mut t = Tapped {
            data: vec![0u8; BYTES],
            covered: vec![false; BYTES],
            frames: 0,
            largest: 0,
            whole_super: 0,
            stats: rawnet::Stats::default(),
        };
        let mut isn: Option<u32> = None;
        let (mut fin, mut left) = (false, BYTES);
        let mut quiet = 0;
        while Instant::now() < deadline && quiet < 10 {
            let n = sock
                .recv_batch(Some(Duration::from_millis(50)), |f, m| {
                    t.frames += 1;
                    t.largest = t.largest.max(f.len());
                    assert_eq!(f.len(), m.len, "a frame was cut short");
                    let ihl = usize::from(f[14] & 0xf) * 4;
                    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
                    assert!(
                        f.len() >= 14 + total,
                        "IP length {total} > frame {}",
                        f.len()
                    );
                    let tcp = &f[14 + ihl..14 + total];
                    let seq = u32::from_be_bytes([tcp[4], tcp[5], tcp[6], tcp[7]]);
                    let flags = tcp[13];
                    if flags & 0x02 != 0 {
                        isn = Some(seq);
                    }
                    fin |= flags & 0x01 != 0;
                    let payload = &tcp[usize::from(tcp[12] >> 4) * 4..];
                    if payload.is_empty() {
                        return;
                    }
                    if f.len() > 1514 {
                        t.whole_super += 1;
                    }
                    let isn = isn.expect("data before the SYN");
                    let off = seq.wrapping_sub(isn.wrapping_add(1)) as usize;
                    assert!(off + payload.len() <= BYTES, "segment beyond the stream");
                    t.data[off..off + payload.len()].copy_from_slice(payload);
                    for c in &mut t.covered[off..off + payload.len()] {
                        if !*c {
                            *c = true;
                            left -= 1;
                        }
                    }
                })
                .unwrap();
            if n == 0 && left == 0 && fin {
                quiet += 1;
            }
        }
        t.stats = sock.stats().unwrap();
        t
    });
    net.run_in_b(|| {
        let to = SocketAddr::from((net.addr_a, port));
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(2)).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(&sent).unwrap();
    })
    .unwrap();
    assert!(
        sink.join().unwrap() == sent,
        "the kernel listener got other bytes"
    );
    let t = tap.join().unwrap();
    let missing = t.covered.iter().filter(|c| !**c).count();
    eprintln!(
        "gro stream {ring:?}: {} frames, {} super-frames with data, largest {} bytes, {missing} bytes missing, stats {:?}",
        t.frames, t.whole_super, t.largest, t.stats
    );
    assert_eq!(missing, 0, "bytes of the stream never seen");
    assert!(
        t.data == sent,
        "reassembled payload differs from what was sent"
    );
    assert!(
        t.largest > 16 << 10,
        "largest frame only {} bytes",
        t.largest
    );
    assert_eq!(t.stats.truncated, 0);
    assert_eq!(t.stats.drops, 0);
    t
}
