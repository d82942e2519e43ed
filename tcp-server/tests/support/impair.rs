//! Link impairments made inside the test namespaces (so they vanish with
//! them): random loss and duplication with nftables, rate limits with the
//! `tbf` qdisc. This kernel has no netem.
//!
//! The client's kernel TCP in namespace b passes netfilter both ways, so
//! loss in both directions is made there (`output` for client -> server,
//! `prerouting` for server -> client). The server's frames leave through an
//! AF_PACKET socket, which skips the IP hooks but not the netdev `egress`
//! hook, so server -> client duplication is made there, in namespace a.

use rawnet::netns::{exec, run, TestNet};

/// Makes the client's kernel hand netfilter single MTU-sized segments:
/// offloads off on both veth ends (no TSO/GSO/GRO) and `gso_max_segs 1` on
/// the client's veth (Linux TCP always builds GSO packets, segmented only
/// after the netfilter hooks; with one segment per packet, a rule's
/// percentage is a percentage of segments on the wire).
pub fn segment_sized(net: &TestNet) {
    net.set_offloads(false).expect("ethtool -K");
    run(std::process::Command::new("ip").args([
        "-n",
        &net.ns_b,
        "link",
        "set",
        "dev",
        &net.if_b,
        "gso_max_segs",
        "1",
    ]))
    .expect("ip link set gso_max_segs");
}

/// Loads an nftables script in namespace `ns`.
pub fn nft(ns: &str, script: &str) {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run nft");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write nft script");
    let out = child.wait_with_output().expect("nft");
    assert!(
        out.status.success(),
        "nft -f failed in {ns}: {}\n{script}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The sum of the `packets N` of every counter in table `family name` in
/// namespace `ns`.
pub fn counted(ns: &str, family: &str, table: &str) -> u64 {
    rawnet::netns::nft_packets(ns, family, table).expect("nft list")
}

/// Drops `pct` % of TCP packets at random in both directions, in namespace
/// b (table `ip e2e_loss`).
pub fn loss(net: &TestNet, pct: u32) {
    nft(
        &net.ns_b,
        &format!(
            "table ip e2e_loss {{
  chain out {{ type filter hook output priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < {pct} counter drop
  }}
  chain pre {{ type filter hook prerouting priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < {pct} counter drop
  }}
}}
"
        ),
    );
}

/// Packets the loss rules dropped so far.
pub fn loss_count(net: &TestNet) -> u64 {
    counted(&net.ns_b, "ip", "e2e_loss")
}

/// Duplicates `pct` % of TCP packets at random in both directions: the
/// client's in namespace b (`ip` output `dup to` the server's address),
/// the server's in namespace a (netdev egress `dup to` its veth).
pub fn dup(net: &TestNet, server: std::net::Ipv4Addr, pct: u32) {
    nft(
        &net.ns_b,
        &format!(
            "table ip e2e_dup {{
  chain out {{ type filter hook output priority 0; policy accept;
    ip daddr {server} meta l4proto tcp numgen random mod 100 < {pct} counter dup to {server} device \"{}\"
  }}
}}
",
            net.if_b
        ),
    );
    nft(
        &net.ns_a,
        &format!(
            "table netdev e2e_dup {{
  chain eg {{ type filter hook egress device \"{0}\" priority 0; policy accept;
    ether type ip ip protocol tcp numgen random mod 100 < {pct} counter dup to \"{0}\"
  }}
}}
",
            net.if_a
        ),
    );
}

/// Packets duplicated so far: (client -> server, server -> client).
pub fn dup_count(net: &TestNet) -> (u64, u64) {
    (
        counted(&net.ns_b, "ip", "e2e_dup"),
        counted(&net.ns_a, "netdev", "e2e_dup"),
    )
}

/// A token bucket on both veth ends: `tc qdisc add dev <veth> root tbf rate
/// <rate> burst 32kbit latency 50ms`.
pub fn rate(net: &TestNet, rate: &str) {
    for (ns, dev) in [(&net.ns_a, &net.if_a), (&net.ns_b, &net.if_b)] {
        run(&mut exec(
            ns,
            [
                "tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", rate, "burst", "32kbit",
                "latency", "50ms",
            ],
        ))
        .expect("tc qdisc add tbf");
    }
}

/// `tc -s qdisc show dev <veth>` in namespace b (for the report).
pub fn qdisc_stats(net: &TestNet) -> String {
    let out = run(&mut exec(
        &net.ns_b,
        ["tc", "-s", "qdisc", "show", "dev", &net.if_b],
    ))
    .expect("tc show");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Sets sysctls in namespace `ns` (`key=value` each).
pub fn sysctl(ns: &str, kv: &[&str]) {
    let mut args = vec!["sysctl", "-qw"];
    args.extend_from_slice(kv);
    run(&mut exec(ns, args)).expect("sysctl");
}
