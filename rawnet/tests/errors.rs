//! Interface discovery and its errors.
use std::net::Ipv4Addr;

use rawnet::netns::{run, TestNet};
use rawnet::{Error, Interface, RawSocket, SocketConfig};

#[test]
fn unknown_interface_is_named() {
    let e = Interface::by_name("nope0").unwrap_err();
    assert_eq!(e, Error::NoSuchInterface("nope0".into()));
    let msg = e.to_string();
    assert!(msg.contains("nope0") && msg.contains("ip link"), "{msg}");
    assert!(!msg.contains('\n'));
}

#[test]
fn interfaces_in_a_namespace() {
    let net = TestNet::new("err", 61).unwrap();
    net.run_in_a(|| {
        let list = Interface::list().unwrap();
        let names: Vec<&str> = list.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["lo", net.if_a.as_str()]);
        let lo = &list[0];
        assert!(lo.loopback && lo.up);
        assert_eq!(lo.ipv4, Some((Ipv4Addr::LOCALHOST, 8)));
        let a = Interface::by_name(&net.if_a).unwrap();
        assert_eq!(a.ipv4, Some((net.addr_a, 24)));
        assert_eq!(a.mtu, 1500);
        assert!(a.up && !a.loopback && a.index > 1);
        assert_ne!(a.mac, [0; 6]);
        assert_eq!(Interface::default_interface().unwrap(), a);
        assert!(a.owns_address(net.addr_a));
        assert!(a.owns_address(Ipv4Addr::LOCALHOST));
        assert!(!a.owns_address(net.addr_b), "b's address is not ours");
        assert!(!a.owns_address(Ipv4Addr::new(198, 18, 61, 10)));
        assert_eq!(
            Interface::by_name("nope0"),
            Err(Error::NoSuchInterface("nope0".into()))
        );
    })
    .unwrap();

    let mut sock = net
        .run_in_a(|| RawSocket::open(&Interface::by_name(&net.if_a)?, &SocketConfig::default()))
        .unwrap()
        .unwrap();
    run(&mut net.exec_a(["ip", "link", "set", &net.if_a, "down"])).unwrap();
    let r = sock.recv_batch(Some(std::time::Duration::from_millis(200)), |_, _| {});
    assert_eq!(r, Err(Error::InterfaceDown(net.if_a.clone())));
    // Reported once; afterwards the socket simply waits.
    let r = sock.recv_batch(Some(std::time::Duration::from_millis(10)), |_, _| {});
    assert_eq!(r, Ok(0));
    net.run_in_a(|| {
        let e = Interface::by_name(&net.if_a).unwrap_err();
        assert_eq!(e, Error::InterfaceDown(net.if_a.clone()));
        assert!(e
            .to_string()
            .contains(&format!("ip link set {} up", net.if_a)));
        assert_eq!(
            Interface::default_interface(),
            Err(Error::NoDefaultInterface)
        );
        // Opening on a down interface works (it may come up later) or fails
        // with a one-line error, never a panic.
        let iface = Interface::list()
            .unwrap()
            .into_iter()
            .find(|i| i.name == net.if_a)
            .unwrap();
        if let Err(e) = RawSocket::open(&iface, &SocketConfig::default()) {
            assert!(!e.to_string().contains('\n'));
        }
    })
    .unwrap();
}

#[test]
fn bad_config_is_refused() {
    let net = TestNet::new("cfg", 62).unwrap();
    let a = net.iface_a().unwrap();
    let r = net
        .run_in_a(|| {
            RawSocket::open(
                &a,
                &SocketConfig {
                    block_size: 1000,
                    ..SocketConfig::default()
                },
            )
        })
        .unwrap();
    assert!(matches!(r, Err(Error::InvalidConfig(_))), "{r:?}");
    // A tiny ring is still at least one block.
    let r = net
        .run_in_a(|| {
            RawSocket::open(
                &a,
                &SocketConfig {
                    ring_bytes: 1,
                    ..SocketConfig::default()
                },
            )
        })
        .unwrap();
    assert!(r.is_ok(), "{r:?}");
    // A vanished interface index.
    let mut gone = a.clone();
    gone.index = 999_999;
    gone.name = "gone0".into();
    let r = net
        .run_in_a(|| RawSocket::open(&gone, &SocketConfig::default()))
        .unwrap();
    assert_eq!(r.unwrap_err(), Error::NoSuchInterface("gone0".into()));
}

#[test]
fn messages_are_one_line() {
    let all = [
        Error::PermissionDenied,
        Error::NoSuchInterface("x".into()),
        Error::InterfaceDown("x".into()),
        Error::NoIpv4("x".into()),
        Error::NoDefaultInterface,
        Error::AddressInUse {
            addr: Ipv4Addr::new(198, 18, 0, 1),
            iface: "x".into(),
        },
        Error::Firewall("nft not found: apt-get install nftables".into()),
        Error::InvalidConfig("y"),
        Error::Io {
            context: "poll",
            source: nix::errno::Errno::EINVAL,
        },
    ];
    for e in all {
        let m = e.to_string();
        assert!(!m.is_empty() && !m.contains('\n'), "{m}");
    }
    assert!(Error::PermissionDenied
        .to_string()
        .contains("setcap cap_net_raw"));
}

/// A frame larger than the interface MTU is that frame's problem: `flush`
/// skips it (the kernel's `EMSGSIZE`), sends the frames before and after
/// it, counts it in `tx_refused`, and keeps the error for a warning. Before
/// this, the whole flush failed and the server exited on one peer's SYN
/// announcing MSS 8960 (issue #14).
#[test]
fn a_frame_over_the_mtu_is_skipped_not_fatal() {
    let net = TestNet::new("big", 63).unwrap();
    let mut sock = net
        .run_in_a(|| RawSocket::open(&Interface::by_name(&net.if_a)?, &SocketConfig::default()))
        .unwrap()
        .unwrap();
    // Ethernet frames to the broadcast address, EtherType 0x88b5 (local
    // experimental): 60 bytes, 1514 + 100 (over MTU 1500), 60 bytes.
    let frame = |len: usize| {
        let mut f = vec![0u8; len];
        f[..6].copy_from_slice(&[0xff; 6]);
        f[6..12].copy_from_slice(&[0x02, 0, 0, 0, 0, 1]);
        f[12..14].copy_from_slice(&[0x88, 0xb5]);
        f
    };
    sock.queue(&frame(60)).unwrap();
    sock.queue(&frame(1614)).unwrap();
    sock.queue(&frame(60)).unwrap();
    assert_eq!(sock.flush(), Ok(2));
    let st = sock.stats().unwrap();
    assert_eq!((st.tx_frames, st.tx_refused, st.tx_dropped), (2, 1, 1));
    let e = sock.take_refused().expect("the refused frame is reported");
    assert!(
        e.to_string().contains("larger than the interface MTU"),
        "{e}"
    );
    assert!(sock.take_refused().is_none(), "reported once");
    // The socket goes on working.
    sock.queue(&frame(60)).unwrap();
    assert_eq!(sock.flush(), Ok(1));
}
