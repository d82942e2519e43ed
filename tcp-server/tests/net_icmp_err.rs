//! ICMP errors for a connection end to end (issue #17; needs root):
//! `tcp-client` connects through a Linux router whose nftables rejects the
//! SYN with an ICMP error (`reject with icmp type host-unreachable`, and
//! for IPv6 `reject with icmpv6 type no-route` / `admin-prohibited`); the
//! client gives up at once (RFC 5461: a connection request is aborted by
//! an ICMP error, soft or not, as Linux's `tcp_v4_err` does), well before
//! its SYN retries would end (about two minutes), with one line naming the
//! error, and exits 1. Subnets 198.18.225-226, 2001:2:0:227::/64 and
//! 2001:2:0:228::/64. Every wait is bounded; the namespaces go on drop.

mod common;
mod support;

use std::fs::File;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::ip;
use rawnet::netns::TestNet;
use support::note;

const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");

fn run_in(net_ns: &str, args: &[&str]) {
    let st = rawnet::netns::exec(net_ns, args)
        .stdin(Stdio::null())
        .status()
        .expect("command in namespace");
    assert!(st.success(), "{args:?} in {net_ns} failed");
}

/// Namespace b of `net` becomes a router: a second veth pair of its own
/// (`{base}x`, `{base}y`, both ends in b) leads to the far subnet, where
/// nothing answers. Returns the name of the far interface.
fn far_link(net: &TestNet) -> String {
    let base = net.ns_b.trim_end_matches('b').to_string();
    let (x, y) = (format!("{base}x"), format!("{base}y"));
    ip(&[
        "-n", &net.ns_b, "link", "add", &x, "type", "veth", "peer", "name", &y,
    ]);
    for i in [&x, &y] {
        ip(&["-n", &net.ns_b, "link", "set", i, "up"]);
    }
    x
}

/// Runs `tcp-client` with `args` in namespace a; kills it and fails if it
/// runs longer than `secs`. Returns its exit code, stderr and how long it
/// ran.
fn client(net: &TestNet, args: &[&str], secs: u64) -> (Option<i32>, String, Duration) {
    let err_path = std::env::temp_dir().join(format!(
        "tcp-client-icmperr-{}-{}.err",
        std::process::id(),
        net.ns_a
    ));
    let mut cmd = net.exec_a(std::iter::once(CLIENT).chain(args.iter().copied()));
    let t0 = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("spawn tcp-client");
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            let err = std::fs::read_to_string(&err_path).unwrap_or_default();
            let _ = std::fs::remove_file(&err_path);
            panic!("tcp-client did not exit within {secs} s; stderr:\n{err}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let took = t0.elapsed();
    let err = std::fs::read_to_string(&err_path).unwrap_or_default();
    let _ = std::fs::remove_file(&err_path);
    (status.code(), err, took)
}

/// IPv4: the client (198.18.225.10 on a's link, `--gateway` the router
/// 198.18.225.2) connects to 198.18.226.2:3000, behind the router, whose
/// forward chain answers the SYN with "host unreachable". The client exits
/// 1 within seconds with `connect to 198.18.226.2:3000: host unreachable
/// (ICMP)`.
#[test]
fn net_client_host_unreachable_ends_the_connect() {
    let t0 = Instant::now();
    let net = TestNet::new("ie4", 225).expect("test network (needs root)");
    let far = far_link(&net);
    ip(&[
        "-n",
        &net.ns_b,
        "addr",
        "add",
        "198.18.226.1/24",
        "dev",
        &far,
    ]);
    run_in(&net.ns_b, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    // The table lives in namespace b: it goes with it.
    run_in(
        &net.ns_b,
        &[
            "nft",
            "add table ip icmperr; \
             add chain ip icmperr fw { type filter hook forward priority 0; }; \
             add rule ip icmperr fw ip daddr 198.18.226.2 tcp dport 3000 counter \
             reject with icmp type host-unreachable",
        ],
    );
    let (code, err, took) = client(
        &net,
        &[
            "-i",
            &net.if_a,
            "--ip",
            "198.18.225.10",
            "--gateway",
            "198.18.225.2",
            "198.18.226.2",
            "3000",
        ],
        30,
    );
    assert_eq!(code, Some(1), "{err}");
    assert_eq!(
        err, "tcp-client: connect to 198.18.226.2:3000: host unreachable (ICMP)\n",
        "stderr"
    );
    // The first SYN retransmission would be 1 s after the SYN; the last
    // gives up after about 127 s.
    assert!(took < Duration::from_secs(5), "took {took:?}");
    // With -d, the trace shows the close reason and the router's message.
    let (code, err, _) = client(
        &net,
        &[
            "-d",
            "--color",
            "never",
            "-i",
            &net.if_a,
            "--ip",
            "198.18.225.10",
            "--gateway",
            "198.18.225.2",
            "198.18.226.2",
            "3000",
        ],
        30,
    );
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("closed (host unreachable (ICMP))"), "{err}");
    assert!(
        err.ends_with("tcp-client: connect to 198.18.226.2:3000: host unreachable (ICMP)\n"),
        "{err}"
    );
    let rejected = rawnet::netns::nft_packets(&net.ns_b, "ip", "icmperr").unwrap_or(0);
    note(
        "net_client_host_unreachable_ends_the_connect",
        &format!("exit 1 after {:.0?} ({rejected} SYN rejected)", took),
        t0,
    );
}

/// IPv6: the client (2001:2:0:227::10) connects to 2001:2:0:227::99:3000,
/// which the router answers neighbor solicitations for (proxy NDP) and
/// routes to its far link, where its forward chain rejects the SYN: with
/// "no route to destination" (code 0), then "administratively prohibited"
/// (code 1). Each time the client exits 1 at once, naming the error.
#[test]
fn net_client_icmpv6_errors_end_the_connect() {
    let t0 = Instant::now();
    let net = TestNet::new("ie6", 227).expect("test network (needs root)");
    let far = far_link(&net);
    let ifb = net.if_b.clone();
    run_in(
        &net.ns_b,
        &[
            "sysctl",
            "-qw",
            "net.ipv6.conf.all.disable_ipv6=0",
            "net.ipv6.conf.default.disable_ipv6=0",
            &format!("net.ipv6.conf.{ifb}.disable_ipv6=0"),
            &format!("net.ipv6.conf.{far}.disable_ipv6=0"),
            "net.ipv6.conf.all.forwarding=1",
            &format!("net.ipv6.conf.{ifb}.proxy_ndp=1"),
            &format!("net.ipv6.neigh.{ifb}.proxy_delay=0"),
        ],
    );
    ip(&[
        "-n",
        &net.ns_b,
        "addr",
        "add",
        "2001:2:0:227::2/64",
        "dev",
        &ifb,
        "nodad",
    ]);
    ip(&[
        "-n",
        &net.ns_b,
        "addr",
        "add",
        "2001:2:0:228::1/64",
        "dev",
        &far,
        "nodad",
    ]);
    ip(&[
        "-n",
        &net.ns_b,
        "route",
        "add",
        "2001:2:0:227::99/128",
        "dev",
        &far,
    ]);
    ip(&[
        "-n",
        &net.ns_b,
        "-6",
        "neigh",
        "add",
        "proxy",
        "2001:2:0:227::99",
        "dev",
        &ifb,
    ]);
    let mut seen = Vec::new();
    for (icmp, text) in [
        ("no-route", "network unreachable"),
        ("admin-prohibited", "administratively prohibited"),
    ] {
        run_in(
            &net.ns_b,
            &[
                "nft",
                &format!(
                    "add table ip6 icmperr; flush table ip6 icmperr; \
                     add chain ip6 icmperr fw {{ type filter hook forward priority 0; }}; \
                     add rule ip6 icmperr fw ip6 daddr 2001:2:0:227::99 tcp dport 3000 counter \
                     reject with icmpv6 type {icmp}"
                ),
            ],
        );
        let (code, err, took) = client(
            &net,
            &[
                "-i",
                &net.if_a,
                "--ip",
                "2001:2:0:227::10",
                "2001:2:0:227::99",
                "3000",
            ],
            30,
        );
        assert_eq!(code, Some(1), "{icmp}: {err}");
        assert_eq!(
            err,
            format!("tcp-client: connect to [2001:2:0:227::99]:3000: {text} (ICMP)\n"),
            "{icmp}: stderr"
        );
        assert!(took < Duration::from_secs(5), "{icmp}: took {took:?}");
        seen.push(format!("{icmp} {took:.0?}"));
    }
    note(
        "net_client_icmpv6_errors_end_the_connect",
        &format!("exit 1 at once: {}", seen.join(", ")),
        t0,
    );
}
