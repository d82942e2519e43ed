//! Tools of the `attack_*` tests: hand-made Ethernet/IPv4/TCP frames (valid
//! or deliberately broken), a raw-socket sender and sniffer in the client
//! namespace, the server's MAC learnt from the client namespace's ARP
//! table, and the server's resident memory from /proc.
//!
//! Included by each attack test with `#[path = "support/flood.rs"] mod flood;`
//! (it is not a module of `support`). Every loop is bounded in count and
//! time. Every address is inside 198.18.0.0/15.
#![allow(dead_code)]

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rawnet::{Interface, RawSocket, SocketConfig};

#[path = "xorshift.rs"]
mod xorshift;
use xorshift::XorShift;

pub const FIN: u8 = 0x01;
pub const SYN: u8 = 0x02;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;
pub const ACK: u8 = 0x10;

/// The IPv4 identification field of every frame the tests inject, so that
/// a sniffer in the same namespace can tell them from the client's own.
pub const MARK_ID: u16 = 0xa77a;

/// A small PRNG (xorshift64*), deterministic per seed.
pub struct Rng(XorShift);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(XorShift::new(seed))
    }
    pub fn u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    pub fn u32(&mut self) -> u32 {
        (self.u64() >> 32) as u32
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.u64() % n
    }
    /// A random address in 198.18.0.0/15 outside the /24 `avoid`
    /// (198.18.avoid.0/24 is the test's own link) and not .0 or .255.
    pub fn spoofed_addr(&mut self, avoid: u8) -> Ipv4Addr {
        loop {
            let v = self.u32();
            let b = 18 + (v >> 16 & 1) as u8;
            let c = (v >> 8) as u8;
            let d = v as u8;
            if (b == 18 && c == avoid) || d == 0 || d == 255 {
                continue;
            }
            return Ipv4Addr::new(198, b, c, d);
        }
    }
}

/// The Internet checksum (RFC 1071) of `parts` concatenated (each part of
/// even length except possibly the last).
pub fn inet_checksum(parts: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for p in parts {
        let mut c = p.chunks_exact(2);
        for w in &mut c {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [b] = c.remainder() {
            sum += u32::from(*b) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// One TCP segment to build into a frame.
#[derive(Clone, Debug)]
pub struct Seg {
    pub dst_mac: [u8; 6],
    pub src_mac: [u8; 6],
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    /// Raw option bytes (padded to 4 with NOPs by `frame`).
    pub options: Vec<u8>,
    pub payload: Vec<u8>,
}

impl Seg {
    pub fn new(dst_mac: [u8; 6], src_mac: [u8; 6], src: Ipv4Addr, dst: Ipv4Addr) -> Seg {
        Seg {
            dst_mac,
            src_mac,
            src,
            dst,
            sport: 40000,
            dport: 3000,
            seq: 1,
            ack: 0,
            flags: SYN,
            window: 64240,
            options: Vec::new(),
            payload: Vec::new(),
        }
    }

    /// The whole frame, checksums right.
    pub fn frame(&self) -> Vec<u8> {
        let mut opts = self.options.clone();
        while opts.len() % 4 != 0 {
            opts.push(1);
        }
        let tcp_len = 20 + opts.len() + self.payload.len();
        let mut f = Vec::with_capacity(14 + 20 + tcp_len);
        f.extend_from_slice(&self.dst_mac);
        f.extend_from_slice(&self.src_mac);
        f.extend_from_slice(&0x0800u16.to_be_bytes());
        // IPv4
        let tot = (20 + tcp_len) as u16;
        f.extend_from_slice(&[0x45, 0]);
        f.extend_from_slice(&tot.to_be_bytes());
        f.extend_from_slice(&MARK_ID.to_be_bytes());
        f.extend_from_slice(&0x4000u16.to_be_bytes()); // DF
        f.extend_from_slice(&[64, 6, 0, 0]);
        f.extend_from_slice(&self.src.octets());
        f.extend_from_slice(&self.dst.octets());
        let ipc = inet_checksum(&[&f[14..34]]);
        f[24..26].copy_from_slice(&ipc.to_be_bytes());
        // TCP
        f.extend_from_slice(&self.sport.to_be_bytes());
        f.extend_from_slice(&self.dport.to_be_bytes());
        f.extend_from_slice(&self.seq.to_be_bytes());
        f.extend_from_slice(&self.ack.to_be_bytes());
        f.push((((20 + opts.len()) / 4) as u8) << 4);
        f.push(self.flags);
        f.extend_from_slice(&self.window.to_be_bytes());
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend_from_slice(&opts);
        f.extend_from_slice(&self.payload);
        fix_tcp_checksum(&mut f);
        f
    }
}

/// Recomputes the IPv4 header checksum of a frame (IHL taken from it).
pub fn fix_ip_checksum(f: &mut [u8]) {
    let ihl = usize::from(f[14] & 0x0f) * 4;
    f[24] = 0;
    f[25] = 0;
    let c = inet_checksum(&[&f[14..14 + ihl]]);
    f[24..26].copy_from_slice(&c.to_be_bytes());
}

/// Recomputes the TCP checksum of a frame over the IPv4 total length.
pub fn fix_tcp_checksum(f: &mut [u8]) {
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let tot = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let t = 14 + ihl;
    let tcp_len = tot - ihl;
    f[t + 16] = 0;
    f[t + 17] = 0;
    let mut pseudo = [0u8; 12];
    pseudo[..4].copy_from_slice(&f[26..30]);
    pseudo[4..8].copy_from_slice(&f[30..34]);
    pseudo[9] = 6;
    pseudo[10..12].copy_from_slice(&(tcp_len as u16).to_be_bytes());
    let c = inet_checksum(&[&pseudo, &f[t..t + tcp_len]]);
    f[t + 16..t + 18].copy_from_slice(&c.to_be_bytes());
}

/// A TCP segment seen on the wire, as the sniffer reports it.
#[derive(Clone, Copy, Debug)]
pub struct Seen {
    pub at: Instant,
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    pub sport: u16,
    pub dport: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub len: u32,
    /// Marked as injected by a test (IPv4 id [`MARK_ID`]).
    pub injected: bool,
}

/// Parses an Ethernet/IPv4/TCP frame's headers (no checksum checks).
pub fn parse_seen(f: &[u8], at: Instant) -> Option<Seen> {
    if f.len() < 34 || f[12..14] != [0x08, 0x00] || f[14] >> 4 != 4 || f[23] != 6 {
        return None;
    }
    let ihl = usize::from(f[14] & 0x0f) * 4;
    let tot = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let t = 14 + ihl;
    if f.len() < t + 20 || tot < ihl + 20 {
        return None;
    }
    let doff = usize::from(f[t + 12] >> 4) * 4;
    let be32 = |i: usize| u32::from_be_bytes([f[i], f[i + 1], f[i + 2], f[i + 3]]);
    Some(Seen {
        at,
        src: Ipv4Addr::new(f[26], f[27], f[28], f[29]),
        dst: Ipv4Addr::new(f[30], f[31], f[32], f[33]),
        sport: u16::from_be_bytes([f[t], f[t + 1]]),
        dport: u16::from_be_bytes([f[t + 2], f[t + 3]]),
        seq: be32(t + 4),
        ack: be32(t + 8),
        flags: f[t + 13],
        len: tot.saturating_sub(ihl + doff) as u32,
        injected: u16::from_be_bytes([f[18], f[19]]) == MARK_ID,
    })
}

/// A raw socket in namespace `ns` on `ifname` that sends frames; opened on
/// a thread in that namespace (the socket stays in it).
pub fn open_raw(ns: &str, ifname: &str, ignore_outgoing: bool) -> (RawSocket, Interface) {
    let ifname = ifname.to_string();
    rawnet::netns::run_in_ns(ns, move || {
        let iface = Interface::by_name(&ifname).expect("interface");
        let sock = RawSocket::open(
            &iface,
            &SocketConfig {
                filter: None,
                ring_bytes: 4 << 20,
                ignore_outgoing,
                ..SocketConfig::default()
            },
        )
        .expect("raw socket");
        (sock, iface)
    })
    .expect("enter namespace")
}

/// Sends `frames` in batches of 512 (queue + flush); returns how many the
/// kernel took. Stops at `deadline`.
pub fn send_all(sock: &mut RawSocket, frames: &[Vec<u8>], deadline: Instant) -> usize {
    let mut sent = 0;
    for chunk in frames.chunks(512) {
        if Instant::now() > deadline {
            break;
        }
        for f in chunk {
            sock.queue(f).expect("queue frame");
        }
        sent += sock.flush().unwrap_or(0);
    }
    sent
}

/// A sniffer on a thread: every TCP segment on the interface (both ways,
/// the namespace's own outgoing frames included), at most `cap` of them,
/// until stopped or `max` has passed.
pub struct Sniffer {
    pub seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Sniffer {
    pub fn start(ns: &str, ifname: &str, cap: usize, max: Duration) -> Sniffer {
        let (mut sock, _) = open_raw(ns, ifname, false);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (seen2, stop2) = (seen.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            let mut local = Vec::new();
            while !stop2.load(Ordering::Relaxed) && t0.elapsed() < max {
                let _ = sock.recv_batch(Some(Duration::from_millis(20)), |f, _| {
                    if let Some(s) = parse_seen(f, Instant::now()) {
                        local.push(s);
                    }
                });
                if !local.is_empty() {
                    let mut v = seen2.lock().unwrap();
                    let room = cap.saturating_sub(v.len());
                    v.extend(local.drain(..).take(room));
                }
            }
        });
        Sniffer {
            seen,
            stop,
            thread: Some(thread),
        }
    }

    pub fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn stop(&mut self) -> Vec<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.snapshot()
    }
}

impl Drop for Sniffer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The MAC address namespace `ns` has learnt by ARP for `addr` (`ip neigh`).
pub fn neigh_mac(ns: &str, addr: Ipv4Addr) -> Option<[u8; 6]> {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "neigh", "show", &addr.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    words.find(|w| *w == "lladdr")?;
    let mac = words.next()?;
    let mut m = [0u8; 6];
    let mut parts = mac.split(':');
    for b in m.iter_mut() {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    Some(m)
}

/// VmRSS of process `pid` in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Name of process `pid` (`/proc/<pid>/comm`).
pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// Samples the RSS of `pid` every 20 ms on a thread until stopped (or
/// `max`), keeping the peak.
pub struct RssWatch {
    pub peak: Arc<Mutex<u64>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl RssWatch {
    pub fn start(pid: u32, max: Duration) -> RssWatch {
        let peak = Arc::new(Mutex::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (p2, s2) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let t0 = Instant::now();
            while !s2.load(Ordering::Relaxed) && t0.elapsed() < max {
                if let Some(r) = rss_kib(pid) {
                    let mut p = p2.lock().unwrap();
                    *p = (*p).max(r);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        RssWatch {
            peak,
            stop,
            thread: Some(thread),
        }
    }

    pub fn peak(&self) -> u64 {
        *self.peak.lock().unwrap()
    }

    pub fn stop(&mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.peak()
    }
}

impl Drop for RssWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The count the summary's "dropped" line gives for `reason` (0 if absent).
pub fn dropped(stderr: &str, reason: &str) -> u64 {
    let Some(line) = stderr
        .lines()
        .map(str::trim_start)
        .rfind(|l| l.starts_with("dropped"))
    else {
        return 0;
    };
    let rest = line.trim_start_matches("dropped").trim();
    for item in rest.split(", ") {
        let mut w = item.split_whitespace();
        if w.next() == Some(reason) {
            return w.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        }
    }
    0
}

// ---- Clients and the exit summary (kept here so that the attack tests do
// not depend on the `support` module, which other tests change).

/// A fast deterministic byte stream (xorshift64*), the same on both sides.
pub fn fill(rng: &mut Rng, buf: &mut [u8]) {
    for c in buf.chunks_mut(8) {
        let v = rng.u64().to_le_bytes();
        let n = c.len();
        c.copy_from_slice(&v[..n]);
    }
}

pub type Hash = [u8; 32];

pub fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Connects (at most 5 s) with read and write timeouts of `io_secs`.
pub fn connect(to: std::net::SocketAddr, io_secs: u64) -> std::io::Result<std::net::TcpStream> {
    let s = std::net::TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(io_secs)))?;
    s.set_write_timeout(Some(Duration::from_secs(io_secs)))?;
    Ok(s)
}

/// Writes `len` bytes of the stream `seed` in 64 KiB pieces; returns their
/// SHA-256.
pub fn write_stream(w: &mut impl std::io::Write, len: u64, seed: u64) -> std::io::Result<Hash> {
    use sha2::Digest;
    let mut g = Rng::new(seed);
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 << 10];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        fill(&mut g, &mut buf[..n]);
        h.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(h.finalize().into())
}

/// Reads to the peer's FIN; returns the length read.
pub fn read_to_fin(r: &mut impl std::io::Read) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut n = 0u64;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

pub fn sha256(bytes: &[u8]) -> Hash {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// Polls `cond` every 10 ms for at most `secs`; returns whether it held.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(secs) {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    cond()
}

/// One line of the test's timing, for the report (`--nocapture` shows it).
pub fn note(test: &str, what: &str, t0: Instant) {
    eprintln!("[{test}] {what} after {:.2} s", t0.elapsed().as_secs_f64());
}

/// The numbers of the exit summary the attack tests check.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub established: u64,
    pub normal: u64,
    pub reset: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub bytes: u64,
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub resets_sent: u64,
    pub ring_drops: u64,
    pub dropped: String,
}

fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit() && c != '.')
        .filter(|w| !w.is_empty() && !w.contains('.'))
        .filter_map(|w| w.parse().ok())
        .collect()
}

impl Summary {
    pub fn parse(stderr: &str) -> Option<Summary> {
        let start = stderr.find("tcp-server: summary after")?;
        let mut s = Summary::default();
        let mut seen = 0;
        for line in stderr[start..].lines().take(12) {
            let t = line.trim_start();
            if let Some(r) = t.strip_prefix("connections") {
                let n = numbers(r);
                if n.len() >= 5 {
                    (s.established, s.normal, s.reset, s.timed_out, s.aborted) =
                        (n[0], n[1], n[2], n[3], n[4]);
                    seen += 1;
                }
            } else if let Some(r) = t.strip_prefix("payload") {
                s.bytes = *numbers(r).first()?;
                seen += 1;
            } else if let Some(r) = t.strip_prefix("frames") {
                let n = numbers(r);
                if n.len() >= 4 {
                    (s.rx_frames, s.tx_frames, s.resets_sent) = (n[0], n[1], n[3]);
                    seen += 1;
                }
            } else if let Some(r) = t.strip_prefix("dropped") {
                s.dropped = r.trim().to_string();
            } else if let Some(r) = t.strip_prefix("socket") {
                s.ring_drops = numbers(r).first().copied().unwrap_or(0);
            }
        }
        (seen == 3).then_some(s)
    }
}
