//! End to end, on a veth pair (needs root): the effective send MSS (RFC
//! 9293 §3.7.1) against Linux clients whose SYNs announce an MSS their link
//! cannot carry, or a tiny one: the client's route announces MSS 8960 as
//! a jumbo-frame host behind a router would, or an nftables rule in the
//! client's namespace rewrites its SYN to MSS 8. Subnets 198.18.140-141.

mod common;
mod support;

use std::net::SocketAddr;
use std::time::Instant;

use common::Harness;
use support::{hex, impair, note, Summary};

/// The client's route to the server announces MSS `mss` in its SYNs
/// (`advmss`) while its frames stay within the 1500-byte link: a host with
/// a jumbo-frame interface behind a router. (nftables' `maxseg size set`
/// can only lower an MSS.)
fn announce_mss(h: &Harness, mss: u16) {
    let o = h.net.addr_b.octets();
    let subnet = format!("{}.{}.{}.0/24", o[0], o[1], o[2]);
    rawnet::netns::run(std::process::Command::new("ip").args([
        "-n",
        &h.net.ns_b,
        "route",
        "replace",
        &subnet,
        "dev",
        &h.net.if_b,
        "advmss",
        &mss.to_string(),
    ]))
    .expect("ip route replace ... advmss");
}

/// Every SYN the client namespace sends announces MSS `mss` (lower than
/// its own).
fn rewrite_syn_mss(h: &Harness, mss: u16) {
    impair::nft(
        &h.net.ns_b,
        &format!(
            "table ip mssrw {{
               chain out {{
                 type filter hook output priority 0; policy accept;
                 tcp flags & (syn | ack) == syn tcp option maxseg size set {mss}
               }}
             }}"
        ),
    );
}

/// The MSS options of the SYNs (without ACK) to port 3000 in a pcap file.
fn syn_mss(pcap: &[u8]) -> Vec<u16> {
    let mut out = Vec::new();
    let mut at = 24;
    for _ in 0..10_000_000 {
        let Some(h) = pcap.get(at..at + 16) else {
            break;
        };
        let caplen = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let f = pcap.get(at + 16..at + 16 + caplen).unwrap_or(&[]);
        at += 16 + caplen;
        if f.len() < 54 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
            continue;
        }
        let tcp = 14 + usize::from(f[14] & 0x0f) * 4;
        let dport = u16::from_be_bytes([f[tcp + 2], f[tcp + 3]]);
        let doff = usize::from(f[tcp + 12] >> 4) * 4;
        if dport != 3000 || f[tcp + 13] & 0x12 != 0x02 {
            continue;
        }
        // The options: kind 2 (MSS), length 4, is the first in Linux's SYN.
        let opts = f.get(tcp + 20..tcp + doff).unwrap_or(&[]);
        if opts.len() >= 4 && opts[0] == 2 && opts[1] == 4 {
            out.push(u16::from_be_bytes([opts[2], opts[3]]));
        }
    }
    out
}

/// The TCP payload lengths of the frames sent from port 3000 in a pcap
/// file (Ethernet, IPv4), in order.
fn server_payloads(pcap: &[u8]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut at = 24;
    for _ in 0..10_000_000 {
        let Some(h) = pcap.get(at..at + 16) else {
            break;
        };
        let caplen = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]) as usize;
        let f = pcap.get(at + 16..at + 16 + caplen).unwrap_or(&[]);
        at += 16 + caplen;
        if f.len() < 54 || f[12..14] != [0x08, 0x00] || f[23] != 6 {
            continue;
        }
        let ihl = usize::from(f[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
        let tcp = 14 + ihl;
        let sport = u16::from_be_bytes([f[tcp], f[tcp + 1]]);
        let doff = usize::from(f[tcp + 12] >> 4) * 4;
        if sport == 3000 {
            out.push(total.saturating_sub(ihl + doff));
        }
    }
    out
}

/// Issue #14: a client announcing MSS 8960 (a jumbo-frame host behind a
/// router) through a 1500-byte link, in echo mode, made the server build
/// 3200-byte frames; the kernel refused them (EMSGSIZE) and the server
/// exited, taking every connection with it. Now the 8 MiB echo comes back
/// intact in segments the link carries (RFC 9293 §3.7.1 MUST-16), and a
/// second, ordinary client is served at the same time.
#[test]
fn net_jumbo_mss_peer_gets_its_echo_and_others_are_served() {
    let t0 = Instant::now();
    const LEN: u64 = 8 << 20;
    let mut h = Harness::new("msj", 140);
    let own = h.own_addr();
    let pcap = h.path("mss.pcap");
    // Without GSO every frame the server builds goes on the wire as it is
    // (and is in the pcap as it is); the fuzz target checks GSO segment
    // sizes.
    h.start(&[
        "--mode",
        "echo",
        "--no-gso",
        "--ip",
        &own.to_string(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    announce_mss(&h, 8960);
    let to = SocketAddr::from((own, h.port));
    let (jumbo, other) = h
        .net
        .run_in_b(move || {
            let other = std::thread::spawn(move || support::echo(to, 1 << 20, 9, 30));
            let jumbo = support::echo(to, LEN, 8, 30);
            (jumbo, other.join().expect("second client"))
        })
        .expect("ns b");
    let jumbo = jumbo.unwrap_or_else(|e| panic!("jumbo echo: {e}\n{}", h.stderr()));
    let other = other.unwrap_or_else(|e| panic!("second echo: {e}\n{}", h.stderr()));
    h.signal(nix::sys::signal::Signal::SIGINT);
    let st = h.wait(20);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(jumbo.got_len, LEN, "{err}");
    assert_eq!(hex(&jumbo.got), hex(&jumbo.sent), "echo differs\n{err}");
    assert_eq!(other.got_len, 1 << 20, "{err}");
    assert_eq!(hex(&other.got), hex(&other.sent), "{err}");
    assert!(!err.contains("larger than the interface MTU"), "{err}");
    let s = Summary::parse(&err).expect("summary");
    assert!(s.all_normal(2), "{s:?}\n{err}");
    let file = std::fs::read(&pcap).expect("pcap");
    assert!(syn_mss(&file).contains(&8960), "{:?}", syn_mss(&file));
    let sizes = server_payloads(&file);
    let max = sizes.iter().copied().max().unwrap_or(0);
    // With the timestamp option: 1460 - 12.
    assert!(max > 0, "no data frames captured");
    assert!(max <= 1448, "a {max}-byte segment on a 1500-byte link");
    note("net_jumbo_mss_peer", "passed", t0);
}

/// CVE-2019-11479: a client announcing MSS 8 must not make the server send
/// one frame per 8 bytes. As Linux (`tcp_min_snd_mss`), the echo comes back
/// in segments of 48 bytes of payload; the whole 256 KiB comes back intact.
#[test]
fn net_tiny_mss_peer_gets_48_byte_segments() {
    let t0 = Instant::now();
    const LEN: u64 = 256 << 10;
    let mut h = Harness::new("mst", 141);
    let own = h.own_addr();
    let pcap = h.path("mss.pcap");
    h.start(&[
        "-s",
        "--mode",
        "echo",
        "--no-gso",
        "--ip",
        &own.to_string(),
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    rewrite_syn_mss(&h, 8);
    let to = SocketAddr::from((own, h.port));
    let e = h
        .net
        .run_in_b(move || support::echo(to, LEN, 3, 30))
        .expect("ns b")
        .expect("echo client");
    let st = h.wait(30);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(e.got_len, LEN, "{err}");
    assert_eq!(hex(&e.got), hex(&e.sent), "echo differs\n{err}");
    let file = std::fs::read(&pcap).expect("pcap");
    assert_eq!(syn_mss(&file), [8]);
    let sizes = server_payloads(&file);
    let data: Vec<usize> = sizes.into_iter().filter(|&n| n > 0).collect();
    let max = data.iter().copied().max().unwrap_or(0);
    assert_eq!(max, 48, "segments should be cut at 48 bytes");
    // Tails shorter than 48 bytes happen (what one incoming segment leaves
    // over), but nearly every byte goes in 48-byte segments: never a frame
    // per few bytes.
    let full = data.iter().filter(|&&n| n == 48).count() as u64;
    assert!(
        full * 48 >= LEN * 8 / 10,
        "{full} full segments for {LEN} bytes"
    );
    assert!(
        (data.len() as u64) < LEN / 48 * 13 / 10 + 100,
        "{} data frames for {LEN} bytes",
        data.len()
    );
    eprintln!(
        "[net_tiny_mss] {} data frames, {full} of 48 bytes",
        data.len()
    );
    note("net_tiny_mss_peer", "passed", t0);
}
