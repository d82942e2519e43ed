//! The shared-address mode: the kernel's RSTs for our port are seen by
//! RstWatch, and gone while an RstDropRule is installed.
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use rawnet::firewall::{rst_drop_commands, RstDropRule, RstWatch};
use rawnet::netns::{run, TestNet};

fn connect_from_b(net: &TestNet, port: u16) -> std::io::Result<TcpStream> {
    let to = SocketAddr::from((net.addr_a, port));
    net.run_in_b(|| TcpStream::connect_timeout(&to, Duration::from_millis(300)))
        .unwrap()
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
    let e = connect_from_b(&net, port).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);
    assert_eq!(count_for(&mut watch, Duration::from_millis(300)), 1);
    // Another port's RST does not count.
    let _ = connect_from_b(&net, port + 1);
    assert_eq!(count_for(&mut watch, Duration::from_millis(300)), 0);

    let rule = net
        .run_in_a(|| RstDropRule::install(net.addr_a, port))
        .unwrap()
        .unwrap();
    assert!(tables(&net).contains(rule.table()));
    let e = connect_from_b(&net, port).unwrap_err();
    assert_eq!(
        e.kind(),
        std::io::ErrorKind::TimedOut,
        "RST not dropped: {e}"
    );
    assert_eq!(count_for(&mut watch, Duration::from_millis(200)), 0);
    // The rule is scoped: other ports still get their RST.
    let e = connect_from_b(&net, port + 1).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);

    // Removal works from any thread (here: outside the namespace).
    let name = rule.table().to_string();
    rule.remove().unwrap();
    assert!(!tables(&net).contains(&name));
    let e = connect_from_b(&net, port).unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused);

    // Drop removes it too.
    let rule = net
        .run_in_a(|| RstDropRule::install(net.addr_a, port))
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
    let e = connect_from_b(&net, port).unwrap_err();
    assert_eq!(
        e.kind(),
        std::io::ErrorKind::TimedOut,
        "nft command did not drop the RST: {e}"
    );
    run(&mut net.exec_a(["nft", "delete", "table", "ip", &format!("tcpserver_{port}")])).unwrap();
    run(&mut net.exec_a(["sh", "-c", &ipt])).unwrap();
    let e = connect_from_b(&net, port).unwrap_err();
    assert_eq!(
        e.kind(),
        std::io::ErrorKind::TimedOut,
        "iptables command did not drop the RST: {e}"
    );
}
