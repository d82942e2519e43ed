//! End to end: the real binary on a veth pair against the Linux kernel's TCP
//! client (needs root). Each test makes its own pair of namespaces with a
//! unique tag and subnet.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Command;
use std::time::{Duration, Instant};

use common::Harness;
use nix::sys::signal::Signal;

/// A single session in own-address mode: "Hello" from a Linux client
/// appears exactly on stdout, the server exits 0 and prints its summary.
#[test]
fn hello_single_session() {
    let mut h = Harness::new("hel", 61);
    let own = h.own_addr().to_string();
    h.start(&["-s", "--ip", &own]);
    let back = h.send(h.own_addr(), b"Hello").expect("client");
    assert!(back.is_empty());
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(h.stdout(), b"Hello", "stderr:\n{err}");
    assert!(err.contains("summary"), "{err}");
    assert!(err.contains("1 established"), "{err}");
    assert!(err.contains("5 bytes received"), "{err}");
}

/// Every `-d` frame line is the line `tcpdump -n -S -r` prints for the same
/// frame of the pcap the server wrote (timestamps included: both in UTC).
#[test]
fn debug_lines_match_tcpdump() {
    let mut h = Harness::new("dbg", 62);
    let own = h.own_addr().to_string();
    let pcap = h.path("s.pcap");
    let pcap_s = pcap.to_str().expect("utf-8 path").to_string();
    h.start(&[
        "-s", "-d", "--ip", &own, "--pcap", &pcap_s, "--color", "never",
    ]);
    h.send(h.own_addr(), b"Hello\n").expect("client");
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
    assert!(ours.len() >= 6, "too few frame lines:\n{err}");
    assert_eq!(ours.len(), theirs.len(), "ours:\n{err}\ntcpdump:\n{dump}");
    for (a, b) in ours.iter().zip(&theirs) {
        assert_eq!(a, b, "\nours:    {a}\ntcpdump: {b}");
    }
    // Options are decoded as tcpdump does, and state transitions traced.
    assert!(ours
        .iter()
        .any(|l| l.contains("Flags [S], seq") && l.contains("options [mss ")));
    assert!(ours.iter().any(|l| l.contains("Flags [S.]")));
    assert!(ours
        .iter()
        .any(|l| l.contains("Flags [P.]") && l.ends_with("length 6")));
    let client = format!("{}:", h.net.addr_b);
    for t in [
        "LISTEN -> SYN-RECEIVED",
        "SYN-RECEIVED -> ESTABLISHED",
        "-> CLOSED",
    ] {
        assert!(
            err.lines().any(|l| l.contains(&client) && l.contains(t)),
            "no `{t}` line:\n{err}"
        );
    }
}

/// Record offsets (frame start, frame length) of a classic pcap file.
fn pcap_records(file: &[u8]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut at = 24;
    for _ in 0..100_000 {
        let Some(h) = file.get(at..at + 16) else {
            break;
        };
        let caplen = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]) as usize;
        out.push((at + 16, caplen));
        at += 16 + caplen;
    }
    out
}

/// tshark reads the pcap, finds every TCP frame, and no malformed frame or
/// bad checksum: frames whose checksum the kernel left for offload
/// (CsumStatus::NotReady on veth) are written with it filled in.
#[test]
fn pcap_is_clean_for_tshark() {
    let mut h = Harness::new("tsh", 63);
    let own = h.own_addr().to_string();
    let pcap = h.path("s.pcap");
    let pcap_s = pcap.to_str().expect("utf-8 path").to_string();
    h.start(&["-s", "--ip", &own, "--pcap", &pcap_s]);
    h.send(h.own_addr(), b"Hello").expect("client");
    let st = h.wait(10);
    assert!(st.success(), "exit {st}: {}", h.stderr());

    let problems =
        Harness::tshark_problems("_ws.malformed || _ws.expert.severity >= error", &pcap_s);
    assert!(problems.trim().is_empty(), "tshark found:\n{problems}");
    let tcp = Harness::output(Command::new("tshark").args(["-r", &pcap_s, "-Y", "tcp"]));
    assert!(tcp.lines().count() >= 6, "{tcp}");

    // The filter is not vacuous: the same capture with one TCP checksum
    // broken is reported.
    let mut bytes = fs::read(&pcap).expect("read pcap");
    let (start, len) = pcap_records(&bytes)
        .into_iter()
        .find(|&(s, l)| l >= 54 && bytes[s + 12..s + 14] == [0x08, 0x00])
        .expect("a TCP frame");
    assert!(len >= 54);
    bytes[start + 14 + 20 + 16] ^= 0x5a;
    let bad = h.path("bad.pcap");
    fs::write(&bad, &bytes).expect("write");
    let problems = Harness::tshark_problems(
        "_ws.malformed || _ws.expert.severity >= error",
        bad.to_str().expect("utf-8"),
    );
    assert!(!problems.trim().is_empty(), "a broken checksum went unseen");
}

/// Shared-address mode with `--install-rst-rule`: the kernel's RSTs are
/// dropped while the server runs, and the rule is gone after it exits.
#[test]
fn shared_address_with_rst_rule() {
    let mut h = Harness::new("rst", 64);
    h.start(&["-s", "--install-rst-rule"]);
    let err = h.stderr();
    assert!(err.contains("installed nftables table"), "{err}");
    let listed = Harness::output(&mut h.net.exec_a(["nft", "list", "tables"]));
    assert!(listed.contains("tcpserver_3000_"), "{listed}");
    h.send(h.net.addr_a, b"Hello").expect("client");
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(h.stdout(), b"Hello", "{err}");
    let listed = Harness::output(&mut h.net.exec_a(["nft", "list", "tables"]));
    assert!(!listed.contains("tcpserver_"), "rule left behind: {listed}");
}

/// Without the rule, shared-address mode warns once with the exact nft and
/// iptables commands.
#[test]
fn shared_address_warns_with_commands() {
    let mut h = Harness::new("wrn", 69);
    h.start(&[]);
    let err = h.stderr();
    let (nft, ipt) = rawnet::firewall::rst_drop_commands(h.net.addr_a, 3000);
    assert!(err.contains(&nft), "{err}");
    assert!(err.contains(&ipt), "{err}");
    assert_eq!(err.matches("warning:").count(), 1, "{err}");
    h.signal(Signal::SIGTERM);
    let st = h.wait(10);
    assert!(st.success(), "exit {st}: {}", h.stderr());
}

/// SIGINT: the server closes its connections with a FIN exchange, prints
/// the summary and exits 0.
#[test]
fn sigint_closes_gracefully() {
    let mut h = Harness::new("sig", 65);
    let own = h.own_addr();
    let own_s = own.to_string();
    h.start(&["--ip", &own_s]);
    let to = SocketAddr::from((own, h.port));
    let client = rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<Vec<u8>> {
        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.write_all(b"Hi")?;
        let mut back = Vec::new();
        // Ends with the server's FIN; then dropping `s` sends ours.
        s.read_to_end(&mut back)?;
        Ok(back)
    })
    .expect("client thread");
    let t0 = Instant::now();
    while h.stdout() != b"Hi" {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "no payload: {}",
            h.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    h.signal(Signal::SIGINT);
    let back = client
        .join()
        .expect("client thread")
        .expect("enter ns")
        .expect("client read until the server's FIN, no reset");
    assert!(back.is_empty());
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(err.contains("signal received"), "{err}");
    assert!(err.contains("summary"), "{err}");
    assert!(err.contains("0 aborted"), "{err}");
}

/// A connection that ends in a reset ends the single session with status 3.
#[test]
fn reset_ends_single_session_with_status_3() {
    let mut h = Harness::new("rs3", 66);
    let own = h.own_addr();
    let own_s = own.to_string();
    h.start(&["-s", "--ip", &own_s]);
    let to = SocketAddr::from((own, h.port));
    h.net
        .run_in_b(move || -> std::io::Result<()> {
            let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            s.write_all(b"x")?;
            std::thread::sleep(Duration::from_millis(100));
            // SO_LINGER 0: close() sends a RST.
            nix::sys::socket::setsockopt(
                &s,
                nix::sys::socket::sockopt::Linger,
                &libc::linger {
                    l_onoff: 1,
                    l_linger: 0,
                },
            )?;
            drop(s);
            Ok(())
        })
        .expect("ns b")
        .expect("client");
    let st = h.wait(10);
    assert_eq!(st.code(), Some(3), "{}", h.stderr());
    assert!(h.stderr().contains("1 reset"), "{}", h.stderr());
}

/// `-v` dumps every layer with checksums; `--color never` has no escapes,
/// `--color always` has them.
#[test]
fn verbose_dump_and_colour() {
    let mut h = Harness::new("vrb", 67);
    let own = h.own_addr().to_string();
    h.start(&["-s", "-v", "--ip", &own, "--color", "never"]);
    h.send(h.own_addr(), b"Hello").expect("client");
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    for want in [
        "  Ethernet  ",
        "  ARP       request",
        "  IPv4      ",
        "  TCP       ",
        "  options   mss ",
        "payload   5 bytes \"Hello\"",
        "(valid)",
    ] {
        assert!(err.contains(want), "no `{want}` in:\n{err}");
    }
    assert!(!err.contains("(INVALID)"), "{err}");
    assert!(!err.contains('\x1b'), "{err}");
    drop(h);

    let mut h = Harness::new("clr", 68);
    let own = h.own_addr().to_string();
    h.start(&["-s", "-d", "--ip", &own, "--color", "always"]);
    h.send(h.own_addr(), b"Hello").expect("client");
    let st = h.wait(10);
    assert!(st.success());
    assert!(h.stderr().contains("\x1b["), "{}", h.stderr());
}

/// Discard mode counts the payload and prints none of it.
#[test]
fn discard_mode_prints_nothing() {
    let mut h = Harness::new("dis", 70);
    let own = h.own_addr().to_string();
    h.start(&["-s", "--mode", "discard", "--ip", &own]);
    h.send(h.own_addr(), &[7u8; 100_000]).expect("client");
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(h.stdout().is_empty());
    assert!(err.contains("100000 bytes received"), "{err}");
}

/// The kernel's own address given to `--ip` is refused in one line.
#[test]
fn own_address_owned_by_kernel_is_refused() {
    let h = Harness::new("own", 71);
    let out = h
        .net
        .exec_a([
            common::BIN,
            "-i",
            &h.net.if_a,
            "--ip",
            &h.net.addr_a.to_string(),
        ])
        .output()
        .expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("kernel's own address"), "{err}");
}

/// Echo mode (RFC 862): 4 MiB from a Linux client come back intact, read
/// while they are written, and the connection closes cleanly.
#[test]
fn echo_mode_echoes_intact() {
    let mut h = Harness::new("ech", 72);
    let own = h.own_addr();
    // MSS-sized frames only: the GSO path is what the net_* echo tests use.
    h.start(&["-s", "--mode", "echo", "--no-gso", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let data: Vec<u8> = (0..4u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    let sent = data.clone();
    let back = h
        .net
        .run_in_b(move || -> std::io::Result<Vec<u8>> {
            let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
            s.set_read_timeout(Some(Duration::from_secs(20)))?;
            s.set_write_timeout(Some(Duration::from_secs(20)))?;
            let mut w = s.try_clone()?;
            let writer = std::thread::spawn(move || -> std::io::Result<()> {
                w.write_all(&data)?;
                w.shutdown(std::net::Shutdown::Write)
            });
            let mut back = Vec::new();
            s.read_to_end(&mut back)?;
            writer.join().expect("writer thread")?;
            Ok(back)
        })
        .expect("namespace b")
        .expect("client");
    let st = h.wait(20);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(back.len(), sent.len(), "{err}");
    assert!(back == sent, "echoed bytes differ");
    assert!(h.stdout().is_empty());
}
