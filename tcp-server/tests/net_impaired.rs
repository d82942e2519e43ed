//! End to end over an impaired link (needs root): random loss and
//! duplication (nftables), reordering and fixed delay (a user-space relay
//! between two veth pairs, `rawnet::relay`), a rate limit (tbf). Every transfer is checked
//! by SHA-256 and ends with a clean close. Every rule, qdisc and the relay
//! live in the test's own namespaces. Subnets 198.18.130-149.

mod common;
mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::Harness;
use support::relay::{Impair, RelayNet};
use support::{hex, note, sha256_file, Summary};

/// Uploads `len` bytes in print mode (single session) and checks the hash
/// of stdout and a clean close; returns the summary.
fn upload_checked(h: &mut Harness, test: &str, len: u64, seed: u64) -> Summary {
    let own = h.own_addr();
    h.start(&["-s", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let up = h
        .net
        .run_in_b(move || support::upload(to, len, seed, 60))
        .expect("ns b")
        .unwrap_or_else(|e| panic!("{test}: client: {e}"));
    let st = h.wait(60);
    let err = h.stderr();
    assert!(st.success(), "{test}: exit {st}: {err}");
    let (n, got) = sha256_file(&h.path("stdout")).expect("hash");
    assert_eq!(n, len, "{test}: {err}");
    assert_eq!(hex(&got), hex(&up.sent), "{test}: payload differs");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(1), "{test}: {s:?}\n{err}");
    eprintln!(
        "[{test}] upload {:.1} MB/s: {s:?}",
        len as f64 / up.elapsed.as_secs_f64() / 1e6
    );
    s
}

/// Echoes `len` bytes (single session) and checks both hashes and a clean
/// close; returns the summary.
fn echo_checked(h: &mut Harness, test: &str, len: u64, seed: u64) -> Summary {
    let own = h.own_addr();
    h.start(&["-s", "--mode", "echo", "--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    // A bound on time that grows with the length (1 s per MiB, at least 60).
    let secs = 60 + len / (1 << 20);
    let e = h
        .net
        .run_in_b(move || support::echo(to, len, seed, secs))
        .expect("ns b")
        .unwrap_or_else(|e| panic!("{test}: client: {e}"));
    let st = h.wait(secs);
    let err = h.stderr();
    assert!(st.success(), "{test}: exit {st}: {err}");
    assert_eq!(e.got_len, len, "{test}: {err}");
    assert_eq!(hex(&e.got), hex(&e.sent), "{test}: echo differs");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(1), "{test}: {s:?}\n{err}");
    eprintln!(
        "[{test}] echo {:.1} MB/s: {s:?}",
        len as f64 / e.elapsed.as_secs_f64() / 1e6
    );
    s
}

/// 5 % random loss in both directions: a 20 MiB upload arrives intact.
/// (The rules sit in namespace b: the server -> client drops are true
/// losses, but Linux sees its own output drops and sends again without a
/// retransmission, so client -> server data has no holes here; the relay
/// test `net_loss_5pct_relay` loses frames on the wire both ways.)
#[test]
fn net_loss_5pct_upload() {
    let t0 = Instant::now();
    let mut h = Harness::new("lsu", 130);
    support::impair::segment_sized(&h.net);
    support::impair::loss(&h.net, 5);
    upload_checked(&mut h, "net_loss_5pct_upload", 20 << 20, 21);
    let lost = support::impair::loss_count(&h.net);
    assert!(lost > 100, "only {lost} packets dropped");
    eprintln!("[net_loss_5pct_upload] {lost} packets dropped by nftables");
    note("net_loss_5pct_upload", "passed", t0);
}

/// 5 % random loss in both directions: 100 MiB echoed back intact (the
/// server's own sending side recovers from loss).
#[test]
fn net_loss_5pct_echo() {
    let t0 = Instant::now();
    let mut h = Harness::new("lse", 131);
    support::impair::segment_sized(&h.net);
    support::impair::loss(&h.net, 5);
    let s = echo_checked(&mut h, "net_loss_5pct_echo", 100 << 20, 22);
    assert!(s.retransmissions > 0, "{s:?}");
    let lost = support::impair::loss_count(&h.net);
    assert!(lost > 100, "only {lost} packets dropped");
    eprintln!("[net_loss_5pct_echo] {lost} packets dropped by nftables");
    note("net_loss_5pct_echo", "passed", t0);
}

/// 2 % of the packets duplicated in each direction (nftables `dup`): upload
/// and echo intact.
#[test]
fn net_dup_2pct() {
    let t0 = Instant::now();
    let mut h = Harness::new("dup", 132);
    support::impair::segment_sized(&h.net);
    let own = h.own_addr();
    support::impair::dup(&h.net, own, 2);
    upload_checked(&mut h, "net_dup_2pct", 20 << 20, 23);
    let (c2s, s2c) = support::impair::dup_count(&h.net);
    drop(h);
    let mut h = Harness::new("dpe", 133);
    support::impair::segment_sized(&h.net);
    let own = h.own_addr();
    support::impair::dup(&h.net, own, 2);
    echo_checked(&mut h, "net_dup_2pct", 20 << 20, 24);
    let (c2s_e, s2c_e) = support::impair::dup_count(&h.net);
    eprintln!(
        "[net_dup_2pct] duplicated: upload {c2s} client->server, {s2c} server->client; echo {c2s_e}, {s2c_e}"
    );
    assert!(c2s > 50 && c2s_e > 50 && s2c_e > 50, "too few duplicates");
    note("net_dup_2pct", "passed", t0);
}

/// Reordering: the relay holds back 10 % of the frames (both ways) for
/// 1-5 ms. Upload and echo of 20 MiB intact, and frames were in fact
/// overtaken.
#[test]
fn net_reorder_relay() {
    let t0 = Instant::now();
    let imp = Impair {
        delay_pct: 10,
        delay_max_ms: 5,
        dup_pct: 0,
        loss_pct: 0,
        lifetime: Duration::from_secs(120),
        ..Impair::default()
    };
    let (net, mut relay) = RelayNet::new("rou", 134, imp);
    let mut h = Harness::with_net(net, "rou");
    upload_checked(&mut h, "net_reorder_relay", 20 << 20, 25);
    // Stop the relay before its interfaces go away with the harness.
    let st_up = relay.stop().expect("relay");
    drop(h);
    drop(relay);
    eprintln!("[net_reorder_relay] relay (upload): {st_up:?}");
    assert!(st_up.overtaken > 100, "{st_up:?}");

    let (net, mut relay) = RelayNet::new("roe", 135, imp);
    let mut h = Harness::with_net(net, "roe");
    echo_checked(&mut h, "net_reorder_relay", 20 << 20, 26);
    let st_e = relay.stop().expect("relay");
    drop(h);
    eprintln!("[net_reorder_relay] relay (echo): {st_e:?}");
    assert!(st_e.overtaken > 100, "{st_e:?}");
    assert_eq!(st_e.send_errors, 0);
    note("net_reorder_relay", "passed", t0);
}

/// Relay with reordering and 2 % duplication together, echo of 8 MiB.
#[test]
fn net_reorder_and_dup_relay() {
    let t0 = Instant::now();
    let imp = Impair {
        delay_pct: 10,
        delay_max_ms: 5,
        dup_pct: 2,
        loss_pct: 0,
        lifetime: Duration::from_secs(120),
        ..Impair::default()
    };
    let (net, mut relay) = RelayNet::new("rod", 136, imp);
    let mut h = Harness::with_net(net, "rod");
    echo_checked(&mut h, "net_reorder_and_dup_relay", 8 << 20, 27);
    let st = relay.stop().expect("relay");
    drop(h);
    eprintln!("[net_reorder_and_dup_relay] relay: {st:?}");
    assert!(st.overtaken > 10 && st.duplicated > 10, "{st:?}");
    note("net_reorder_and_dup_relay", "passed", t0);
}

/// A 50 Mbit/s token bucket on both veth ends: upload and echo of 8 MiB
/// intact, at about the rate.
#[test]
fn net_rate_limit_50mbit() {
    let t0 = Instant::now();
    let mut h = Harness::new("rat", 137);
    support::impair::segment_sized(&h.net);
    support::impair::rate(&h.net, "50mbit");
    upload_checked(&mut h, "net_rate_limit_50mbit", 8 << 20, 28);
    let q = support::impair::qdisc_stats(&h.net);
    assert!(q.contains("tbf"), "{q}");
    eprintln!("[net_rate_limit_50mbit] {}", q.replace('\n', " | "));
    drop(h);
    let mut h = Harness::new("rae", 138);
    support::impair::segment_sized(&h.net);
    support::impair::rate(&h.net, "50mbit");
    echo_checked(&mut h, "net_rate_limit_50mbit", 8 << 20, 29);
    note("net_rate_limit_50mbit", "passed", t0);
}

/// True wire loss both ways: the relay drops 5 % of the IPv4 frames in each
/// direction (neither kernel nor server can see it). Upload of 20 MiB and
/// echo of 8 MiB intact; both the server's receiver (holes, SACK) and its
/// sender (retransmissions) work.
#[test]
fn net_loss_5pct_relay() {
    let t0 = Instant::now();
    let imp = Impair {
        delay_pct: 0,
        delay_max_ms: 1,
        dup_pct: 0,
        loss_pct: 5,
        lifetime: Duration::from_secs(150),
        ..Impair::default()
    };
    let (net, mut relay) = RelayNet::new("lru", 139, imp);
    let mut h = Harness::with_net(net, "lru");
    upload_checked(&mut h, "net_loss_5pct_relay", 20 << 20, 30);
    let st_up = relay.stop().expect("relay");
    drop(h);
    drop(relay);
    eprintln!("[net_loss_5pct_relay] relay (upload): {st_up:?}");
    assert!(st_up.lost > 100, "{st_up:?}");

    let (net, mut relay) = RelayNet::new("lre", 140, imp);
    let mut h = Harness::with_net(net, "lre");
    let s = echo_checked(&mut h, "net_loss_5pct_relay", 8 << 20, 31);
    let st_e = relay.stop().expect("relay");
    drop(h);
    eprintln!("[net_loss_5pct_relay] relay (echo): {st_e:?}");
    assert!(st_e.lost > 100 && s.retransmissions > 0, "{st_e:?} {s:?}");
    note("net_loss_5pct_relay", "passed", t0);
}

/// The relay's fixed delay and displacement (`rawnet::relay`, used by
/// `bench-e2e --only download`): every frame from a to b held 20 ms, so a
/// TCP handshake from b (its SYN-ACK held) takes 20 ms and a little more;
/// and 2 % of the server's frames sent after the next 3, so an echo of
/// 4 MiB arrives intact with frames overtaken.
#[test]
fn net_fixed_delay_and_displacement_relay() {
    let t0 = Instant::now();
    let imp = Impair {
        fixed_delay_a_to_b: Duration::from_millis(20),
        displace_permille: 20,
        displace_by: 3,
        lifetime: Duration::from_secs(120),
        ..Impair::default()
    };
    let (net, mut relay) = RelayNet::new("fdl", 142, imp);
    // A kernel listener in ns a; two connections from ns b, the second
    // timed (the first also waits for ARP, whose reply is held too).
    let to = SocketAddr::from((net.addr_a, 7000));
    let listener = net
        .run_in_a(move || std::net::TcpListener::bind(to))
        .expect("ns a")
        .expect("bind");
    let times = net
        .run_in_b(move || {
            (0..2)
                .map(|_| {
                    let t = Instant::now();
                    let s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(3));
                    (t.elapsed(), s.is_ok())
                })
                .collect::<Vec<_>>()
        })
        .expect("ns b");
    drop(listener);
    eprintln!("[net_fixed_delay_and_displacement_relay] connect times {times:?}");
    let (rtt, connected) = times[1];
    assert!(connected, "{times:?}");
    assert!(
        rtt >= Duration::from_millis(20) && rtt < Duration::from_millis(60),
        "handshake took {rtt:?} through a 20 ms one-way delay"
    );
    let mut h = Harness::with_net(net, "fdl");
    echo_checked(
        &mut h,
        "net_fixed_delay_and_displacement_relay",
        4 << 20,
        32,
    );
    let st = relay.stop().expect("relay");
    drop(h);
    eprintln!("[net_fixed_delay_and_displacement_relay] relay: {st:?}");
    assert!(st.displaced > 10 && st.overtaken > 10, "{st:?}");
    assert!(st.queue_peak_bytes > 0 && st.queue_drops == 0, "{st:?}");
    note("net_fixed_delay_and_displacement_relay", "passed", t0);
}
