//! The TUN device: bare IPv4 and IPv6 packets read from and written to a
//! device in a namespace of each test's own (198.18.0.0/15 and 2001:2::/48
//! only), its lifetime, and its errors.
mod common;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::{fold, sum16};
use rawnet::netns::{run, TestNs};
use rawnet::{CsumStatus, Error, Interface, RxMeta, TunDevice, TunOptions};

/// Reads packets for up to 2 s until one satisfies `want`; returns it.
fn wait_for(tun: &mut TunDevice, want: impl Fn(&[u8]) -> bool) -> (Vec<u8>, RxMeta) {
    let end = Instant::now() + Duration::from_secs(2);
    let mut found = None;
    while found.is_none() && Instant::now() < end {
        tun.recv_batch(Some(Duration::from_millis(200)), |p, m| {
            if found.is_none() && want(p) {
                found = Some((p.to_vec(), *m));
            }
        })
        .unwrap();
    }
    found.expect("no matching packet within 2 s")
}

fn v4_dst(p: &[u8]) -> Option<Ipv4Addr> {
    (p.len() >= 20 && p[0] >> 4 == 4).then(|| Ipv4Addr::new(p[16], p[17], p[18], p[19]))
}

fn v6_dst(p: &[u8]) -> Option<Ipv6Addr> {
    (p.len() >= 40 && p[0] >> 4 == 6).then(|| {
        let b: [u8; 16] = p[24..40].try_into().unwrap();
        Ipv6Addr::from(b)
    })
}

/// Sends `payload` from a UDP socket made in `ns` to `to`.
fn udp_send_in(ns: &TestNs, to: SocketAddr, payload: &[u8]) {
    ns.run_in(|| {
        let any: SocketAddr = if to.is_ipv4() {
            "0.0.0.0:0".parse().unwrap()
        } else {
            "[::]:0".parse().unwrap()
        };
        let s = UdpSocket::bind(any).unwrap();
        s.send_to(payload, to).unwrap();
    })
    .unwrap();
}

/// Checks the UDP datagram in `p` (an IPv4 or IPv6 packet, IP header of
/// `ihl` bytes) for the ports and payload given; checks the UDP checksum
/// unless the kernel left it partial.
fn check_udp(p: &[u8], ihl: usize, dport: u16, payload: &[u8], meta: &RxMeta) {
    let udp = &p[ihl..];
    assert_eq!(u16::from_be_bytes([udp[2], udp[3]]), dport);
    assert_eq!(
        usize::from(u16::from_be_bytes([udp[4], udp[5]])),
        8 + payload.len()
    );
    assert_eq!(&udp[8..], payload);
    assert_eq!(meta.len, p.len());
    let pseudo = if ihl == 20 {
        sum16(&p[12..20], 17 + udp.len() as u32)
    } else {
        sum16(&p[8..40], 17 + udp.len() as u32)
    };
    if meta.csum == CsumStatus::NotReady {
        // Partial: the field holds the pseudo-header sum, the rest is ours.
        assert_eq!(u16::from_be_bytes([udp[6], udp[7]]), fold(pseudo));
    } else {
        assert_eq!(fold(sum16(udp, pseudo)), 0xffff, "UDP checksum");
    }
}

/// A test namespace with TUN device `tun0` in it, opened with `opts`,
/// addresses 198.18.`net`.1/24 and 2001:2:0:`net`::1/64, and prefixes
/// 198.18.`net + 1`.0/24 and 2001:2:0:`net + 1`::/64 routed to it.
fn setup(tag: &str, net: u8, opts: TunOptions) -> (TestNs, TunDevice) {
    let ns = TestNs::new(tag).unwrap();
    let tun = ns
        .run_in(|| TunDevice::open("tun0", &opts))
        .unwrap()
        .unwrap();
    assert_eq!(tun.name(), "tun0");
    assert!(tun.created() && !tun.persistent());
    assert!(tun.is_up().unwrap());
    tun.add_address(IpAddr::V4(Ipv4Addr::new(198, 18, net, 1)), 24)
        .unwrap();
    tun.add_address(v6(net, 1), 64).unwrap();
    tun.add_route(IpAddr::V4(Ipv4Addr::new(198, 18, net + 1, 0)), 24)
        .unwrap();
    tun.add_route(v6(net + 1, 0), 64).unwrap();
    (ns, tun)
}

/// 2001:2:0:`net`::`host`.
fn v6(net: u8, host: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 2, 0, u16::from(net), 0, 0, 0, host))
}

fn reads_what_the_namespace_sends(tag: &str, net: u8, opts: TunOptions) {
    let (ns, mut tun) = setup(tag, net, opts);
    let us4 = Ipv4Addr::new(198, 18, net, 1);
    // Without offloads, the kernel fills in every checksum and the device
    // says nothing about them; with them, it leaves them to us.
    let expect_csum = if opts.offload {
        CsumStatus::NotReady
    } else {
        CsumStatus::Unknown
    };

    // IPv4, to the device's subnet and to the prefix routed to it.
    for dst in [
        Ipv4Addr::new(198, 18, net, 2),
        Ipv4Addr::new(198, 18, net + 1, 5),
    ] {
        udp_send_in(&ns, SocketAddr::new(dst.into(), 4000), b"hello v4");
        let (p, meta) = wait_for(&mut tun, |p| v4_dst(p) == Some(dst) && p[9] == 17);
        assert_eq!(p[0], 0x45, "IPv4, 20-byte header, no Ethernet header");
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        assert_eq!(&p[12..16], &us4.octets());
        assert_eq!(fold(sum16(&p[..20], 0)), 0xffff, "IPv4 header checksum");
        check_udp(&p, 20, 4000, b"hello v4", &meta);
        assert_eq!(meta.csum, expect_csum);
    }

    // IPv6, likewise.
    for dst in [v6(net, 2), v6(net + 1, 5)] {
        udp_send_in(&ns, SocketAddr::new(dst, 4001), b"hello v6");
        let (p, meta) = wait_for(&mut tun, |p| {
            v6_dst(p).map(IpAddr::V6) == Some(dst) && p[6] == 17
        });
        assert_eq!(p[0] >> 4, 6);
        assert_eq!(usize::from(u16::from_be_bytes([p[4], p[5]])) + 40, p.len());
        let src: [u8; 16] = p[8..24].try_into().unwrap();
        assert_eq!(IpAddr::V6(Ipv6Addr::from(src)), v6(net, 1));
        check_udp(&p, 40, 4001, b"hello v6", &meta);
        assert_eq!(meta.csum, expect_csum);
    }

    // A TCP connection attempt: a SYN, read with `recv` into a buffer.
    let dst = Ipv4Addr::new(198, 18, net, 7);
    let connect = ns
        .run_in(|| {
            std::thread::spawn(move || {
                let to = SocketAddr::new(dst.into(), 8080);
                let _ = std::net::TcpStream::connect_timeout(&to, Duration::from_millis(500));
            })
        })
        .unwrap();
    let mut buf = vec![0u8; 2048];
    let end = Instant::now() + Duration::from_secs(2);
    let mut syn = None;
    while syn.is_none() && Instant::now() < end {
        tun.poll(Some(Duration::from_millis(200))).unwrap();
        while let Some(m) = tun.recv(&mut buf).unwrap() {
            let p = &buf[..m.len];
            if v4_dst(p) == Some(dst) && p[9] == 6 {
                syn = Some(p.to_vec());
            }
        }
    }
    connect.join().unwrap();
    let p = syn.expect("no TCP SYN within 2 s");
    assert_eq!(u16::from_be_bytes([p[22], p[23]]), 8080);
    assert_eq!(p[33] & 0x12, 0x02, "SYN without ACK");
    assert_eq!(&p[12..16], &us4.octets());

    // A packet larger than the buffer given to `recv`: cut to it, and its
    // whole length told.
    let big = [7u8; 1000];
    udp_send_in(&ns, SocketAddr::new(dst.into(), 4002), &big);
    let mut small = [0u8; 100];
    let end = Instant::now() + Duration::from_secs(2);
    let mut cut = None;
    while cut.is_none() && Instant::now() < end {
        tun.poll(Some(Duration::from_millis(200))).unwrap();
        while let Some(m) = tun.recv(&mut small).unwrap() {
            if v4_dst(&small) == Some(dst) && small[9] == 17 {
                cut = Some(m);
            }
        }
    }
    let m = cut.expect("no large UDP packet within 2 s");
    assert_eq!(m.len, 20 + 8 + 1000);
    assert_eq!(&small[28..], &big[..72]);
    assert!(tun.stats().rx_truncated >= 1);

    // Nothing else waiting that matters: a zero timeout returns at once.
    let t = Instant::now();
    tun.recv_batch(Some(Duration::ZERO), |_, _| {}).unwrap();
    assert!(t.elapsed() < Duration::from_millis(100));
    assert!(tun.stats().rx_packets >= 5);
}

#[test]
fn reads_ipv4_and_ipv6_packets() {
    reads_what_the_namespace_sends("tr1", 90, TunOptions::default());
}

#[test]
fn reads_with_vnet_hdr_and_offloads() {
    let opts = TunOptions {
        vnet_hdr: true,
        offload: true,
        mtu: Some(1400),
        ..TunOptions::default()
    };
    reads_what_the_namespace_sends("tr2", 92, opts);
}

/// A UDP datagram in an IPv4 packet, both checksums filled in.
fn udp4(src: Ipv4Addr, dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let len = 28 + payload.len();
    let mut p = vec![0u8; len];
    p[0] = 0x45;
    p[2..4].copy_from_slice(&(len as u16).to_be_bytes());
    p[4..6].copy_from_slice(&0x1234u16.to_be_bytes());
    p[8] = 64;
    p[9] = 17;
    p[12..16].copy_from_slice(&src.octets());
    p[16..20].copy_from_slice(&dst.octets());
    let c = !fold(sum16(&p[..20], 0));
    p[10..12].copy_from_slice(&c.to_be_bytes());
    udp_into(&mut p, 20, sport, dport, payload);
    let pseudo = sum16(&p[12..20], 17 + (8 + payload.len()) as u32);
    let c = !fold(sum16(&p[20..], pseudo));
    p[26..28].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
    p
}

/// A UDP datagram in an IPv6 packet, checksum filled in.
fn udp6(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let ulen = 8 + payload.len();
    let mut p = vec![0u8; 40 + ulen];
    p[0] = 0x60;
    p[4..6].copy_from_slice(&(ulen as u16).to_be_bytes());
    p[6] = 17;
    p[7] = 64;
    p[8..24].copy_from_slice(&src.octets());
    p[24..40].copy_from_slice(&dst.octets());
    udp_into(&mut p, 40, sport, dport, payload);
    let pseudo = sum16(&p[8..40], 17 + ulen as u32);
    let c = !fold(sum16(&p[40..], pseudo));
    p[46..48].copy_from_slice(&if c == 0 { 0xffff } else { c }.to_be_bytes());
    p
}

fn udp_into(p: &mut [u8], off: usize, sport: u16, dport: u16, payload: &[u8]) {
    p[off..off + 2].copy_from_slice(&sport.to_be_bytes());
    p[off + 2..off + 4].copy_from_slice(&dport.to_be_bytes());
    p[off + 4..off + 6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    p[off + 8..].copy_from_slice(payload);
}

/// A UDP socket bound in `ns` to `at`, with a 2 s receive timeout.
fn udp_socket_in(ns: &TestNs, at: SocketAddr) -> UdpSocket {
    ns.run_in(|| {
        let s = UdpSocket::bind(at).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s
    })
    .unwrap()
}

fn writes_what_the_namespace_receives(tag: &str, net: u8, opts: TunOptions) {
    let (ns, mut tun) = setup(tag, net, opts);
    let us4 = Ipv4Addr::new(198, 18, net, 1);
    let peer4 = Ipv4Addr::new(198, 18, net, 2);
    let sock4 = udp_socket_in(&ns, SocketAddr::new(us4.into(), 5000));
    let IpAddr::V6(us6) = v6(net, 1) else {
        unreachable!()
    };
    let IpAddr::V6(peer6) = v6(net + 1, 9) else {
        unreachable!()
    };
    let sock6 = udp_socket_in(&ns, SocketAddr::new(us6.into(), 5001));

    assert!(tun
        .send(&udp4(peer4, us4, 6000, 5000, b"from tun v4"))
        .unwrap());
    let mut buf = [0u8; 100];
    let (n, from) = sock4.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"from tun v4");
    assert_eq!(from, SocketAddr::new(peer4.into(), 6000));

    // A batch: IPv6, something that is not IP (skipped), IPv4 with UDP
    // checksum 0 (none, allowed for IPv4).
    let mut zero = udp4(peer4, us4, 6001, 5000, b"no checksum");
    zero[26..28].fill(0);
    let v6p = udp6(peer6, us6, 6002, 5001, b"from tun v6");
    let junk = [0x20u8; 40];
    let batch: [&[u8]; 3] = [&v6p, &junk, &zero];
    assert_eq!(tun.send_batch(&batch).unwrap(), 3);
    let refused = tun.take_refused().expect("the non-IP packet is refused");
    assert!(!refused.to_string().contains('\n'));
    assert_eq!(tun.take_refused(), None);
    let (n, from) = sock6.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"from tun v6");
    assert_eq!(from, SocketAddr::new(peer6.into(), 6002));
    let (n, from) = sock4.recv_from(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"no checksum");
    assert_eq!(from, SocketAddr::new(peer4.into(), 6001));
    let st = tun.stats();
    assert_eq!((st.tx_packets, st.tx_refused), (3, 1));

    // Down: sending fails with a one-line error naming the device.
    tun.set_up(false).unwrap();
    assert!(!tun.is_up().unwrap());
    let e = tun.send(&udp4(peer4, us4, 6000, 5000, b"x")).unwrap_err();
    assert_eq!(e, Error::InterfaceDown("tun0".into()));
}

#[test]
fn writes_ipv4_and_ipv6_packets() {
    writes_what_the_namespace_receives("tw1", 94, TunOptions::default());
}

#[test]
fn writes_with_vnet_hdr() {
    let opts = TunOptions {
        vnet_hdr: true,
        ..TunOptions::default()
    };
    writes_what_the_namespace_receives("tw2", 96, opts);
}

#[test]
fn mtu_is_set() {
    let ns = TestNs::new("tm").unwrap();
    let opts = TunOptions {
        mtu: Some(9000),
        ..TunOptions::default()
    };
    let tun = ns
        .run_in(|| TunDevice::open("tun0", &opts))
        .unwrap()
        .unwrap();
    assert_eq!(tun.mtu().unwrap(), 9000);
    tun.set_mtu(1280).unwrap();
    assert_eq!(tun.mtu().unwrap(), 1280);
    let e = tun.set_mtu(10).unwrap_err();
    assert!(
        matches!(e, Error::Tun(_)) && e.to_string().contains("68"),
        "{e}"
    );
    // Seen the same from inside the namespace.
    let seen = ns.run_in(Interface::list).unwrap().unwrap();
    let t = seen.iter().find(|i| i.name == "tun0").unwrap();
    assert_eq!(t.mtu, 1280);
    assert!(t.up);
}

/// Whether interface `name` is gone from `names()` within 2 s. (The kernel
/// removes a TUN device when the last copy of its file is closed; a child
/// process that another test thread is starting may hold one for a moment,
/// until it execs.)
fn gone(names: &dyn Fn() -> Vec<String>, name: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(2);
    loop {
        if !names().iter().any(|n| n == name) {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn lifetime_created_and_persistent() {
    let ns = TestNs::new("tl").unwrap();
    let names = || -> Vec<String> {
        ns.run_in(Interface::list)
            .unwrap()
            .unwrap()
            .into_iter()
            .map(|i| i.name)
            .collect()
    };
    // Created by us: gone once dropped.
    let tun = ns
        .run_in(|| TunDevice::open("tun0", &TunOptions::default()))
        .unwrap()
        .unwrap();
    assert!(tun.created() && !tun.persistent());
    assert!(names().contains(&"tun0".to_string()));
    // In use: a second open is refused with a clear error.
    let e = ns
        .run_in(|| TunDevice::open("tun0", &TunOptions::default()))
        .unwrap()
        .unwrap_err();
    assert!(e.to_string().contains("in use"), "{e}");
    drop(tun);
    assert!(gone(&names, "tun0"), "{:?}", names());

    // A name picked by the kernel.
    let tun = ns
        .run_in(|| TunDevice::open("tcps%d", &TunOptions::default()))
        .unwrap()
        .unwrap();
    assert_eq!(tun.name(), "tcps0");
    drop(tun);
    assert!(gone(&names, "tcps0"), "{:?}", names());

    // Persistent, made before: attached to, and kept.
    run(&mut ns.exec(["ip", "tuntap", "add", "dev", "ptun0", "mode", "tun"])).unwrap();
    let tun = ns
        .run_in(|| TunDevice::open("ptun0", &TunOptions::default()))
        .unwrap()
        .unwrap();
    assert!(!tun.created() && tun.persistent());
    assert!(tun.is_up().unwrap());
    drop(tun);
    assert!(names().contains(&"ptun0".to_string()));
    run(&mut ns.exec(["ip", "link", "del", "ptun0"])).unwrap();
}

#[test]
fn bad_names_are_clear_errors() {
    let ns = TestNs::new("tn").unwrap();
    ns.run_in(|| {
        let e = TunDevice::open("sixteen-bytes-xx", &TunOptions::default()).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::Tun(_)), "{e:?}");
        assert!(
            msg.contains("sixteen-bytes-xx") && msg.contains("15"),
            "{msg}"
        );
        assert!(!msg.contains('\n'));
        // An interface that is not a TUN device.
        let e = TunDevice::open("lo", &TunOptions::default()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("`lo`") && msg.contains("not a"), "{msg}");
        assert!(!msg.contains('\n'));
    })
    .unwrap();
}
