//! `RawSocket::set_batch_max`: 200 frames waiting in the ring are handed
//! over 64 at a time (64, 64, 64, 8), in the order they came, none lost or
//! repeated; with no cap one call takes them all. `RawSocket::has_frames`
//! says whether frames still wait.
mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::TestNet;
use rawnet::RawSocket;

const PORT: u16 = 9700;
const N: u32 = 200;

#[test]
fn batches_are_capped_and_keep_order() {
    let net = TestNet::new("batch", 97).unwrap();
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let ours = Ipv4Addr::new(198, 18, 97, 10); // unowned: the kernel ignores the frames
    let cfg = filtered(ours, PORT, false);
    let mut rx = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let mut tx = sender_in_b(&net, false).0;
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: ours,
    };
    let mut frame = tcp_frame(&ends, 40000, PORT, 0x10, &[0u8; 4], true);
    let mut send_all = || {
        for seq in 0..N {
            frame[54..58].copy_from_slice(&seq.to_be_bytes());
            tx.queue(&frame).unwrap();
        }
        assert_eq!(tx.flush().unwrap(), N as usize);
    };
    // Takes batches until `want` frames came (bounded: 5 s); the sizes of
    // the batches and the frames' numbers in the order handed over.
    let take = |rx: &mut RawSocket, want: usize| {
        let (mut sizes, mut seqs) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + Duration::from_secs(5);
        while seqs.len() < want && Instant::now() < deadline {
            let n = rx
                .recv_batch(Some(Duration::from_millis(20)), |f, _| {
                    if let Some(s) = f.get(54..58) {
                        seqs.push(u32::from_be_bytes([s[0], s[1], s[2], s[3]]));
                    }
                })
                .unwrap();
            if n > 0 {
                sizes.push(n);
            }
        }
        (sizes, seqs)
    };

    rx.set_batch_max(64);
    assert!(!rx.has_frames());
    send_all();
    // All of them in the ring before the first call.
    std::thread::sleep(Duration::from_millis(100));
    assert!(rx.has_frames());
    let (mut sizes, mut seqs) = take(&mut rx, 1);
    assert_eq!(sizes, vec![64]);
    assert!(rx.has_frames(), "136 frames still wait");
    let (more_sizes, more_seqs) = take(&mut rx, N as usize - 64);
    sizes.extend(more_sizes);
    seqs.extend(more_seqs);
    assert!(!rx.has_frames());
    assert_eq!(
        seqs,
        (0..N).collect::<Vec<_>>(),
        "lost, repeated or reordered"
    );
    assert_eq!(sizes, vec![64, 64, 64, 8]);

    rx.set_batch_max(0);
    send_all();
    std::thread::sleep(Duration::from_millis(100));
    let (sizes, seqs) = take(&mut rx, N as usize);
    assert_eq!(seqs, (0..N).collect::<Vec<_>>());
    assert_eq!(sizes, vec![N as usize]);
}
