//! The server over IPv6 (issue #17; needs root): `--ip` with an IPv6
//! address (own-address mode: the server answers neighbor solicitations
//! for it), and dual stack with one IPv4 and one IPv6 `--ip`. The test
//! network's namespaces come with IPv6 disabled (`TestNet`); it is enabled
//! here in the client's namespace b only, whose address is added `nodad`.
//! Subnets 198.18.210-219 and 2001:2:0:210-219::/64.

mod common;
mod support;

use std::io::{Read, Write};
use std::net::{Ipv6Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{enable_ipv6, ip, Harness};
use support::{hex, note, sha256_file, Summary};

/// The server's IPv6 address on `subnet`: `2001:2:0:<subnet>::10` (the
/// subnet number written in hex digits as decimal, e.g. 210 -> `:210:`).
fn own6(subnet: u8) -> Ipv6Addr {
    format!("2001:2:0:{subnet}::10").parse().expect("address")
}

/// In namespace b: connects to `to`, sends `data`, shuts down its sending
/// side and reads until the server's FIN (every step at most 5 s).
fn send(h: &Harness, to: SocketAddr, data: &[u8]) -> std::io::Result<Vec<u8>> {
    let data = data.to_vec();
    h.net
        .run_in_b(move || -> std::io::Result<Vec<u8>> {
            let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(5)))?;
            s.set_write_timeout(Some(Duration::from_secs(5)))?;
            s.write_all(&data)?;
            s.shutdown(Shutdown::Write)?;
            let mut back = Vec::new();
            s.read_to_end(&mut back)?;
            Ok(back)
        })
        .expect("run in namespace b")
}

/// `nc -6` sends "Hello" to `--ip 2001:2:0:210::10 --mode print -s`: it is
/// printed, the server exits 0 after the connection, and announces the
/// IPv6 MSS (the MTU less 60).
#[test]
fn net_ipv6_hello_with_nc() {
    let t0 = Instant::now();
    let mut h = Harness::new("v6h", 210);
    enable_ipv6(&h, 210, false);
    let own = own6(210).to_string();
    h.start(&["--ip", &own, "--mode", "print", "-s"]);
    let err = h.stderr();
    assert!(
        err.contains(&format!("listening on [{own}]:3000")) && err.contains("MSS 1440"),
        "{err}"
    );
    let mut nc = h
        .net
        .exec_b(["nc", "-6", "-N", "-w", "5", &own, "3000"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nc (netcat-openbsd)");
    nc.stdin
        .take()
        .expect("stdin")
        .write_all(b"Hello")
        .expect("write to nc");
    let st = h.wait(15);
    let _ = nc.kill();
    let out = nc.wait_with_output().expect("nc");
    let err = h.stderr();
    assert!(
        st.success(),
        "exit {st}: {err}\nnc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(h.stdout(), b"Hello", "{err}");
    note("net_ipv6_hello_with_nc", "Hello printed", t0);
}

/// A 16 MiB echo over IPv6: every byte comes back, in order.
#[test]
fn net_ipv6_echo_16_mib() {
    const LEN: u64 = 16 << 20;
    let t0 = Instant::now();
    let mut h = Harness::new("v6u", 211);
    enable_ipv6(&h, 211, false);
    let own = own6(211);
    h.start(&["--ip", &own.to_string(), "--mode", "echo", "-s"]);
    let to = SocketAddr::from((own, h.port));
    let e = h
        .net
        .run_in_b(move || support::echo(to, LEN, 6, 30))
        .expect("namespace b")
        .unwrap_or_else(|e| panic!("echo over IPv6: {e}\n{}", h.stderr()));
    assert_eq!(e.got_len, LEN, "{}", h.stderr());
    assert_eq!(hex(&e.got), hex(&e.sent), "echo differs");
    let st = h.wait(15);
    assert!(st.success(), "exit {st}: {}", h.stderr());
    note("net_ipv6_echo_16_mib", "16 MiB echoed", t0);
}

/// `ping -6 -c 3`: three replies, counted by the server (the kernel's
/// neighbor solicitation answered first).
#[test]
fn net_ipv6_ping_is_answered() {
    let t0 = Instant::now();
    let mut h = Harness::new("v6p", 212);
    enable_ipv6(&h, 212, false);
    let own = own6(212).to_string();
    h.start(&["--ip", &own, "--mode", "discard"]);
    let out = h
        .net
        .exec_b(["ping", "-6", "-n", "-c", "3", "-i", "0.2", "-W", "2", &own])
        .stdin(Stdio::null())
        .output()
        .expect("ping (iputils-ping)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "ping -6 failed: {text}\n{}",
        h.stderr()
    );
    assert!(text.contains("3 received"), "{text}");
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(err.contains("3 echo replies sent"), "{err}");
    note("net_ipv6_ping_is_answered", "3 replies", t0);
}

/// Duplicate address detection (RFC 4862 §5.4): the client's kernel has
/// the address `--ip` names already, and answers the server's probe for
/// it with an advertisement; the server exits at once with a one-line
/// error naming the client's MAC, and never serves; tcp-client with the
/// same `--ip` too. (Without the
/// detection it started and served the address twice.)
#[test]
fn net_ipv6_duplicate_address_refused() {
    let t0 = Instant::now();
    let h = Harness::new("v6dad", 240);
    enable_ipv6(&h, 240, false);
    let own = own6(240).to_string();
    ip(&[
        "-n",
        &h.net.ns_b,
        "addr",
        "add",
        &format!("{own}/64"),
        "dev",
        &h.net.if_b,
        "nodad",
    ]);
    // /sys shows the reader's namespace: read b's MAC in b.
    let mac_b = h
        .net
        .exec_b(["cat", &format!("/sys/class/net/{}/address", h.net.if_b)])
        .stdin(Stdio::null())
        .output()
        .expect("cat");
    let mac_b = String::from_utf8_lossy(&mac_b.stdout).trim().to_string();
    let started = Instant::now();
    let out = h
        .net
        // Bounded: a server that serves the address anyway is stopped.
        .exec_a([
            "timeout",
            "5",
            env!("CARGO_BIN_EXE_tcp-server"),
            "-i",
            &h.net.if_a,
            "--ip",
            &own,
        ])
        .stdin(Stdio::null())
        .output()
        .expect("tcp-server");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "served a duplicate address: {err}");
    assert!(started.elapsed() < Duration::from_secs(5), "{err}");
    assert!(!err.contains("listening on"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{own} is in use")) && err.contains(&mac_b),
        "{err} (b's MAC {mac_b})"
    );
    // tcp-client claims its --ip the same way.
    let out = h
        .net
        .exec_a([
            "timeout",
            "5",
            env!("CARGO_BIN_EXE_tcp-client"),
            "-i",
            &h.net.if_a,
            "--ip",
            &own,
            "2001:2:0:240::2",
            "4000",
        ])
        .stdin(Stdio::null())
        .output()
        .expect("tcp-client");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "client used a duplicate address: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&format!("{own} is in use")) && err.contains(&mac_b),
        "{err} (b's MAC {mac_b})"
    );
    note("net_ipv6_duplicate_address_refused", "refused", t0);
}

/// In own-address mode the server is the address's only host: a UDP
/// datagram to it (no UDP port is open) is answered with ICMP port
/// unreachable, over IPv4 and IPv6 (RFC 1122 §3.2.2.1, RFC 4443 §3.1), so
/// a Linux client's connected UDP socket sees "connection refused" as it
/// would from the kernel.
#[test]
fn net_udp_to_our_addresses_is_port_unreachable() {
    let t0 = Instant::now();
    let mut h = Harness::new("v6udp", 241);
    enable_ipv6(&h, 241, false);
    let own4 = h.own_addr();
    let own6 = own6(241);
    h.start(&[
        "--ip",
        &own4.to_string(),
        "--ip",
        &own6.to_string(),
        "--mode",
        "discard",
    ]);
    for to in [SocketAddr::from((own4, 9)), SocketAddr::from((own6, 9))] {
        let got = h
            .net
            .run_in_b(move || -> std::io::Result<usize> {
                let bind: SocketAddr = if to.is_ipv6() {
                    "[::]:0".parse().expect("address")
                } else {
                    "0.0.0.0:0".parse().expect("address")
                };
                let s = std::net::UdpSocket::bind(bind)?;
                s.set_read_timeout(Some(Duration::from_secs(3)))?;
                s.connect(to)?;
                s.send(b"anyone?")?;
                let mut buf = [0u8; 16];
                s.recv(&mut buf)
            })
            .expect("namespace b");
        match got {
            Err(e) => assert_eq!(
                e.kind(),
                std::io::ErrorKind::ConnectionRefused,
                "{to}: {e}\n{}",
                h.stderr()
            ),
            Ok(n) => panic!("{to}: {n} bytes back"),
        }
    }
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(10);
    assert!(st.success(), "exit {st}: {}", h.stderr());
    note(
        "net_udp_to_our_addresses_is_port_unreachable",
        "refused twice",
        t0,
    );
}

/// Dual stack: one server with `--ip 198.18.213.10 --ip 2001:2:0:213::10`
/// in echo mode; a client over each family, both echoed; and ping over
/// both.
#[test]
fn net_ipv6_dual_stack() {
    let t0 = Instant::now();
    let mut h = Harness::new("v6d", 213);
    enable_ipv6(&h, 213, false);
    let own4 = h.own_addr();
    let own6 = own6(213);
    h.start(&[
        "--ip",
        &own4.to_string(),
        "--ip",
        &own6.to_string(),
        "--mode",
        "echo",
    ]);
    let err = h.stderr();
    assert!(
        err.contains(&format!("listening on {own4}:3000 and [{own6}]:3000"))
            && err.contains("MSS 1460 (IPv6 1440)"),
        "{err}"
    );
    let back4 = send(&h, SocketAddr::from((own4, h.port)), b"over IPv4");
    let back6 = send(&h, SocketAddr::from((own6, h.port)), b"over IPv6");
    assert_eq!(back4.expect("IPv4 client"), b"over IPv4", "{}", h.stderr());
    assert_eq!(back6.expect("IPv6 client"), b"over IPv6", "{}", h.stderr());
    for addr in [own4.to_string(), own6.to_string()] {
        let out = h
            .net
            .exec_b(["ping", "-n", "-c", "1", "-W", "2", &addr])
            .stdin(Stdio::null())
            .output()
            .expect("ping");
        assert!(out.status.success(), "ping {addr}: {out:?}");
    }
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(err.contains("2 echo replies sent"), "{err}");
    note("net_ipv6_dual_stack", "both families echoed", t0);
}

/// Every `-d` frame line over IPv6 (neighbor discovery, ping, a TCP
/// session) is the line `tcpdump -n -S -r` prints for the same frame of
/// the server's pcap.
#[test]
fn net_ipv6_debug_lines_match_tcpdump() {
    let t0 = Instant::now();
    let mut h = Harness::new("v6t", 215);
    enable_ipv6(&h, 215, false);
    let own = own6(215);
    let pcap = h.path("s.pcap");
    let pcap_s = pcap.to_str().expect("utf-8 path").to_string();
    h.start(&[
        "-s",
        "-d",
        "--ip",
        &own.to_string(),
        "--pcap",
        &pcap_s,
        "--color",
        "never",
    ]);
    let out = h
        .net
        .exec_b(["ping", "-6", "-n", "-c", "1", "-W", "2", &own.to_string()])
        .stdin(Stdio::null())
        .output()
        .expect("ping");
    assert!(out.status.success(), "ping -6: {out:?}\n{}", h.stderr());
    send(&h, SocketAddr::from((own, h.port)), b"Hello\n").expect("client");
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let ours: Vec<&str> = err
        .lines()
        .filter_map(|l| l.strip_prefix("RX ").or_else(|| l.strip_prefix("TX ")))
        .collect();
    let dump = Harness::output(
        Command::new("tcpdump")
            .args(["-n", "-S", "-r", &pcap_s])
            .env("TZ", "UTC"),
    );
    let theirs: Vec<&str> = dump.lines().collect();
    assert_eq!(ours.len(), theirs.len(), "ours:\n{err}\ntcpdump:\n{dump}");
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "\nours:    {a}\ntcpdump: {b}");
    }
    for want in [
        "ICMP6, neighbor solicitation, who has",
        "ICMP6, neighbor advertisement, tgt is",
        "ICMP6, echo request, id",
        "ICMP6, echo reply, id",
        "Flags [S.]",
        "length 6",
    ] {
        assert!(ours.iter().any(|l| l.contains(want)), "no `{want}`:\n{err}");
    }
    assert!(ours.iter().all(|l| l.contains(" IP6 ")), "{err}");
    // The pcap's checksums are right (those of frames received before
    // the kernel filled them in are written filled in).
    let problems = Harness::tshark_problems(
        "_ws.malformed || _ws.expert.severity >= error || tcp.checksum.status == \"Bad\" || icmpv6.checksum.status == \"Bad\"",
        &pcap_s,
    );
    assert!(problems.is_empty(), "tshark:\n{problems}");
    note("net_ipv6_debug_lines_match_tcpdump", "lines match", t0);
}

/// IPv6 alone: the server has no IPv4 address; IPv4 to the subnet's
/// `.10` is not answered (no ARP: ping gets nothing back).
#[test]
fn net_ipv6_only_answers_no_ipv4() {
    let t0 = Instant::now();
    let mut h = Harness::new("v6o", 214);
    enable_ipv6(&h, 214, false);
    let own4 = h.own_addr().to_string();
    h.start(&["--ip", &own6(214).to_string(), "--mode", "discard"]);
    let out = h
        .net
        .exec_b(["ping", "-n", "-c", "1", "-W", "1", &own4])
        .stdin(Stdio::null())
        .output()
        .expect("ping");
    assert!(!out.status.success(), "IPv4 answered: {out:?}");
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    // No ICMP line: nothing answered.
    assert!(!err.contains("echo replies sent"), "{err}");
    note("net_ipv6_only_answers_no_ipv4", "no IPv4", t0);
}

/// `tcp-client --ip 2001:2:0:216::20 2001:2:0:216::2 4000` against a Linux
/// server in namespace b (std `TcpListener`, IPv6): the client resolves
/// the server by neighbor solicitation, sends its stdin, and prints what
/// comes back.
#[test]
fn net_ipv6_tcp_client_to_linux() {
    const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");
    let t0 = Instant::now();
    let h = Harness::new("v6c", 216);
    enable_ipv6(&h, 216, false);
    let server: SocketAddr = "[2001:2:0:216::2]:4000".parse().expect("address");
    let listener = h
        .net
        .run_in_b(move || TcpListener::bind(server))
        .expect("namespace b")
        .expect("bind [2001:2:0:216::2]:4000");
    listener.set_nonblocking(true).expect("nonblocking");
    // The server: one connection, everything read is sent back with a
    // prefix, then closed.
    let serve = std::thread::spawn(move || -> std::io::Result<Vec<u8>> {
        let t0 = Instant::now();
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if t0.elapsed() > Duration::from_secs(10) {
                        return Err(std::io::Error::other("no connection in 10 s"));
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        s.write_all(b"got: ")?;
        s.write_all(&got)?;
        Ok(got)
    });
    let mut child = h
        .net
        .exec_a([
            CLIENT,
            "-d",
            "--color",
            "never",
            "-i",
            &h.net.if_a,
            "--ip",
            "2001:2:0:216::20",
            "2001:2:0:216::2",
            "4000",
        ])
        .env("TZ", "UTC")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn tcp-client");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"Hello over IPv6\n")
        .expect("client stdin");
    let t1 = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if t1.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("tcp-client");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let got = serve.join().expect("server thread");
    assert!(out.status.success(), "tcp-client: {}\n{err}", out.status);
    assert_eq!(got.expect("server"), b"Hello over IPv6\n", "{err}");
    assert_eq!(out.stdout, b"got: Hello over IPv6\n", "{err}");
    assert!(
        err.contains("ICMP6, neighbor solicitation, who has 2001:2:0:216::2"),
        "{err}"
    );
    assert!(err.contains("MSS 1440"), "{err}");
    note("net_ipv6_tcp_client_to_linux", "client over IPv6", t0);
}

/// A 64 MiB upload over IPv6 (print mode, `-s`): the SHA-256 of the
/// server's stdout is the client's, one normal close.
#[test]
fn net_ipv6_upload_64_mib_hashed() {
    const LEN: u64 = 64 << 20;
    let t0 = Instant::now();
    let mut h = Harness::new("v6b", 217);
    enable_ipv6(&h, 217, false);
    let own = own6(217);
    h.start(&["--ip", &own.to_string(), "--mode", "print", "-s"]);
    let to = SocketAddr::from((own, h.port));
    let up = h
        .net
        .run_in_b(move || support::upload(to, LEN, 217, 30))
        .expect("namespace b")
        .unwrap_or_else(|e| panic!("upload over IPv6: {e}\n{}", h.stderr()));
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let (n, got) = sha256_file(&h.path("stdout")).expect("hash stdout");
    assert_eq!(n, LEN, "{err}");
    assert_eq!(hex(&got), hex(&up.sent), "the upload's bytes differ");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(1), "{s:?}\n{err}");
    eprintln!(
        "[net_ipv6_upload_64_mib_hashed] 64 MiB in {:.2} s, {:.0} MB/s: {s:?}",
        up.elapsed.as_secs_f64(),
        LEN as f64 / up.elapsed.as_secs_f64() / 1e6
    );
    note("net_ipv6_upload_64_mib_hashed", "64 MiB intact", t0);
}

/// 200 concurrent IPv6 connections in echo mode, each on its own thread
/// in namespace b: all connect first (a bounded rendezvous: the server
/// holds 200 at once), then each sends 64 KiB, half-closes and reads to
/// the server's FIN; each gets back what it sent (SHA-256 each), and the
/// summary counts 200 normal closes and 200 x 64 KiB.
#[test]
fn net_ipv6_200_connections() {
    const CONNS: usize = 200;
    const EACH: u64 = 64 << 10;
    let t0 = Instant::now();
    let mut h = Harness::new("v6m", 218);
    enable_ipv6(&h, 218, false);
    let own = own6(218);
    h.start(&["--ip", &own.to_string(), "--mode", "echo"]);
    let to = SocketAddr::from((own, h.port));
    let arrived = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..CONNS)
        .map(|i| {
            let arrived = arrived.clone();
            rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<_> {
                let c = support::connect(to, 20);
                arrived.fetch_add(1, Ordering::SeqCst);
                let mut c = c?;
                let t0 = Instant::now();
                while arrived.load(Ordering::SeqCst) < CONNS
                    && t0.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let sent = support::write_stream(&mut c, EACH, 2000 + i as u64)?;
                c.shutdown(Shutdown::Write)?;
                let (n, got) = support::read_stream(&mut c)?;
                Ok((sent, got, n))
            })
            .expect("client thread")
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let (sent, got, n) = t
            .join()
            .expect("client thread panicked")
            .expect("enter namespace b")
            .unwrap_or_else(|e| panic!("client {i}: {e}\n{}", h.stderr()));
        assert_eq!(n, EACH, "client {i} got {n} bytes back");
        assert_eq!(hex(&got), hex(&sent), "client {i}: echo differs");
    }
    // The clients saw the server's FIN; let their last ACKs land.
    std::thread::sleep(Duration::from_millis(300));
    h.signal(nix::sys::signal::Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(CONNS as u64), "{s:?}\n{err}");
    assert_eq!(s.bytes, CONNS as u64 * EACH, "{s:?}");
    note("net_ipv6_200_connections", "200 connections echoed", t0);
}

/// Drops `pct` % of IPv6 TCP packets at random both ways in namespace b
/// (table `ip6 e2e_loss6`: `output` for client -> server, `prerouting`
/// for server -> client), as `support::impair::loss` does for IPv4.
fn loss6(h: &Harness, pct: u32) {
    support::impair::nft(
        &h.net.ns_b,
        &format!(
            "table ip6 e2e_loss6 {{
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

/// The `packets N` of each counter of table `ip6 e2e_loss6` (output, then
/// prerouting).
fn loss6_counts(h: &Harness) -> Vec<u64> {
    let out = h
        .net
        .exec_b(["nft", "list", "table", "ip6", "e2e_loss6"])
        .output()
        .expect("nft list");
    String::from_utf8_lossy(&out.stdout)
        .split("packets ")
        .skip(1)
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect()
}

/// 1 % of the IPv6 TCP packets dropped at random both ways (single
/// segments: offloads off, `gso_max_segs 1`): a 16 MiB upload (print
/// mode, stdout hashed) and a 16 MiB download (file mode, hashed by the
/// client) arrive intact, with clean closes; packets were dropped in both
/// directions.
#[test]
fn net_ipv6_loss_1pct_upload_and_download() {
    const LEN: u64 = 16 << 20;
    let t0 = Instant::now();
    let mut h = Harness::new("v6l", 219);
    enable_ipv6(&h, 219, false);
    support::impair::segment_sized(&h.net);
    loss6(&h, 1);
    let own = own6(219);
    let to = SocketAddr::from((own, h.port));

    h.start(&["--ip", &own.to_string(), "--mode", "print", "-s"]);
    let up = h
        .net
        .run_in_b(move || support::upload(to, LEN, 219, 30))
        .expect("namespace b")
        .unwrap_or_else(|e| panic!("upload: {e}\n{}", h.stderr()));
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "upload: exit {st}: {err}");
    let (n, got) = sha256_file(&h.path("stdout")).expect("hash stdout");
    assert_eq!(n, LEN, "{err}");
    assert_eq!(hex(&got), hex(&up.sent), "the upload's bytes differ");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(1), "upload: {s:?}\n{err}");
    let after_up = loss6_counts(&h);

    let file = support::data(LEN as usize, 2190);
    let path = h.path("file");
    std::fs::write(&path, &file).expect("the file");
    let path = path.to_str().expect("utf-8 path").to_string();
    h.start(&[
        "--ip",
        &own.to_string(),
        "--mode",
        "file",
        "--file",
        &path,
        "-s",
    ]);
    let (n, got) = h
        .net
        .run_in_b(move || -> std::io::Result<_> {
            let mut c = support::connect(to, 30)?;
            let r = support::read_stream(&mut c);
            c.shutdown(Shutdown::Write)?;
            r
        })
        .expect("namespace b")
        .unwrap_or_else(|e| panic!("download: {e}\n{}", h.stderr()));
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "download: exit {st}: {err}");
    assert_eq!(n, LEN, "{err}");
    assert_eq!(
        hex(&got),
        hex(&support::sha256(&file)),
        "the download's bytes differ"
    );
    // The server closed first: it ends in TIME-WAIT (or, had the client's
    // FIN come first, closed normally); nothing reset or timed out.
    let s = Summary::parse(&err).expect("summary");
    assert_eq!(s.established, 1, "download: {s:?}\n{err}");
    assert_eq!((s.reset, s.timed_out, s.aborted), (0, 0, 0), "{s:?}\n{err}");
    assert!(
        (s.normal == 0 && err.contains("(1 in TIME-WAIT)")) || (s.normal == 1 && s.open == Some(0)),
        "download: {s:?}\n{err}"
    );
    // GSO over IPv6: the 11,650 segments of the download leave in far
    // fewer frames (about 2,100 seen; without GSO, one frame each).
    assert!(
        s.tx_frames < LEN / 1440 / 2,
        "IPv6 download without GSO batches: {s:?}"
    );
    let all = loss6_counts(&h);
    assert_eq!(all.len(), 2, "{all:?}");
    eprintln!(
        "[net_ipv6_loss_1pct_upload_and_download] dropped: upload {after_up:?}, in all {all:?} (to the server, from it); download {s:?}"
    );
    // Upload: data to the server, ACKs back; download: the reverse.
    assert!(
        after_up[0] >= 20,
        "too few upload segments dropped: {after_up:?}"
    );
    assert!(
        all[1] - after_up[1] >= 20,
        "too few download segments dropped: {all:?}"
    );
    note("net_ipv6_loss_1pct_upload_and_download", "both intact", t0);
}
