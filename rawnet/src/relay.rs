//! A three-namespace network with a user-space relay in the middle, for
//! what nftables and tc cannot do on a kernel without netem: reordering and
//! added delay. Used by tcp-server's end-to-end tests and by the benches
//! (`bench-e2e --only download`).
//!
//! ```text
//!   ns b (client)  <-veth->  ns r (relay)  <-veth->  ns a (server)
//!   198.18.S.2     if_b..y         x..if_a           198.18.S.1
//! ```
//!
//! The relay is a transparent bridge: two [`RawSocket`]s (no filter,
//! outgoing frames ignored) on `x` and `y`, one thread in ns r forwarding
//! every frame (ARP included) both ways. What it does to them is an
//! [`Impair`]:
//! - random hold-back (both ways): a share of the frames held for a random
//!   1..=N ms, so that later frames overtake them;
//! - displacement (a -> b only): a share of the IPv4 frames sent only after
//!   a fixed number of later frames, a reordering of a known degree that
//!   does not depend on timing;
//! - fixed delay (a -> b only): every frame held exactly D (to within the
//!   relay's poll granularity, well under a millisecond), first in, first
//!   out, in a queue bounded by [`FIXED_DELAY_QUEUE_BYTES`];
//! - random loss and duplication (both ways).
//!
//! It stops when its flag is set, after its lifetime, or when the network
//! is dropped. Offloads are off on every veth end, so frames are at most
//! MTU-sized and carry complete checksums (the relay forwards them
//! untouched). One thread: its rate (a few Gbit/s at best, less on a busy
//! machine) bounds every transfer through it.

use std::collections::VecDeque;
use std::os::fd::AsFd;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::netns::{exec, run, spawn_in_ns, TestNet};
use crate::{Interface, RawSocket, SocketConfig};

/// The fixed-delay queue holds at most this many bytes of frames (64 MiB:
/// 50 ms at 10 Gbit/s); frames beyond it are dropped and counted in
/// [`RelayStats::queue_drops`].
pub const FIXED_DELAY_QUEUE_BYTES: usize = 64 << 20;

/// How long a displaced frame waits at most for the later frames that are
/// to overtake it (when the sender stops sending).
const DISPLACE_MAX_WAIT: Duration = Duration::from_millis(2);

/// What the relay does to frames.
#[derive(Debug, Clone, Copy)]
pub struct Impair {
    /// Percent of frames (each direction) held back ...
    pub delay_pct: u32,
    /// ... for a random time in `1..=delay_max_ms` milliseconds.
    pub delay_max_ms: u64,
    /// Percent of frames (each direction) sent twice.
    pub dup_pct: u32,
    /// Percent of IPv4 frames (each direction) dropped (ARP always passes):
    /// loss that neither end's kernel can see, unlike a drop in its own
    /// netfilter hooks or qdisc, which Linux TCP learns of and simply
    /// sends again.
    pub loss_pct: u32,
    /// Every frame from a to b held exactly this long (zero: not held).
    pub fixed_delay_a_to_b: Duration,
    /// Per mille of the IPv4 frames from a to b displaced ...
    pub displace_permille: u32,
    /// ... to after this many later frames (or 2 ms if
    /// fewer come).
    pub displace_by: u32,
    /// The relay stops by itself after this long.
    pub lifetime: Duration,
}

impl Default for Impair {
    /// Nothing done to any frame; a lifetime of 10 minutes.
    fn default() -> Impair {
        Impair {
            delay_pct: 0,
            delay_max_ms: 1,
            dup_pct: 0,
            loss_pct: 0,
            fixed_delay_a_to_b: Duration::ZERO,
            displace_permille: 0,
            displace_by: 0,
            lifetime: Duration::from_secs(600),
        }
    }
}

/// What the relay did.
#[derive(Debug, Default, Clone, Copy)]
pub struct RelayStats {
    /// Frames sent on (copies of duplicated ones not included).
    pub forwarded: u64,
    /// Frames held back for a random time.
    pub delayed: u64,
    /// Frames sent twice.
    pub duplicated: u64,
    /// Frames dropped at random.
    pub lost: u64,
    /// Frames sent after a frame that arrived later than them (reordered).
    pub overtaken: u64,
    /// Frames displaced behind later ones.
    pub displaced: u64,
    /// Frames dropped because the fixed-delay queue was full.
    pub queue_drops: u64,
    /// The most bytes the fixed-delay queue held.
    pub queue_peak_bytes: u64,
    /// Flushes that failed (frames dropped by the sending socket).
    pub send_errors: u64,
}

/// The relay network: ns r, its two veth ends, and the relay thread. The
/// [`TestNet`] view of ends a and b comes with it from [`RelayNet::new`].
pub struct RelayNet {
    /// Namespace of the relay (`rn<pid><tag>r`).
    pub ns_r: String,
    /// The relay's veth end towards a.
    pub if_x: String,
    /// The relay's veth end towards b.
    pub if_y: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<Result<RelayStats, String>, crate::Error>>>,
}

fn ip(args: &[&str]) -> Result<(), crate::Error> {
    run(Command::new("ip").args(args)).map(|_| ())
}

impl RelayNet {
    /// [`RelayNet::try_new`], panicking on failure (for tests).
    pub fn new(tag: &str, subnet: u8, imp: Impair) -> (TestNet, RelayNet) {
        match RelayNet::try_new(tag, subnet, imp) {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    /// Makes namespaces `rn<pid><tag>{a,r,b}`, the two veth pairs, the
    /// addresses 198.18.`subnet`.1 (a) and .2 (b), all offloads off, and
    /// starts the relay. Returns the `TestNet` view of ends a and b (it
    /// removes those two namespaces on drop) and the relay (which removes
    /// ns r on drop). Whatever was made is removed again on failure.
    pub fn try_new(tag: &str, subnet: u8, imp: Impair) -> Result<(TestNet, RelayNet), String> {
        let base = format!("rn{}{tag}", std::process::id());
        if base.len() >= 15 {
            return Err(format!("relay tag too long: {base}"));
        }
        let mut relay = RelayNet {
            ns_r: format!("{base}r"),
            if_x: format!("{base}x"),
            if_y: format!("{base}y"),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        let net = TestNet::named(&base, subnet);
        let setup = || -> Result<(), crate::Error> {
            for ns in [&net.ns_a, &relay.ns_r, &net.ns_b] {
                ip(&["netns", "add", ns])?;
            }
            for (dev, ns, peer) in [
                (&net.if_a, &net.ns_a, &relay.if_x),
                (&net.if_b, &net.ns_b, &relay.if_y),
            ] {
                ip(&[
                    "link",
                    "add",
                    dev,
                    "netns",
                    ns,
                    "type",
                    "veth",
                    "peer",
                    "name",
                    peer,
                    "netns",
                    &relay.ns_r,
                ])?;
            }
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
            for (ns, addr, dev) in [
                (&net.ns_a, net.addr_a, &net.if_a),
                (&net.ns_b, net.addr_b, &net.if_b),
            ] {
                ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev])?;
            }
            Ok(())
        };
        if let Err(e) = setup() {
            drop(net);
            drop(relay);
            return Err(format!("cannot make the relay network (needs root): {e}"));
        }
        let (x, y, stop) = (relay.if_x.clone(), relay.if_y.clone(), relay.stop.clone());
        let (tx, rx) = std::sync::mpsc::channel();
        let h = match spawn_in_ns(&relay.ns_r, move || relay_loop(&x, &y, imp, &stop, tx)) {
            Ok(h) => h,
            Err(e) => {
                drop(net);
                drop(relay);
                return Err(format!("relay thread: {e}"));
            }
        };
        relay.thread = Some(h);
        // Wait (bounded) until both sockets are open.
        if rx.recv_timeout(Duration::from_secs(10)).is_err() {
            let r = relay.stop();
            drop(net);
            return Err(format!("relay did not start: {r:?}"));
        }
        Ok((net, relay))
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

/// xorshift64*: the relay's random choices.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

/// A frame held back for a random time.
struct Held {
    due: Instant,
    to_y: bool,
    seq: u64,
    frame: Vec<u8>,
}

/// A frame displaced behind `left` more frames (or until `deadline`).
struct Displaced {
    left: u32,
    deadline: Instant,
    seq: u64,
    frame: Vec<u8>,
}

/// One direction's sending end: order bookkeeping and the displaced frames
/// waiting for the frames that are to overtake them.
#[derive(Default)]
struct Out {
    last_sent: u64,
    displaced: Vec<Displaced>,
}

fn is_ipv4(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x00][..])
}

impl Out {
    /// Displacement (a -> b): whether this frame was chosen to be sent
    /// after later ones (then it is kept here).
    fn displace(
        &mut self,
        imp: &Impair,
        rng: &mut Rng,
        now: Instant,
        seq: u64,
        frame: &[u8],
        st: &mut RelayStats,
    ) -> bool {
        if imp.displace_permille == 0
            || !is_ipv4(frame)
            || rng.below(1000) >= u64::from(imp.displace_permille)
        {
            return false;
        }
        st.displaced += 1;
        self.displaced.push(Displaced {
            left: imp.displace_by.max(1),
            deadline: now + DISPLACE_MAX_WAIT,
            seq,
            frame: frame.to_vec(),
        });
        true
    }

    /// Queues one frame on `dst` (counting it, and whether it was
    /// overtaken), then the displaced frames whose turn it is.
    fn put(&mut self, dst: &mut RawSocket, seq: u64, frame: &[u8], st: &mut RelayStats) {
        self.send(dst, seq, frame, st);
        if self.displaced.is_empty() {
            return;
        }
        for d in &mut self.displaced {
            d.left = d.left.saturating_sub(1);
        }
        self.release(dst, st, |d| d.left == 0);
    }

    fn send(&mut self, dst: &mut RawSocket, seq: u64, frame: &[u8], st: &mut RelayStats) {
        if dst.queue(frame).is_ok() {
            st.forwarded += 1;
            if seq < self.last_sent {
                st.overtaken += 1;
            }
            self.last_sent = self.last_sent.max(seq);
        }
    }

    /// Sends the displaced frames that `due` says are due, in their order.
    fn release(
        &mut self,
        dst: &mut RawSocket,
        st: &mut RelayStats,
        due: impl Fn(&Displaced) -> bool,
    ) {
        let mut i = 0;
        while i < self.displaced.len() {
            if due(&self.displaced[i]) {
                let d = self.displaced.remove(i);
                self.send(dst, d.seq, &d.frame, st);
            } else {
                i += 1;
            }
        }
    }
}

/// The fixed-delay queue (a -> b), its buffers reused.
struct Fifo {
    q: VecDeque<(Instant, u64, Vec<u8>)>,
    bytes: usize,
    free: Vec<Vec<u8>>,
}

#[allow(clippy::too_many_lines)]
fn relay_loop(
    x: &str,
    y: &str,
    imp: Impair,
    stop: &AtomicBool,
    ready: std::sync::mpsc::Sender<()>,
) -> Result<RelayStats, String> {
    let cfg = SocketConfig {
        filter: None,
        ring_bytes: 16 << 20,
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
    let mut rng = Rng(u64::from(std::process::id()).wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut held: Vec<Held> = Vec::new();
    let mut fifo = Fifo {
        q: VecDeque::new(),
        bytes: 0,
        free: Vec::new(),
    };
    // Index 0: towards y (a -> b); 1: towards x.
    let mut outs = [Out::default(), Out::default()];
    let mut st = RelayStats::default();
    let mut seq = 0u64;
    let fixed = imp.fixed_delay_a_to_b;
    let t0 = Instant::now();
    // Bounded by the lifetime (and a generous iteration cap).
    for _ in 0..1_000_000_000u64 {
        if stop.load(Ordering::Relaxed) || t0.elapsed() > imp.lifetime {
            break;
        }
        let now = Instant::now();
        let next_due = held
            .iter()
            .map(|h| h.due)
            .chain(fifo.q.front().map(|f| f.0))
            .chain(outs[0].displaced.iter().map(|d| d.deadline))
            .min();
        // Whole milliseconds, rounded down: under one, poll returns at once
        // and the loop spins until the frame is due.
        let wait_ms = next_due
            .map(|d| d.saturating_duration_since(now).as_millis().min(5))
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
            let out = &mut outs[usize::from(!from_x)];
            let arrived = Instant::now();
            let r = src.recv_batch(Some(Duration::ZERO), |frame, _| {
                seq += 1;
                let ipv4 = is_ipv4(frame);
                if ipv4 && imp.loss_pct > 0 && rng.below(100) < u64::from(imp.loss_pct) {
                    st.lost += 1;
                    return;
                }
                if imp.delay_pct > 0 && rng.below(100) < u64::from(imp.delay_pct) {
                    st.delayed += 1;
                    let ms = 1 + rng.below(imp.delay_max_ms.max(1));
                    held.push(Held {
                        due: arrived + Duration::from_millis(ms),
                        to_y: from_x,
                        seq,
                        frame: frame.to_vec(),
                    });
                    return;
                }
                if from_x && !fixed.is_zero() {
                    if fifo.bytes + frame.len() > FIXED_DELAY_QUEUE_BYTES {
                        st.queue_drops += 1;
                        return;
                    }
                    let mut buf = fifo.free.pop().unwrap_or_default();
                    buf.clear();
                    buf.extend_from_slice(frame);
                    fifo.bytes += frame.len();
                    st.queue_peak_bytes = st.queue_peak_bytes.max(fifo.bytes as u64);
                    fifo.q.push_back((arrived + fixed, seq, buf));
                    return;
                }
                if from_x && out.displace(&imp, &mut rng, arrived, seq, frame, &mut st) {
                    return;
                }
                out.put(dst, seq, frame, &mut st);
                if imp.dup_pct > 0
                    && rng.below(100) < u64::from(imp.dup_pct)
                    && dst.queue(frame).is_ok()
                {
                    st.duplicated += 1;
                }
            });
            if let Err(e) = r {
                return Err(format!("relay receive: {e}"));
            }
        }
        let now = Instant::now();
        // The fixed-delay queue, in order.
        while fifo.q.front().is_some_and(|f| f.0 <= now) {
            let Some((_, s, buf)) = fifo.q.pop_front() else {
                break;
            };
            fifo.bytes -= buf.len();
            if !outs[0].displace(&imp, &mut rng, now, s, &buf, &mut st) {
                outs[0].put(&mut sy, s, &buf, &mut st);
            }
            fifo.free.push(buf);
        }
        // Displaced frames whose overtakers did not come in time.
        if !outs[0].displaced.is_empty() {
            outs[0].release(&mut sy, &mut st, |d| d.deadline <= now);
        }
        let mut i = 0;
        while i < held.len() {
            if held[i].due <= now {
                let h = held.swap_remove(i);
                let (dst, out) = if h.to_y {
                    (&mut sy, &mut outs[0])
                } else {
                    (&mut sx, &mut outs[1])
                };
                out.send(dst, h.seq, &h.frame, &mut st);
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
