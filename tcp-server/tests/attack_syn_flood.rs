//! Attack, end to end (needs root): a flood of 200,000 spoofed SYNs from a
//! raw socket in the client namespace while 100 Linux clients upload 1 MiB
//! each. Subnet 198.18.200.0/24; spoofed sources anywhere else in
//! 198.18.0.0/15 (never outside it).

mod common;
#[path = "support/flood.rs"]
mod flood;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Harness;
use flood::{note, Summary};
use flood::{Rng, Seg, SYN};
use nix::sys::signal::Signal;

const SUBNET: u8 = 200;
const SYNS: usize = 200_000;
const CLIENTS: usize = 100;
const EACH: u64 = 1 << 20;
/// The bound stated for the server's resident memory under the flood: its
/// fixed costs (receive ring 16 MiB, connection table of 1024 slots) plus
/// the receive buffers the 100 uploads touch (at most 256 KiB each, 25 MiB):
/// 64 MiB.
const RSS_BOUND_KIB: u64 = 64 << 10;

/// Discard mode, default table (1024 connections, half-open bound 512):
/// 200,000 SYNs from random sources in 198.18.0.0/15 and random ports, as
/// fast as the raw socket sends them, while 100 clients connect and upload
/// 1 MiB each. Every upload completes (the summary counts 101 normal closes
/// and every byte), the server's RSS stays under [`RSS_BOUND_KIB`], and the
/// half-open bound holds: the server answers the excess with SYN cookies
/// (its SYN-ACKs to spoofed sources are sniffed in namespace b, far more
/// than the 512 that can hold state; the summary's "syn cookies" line
/// counts them, and the clients' returning cookies).
#[test]
fn attack_syn_flood_with_100_uploads() {
    let t0 = Instant::now();
    let mut h = Harness::new("asyn", SUBNET);
    let own = h.own_addr();
    h.start(&["--mode", "discard", "--ip", &own.to_string()]);
    let pid = h.child.as_ref().unwrap().id();
    assert_eq!(
        flood::comm(pid),
        "tcp-server",
        "ip netns exec execs the server"
    );
    let to = SocketAddr::from((own, h.port));

    // A first kernel connection makes namespace b learn the server's MAC.
    let back = h.send(own, b"hello").expect("first connection");
    assert!(back.is_empty());
    let server_mac = flood::neigh_mac(&h.net.ns_b, own).expect("server MAC in ns b's ARP table");
    let rss_idle = flood::rss_kib(pid).unwrap_or(0);

    // The flood, built beforehand so that sending is as fast as it goes.
    let (mut sock, iface_b) = flood::open_raw(&h.net.ns_b, &h.net.if_b, true);
    let mut rng = Rng::new(0x5eed);
    let frames: Vec<Vec<u8>> = (0..SYNS)
        .map(|_| {
            let mut s = Seg::new(server_mac, iface_b.mac, rng.spoofed_addr(SUBNET), own);
            s.sport = 1024 + rng.below(64000) as u16;
            s.seq = rng.u32();
            s.flags = SYN;
            s.options = vec![2, 4, 0x05, 0xb4]; // MSS 1460
            s.frame()
        })
        .collect();

    // Count the server's SYN-ACKs to spoofed addresses in ns b.
    let mut sniff =
        flood::Sniffer::start(&h.net.ns_b, &h.net.if_b, 400_000, Duration::from_secs(60));
    let mut rss = flood::RssWatch::start(pid, Duration::from_secs(90));

    // Flood and clients at once.
    let started = Arc::new(AtomicUsize::new(0));
    let started2 = started.clone();
    let flooder = std::thread::spawn(move || {
        let t = Instant::now();
        let deadline = t + Duration::from_secs(30);
        let mut sent = 0;
        for (i, chunk) in frames.chunks(8192).enumerate() {
            sent += flood::send_all(&mut sock, chunk, deadline);
            started2.store(i + 1, Ordering::SeqCst);
        }
        (sent, t.elapsed())
    });
    // Let the first 16k SYNs go, so that the clients meet a full half-open
    // table.
    assert!(flood::wait_until(10, || started.load(Ordering::SeqCst) >= 2));
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(
            rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<_> {
                let mut s = flood::connect(to, 30)?;
                let sent = flood::write_stream(&mut s, EACH, 9000 + i as u64)?;
                s.shutdown(std::net::Shutdown::Write)?;
                let n = flood::read_to_fin(&mut s)?;
                Ok((sent, n))
            })
            .expect("client thread"),
        );
    }
    let (sent, took) = flooder.join().expect("flooder");
    let rss_flood = rss.peak();
    note(
        "attack_syn_flood",
        &format!(
            "{sent} SYNs sent in {:.3} s ({:.0}/s)",
            took.as_secs_f64(),
            sent as f64 / took.as_secs_f64()
        ),
        t0,
    );
    assert_eq!(sent, SYNS, "the raw socket did not take every SYN");
    let mut failed = Vec::new();
    for (i, c) in clients.into_iter().enumerate() {
        match c.join().expect("client panicked").expect("enter ns b") {
            Ok((_, n)) => assert_eq!(n, 0, "client {i}: the server sent data in discard mode"),
            Err(e) => failed.push(format!("client {i}: {e}")),
        }
    }
    note("attack_syn_flood", "clients done", t0);
    let rss_peak = rss.stop();
    std::thread::sleep(Duration::from_millis(300));
    let rss_after = flood::rss_kib(pid).unwrap_or(0);
    let seen = sniff.stop();
    let synacks: Vec<_> = seen
        .iter()
        .filter(|s| {
            s.src == own
                && s.flags & 0x12 == 0x12
                && !s.dst.octets().starts_with(&[198, 18, SUBNET])
        })
        .collect();
    let mut tuples: Vec<_> = synacks.iter().map(|s| (s.dst, s.dport)).collect();
    tuples.sort();
    tuples.dedup();

    h.signal(Signal::SIGTERM);
    let st = h.wait(20);
    let err = h.stderr();
    eprintln!("{err}");
    eprintln!(
        "[attack_syn_flood] RSS: idle {rss_idle} KiB, peak during flood+uploads {} KiB (peak while the flood was being sent {rss_flood} KiB), after {rss_after} KiB; bound {RSS_BOUND_KIB} KiB",
        rss_peak
    );
    eprintln!(
        "[attack_syn_flood] sniffed {} SYN-ACKs to spoofed sources ({} distinct 4-tuples, of {SYNS} SYNs sent); summary mentions cookies: {}",
        synacks.len(),
        tuples.len(),
        err.to_lowercase().contains("cookie")
    );
    assert!(
        failed.is_empty(),
        "{} uploads failed: {failed:?}\n{err}",
        failed.len()
    );
    assert!(st.success(), "exit {st}: {err}");
    let s = Summary::parse(&err).expect("summary");
    let n = CLIENTS as u64 + 1;
    assert_eq!(s.bytes, 5 + CLIENTS as u64 * EACH, "{s:?}\n{err}");
    assert_eq!(
        s.normal, n,
        "every legitimate connection closes normally: {s:?}"
    );
    assert_eq!(s.reset + s.timed_out, 0, "{s:?}");
    // Spoofed handshakes never complete.
    assert_eq!(s.established, n, "{s:?}");
    assert!(
        rss_peak <= RSS_BOUND_KIB,
        "server RSS {rss_peak} KiB over the bound {RSS_BOUND_KIB} KiB"
    );
    // Without state for most of the flood, the server still answered it:
    // far more SYN-ACKs than the half-open bound of 512 (SYN cookies).
    assert!(
        synacks.len() > 10_000,
        "only {} SYN-ACKs to spoofed sources: no SYN cookies?",
        synacks.len()
    );
    // The summary's SYN-cookie line: every legitimate client connected
    // while the half-open table was full (the 512 spoofed half-open
    // connections were still there at exit, counted as aborted), so each
    // came in through a returning cookie.
    let line = err
        .lines()
        .map(str::trim_start)
        .find(|l| l.starts_with("syn cookies"))
        .unwrap_or_else(|| panic!("no SYN-cookie line in the summary:\n{err}"));
    let n: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    eprintln!("[attack_syn_flood] {line}");
    assert!(n.len() >= 2, "{line}");
    assert!(n[0] >= 10_000, "{line}");
    assert!(
        n[1] >= CLIENTS as u64 || s.aborted < 512,
        "the clients' cookies: {line}; {s:?}"
    );
    note("attack_syn_flood", "passed", t0);
}
