//! Attack, end to end (needs root): blind in-window RST, SYN and data
//! injection (RFC 5961) against a live upload from a Linux client, from a
//! raw socket in the client namespace that sniffs the client's segments to
//! learn the sequence numbers. Subnets 198.18.201-202.
//!
//! How challenge ACKs are told from normal ACKs: the upload has a quiet
//! phase in which the client sends nothing (checked on the wire: no client
//! segment in the counting window) and every byte it sent is acknowledged.
//! The server then has nothing to acknowledge, so every pure ACK it sends in
//! that window answers one of the injected segments.

mod common;
#[path = "support/flood.rs"]
mod flood;

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Harness;
use flood::{note, Rng, Seen, Seg, Summary, ACK, PSH, RST, SYN};
use nix::sys::signal::Signal;

/// What a burst in the quiet phase injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Burst {
    /// RSTs in the window, 1000..30000 past RCV.NXT.
    Rst,
    /// SYNs with random sequence numbers (nearly all outside the window).
    Syn,
    /// SYNs in the window, 1000..30000 past RCV.NXT.
    SynInWindow,
    /// 100 bytes in the window (at RCV.NXT + 1000..30000) with an ACK
    /// number for data never sent, or far too old.
    BadAckData,
}

const BURST: usize = 1000;

struct Outcome {
    stderr: String,
    summary: Summary,
    /// Pure ACKs the server sent in each burst's counting window.
    acks: Vec<(Burst, usize, f64)>,
    live_injected: usize,
}

fn seq_max(a: u32, b: u32) -> u32 {
    if (b.wrapping_sub(a) as i32) > 0 {
        b
    } else {
        a
    }
}

/// The client's next sequence number (RCV.NXT once all has arrived) and
/// the server's SND.NXT, from what the sniffer saw of the connection.
fn learn(seen: &[Seen], client: Ipv4Addr, cport: u16, own: Ipv4Addr) -> Option<(u32, u32)> {
    let mut next: Option<u32> = None;
    let mut snd: Option<u32> = None;
    for s in seen {
        if s.src == client && s.sport == cport && s.dst == own && !s.injected {
            let end = s.seq.wrapping_add(s.len);
            next = Some(next.map_or(end, |n| seq_max(n, end)));
        } else if s.src == own && s.dport == cport && s.dst == client {
            let end = s.seq.wrapping_add(u32::from(s.flags & SYN != 0));
            snd = Some(snd.map_or(end, |n| seq_max(n, end)));
        }
    }
    Some((next?, snd?))
}

/// One upload of ~1 MiB + live phase + quiet phase + 1 MiB in print mode,
/// with injection during the live phase and `bursts` during the quiet one.
fn run(tag: &str, subnet: u8, bursts: &[Burst]) -> Outcome {
    let t0 = Instant::now();
    let mut h = Harness::new(tag, subnet);
    let own = h.own_addr();
    let client = h.net.addr_b;
    h.start(&["--ip", &own.to_string()]);
    let to = SocketAddr::from((own, h.port));
    let mut sniff =
        flood::Sniffer::start(&h.net.ns_b, &h.net.if_b, 2_000_000, Duration::from_secs(60));

    // The client: connect, 1 MiB, a paced live phase until told to stop,
    // a quiet phase until told to go on, 1 MiB, half-close, read to FIN.
    let (port_tx, port_rx) = mpsc::channel();
    let (go_tx, go_rx) = mpsc::channel::<()>();
    let live = Arc::new(AtomicBool::new(true));
    let live2 = live.clone();
    let quiet = Arc::new(AtomicBool::new(false));
    let quiet2 = quiet.clone();
    let ct = rawnet::netns::spawn_in_ns(&h.net.ns_b, move || -> std::io::Result<(Vec<u8>, u64)> {
        let mut s = flood::connect(to, 30)?;
        port_tx.send(s.local_addr()?.port()).ok();
        let mut rng = Rng::new(5961);
        let mut sent = Vec::with_capacity(8 << 20);
        let chunk = |s: &mut std::net::TcpStream,
                     sent: &mut Vec<u8>,
                     rng: &mut Rng,
                     n: usize|
         -> std::io::Result<()> {
            let mut buf = vec![0u8; n];
            flood::fill(rng, &mut buf);
            s.write_all(&buf)?;
            sent.extend_from_slice(&buf);
            Ok(())
        };
        chunk(&mut s, &mut sent, &mut rng, 1 << 20)?;
        // Live: 8 KiB every 2 ms (about 4 MB/s), at most 10 s or 8 MiB.
        let t = Instant::now();
        while live2.load(Ordering::SeqCst)
            && t.elapsed() < Duration::from_secs(10)
            && sent.len() < (9 << 20)
        {
            chunk(&mut s, &mut sent, &mut rng, 8 << 10)?;
            std::thread::sleep(Duration::from_millis(2));
        }
        quiet2.store(true, Ordering::SeqCst);
        // Quiet until told to go on (at most 30 s).
        let _ = go_rx.recv_timeout(Duration::from_secs(30));
        chunk(&mut s, &mut sent, &mut rng, 1 << 20)?;
        s.shutdown(std::net::Shutdown::Write)?;
        let n = flood::read_to_fin(&mut s)?;
        Ok((sent, n))
    })
    .expect("client thread");
    let cport: u16 = port_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("client connected");
    let server_mac = flood::neigh_mac(&h.net.ns_b, own).expect("server MAC in ns b's ARP table");
    let (mut sock, iface_b) = flood::open_raw(&h.net.ns_b, &h.net.if_b, true);
    let seg = |flags: u8, seq: u32, ack: u32| -> Vec<u8> {
        let mut s = Seg::new(server_mac, iface_b.mac, client, own);
        s.sport = cport;
        s.dport = 3000;
        s.flags = flags;
        s.seq = seq;
        s.ack = ack;
        s.window = 502;
        s.frame()
    };
    let data_seg = |seq: u32, ack: u32| -> Vec<u8> {
        let mut s = Seg::new(server_mac, iface_b.mac, client, own);
        s.sport = cport;
        s.flags = ACK | PSH;
        s.seq = seq;
        s.ack = ack;
        s.window = 502;
        s.payload = vec![0xee; 100];
        s.frame()
    };
    let mut rng = Rng::new(0xbad);

    // Live phase: while the client uploads, every 5 ms one RST 20000..60000
    // past the sniffed RCV.NXT (ahead of the sniffer's lag, so never at
    // RCV.NXT itself), one SYN at a random sequence number, and one data
    // segment in the window with an ACK for data never sent. About 1.5 s.
    std::thread::sleep(Duration::from_millis(300));
    let mut live_injected = 0;
    let tl = Instant::now();
    while tl.elapsed() < Duration::from_millis(1500) {
        let Some((nxt, snd)) = learn(&sniff.snapshot(), client, cport, own) else {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        };
        let frames = [
            seg(RST, nxt.wrapping_add(20_000 + rng.below(40_000) as u32), 0),
            seg(SYN, rng.u32(), 0),
            data_seg(
                nxt.wrapping_add(20_000 + rng.below(40_000) as u32),
                snd.wrapping_add(1_000_000 + rng.below(1 << 20) as u32),
            ),
        ];
        live_injected +=
            flood::send_all(&mut sock, &frames, Instant::now() + Duration::from_secs(1));
        std::thread::sleep(Duration::from_millis(5));
    }
    live.store(false, Ordering::SeqCst);
    assert!(flood::wait_until(10, || quiet.load(Ordering::SeqCst)));
    note(
        tag,
        &format!("live phase: {live_injected} segments injected"),
        t0,
    );

    // Quiet phase: 1.2 s for the last data to be acknowledged and any
    // challenge-ACK second to end, then each burst: 1000 segments in 0.9 s,
    // its ACKs counted until 0.3 s after it, then 1.2 s of rest.
    let mut acks = Vec::new();
    for &b in bursts {
        std::thread::sleep(Duration::from_millis(1200));
        let (nxt, snd) = learn(&sniff.snapshot(), client, cport, own).expect("sequence numbers");
        let frames: Vec<Vec<u8>> = (0..BURST)
            .map(|i| match b {
                Burst::Rst => seg(RST, nxt.wrapping_add(1000 + rng.below(29_000) as u32), 0),
                Burst::Syn => seg(SYN, rng.u32(), 0),
                Burst::SynInWindow => {
                    seg(SYN, nxt.wrapping_add(1000 + rng.below(29_000) as u32), 0)
                }
                Burst::BadAckData => {
                    let ack = if i % 2 == 0 {
                        snd.wrapping_add(1_000_000 + rng.below(1 << 20) as u32)
                    } else {
                        snd.wrapping_sub(1 << 30)
                    };
                    data_seg(nxt.wrapping_add(1000 + rng.below(29_000) as u32), ack)
                }
            })
            .collect();
        let start = Instant::now();
        for c in frames.chunks(10) {
            flood::send_all(&mut sock, c, start + Duration::from_secs(5));
            std::thread::sleep(Duration::from_micros(8_800));
        }
        let end = Instant::now();
        std::thread::sleep(Duration::from_millis(300));
        let until = end + Duration::from_millis(300);
        let seen = sniff.snapshot();
        let window = |s: &&Seen| s.at >= start && s.at <= until;
        let client_data = seen
            .iter()
            .filter(window)
            .filter(|s| s.src == client && s.sport == cport && !s.injected && s.len > 0)
            .count();
        assert_eq!(
            client_data, 0,
            "the client was not quiet during the {b:?} burst"
        );
        let n = seen
            .iter()
            .filter(window)
            .filter(|s| s.src == own && s.dport == cport && s.flags == ACK && s.len == 0)
            .count();
        let secs = (end - start).as_secs_f64();
        eprintln!(
            "[{tag}] {b:?} burst: {BURST} segments in {secs:.3} s, server sent {n} pure ACKs"
        );
        acks.push((b, n, secs));
    }
    go_tx.send(()).ok();
    let (sent, back) = ct
        .join()
        .expect("client panicked")
        .expect("ns b")
        .unwrap_or_else(|e| panic!("the upload failed: {e}\n{}", h.stderr()));
    assert_eq!(back, 0);
    std::thread::sleep(Duration::from_millis(200));
    drop(sniff.stop());
    h.signal(Signal::SIGTERM);
    let st = h.wait(15);
    let stderr = h.stderr();
    eprintln!("{stderr}");
    assert!(st.success(), "exit {st}: {stderr}");
    let out = h.stdout();
    assert_eq!(
        out.len(),
        sent.len(),
        "print mode wrote {} bytes, the client sent {}",
        out.len(),
        sent.len()
    );
    assert!(
        flood::sha256(&out) == flood::sha256(&sent),
        "the payload differs from what the client sent (injected data accepted?)"
    );
    let summary = Summary::parse(&stderr).expect("summary");
    assert_eq!(
        (summary.established, summary.normal, summary.reset),
        (1, 1, 0),
        "the connection must survive and close normally: {summary:?}"
    );
    note(tag, "done", t0);
    Outcome {
        stderr,
        summary,
        acks,
        live_injected,
    }
}

/// Blind RST, SYN and bad-ACK data injected into a live upload: the upload
/// completes intact (print mode: stdout is byte for byte what the client
/// sent) and closes normally. Then, in the quiet phase, three bursts of
/// 1000 segments in 0.9 s each: in-window RSTs not at RCV.NXT, in-window
/// SYNs, and in-window data whose ACK is outside the acceptable range
/// (half for data never sent, half far too old). Each earns at least one
/// and at most 10 challenge ACKs (the core's limit per connection and
/// second), and each is counted by its drop reason.
#[test]
fn attack_rfc5961_blind_injection() {
    let o = run(
        "a5961r",
        201,
        &[Burst::Rst, Burst::SynInWindow, Burst::BadAckData],
    );
    let rst = flood::dropped(&o.stderr, "rst-not-exact");
    let syn = flood::dropped(&o.stderr, "unexpected-syn");
    let bad_ack = flood::dropped(&o.stderr, "bad-ack");
    eprintln!(
        "[attack_rfc5961_blind_injection] live injected {}; rst-not-exact {rst}, unexpected-syn {syn}, bad-ack {bad_ack}, out-of-window {}; challenge ACKs {:?}",
        o.live_injected,
        flood::dropped(&o.stderr, "out-of-window"),
        o.acks,
    );
    assert!(
        rst >= BURST as u64,
        "the in-window RSTs are counted: {}",
        o.stderr
    );
    assert!(
        syn >= BURST as u64,
        "the in-window SYNs are counted: {}",
        o.stderr
    );
    assert!(
        bad_ack >= BURST as u64,
        "the bad ACKs are counted: {}",
        o.stderr
    );
    for (b, n, _) in &o.acks {
        assert!(*n >= 1, "{b:?}: no challenge ACK at all");
        // The limit counts per one-second window (as Linux's does): a burst
        // of under a second can straddle two windows, so at most twice it.
        assert!(
            *n <= 20,
            "{b:?}: {n} challenge ACKs for {BURST} segments in under a second (limit 10 per second)"
        );
    }
}

/// 1000 SYNs with random sequence numbers in 0.9 s against an established
/// connection. RFC 5961 §4.2: a SYN in a synchronized state, "irrespective
/// of the sequence number", earns a challenge ACK, and §7 rate-limits
/// those: at most 10 ACKs expected.
#[test]
fn attack_rfc5961_random_seq_syns_rate_limited() {
    let o = run("a5961s", 202, &[Burst::Syn]);
    eprintln!(
        "[attack_rfc5961_random_seq_syns] unexpected-syn {}, out-of-window {}; ACKs {:?}",
        flood::dropped(&o.stderr, "unexpected-syn"),
        flood::dropped(&o.stderr, "out-of-window"),
        o.acks,
    );
    eprintln!("[attack_rfc5961_random_seq_syns] {:?}", o.summary);
    for (b, n, _) in &o.acks {
        assert!(*n >= 1, "{b:?}: no challenge ACK at all");
        // Per one-second window: a burst can straddle two.
        assert!(
            *n <= 20,
            "{b:?}: {n} ACKs for {BURST} SYNs in under a second (limit 10 per second)"
        );
    }
}
