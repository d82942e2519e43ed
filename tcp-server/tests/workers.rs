//! `--workers N` end to end (needs root): several worker threads, each with
//! its own raw socket in one PACKET_FANOUT group, against Linux clients on
//! a veth pair. Tags `wrk*`, subnets 198.18.80-82.

mod common;
mod support;

use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Harness;
use nix::sys::signal::Signal;
use support::{hex, note, Summary};

const CONNS: usize = 200;
const EACH: u64 = 32 << 10;

/// `worker N     C connections, B bytes received, F frames received`
/// lines of the summary: (N, C, B) for each.
fn worker_lines(stderr: &str) -> Vec<(u64, u64, u64)> {
    let Some(start) = stderr.find("tcp-server: summary after") else {
        return Vec::new();
    };
    stderr[start..]
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("worker "))
        .filter_map(|r| {
            let n: Vec<u64> = r
                .split(|c: char| !c.is_ascii_digit())
                .filter(|w| !w.is_empty())
                .filter_map(|w| w.parse().ok())
                .collect();
            (n.len() >= 3 && r.contains("connections")).then(|| (n[0], n[1], n[2]))
        })
        .collect()
}

/// `CONNS` clients, each on its own thread in namespace b: all connect
/// first (a bounded rendezvous), then all run `f` on their connection at
/// once. Returns what each `f` returned; fails the test on any client error.
fn concurrent<T: Send + 'static>(
    h: &Harness,
    to: SocketAddr,
    f: impl Fn(usize, TcpStream) -> std::io::Result<T> + Send + Sync + Clone + 'static,
) -> Vec<T> {
    let arrived = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for i in 0..CONNS {
        let arrived = arrived.clone();
        let f = f.clone();
        threads.push(
            rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<T> {
                let s = support::connect(to, 30);
                arrived.fetch_add(1, Ordering::SeqCst);
                let s = s?;
                // Everyone connected (or failed) before anyone sends: both
                // workers hold their share of the connections at once.
                let t0 = Instant::now();
                while arrived.load(Ordering::SeqCst) < CONNS
                    && t0.elapsed() < Duration::from_secs(30)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                f(i, s)
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

/// Checks the exit summary of a run with two workers that served `CONNS`
/// connections of `EACH` bytes, all closed normally: the totals, nothing
/// left open, and a line per worker, both with some of the connections.
fn check_two_workers(test: &str, err: &str) {
    let s = Summary::parse(err).expect("summary");
    assert!(s.all_normal(CONNS as u64), "{s:?}\n{err}");
    assert_eq!(s.open, Some(0), "{err}");
    assert_eq!(s.bytes, CONNS as u64 * EACH, "{err}");
    let w = worker_lines(err);
    assert_eq!(
        w.iter().map(|l| l.0).collect::<Vec<_>>(),
        [0, 1],
        "one line per worker:\n{err}"
    );
    assert!(
        w.iter().all(|l| l.1 > 0 && l.2 > 0),
        "both workers got connections:\n{err}"
    );
    assert_eq!(w.iter().map(|l| l.1).sum::<u64>(), CONNS as u64, "{err}");
    assert_eq!(w.iter().map(|l| l.2).sum::<u64>(), s.bytes, "{err}");
    eprintln!(
        "[{test}] per worker (connections, bytes): {:?}",
        w.iter().map(|l| (l.1, l.2)).collect::<Vec<_>>()
    );
}

/// Discard mode, two workers, 200 concurrent connections of 32 KiB: every
/// byte is counted once, every connection closed normally, none left in a
/// table, and the fanout program gave each worker some of them.
#[test]
fn two_workers_discard_200_concurrent() {
    let t0 = Instant::now();
    let mut h = Harness::new("wrk", 80);
    let own = h.own_addr();
    h.start(&[
        "--workers",
        "2",
        "--mode",
        "discard",
        "--ip",
        &own.to_string(),
    ]);
    assert!(h.stderr().contains(", 2 workers ("), "{}", h.stderr());
    let to = SocketAddr::from((own, h.port));
    let back = concurrent(&h, to, |i, mut s| {
        support::write_stream(&mut s, EACH, 7000 + i as u64)?;
        s.shutdown(std::net::Shutdown::Write)?;
        Ok(support::read_stream(&mut s)?.0)
    });
    assert!(back.iter().all(|&n| n == 0), "discard mode sends no data");
    note("two_workers_discard_200_concurrent", "clients done", t0);
    // The clients saw the server's FIN; let their last ACKs land.
    std::thread::sleep(Duration::from_millis(300));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(h.stdout().is_empty());
    check_two_workers("two_workers_discard_200_concurrent", &err);
    assert_eq!(
        err.matches("signal received").count(),
        1,
        "the warning once, not once per worker:\n{err}"
    );
}

/// Echo mode, two workers, the same 200 x 32 KiB: each client gets back
/// exactly what it sent (SHA-256 per connection), so each worker sends on
/// its own socket the flows the kernel hashed to it.
#[test]
fn two_workers_echo_200_concurrent() {
    let t0 = Instant::now();
    let mut h = Harness::new("wrke", 82);
    let own = h.own_addr();
    h.start(&["--workers", "2", "--mode", "echo", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let res = concurrent(&h, to, |i, s| {
        let mut w = s.try_clone()?;
        let seed = 9000 + i as u64;
        let writer = std::thread::spawn(move || -> std::io::Result<support::Hash> {
            let h = support::write_stream(&mut w, EACH, seed)?;
            w.shutdown(std::net::Shutdown::Write)?;
            Ok(h)
        });
        let mut r = s;
        let read = support::read_stream(&mut r);
        if read.is_err() {
            let _ = r.shutdown(std::net::Shutdown::Both);
        }
        let sent = writer
            .join()
            .map_err(|_| std::io::Error::other("writer thread panicked"))??;
        let (n, got) = read?;
        Ok((sent, got, n))
    });
    for (i, (sent, got, n)) in res.iter().enumerate() {
        assert_eq!(*n, EACH, "client {i} got {n} bytes back");
        assert_eq!(hex(got), hex(sent), "client {i}: echo differs");
    }
    note("two_workers_echo_200_concurrent", "clients done", t0);
    std::thread::sleep(Duration::from_millis(300));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    check_two_workers("two_workers_echo_200_concurrent", &err);
}

/// `-s` with two workers: idle connections are opened first (so that with
/// near certainty some sit on the other worker than the session's end),
/// then "Hello" from one more client that closes. That end stops the whole
/// run: every worker closes its idle connections with a FIN exchange (each
/// idle client reads to the server's FIN), the server exits 0, and stdout
/// holds "Hello" exactly.
#[test]
fn single_session_with_two_workers() {
    const IDLE: usize = 8;
    let mut h = Harness::new("wrks", 81);
    let own = h.own_addr();
    h.start(&["-s", "--workers", "2", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let connected = Arc::new(AtomicUsize::new(0));
    let idle: Vec<_> = (0..IDLE)
        .map(|_| {
            let connected = connected.clone();
            rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<u64> {
                let s = support::connect(to, 15);
                connected.fetch_add(1, Ordering::SeqCst);
                let mut s = s?;
                // Ends with the server's FIN; dropping `s` then sends ours.
                Ok(support::read_stream(&mut s)?.0)
            })
            .expect("idle client thread")
        })
        .collect();
    assert!(
        support::wait_until(10, || connected.load(Ordering::SeqCst) == IDLE),
        "idle clients did not connect: {}",
        h.stderr()
    );
    let back = h.send(own, b"Hello").expect("client");
    assert!(back.is_empty());
    for (i, t) in idle.into_iter().enumerate() {
        let n = t
            .join()
            .expect("idle client thread")
            .expect("enter ns b")
            .unwrap_or_else(|e| panic!("idle client {i}: {e}\n{}", h.stderr()));
        assert_eq!(n, 0, "idle client {i}");
    }
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(h.stdout(), b"Hello", "stderr:\n{err}");
    let s = Summary::parse(&err).expect("summary");
    assert_eq!(s.established, IDLE as u64 + 1, "{err}");
    assert_eq!(
        (s.reset, s.timed_out, s.aborted),
        (0, 0, 0),
        "every connection closed with FINs:\n{err}"
    );
    assert_eq!(s.bytes, 5, "{err}");
    let w = worker_lines(&err);
    assert_eq!(w.len(), 2, "{err}");
    eprintln!(
        "[single_session_with_two_workers] connections per worker: {:?}",
        w.iter().map(|l| l.1).collect::<Vec<_>>()
    );
}
