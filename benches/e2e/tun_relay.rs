//! The user-space TUN hop of bench-e2e's TUN row: the Linux kernel's TCP
//! behind a TUN device, the way a VPN or a user-space proxy runs it.
//!
//! `e2e-tun-relay --ns-a NS --dev-a NAME --route-a CIDR --ns-b NS --dev-b NAME --route-b CIDR
//! [--threads 1|2]`
//!
//! Opens (creates) TUN device `dev-a` in network namespace `ns-a` and
//! `dev-b` in `ns-b` (`rawnet::tun::TunDevice`, bare IP packets, no
//! virtio-net header), routes `route-a` to `dev-a` in `ns-a` and `route-b`
//! to `dev-b` in `ns-b`, then copies every packet read from one device to
//! the other, on one thread: a batch of up to 256 packets from each side
//! per pass (one `read` each, one `write` each: a TUN device has no
//! `recvmmsg`/`sendmmsg`), spinning 50 µs on empty passes (as our server
//! spins) and then sleeping in `poll` on both devices. Packets the kernel
//! has no room for (`EAGAIN`) are dropped and counted, as a router would.
//! `--threads 2`: one thread per direction instead (each reads its device
//! and writes to the other's descriptor); on the 2-vCPU machine of the
//! project, sharing the CPUs with the client and the sink, it was slower
//! (2.27 against 3.36 Gbit/s, `bench-e2e --only tun --rounds 2
//! --upload-mib 512 --relay-threads 2` and `1`), so bench-e2e runs one.
//!
//! Prints `ready` on stderr once both devices are up and routed; on
//! SIGINT/SIGTERM prints its counters (`tun-relay: N packets a->b, M
//! packets b->a, D dropped`) and exits 0. The devices go with the process.

mod common;

use std::net::IpAddr;
use std::os::fd::RawFd;
use std::time::{Duration, Instant};

use rawnet::netns;
use rawnet::tun::{TunDevice, TunOptions};

/// `ADDR/PREFIX`, parsed.
fn cidr(name: &str) -> (IpAddr, u8) {
    let v: String = common::arg(name, String::new());
    let parsed = v.split_once('/').and_then(|(a, p)| {
        let a: IpAddr = a.parse().ok()?;
        let p: u8 = p.parse().ok()?;
        Some((a, p))
    });
    parsed.unwrap_or_else(|| {
        eprintln!("tun-relay: --{name} ADDR/PREFIX (got `{v}`)");
        std::process::exit(2);
    })
}

/// The device `dev` opened in namespace `ns`, with `route` routed to it.
fn open(ns: &str, dev: &str, route: (IpAddr, u8)) -> Result<TunDevice, String> {
    let t = netns::run_in_ns(ns, || TunDevice::open(dev, &TunOptions::default()))
        .map_err(|e| format!("namespace {ns}: {e}"))?
        .map_err(|e| format!("TUN device {dev} in {ns}: {e}"))?;
    t.add_route(route.0, route.1)
        .map_err(|e| format!("route {}/{} dev {dev}: {e}", route.0, route.1))?;
    Ok(t)
}

/// Copies what `from` has now (at most one batch) into `to`; the number of
/// packets read. `dropped` counts those `to` had no room for.
fn pass(from: &mut TunDevice, to: &mut TunDevice, dropped: &mut u64) -> Result<usize, String> {
    let mut err = None;
    let n = from
        .recv_batch(Some(Duration::ZERO), |p, _| match to.send(p) {
            Ok(true) => {}
            Ok(false) => *dropped += 1,
            Err(e) => {
                *dropped += 1;
                err.get_or_insert(e);
            }
        })
        .map_err(|e| e.to_string())?;
    // A refused packet is dropped; only a device gone ends the relay.
    if let Some(rawnet::Error::NoSuchInterface(d)) = err {
        return Err(format!("TUN device {d} is gone"));
    }
    Ok(n)
}

/// `--threads 2`: one thread per direction, reading `from` (its own
/// device) and writing each packet to the other device's descriptor `to`
/// (a plain `write`: the other thread reads that device). Returns the
/// packets read and those dropped (no room, or refused).
fn direction(from: &mut TunDevice, to: RawFd, spin: Duration) -> (u64, u64) {
    let (mut n, mut dropped) = (0u64, 0u64);
    let mut idle_since: Option<Instant> = None;
    while !common::stopped() {
        let idle = idle_since.is_some_and(|t| t.elapsed() >= spin);
        // Asleep at most 100 ms once idle, to see the stop signal.
        let wait = if idle {
            Duration::from_millis(100)
        } else {
            Duration::ZERO
        };
        let r = from.recv_batch(Some(wait), |p, _| {
            // SAFETY: writes `p` (valid for its length) to a descriptor
            // that stays open while this scoped thread runs.
            let w = unsafe { libc::write(to, p.as_ptr() as *const libc::c_void, p.len()) };
            if w < 0 {
                dropped += 1;
            }
        });
        match r {
            Ok(0) => {
                if idle {
                    idle_since = None;
                } else {
                    idle_since.get_or_insert_with(Instant::now);
                    std::hint::spin_loop();
                }
            }
            Ok(k) => {
                n += k as u64;
                idle_since = None;
            }
            Err(e) => {
                eprintln!("tun-relay: {e}");
                break;
            }
        }
    }
    (n, dropped)
}

fn main() {
    common::install_stop_handler();
    // Gone with bench-e2e, also when it is killed (the devices live in its
    // namespaces, but this process does not).
    // SAFETY: prctl with an integer argument; no pointers.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) };
    let ns_a: String = common::arg("ns-a", String::new());
    let ns_b: String = common::arg("ns-b", String::new());
    let dev_a: String = common::arg("dev-a", String::new());
    let dev_b: String = common::arg("dev-b", String::new());
    if [&ns_a, &ns_b, &dev_a, &dev_b].iter().any(|s| s.is_empty()) {
        eprintln!("usage: e2e-tun-relay --ns-a NS --dev-a NAME --route-a CIDR --ns-b NS --dev-b NAME --route-b CIDR");
        std::process::exit(2);
    }
    let (route_a, route_b) = (cidr("route-a"), cidr("route-b"));
    let (mut a, mut b) = match (|| {
        Ok::<_, String>((open(&ns_a, &dev_a, route_a)?, open(&ns_b, &dev_b, route_b)?))
    })() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("tun-relay: {e}");
            std::process::exit(1);
        }
    };
    let threads: usize = common::arg("threads", 1);
    eprintln!("tun-relay: ready, {dev_a} in {ns_a} <-> {dev_b} in {ns_b}, {threads} thread(s)");
    let spin = Duration::from_micros(50);
    if threads == 2 {
        let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
        let ((ab, d1), (ba, d2)) = std::thread::scope(|sc| {
            let t = sc.spawn(|| direction(&mut b, fa, spin));
            let x = direction(&mut a, fb, spin);
            (x, t.join().unwrap_or((0, 0)))
        });
        eprintln!(
            "tun-relay: {ab} packets a->b, {ba} packets b->a, {} dropped",
            d1 + d2
        );
        return;
    }
    let (mut ab, mut ba, mut dropped) = (0u64, 0u64, 0u64);
    let mut idle_since: Option<Instant> = None;
    while !common::stopped() {
        let r = pass(&mut a, &mut b, &mut dropped)
            .and_then(|x| Ok((x, pass(&mut b, &mut a, &mut dropped)?)));
        let (x, y) = match r {
            Ok(v) => v,
            Err(e) => {
                eprintln!("tun-relay: {e}");
                break;
            }
        };
        ab += x as u64;
        ba += y as u64;
        if x + y > 0 {
            idle_since = None;
            continue;
        }
        let since = *idle_since.get_or_insert_with(Instant::now);
        if since.elapsed() < spin {
            std::hint::spin_loop();
            continue;
        }
        // Asleep until either device has a packet (at most 100 ms, to see
        // the stop signal).
        let mut fds = [
            libc::pollfd {
                fd: a.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: b.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd for the call.
        unsafe { libc::poll(fds.as_mut_ptr(), 2, 100) };
        idle_since = None;
    }
    eprintln!("tun-relay: {ab} packets a->b, {ba} packets b->a, {dropped} dropped");
}
