//! Waiting on an empty ring with naps (`RawSocket::set_nap`): frames that
//! arrive during the naps and after them (in `poll`) are taken, a timeout
//! within the naps returns without a frame, and the first nap sets the
//! thread's timer slack to 1 ns.
mod common;

use std::net::Ipv4Addr;
use std::time::Duration;

use common::*;
use rawnet::netns::TestNet;
use rawnet::{RawSocket, SocketConfig};

const PORT: u16 = 9200;

/// The calling thread's timer slack, in ns.
fn timer_slack() -> i32 {
    nix::sys::prctl::get_timerslack().expect("PR_GET_TIMERSLACK")
}

#[test]
fn naps_take_frames_during_and_after_them() {
    let net = TestNet::new("nap", 92).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 92, 10); // unowned: the kernel ignores the frames
    let cfg = filtered(ours, PORT, false);
    let mut rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    rx.set_spin(Duration::from_micros(2));
    rx.set_nap(Duration::from_micros(20), Duration::from_millis(1));
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    let tx_cfg = SocketConfig {
        ring_bytes: 1 << 20,
        ..SocketConfig::default()
    };
    let ns_b = net.ns_b.clone();

    // Nothing sent: a timeout within the naps ends the wait, empty-handed.
    let n = rx
        .recv_batch(Some(Duration::from_micros(500)), |_, _| {})
        .unwrap();
    assert_eq!(n, 0);
    assert_eq!(timer_slack(), 1, "the nap did not set the timer slack");

    // One frame 300 µs into the wait (during the naps), one 20 ms into it
    // (in poll, after the naps).
    for (i, delay) in [
        (1u32, Duration::from_micros(300)),
        (2, Duration::from_millis(20)),
    ] {
        let frame = tcp_frame(&ends, 40000, PORT, 0x10, &i.to_be_bytes(), true);
        let (b, cfg, ns) = (b.clone(), tx_cfg, ns_b.clone());
        let sender = std::thread::spawn(move || {
            rawnet::netns::spawn_in_ns(&ns, move || {
                let mut tx = RawSocket::open(&b, &cfg)?;
                std::thread::sleep(delay);
                tx.send(&frame)
            })
            .unwrap()
            .join()
            .unwrap()
        });
        let mut seen = false;
        // Bounded: 100 waits of at most 50 ms.
        for _ in 0..100 {
            rx.recv_batch(Some(Duration::from_millis(50)), |f, _| {
                seen |= f.get(54..58) == Some(&i.to_be_bytes()[..]);
            })
            .unwrap();
            if seen {
                break;
            }
        }
        sender.join().unwrap().unwrap().unwrap();
        assert!(seen, "frame {i} (sent after {delay:?}) not taken");
    }
}
