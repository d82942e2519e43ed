//! ICMP end to end (issue #17; needs root): `ping` answered by the server
//! for its own address, and path MTU discovery through a Linux router
//! whose link towards the client is 1280 bytes: the router's
//! "fragmentation needed" lowers the connection's MSS and a 4 MiB
//! download arrives intact; with those messages dropped, the black-hole
//! fallback gets it through; and path MTU over IPv6 (ICMPv6 "packet too
//! big"). Subnets 198.18.174-180, 2001:2:0:179-180::/64.

mod common;
mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::Harness;
use support::{hex, note, sha256};

/// `ping -c 3` from namespace b to the server's own address: three
/// replies, and the server counts them.
#[test]
fn net_ping_own_address_is_answered() {
    let t0 = Instant::now();
    let mut h = Harness::new("png", 176);
    let own = h.own_addr().to_string();
    h.start(&["--mode", "discard", "--ip", &own]);
    let out = h
        .net
        .exec_b(["ping", "-n", "-c", "3", "-i", "0.2", "-W", "2", &own])
        .stdin(Stdio::null())
        .output()
        .expect("ping (iputils-ping: scripts/setup.sh installs it)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "ping failed: {text}");
    assert!(text.contains("3 received"), "{text}");
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(err.contains("3 echo replies sent"), "{err}");
    note("net_ping_own_address_is_answered", "3 replies", t0);
}

/// A namespace of the test's own, removed on drop (also on panic).
struct Ns(String);

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn ip(args: &[&str]) {
    let st = Command::new("ip").args(args).status().expect("ip");
    assert!(st.success(), "ip {args:?} failed");
}

/// Path MTU discovery through a router: see [`through_router`].
#[test]
fn net_path_mtu_through_a_router() {
    through_router("pmt", 174, false, false);
}

/// The same over IPv6 (RFC 8201): the router's ICMPv6 "packet too big,
/// MTU 1280" lowers the server's MSS from 1440 to 1220.
#[test]
fn net_path_mtu_through_a_router_ipv6() {
    through_router("pm6", 179, false, true);
}

/// The same router, but its "fragmentation needed" messages are dropped
/// (nftables in the router: a black hole, RFC 2923 §2.1): the server's
/// full-sized segments time out three times, then the black-hole fallback
/// halves the MSS (RFC 4821's idea, `Config::blackhole_fallback`) and the
/// download completes, intact.
#[test]
fn net_path_mtu_black_hole_fallback() {
    through_router("pbh", 177, true, false);
}

/// Namespaces: a (the server, 198.18.`subnet`.0/24), b (a Linux router:
/// 198.18.174.2 towards a, 198.18.175.1 towards c, forwarding), c (the
/// client, 198.18.175.2). The router's end of the b-c link has an MTU of
/// 1280; the client's end 1500, so the client's SYN offers MSS 1460 and
/// the server's full-sized segments (1500 bytes, DF) do not fit the
/// router's way out: it answers them with ICMP "fragmentation needed,
/// MTU 1280" (RFC 1191), and the server goes down to MSS 1240. A 4 MiB
/// file downloaded by `nc` in c arrives intact. With `blackhole`, the
/// router's ICMP errors are dropped. With `v6`, all of it over IPv6 as
/// well (2001:2:0:`subnet`::/64 and 2001:2:0:`subnet+1`::/64, IPv6 on in
/// b and c, the server on 2001:2:0:`subnet`::10).
fn through_router(tag: &str, subnet: u8, blackhole: bool, v6: bool) {
    let t0 = Instant::now();
    let mut h = Harness::new(tag, subnet);
    let far = subnet + 1;
    let own = if v6 {
        format!("2001:2:0:{subnet}::10")
    } else {
        h.own_addr().to_string()
    };
    let base = h.net.ns_a.trim_end_matches('a').to_string();
    let (ns_c, if_y, if_c) = (format!("{base}c"), format!("{base}y"), format!("{base}c"));
    ip(&["netns", "add", &ns_c]);
    let _c = Ns(ns_c.clone());
    let ns_b = h.net.ns_b.clone();
    ip(&[
        "link", "add", &if_y, "netns", &ns_b, "type", "veth", "peer", "name", &if_c, "netns", &ns_c,
    ]);
    ip(&[
        "-n",
        &ns_b,
        "addr",
        "add",
        &format!("198.18.{far}.1/24"),
        "dev",
        &if_y,
    ]);
    ip(&["-n", &ns_b, "link", "set", &if_y, "mtu", "1280"]);
    ip(&["-n", &ns_b, "link", "set", &if_y, "up"]);
    ip(&[
        "-n",
        &ns_c,
        "addr",
        "add",
        &format!("198.18.{far}.2/24"),
        "dev",
        &if_c,
    ]);
    ip(&["-n", &ns_c, "link", "set", &if_c, "up"]);
    ip(&["-n", &ns_c, "link", "set", "lo", "up"]);
    ip(&[
        "-n",
        &ns_c,
        "route",
        "add",
        &format!("198.18.{subnet}.0/24"),
        "via",
        &format!("198.18.{far}.1"),
    ]);
    if v6 {
        let ns_a_if = h.net.if_b.clone();
        for (ns, ifs) in [
            (&ns_b, vec![ns_a_if.as_str(), if_y.as_str()]),
            (&ns_c, vec![if_c.as_str()]),
        ] {
            let mut args = vec![
                "sysctl".to_string(),
                "-qw".to_string(),
                "net.ipv6.conf.all.disable_ipv6=0".to_string(),
                "net.ipv6.conf.default.disable_ipv6=0".to_string(),
                "net.ipv6.conf.all.forwarding=1".to_string(),
            ];
            args.extend(
                ifs.iter()
                    .map(|i| format!("net.ipv6.conf.{i}.disable_ipv6=0")),
            );
            let st = rawnet::netns::exec(ns, args).status().expect("sysctl");
            assert!(st.success(), "IPv6 on in {ns}");
        }
        let (near, far6) = (format!("2001:2:0:{subnet}"), format!("2001:2:0:{far}"));
        ip(&[
            "-n",
            &ns_b,
            "addr",
            "add",
            &format!("{near}::2/64"),
            "dev",
            &ns_a_if,
            "nodad",
        ]);
        ip(&[
            "-n",
            &ns_b,
            "addr",
            "add",
            &format!("{far6}::1/64"),
            "dev",
            &if_y,
            "nodad",
        ]);
        ip(&[
            "-n",
            &ns_c,
            "addr",
            "add",
            &format!("{far6}::2/64"),
            "dev",
            &if_c,
            "nodad",
        ]);
        ip(&[
            "-n",
            &ns_c,
            "route",
            "add",
            &format!("{near}::/64"),
            "via",
            &format!("{far6}::1"),
        ]);
    }
    if blackhole {
        let nft = h
            .net
            .exec_b([
                "nft",
                "add table ip bh; add chain ip bh out { type filter hook output priority 0; }; add rule ip bh out icmp type destination-unreachable drop",
            ])
            .status()
            .expect("nft");
        assert!(nft.success(), "nft rule in the router");
    }
    let fwd = h
        .net
        .exec_b(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        .status()
        .expect("sysctl");
    assert!(fwd.success());
    let file = support::data(4 << 20, u64::from(subnet));
    let path = h.path("file.bin");
    fs::write(&path, &file).expect("write file");
    let out = h.path("out.bin");
    h.start(&[
        "-s",
        "--mode",
        "file",
        "--file",
        path.to_str().unwrap(),
        "--ip",
        &own,
    ]);
    let family = if v6 { "-6" } else { "-4" };
    common::nc_download(&ns_c, family, &own, &out, 20);
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let got = fs::read(&out).expect("read download");
    assert_eq!(got.len(), file.len(), "{err}");
    assert_eq!(hex(&sha256(&got)), hex(&sha256(&file)), "{err}");
    if blackhole {
        assert!(
            !err.contains("MSS lowered") && err.contains("retransmissions"),
            "{err}"
        );
    } else {
        assert!(
            err.contains("1 connections' MSS lowered"),
            "no MSS lowered by the router's ICMP: {err}"
        );
    }
    note(tag, "4 MiB through MTU 1280", t0);
}
