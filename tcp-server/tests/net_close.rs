//! End to end, the ways a connection ends (needs root): a client that
//! aborts with a RST mid-stream, a client that half-closes and reads on, a
//! client whose final ACK never arrives. The server must clean up every
//! time, within its timeouts. Subnets 198.18.120-129.

mod common;
mod support;

use std::io::Write;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::Harness;
use nix::sys::signal::Signal;
use support::{file_len, hex, note, sha256, sha256_file, Summary};

/// The client writes 1 MiB, waits until the server printed all of it,
/// writes 4 MiB more and aborts at once (SO_LINGER 0, then close: a RST
/// while data is in flight). The single session ends with status 3, one
/// reset; stdout is an intact prefix of what was sent (SHA-256).
#[test]
fn net_rst_mid_stream() {
    let t0 = Instant::now();
    let mut h = Harness::new("rst", 120);
    let own = h.own_addr();
    h.start(&["-s", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let data = support::data(5 << 20, 11);
    let sent = data.clone();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let client = rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<()> {
        let mut s = support::connect(to, 10)?;
        s.write_all(&data[..1 << 20])?;
        go_rx
            .recv_timeout(Duration::from_secs(20))
            .map_err(|_| std::io::Error::other("no go"))?;
        s.write_all(&data[1 << 20..])?;
        support::set_linger0(&s)?;
        drop(s);
        Ok(())
    })
    .expect("client");
    let stdout = h.path("stdout");
    assert!(
        support::wait_until(20, || file_len(&stdout) >= 1 << 20),
        "server printed {} bytes: {}",
        file_len(&stdout),
        h.stderr()
    );
    go_tx.send(()).expect("go");
    client
        .join()
        .expect("client")
        .expect("ns")
        .expect("client io");
    let st = h.wait(15);
    let err = h.stderr();
    assert_eq!(st.code(), Some(3), "{err}");
    let s = Summary::parse(&err).expect("summary");
    assert_eq!(
        (s.established, s.reset, s.normal, s.timed_out, s.aborted),
        (1, 1, 0, 0, 0),
        "{err}"
    );
    let (n, got) = sha256_file(&stdout).expect("hash");
    assert!(n >= 1 << 20 && n <= sent.len() as u64, "{n} bytes");
    assert_eq!(
        hex(&got),
        hex(&sha256(&sent[..n as usize])),
        "stdout is not a prefix of the stream"
    );
    assert_eq!(s.bytes, n);
    eprintln!(
        "[net_rst_mid_stream] {n} of {} bytes before the reset",
        sent.len()
    );
    note("net_rst_mid_stream", "passed", t0);
}

/// Echo mode, half-close: the client writes 128 KiB, shuts down its
/// sending side, and only then reads, until the server's FIN. The server
/// must keep sending after the client's FIN and close after the echo.
#[test]
fn net_half_close_echo() {
    let t0 = Instant::now();
    let mut h = Harness::new("hcl", 121);
    let own = h.own_addr();
    h.start(&["-s", "--mode", "echo", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let e = h
        .net
        .run_in_b(
            move || -> std::io::Result<(support::Hash, u64, support::Hash)> {
                let mut s = support::connect(to, 10)?;
                let sent = support::write_stream(&mut s, 128 << 10, 12)?;
                s.shutdown(std::net::Shutdown::Write)?;
                std::thread::sleep(Duration::from_millis(200));
                let (n, got) = support::read_stream(&mut s)?;
                Ok((sent, n, got))
            },
        )
        .expect("ns b")
        .expect("client");
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(e.1, 128 << 10, "{err}");
    assert_eq!(hex(&e.2), hex(&e.0));
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(1), "{s:?}\n{err}");
    note("net_half_close_echo", "passed", t0);
}

/// Installs, in namespace b, a rule dropping the client's pure ACKs to the
/// server (`tcp flags == ack`: no data, no FIN), so the ACK of the server's
/// FIN never arrives.
fn drop_pure_acks(h: &Harness, server: std::net::Ipv4Addr) {
    support::impair::nft(
        &h.net.ns_b,
        &format!(
            "table ip e2e_ack {{
  chain out {{ type filter hook output priority 0; policy accept;
    ip daddr {server} tcp dport {} tcp flags == ack counter drop
  }}
}}
",
            h.port
        ),
    );
}

/// A client that sent "Hello", then (with the rule in place) half-closes
/// and reads until the server's FIN, whose ACK is dropped.
fn hello_then_fin(h: &Harness, server: std::net::Ipv4Addr) {
    let to = SocketAddr::from((server, h.port));
    let (tx, rx) = mpsc::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let client = rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<u64> {
        let mut s = support::connect(to, 10)?;
        s.write_all(b"Hello")?;
        let _ = ready_tx.send(());
        rx.recv_timeout(Duration::from_secs(10))
            .map_err(|_| std::io::Error::other("no go"))?;
        s.shutdown(std::net::Shutdown::Write)?;
        let (n, _) = support::read_stream(&mut s)?;
        Ok(n)
    })
    .expect("client");
    ready_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("client connected");
    let stdout = h.path("stdout");
    assert!(
        support::wait_until(10, || file_len(&stdout) == 5),
        "{}",
        h.stderr()
    );
    // Let the ACK of "Hello" and any delayed ACK pass before the rule.
    std::thread::sleep(Duration::from_millis(100));
    drop_pure_acks(h, server);
    tx.send(()).expect("go");
    let n = client
        .join()
        .expect("client")
        .expect("ns")
        .expect("client io");
    assert_eq!(n, 0);
}

/// Times (seconds of the day) of the server's FIN transmissions in its
/// `-d` trace.
fn fin_times(err: &str) -> Vec<f64> {
    err.lines()
        .filter_map(|l| l.strip_prefix("TX "))
        .filter(|l| l.contains("Flags [F"))
        .filter_map(|l| {
            let t = l.split_whitespace().next()?;
            let mut p = t.split(':');
            let h: f64 = p.next()?.parse().ok()?;
            let m: f64 = p.next()?.parse().ok()?;
            let s: f64 = p.next()?.parse().ok()?;
            Some(h * 3600.0 + m * 60.0 + s)
        })
        .collect()
}

/// The client's final ACK is dropped for 3 s, then let through: the server
/// retransmits its FIN with growing intervals, and once the client's
/// TIME-WAIT answers a retransmission, closes normally (status 0).
#[test]
fn net_no_final_ack_then_recovers() {
    let t0 = Instant::now();
    let mut h = Harness::new("nfa", 122);
    let own = h.own_addr();
    h.start(&["-s", "-d", "--color", "never", "--ip", &own.to_string()]);
    hello_then_fin(&h, own);
    std::thread::sleep(Duration::from_secs(3));
    let dropped = support::impair::counted(&h.net.ns_b, "ip", "e2e_ack");
    Harness::output(&mut h.net.exec_b(["nft", "delete", "table", "ip", "e2e_ack"]));
    let st = h.wait(20);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(1), "{s:?}\n{err}");
    let fins = fin_times(&err);
    assert!(dropped >= 2, "only {dropped} ACKs dropped\n{err}");
    assert!(fins.len() >= 3, "FIN sent {} times:\n{err}", fins.len());
    let gaps: Vec<f64> = fins.windows(2).map(|w| w[1] - w[0]).collect();
    for w in gaps.windows(2) {
        assert!(
            w[1] >= w[0] * 1.5,
            "FIN retransmissions do not back off: {gaps:?}"
        );
    }
    eprintln!("[net_no_final_ack_then_recovers] FIN gaps {gaps:?}, {dropped} ACKs dropped");
    note("net_no_final_ack_then_recovers", "passed", t0);
}

/// The client's final ACK never arrives: the server gives up after its
/// retransmissions (max_retries 8, RTO doubling from 200 ms up to its 60 s
/// cap) and the single session ends "timed out" (status 4), within 150 s.
#[test]
fn net_no_final_ack_times_out() {
    let t0 = Instant::now();
    let mut h = Harness::new("nft", 123);
    let own = h.own_addr();
    // Four retransmissions (0.2 + 0.4 + 0.8 + 1.6 s, then 3.2 s to give up)
    // keep the test short; the default of 8 takes about 100 s.
    h.start(&[
        "-s",
        "-d",
        "--color",
        "never",
        "--max-retries",
        "4",
        "--ip",
        &own.to_string(),
    ]);
    hello_then_fin(&h, own);
    let t1 = Instant::now();
    let st = h.wait(30);
    let took = t1.elapsed();
    let err = h.stderr();
    assert_eq!(st.code(), Some(4), "{err}");
    let s = Summary::parse(&err).expect("summary");
    assert_eq!(
        (s.established, s.normal, s.reset, s.timed_out, s.aborted),
        (1, 0, 0, 1, 0),
        "{err}"
    );
    let fins = fin_times(&err);
    let gaps: Vec<f64> = fins.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!(
        "[net_no_final_ack_times_out] gave up {:.1} s after the FIN; {} FINs, gaps {gaps:?}",
        took.as_secs_f64(),
        fins.len()
    );
    // The FIN and its four retransmissions, each gap about twice the last.
    assert_eq!(fins.len(), 5, "{err}");
    assert!(
        gaps.windows(2).all(|g| g[1] > g[0] * 1.5),
        "no backoff: {gaps:?}"
    );
    note("net_no_final_ack_times_out", "passed", t0);
}

/// One server, 40 clients in turn: every odd one aborts with a RST after
/// 256 KiB, every even one sends 256 KiB and half-closes. After SIGTERM the
/// summary shows 40 established, 20 normal, 20 reset, nothing timed out or
/// left open (aborted).
#[test]
fn net_close_mix() {
    let t0 = Instant::now();
    let mut h = Harness::new("mix", 124);
    let own = h.own_addr();
    h.start(&["--mode", "discard", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    h.net
        .run_in_b(move || -> std::io::Result<()> {
            for i in 0..40u64 {
                let mut s = support::connect(to, 10)?;
                support::write_stream(&mut s, 256 << 10, 100 + i)?;
                if i % 2 == 1 {
                    std::thread::sleep(Duration::from_millis(20));
                    support::set_linger0(&s)?;
                    drop(s);
                } else {
                    s.shutdown(std::net::Shutdown::Write)?;
                    let (n, _) = support::read_stream(&mut s)?;
                    assert_eq!(n, 0);
                }
            }
            Ok(())
        })
        .expect("ns b")
        .expect("clients");
    std::thread::sleep(Duration::from_millis(300));
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let s = Summary::parse(&err).expect("summary");
    assert_eq!(
        (s.established, s.normal, s.reset, s.timed_out, s.aborted),
        (40, 20, 20, 0, 0),
        "{err}"
    );
    assert!(s.bytes >= 20 * (256 << 10), "{s:?}");
    note("net_close_mix", "passed", t0);
}
