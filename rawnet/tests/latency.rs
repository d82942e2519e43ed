//! Light-load latency of each ring version: single frames sent one at a
//! time from a raw socket in ns b, timed until `recv_batch` in ns a hands
//! them out. TPACKET_V2 shows each frame at once; TPACKET_V3 holds it until
//! its block retires (`block_timeout_ms`, 1 ms).
mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::{RawSocket, RingVersion, SocketConfig};

const FRAMES: usize = 200;
const PORT: u16 = 9100;

/// Latencies (sorted) of `FRAMES` single frames through a `ring` socket.
fn latencies(net: &TestNet, tx: &mut RawSocket, ring: RingVersion) -> Vec<Duration> {
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 91, 10); // unowned: the kernel ignores the frames
    let cfg = SocketConfig {
        ring,
        ..filtered(ours, PORT, false)
    };
    let mut rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    let mut out = Vec::with_capacity(FRAMES);
    // A few unmeasured frames first (page faults, caches).
    for i in 0..(FRAMES + 5) as u32 {
        let frame = tcp_frame(&ends, 40000, PORT, 0x10, &i.to_be_bytes(), true);
        let t0 = Instant::now();
        tx.send(&frame).unwrap();
        let mut arrived = None;
        let end = t0 + Duration::from_millis(200);
        while arrived.is_none() && Instant::now() < end {
            rx.recv_batch(Some(Duration::from_millis(20)), |f, _| {
                if f.get(54..58) == Some(&i.to_be_bytes()[..]) {
                    arrived = Some(t0.elapsed());
                }
            })
            .unwrap();
        }
        let Some(lat) = arrived else {
            panic!("{ring:?}: frame {i} did not arrive within 200 ms");
        };
        if i >= 5 {
            out.push(lat);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(rx.stats().unwrap().drops, 0);
    out.sort();
    out
}

#[test]
fn v2_hands_out_single_frames_without_block_timeout() {
    let net = TestNet::new("lat", 91).unwrap();
    let mut tx = sender_in_b(&net, false).0;
    let v2 = latencies(&net, &mut tx, RingVersion::V2);
    let v3 = latencies(&net, &mut tx, RingVersion::V3);
    let show = |l: &[Duration]| {
        format!(
            "median {:?}, p10 {:?}, p90 {:?}, max {:?}",
            l[l.len() / 2],
            l[l.len() / 10],
            l[l.len() * 9 / 10],
            l[l.len() - 1]
        )
    };
    eprintln!("latency V2: {}", show(&v2));
    eprintln!("latency V3: {}", show(&v3));
    let median = v2[v2.len() / 2];
    assert!(
        median < Duration::from_micros(200),
        "V2 median latency {median:?}"
    );
}
