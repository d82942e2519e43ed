//! A TPACKET_V2 ring that grows under load (`SocketConfig::ring_start_bytes`):
//! a 1 MiB ring (512 slots) is left to fill past three quarters, then read while
//! frames keep coming; it grows to 16 MiB once, and no frame is handed out
//! twice or lost across the move (paced: every frame received; flooded:
//! every frame received or counted as dropped by the kernel while the small
//! ring was full; paced and read 64 frames at a time, `set_batch_max`
//! below three quarters of the ring: a pass that stops early still tells
//! a ring three quarters full); one filled past half only does not grow.
mod common;

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::{RawSocket, SocketConfig};

const N: u32 = 60_000;
/// Frames sent before the receiver starts: more than three quarters of the
/// 512 slots.
const FIRST: u32 = 400;
const BATCH: u32 = 32;

/// Paced first, then a flood, one after the other (not competing for the
/// CPUs). Flooded, the small ring overflows while the larger one is made
/// (frames the kernel counts as dropped), and frames reach both rings
/// during the move more often: without the overlap skipped, 2 runs of 5
/// handed 16 and 18 frames out twice.
#[test]
fn ring_grows_once_and_loses_or_repeats_nothing() {
    grow("grow", 93, Some(Duration::from_micros(50)), 0);
    grow("growf", 95, None, 0);
    grow("growb", 98, Some(Duration::from_micros(50)), 64);
}

/// A veth pair, a receiver in namespace a with a 1 MiB ring (512 slots)
/// that may grow to 16 MiB, a sender in namespace b, and a TCP frame from b
/// to the receiver's filtered address and port.
fn small_ring(tag: &str, subnet: u8) -> (TestNet, RawSocket, RawSocket, Vec<u8>) {
    let net = TestNet::new(tag, subnet).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, subnet, 10); // unowned: the kernel ignores the frames
    let port = 5001;
    let cfg = SocketConfig {
        ring_start_bytes: 1 << 20,
        ring_bytes: 16 << 20,
        ..filtered(ours, port, false)
    };
    // Opened in namespace a, read on a thread of the root namespace: the
    // larger ring must still be made in namespace a.
    let rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let tx = sender_in_b(&net, false).0;
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    let frame = tcp_frame(&ends, 40000, port, 0x10, &[0u8; 8], false);
    (net, rx, tx, frame)
}

/// Runs the exchange with `pace` between batches of the rest (`None`: a
/// flood), the receiver taking at most `batch_max` frames a call (0: no
/// cap); checks the growth, that no frame came twice and that every frame
/// came or was counted as dropped by the kernel; returns (frames received,
/// kernel drops).
fn grow(tag: &str, subnet: u8, pace: Option<Duration>, batch_max: usize) -> (u32, u64) {
    let (_net, mut rx, mut tx, mut frame) = small_ring(tag, subnet);
    rx.set_batch_max(batch_max);
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut send = |from: u32, to: u32| -> u32 {
        for seq in from..to {
            frame[54..58].copy_from_slice(&seq.to_be_bytes());
            tx.queue(&frame).unwrap();
        }
        tx.flush().expect("flush") as u32
    };
    // The ring fills past three quarters before anyone reads it.
    let mut sent = send(0, FIRST);
    std::thread::sleep(Duration::from_millis(100));

    let sender_done = Arc::new(AtomicBool::new(false));
    let receiver = std::thread::spawn({
        let sender_done = sender_done.clone();
        move || {
            let mut seen = vec![false; N as usize];
            let (mut count, mut dup) = (0u32, 0u32);
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
                if n > 0 {
                    quiet_since = None;
                } else if sender_done.load(Ordering::Acquire) {
                    let q = *quiet_since.get_or_insert_with(Instant::now);
                    if q.elapsed() > Duration::from_millis(500) {
                        break;
                    }
                }
            }
            // On a loaded machine the larger ring may be ready only after
            // the last frame: it is taken at the end of a later pass.
            while rx.stats().unwrap().ring_grown == 0 && Instant::now() < deadline {
                rx.recv_batch(Some(Duration::from_millis(10)), |_, _| dup += 1)
                    .unwrap();
            }
            (count, dup, rx.stats().unwrap())
        }
    });
    // The rest, paced (a batch, then a short pause) so that a reader that
    // keeps up never finds the small ring full while the larger one is made.
    while sent < N && Instant::now() < deadline {
        sent += send(sent, (sent + BATCH).min(N));
        if let Some(p) = pace {
            std::thread::sleep(p);
        }
    }
    sender_done.store(true, Ordering::Release);
    let (count, dup, st) = receiver.join().unwrap();
    eprintln!("{tag}: sent {sent}, received {count} (dup {dup}), rx stats {st:?}");
    assert!(Instant::now() < deadline, "took more than 30 s");
    assert_eq!(sent, N);
    assert_eq!(st.ring_grown, 1, "the ring did not grow");
    assert_eq!(dup, 0, "frames repeated");
    // Every frame received, or counted by the kernel as dropped by a full
    // ring (possible on a loaded machine before the larger ring is ready).
    assert!(
        u64::from(count) + st.drops >= u64::from(N),
        "frames lost beyond the kernel's drops"
    );
    (count, st.drops)
}

/// The ring grows at three quarters full, not before: 300 frames waiting
/// in the 512 slots (more than half, what one connection with a 1 MiB
/// window can have in flight in the server's 1024-slot start ring, less
/// than three quarters) leave it as it is; 400 make it grow (as in the
/// test above). Seen failing with the trigger at half.
#[test]
fn ring_more_than_half_full_does_not_grow() {
    let (_net, mut rx, mut tx, frame) = small_ring("grown", 99);
    let deadline = Instant::now() + Duration::from_secs(10);
    // Sends `n` frames, then reads until they all came and a few quiet
    // passes more (a growth begun by the first pass completes in a later
    // one); returns the frames read.
    let round = |rx: &mut RawSocket, tx: &mut RawSocket, n: u32| -> u32 {
        for _ in 0..n {
            tx.queue(&frame).unwrap();
        }
        assert_eq!(tx.flush().expect("flush") as u32, n);
        std::thread::sleep(Duration::from_millis(100));
        let mut got = 0u32;
        let mut quiet = 0;
        while quiet < 5 && Instant::now() < deadline {
            let k = rx
                .recv_batch(Some(Duration::from_millis(20)), |_, _| got += 1)
                .unwrap();
            if k == 0 && got >= n {
                quiet += 1;
            }
        }
        got
    };
    assert_eq!(round(&mut rx, &mut tx, 300), 300);
    let st = rx.stats().unwrap();
    assert_eq!(st.drops, 0);
    assert_eq!(st.ring_grown, 0, "300 frames of 512 slots grew the ring");
    assert_eq!(round(&mut rx, &mut tx, 400), 400);
    assert_eq!(rx.stats().unwrap().ring_grown, 1, "400 frames did not");
}
