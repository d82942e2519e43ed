//! ICMP end to end (issue #17; needs root): `ping` answered by the server
//! for its own address, and path MTU discovery through a Linux router
//! whose link towards the client is 1280 bytes: the router's
//! "fragmentation needed" lowers the connection's MSS and a 4 MiB
//! download arrives intact; with those messages dropped, the black-hole
//! fallback gets it through; and path MTU over IPv6 (ICMPv6 "packet too
//! big"); and both with two workers and several downloads at once, each
//! connection's ICMP errors ("fragmentation needed", "packet too big",
//! soft errors) reaching the worker that has it. Subnets 198.18.174-188,
//! 2001:2:0:179-180::/64, 2001:2:0:183-184::/64, 2001:2:0:187-188::/64.

mod common;
mod support;

use std::fs;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ip, Harness};
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

/// Path MTU discovery through a router: see [`through_router`].
#[test]
fn net_path_mtu_through_a_router() {
    through_router("pmt", 174, false, false, 1);
}

/// The same over IPv6 (RFC 8201): the router's ICMPv6 "packet too big,
/// MTU 1280" lowers the server's MSS from 1440 to 1220.
#[test]
fn net_path_mtu_through_a_router_ipv6() {
    through_router("pm6", 179, false, true, 1);
}

/// The same router, but its "fragmentation needed" messages are dropped
/// (nftables in the router: a black hole, RFC 2923 §2.1): the server's
/// full-sized segments time out three times, then the black-hole fallback
/// halves the MSS (RFC 4821's idea, `Config::blackhole_fallback`) and the
/// download completes, intact.
#[test]
fn net_path_mtu_black_hole_fallback() {
    through_router("pbh", 177, true, false, 1);
}

/// Path MTU discovery with `--workers 2` and 8 downloads at once, some on
/// each worker: the router's "fragmentation needed" about a connection
/// reaches the worker that has it (rawnet's fanout program hashes the
/// segment the message quotes as it hashes the peer's segments), so every
/// connection's MSS is lowered by it, none waits for the black-hole
/// fallback. With the kernel's `PACKET_FANOUT_HASH`, which hashes the
/// router's address, all the messages went to one worker and the other's
/// connections got through only after three timeouts each.
#[test]
fn net_path_mtu_through_a_router_two_workers() {
    through_router("pmw", 181, false, false, DOWNLOADS);
}

/// The same over IPv6: ICMPv6 "packet too big" reaches the right worker.
#[test]
fn net_path_mtu_through_a_router_ipv6_two_workers() {
    through_router("p6w", 183, false, true, DOWNLOADS);
}

/// ICMP soft errors with `--workers 2`: the router rejects the server's
/// data segments with "host unreachable" for a while, then lets them
/// through. Every connection's errors reach the worker that has it (acted
/// on as soft errors, RFC 5461; none "icmp-ignored" for want of the
/// connection), and the downloads then complete intact.
#[test]
fn net_icmp_soft_errors_two_workers() {
    soft_errors("sew", 185, false);
}

/// The same over IPv6, with ICMPv6 "no route to destination".
#[test]
fn net_icmpv6_soft_errors_two_workers() {
    soft_errors("s6w", 187, true);
}

/// See [`net_icmp_soft_errors_two_workers`]: the topology of
/// [`through_router`] with an MTU of 1500 all the way, the router's ICMP
/// rate limit off (Linux sends at most one "host unreachable" a second to
/// a destination, after a burst of 6: the test wants one for every
/// connection at once), and an nftables rule in its forward chain,
/// rejecting the server's packets longer than 500 bytes (its data; not the
/// handshake or FIN), removed once it has rejected a few segments a
/// connection.
fn soft_errors(tag: &str, subnet: u8, v6: bool) {
    let t0 = Instant::now();
    let mut h = Harness::new(tag, subnet);
    let (_c, ns_c) = router(&h, subnet, v6, 1500);
    let own = if v6 {
        format!("2001:2:0:{subnet}::10")
    } else {
        h.own_addr().to_string()
    };
    let ns_b = h.net.ns_b.clone();
    let st = rawnet::netns::exec(
        &ns_b,
        [
            "sysctl",
            "-qw",
            "net.ipv4.icmp_ratelimit=0",
            "net.ipv6.icmp.ratelimit=0",
            "net.ipv4.icmp_msgs_per_sec=100000",
        ],
    )
    .status()
    .expect("sysctl");
    assert!(st.success(), "ICMP rate limits off in the router");
    let reject = if v6 {
        format!("ip6 saddr {own} tcp sport 3000 meta length > 500 counter reject with icmpv6 type no-route")
    } else {
        format!("ip saddr {own} tcp sport 3000 meta length > 500 counter reject with icmp type host-unreachable")
    };
    // The table lives in namespace b: it goes with it.
    let st = rawnet::netns::exec(
        &ns_b,
        [
            "nft",
            &format!(
                "add table inet softerr; add chain inet softerr fw {{ type filter hook forward priority 0; }}; add rule inet softerr fw {reject}"
            ),
        ],
    )
    .status()
    .expect("nft");
    assert!(st.success(), "nft rule in the router");
    let file = support::data(1 << 20, u64::from(subnet));
    let path = h.path("file.bin");
    fs::write(&path, &file).expect("write file");
    h.start(&[
        "--mode",
        "file",
        "--file",
        path.to_str().unwrap(),
        "--ip",
        &own,
        "--workers",
        "2",
    ]);
    let lift = std::thread::spawn(move || {
        let nft = |cmd: &str| {
            let out = rawnet::netns::exec(&ns_b, ["nft", cmd])
                .stdin(Stdio::null())
                .output()
                .expect("nft");
            assert!(out.status.success(), "nft {cmd}: {out:?}");
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        // Until the rule has rejected some segments of every connection
        // (a few each; IPv6 starts later: the new links' addresses are
        // tentative for a second), at most 10 s.
        let t0 = Instant::now();
        let mut rule = nft("list table inet softerr");
        while rejected(&rule) < 3 * DOWNLOADS as u64 && t0.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(50));
            rule = nft("list table inet softerr");
        }
        std::thread::sleep(Duration::from_millis(300));
        rule = nft("list table inet softerr");
        nft("delete table inet softerr");
        rule
    });
    let dir = h.dir.clone();
    let out = |i: usize| dir.join(format!("out{i}.bin"));
    let family = if v6 { "-6" } else { "-4" };
    let took = nc_downloads(&ns_c, family, &own, out, DOWNLOADS, 60);
    let rule = lift.join().expect("rule thread");
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    for i in 0..DOWNLOADS {
        let got = fs::read(out(i)).expect("read download");
        assert_eq!(got.len(), file.len(), "download {i}: {err}");
        assert_eq!(
            hex(&sha256(&got)),
            hex(&sha256(&file)),
            "download {i}: {err}"
        );
    }
    let acted: u64 = err
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("icmp errors"))
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    eprintln!(
        "[{tag}] {DOWNLOADS} downloads in {took:.2?}; {acted} ICMP errors acted on; connections per worker {:?}; the router's rule: {}",
        worker_connections(&err),
        rule.lines().find(|l| l.contains("counter")).unwrap_or("?").trim()
    );
    assert!(
        acted >= DOWNLOADS as u64,
        "fewer ICMP errors acted on than connections: {err}"
    );
    assert!(
        !err.contains("icmp-ignored"),
        "ICMP errors dropped, their connection not found: {err}"
    );
    let conns = worker_connections(&err);
    assert!(
        conns.len() == 2 && conns.iter().all(|&c| c > 0),
        "each worker some of the connections: {conns:?}\n{err}"
    );
    note(
        tag,
        &format!("{DOWNLOADS} downloads past ICMP soft errors"),
        t0,
    );
}

/// The `packets N` of an nftables rule's counter in `nft list` output.
fn rejected(table: &str) -> u64 {
    table
        .split_once("counter packets ")
        .and_then(|(_, r)| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Downloads at once in the tests with two workers.
const DOWNLOADS: usize = 8;

/// The client's source ports for the downloads with two workers: fixed, so
/// that the connections land on the workers the same way every run (4 and
/// 4 with rawnet's fanout program, over IPv4 and over IPv6; the test
/// checks that each worker has some).
const FIRST_PORT: u16 = 41000;

/// `nc` downloads of the file on port 3000 of `addr`, `n` at once from
/// namespace `ns` (source ports from [`FIRST_PORT`] when `n` > 1), each
/// to `out(i)`; every one must end, successfully, within `secs`. Returns
/// how long they took, all of them.
fn nc_downloads(
    ns: &str,
    family: &str,
    addr: &str,
    out: impl Fn(usize) -> std::path::PathBuf,
    n: usize,
    secs: u64,
) -> Duration {
    let t0 = Instant::now();
    let mut kids: Vec<Child> = (0..n)
        .map(|i| {
            let port = if n > 1 {
                format!("-p {}", FIRST_PORT + i as u16)
            } else {
                String::new()
            };
            rawnet::netns::exec(
                ns,
                [
                    "timeout",
                    &secs.to_string(),
                    "sh",
                    "-c",
                    &format!(
                        "nc {family} -d -w 20 {port} {addr} 3000 > {}",
                        out(i).display()
                    ),
                ],
            )
            .stdin(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nc")
        })
        .collect();
    for (i, kid) in kids.iter_mut().enumerate() {
        // `timeout` ends each within `secs`.
        let st = kid.wait().expect("wait for nc");
        let mut err = String::new();
        if let Some(mut e) = kid.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        assert!(st.success(), "download {i}: nc failed ({st}): {err}");
    }
    t0.elapsed()
}

/// Makes namespace b of `h` a router to a namespace c of the test's own
/// (removed when the returned guard drops), as [`through_router`]
/// describes; the router's link towards c has an MTU of `mtu`. Returns the
/// guard and the name of c.
fn router(h: &Harness, subnet: u8, v6: bool, mtu: u32) -> (Ns, String) {
    let far = subnet + 1;
    let base = h.net.ns_a.trim_end_matches('a').to_string();
    let (ns_c, if_y, if_c) = (format!("{base}c"), format!("{base}y"), format!("{base}c"));
    ip(&["netns", "add", &ns_c]);
    let c = Ns(ns_c.clone());
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
    ip(&["-n", &ns_b, "link", "set", &if_y, "mtu", &mtu.to_string()]);
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
    let fwd = h
        .net
        .exec_b(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        .status()
        .expect("sysctl");
    assert!(fwd.success());
    (c, ns_c)
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
///
/// With `downloads` > 1: the server runs `--workers 2` (not `-s`), the
/// client downloads that many at once (2 MiB each), then the server is
/// stopped; every connection's MSS must have been lowered by the router's
/// message, and each worker must have had some of them.
fn through_router(tag: &str, subnet: u8, blackhole: bool, v6: bool, downloads: usize) {
    let t0 = Instant::now();
    let mut h = Harness::new(tag, subnet);
    let (_c, ns_c) = router(&h, subnet, v6, 1280);
    let own = if v6 {
        format!("2001:2:0:{subnet}::10")
    } else {
        h.own_addr().to_string()
    };
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
    let size = if downloads > 1 { 2 << 20 } else { 4 << 20 };
    let file = support::data(size, u64::from(subnet));
    let path = h.path("file.bin");
    fs::write(&path, &file).expect("write file");
    let mut args = vec![
        "--mode",
        "file",
        "--file",
        path.to_str().unwrap(),
        "--ip",
        &own,
    ];
    if downloads > 1 {
        args.extend(["--workers", "2"]);
    } else {
        args.push("-s");
    }
    h.start(&args);
    let family = if v6 { "-6" } else { "-4" };
    let dir = h.dir.clone();
    let out = |i: usize| dir.join(format!("out{i}.bin"));
    let took = nc_downloads(&ns_c, family, &own, out, downloads, 60);
    if downloads > 1 {
        h.signal(nix::sys::signal::Signal::SIGTERM);
    }
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    for i in 0..downloads {
        let got = fs::read(out(i)).expect("read download");
        assert_eq!(got.len(), file.len(), "download {i}: {err}");
        assert_eq!(
            hex(&sha256(&got)),
            hex(&sha256(&file)),
            "download {i}: {err}"
        );
    }
    if downloads > 1 {
        eprintln!(
            "[{tag}] {downloads} downloads in {took:.2?}; connections per worker {:?}",
            worker_connections(&err)
        );
    }
    if blackhole {
        assert!(
            !err.contains("MSS lowered") && err.contains("retransmissions"),
            "{err}"
        );
    } else {
        assert!(
            err.contains(&format!(
                "{downloads} connections' MSS lowered by \"fragmentation needed\""
            )),
            "not every connection's MSS lowered by the router's ICMP: {err}"
        );
    }
    if downloads > 1 {
        let conns = worker_connections(&err);
        assert_eq!(conns.len(), 2, "{err}");
        assert!(
            conns.iter().all(|&c| c > 0) && conns.iter().sum::<u64>() == downloads as u64,
            "each worker some of the connections: {conns:?}\n{err}"
        );
    }
    note(
        tag,
        &format!("{downloads} x {} MiB through MTU 1280", size >> 20),
        t0,
    );
}

/// The connections of each `worker N` line of the exit summary.
fn worker_connections(err: &str) -> Vec<u64> {
    let Some(start) = err.find("tcp-server: summary after") else {
        return Vec::new();
    };
    err[start..]
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("worker "))
        .filter_map(|r| {
            let (_, rest) = r.split_once(char::is_whitespace)?;
            rest.trim_start().split_once(" connections")?.0.parse().ok()
        })
        .collect()
}
