//! Attack, end to end (needs root): floods of malformed frames from a raw
//! socket in the client namespace. Subnets 198.18.203-204; spoofed sources
//! elsewhere in 198.18.0.0/15.
//!
//! The server's kernel filter (classic BPF) passes only IPv4 TCP frames to
//! its address that are not fragments (in own-address mode to every port:
//! the server answers its closed ports with a reset, RFC 9293 §3.10.7.1),
//! and ARP: random bytes, other EtherTypes, other protocols and every IPv4
//! fragment never reach user space. These tests send the classes that pass
//! the filter (and a few that do not, to show that they do not), check that
//! each is counted under its drop reason in the exit summary, that the
//! server sends nothing back (but the closed ports' resets) and makes no
//! connection, and that it still serves a normal client afterwards.

mod common;
#[path = "support/flood.rs"]
mod flood;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::Harness;
use flood::{note, Rng, Seg, Summary, FIN, SYN};
use nix::sys::signal::Signal;

const N: usize = 500;

/// A SYN (with an MSS option) from a random source in 198.18.0.0/15 and a
/// random port to the server: the raw material of every class.
fn base(rng: &mut Rng, server_mac: [u8; 6], mac: [u8; 6], own: Ipv4Addr, avoid: u8) -> Seg {
    let mut s = Seg::new(server_mac, mac, rng.spoofed_addr(avoid), own);
    s.sport = 1024 + rng.below(64000) as u16;
    s.seq = rng.u32();
    s.flags = SYN;
    s.options = vec![2, 4, 0x05, 0xb4];
    s
}

/// An ARP packet (Ethernet broadcast) with the given hardware length byte.
fn arp(mac: [u8; 6], sender: Ipv4Addr, target: Ipv4Addr, hlen: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(60);
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, hlen, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&sender.octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&target.octets());
    f.resize(60, 0);
    f
}

/// Sends `frames` in batches of 100 with a short pause, so that no frame is
/// lost to a full ring: the counts can then be exact.
fn send_paced(sock: &mut rawnet::RawSocket, frames: &[Vec<u8>]) -> usize {
    let mut sent = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    for c in frames.chunks(100) {
        sent += flood::send_all(sock, c, deadline);
        std::thread::sleep(Duration::from_millis(2));
    }
    sent
}

/// Every class of malformed frame that passes the kernel filter, 500 of
/// each: bad IPv4 and TCP checksums, IPv4 total length beyond the frame and
/// below the header, IP version 6 under EtherType IPv4, a TCP header cut
/// short, data offsets below 5 and beyond the segment, malformed options
/// (bad MSS length, zero length, running past the header), SYN+FIN, a
/// foreign destination MAC, a multicast source MAC, malformed ARP and ARP
/// for another address; SYNs to another port, each answered with a reset
/// (own-address mode: RFC 9293 §3.10.7.1, CLOSED); plus fragments and
/// random bytes, which the filter drops in the kernel. Each reason's count
/// is at least what was sent of it (no frame was dropped by a full ring),
/// the server sends no TCP segment during the flood but those resets, makes
/// no connection, and serves a normal client afterwards.
/// The veth pair keeps its default offloads: frames from a packet socket
/// arrive without the kernel's "checksum verified" mark, so the server
/// checks the TCP checksum itself. The frames received in the summary show
/// that the filtered classes never reached user space.
#[test]
fn attack_malformed_frames() {
    let t0 = Instant::now();
    let mut h = Harness::new("amal", 203);
    let own = h.own_addr();
    h.start(&["--ip", &own.to_string()]);
    assert!(h.send(own, b"before;").expect("first client").is_empty());
    let server_mac = flood::neigh_mac(&h.net.ns_b, own).expect("server MAC in ns b's ARP table");
    let (mut sock, iface_b) = flood::open_raw(&h.net.ns_b, &h.net.if_b, true);
    let mac = iface_b.mac;
    let mut rng = Rng::new(203);
    let mut sniff =
        flood::Sniffer::start(&h.net.ns_b, &h.net.if_b, 100_000, Duration::from_secs(60));

    // (name, reason in the summary (None: filtered in the kernel), frames)
    type Class<'a> = (&'a str, Option<&'a str>, Vec<Vec<u8>>);
    let mut classes: Vec<Class> = Vec::new();
    let mut class = |name, reason, f: &mut dyn FnMut(&mut Rng) -> Vec<u8>| {
        let frames = (0..N).map(|_| f(&mut rng)).collect();
        classes.push((name, reason, frames));
    };
    let b = |rng: &mut Rng| base(rng, server_mac, mac, own, 203);
    class("ipv4 header checksum", Some("bad-checksum"), &mut |r| {
        let mut f = b(r).frame();
        f[24] ^= 0x5a;
        f
    });
    class("tcp checksum", Some("bad-checksum"), &mut |r| {
        let mut f = b(r).frame();
        f[14 + 20 + 16] ^= 0xa5;
        f
    });
    class(
        "ipv4 total length beyond the frame",
        Some("bad-ipv4"),
        &mut |r| {
            let mut f = b(r).frame();
            let tot = u16::from_be_bytes([f[16], f[17]]) + 200;
            f[16..18].copy_from_slice(&tot.to_be_bytes());
            flood::fix_ip_checksum(&mut f);
            f
        },
    );
    class(
        "ipv4 total length below the header",
        Some("bad-ipv4"),
        &mut |r| {
            let mut f = b(r).frame();
            f[16..18].copy_from_slice(&16u16.to_be_bytes());
            flood::fix_ip_checksum(&mut f);
            f
        },
    );
    class(
        "ip version 6 under EtherType IPv4",
        Some("bad-ipv4"),
        &mut |r| {
            let mut f = b(r).frame();
            f[14] = 0x65;
            flood::fix_ip_checksum(&mut f);
            f
        },
    );
    class("tcp header cut to 12 bytes", Some("bad-tcp"), &mut |r| {
        let mut f = b(r).frame();
        f.truncate(14 + 20 + 12);
        f[16..18].copy_from_slice(&32u16.to_be_bytes());
        flood::fix_ip_checksum(&mut f);
        f
    });
    class("tcp data offset 3", Some("bad-tcp"), &mut |r| {
        let mut f = b(r).frame();
        f[14 + 20 + 12] = 3 << 4;
        flood::fix_tcp_checksum(&mut f);
        f
    });
    class(
        "tcp data offset beyond the segment",
        Some("bad-tcp"),
        &mut |r| {
            let mut f = b(r).frame();
            f[14 + 20 + 12] = 15 << 4;
            flood::fix_tcp_checksum(&mut f);
            f
        },
    );
    class("tcp options: MSS of length 3", Some("bad-tcp"), &mut |r| {
        let mut s = b(r);
        s.options = vec![2, 3, 5, 1];
        s.frame()
    });
    class("tcp options: length 0", Some("bad-tcp"), &mut |r| {
        let mut s = b(r);
        s.options = vec![1, 1, 8, 0];
        s.frame()
    });
    class("tcp options: past the header", Some("bad-tcp"), &mut |r| {
        let mut s = b(r);
        s.options = vec![2, 4, 5, 0xb4, 30, 12, 0, 0];
        s.frame()
    });
    class("tcp SYN+FIN", Some("bad-tcp"), &mut |r| {
        let mut s = b(r);
        s.flags = SYN | FIN;
        s.frame()
    });
    class("foreign destination MAC", Some("not-for-us"), &mut |r| {
        let mut s = b(r);
        s.dst_mac = [0x02, 0, 0, 0, 0, 0x99];
        s.frame()
    });
    class("multicast source MAC", Some("bad-source"), &mut |r| {
        let mut s = b(r);
        s.src_mac = [0x01, 0x00, 0x5e, 0, 0, 0x01];
        s.frame()
    });
    class("ARP with hardware length 7", Some("bad-arp"), &mut |r| {
        arp(mac, r.spoofed_addr(203), own, 7)
    });
    class("ARP for another address", Some("arp-ignored"), &mut |r| {
        arp(mac, r.spoofed_addr(203), Ipv4Addr::new(198, 18, 203, 77), 6)
    });
    // Own-address mode: a closed port of our address, answered with a
    // reset each (RFC 9293 §3.10.7.1).
    class("TCP to another port", Some("no-connection"), &mut |r| {
        let mut s = b(r);
        s.dport = 3001;
        s.frame()
    });
    // Filtered in the kernel: these never reach the server.
    class("fragment (MF, offset 0)", None, &mut |r| {
        let mut f = b(r).frame();
        f[20..22].copy_from_slice(&0x2000u16.to_be_bytes());
        flood::fix_ip_checksum(&mut f);
        f
    });
    class("fragment (offset 185)", None, &mut |r| {
        let mut f = b(r).frame();
        f[20..22].copy_from_slice(&185u16.to_be_bytes());
        flood::fix_ip_checksum(&mut f);
        f
    });
    class("random bytes", None, &mut |r| {
        let mut f = vec![0u8; 60 + r.below(1000) as usize];
        flood::fill(r, &mut f);
        f[..6].copy_from_slice(&server_mac);
        f
    });

    let passing: usize = classes
        .iter()
        .filter(|c| c.1.is_some())
        .map(|c| c.2.len())
        .sum();
    let start = Instant::now();
    let mut sent_by_reason: Vec<(&str, usize)> = Vec::new();
    for (name, reason, frames) in &classes {
        let n = send_paced(&mut sock, frames);
        assert_eq!(
            n,
            frames.len(),
            "{name}: the raw socket did not take every frame"
        );
        if let Some(r) = reason {
            match sent_by_reason.iter_mut().find(|(x, _)| x == r) {
                Some(e) => e.1 += n,
                None => sent_by_reason.push((r, n)),
            }
        }
    }
    let took = start.elapsed();
    std::thread::sleep(Duration::from_millis(300));
    let seen = sniff.stop();
    let ours = seen.iter().filter(|s| s.src == own && s.at >= start);
    let closed_port_resets = ours
        .clone()
        .filter(|s| s.sport == 3001 && s.flags & 0x04 != 0)
        .count();
    let replies = ours.count() - closed_port_resets;
    note(
        "attack_malformed_frames",
        &format!(
            "{} frames in {} classes sent in {:.2} s; the server sent {closed_port_resets} resets for the closed port and {replies} other TCP segments meanwhile",
            classes.iter().map(|c| c.2.len()).sum::<usize>(),
            classes.len(),
            took.as_secs_f64()
        ),
        t0,
    );

    // Still serving.
    assert!(h
        .send(own, b"after")
        .expect("client after the flood")
        .is_empty());
    std::thread::sleep(Duration::from_millis(200));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    eprintln!("{err}");
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(h.stdout(), b"before;after");
    let s = Summary::parse(&err).expect("summary");
    for (reason, n) in &sent_by_reason {
        let got = flood::dropped(&err, reason);
        eprintln!("[attack_malformed_frames] {reason}: sent {n}, counted {got}");
        assert!(
            got + s.ring_drops >= *n as u64,
            "{reason}: sent {n}, counted {got} (ring drops {})\n{err}",
            s.ring_drops
        );
    }
    assert_eq!(
        flood::dropped(&err, "fragment"),
        0,
        "fragments are filtered in the kernel"
    );
    // The two clients' frames are a few dozen; nothing of the 1500 filtered
    // frames came through.
    assert!(
        s.rx_frames >= passing as u64 && s.rx_frames < passing as u64 + 100,
        "{} frames received for {passing} that pass the filter: {err}",
        s.rx_frames
    );
    assert_eq!(replies, 0, "the server answered malformed frames");
    assert_eq!(
        (s.established, s.normal, s.reset),
        (2, 2, 0),
        "no connection but the two clients': {s:?}"
    );
    // One reset per SYN to the closed port, and no other.
    assert!(
        s.resets_sent <= N as u64 && s.resets_sent + s.ring_drops >= N as u64,
        "{} resets for {N} SYNs to a closed port (ring drops {})",
        s.resets_sent,
        s.ring_drops
    );
    assert!(
        closed_port_resets as u64 <= s.resets_sent,
        "{closed_port_resets} resets seen, {} sent",
        s.resets_sent
    );
    note("attack_malformed_frames", "passed", t0);
}

/// 500 SYNs in 802.1Q VLAN 42 from random sources. The veth driver's
/// receive path moves the tag out of the frame (into the packet's metadata,
/// `tp_vlan_tci`), so the frame bytes look untagged; a server on a trunk
/// port must not answer frames of a VLAN it is not on. rawnet's kernel
/// filter drops tagged frames (`SKF_AD_VLAN_TAG_PRESENT`): no reply, no
/// connection, nothing reaches the server.
#[test]
fn attack_vlan_tagged_frames() {
    let t0 = Instant::now();
    let mut h = Harness::new("avlan", 204);
    let own = h.own_addr();
    h.start(&["--ip", &own.to_string()]);
    assert!(h.send(own, b"x").expect("first client").is_empty());
    let server_mac = flood::neigh_mac(&h.net.ns_b, own).expect("server MAC in ns b's ARP table");
    let (mut sock, iface_b) = flood::open_raw(&h.net.ns_b, &h.net.if_b, true);
    let mut rng = Rng::new(204);
    let frames: Vec<Vec<u8>> = (0..N)
        .map(|_| {
            let f = base(&mut rng, server_mac, iface_b.mac, own, 204).frame();
            let mut v = Vec::with_capacity(f.len() + 4);
            v.extend_from_slice(&f[..12]);
            v.extend_from_slice(&[0x81, 0x00, 0x00, 42]);
            v.extend_from_slice(&f[12..]);
            v
        })
        .collect();
    let mut sniff =
        flood::Sniffer::start(&h.net.ns_b, &h.net.if_b, 100_000, Duration::from_secs(30));
    let start = Instant::now();
    assert_eq!(send_paced(&mut sock, &frames), N);
    std::thread::sleep(Duration::from_millis(300));
    let replies = sniff
        .stop()
        .iter()
        .filter(|s| s.src == own && s.at >= start)
        .count();
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    eprintln!("{err}");
    assert!(st.success(), "exit {st}: {err}");
    eprintln!(
        "[attack_vlan_tagged_frames] {N} tagged SYNs: the server sent {replies} TCP segments, bad-ethernet {}",
        flood::dropped(&err, "bad-ethernet")
    );
    note("attack_vlan_tagged_frames", "done", t0);
    assert_eq!(replies, 0, "the server answered VLAN-tagged SYNs");
    // Only the first client's connection was ever made; none aborted at exit.
    assert!(err.contains("connections  1 established"), "{err}");
    assert!(err.contains("0 aborted"), "{err}");
}
