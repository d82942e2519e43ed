//! Answering ARP for an address the kernel does not own, by hand, through a
//! RawSocket: ns b's kernel learns our MAC.
mod common;

use std::net::{Ipv4Addr, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use rawnet::netns::{run, TestNet};
use rawnet::{Filter, RawSocket, SocketConfig};

#[test]
fn arp_reply_from_raw_socket_reaches_peer_neighbour_table() {
    let net = TestNet::new("arp", 51).unwrap();
    let a = net.iface_a().unwrap();
    let ours = Ipv4Addr::new(198, 18, 51, 10);
    assert!(!net.run_in_a(|| a.owns_address(ours)).unwrap());
    let cfg = SocketConfig {
        filter: Some(Filter {
            ipv4: ours,
            tcp_port: 80,
            arp: true,
            ipv6: None,
            all_ports: false,
        }),
        ..SocketConfig::default()
    };
    let mut sock = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mac = a.mac;
    let responder = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let end = Instant::now() + Duration::from_secs(10);
            let mut answered = 0;
            while !stop.load(Ordering::Acquire) && Instant::now() < end {
                let mut replies = Vec::new();
                sock.recv_batch(Some(Duration::from_millis(20)), |f, _| {
                    // ARP request (op 1) for `ours`?
                    if ethertype(f) == 0x0806
                        && f.get(20..22) == Some(&[0, 1])
                        && f.get(38..42) == Some(&ours.octets())
                    {
                        let mut sha = [0u8; 6];
                        sha.copy_from_slice(&f[22..28]);
                        let spa = Ipv4Addr::new(f[28], f[29], f[30], f[31]);
                        replies.push(arp_frame(sha, 2, mac, ours, sha, spa));
                    }
                })
                .unwrap();
                for r in &replies {
                    sock.queue(r).unwrap();
                    answered += 1;
                }
                sock.flush().unwrap();
            }
            answered
        }
    });
    // Any datagram to `ours` makes ns b's kernel ARP for it.
    net.run_in_b(|| {
        let u = UdpSocket::bind("0.0.0.0:0").unwrap();
        u.send_to(b"hello", (ours, 9)).unwrap();
    })
    .unwrap();
    let want = mac
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    let end = Instant::now() + Duration::from_secs(5);
    let mut shown = String::new();
    while Instant::now() < end {
        let out = run(std::process::Command::new("ip").args([
            "-n",
            &net.ns_b,
            "neigh",
            "show",
            &ours.to_string(),
        ]))
        .unwrap();
        shown = String::from_utf8_lossy(&out.stdout).into_owned();
        if shown.contains(&format!("lladdr {want}")) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Release);
    let answered = responder.join().unwrap();
    assert!(answered >= 1, "no ARP request seen");
    assert!(
        shown.contains(&format!("lladdr {want}")),
        "neigh shows `{}`",
        shown.trim()
    );
}
