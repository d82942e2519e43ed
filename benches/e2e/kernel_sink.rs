//! The kernel's peer in the end-to-end benchmark: a TCP server on the
//! Linux stack: epoll (level-triggered), non-blocking sockets, one thread
//! unless `--threads` says more.
//!
//! `e2e-kernel-sink --addr IP --port P --mode discard|echo|file [--file PATH] [--cc NAME]
//! [--threads N] [--busy]`
//!
//! `--addr` is IPv4 or IPv6. `--threads N`: N threads, each with its own
//! `SO_REUSEPORT` listener and epoll loop (the kernel spreads connections
//! over them), as a server runs one loop per CPU. `--busy`: every loop
//! polls without sleeping (`epoll_wait` with a zero timeout), as a
//! latency-bound server spins.
//!
//! discard: reads every connection to its end, then closes it.
//! echo: writes back what it reads (TCP_NODELAY), closes at the peer's end.
//! file: sends every connection the file (`sendfile`, on a thread of its
//! own, blocking), then shuts its side down, reads to the peer's end (what
//! the peer sends is discarded) and closes: what a download server does.
//! Prints `ready` on stderr once listening; on SIGINT/SIGTERM prints its
//! counters (`kernel-sink: N connections, M bytes`) and exits 0.

mod common;

use std::collections::HashMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

struct Conn {
    stream: TcpStream,
    /// Echo bytes not yet written (the socket's send buffer was full).
    pending: Vec<u8>,
}

fn epoll_ctl(ep: RawFd, op: libc::c_int, fd: RawFd, events: u32) -> std::io::Result<()> {
    let mut ev = libc::epoll_event {
        events,
        u64: fd as u64,
    };
    // SAFETY: `ev` is a valid epoll_event for the duration of the call.
    if unsafe { libc::epoll_ctl(ep, op, fd, &mut ev) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// A listening socket (IPv4 or IPv6) with a backlog of 4096 (std's is
/// 128).
/// With `reuseport`, `SO_REUSEPORT`: one such listener per thread, the
/// kernel spreading the connections over them by their 4-tuple's hash.
fn listen(addr: SocketAddr, reuseport: bool) -> std::io::Result<TcpListener> {
    // SAFETY: plain socket calls on a descriptor this function owns; the
    // sockaddr is fully initialised and its length is that of its type.
    unsafe {
        let family = if addr.is_ipv4() {
            libc::AF_INET
        } else {
            libc::AF_INET6
        };
        let fd = libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        );
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let listener = TcpListener::from_raw_fd(fd);
        let one: libc::c_int = 1;
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_REUSEADDR,
            &one as *const _ as *const libc::c_void,
            4,
        );
        if reuseport {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_REUSEPORT,
                &one as *const _ as *const libc::c_void,
                4,
            );
        }
        let rc = match addr {
            SocketAddr::V4(a) => {
                let mut sa: libc::sockaddr_in = std::mem::zeroed();
                sa.sin_family = libc::AF_INET as libc::sa_family_t;
                sa.sin_port = a.port().to_be();
                sa.sin_addr.s_addr = u32::from(*a.ip()).to_be();
                libc::bind(
                    fd,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
                )
            }
            SocketAddr::V6(a) => {
                let mut sa: libc::sockaddr_in6 = std::mem::zeroed();
                sa.sin6_family = libc::AF_INET6 as libc::sa_family_t;
                sa.sin6_port = a.port().to_be();
                sa.sin6_addr.s6_addr = a.ip().octets();
                libc::bind(
                    fd,
                    &sa as *const _ as *const libc::sockaddr,
                    std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
                )
            }
        };
        if rc < 0 || libc::listen(fd, 4096) < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(listener)
    }
}

fn main() {
    common::install_stop_handler();
    let ip: IpAddr = common::arg("addr", IpAddr::V4(Ipv4Addr::UNSPECIFIED));
    let port: u16 = common::arg("port", 5003);
    let mode: String = common::arg("mode", "discard".to_string());
    let echo = match mode.as_str() {
        "discard" | "file" => false,
        "echo" => true,
        _ => {
            eprintln!("kernel-sink: --mode discard|echo|file");
            std::process::exit(2);
        }
    };
    let file: Option<String> = (mode == "file").then(|| common::arg("file", String::new()));
    if let Some(f) = &file {
        if let Err(e) = std::fs::metadata(f) {
            eprintln!("kernel-sink: --file {f:?}: {e}");
            std::process::exit(2);
        }
    }
    let threads: usize = common::arg("threads", 1);
    let busy = std::env::args().any(|a| a == "--busy");
    if !(1..=64).contains(&threads) {
        eprintln!("kernel-sink: --threads 1..64");
        std::process::exit(2);
    }
    // The congestion control of the accepted connections (they inherit the
    // listener's): `--cc cubic` whatever the namespace's default is.
    let cc: String = common::arg("cc", String::new());
    let stats = Arc::new(Stats::default());
    let mut workers = Vec::new();
    for _ in 0..threads {
        let listener = match listen(SocketAddr::new(ip, port), threads > 1) {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kernel-sink: cannot listen on {ip}:{port}: {e}");
                std::process::exit(1);
            }
        };
        if !cc.is_empty() {
            // SAFETY: a socket option on a descriptor the listener owns; the
            // name is a valid buffer of the length given.
            let rc = unsafe {
                libc::setsockopt(
                    listener.as_raw_fd(),
                    libc::IPPROTO_TCP,
                    libc::TCP_CONGESTION,
                    cc.as_ptr() as *const libc::c_void,
                    cc.len() as libc::socklen_t,
                )
            };
            if rc < 0 {
                let e = std::io::Error::last_os_error();
                eprintln!("kernel-sink: --cc {cc}: {e}");
                std::process::exit(2);
            }
        }
        let (file, stats) = (file.clone(), Arc::clone(&stats));
        workers.push(std::thread::spawn(move || {
            serve(listener, echo, busy, file, &stats)
        }));
    }
    eprintln!(
        "kernel-sink: ready on {ip}:{port}, mode {mode}, cc {cc}, {threads} thread(s){}",
        if busy { ", busy-polling" } else { "" }
    );
    for w in workers {
        let _ = w.join();
    }
    // File mode: the bytes sent.
    let ld = |a: &AtomicU64| a.load(Ordering::SeqCst);
    eprintln!(
        "kernel-sink: {} connections, {} bytes, {} open, {} at most",
        ld(&stats.accepted),
        ld(&stats.bytes) + ld(&stats.sent),
        ld(&stats.open),
        ld(&stats.peak)
    );
}

/// The counters of all threads.
#[derive(Default)]
struct Stats {
    accepted: AtomicU64,
    /// Bytes read.
    bytes: AtomicU64,
    /// File mode: bytes sent.
    sent: AtomicU64,
    /// Connections open at the end.
    open: AtomicU64,
    /// The most open at once (the sum of each thread's most).
    peak: AtomicU64,
}

/// One thread's loop: accepts on `listener` and serves its connections,
/// in epoll (level-triggered); `busy`: `epoll_wait` without a timeout,
/// never sleeping, as a busy-polling server does. Until the stop signal.
fn serve(listener: TcpListener, echo: bool, busy: bool, file: Option<String>, stats: &Arc<Stats>) {
    // SAFETY: creates a descriptor this function owns (closed at exit).
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if ep < 0 {
        eprintln!("kernel-sink: epoll_create1 failed");
        std::process::exit(1);
    }
    let lfd = listener.as_raw_fd();
    epoll_ctl(ep, libc::EPOLL_CTL_ADD, lfd, libc::EPOLLIN as u32).expect("epoll_ctl");
    let wait_ms = if busy { 0 } else { 100 };

    let mut conns: HashMap<RawFd, Conn> = HashMap::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let (mut accepted, mut bytes, mut peak) = (0u64, 0u64, 0usize);
    while !common::stopped() {
        // SAFETY: `events` is valid for `events.len()` entries.
        let n = unsafe { libc::epoll_wait(ep, events.as_mut_ptr(), events.len() as i32, wait_ms) };
        if n < 0 {
            continue; // EINTR (the stop signal)
        }
        for ev in &events[..n as usize] {
            let fd = ev.u64 as RawFd;
            if fd == lfd {
                // Accept what is queued (bounded per wake-up).
                for _ in 0..256 {
                    match listener.accept() {
                        Ok((s, _)) if file.is_some() => {
                            let path = file.clone().unwrap_or_default();
                            let stats = Arc::clone(stats);
                            accepted += 1;
                            std::thread::spawn(move || send_file(s, &path, &stats.sent));
                        }
                        Ok((s, _)) => {
                            let _ = s.set_nonblocking(true);
                            if echo {
                                let _ = s.set_nodelay(true);
                            }
                            let sfd = s.as_raw_fd();
                            if epoll_ctl(ep, libc::EPOLL_CTL_ADD, sfd, libc::EPOLLIN as u32).is_ok()
                            {
                                conns.insert(
                                    sfd,
                                    Conn {
                                        stream: s,
                                        pending: Vec::new(),
                                    },
                                );
                                accepted += 1;
                                peak = peak.max(conns.len());
                            }
                        }
                        Err(_) => break,
                    }
                }
                continue;
            }
            let Some(c) = conns.get_mut(&fd) else {
                continue;
            };
            let mut close = false;
            if !c.pending.is_empty() {
                match c.stream.write(&c.pending) {
                    Ok(k) => {
                        c.pending.drain(..k);
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                    Err(_) => close = true,
                }
                if c.pending.is_empty() && !close {
                    let _ = epoll_ctl(ep, libc::EPOLL_CTL_MOD, fd, libc::EPOLLIN as u32);
                }
            } else {
                // Read what is there (bounded per wake-up, to stay fair).
                for _ in 0..64 {
                    match c.stream.read(&mut buf) {
                        Ok(0) => {
                            close = true;
                            break;
                        }
                        Ok(k) => {
                            bytes += k as u64;
                            if echo {
                                let mut off = 0;
                                while off < k {
                                    match c.stream.write(&buf[off..k]) {
                                        Ok(w) => off += w,
                                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                                        Err(_) => {
                                            close = true;
                                            break;
                                        }
                                    }
                                }
                                if off < k && !close {
                                    c.pending.extend_from_slice(&buf[off..k]);
                                    let _ = epoll_ctl(
                                        ep,
                                        libc::EPOLL_CTL_MOD,
                                        fd,
                                        libc::EPOLLOUT as u32,
                                    );
                                    break;
                                }
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                        Err(_) => {
                            close = true;
                            break;
                        }
                    }
                }
            }
            if close {
                let _ = epoll_ctl(ep, libc::EPOLL_CTL_DEL, fd, 0);
                conns.remove(&fd); // dropping the stream closes it
            }
        }
    }
    stats.accepted.fetch_add(accepted, Ordering::SeqCst);
    stats.bytes.fetch_add(bytes, Ordering::SeqCst);
    stats.open.fetch_add(conns.len() as u64, Ordering::SeqCst);
    stats.peak.fetch_add(peak as u64, Ordering::SeqCst);
    // SAFETY: closes the descriptor made above, used no more.
    unsafe { libc::close(ep) };
}

/// File mode, one connection: the whole file with `sendfile` (blocking),
/// then a FIN, then what the peer sends read to its end (at most 10 s),
/// then close. The bytes sent are added to `sent`.
fn send_file(mut s: TcpStream, path: &str, sent: &AtomicU64) {
    let Ok(f) = std::fs::File::open(path) else {
        return;
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let mut off: libc::off_t = 0;
    // Bounded: every pass sends at least a byte, or ends.
    while (off as u64) < len && !common::stopped() {
        let want = (len - off as u64).min(1 << 30) as usize;
        // SAFETY: both descriptors are open for the call; `off` is a valid
        // offset the kernel advances.
        let n = unsafe { libc::sendfile(s.as_raw_fd(), f.as_raw_fd(), &mut off, want) };
        if n < 0 {
            if std::io::Error::last_os_error().kind() == ErrorKind::Interrupted {
                continue;
            }
            break;
        }
        if n == 0 {
            break;
        }
        sent.fetch_add(n as u64, Ordering::Relaxed);
    }
    let _ = s.shutdown(std::net::Shutdown::Write);
    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
    let mut buf = [0u8; 4096];
    for _ in 0..100_000 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}
