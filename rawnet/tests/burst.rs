//! 100,000 frames from a raw socket in ns b through the ring in ns a: none
//! lost, with either ring version (one after the other, not competing for
//! CPUs). The sender keeps at most `WINDOW` frames ahead of the receiver,
//! well within the ring: what is checked is that the ring loses and
//! repeats nothing, not that the receiving thread is scheduled in time (on
//! a loaded machine a sender running free outruns any ring).
mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::{Filter, RawSocket, RingVersion, SocketConfig};

const N: u32 = 100_000;
const BATCH: u32 = 256;
/// Frames the sender may be ahead of the receiver: a quarter of the
/// default 16 MiB ring (8,192 slots of 2 KiB), whichever the version.
const WINDOW: u32 = 2048;

#[test]
fn burst_of_100k_frames_none_lost() {
    let v2 = burst(RingVersion::V2, "burst2", 31);
    let v3 = burst(RingVersion::V3, "burst3", 32);
    eprintln!("burst: received frames/s: V2 {v2:.0}, V3 {v3:.0}");
}

/// Sends the burst through a fresh pair of namespaces and checks that every
/// frame arrived; returns the receive rate (frames/s, first to last frame).
fn burst(ring: RingVersion, tag: &str, subnet: u8) -> f64 {
    let net = TestNet::new(tag, subnet).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, subnet, 10); // unowned: the kernel ignores the frames
    let port = 5001;
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: ours,
            tcp_port: port,
            arp: false,
            ipv6: None,
            all_ports: false,
        }),
        ring,
        ..SocketConfig::default()
    };
    let mut rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let mut tx = sender_in_b(&net, false).0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let sender_done = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU32::new(0));

    let receiver = std::thread::spawn({
        let sender_done = sender_done.clone();
        let received = received.clone();
        move || {
            let mut seen = vec![false; N as usize];
            let (mut count, mut dup, mut first, mut last) = (0u32, 0u32, None, Instant::now());
            let mut quiet_since: Option<Instant> = None;
            while count < N && Instant::now() < deadline {
                let n = rx
                    .recv_batch(Some(Duration::from_millis(20)), |f, _| {
                        let seq = f
                            .get(54..58)
                            .map(|s| u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize);
                        match seq.and_then(|s| seen.get_mut(s)) {
                            Some(slot) if !*slot => {
                                *slot = true;
                                count += 1;
                            }
                            _ => dup += 1,
                        }
                    })
                    .unwrap();
                received.store(count, Ordering::Release);
                if n > 0 {
                    first.get_or_insert_with(Instant::now);
                    last = Instant::now();
                    quiet_since = None;
                } else if sender_done.load(Ordering::Acquire) {
                    // Everything sent and 500 ms without a frame: done.
                    let q = *quiet_since.get_or_insert_with(Instant::now);
                    if q.elapsed() > Duration::from_millis(500) {
                        break;
                    }
                }
            }
            let st = rx.stats().unwrap();
            let span = first.map(|f| last.duration_since(f)).unwrap_or_default();
            (count, dup, st, span)
        }
    });

    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    let template = tcp_frame(&ends, 40000, port, 0x10, &[0u8; 8], false);
    let t0 = Instant::now();
    let mut sent = 0u32;
    let mut frame = template.clone();
    while sent < N && Instant::now() < deadline {
        if sent >= received.load(Ordering::Acquire) + WINDOW {
            std::thread::yield_now();
            continue;
        }
        for seq in sent..(sent + BATCH).min(N) {
            frame[54..58].copy_from_slice(&seq.to_be_bytes());
            tx.queue(&frame).unwrap();
        }
        sent += tx.flush().expect("flush") as u32;
    }
    let send_time = t0.elapsed();
    sender_done.store(true, Ordering::Release);
    let (count, dup, st, span) = receiver.join().unwrap();
    let txs = tx.stats().unwrap();
    eprintln!(
        "burst {ring:?}: sent {sent} in {send_time:?} ({:.0} frames/s), received {count} (dup {dup}), rx span {span:?}, rx stats {st:?}, tx stats {txs:?}",
        f64::from(sent) / send_time.as_secs_f64()
    );
    assert!(Instant::now() < deadline, "burst took more than 30 s");
    assert_eq!(sent, N);
    assert_eq!(txs.tx_dropped, 0);
    assert_eq!(dup, 0);
    assert_eq!(count, N, "frames lost");
    assert_eq!(st.drops, 0);
    assert_eq!(st.rx_frames, u64::from(N));
    assert!(st.packets >= u64::from(N));
    f64::from(count) / span.as_secs_f64().max(1e-9)
}
