//! Tools of the `net_*` end-to-end tests: data generators and SHA-256
//! digests on both sides, Linux TCP clients (std `TcpStream` on threads that
//! entered the client namespace), a parser of the server's exit summary,
//! link impairments made with nftables and tc inside the test namespaces,
//! and a user-space relay that reorders frames (`relay.rs`).
//!
//! Every loop is bounded in count and time; every rule and qdisc lives in a
//! namespace the test made, so it goes away with the namespace.
#![allow(dead_code)]

pub mod impair;
pub mod relay;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

mod xorshift;
use xorshift::XorShift;

/// A fast deterministic byte stream (xorshift64*), so that hundreds of MiB
/// can be made on the fly, on both sides, without keeping them.
#[derive(Clone)]
pub struct Gen(XorShift);

impl Gen {
    pub fn new(seed: u64) -> Gen {
        Gen(XorShift::new(seed))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }

    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let v = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&v[..n]);
    }

    /// A random number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// `len` bytes of the stream of `seed`.
pub fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut v = vec![0u8; len];
    Gen::new(seed).fill(&mut v);
    v
}

pub type Hash = [u8; 32];

pub fn sha256(bytes: &[u8]) -> Hash {
    Sha256::digest(bytes).into()
}

pub fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 and length of a file, read in pieces.
pub fn sha256_file(path: &Path) -> io::Result<(u64, Hash)> {
    let mut f = File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf)?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, h.finalize().into()))
}

/// Connects (at most 5 s) with read and write timeouts of `io_secs`.
pub fn connect(to: SocketAddr, io_secs: u64) -> io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
    s.set_read_timeout(Some(Duration::from_secs(io_secs)))?;
    s.set_write_timeout(Some(Duration::from_secs(io_secs)))?;
    Ok(s)
}

/// Writes `len` bytes of the stream `seed` to `w` in 256 KiB pieces and
/// returns their SHA-256.
pub fn write_stream(w: &mut impl Write, len: u64, seed: u64) -> io::Result<Hash> {
    let mut g = Gen::new(seed);
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        g.fill(&mut buf[..n]);
        h.update(&buf[..n]);
        w.write_all(&buf[..n])?;
        left -= n as u64;
    }
    Ok(h.finalize().into())
}

/// Reads `r` to its end (the peer's FIN); returns length and SHA-256. An
/// error (e.g. a reset or a timeout) is returned as such.
pub fn read_stream(r: &mut impl Read) -> io::Result<(u64, Hash)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((n, h.finalize().into()))
}

/// What an upload client saw: the SHA-256 of what it sent, and what came
/// back before the server's FIN (nothing, for print and discard mode).
#[derive(Debug)]
pub struct Upload {
    pub sent: Hash,
    pub back: u64,
    pub elapsed: Duration,
}

/// In the calling thread's namespace: connects to `to`, sends `len` bytes
/// of stream `seed`, shuts down its sending side and reads until the
/// server's FIN (each read or write at most `io_secs`).
pub fn upload(to: SocketAddr, len: u64, seed: u64, io_secs: u64) -> io::Result<Upload> {
    let t0 = Instant::now();
    let mut s = connect(to, io_secs)?;
    let sent = write_stream(&mut s, len, seed)?;
    s.shutdown(Shutdown::Write)?;
    let (back, _) = read_stream(&mut s)?;
    Ok(Upload {
        sent,
        back,
        elapsed: t0.elapsed(),
    })
}

/// What an echo client saw.
#[derive(Debug)]
pub struct Echo {
    pub sent: Hash,
    pub got: Hash,
    pub got_len: u64,
    pub elapsed: Duration,
}

/// In the calling thread's namespace: sends `len` bytes of stream `seed`
/// on one thread while reading the echo on this one, until the server's
/// FIN; returns the SHA-256 of both sides.
pub fn echo(to: SocketAddr, len: u64, seed: u64, io_secs: u64) -> io::Result<Echo> {
    let t0 = Instant::now();
    let mut s = connect(to, io_secs)?;
    let mut w = s.try_clone()?;
    let writer = std::thread::spawn(move || -> io::Result<Hash> {
        let h = write_stream(&mut w, len, seed)?;
        w.shutdown(Shutdown::Write)?;
        Ok(h)
    });
    let read = read_stream(&mut s);
    if read.is_err() {
        // Unblock the writer (it may wait on a closed window).
        let _ = s.shutdown(Shutdown::Both);
    }
    let sent = writer
        .join()
        .map_err(|_| io::Error::other("writer thread panicked"))??;
    let (got_len, got) = read?;
    Ok(Echo {
        sent,
        got,
        got_len,
        elapsed: t0.elapsed(),
    })
}

/// SO_LINGER 0: dropping the stream then sends a RST.
pub fn set_linger0(s: &TcpStream) -> io::Result<()> {
    nix::sys::socket::setsockopt(
        s,
        nix::sys::socket::sockopt::Linger,
        &libc::linger {
            l_onoff: 1,
            l_linger: 0,
        },
    )
    .map_err(io::Error::from)
}

/// The server's exit summary, parsed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    pub established: u64,
    pub normal: u64,
    pub reset: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub bytes: u64,
    pub rx_frames: u64,
    pub tx_frames: u64,
    pub retransmissions: u64,
    pub resets_sent: u64,
    pub dropped: String,
    pub ring_drops: u64,
    pub truncated: u64,
    pub not_sent: u64,
    /// `open N connections left in the table`, if the server prints it.
    pub open: Option<u64>,
}

/// Numbers in `s` in order (digits runs).
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect()
}

impl Summary {
    /// Parses the summary from the server's stderr; `None` if absent.
    pub fn parse(stderr: &str) -> Option<Summary> {
        let start = stderr.find("tcp-server: summary after")?;
        let text = &stderr[start..];
        let mut s = Summary::default();
        let mut seen = 0;
        for line in text.lines().take(10) {
            let t = line.trim_start();
            if let Some(r) = t.strip_prefix("connections") {
                let n = numbers(r);
                if n.len() >= 5 && r.contains("established; closed:") {
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
                    (s.rx_frames, s.tx_frames, s.retransmissions, s.resets_sent) =
                        (n[0], n[1], n[2], n[3]);
                    seen += 1;
                }
            } else if let Some(r) = t.strip_prefix("dropped") {
                s.dropped = r.trim().to_string();
            } else if let Some(r) = t.strip_prefix("open") {
                s.open = numbers(r).first().copied();
            } else if let Some(r) = t.strip_prefix("socket") {
                let n = numbers(r);
                if n.len() >= 3 {
                    (s.ring_drops, s.truncated, s.not_sent) = (n[0], n[1], n[2]);
                    seen += 1;
                }
            }
        }
        (seen == 4).then_some(s)
    }

    /// Every connection that was established closed normally, none is left
    /// (also by the `open` line, where the server prints one).
    pub fn all_normal(&self, n: u64) -> bool {
        self.open.unwrap_or(0) == 0
            && self.established == n
            && self.normal == n
            && self.reset == 0
            && self.timed_out == 0
            && self.aborted == 0
    }
}

/// Polls `cond` every 20 ms for at most `secs`; returns whether it held.
pub fn wait_until(secs: u64, mut cond: impl FnMut() -> bool) -> bool {
    let t0 = Instant::now();
    for _ in 0..(secs * 1000 / 20 + 1) {
        if cond() {
            return true;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

/// Length of a file (0 if absent).
pub fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// One line of the test's timing, for the report (`--nocapture` shows it).
pub fn note(test: &str, what: &str, t0: Instant) {
    eprintln!("[{test}] {what} after {:.2} s", t0.elapsed().as_secs_f64());
}
