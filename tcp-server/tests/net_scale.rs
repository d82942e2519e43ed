//! End to end, many connections (needs root): 500 at once, 10,000 one
//! after another, against the real binary on a veth pair. Subnets
//! 198.18.110-119.

mod common;
mod support;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Harness;
use nix::sys::signal::Signal;
use sha2::{Digest, Sha256};
use support::{hex, note, Summary};

const CONNS: usize = 500;
const EACH: u64 = 64 << 10;

/// 500 clients, each on its own thread in namespace b: all connect first
/// (a bounded rendezvous), then all send 64 KiB at once, half-close and
/// read until the server's FIN. Returns each client's (sent, echoed) hashes.
fn concurrent_clients(
    h: &Harness,
    to: SocketAddr,
    seed: u64,
) -> Vec<(support::Hash, support::Hash, u64)> {
    let arrived = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for i in 0..CONNS {
        let arrived = arrived.clone();
        threads.push(
            rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<_> {
                let s = support::connect(to, 30);
                arrived.fetch_add(1, Ordering::SeqCst);
                let mut s = s?;
                // Everyone connected (or failed) before anyone sends: the
                // server holds 500 open connections at once.
                let t0 = Instant::now();
                while arrived.load(Ordering::SeqCst) < CONNS
                    && t0.elapsed() < Duration::from_secs(30)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let sent = support::write_stream(&mut s, EACH, seed + i as u64)?;
                s.shutdown(std::net::Shutdown::Write)?;
                let (n, got) = support::read_stream(&mut s)?;
                Ok((sent, got, n))
            })
            .expect("client thread"),
        );
    }
    threads
        .into_iter()
        .enumerate()
        .map(|(i, t)| {
            t.join()
                .expect("client thread panicked")
                .expect("enter ns b")
                .unwrap_or_else(|e| panic!("client {i}: {e}\n{}", h.stderr()))
        })
        .collect()
}

/// Echo mode, 500 concurrent connections of 64 KiB each: every client gets
/// back exactly what it sent (SHA-256 per connection: in echo mode each
/// stream's integrity is checked on its own, which print mode cannot show
/// since the streams interleave on stdout), and the summary counts 500
/// normal closes and 500 x 64 KiB.
#[test]
fn net_500_concurrent_echo() {
    let t0 = Instant::now();
    let mut h = Harness::new("c5e", 110);
    let own = h.own_addr();
    h.start(&["--mode", "echo", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let res = concurrent_clients(&h, to, 1000);
    for (i, (sent, got, n)) in res.iter().enumerate() {
        assert_eq!(*n, EACH, "client {i} got {n} bytes back");
        assert_eq!(hex(got), hex(sent), "client {i}: echo differs");
    }
    note("net_500_concurrent_echo", "clients done", t0);
    // The clients saw the server's FIN; let their last ACKs land.
    std::thread::sleep(Duration::from_millis(300));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(CONNS as u64), "{s:?}\n{err}");
    assert_eq!(s.bytes, CONNS as u64 * EACH);
    eprintln!("[net_500_concurrent_echo] {s:?}");
    note("net_500_concurrent_echo", "passed", t0);
}

/// Discard mode, the same 500 x 64 KiB: the summary's byte count and close
/// counts are exact (integrity per stream is the echo test's job).
#[test]
fn net_500_concurrent_discard() {
    let t0 = Instant::now();
    let mut h = Harness::new("c5d", 111);
    let own = h.own_addr();
    h.start(&["--mode", "discard", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let res = concurrent_clients(&h, to, 5000);
    assert!(res.iter().all(|r| r.2 == 0));
    std::thread::sleep(Duration::from_millis(300));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(h.stdout().is_empty());
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(CONNS as u64), "{s:?}\n{err}");
    assert_eq!(s.bytes, CONNS as u64 * EACH);
    note("net_500_concurrent_discard", "passed", t0);
}

/// 10,000 short connections one after another in print mode: each sends
/// its number and 100 bytes, half-closes and reads to the server's FIN.
/// Sequential, so stdout is their concatenation in order (checked by
/// SHA-256); every connection closed normally and none is left open (the
/// summary after SIGTERM: 10,000 established, 10,000 normal, 0 reset, 0
/// timed out, 0 aborted, where "aborted" counts connections still open at
/// exit).
#[test]
fn net_10000_sequential() {
    let t0 = Instant::now();
    const N: usize = 10_000;
    let mut h = Harness::new("seq", 112);
    // Client side only, in namespace b: reuse TIME-WAIT ports if needed.
    support::impair::sysctl(
        &h.net.ns_b,
        &[
            "net.ipv4.tcp_tw_reuse=1",
            "net.ipv4.ip_local_port_range=20000 60999",
        ],
    );
    let own = h.own_addr();
    h.start(&["--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let (hash, total, done) = h
        .net
        .run_in_b(move || -> std::io::Result<(support::Hash, u64, usize)> {
            let mut all = Sha256::new();
            let mut total = 0u64;
            let filler = support::data(100, 77);
            let t0 = Instant::now();
            for i in 0..N {
                if t0.elapsed() > Duration::from_secs(150) {
                    return Ok((all.finalize().into(), total, i));
                }
                let mut msg = format!("{i:05}:").into_bytes();
                msg.extend_from_slice(&filler);
                let mut s = support::connect(to, 10)
                    .map_err(|e| std::io::Error::other(format!("connection {i}: {e}")))?;
                use std::io::Write;
                s.write_all(&msg)?;
                s.shutdown(std::net::Shutdown::Write)?;
                let (n, _) = support::read_stream(&mut s)
                    .map_err(|e| std::io::Error::other(format!("connection {i}: {e}")))?;
                assert_eq!(n, 0);
                all.update(&msg);
                total += msg.len() as u64;
            }
            Ok((all.finalize().into(), total, N))
        })
        .expect("ns b")
        .unwrap_or_else(|e| panic!("client: {e}\n{}", h.stderr()));
    note(
        "net_10000_sequential",
        &format!("{done} connections done"),
        t0,
    );
    assert_eq!(done, N, "only {done} connections in 150 s");
    std::thread::sleep(Duration::from_millis(300));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(N as u64), "{s:?}\n{err}");
    assert_eq!(s.bytes, total);
    let (n, got) = support::sha256_file(&h.path("stdout")).expect("hash");
    assert_eq!(n, total);
    assert_eq!(
        hex(&got),
        hex(&hash),
        "stdout is not the connections' payloads in order"
    );
    eprintln!("[net_10000_sequential] {s:?}");
    note("net_10000_sequential", "passed", t0);
}
