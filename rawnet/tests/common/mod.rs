//! Helpers shared by the integration tests: frame builders, a checksum
//! check, and bounded receive loops. (Written here rather than taken from
//! tcpcore, which rawnet must not depend on.)
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use rawnet::netns::TestNet;
use rawnet::{Filter, RawSocket, RxMeta, SocketConfig};

/// The default socket configuration with the kernel-side filter for TCP to
/// `ipv4:port` (and ARP if `arp`).
pub fn filtered(ipv4: Ipv4Addr, tcp_port: u16, arp: bool) -> SocketConfig {
    SocketConfig {
        filter: Some(Filter {
            ipv4,
            tcp_port,
            arp,
            ipv6: None,
            all_ports: false,
        }),
        ..SocketConfig::default()
    }
}

/// One's-complement sum of `data` added to `init` (not folded).
pub fn sum16(data: &[u8], init: u32) -> u32 {
    let mut s = init;
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        s += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [last] = chunks.remainder() {
        s += u32::from(*last) << 8;
    }
    s
}

pub fn fold(mut s: u32) -> u16 {
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s as u16
}

pub fn pseudo(src: [u8; 4], dst: [u8; 4], proto: u8, len: usize) -> u32 {
    let mut s = sum16(&src, 0);
    s = sum16(&dst, s);
    s + u32::from(proto) + len as u32
}

/// True if the frame is IPv4 TCP/UDP and its transport checksum verifies.
pub fn l4_checksum_ok(frame: &[u8]) -> bool {
    let Some(ip) = frame.get(14..) else {
        return false;
    };
    if ip.len() < 20 {
        return false;
    }
    let ihl = usize::from(ip[0] & 0xf) * 4;
    let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
    let Some(seg) = ip.get(ihl..total) else {
        return false;
    };
    let src = [ip[12], ip[13], ip[14], ip[15]];
    let dst = [ip[16], ip[17], ip[18], ip[19]];
    fold(sum16(seg, pseudo(src, dst, ip[9], seg.len()))) == 0xffff
}

/// Everything needed to build a frame.
#[derive(Clone, Copy)]
pub struct Ends {
    pub src_mac: [u8; 6],
    pub dst_mac: [u8; 6],
    pub src_ip: Ipv4Addr,
    pub dst_ip: Ipv4Addr,
}

/// A sending socket in `net`'s namespace b (a small ring: it receives
/// nothing of interest), with GSO on if `gso` (the GSO socket is opened in
/// ns b too: a packet socket belongs to the namespace it is made in), and
/// the ends of a frame from b to a.
pub fn sender_in_b(net: &TestNet, gso: bool) -> (RawSocket, Ends) {
    let a = net.iface_a().unwrap();
    let b = net.iface_b().unwrap();
    let tx = net
        .run_in_b(|| {
            let cfg = SocketConfig {
                ring_bytes: 1 << 20,
                ..SocketConfig::default()
            };
            let mut s = RawSocket::open(&b, &cfg)?;
            if gso {
                s.enable_gso()?;
            }
            Ok::<_, rawnet::Error>(s)
        })
        .unwrap()
        .unwrap();
    let ends = Ends {
        src_mac: b.mac,
        dst_mac: a.mac,
        src_ip: net.addr_b,
        dst_ip: net.addr_a,
    };
    (tx, ends)
}

fn ipv4(e: &Ends, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = Vec::with_capacity(34 + l4.len());
    f.extend_from_slice(&e.dst_mac);
    f.extend_from_slice(&e.src_mac);
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + l4.len()) as u16;
    let mut ip = [0u8; 20];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[6] = 0x40; // DF
    ip[8] = 64;
    ip[9] = proto;
    ip[12..16].copy_from_slice(&e.src_ip.octets());
    ip[16..20].copy_from_slice(&e.dst_ip.octets());
    let c = !fold(sum16(&ip, 0));
    ip[10..12].copy_from_slice(&c.to_be_bytes());
    f.extend_from_slice(&ip);
    f.extend_from_slice(l4);
    f
}

/// An IPv4 TCP frame; `good_csum` false writes a wrong checksum on purpose.
pub fn tcp_frame(
    e: &Ends,
    sport: u16,
    dport: u16,
    flags: u8,
    payload: &[u8],
    good_csum: bool,
) -> Vec<u8> {
    let mut t = vec![0u8; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t[14..16].copy_from_slice(&65535u16.to_be_bytes());
    t.extend_from_slice(payload);
    let mut c = !fold(sum16(
        &t,
        pseudo(e.src_ip.octets(), e.dst_ip.octets(), 6, t.len()),
    ));
    if !good_csum {
        c ^= 0x5a5a;
    }
    t[16..18].copy_from_slice(&c.to_be_bytes());
    ipv4(e, 6, &t)
}

/// An IPv4 UDP frame with a correct checksum.
pub fn udp_frame(e: &Ends, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0u8; 8];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    let c = !fold(sum16(
        &u,
        pseudo(e.src_ip.octets(), e.dst_ip.octets(), 17, u.len()),
    ));
    u[6..8].copy_from_slice(&c.to_be_bytes());
    ipv4(e, 17, &u)
}

/// An ARP request or reply (op 1 / 2) for IPv4 over Ethernet.
pub fn arp_frame(
    dst_mac: [u8; 6],
    op: u16,
    sha: [u8; 6],
    spa: Ipv4Addr,
    tha: [u8; 6],
    tpa: Ipv4Addr,
) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&dst_mac);
    f.extend_from_slice(&sha);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0x00, 6, 4]);
    f.extend_from_slice(&op.to_be_bytes());
    f.extend_from_slice(&sha);
    f.extend_from_slice(&spa.octets());
    f.extend_from_slice(&tha);
    f.extend_from_slice(&tpa.octets());
    f
}

pub fn ethertype(f: &[u8]) -> u16 {
    f.get(12..14)
        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]))
}

/// (src port, dst port) of an IPv4 TCP/UDP frame.
pub fn ports(f: &[u8]) -> Option<(u16, u16)> {
    if ethertype(f) != 0x0800 {
        return None;
    }
    let ihl = usize::from(f.get(14)? & 0xf) * 4;
    let p = f.get(14 + ihl..14 + ihl + 4)?;
    Some((
        u16::from_be_bytes([p[0], p[1]]),
        u16::from_be_bytes([p[2], p[3]]),
    ))
}

pub fn ip_proto(f: &[u8]) -> Option<u8> {
    (ethertype(f) == 0x0800)
        .then(|| f.get(23).copied())
        .flatten()
}

/// Receives for `dur` (bounded), keeping a copy of every frame.
pub fn collect(sock: &mut RawSocket, dur: Duration) -> Vec<(Vec<u8>, RxMeta)> {
    let end = Instant::now() + dur;
    let mut out = Vec::new();
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        sock.recv_batch(Some(left.min(Duration::from_millis(50))), |f, m| {
            out.push((f.to_vec(), *m))
        })
        .expect("recv_batch");
    }
    out
}

/// Receives until `pred` holds for a frame or `dur` is over; returns the frame.
pub fn wait_for(
    sock: &mut RawSocket,
    dur: Duration,
    mut pred: impl FnMut(&[u8]) -> bool,
) -> Option<(Vec<u8>, RxMeta)> {
    let end = Instant::now() + dur;
    let mut found = None;
    while found.is_none() {
        let left = end.checked_duration_since(Instant::now())?;
        sock.recv_batch(Some(left.min(Duration::from_millis(50))), |f, m| {
            if found.is_none() && pred(f) {
                found = Some((f.to_vec(), *m));
            }
        })
        .expect("recv_batch");
    }
    found
}
