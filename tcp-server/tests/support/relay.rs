//! A three-namespace network with a user-space relay in the middle, for
//! what nftables and tc cannot do here (this kernel has no netem):
//! reordering.
//!
//! ```text
//!   ns b (client)  <-veth->  ns r (relay)  <-veth->  ns a (server)
//!   198.18.S.2     if_b..y         x..if_a           198.18.S.1
//! ```
//!
//! The relay is a transparent bridge: two `rawnet::RawSocket`s (no filter,
//! outgoing frames ignored) on `x` and `y`, one thread in ns r forwarding
//! every frame (ARP included) both ways, holding back a random share of them
//! for a few milliseconds so that later frames overtake them. It stops when
//! its flag is set, after its time limit, or when the network is dropped.
//! Offloads are off on every veth end, so frames are at most MTU-sized and
//! carry complete checksums (the relay forwards them untouched).

use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use rawnet::netns::{exec, run, spawn_in_ns, TestNet};
use rawnet::{Interface, RawSocket, SocketConfig};

use super::Gen;

/// What the relay does to frames (each direction alike).
#[derive(Debug, Clone, Copy)]
pub struct Impair {
    /// Percent of frames held back ...
    pub delay_pct: u32,
    /// ... for a random time in `1..=delay_max_ms` milliseconds.
    pub delay_max_ms: u64,
    /// Percent of frames sent twice.
    pub dup_pct: u32,
    /// Percent of IPv4 frames dropped (ARP always passes): loss that
    /// neither end's kernel can see, unlike a drop in its own netfilter
    /// hooks or qdisc, which Linux TCP learns of and simply sends again.
    pub loss_pct: u32,
    /// The relay stops by itself after this long.
    pub lifetime: Duration,
}

/// What the relay did.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    pub forwarded: u64,
    pub delayed: u64,
    pub duplicated: u64,
    pub lost: u64,
    /// Frames sent after a frame that arrived later than them (reordered).
    pub overtaken: u64,
    pub send_errors: u64,
}

/// The relay network: a `TestNet` whose two ends are not joined directly
/// but through namespace r, and the relay thread.
pub struct RelayNet {
    pub ns_r: String,
    pub if_x: String,
    pub if_y: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Result<RelayStats, String>, rawnet::Error>>>,
}

fn ip(args: &[&str]) -> Result<(), rawnet::Error> {
    run(Command::new("ip").args(args)).map(|_| ())
}

impl RelayNet {
    /// Makes namespaces `rn<pid><tag>{a,r,b}`, the two veth pairs, the
    /// addresses 198.18.`subnet`.1 (a) and .2 (b), all offloads off, and
    /// starts the relay. Returns the `TestNet` view of ends a and b (it
    /// removes those two namespaces on drop) and the relay (which removes
    /// ns r on drop).
    pub fn new(tag: &str, subnet: u8, imp: Impair) -> (TestNet, RelayNet) {
        let base = format!("rn{}{tag}", std::process::id());
        assert!(base.len() < 15, "tag too long: {base}");
        // The guard removes whatever part was made if setup panics.
        let mut relay = RelayNet {
            ns_r: format!("{base}r"),
            if_x: format!("{base}x"),
            if_y: format!("{base}y"),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        let net = TestNet {
            ns_a: format!("{base}a"),
            ns_b: format!("{base}b"),
            if_a: format!("{base}a"),
            if_b: format!("{base}b"),
            addr_a: Ipv4Addr::new(198, 18, subnet, 1),
            addr_b: Ipv4Addr::new(198, 18, subnet, 2),
            prefix: 24,
        };
        let setup = || -> Result<(), rawnet::Error> {
            for ns in [&net.ns_a, &relay.ns_r, &net.ns_b] {
                ip(&["netns", "add", ns])?;
            }
            ip(&[
                "link",
                "add",
                &net.if_a,
                "netns",
                &net.ns_a,
                "type",
                "veth",
                "peer",
                "name",
                &relay.if_x,
                "netns",
                &relay.ns_r,
            ])?;
            ip(&[
                "link",
                "add",
                &net.if_b,
                "netns",
                &net.ns_b,
                "type",
                "veth",
                "peer",
                "name",
                &relay.if_y,
                "netns",
                &relay.ns_r,
            ])?;
            for (ns, dev) in [
                (&net.ns_a, &net.if_a),
                (&relay.ns_r, &relay.if_x),
                (&relay.ns_r, &relay.if_y),
                (&net.ns_b, &net.if_b),
            ] {
                let _ = run(&mut exec(
                    ns,
                    [
                        "sysctl",
                        "-qw",
                        "net.ipv6.conf.all.disable_ipv6=1",
                        "net.ipv6.conf.default.disable_ipv6=1",
                    ],
                ));
                run(&mut exec(
                    ns,
                    [
                        "ethtool", "-K", dev, "tx", "off", "rx", "off", "tso", "off", "gso", "off",
                        "gro", "off",
                    ],
                ))?;
                ip(&["-n", ns, "link", "set", dev, "up"])?;
                ip(&["-n", ns, "link", "set", "lo", "up"])?;
            }
            ip(&[
                "-n",
                &net.ns_a,
                "addr",
                "add",
                &format!("{}/24", net.addr_a),
                "dev",
                &net.if_a,
            ])?;
            ip(&[
                "-n",
                &net.ns_b,
                "addr",
                "add",
                &format!("{}/24", net.addr_b),
                "dev",
                &net.if_b,
            ])?;
            Ok(())
        };
        if let Err(e) = setup() {
            drop(net);
            drop(relay);
            panic!("cannot make the relay network (needs root): {e}");
        }
        let (x, y, stop) = (relay.if_x.clone(), relay.if_y.clone(), relay.stop.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let h = spawn_in_ns(&relay.ns_r, move || relay_loop(&x, &y, imp, &stop, tx))
            .expect("relay thread");
        relay.thread = Some(h);
        // Wait (bounded) until both sockets are open.
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => {}
            Err(_) => {
                let r = relay.stop();
                drop(net);
                panic!("relay did not start: {r:?}");
            }
        }
        (net, relay)
    }

    /// Stops the relay (bounded: it checks its flag every few ms) and
    /// returns what it did.
    pub fn stop(&mut self) -> Result<RelayStats, String> {
        self.stop.store(true, Ordering::SeqCst);
        match self.thread.take() {
            None => Err("relay already stopped".into()),
            Some(h) => match h.join() {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => Err(format!("relay could not enter its namespace: {e}")),
                Err(_) => Err("relay thread panicked".into()),
            },
        }
    }
}

impl Drop for RelayNet {
    fn drop(&mut self) {
        if self.thread.is_some() {
            let _ = self.stop();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.ns_r])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

struct Held {
    due: Instant,
    to_y: bool,
    seq: u64,
    frame: Vec<u8>,
}

fn relay_loop(
    x: &str,
    y: &str,
    imp: Impair,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<()>,
) -> Result<RelayStats, String> {
    let cfg = SocketConfig {
        filter: None,
        ring_bytes: 8 << 20,
        block_size: 64 << 10,
        block_timeout_ms: 1,
        fanout: None,
        ignore_outgoing: true,
        ..SocketConfig::default()
    };
    let open = |name: &str| {
        Interface::by_name(name)
            .and_then(|i| RawSocket::open(&i, &cfg))
            .map_err(|e| format!("relay socket on {name}: {e}"))
    };
    let mut sx = open(x)?;
    let mut sy = open(y)?;
    let _ = ready.send(());
    let mut rng = Gen::new(u64::from(std::process::id()) ^ 0x5eed);
    let mut held: Vec<Held> = Vec::new();
    let mut st = RelayStats::default();
    let mut seq = 0u64;
    let mut last_sent = [0u64; 2];
    let t0 = Instant::now();
    // Bounded by the lifetime (and a generous iteration cap).
    for _ in 0..100_000_000u64 {
        if stop.load(Ordering::Relaxed) || t0.elapsed() > imp.lifetime {
            break;
        }
        let now = Instant::now();
        let next_due = held.iter().map(|h| h.due).min();
        let wait_ms = next_due
            .map(|d| d.saturating_duration_since(now).as_millis().clamp(0, 5))
            .unwrap_or(5) as u16;
        {
            let mut fds = [
                PollFd::new(sx.as_fd(), PollFlags::POLLIN),
                PollFd::new(sy.as_fd(), PollFlags::POLLIN),
            ];
            let _ = poll(&mut fds, PollTimeout::from(wait_ms));
        }
        for from_x in [true, false] {
            let (src, dst) = if from_x {
                (&mut sx, &mut sy)
            } else {
                (&mut sy, &mut sx)
            };
            let dir = usize::from(!from_x);
            let r = src.recv_batch(Some(Duration::ZERO), |frame, _| {
                seq += 1;
                let ipv4 = frame.get(12..14) == Some(&[0x08, 0x00][..]);
                if ipv4 && rng.below(100) < u64::from(imp.loss_pct) {
                    st.lost += 1;
                    return;
                }
                if rng.below(100) < u64::from(imp.delay_pct) {
                    st.delayed += 1;
                    let ms = 1 + rng.below(imp.delay_max_ms.max(1));
                    held.push(Held {
                        due: Instant::now() + Duration::from_millis(ms),
                        to_y: from_x,
                        seq,
                        frame: frame.to_vec(),
                    });
                    return;
                }
                if dst.queue(frame).is_ok() {
                    st.forwarded += 1;
                    if seq < last_sent[dir] {
                        st.overtaken += 1;
                    }
                    last_sent[dir] = last_sent[dir].max(seq);
                }
                if rng.below(100) < u64::from(imp.dup_pct) && dst.queue(frame).is_ok() {
                    st.duplicated += 1;
                }
            });
            if let Err(e) = r {
                return Err(format!("relay receive: {e}"));
            }
        }
        let now = Instant::now();
        let mut i = 0;
        while i < held.len() {
            if held[i].due <= now {
                let h = held.swap_remove(i);
                let dst = if h.to_y { &mut sy } else { &mut sx };
                let dir = usize::from(!h.to_y);
                if dst.queue(&h.frame).is_ok() {
                    st.forwarded += 1;
                    if h.seq < last_sent[dir] {
                        st.overtaken += 1;
                    }
                    last_sent[dir] = last_sent[dir].max(h.seq);
                }
            } else {
                i += 1;
            }
        }
        for s in [&mut sx, &mut sy] {
            if s.queued() > 0 && s.flush().is_err() {
                st.send_errors += 1;
            }
        }
    }
    Ok(st)
}
