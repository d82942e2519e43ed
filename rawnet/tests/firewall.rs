//! The shared-address mode: the kernel's RSTs for our port are seen by
//! RstWatch, and gone while an NftTable::install_rst_drop rule is installed;
//! with an NftTable::install_ingress_drop rule the kernel never sees our
//! frames while a packet socket still does.
mod common;

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rawnet::firewall::{rst_drop_commands, NftTable, RstWatch};
use rawnet::netns::{run, TestNet};
use rawnet::RawSocket;

fn connect_from_b(net: &TestNet, port: u16) -> std::io::Result<TcpStream> {
    let to = SocketAddr::from((net.addr_a, port));
    net.run_in_b(|| TcpStream::connect_timeout(&to, Duration::from_millis(300)))
        .unwrap()
}

/// Connects from namespace b and expects it to fail with `kind`.
fn expect_connect_error(net: &TestNet, port: u16, kind: std::io::ErrorKind, what: &str) {
    let e = connect_from_b(net, port).unwrap_err();
    assert_eq!(e.kind(), kind, "{what}: {e}");
}

/// Sum of poll_count over `dur` (bounded).
fn count_for(w: &mut RstWatch, dur: Duration) -> usize {
    let end = Instant::now() + dur;
    let mut n = 0;
    while Instant::now() < end {
        n += w.poll_count();
        std::thread::sleep(Duration::from_millis(20));
    }
    n
}

fn tables(net: &TestNet) -> String {
    let out = run(&mut net.exec_a(["nft", "list", "tables"])).unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn rst_watch_sees_kernel_rsts_and_the_rule_drops_them() {
    let net = TestNet::new("fw", 71).unwrap();
    let a = net.iface_a().unwrap();
    let port = 7100;
    let mut watch = net
        .run_in_a(|| RstWatch::new(&a, net.addr_a, port))
        .unwrap()
        .unwrap();
    assert_eq!(watch.poll_count(), 0);

    // Nobody listens: ns a's kernel answers the SYN with a RST.
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::ConnectionRefused,
        "expected the kernel's RST",
    );
    assert_eq!(count_for(&mut watch, Duration::from_millis(300)), 1);
    // Another port's RST does not count.
    let _ = connect_from_b(&net, port + 1);
    assert_eq!(count_for(&mut watch, Duration::from_millis(300)), 0);

    let rule = net
        .run_in_a(|| NftTable::install_rst_drop(net.addr_a, port))
        .unwrap()
        .unwrap();
    assert!(tables(&net).contains(rule.table()));
    expect_connect_error(&net, port, std::io::ErrorKind::TimedOut, "RST not dropped");
    assert_eq!(count_for(&mut watch, Duration::from_millis(200)), 0);
    // The rule is scoped: other ports still get their RST.
    expect_connect_error(
        &net,
        port + 1,
        std::io::ErrorKind::ConnectionRefused,
        "expected the kernel's RST",
    );

    // Removal works from any thread (here: outside the namespace).
    let name = rule.table().to_string();
    rule.remove().unwrap();
    assert!(!tables(&net).contains(&name));
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::ConnectionRefused,
        "expected the kernel's RST",
    );

    // Drop removes it too.
    let rule = net
        .run_in_a(|| NftTable::install_rst_drop(net.addr_a, port))
        .unwrap()
        .unwrap();
    assert!(tables(&net).contains(&name));
    drop(rule);
    assert!(!tables(&net).contains(&name));
}

#[test]
fn printed_commands_are_valid_and_scoped() {
    let net = TestNet::new("fwc", 72).unwrap();
    let port = 7200;
    let (nft, ipt) = rst_drop_commands(net.addr_a, port);
    assert!(
        nft.contains(&format!("ip saddr {} tcp sport {port}", net.addr_a)),
        "{nft}"
    );
    assert!(
        ipt.contains(&format!("-s {}/32", net.addr_a)) && ipt.contains(&format!("--sport {port}"))
    );
    run(&mut net.exec_a(["sh", "-c", &nft])).unwrap();
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::TimedOut,
        "nft command did not drop the RST",
    );
    run(&mut net.exec_a(["nft", "delete", "table", "ip", &format!("tcpserver_{port}")])).unwrap();
    run(&mut net.exec_a(["sh", "-c", &ipt])).unwrap();
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::TimedOut,
        "iptables command did not drop the RST",
    );
}

/// SYNs to `port` that `sock` saw within `dur`.
fn syns_seen(sock: &mut RawSocket, port: u16, dur: Duration) -> usize {
    common::collect(sock, dur)
        .iter()
        .filter(|(f, _)| common::ports(f).is_some_and(|(_, d)| d == port))
        .count()
}

#[test]
fn ingress_rule_hides_our_frames_from_the_kernel_not_from_packet_sockets() {
    let net = TestNet::new("fwi", 73).unwrap();
    let a = net.iface_a().unwrap();
    let port = 7300;
    let cfg = common::filtered(net.addr_a, port, false);
    let mut sock = net.run_in_a(|| RawSocket::open(&a, &cfg)).unwrap().unwrap();

    // Without the rule the kernel (nobody listens) refuses, and the packet
    // socket sees the SYN.
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::ConnectionRefused,
        "expected the kernel's RST",
    );
    assert!(syns_seen(&mut sock, port, Duration::from_millis(100)) >= 1);

    let rule = net
        .run_in_a(|| NftTable::install_ingress_drop(&a.name, net.addr_a, port))
        .unwrap()
        .unwrap();
    assert_eq!(rule.family(), "netdev");
    assert!(tables(&net).contains(rule.table()));
    // The kernel no longer sees the SYN (no RST: the connect times out),
    // the packet socket still does.
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::TimedOut,
        "kernel saw the SYN",
    );
    assert!(syns_seen(&mut sock, port, Duration::from_millis(100)) >= 1);
    // Scoped to the port: another one is still refused by the kernel.
    expect_connect_error(
        &net,
        port + 1,
        std::io::ErrorKind::ConnectionRefused,
        "expected the kernel's RST",
    );

    let name = rule.table().to_string();
    rule.remove().unwrap();
    assert!(!tables(&net).contains(&name));
    expect_connect_error(
        &net,
        port,
        std::io::ErrorKind::ConnectionRefused,
        "expected the kernel's RST",
    );

    // A name nft would choke on is refused before nft runs.
    assert!(NftTable::install_ingress_drop("va\"; flush ruleset", net.addr_a, port).is_err());
}
