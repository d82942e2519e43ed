//! `bench-e2e`: the end-to-end benchmark of tcp-server, side by side with
//! the Linux kernel's TCP (`e2e-kernel-sink`) and smoltcp 0.12 over its
//! `phy::RawSocket` (`e2e-smoltcp-sink`), on one veth pair between two
//! network namespaces made for the run (removed at the end, also on error).
//!
//! The servers run as processes in namespace a (`ip netns exec`), one at a
//! time; the clients are Linux TCP sockets on threads in namespace b. Every
//! measurement runs `rounds` times, the contenders alternating within each
//! round (the first of a round rotates). Printed as one table of medians
//! (min-max) with the ratios ours/kernel and ours/smoltcp, and written as
//! JSON under benches/results/.
//!
//! The kernel runs as several variants (issue #18): one thread with one
//! epoll loop (`kernel`), one `SO_REUSEPORT` listener and epoll loop per
//! CPU (`kernel-reuseport`), and for the echo RTT rows one thread that
//! busy-polls (`kernel-busypoll`); the table's kernel column is the best
//! of them per row, and names it. Throughput and connection-rate rows get
//! a CPU-cost row under them: machine CPU-seconds (/proc/stat, all CPUs,
//! all but idle and iowait) over the measurement window, per GiB moved or
//! per 1,000 connections.
//!
//! Usage (root): `bench-e2e [--quick] [--server PATH] [--out DIR]
//! [--rounds N] [--only a,b,..] [--download-mib N] [--download-paths
//! a,b,..] [--kernel-cc NAME]` where the parts are upload, upload6 (the
//! offloads-off upload over IPv6), tun (an upload over TUN devices, see
//! [`TunNet`]), echotput, connrate, echo, memory, scaling, download (see
//! download.rs). scripts/bench-e2e.sh builds and runs it.
//! `--relay-threads 1|2`: the TUN row's relay on one thread (default) or
//! one per direction.
//!
//! echotput (echo throughput): one connection to an echo server; the client
//! writes N bytes on one thread and reads them back on another; the time
//! from connect to the last byte read, and a hash of the bytes read
//! compared with one of the bytes written.

mod common;
mod download;

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rawnet::netns::{self, TestNet, TestNs};
use serde_json::{json, Value};

// ---------------------------------------------------------------- options

struct Opts {
    quick: bool,
    server: PathBuf,
    sinks_dir: PathBuf,
    out: PathBuf,
    rounds: usize,
    upload: u64,
    conns: usize,
    echo_trips: usize,
    /// Bytes of the echo throughput test.
    echo_bytes: u64,
    idle_conns: usize,
    /// Bytes of the download file.
    download: u64,
    /// The download paths to run (all when `None`).
    download_paths: Option<Vec<String>>,
    /// The kernel sender's congestion control in the download part.
    kernel_cc: String,
    only: Option<Vec<String>>,
    /// Extra arguments for our server (`--server-arg`, repeatable), after
    /// the usual ones: to compare settings in one run.
    server_args: Vec<String>,
    /// Threads of the TUN row's relay (1: both directions on one; 2: one
    /// per direction).
    relay_threads: usize,
}

fn usage(msg: &str) -> ! {
    eprintln!(
        "bench-e2e: {msg}\nusage: bench-e2e [--quick] [--server PATH] [--out DIR] [--rounds N] [--upload-mib N] [--download-mib N] [--download-paths LIST] [--kernel-cc NAME] [--only upload,upload6,tun,echotput,connrate,echo,memory,scaling,download] [--server-arg ARG]... [--relay-threads 1|2]"
    );
    std::process::exit(2);
}

fn opts() -> Opts {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .unwrap_or_else(|| PathBuf::from("."));
    let mut quick = false;
    let mut server = exe_dir.join("tcp-server");
    let mut out = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/results"));
    let mut rounds = None;
    let mut only = None;
    let mut upload_mib = None;
    let mut download_mib = None;
    let mut download_paths = None;
    let mut kernel_cc = "cubic".to_string();
    let mut server_args = Vec::new();
    let mut relay_threads = RELAY_THREADS;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => quick = true,
            "--server" => {
                server = it
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| usage("--server PATH"))
            }
            "--out" => {
                out = it
                    .next()
                    .map(PathBuf::from)
                    .unwrap_or_else(|| usage("--out DIR"))
            }
            "--upload-mib" => {
                upload_mib = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n: &u64| (1..=65536).contains(&n))
                        .unwrap_or_else(|| usage("--upload-mib 1..65536")),
                )
            }
            "--download-mib" => {
                download_mib = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n: &u64| (1..=65536).contains(&n))
                        .unwrap_or_else(|| usage("--download-mib 1..65536")),
                )
            }
            "--kernel-cc" => {
                kernel_cc = it
                    .next()
                    .filter(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric()))
                    .map(|v| v.to_string())
                    .unwrap_or_else(|| usage("--kernel-cc NAME (cubic, bbr, reno)"));
            }
            "--download-paths" => {
                let v: Vec<String> = it
                    .next()
                    .unwrap_or_else(|| usage("--download-paths LIST"))
                    .split(',')
                    .map(str::to_string)
                    .collect();
                if let Some(bad) = v
                    .iter()
                    .find(|x| !download::PATHS.iter().any(|p| p.name == x.as_str()))
                {
                    let names: Vec<&str> = download::PATHS.iter().map(|p| p.name).collect();
                    usage(&format!(
                        "unknown download path `{bad}` (paths: {})",
                        names.join(",")
                    ));
                }
                download_paths = Some(v);
            }
            "--rounds" => {
                rounds = Some(
                    it.next()
                        .and_then(|v| v.parse().ok())
                        .filter(|&n: &usize| (1..=20).contains(&n))
                        .unwrap_or_else(|| usage("--rounds 1..20")),
                )
            }
            "--only" => {
                only = Some(
                    it.next()
                        .unwrap_or_else(|| usage("--only LIST"))
                        .split(',')
                        .map(str::to_string)
                        .collect(),
                )
            }
            "--server-arg" => server_args.push(
                it.next()
                    .cloned()
                    .unwrap_or_else(|| usage("--server-arg ARG")),
            ),
            "--relay-threads" => {
                relay_threads = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|n| (1..=2).contains(n))
                    .unwrap_or_else(|| usage("--relay-threads 1|2"))
            }
            "-h" | "--help" => usage("help"),
            other => usage(&format!("unknown argument `{other}`")),
        }
    }
    Opts {
        quick,
        server,
        sinks_dir: exe_dir,
        out,
        rounds: rounds.unwrap_or(if quick { 1 } else { 3 }),
        upload: upload_mib
            .map(|m| m << 20)
            .unwrap_or(if quick { 64 << 20 } else { 1 << 30 }),
        conns: if quick { 1000 } else { 5000 },
        echo_trips: if quick { 2000 } else { 20_000 },
        echo_bytes: if quick { 32 << 20 } else { 256 << 20 },
        idle_conns: if quick { 2000 } else { 10_000 },
        download: download_mib
            .map(|m| m << 20)
            .unwrap_or(if quick { 32 << 20 } else { 256 << 20 }),
        download_paths,
        kernel_cc,
        only,
        server_args,
        relay_threads,
    }
}

/// The TUN row's relay: threads (`--relay-threads`).
const RELAY_THREADS: usize = 1;

// ---------------------------------------------------------------- machine

fn sh(cmd: &str, args: &[&str]) -> String {
    Command::new(cmd)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn cpu_model() -> String {
    read("/proc/cpuinfo")
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("unknown")
        .trim()
        .to_string()
}

fn loadavg() -> String {
    read("/proc/loadavg")
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A kB figure of /proc/meminfo.
fn meminfo_kb(key: &str) -> u64 {
    read("/proc/meminfo")
        .lines()
        .find(|l| l.starts_with(key) && l[key.len()..].starts_with(':'))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// CPU time so far, in seconds: of the whole machine from /proc/stat (all
/// CPUs, everything but idle and iowait: user, nice, system, irq,
/// softirq, steal; guest time is in user), of its irq and softirq alone,
/// and of this process (the clients' threads, and the kernel's TCP work
/// done in their system calls) and of the server (with its companion).
#[derive(Clone, Copy, Default)]
struct CpuMark {
    machine: f64,
    irq: f64,
    bench: f64,
    server: f64,
    at: Option<Instant>,
}

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64
}

/// utime + stime of a `/proc/<pid>/stat` line, in seconds.
fn stat_cpu_secs(stat: &str) -> f64 {
    let rest = stat.rsplit_once(')').map(|x| x.1).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime) are 12 and 13 after the `)`.
    (t(11) + t(12)) / clk_tck()
}

impl CpuMark {
    fn now(server: Option<&Proc>) -> CpuMark {
        let stat = read("/proc/stat");
        let v: Vec<f64> = stat
            .lines()
            .next()
            .filter(|l| l.starts_with("cpu "))
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .filter_map(|x| x.parse().ok())
                    .collect()
            })
            .unwrap_or_default();
        let g = |i: usize| v.get(i).copied().unwrap_or(0.0);
        // user nice system idle iowait irq softirq steal
        let hz = clk_tck();
        CpuMark {
            machine: (g(0) + g(1) + g(2) + g(5) + g(6) + g(7)) / hz,
            irq: (g(5) + g(6)) / hz,
            bench: stat_cpu_secs(&read("/proc/self/stat")),
            server: server.map_or(0.0, Proc::cpu_secs),
            at: Some(Instant::now()),
        }
    }

    /// What was spent since `before`, as JSON; and the machine's seconds.
    fn since(&self, before: &CpuMark) -> (f64, Value) {
        let machine = self.machine - before.machine;
        let own = (self.bench - before.bench) + (self.server - before.server);
        let window = match (self.at, before.at) {
            (Some(a), Some(b)) => a.duration_since(b).as_secs_f64(),
            _ => 0.0,
        };
        let r2 = |x: f64| (x * 1000.0).round() / 1000.0;
        (
            machine,
            json!({
                "window_s": r2(window),
                "machine_s": r2(machine),
                "irq_softirq_s": r2(self.irq - before.irq),
                "client_process_s": r2(self.bench - before.bench),
                "server_process_s": r2(self.server - before.server),
                "processes_plus_irq_s": r2(own + self.irq - before.irq),
            }),
        )
    }
}

/// Adds the CPU-cost sample of `m` (machine CPU-seconds per `per` units
/// moved: GiB for throughput, 1,000 for connections) for `who`, when `m`
/// has a CPU row.
fn add_cpu(res: &mut Results, m: Measure, who: &str, cpu: (f64, Value), units: f64) {
    let (Some(cm), Some(om)) = (cpu_measure(m.key), own_cpu_measure(m.key)) else {
        return;
    };
    if units <= 0.0 {
        return;
    }
    let (machine, mut detail) = cpu;
    detail["units"] = json!(units);
    detail["unit"] = json!(cm.unit);
    let own = detail["processes_plus_irq_s"].as_f64().unwrap_or(0.0);
    res.add(cm, who, ok(machine / units, detail.clone()));
    res.add(om, who, ok(own / units, detail));
}

fn raise_nofile(n: u64) {
    let lim = libc::rlimit {
        rlim_cur: n,
        rlim_max: n,
    };
    // SAFETY: getrlimit/setrlimit with valid structs.
    unsafe {
        if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) == 0 {
            return;
        }
        // Without CAP_SYS_RESOURCE: as far as the hard limit goes.
        let mut cur = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut cur);
        cur.rlim_cur = cur.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &cur);
        if cur.rlim_cur < 12_000 {
            eprintln!("bench-e2e: warning: at most {} open files (ulimit -n): the memory test may not reach its connections", cur.rlim_cur);
        }
    }
}

// ---------------------------------------------------------------- servers

const PORT_OURS: u16 = 5001;
const PORT_SMOLTCP: u16 = 5002;
const PORT_KERNEL: u16 = 5003;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Ours {
        workers: u16,
    },
    /// The kernel sink: one thread, one epoll loop.
    Kernel,
    /// The kernel sink with one `SO_REUSEPORT` listener and epoll loop per
    /// CPU (`--threads <nproc>`).
    KernelReuseport,
    /// The kernel sink busy-polling: one thread, `epoll_wait` that never
    /// sleeps (`--busy`), for the latency rows.
    KernelBusy,
    /// smoltcp with its AF_PACKET queue raised to 8 MiB (`shipped`: as is).
    Smoltcp {
        shipped: bool,
    },
}

impl Who {
    fn name(self) -> String {
        match self {
            Who::Ours { workers: 1 } => "ours".into(),
            Who::Ours { workers } => format!("ours-w{workers}"),
            Who::Kernel => "kernel".into(),
            Who::KernelReuseport => "kernel-reuseport".into(),
            Who::KernelBusy => "kernel-busypoll".into(),
            Who::Smoltcp { shipped: false } => "smoltcp".into(),
            Who::Smoltcp { shipped: true } => "smoltcp-shipped".into(),
        }
    }

    fn is_kernel(self) -> bool {
        matches!(self, Who::Kernel | Who::KernelReuseport | Who::KernelBusy)
    }
}

/// The kernel variants, as named in the results: the column `kernel` of a
/// row shows the best of those that ran in it.
const KERNELS: [&str; 3] = ["kernel", "kernel-reuseport", "kernel-busypoll"];

/// How the table names a kernel variant.
fn kernel_variant_label(name: &str) -> String {
    match name {
        "kernel" => "1 thread, epoll".into(),
        "kernel-reuseport" => format!("reuseport, {} loops", nproc()),
        "kernel-busypoll" => "busy-poll, 1 thread".into(),
        other => other.into(),
    }
}

fn nproc() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

/// The path of a row: the veth pair over IPv4 (every row but two), the
/// same veth pair over IPv6, or TUN devices (see [`TunNet`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Via {
    Veth4,
    Veth6,
    Tun,
}

/// The TUN row's two namespaces (subnet 198.19.`subnet`.0/24, in the
/// benchmarking range 198.18.0.0/15): `client`, where the clients run and
/// own 198.19.`subnet`.2 (on `lo`), and `server`, where the kernel sink
/// runs and owns 198.19.`subnet`.30 (on `lo`). Ours runs in `client` on a
/// TUN device of its own (`--tun e2eours --ip 198.19.subnet.10`, routed
/// there by the server itself); the kernel sink is reached through
/// `e2e-tun-relay`, which copies packets between TUN device `e2ek0` in
/// `client` (the route to .30) and `e2ek1` in `server` (the route back to
/// .2). Removed on drop, with the devices in them.
struct TunNet {
    client: TestNs,
    server: TestNs,
    subnet: u8,
}

impl TunNet {
    fn new(subnet: u8) -> Result<TunNet, String> {
        let client = TestNs::new("e2etc").map_err(|e| e.to_string())?;
        let server = TestNs::new("e2ets").map_err(|e| e.to_string())?;
        let t = TunNet {
            client,
            server,
            subnet,
        };
        for (ns, host) in [(&t.client.name, 2), (&t.server.name, 30)] {
            // IPv4 only: no router solicitations or MLD reports into the
            // TUN devices (best effort, as TestNet does).
            let _ = netns::run(&mut netns::exec(
                ns,
                [
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            ));
            let cidr = format!("198.19.{subnet}.{host}/32");
            netns::run(&mut netns::exec(
                ns,
                ["ip", "addr", "add", cidr.as_str(), "dev", "lo"],
            ))
            .map_err(|e| e.to_string())?;
        }
        Ok(t)
    }

    fn ip(&self, host: u8) -> std::net::Ipv4Addr {
        std::net::Ipv4Addr::new(198, 19, self.subnet, host)
    }
}

struct Ctx<'a> {
    net: &'a TestNet,
    /// The TUN row's namespaces (when that part runs).
    tun: Option<&'a TunNet>,
    opts: &'a Opts,
    subnet: u8,
    /// The server has `--max-per-source` (a per-address connection limit).
    per_source_flag: bool,
    /// The server takes `--install-ingress-rule`.
    ingress_flag: bool,
    /// Its rule covers IPv6 too (servers since issue #17's shared-address
    /// work); for an older one the bench installs the IPv6 rule itself.
    ingress6_flag: bool,
}

impl Ctx<'_> {
    fn addr(&self, who: Who) -> SocketAddrV4 {
        let ip = |h| std::net::Ipv4Addr::new(198, 18, self.subnet, h);
        match who {
            Who::Ours { .. } => SocketAddrV4::new(ip(10), PORT_OURS),
            Who::Smoltcp { .. } => SocketAddrV4::new(ip(11), PORT_SMOLTCP),
            Who::Kernel | Who::KernelReuseport | Who::KernelBusy => {
                SocketAddrV4::new(self.net.addr_a, PORT_KERNEL)
            }
        }
    }

    /// The address of `who` on path `via`. IPv6: ours
    /// `2001:2:0:<subnet>::10`, the kernel `2001:2:0:<subnet>::1` (the
    /// client is `::2`). TUN: see [`TunNet`].
    fn sockaddr(&self, who: Who, via: Via) -> SocketAddr {
        let s = self.subnet;
        match (via, who) {
            (Via::Veth4, _) => SocketAddr::V4(self.addr(who)),
            (Via::Veth6, Who::Ours { .. }) => SocketAddr::new(v6(s, 0x10).into(), PORT_OURS),
            (Via::Veth6, _) => SocketAddr::new(v6(s, 1).into(), PORT_KERNEL),
            (Via::Tun, Who::Ours { .. }) => {
                SocketAddr::new(std::net::Ipv4Addr::new(198, 19, s, 10).into(), PORT_OURS)
            }
            (Via::Tun, _) => {
                SocketAddr::new(std::net::Ipv4Addr::new(198, 19, s, 30).into(), PORT_KERNEL)
            }
        }
    }

    /// The namespace the clients of path `via` run in.
    fn client_ns(&self, via: Via) -> &str {
        match (via, self.tun) {
            (Via::Tun, Some(t)) => &t.client.name,
            _ => &self.net.ns_b,
        }
    }

    /// Starts `who` in namespace a in `mode` (discard or echo) and waits
    /// (at most 10 s) until it says it listens.
    fn start(&self, who: Who, mode: &str, max_conns: u32) -> Result<Proc, String> {
        self.start_with(who, mode, max_conns, &[])
    }

    /// [`Ctx::start`] with `extra` arguments after the usual ones.
    fn start_with(
        &self,
        who: Who,
        mode: &str,
        max_conns: u32,
        extra: &[&str],
    ) -> Result<Proc, String> {
        self.start_via(who, Via::Veth4, mode, max_conns, extra)
    }

    /// [`Ctx::start_with`] on path `via`. IPv6: as IPv4, on the IPv6
    /// address. TUN: ours on a TUN device in the TUN client namespace; the
    /// kernel sink in the TUN server namespace, behind `e2e-tun-relay`
    /// (started first, stopped with it).
    fn start_via(
        &self,
        who: Who,
        via: Via,
        mode: &str,
        max_conns: u32,
        extra: &[&str],
    ) -> Result<Proc, String> {
        let a = self.sockaddr(who, via);
        let mut ns = self.net.ns_a.clone();
        let mut companion = None;
        if via == Via::Tun {
            let t = self.tun.ok_or("no TUN namespaces")?;
            if who.is_kernel() {
                ns = t.server.name.clone();
                let relay = vec![
                    "--ns-a".to_string(),
                    t.client.name.clone(),
                    "--dev-a".into(),
                    "e2ek0".into(),
                    "--route-a".into(),
                    format!("{}/32", t.ip(30)),
                    "--ns-b".into(),
                    t.server.name.clone(),
                    "--dev-b".into(),
                    "e2ek1".into(),
                    "--route-b".into(),
                    format!("{}/32", t.ip(2)),
                    "--threads".into(),
                    self.opts.relay_threads.to_string(),
                ];
                // The relay enters the namespaces itself.
                let mut cmd = Command::new(self.opts.sinks_dir.join("e2e-tun-relay"));
                cmd.args(relay);
                companion = Some(Box::new(spawn_proc(cmd, "ready", "tun-relay")?));
            } else {
                ns = t.client.name.clone();
            }
        }
        let (prog, args, marker): (PathBuf, Vec<String>, &str) = match who {
            Who::Ours { workers } => {
                let mut v = if via == Via::Tun {
                    vec!["--tun".into(), "e2eours".into()]
                } else {
                    vec!["-i".into(), self.net.if_a.clone()]
                };
                v.extend([
                    "--ip".into(),
                    a.ip().to_string(),
                    "-p".into(),
                    a.port().to_string(),
                    "--mode".into(),
                    mode.into(),
                    "--max-conns".into(),
                    max_conns.to_string(),
                    "--color".into(),
                    "never".into(),
                ]);
                if workers > 1 {
                    v.extend(["--workers".into(), workers.to_string()]);
                }
                // The memory test's connections all come from one address.
                if max_conns > 1024 && self.per_source_flag {
                    v.extend(["--max-per-source".into(), "0".into()]);
                } else if !self.opts.server_args.iter().any(|a| a == "--rx-buf") {
                    // The same 1 MiB receive window as the smoltcp sink's
                    // buffers (the kernel autotunes to several MiB).
                    v.extend(["--rx-buf".into(), "1M".into()]);
                }
                if self.ingress_flag
                    && (via == Via::Veth4 || self.ingress6_flag && via == Via::Veth6)
                {
                    // The kernel's IP stack spends nothing on our frames
                    // (the smoltcp sink gets the same rule, see main).
                    v.push("--install-ingress-rule".into());
                }
                v.extend(self.opts.server_args.iter().cloned());
                (self.opts.server.clone(), v, "listening on")
            }
            Who::Kernel | Who::KernelReuseport | Who::KernelBusy => {
                let mut v: Vec<String> = vec![
                    "--addr".into(),
                    a.ip().to_string(),
                    "--port".into(),
                    a.port().to_string(),
                    "--mode".into(),
                    mode.into(),
                ];
                match who {
                    Who::KernelReuseport => v.extend(["--threads".into(), nproc().to_string()]),
                    Who::KernelBusy => v.push("--busy".into()),
                    _ => {}
                }
                (self.opts.sinks_dir.join("e2e-kernel-sink"), v, "ready")
            }
            Who::Smoltcp { shipped } => (
                self.opts.sinks_dir.join("e2e-smoltcp-sink"),
                vec![
                    "--iface".into(),
                    self.net.if_a.clone(),
                    "--addr".into(),
                    a.ip().to_string(),
                    "--port".into(),
                    a.port().to_string(),
                    "--mode".into(),
                    mode.into(),
                    "--rcvbuf".into(),
                    if shipped {
                        "0".into()
                    } else {
                        (8 << 20).to_string()
                    },
                ],
                "ready",
            ),
        };
        let mut args = args;
        args.extend(extra.iter().map(|x| x.to_string()));
        let cmd = netns::exec(
            &ns,
            std::iter::once(prog.into_os_string()).chain(args.into_iter().map(Into::into)),
        );
        let mut p = spawn_proc(cmd, marker, &who.name())?;
        p.companion = companion;
        Ok(p)
    }
}

/// `ip -6` address `2001:2:0:<subnet>::<host>` (the subnet's decimal
/// digits read as hex, as the tests write them).
fn v6(subnet: u8, host: u16) -> std::net::Ipv6Addr {
    let hi = u16::from_str_radix(&subnet.to_string(), 16).unwrap_or(0);
    std::net::Ipv6Addr::new(0x2001, 2, 0, hi, 0, 0, 0, host)
}

/// Starts `cmd` with its stderr captured and waits (at most 10 s) until it
/// writes `marker` there.
fn spawn_proc(mut cmd: Command, marker: &'static str, name: &str) -> Result<Proc, String> {
    {
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start {name}: {e}"))?;
        let pid = child.id() as i32;
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let mut err = child.stderr.take().expect("piped");
        let log2 = Arc::clone(&log);
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            let mut said = false;
            loop {
                match err.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        let mut l = log2.lock().unwrap();
                        l.push_str(&String::from_utf8_lossy(&buf[..k]));
                        if !said && l.contains(marker) {
                            said = true;
                            let _ = tx.send(());
                        }
                    }
                }
            }
        });
        let mut p = Proc {
            child,
            pid,
            log,
            reader: Some(reader),
            done: false,
            companion: None,
        };
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(()) => Ok(p),
            Err(_) => {
                let text = p.stop();
                Err(format!(
                    "{name} did not start: {}",
                    text.trim().replace('\n', "; ")
                ))
            }
        }
    }
}

/// A server process in namespace a; killed on drop if still running.
struct Proc {
    child: Child,
    pid: i32,
    log: Arc<Mutex<String>>,
    reader: Option<std::thread::JoinHandle<()>>,
    done: bool,
    /// A process that runs with it and stops after it (the TUN relay).
    companion: Option<Box<Proc>>,
}

impl Proc {
    fn status_kb(&self, key: &str) -> u64 {
        read(&format!("/proc/{}/status", self.pid))
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// User + system CPU seconds so far (with its companion's).
    fn cpu_secs(&self) -> f64 {
        stat_cpu_secs(&read(&format!("/proc/{}/stat", self.pid)))
            + self.companion.as_ref().map_or(0.0, |c| c.cpu_secs())
    }

    /// SIGTERM, then (after 5 s) SIGKILL; returns everything it wrote on
    /// stderr (its exit summary included).
    fn stop(&mut self) -> String {
        if !self.done {
            self.done = true;
            // SAFETY: signals a child of ours, by pid.
            unsafe { libc::kill(self.pid, libc::SIGTERM) };
            let t0 = Instant::now();
            loop {
                match self.child.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if t0.elapsed() > Duration::from_secs(5) => {
                        let _ = self.child.kill();
                        let _ = self.child.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
            if let Some(r) = self.reader.take() {
                let _ = r.join();
            }
        }
        let mut text = self.log.lock().unwrap().clone();
        if let Some(c) = self.companion.as_mut() {
            text += &c.stop();
        }
        text
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if !self.done {
            let _ = self.child.kill();
            let _ = self.child.wait();
            self.done = true;
        }
    }
}

/// Numbers in a line, in order.
fn numbers(s: &str) -> Vec<u64> {
    s.split(|c: char| !c.is_ascii_digit())
        .filter(|w| !w.is_empty())
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// What the server said on the way out, as JSON: tcp-server's summary
/// parsed into counters; the sinks' counter line.
fn exit_report(who: Who, text: &str) -> Value {
    match who {
        Who::Ours { .. } => {
            let Some(start) = text.find("tcp-server: summary after") else {
                return json!({ "summary": "missing", "stderr_tail": tail(text) });
            };
            let mut m = serde_json::Map::new();
            for line in text[start..].lines().take(16) {
                let t = line.trim_start();
                let n = numbers(t);
                let mut put = |k: &str, i: usize| {
                    if let Some(v) = n.get(i) {
                        m.insert(k.into(), json!(v));
                    }
                };
                if t.starts_with("connections") {
                    put("established", 0);
                    put("closed_normal", 1);
                    put("closed_reset", 2);
                    put("timed_out", 3);
                    put("aborted", 4);
                } else if t.starts_with("payload") {
                    put("payload_bytes", 0);
                } else if t.starts_with("frames") {
                    put("rx_frames", 0);
                    put("tx_frames", 1);
                    put("retransmissions", 2);
                    put("resets_to_unknown", 3);
                } else if let Some(r) = t.strip_prefix("dropped") {
                    m.insert("dropped".into(), json!(r.trim()));
                } else if t.starts_with("socket") {
                    put("ring_drops", 0);
                    put("truncated", 1);
                    put("not_sent", 2);
                } else if t.starts_with("timeouts") {
                    put("timeouts", 0);
                } else if t.starts_with("spurious") {
                    put("spurious_retransmissions", 0);
                    put("undos", 1);
                } else if t.starts_with("open") {
                    put("open", 0);
                } else if t.starts_with("worker") {
                    m.entry("workers")
                        .or_insert_with(|| json!([]))
                        .as_array_mut()
                        .unwrap()
                        .push(json!(t));
                }
            }
            let warn: Vec<&str> = text
                .lines()
                .filter(|l| {
                    (l.contains("warning") || l.contains("error")) && !l.contains("signal received")
                })
                .take(5)
                .collect();
            if !warn.is_empty() {
                m.insert("warnings".into(), json!(warn));
            }
            Value::Object(m)
        }
        Who::Kernel | Who::KernelReuseport | Who::KernelBusy | Who::Smoltcp { .. } => {
            let line = text
                .lines()
                .rev()
                .find(|l| l.contains("connections,"))
                .unwrap_or("");
            let n = numbers(line);
            json!({
                "connections": n.first(),
                "payload_bytes": n.get(1),
                "open": if who.is_kernel() { n.get(2).copied() } else { None },
            })
        }
    }
}

fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(6)..].join("; ")
}

// ---------------------------------------------------------------- clients

fn connect(to: impl Into<SocketAddr>, io: Duration) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&to.into(), Duration::from_secs(3))?;
    s.set_read_timeout(Some(io))?;
    s.set_write_timeout(Some(io))?;
    Ok(s)
}

/// Reads to the peer's FIN; the number of bytes.
fn drain(s: &mut TcpStream) -> std::io::Result<u64> {
    let mut buf = [0u8; 4096];
    let mut n = 0;
    for _ in 0..1_000_000 {
        match s.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => n += k as u64,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("no end"))
}

/// Threads in namespace b, each running `f(i)`; their results in order.
fn in_b<T: Send + 'static>(
    net: &TestNet,
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, String> {
    in_ns(&net.ns_b, n, f)
}

/// Threads in namespace `ns`, each running `f(i)`; their results in order.
fn in_ns<T: Send + 'static>(
    ns: &str,
    n: usize,
    f: impl Fn(usize) -> T + Send + Sync + 'static,
) -> Result<Vec<T>, String> {
    let f = Arc::new(f);
    let mut hs = Vec::new();
    for i in 0..n {
        let f = Arc::clone(&f);
        hs.push(netns::spawn_in_ns(ns, move || f(i)).map_err(|e| e.to_string())?);
    }
    hs.into_iter()
        .map(|h| match h.join() {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("client thread panicked".into()),
        })
        .collect()
}

/// `parallel` connections each upload `total / parallel` bytes, shut down
/// their side and wait for the server's FIN. The wall time of all, or why
/// it failed (a connection that makes no progress for 5 s, or the whole
/// taking longer than `limit`).
fn upload(
    ns: &str,
    to: SocketAddr,
    total: u64,
    parallel: usize,
    limit: Duration,
) -> Result<f64, String> {
    let each = total / parallel as u64;
    let t0 = Instant::now();
    let res = in_ns(ns, parallel, move |i| -> Result<f64, String> {
        let mut s = connect(to, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
        let mut chunk = vec![0u8; 1 << 20];
        for (j, b) in chunk.iter_mut().enumerate() {
            *b = (j * 7 + i) as u8;
        }
        let mut left = each;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            s.write_all(&chunk[..n])
                .map_err(|e| format!("stalled after {} MiB: {e}", (each - left) >> 20))?;
            left -= n as u64;
            if t0.elapsed() > limit {
                return Err(format!(
                    "over the {} s limit after {} MiB",
                    limit.as_secs(),
                    (each - left) >> 20
                ));
            }
        }
        s.shutdown(Shutdown::Write)
            .map_err(|e| format!("shutdown: {e}"))?;
        let back = drain(&mut s).map_err(|e| format!("waiting for the FIN: {e}"))?;
        if back != 0 {
            return Err(format!("{back} bytes came back"));
        }
        Ok(t0.elapsed().as_secs_f64())
    })?;
    let mut wall: f64 = 0.0;
    for r in res {
        wall = wall.max(r?);
    }
    Ok(wall)
}

struct Rate {
    ok: u64,
    errors: u64,
    secs: f64,
    first_error: Option<String>,
}

/// `n` connections (connect, 16 bytes, close, wait for the server's FIN)
/// from `conc` threads; at most `limit`.
fn connrate(
    net: &TestNet,
    to: SocketAddrV4,
    n: usize,
    conc: usize,
    limit: Duration,
) -> Result<Rate, String> {
    let per = n / conc;
    let t0 = Instant::now();
    let res = in_b(net, conc, move |_| {
        let (mut ok, mut errors, mut first) = (0u64, 0u64, None);
        for _ in 0..per {
            if t0.elapsed() > limit || errors >= 20 {
                break;
            }
            let r = (|| -> std::io::Result<()> {
                let mut s = connect(to, Duration::from_secs(2))?;
                s.write_all(b"0123456789abcdef")?;
                s.shutdown(Shutdown::Write)?;
                drain(&mut s)?;
                Ok(())
            })();
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    errors += 1;
                    first.get_or_insert_with(|| e.to_string());
                }
            }
        }
        (ok, errors, first, t0.elapsed().as_secs_f64())
    })?;
    let mut r = Rate {
        ok: 0,
        errors: 0,
        secs: 0.0,
        first_error: None,
    };
    for (ok, e, f, s) in res {
        r.ok += ok;
        r.errors += e;
        r.secs = r.secs.max(s);
        if r.first_error.is_none() {
            r.first_error = f;
        }
    }
    Ok(r)
}

/// Ping-pong of 64-byte messages on one connection: `n` round trips (after
/// 200 for warm-up) in nanoseconds, sorted; at most `limit`.
fn echo(net: &TestNet, to: SocketAddrV4, n: usize, limit: Duration) -> Result<Vec<u64>, String> {
    let mut r = in_b(net, 1, move |_| -> Result<Vec<u64>, String> {
        let mut s = connect(to, Duration::from_secs(2)).map_err(|e| format!("connect: {e}"))?;
        s.set_nodelay(true).map_err(|e| e.to_string())?;
        let mut msg = [0u8; 64];
        let mut back = [0u8; 64];
        let mut rtt = Vec::with_capacity(n);
        let t0 = Instant::now();
        for i in 0..n + 200 {
            msg[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let t = Instant::now();
            s.write_all(&msg).map_err(|e| format!("write: {e}"))?;
            s.read_exact(&mut back)
                .map_err(|e| format!("read after {i} round trips: {e}"))?;
            let d = t.elapsed().as_nanos() as u64;
            if back != msg {
                return Err("echo differs".into());
            }
            if i >= 200 {
                rtt.push(d);
            }
            if t0.elapsed() > limit {
                return Err(format!(
                    "over the {} s limit after {i} round trips",
                    limit.as_secs()
                ));
            }
        }
        let _ = s.shutdown(Shutdown::Write);
        let _ = drain(&mut s);
        rtt.sort_unstable();
        Ok(rtt)
    })?;
    r.pop().unwrap()
}

/// A streaming hash of a byte sequence (xxh64's round on four lanes): the
/// same for the same bytes however they were cut into pieces; fast enough
/// (several GB/s) not to hold back the reader of the echo stream.
struct StreamHash {
    acc: [u64; 4],
    tail: [u8; 32],
    ntail: usize,
    len: u64,
}

const H_P1: u64 = 0x9E37_79B1_85EB_CA87;
const H_P2: u64 = 0xC2B2_AE3D_27D4_EB4F;

impl StreamHash {
    fn new() -> Self {
        StreamHash {
            acc: [H_P1, H_P2, !H_P1, !H_P2],
            tail: [0; 32],
            ntail: 0,
            len: 0,
        }
    }

    fn block(acc: &mut [u64; 4], b: &[u8]) {
        for (i, a) in acc.iter_mut().enumerate() {
            let w = u64::from_le_bytes(b[i * 8..i * 8 + 8].try_into().unwrap());
            *a = a
                .wrapping_add(w.wrapping_mul(H_P2))
                .rotate_left(31)
                .wrapping_mul(H_P1);
        }
    }

    fn update(&mut self, mut d: &[u8]) {
        self.len += d.len() as u64;
        if self.ntail > 0 {
            let k = (32 - self.ntail).min(d.len());
            self.tail[self.ntail..self.ntail + k].copy_from_slice(&d[..k]);
            self.ntail += k;
            d = &d[k..];
            if self.ntail < 32 {
                return;
            }
            let t = self.tail;
            Self::block(&mut self.acc, &t);
            self.ntail = 0;
        }
        let mut blocks = d.chunks_exact(32);
        for b in &mut blocks {
            Self::block(&mut self.acc, b);
        }
        let r = blocks.remainder();
        self.tail[..r.len()].copy_from_slice(r);
        self.ntail = r.len();
    }

    fn finish(&self) -> u64 {
        let mut acc = self.acc;
        if self.ntail > 0 {
            let mut t = [0u8; 32];
            t[..self.ntail].copy_from_slice(&self.tail[..self.ntail]);
            Self::block(&mut acc, &t);
        }
        let mut h = self.len.wrapping_mul(H_P1);
        for a in acc {
            h = (h ^ a).wrapping_mul(H_P2).rotate_left(27);
        }
        h ^ (h >> 29)
    }
}

/// What one echo throughput run measured.
struct Streamed {
    /// Connect to the last byte read.
    secs: f64,
    /// Connect to the last byte written.
    write_secs: f64,
    sent_hash: u64,
    back_hash: u64,
    /// Bytes read after the `total` expected (none, from a correct server).
    extra_bytes: u64,
    /// Whether the server's FIN came within 2 s of the last byte.
    fin: bool,
}

/// One connection to an echo server: `total` bytes written on this thread
/// (1 MiB writes of a fixed pseudo-random stream whose period, 65521, is
/// no power of two), read back on another; both hashed. At most `limit`
/// (and 5 s without progress on either side): then, or on any error, the
/// socket is shut down both ways so the other thread stops too.
fn echo_stream(
    net: &TestNet,
    to: SocketAddrV4,
    total: u64,
    limit: Duration,
) -> Result<Streamed, String> {
    const CHUNK: usize = 1 << 20;
    const PERIOD: u64 = 65_521;
    let mut r = in_b(net, 1, move |_| -> Result<Streamed, String> {
        let mut pat = vec![0u8; CHUNK + PERIOD as usize];
        let mut x: u64 = 0x2545_F491_4F6C_DD1D;
        for b in pat.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        let t0 = Instant::now();
        let mut s = connect(to, Duration::from_secs(5)).map_err(|e| format!("connect: {e}"))?;
        let mut rd = s.try_clone().map_err(|e| format!("clone: {e}"))?;
        // The first side to fail says why; it shuts the socket both ways,
        // which stops the other side too.
        let first: Arc<Mutex<Option<String>>> = Arc::default();
        let first2 = Arc::clone(&first);
        let reader = std::thread::spawn(move || -> Result<(f64, u64, u64, bool), ()> {
            let mut buf = vec![0u8; CHUNK];
            let mut h = StreamHash::new();
            let mut got = 0u64;
            let fail = |rd: &TcpStream, e: String| {
                first2.lock().unwrap().get_or_insert(e);
                let _ = rd.shutdown(Shutdown::Both);
                Err(())
            };
            // Bounded: every pass reads at least a byte, or ends.
            while got < total {
                match rd.read(&mut buf) {
                    Ok(0) => {
                        return fail(
                            &rd,
                            format!("the server closed after {got} of {total} bytes echoed"),
                        )
                    }
                    Ok(k) => {
                        h.update(&buf[..k]);
                        got += k as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(e) => {
                        return fail(&rd, format!("read after {} MiB echoed: {e}", got >> 20))
                    }
                }
                if t0.elapsed() > limit {
                    return fail(
                        &rd,
                        format!(
                            "over the {} s limit after {} MiB echoed",
                            limit.as_secs(),
                            got >> 20
                        ),
                    );
                }
            }
            let secs = t0.elapsed().as_secs_f64();
            // Anything beyond `total` (already in the last read, or after
            // it) up to the server's FIN.
            let mut extra = got - total;
            let _ = rd.set_read_timeout(Some(Duration::from_secs(2)));
            let mut fin = false;
            for _ in 0..1000 {
                match rd.read(&mut buf) {
                    Ok(0) => {
                        fin = true;
                        break;
                    }
                    Ok(k) => {
                        h.update(&buf[..k]);
                        extra += k as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
            Ok((secs, h.finish(), extra, fin))
        });
        let mut h = StreamHash::new();
        let mut sent = 0u64;
        let mut werr = None;
        let fail = |e: String| first.lock().unwrap().get_or_insert(e).clone();
        // Bounded: every pass writes up to 1 MiB of `total`, or ends.
        while sent < total {
            let off = (sent % PERIOD) as usize;
            let n = (total - sent).min(CHUNK as u64) as usize;
            let piece = &pat[off..off + n];
            if let Err(e) = s.write_all(piece) {
                werr = Some(fail(format!("write stalled after {} MiB: {e}", sent >> 20)));
                break;
            }
            h.update(piece);
            sent += n as u64;
            if t0.elapsed() > limit {
                werr = Some(fail(format!(
                    "over the {} s limit after {} MiB written",
                    limit.as_secs(),
                    sent >> 20
                )));
                break;
            }
        }
        let write_secs = t0.elapsed().as_secs_f64();
        if werr.is_some() {
            let _ = s.shutdown(Shutdown::Both);
        } else {
            let _ = s.shutdown(Shutdown::Write);
        }
        let back = reader
            .join()
            .map_err(|_| "reader thread panicked".to_string())?;
        let (secs, back_hash, extra_bytes, fin) = match back {
            Ok(v) if werr.is_none() => v,
            _ => {
                let e = first.lock().unwrap().take();
                return Err(e.unwrap_or_else(|| "failed".into()));
            }
        };
        Ok(Streamed {
            secs,
            write_secs,
            sent_hash: h.finish(),
            back_hash,
            extra_bytes,
            fin,
        })
    })?;
    r.pop().unwrap()
}

fn pct(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)] as f64
}

// ---------------------------------------------------------------- results

/// One run of one contender on one measure.
#[derive(Clone)]
struct Sample {
    value: Option<f64>,
    note: Option<String>,
    extra: Value,
}

#[derive(Clone, Copy)]
struct Measure {
    key: &'static str,
    label: &'static str,
    unit: &'static str,
    higher_better: bool,
}

const M_UP_OFF: Measure = Measure {
    key: "upload_offloads_off",
    label: "upload, offloads off",
    unit: "Gbit/s",
    higher_better: true,
};
const M_UP_ON: Measure = Measure {
    key: "upload_offloads_on",
    label: "upload, offloads on",
    unit: "Gbit/s",
    higher_better: true,
};
const M_UP6: Measure = Measure {
    key: "upload_ipv6_offloads_off",
    label: "upload IPv6, offloads off",
    unit: "Gbit/s",
    higher_better: true,
};
const M_UP_TUN: Measure = Measure {
    key: "upload_tun",
    label: "upload over TUN",
    unit: "Gbit/s",
    higher_better: true,
};
const M_ET_OFF: Measure = Measure {
    key: "echo_throughput_offloads_off",
    label: "echo throughput, offloads off",
    unit: "Gbit/s",
    higher_better: true,
};
const M_ET_ON: Measure = Measure {
    key: "echo_throughput_offloads_on",
    label: "echo throughput, offloads on",
    unit: "Gbit/s",
    higher_better: true,
};
const M_CR_SEQ: Measure = Measure {
    key: "connrate_sequential",
    label: "connections, sequential",
    unit: "conn/s",
    higher_better: true,
};
const M_CR_8: Measure = Measure {
    key: "connrate_8_clients",
    label: "connections, 8 clients",
    unit: "conn/s",
    higher_better: true,
};
const M_ECHO50: Measure = Measure {
    key: "echo_rtt_p50",
    label: "echo 64 B RTT p50",
    unit: "us",
    higher_better: false,
};
const M_ECHO99: Measure = Measure {
    key: "echo_rtt_p99",
    label: "echo 64 B RTT p99",
    unit: "us",
    higher_better: false,
};
const M_RSS_IDLE: Measure = Measure {
    key: "rss_idle",
    label: "server RSS idle",
    unit: "MiB",
    higher_better: false,
};
const M_RSS_DEFAULT: Measure = Measure {
    key: "rss_idle_default",
    label: "server RSS idle, --max-conns 1024",
    unit: "MiB",
    higher_better: false,
};
const M_RSS_10K: Measure = Measure {
    key: "rss_idle_conns",
    label: "server RSS, idle conns",
    unit: "MiB",
    higher_better: false,
};
const M_PER_CONN: Measure = Measure {
    key: "bytes_per_conn",
    label: "memory per idle conn",
    unit: "B",
    higher_better: false,
};
const M_ALLIN: Measure = Measure {
    key: "memory_per_conn_all_in",
    label: "memory per idle conn, all-in",
    unit: "B",
    higher_better: false,
};
const M_SC_UP: Measure = Measure {
    key: "scaling_upload_8_conns",
    label: "scaling: upload, 8 conns",
    unit: "Gbit/s",
    higher_better: true,
};
const M_SC_CR: Measure = Measure {
    key: "scaling_connrate_8_clients",
    label: "scaling: conns, 8 clients",
    unit: "conn/s",
    higher_better: true,
};

/// A CPU-cost row (machine CPU-seconds per unit moved; lower is better).
const fn cpu_row(key: &'static str, label: &'static str, unit: &'static str) -> Measure {
    Measure {
        key,
        label,
        unit,
        higher_better: false,
    }
}

const PER_GIB: &str = "CPU-s/GiB";
const PER_KCONN: &str = "CPU-s/1k conn";

/// The rows with CPU-cost rows (throughput and connection rate): the
/// measure's key, the keys of its machine-CPU and own-CPU rows, the unit.
const CPU_ROWS: [(&str, &str, &str, &str); 10] = [
    (
        "upload_offloads_off",
        "upload_offloads_off_cpu",
        "upload_offloads_off_cpu_own",
        PER_GIB,
    ),
    (
        "upload_offloads_on",
        "upload_offloads_on_cpu",
        "upload_offloads_on_cpu_own",
        PER_GIB,
    ),
    (
        "upload_ipv6_offloads_off",
        "upload_ipv6_offloads_off_cpu",
        "upload_ipv6_offloads_off_cpu_own",
        PER_GIB,
    ),
    (
        "upload_tun",
        "upload_tun_cpu",
        "upload_tun_cpu_own",
        PER_GIB,
    ),
    (
        "echo_throughput_offloads_off",
        "echo_throughput_offloads_off_cpu",
        "echo_throughput_offloads_off_cpu_own",
        PER_GIB,
    ),
    (
        "echo_throughput_offloads_on",
        "echo_throughput_offloads_on_cpu",
        "echo_throughput_offloads_on_cpu_own",
        PER_GIB,
    ),
    (
        "connrate_sequential",
        "connrate_sequential_cpu",
        "connrate_sequential_cpu_own",
        PER_KCONN,
    ),
    (
        "connrate_8_clients",
        "connrate_8_clients_cpu",
        "connrate_8_clients_cpu_own",
        PER_KCONN,
    ),
    (
        "scaling_upload_8_conns",
        "scaling_upload_8_conns_cpu",
        "scaling_upload_8_conns_cpu_own",
        PER_GIB,
    ),
    (
        "scaling_connrate_8_clients",
        "scaling_connrate_8_clients_cpu",
        "scaling_connrate_8_clients_cpu_own",
        PER_KCONN,
    ),
];

/// The machine-CPU row of measure `key` (machine CPU-seconds from
/// /proc/stat), if it has one.
fn cpu_measure(key: &str) -> Option<Measure> {
    let r = CPU_ROWS.iter().find(|r| r.0 == key)?;
    let label = if key.starts_with("scaling") {
        "scaling:   machine CPU"
    } else {
        "  machine CPU"
    };
    Some(cpu_row(r.1, label, r.3))
}

/// The own-CPU row of measure `key` (the client's and the server's
/// processes plus the machine's irq and softirq time), if it has one.
fn own_cpu_measure(key: &str) -> Option<Measure> {
    let r = CPU_ROWS.iter().find(|r| r.0 == key)?;
    let label = if key.starts_with("scaling") {
        "scaling:   client+server+irq CPU"
    } else {
        "  client+server+irq CPU"
    };
    Some(cpu_row(r.2, label, r.3))
}

/// The measure whose CPU row `key` is.
fn cpu_parent(key: &str) -> Option<&'static str> {
    CPU_ROWS
        .iter()
        .find(|r| r.1 == key || r.2 == key)
        .map(|r| r.0)
}

#[derive(Default)]
struct Results {
    order: Vec<Measure>,
    data: BTreeMap<&'static str, BTreeMap<String, Vec<Sample>>>,
    notes: Vec<String>,
}

impl Results {
    fn add(&mut self, m: Measure, who: &str, s: Sample) {
        if !self.order.iter().any(|o| o.key == m.key) {
            self.order.push(m);
        }
        let v = match &s.value {
            Some(v) => format!("{v:.3} {}", m.unit),
            None => format!("fails ({})", s.note.as_deref().unwrap_or("?")),
        };
        eprintln!("  {:<30} {:<16} {v}", m.label, who);
        self.data
            .entry(m.key)
            .or_default()
            .entry(who.to_string())
            .or_default()
            .push(s);
    }

    fn stats(&self, key: &str, who: &str) -> Option<(f64, f64, f64, usize, usize)> {
        let runs = self.data.get(key)?.get(who)?;
        let mut v: Vec<f64> = runs.iter().filter_map(|s| s.value).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let med = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        Some((med, v[0], v[v.len() - 1], v.len(), runs.len()))
    }
}

fn ok(value: f64, extra: Value) -> Sample {
    Sample {
        value: Some(value),
        note: None,
        extra,
    }
}

fn fail(note: impl Into<String>, extra: Value) -> Sample {
    Sample {
        value: None,
        note: Some(note.into()),
        extra,
    }
}

// ---------------------------------------------------------------- measures

/// The contenders of a round, the first rotating with the round.
fn rotate(list: &[Who], round: usize) -> Vec<Who> {
    let mut v = list.to_vec();
    let k = round % v.len().max(1);
    v.rotate_left(k);
    v
}

fn run_upload(cx: &Ctx, res: &mut Results, m: Measure, who: Who, parallel: usize) {
    run_upload_via(cx, res, m, who, parallel, Via::Veth4)
}

fn run_upload_via(cx: &Ctx, res: &mut Results, m: Measure, who: Who, parallel: usize, via: Via) {
    let to = cx.sockaddr(who, via);
    let total = cx.opts.upload;
    let mut p = match cx.start_via(who, via, "discard", 1024, &[]) {
        Ok(p) => p,
        Err(e) => return res.add(m, &who.name(), fail(e, Value::Null)),
    };
    // 1 GiB at 150 Mbit/s at least.
    let limit = Duration::from_secs(5 + total / (20 << 20));
    let c0 = CpuMark::now(Some(&p));
    let r = upload(cx.client_ns(via), to, total, parallel, limit);
    let used = CpuMark::now(Some(&p)).since(&c0);
    let cpu = p.cpu_secs();
    let text = p.stop();
    let mut extra = exit_report(who, &text);
    extra["server_cpu_s"] = json!((cpu * 100.0).round() / 100.0);
    extra["bytes"] = json!(total);
    extra["connections"] = json!(parallel);
    if let Some(l) = text.lines().rev().find(|l| l.starts_with("tun-relay:")) {
        // The relay's counters (its CPU is in server_cpu_s).
        extra["relay"] = json!(l);
    }
    match r {
        Ok(secs) => {
            let got = extra.get("payload_bytes").and_then(Value::as_u64);
            if got.is_some_and(|g| g != total) {
                extra["mismatch"] = json!(format!("server counted {} bytes", got.unwrap()));
            }
            extra["secs"] = json!(secs);
            extra["cpu"] = used.1.clone();
            res.add(m, &who.name(), ok(total as f64 * 8.0 / secs / 1e9, extra));
            add_cpu(
                res,
                m,
                &who.name(),
                used,
                total as f64 / (1u64 << 30) as f64,
            );
        }
        Err(e) => res.add(m, &who.name(), fail(e, extra)),
    }
}

fn run_connrate(cx: &Ctx, res: &mut Results, who: Who, measures: &[(Measure, usize)]) {
    let to = cx.addr(who);
    let n = cx.opts.conns;
    let mut p = match cx.start(who, "discard", 1024) {
        Ok(p) => p,
        Err(e) => {
            for (m, _) in measures {
                res.add(*m, &who.name(), fail(e.clone(), Value::Null));
            }
            return;
        }
    };
    let mut out = Vec::new();
    for &(m, conc) in measures {
        let c0 = CpuMark::now(Some(&p));
        let r = connrate(cx.net, to, n, conc, Duration::from_secs(60));
        let used = CpuMark::now(Some(&p)).since(&c0);
        out.push((m, conc, r, used));
        std::thread::sleep(Duration::from_millis(100));
    }
    let cpu = p.cpu_secs();
    let text = p.stop();
    let report = exit_report(who, &text);
    for (m, conc, r, used) in out {
        let mut extra = json!({ "clients": conc, "server": report.clone(), "server_cpu_s_both": (cpu * 100.0).round() / 100.0 });
        match r {
            Ok(r) => {
                extra["completed"] = json!(r.ok);
                extra["errors"] = json!(r.errors);
                extra["secs"] = json!(r.secs);
                if let Some(e) = &r.first_error {
                    extra["first_error"] = json!(e);
                }
                if r.ok * 100 < (n as u64) * 99 {
                    let e = r.first_error.clone().unwrap_or_default();
                    res.add(
                        m,
                        &who.name(),
                        fail(format!("{} of {n} completed: {e}", r.ok), extra),
                    );
                } else {
                    extra["cpu"] = used.1.clone();
                    res.add(m, &who.name(), ok(r.ok as f64 / r.secs, extra));
                    add_cpu(res, m, &who.name(), used, r.ok as f64 / 1000.0);
                }
            }
            Err(e) => res.add(m, &who.name(), fail(e, extra)),
        }
    }
}

fn run_echo(cx: &Ctx, res: &mut Results, who: Who) {
    let to = cx.addr(who);
    let mut p = match cx.start(who, "echo", 1024) {
        Ok(p) => p,
        Err(e) => {
            res.add(M_ECHO50, &who.name(), fail(e.clone(), Value::Null));
            return res.add(M_ECHO99, &who.name(), fail(e, Value::Null));
        }
    };
    let r = echo(cx.net, to, cx.opts.echo_trips, Duration::from_secs(90));
    let text = p.stop();
    let mut extra = exit_report(who, &text);
    match r {
        Ok(v) => {
            let us = |p| (pct(&v, p) / 10.0).round() / 100.0;
            let mean = v.iter().sum::<u64>() as f64 / v.len().max(1) as f64 / 1000.0;
            extra["round_trips"] = json!(v.len());
            extra["p50_us"] = json!(us(0.5));
            extra["p90_us"] = json!(us(0.9));
            extra["p99_us"] = json!(us(0.99));
            extra["p999_us"] = json!(us(0.999));
            extra["max_us"] = json!(us(1.0));
            extra["mean_us"] = json!((mean * 100.0).round() / 100.0);
            res.add(M_ECHO50, &who.name(), ok(us(0.5), extra.clone()));
            res.add(M_ECHO99, &who.name(), ok(us(0.99), extra));
        }
        Err(e) => {
            res.add(M_ECHO50, &who.name(), fail(e.clone(), extra.clone()));
            res.add(M_ECHO99, &who.name(), fail(e, extra));
        }
    }
}

/// Echo throughput: `echo_bytes` through one connection and back. Ours
/// with 1 MiB receive and send buffers, smoltcp with 1 MiB ones (its sink
/// has 64 KiB of send buffer otherwise), the kernel autotuning.
fn run_echotput(cx: &Ctx, res: &mut Results, m: Measure, who: Who) {
    let to = cx.addr(who);
    let total = cx.opts.echo_bytes;
    let extra_args: &[&str] = match who {
        Who::Ours { .. } => &["--tx-buf", "1M"],
        Who::Smoltcp { .. } => &["--tx", "1048576"],
        Who::Kernel | Who::KernelReuseport | Who::KernelBusy => &[],
    };
    let mut p = match cx.start_with(who, "echo", 16, extra_args) {
        Ok(p) => p,
        Err(e) => return res.add(m, &who.name(), fail(e, Value::Null)),
    };
    // 10 s, and 80 Mbit/s at least.
    let limit = Duration::from_secs(10 + total / (10 << 20));
    let c0 = CpuMark::now(Some(&p));
    let r = echo_stream(cx.net, to, total, limit);
    let used = CpuMark::now(Some(&p)).since(&c0);
    let cpu = p.cpu_secs();
    let text = p.stop();
    let mut extra = exit_report(who, &text);
    extra["server_cpu_s"] = json!((cpu * 100.0).round() / 100.0);
    extra["bytes"] = json!(total);
    extra["limit_s"] = json!(limit.as_secs());
    match r {
        Ok(st) => {
            extra["secs"] = json!(st.secs);
            extra["write_secs"] = json!(st.write_secs);
            extra["sent_hash"] = json!(format!("{:016x}", st.sent_hash));
            extra["echoed_hash"] = json!(format!("{:016x}", st.back_hash));
            extra["server_fin"] = json!(st.fin);
            if st.extra_bytes > 0 {
                extra["extra_bytes"] = json!(st.extra_bytes);
            }
            if st.sent_hash != st.back_hash || st.extra_bytes > 0 {
                let e = format!(
                    "echo differs: hash {:016x} sent, {:016x} echoed, {} bytes beyond the {total}",
                    st.sent_hash, st.back_hash, st.extra_bytes
                );
                res.add(m, &who.name(), fail(e, extra));
            } else {
                let g = total as f64 * 8.0 / st.secs / 1e9;
                extra["cpu"] = used.1.clone();
                res.add(m, &who.name(), ok(g, extra));
                // Per GiB echoed (each byte crosses twice).
                add_cpu(
                    res,
                    m,
                    &who.name(),
                    used,
                    total as f64 / (1u64 << 30) as f64,
                );
            }
        }
        Err(e) => res.add(m, &who.name(), fail(e, extra)),
    }
}

/// Idle connections: the server's RSS before and while `n` connections
/// stay open, and the system's slab memory (the sockets of both sides live
/// in this one kernel; the difference between contenders is the server
/// side's kernel memory).
fn run_memory(cx: &Ctx, res: &mut Results, who: Who) {
    let to = cx.addr(who);
    let n = cx.opts.idle_conns;
    let mut p = match cx.start(who, "discard", 10240) {
        Ok(p) => p,
        Err(e) => {
            for m in [M_RSS_IDLE, M_RSS_10K, M_PER_CONN] {
                res.add(m, &who.name(), fail(e.clone(), Value::Null));
            }
            return;
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    let rss0 = p.status_kb("VmRSS:");
    let anon0 = p.status_kb("RssAnon:");
    let slab0 = meminfo_kb("Slab");
    let sock0 = sockstat_mem_pages(p.pid);
    // The client: opens n connections, says how many, holds them until told.
    let (tx_ready, rx_ready) = mpsc::channel::<(usize, Option<String>)>();
    let (tx_go, rx_go) = mpsc::channel::<()>();
    let holder = netns::spawn_in_ns(&cx.net.ns_b, move || {
        let t0 = Instant::now();
        let mut held = Vec::with_capacity(n);
        let mut err = None;
        for _ in 0..n {
            if t0.elapsed() > Duration::from_secs(60) {
                err = Some("over 60 s".to_string());
                break;
            }
            match TcpStream::connect_timeout(&SocketAddr::V4(to), Duration::from_secs(3)) {
                Ok(s) => held.push(s),
                Err(e) => {
                    err = Some(format!("connection {}: {e}", held.len() + 1));
                    break;
                }
            }
        }
        let _ = tx_ready.send((held.len(), err));
        let _ = rx_go.recv_timeout(Duration::from_secs(120));
        // Reset rather than close: no TIME-WAIT left behind.
        for s in &held {
            let l = libc::linger {
                l_onoff: 1,
                l_linger: 0,
            };
            // SAFETY: setsockopt on an open socket with a valid linger value.
            unsafe {
                libc::setsockopt(
                    std::os::fd::AsRawFd::as_raw_fd(s),
                    libc::SOL_SOCKET,
                    libc::SO_LINGER,
                    &l as *const _ as *const libc::c_void,
                    std::mem::size_of::<libc::linger>() as libc::socklen_t,
                );
            }
        }
        drop(held);
    });
    let (held, err) = rx_ready
        .recv_timeout(Duration::from_secs(120))
        .unwrap_or((0, Some("client did not report".into())));
    std::thread::sleep(Duration::from_millis(700));
    let rss1 = p.status_kb("VmRSS:");
    let anon1 = p.status_kb("RssAnon:");
    let slab1 = meminfo_kb("Slab");
    let sock1 = sockstat_mem_pages(p.pid);
    let text = p.stop();
    let _ = tx_go.send(());
    if let Ok(h) = holder {
        let _ = h.join();
    }
    let mut extra = json!({
        "server": exit_report(who, &text),
        "held": held,
        "rss_idle_kb": rss0,
        "rss_with_conns_kb": rss1,
        "rss_anon_idle_kb": anon0,
        "rss_anon_with_conns_kb": anon1,
        "slab_delta_kb": slab1 as i64 - slab0 as i64,
        "sockstat_tcp_mem_pages_delta": sock1 as i64 - sock0 as i64,
    });
    if let Some(e) = &err {
        extra["error"] = json!(e);
    }
    res.add(
        M_RSS_IDLE,
        &who.name(),
        ok(rss0 as f64 / 1024.0, extra.clone()),
    );
    if held < n {
        let e = err.unwrap_or_default();
        res.add(
            M_RSS_10K,
            &who.name(),
            fail(format!("held {held} of {n}: {e}"), extra.clone()),
        );
        res.add(
            M_PER_CONN,
            &who.name(),
            fail(format!("held {held} of {n}"), extra),
        );
    } else {
        res.add(
            M_RSS_10K,
            &who.name(),
            ok(rss1 as f64 / 1024.0, extra.clone()),
        );
        let per = (rss1 as f64 - rss0 as f64) * 1024.0 / n as f64;
        res.add(M_PER_CONN, &who.name(), ok(per, extra));
    }
}

/// The server's RSS at start with the default table (`--max-conns 1024`),
/// idle: what a server costs before it has work (issue #18: under 8 MiB).
fn run_memory_default(cx: &Ctx, res: &mut Results, who: Who) {
    let mut p = match cx.start(who, "discard", 1024) {
        Ok(p) => p,
        Err(e) => {
            res.add(M_RSS_DEFAULT, &who.name(), fail(e, Value::Null));
            return;
        }
    };
    std::thread::sleep(Duration::from_millis(300));
    let rss = p.status_kb("VmRSS:");
    let anon = p.status_kb("RssAnon:");
    let text = p.stop();
    let extra = json!({
        "server": exit_report(who, &text),
        "rss_idle_kb": rss,
        "rss_anon_idle_kb": anon,
    });
    res.add(M_RSS_DEFAULT, &who.name(), ok(rss as f64 / 1024.0, extra));
}

/// The `mem` pages of TCP in /proc/net/sockstat of `pid`'s namespace.
fn sockstat_mem_pages(pid: i32) -> u64 {
    read(&format!("/proc/{pid}/net/sockstat"))
        .lines()
        .find(|l| l.starts_with("TCP:"))
        .and_then(|l| {
            let w: Vec<&str> = l.split_whitespace().collect();
            w.iter()
                .position(|x| *x == "mem")
                .and_then(|i| w.get(i + 1)?.parse().ok())
        })
        .unwrap_or(0)
}

// ---------------------------------------------------------------- table

fn fmt_num(v: f64) -> String {
    if v >= 1000.0 {
        format!("{v:.0}")
    } else if v >= 100.0 {
        format!("{v:.1}")
    } else if v >= 1.0 || v == 0.0 {
        format!("{v:.2}")
    } else {
        // CPU-seconds per 1,000 connections and the like.
        format!("{v:.3}")
    }
}

fn cell(res: &Results, key: &str, who: &str, rounds: usize) -> String {
    match res.stats(key, who) {
        Some((med, lo, hi, good, all)) => {
            let mut s = fmt_num(med);
            if good > 1 {
                s += &format!(" ({}–{})", fmt_num(lo), fmt_num(hi));
            }
            if good < all {
                s += &format!(" [{} of {all} failed]", all - good);
            }
            s
        }
        None => match res.data.get(key).and_then(|d| d.get(who)) {
            Some(_) => "fails".into(),
            None => {
                let _ = rounds;
                "—".into()
            }
        },
    }
}

fn ratio(res: &Results, key: &str, a: &str, b: &str) -> Option<f64> {
    let (x, ..) = res.stats(key, a)?;
    let (y, ..) = res.stats(key, b)?;
    (y != 0.0).then_some(x / y)
}

/// The kernel variant with the best median on measure `m` (for a CPU
/// row: the variant that won its throughput row).
fn best_kernel(res: &Results, m: &Measure) -> Option<&'static str> {
    if let Some(parent) = cpu_parent(m.key).and_then(|k| res.order.iter().find(|p| p.key == k)) {
        return best_kernel(res, parent);
    }
    let mut best: Option<(&'static str, f64)> = None;
    for k in KERNELS {
        if let Some((med, ..)) = res.stats(m.key, k) {
            let better = match best {
                None => true,
                Some((_, b)) if m.higher_better => med > b,
                Some((_, b)) => med < b,
            };
            if better {
                best = Some((k, med));
            }
        }
    }
    best.map(|b| b.0)
}

fn table(res: &Results, rounds: usize) -> String {
    let mut rows: Vec<Vec<String>> = vec![vec![
        "measure".into(),
        "unit".into(),
        "ours".into(),
        "kernel (best)".into(),
        "kernel peer".into(),
        "smoltcp".into(),
        "ours/kernel".into(),
        "ours/smoltcp".into(),
    ]];
    let r = |x: Option<f64>| x.map(|v| format!("{v:.2}")).unwrap_or_else(|| "—".into());
    for m in &res.order {
        if m.key.starts_with("scaling") || m.key.starts_with("download") {
            continue;
        }
        let k = best_kernel(res, m);
        rows.push(vec![
            m.label.into(),
            m.unit.into(),
            cell(res, m.key, "ours", rounds),
            k.map_or_else(
                || cell(res, m.key, "kernel", rounds),
                |k| cell(res, m.key, k, rounds),
            ),
            k.map(kernel_variant_label).unwrap_or_default(),
            cell(res, m.key, "smoltcp", rounds),
            r(k.and_then(|k| ratio(res, m.key, "ours", k))),
            r(ratio(res, m.key, "ours", "smoltcp")),
        ]);
        if m.key == M_UP_OFF.key
            && res
                .data
                .get(m.key)
                .is_some_and(|d| d.contains_key("smoltcp-shipped"))
        {
            rows.push(vec![
                "  smoltcp as shipped".into(),
                m.unit.into(),
                "".into(),
                "".into(),
                "".into(),
                cell(res, m.key, "smoltcp-shipped", rounds),
                "".into(),
                r(ratio(res, m.key, "ours", "smoltcp-shipped")),
            ]);
        }
    }
    let mut out = String::new();
    let w: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let line = |row: &Vec<String>| {
        let mut s = String::from("|");
        for (i, c) in row.iter().enumerate() {
            s += &format!(" {c}{} |", " ".repeat(w[i] - c.chars().count()));
        }
        s + "\n"
    };
    if rows.len() > 1 {
        out += &line(&rows[0]);
        out += &format!(
            "|{}\n",
            w.iter()
                .map(|n| format!("{}|", "-".repeat(n + 2)))
                .collect::<String>()
        );
        for row in &rows[1..] {
            out += &line(row);
        }
    }
    // Every kernel variant of every row, for the record.
    let mut var = String::new();
    for m in &res.order {
        if m.key.starts_with("download") {
            continue;
        }
        let cells: Vec<String> = KERNELS
            .iter()
            .filter(|k| res.data.get(m.key).is_some_and(|d| d.contains_key(**k)))
            .map(|k| {
                format!(
                    "{}: {}",
                    kernel_variant_label(k),
                    cell(res, m.key, k, rounds)
                )
            })
            .collect();
        if cells.len() > 1 {
            let label = match cpu_parent(m.key).and_then(|k| res.order.iter().find(|p| p.key == k))
            {
                Some(p) => format!(
                    "{}: {}",
                    p.label,
                    m.label.trim_start_matches("scaling:").trim()
                ),
                None => m.label.to_string(),
            };
            var += &format!("| {label} | {} | {} |\n", m.unit, cells.join("; "));
        }
    }
    if !var.is_empty() {
        out += "\n| kernel variants | unit | medians (min–max) |\n|---|---|---|\n";
        out += &var;
    }
    // Scaling: ours with 1 and 2 workers.
    let sc: Vec<&Measure> = res
        .order
        .iter()
        .filter(|m| m.key.starts_with("scaling"))
        .collect();
    if !sc.is_empty() {
        out += "\n| scaling | unit | --workers 1 | --workers 2 | w2/w1 |\n|---|---|---|---|---|\n";
        for m in sc {
            out += &format!(
                "| {} | {} | {} | {} | {} |\n",
                m.label.trim_start_matches("scaling: "),
                m.unit,
                cell(res, m.key, "ours-w1", rounds),
                cell(res, m.key, "ours-w2", rounds),
                r(ratio(res, m.key, "ours-w2", "ours-w1")),
            );
        }
    }
    out
}

// ---------------------------------------------------------------- main

/// What the TUN row compares (also in the JSON's config).
const TUN_NOTE: &str = "upload over TUN: ours is `tcp-server --tun e2eours --ip 198.19.<subnet>.10` (bare IPv4 packets, one worker, --rx-buf 1M), its client a Linux TCP socket in the same namespace, routed into the TUN device by the route the server installs; the kernel is the same kernel sink (one thread, and one loop per CPU) behind a user-space TUN hop, the way a VPN or proxy runs it: the client's namespace routes 198.19.<subnet>.30 to TUN device e2ek0, e2e-tun-relay (one thread, up to 256 packets per read batch from each side, one write each, 50 us spin then poll) copies packets between e2ek0 and TUN device e2ek1 in the sink's namespace, where the sink owns the address. So both paths cross the client's TUN device into user space; the kernel's packets then go back into a kernel through a second TUN device. Server CPU of the kernel row includes the relay's. MTU 1500 on all devices, no virtio-net header or offloads. smoltcp not run";

/// Whether part `part` runs (`--only`).
fn want_part(opts: &Opts, part: &str) -> bool {
    opts.only
        .as_ref()
        .is_none_or(|o| o.iter().any(|x| x == part))
}

fn sysctl_in(ns: &str, kv: &[&str]) {
    let mut args = vec!["sysctl", "-qw"];
    args.extend_from_slice(kv);
    if let Err(e) = netns::run(&mut netns::exec(ns, args)) {
        eprintln!("bench-e2e: warning: {e}");
    }
}

/// IPv6 on both veth ends (no duplicate address detection), with
/// `2001:2:0:<subnet>::1/64` (ns a, the kernel sink's) and `::2/64` (ns b,
/// the clients'); ours serves `::10` itself. Ours gets
/// `--install-ingress-rule`, whose rule covers IPv6; for an older server,
/// whose rule covered IPv4 only, the bench installs the same rule for
/// ours' IPv6 address and port, as it does for smoltcp.
fn ipv6_on(cx: &Ctx) -> Result<(), String> {
    let net = cx.net;
    for (ns, iface, host) in [(&net.ns_a, &net.if_a, 1), (&net.ns_b, &net.if_b, 2)] {
        let keys = [
            "net.ipv6.conf.all.accept_dad=0".to_string(),
            "net.ipv6.conf.default.accept_dad=0".to_string(),
            format!("net.ipv6.conf.{iface}.accept_dad=0"),
            "net.ipv6.conf.all.disable_ipv6=0".to_string(),
            "net.ipv6.conf.default.disable_ipv6=0".to_string(),
            format!("net.ipv6.conf.{iface}.disable_ipv6=0"),
        ];
        let mut args = vec!["sysctl", "-qw"];
        args.extend(keys.iter().map(String::as_str));
        netns::run(&mut netns::exec(ns, args)).map_err(|e| e.to_string())?;
        let cidr = format!("{}/64", v6(cx.subnet, host));
        netns::run(&mut netns::exec(
            ns,
            [
                "ip",
                "addr",
                "add",
                cidr.as_str(),
                "dev",
                iface.as_str(),
                "nodad",
            ],
        ))
        .map_err(|e| e.to_string())?;
    }
    if cx.ingress_flag && !cx.ingress6_flag {
        let o = cx.sockaddr(Who::Ours { workers: 1 }, Via::Veth6);
        let script = format!(
            "table netdev bench_ours6 {{ chain ingress {{ type filter hook ingress device \"{}\" priority 0; policy accept; ip6 daddr {} tcp dport {} drop; }}; }}",
            net.if_a,
            o.ip(),
            o.port()
        );
        netns::run(&mut netns::exec(&net.ns_a, ["nft", script.as_str()]))
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Undoes [`ipv6_on`] (best effort): the rule gone, IPv6 off again (which
/// removes the addresses).
fn ipv6_off(cx: &Ctx) {
    let net = cx.net;
    let _ = netns::run(&mut netns::exec(
        &net.ns_a,
        ["nft", "delete", "table", "netdev", "bench_ours6"],
    ));
    for ns in [&net.ns_a, &net.ns_b] {
        let _ = netns::run(&mut netns::exec(
            ns,
            [
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ],
        ));
    }
}

fn main() {
    let opts = opts();
    common::install_stop_handler();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("bench-e2e: needs root (network namespaces, raw sockets); run it with sudo");
        std::process::exit(2);
    }
    for (p, what) in [
        (opts.server.clone(), "tcp-server (--server PATH)"),
        (opts.sinks_dir.join("e2e-kernel-sink"), "e2e-kernel-sink"),
        (opts.sinks_dir.join("e2e-smoltcp-sink"), "e2e-smoltcp-sink"),
        (opts.sinks_dir.join("e2e-tun-relay"), "e2e-tun-relay"),
    ] {
        if !p.is_file() {
            eprintln!("bench-e2e: no {what} at {}; build with `cargo build --release -p tcp-server -p benches`", p.display());
            std::process::exit(2);
        }
    }
    raise_nofile(65536);
    let help = sh(opts.server.to_str().unwrap_or("tcp-server"), &["--help"]);
    let has_workers = help.contains("--workers");

    let t_start = Instant::now();
    let date = sh("date", &["-u", "+%Y-%m-%dT%H:%M:%SZ"]);
    let load_start = loadavg();
    let uptime_start = sh("uptime", &[]);
    let subnet = 100 + (std::process::id() % 100) as u8;
    let net = match TestNet::new("e2e", subnet) {
        Ok(n) => n,
        Err(e) => {
            eprintln!("bench-e2e: cannot make the test network: {e}");
            std::process::exit(1);
        }
    };
    // Clients: many ports, TIME-WAIT ports reusable (thousands of short
    // connections per second from one address); servers: deep backlogs.
    sysctl_in(
        &net.ns_b,
        &[
            "net.ipv4.ip_local_port_range=1024 65000",
            "net.ipv4.tcp_tw_reuse=1",
        ],
    );
    sysctl_in(
        &net.ns_a,
        &[
            "net.core.somaxconn=8192",
            "net.ipv4.tcp_max_syn_backlog=8192",
        ],
    );
    // The TUN row's namespaces, when it runs.
    let tun_net = if want_part(&opts, "tun") {
        match TunNet::new(subnet) {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("bench-e2e: warning: no TUN namespaces: {e}");
                None
            }
        }
    } else {
        None
    };
    let cx = Ctx {
        net: &net,
        tun: tun_net.as_ref(),
        opts: &opts,
        subnet,
        per_source_flag: help.contains("--max-per-source"),
        ingress_flag: help.contains("--install-ingress-rule"),
        ingress6_flag: help.contains("(IPv4 and IPv6) and port"),
    };
    if cx.ingress_flag {
        // The smoltcp sink gets what our server installs for itself: its
        // frames dropped at the ingress once the packet sockets have them,
        // not walked through the kernel's IP stack (which would drop them:
        // the address is not the kernel's). Gone with the namespace.
        let s = cx.addr(Who::Smoltcp { shipped: false });
        let script = format!(
            "table netdev bench_smoltcp {{ chain ingress {{ type filter hook ingress device \"{}\" priority 0; policy accept; ip daddr {} tcp dport {} drop; }}; }}",
            net.if_a,
            s.ip(),
            s.port()
        );
        if let Err(e) = netns::run(&mut netns::exec(&net.ns_a, ["nft", script.as_str()])) {
            eprintln!("bench-e2e: warning: no ingress rule for the smoltcp sink: {e}");
        }
    }
    eprintln!(
        "bench-e2e: {} mode, {} round(s), upload {} MiB, {} connections, {} echo round trips, {} idle connections; namespaces {} / {}; load {load_start}",
        if opts.quick { "quick" } else { "full" },
        opts.rounds,
        opts.upload >> 20,
        opts.conns,
        opts.echo_trips,
        opts.idle_conns,
        net.ns_a,
        net.ns_b
    );

    let want = |part: &str| want_part(&opts, part);
    let mut res = Results::default();
    let ours = Who::Ours { workers: 1 };
    let smol = Who::Smoltcp { shipped: false };
    // Throughput and connection rate: ours, the two kernel variants,
    // smoltcp; latency: also the busy-polling kernel; ours and the kernel
    // alone: the kernel variants.
    let (k1, krp, kbusy) = (Who::Kernel, Who::KernelReuseport, Who::KernelBusy);
    let three = [ours, k1, krp, smol];
    let latency = [ours, k1, krp, kbusy, smol];
    let two = [ours, k1, krp];
    let budget = Duration::from_secs(
        if opts.quick { 300 } else { 1200 } + if want("download") { 1800 } else { 0 },
    );
    let go_on = |res: &mut Results, what: &str| {
        if common::stopped() {
            return false;
        }
        if t_start.elapsed() > budget {
            res.notes.push(format!(
                "{what} skipped: over the time budget of {} s",
                budget.as_secs()
            ));
            return false;
        }
        true
    };

    'all: {
        if want("upload") {
            for on in [false, true] {
                let m = if on { M_UP_ON } else { M_UP_OFF };
                if let Err(e) = net.set_offloads(on) {
                    res.notes.push(format!("ethtool: {e}"));
                    continue;
                }
                eprintln!(
                    "bench-e2e: upload {} MiB, veth offloads {}",
                    opts.upload >> 20,
                    if on { "on" } else { "off" }
                );
                let mut list = three.to_vec();
                if !on {
                    list.push(Who::Smoltcp { shipped: true });
                }
                for round in 0..opts.rounds {
                    for who in rotate(&list, round) {
                        if !go_on(&mut res, m.key) {
                            break 'all;
                        }
                        run_upload(&cx, &mut res, m, who, 1);
                    }
                }
            }
        }
        if want("upload6") {
            // The same upload as `upload, offloads off`, over IPv6: ours
            // and the kernel (the smoltcp sink serves IPv4 only).
            let _ = net.set_offloads(false);
            match ipv6_on(&cx) {
                Err(e) => res.add(M_UP6, "ours", fail(format!("IPv6 setup: {e}"), Value::Null)),
                Ok(()) => {
                    eprintln!(
                        "bench-e2e: upload {} MiB over IPv6, veth offloads off",
                        opts.upload >> 20
                    );
                    'rounds: for round in 0..opts.rounds {
                        for who in rotate(&two, round) {
                            if !go_on(&mut res, M_UP6.key) {
                                break 'rounds;
                            }
                            run_upload_via(&cx, &mut res, M_UP6, who, 1, Via::Veth6);
                        }
                    }
                }
            }
            ipv6_off(&cx);
            res.notes.push("upload IPv6: the upload of `upload, offloads off` over IPv6 on the same veth pair: ours on 2001:2:0:<subnet>::10 (own address, answering neighbor solicitations itself, with --install-ingress-rule, whose nftables netdev ingress drop covers IPv6), the kernel sink on 2001:2:0:<subnet>::1, the client on ::2; smoltcp not run (its sink serves IPv4)".into());
        }
        if common::stopped() {
            break 'all;
        }
        if want("tun") {
            if cx.tun.is_none() {
                res.add(M_UP_TUN, "ours", fail("no TUN namespaces", Value::Null));
            } else {
                eprintln!("bench-e2e: upload {} MiB over TUN", opts.upload >> 20);
                for round in 0..opts.rounds {
                    for who in rotate(&two, round) {
                        if !go_on(&mut res, M_UP_TUN.key) {
                            break 'all;
                        }
                        run_upload_via(&cx, &mut res, M_UP_TUN, who, 1, Via::Tun);
                    }
                }
            }
            res.notes.push(TUN_NOTE.into());
        }
        if want("echotput") {
            // smoltcp with offloads off only: its RawSocket cannot take
            // frames whose checksum the kernel left to the hardware.
            for on in [false, true] {
                let m = if on { M_ET_ON } else { M_ET_OFF };
                if let Err(e) = net.set_offloads(on) {
                    res.notes.push(format!("ethtool: {e}"));
                    continue;
                }
                eprintln!(
                    "bench-e2e: echo throughput, {} MiB, veth offloads {}",
                    opts.echo_bytes >> 20,
                    if on { "on" } else { "off" }
                );
                let list: &[Who] = if on { &two } else { &three };
                for round in 0..opts.rounds {
                    for who in rotate(list, round) {
                        if !go_on(&mut res, m.key) {
                            break 'all;
                        }
                        run_echotput(&cx, &mut res, m, who);
                    }
                }
            }
            res.notes.push(
                "echo throughput, offloads on: smoltcp not run (its RawSocket takes no frames with checksums left to the hardware; it fails to connect in the upload row)".into(),
            );
        }
        // The rest with offloads off: smoltcp's RawSocket cannot take
        // frames whose checksum the kernel left to the hardware.
        let _ = net.set_offloads(false);
        if want("connrate") {
            eprintln!(
                "bench-e2e: connection rate, {} connections, offloads off",
                opts.conns
            );
            for round in 0..opts.rounds {
                for who in rotate(&three, round) {
                    if !go_on(&mut res, "connrate") {
                        break 'all;
                    }
                    run_connrate(&cx, &mut res, who, &[(M_CR_SEQ, 1), (M_CR_8, 8)]);
                }
            }
        }
        if want("echo") {
            eprintln!(
                "bench-e2e: echo, {} round trips of 64 bytes, offloads off",
                opts.echo_trips
            );
            for round in 0..opts.rounds {
                for who in rotate(&latency, round) {
                    if !go_on(&mut res, "echo") {
                        break 'all;
                    }
                    run_echo(&cx, &mut res, who);
                }
            }
        }
        if want("memory") {
            eprintln!(
                "bench-e2e: memory, {} idle connections, offloads off",
                opts.idle_conns
            );
            for round in 0..opts.rounds {
                for who in rotate(&[ours, Who::Kernel], round) {
                    if !go_on(&mut res, "memory") {
                        break 'all;
                    }
                    run_memory_default(&cx, &mut res, who);
                    run_memory(&cx, &mut res, who);
                }
            }
        }
        if want("scaling") {
            if !has_workers {
                res.notes
                    .push("scaling: n/a, this tcp-server does not accept --workers".into());
                for m in [M_SC_UP, M_SC_CR] {
                    res.add(m, "ours-w2", fail("n/a: no --workers", Value::Null));
                }
            } else {
                eprintln!("bench-e2e: scaling, --workers 1 and 2, offloads off");
                let ws = [Who::Ours { workers: 1 }, Who::Ours { workers: 2 }];
                for round in 0..opts.rounds {
                    for who in rotate(&ws, round) {
                        if !go_on(&mut res, "scaling") {
                            break 'all;
                        }
                        let name = format!(
                            "ours-w{}",
                            match who {
                                Who::Ours { workers } => workers,
                                _ => 0,
                            }
                        );
                        // Under its own name in the scaling rows.
                        let mut sub = Results::default();
                        run_upload(&cx, &mut sub, M_SC_UP, who, 8);
                        run_connrate(&cx, &mut sub, who, &[(M_SC_CR, 8)]);
                        for (k, by) in sub.data {
                            for (_, samples) in by {
                                let m = *sub.order.iter().find(|m| m.key == k).unwrap();
                                for s in samples {
                                    if !res.order.iter().any(|o| o.key == m.key) {
                                        res.order.push(m);
                                    }
                                    res.data
                                        .entry(m.key)
                                        .or_default()
                                        .entry(name.clone())
                                        .or_default()
                                        .push(s);
                                }
                            }
                        }
                    }
                }
            }
        }
        if want("download") {
            let file = match download::DlFile::make(opts.download) {
                Ok(f) => f,
                Err(e) => {
                    res.notes
                        .push(format!("download: cannot make the file: {e}"));
                    break 'all;
                }
            };
            download::run(
                &cx,
                &mut res,
                &file,
                opts.download_paths.as_deref(),
                &opts.kernel_cc,
                opts.rounds,
                |res| go_on(res, "download"),
            );
            res.notes.push(format!(
                "download: a {} MiB file (fixed pseudo-random bytes) served by ours (`--mode file`, --tx-buf 4M: the kernel's tcp_wmem max) and by the kernel (sendfile; congestion control {}, set on its listener: CUBIC, its compiled default and ours, unless `--kernel-cc` says otherwise; this machine's namespaces default to BBR, which does not take random loss as congestion), read to EOF by a Linux TCP client; goodput = file bytes / (connect to EOF), size and hash checked. Offloads off except on `clean veth, offloads on`. Loss: nftables netdev ingress on the client's veth drops that share of the server's data frames (IPv4 length > 100) at random: wire loss no kernel sees. Relay rows: both contenders through the same one-thread user-space relay (rawnet::relay, frames copied between two veth pairs) whose own rate bounds them (see `relay, no impairment`); reordering: 1 % of the server's frames sent after the next 4; delay: fixed, server -> client, the RTT grows by as much. Retransmitted: the sender's count (ours: its exit summary; kernel: TcpRetransSegs). Duplicates at the client: the D-SACKs it sent (TcpExtTCPDSACKOldSent + TcpExtTCPDSACKOfoSent), one per duplicate segment received: spurious retransmissions, counted alike for both. Machine CPU-s/GiB: /proc/stat, all CPUs, all but idle and iowait, over the download's window, per GiB of the file (the kernel here is the one-thread sink with a sendfile thread per connection; a listener per CPU adds nothing to one connection). Medians of {} round(s), the first of each round alternating.",
                opts.download >> 20,
                opts.kernel_cc,
                opts.rounds
            ));
        }
    }
    let _ = net.set_offloads(true);
    drop(net);
    // Before any exit below (which runs no destructors).
    drop(tun_net);
    let interrupted = common::stopped();

    // Derived: the kernel's memory per idle connection on the server side,
    // from the slab growth with the kernel sink minus that with ours (the
    // clients' sockets are in both).
    let slab = |who: &str| -> Option<f64> {
        let runs = res.data.get(M_PER_CONN.key)?.get(who)?;
        let v: Vec<f64> = runs
            .iter()
            .filter(|s| s.value.is_some())
            .filter_map(|s| s.extra.get("slab_delta_kb")?.as_f64())
            .collect();
        let mut v = v;
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v.get(v.len() / 2).copied()
    };
    let mut derived = json!({});
    if let (Some(k), Some(o)) = (slab("kernel"), slab("ours")) {
        let n = opts.idle_conns as f64;
        let per = (k - o) * 1024.0 / n;
        derived["kernel_slab_bytes_per_conn_estimate"] = json!(per.round());
        res.notes.push(format!(
            "kernel memory per idle server-side connection (slab growth with the kernel sink minus with ours, medians): about {per:.0} B"
        ));
        // All-in: ours holds its connections in its own memory (RSS with
        // the connections open, the table's fixed part included); the
        // kernel sink in its RSS and in the kernel's slab.
        let rss = |who: &str| res.stats(M_RSS_10K.key, who).map(|s| s.0 * 1024.0 * 1024.0);
        if let (Some(ro), Some(rk)) = (rss("ours"), rss("kernel")) {
            let how = json!({ "how": "ours: RSS with the connections / n; kernel: (sink RSS + slab growth beyond ours' run) / n" });
            res.add(M_ALLIN, "ours", ok(ro / n, how.clone()));
            res.add(M_ALLIN, "kernel", ok((rk + (k - o) * 1024.0) / n, how));
        }
    }

    let text = table(&res, opts.rounds) + &download::table(&res, opts.download);
    let load_end = loadavg();
    let uptime_end = sh("uptime", &[]);
    println!("\nbench-e2e {} ({} round(s)), {date}, {} x {}, Linux {}, load {load_start} -> {load_end}\n", if opts.quick { "quick" } else { "full" }, opts.rounds, std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0), cpu_model(), read("/proc/sys/kernel/osrelease").trim());
    println!("{text}");
    for n in &res.notes {
        println!("note: {n}");
    }

    // JSON.
    let mut results = serde_json::Map::new();
    for m in &res.order {
        let mut by = serde_json::Map::new();
        if let Some(d) = res.data.get(m.key) {
            for (who, runs) in d {
                let st = res.stats(m.key, who);
                by.insert(
                    who.clone(),
                    json!({
                        "median": st.map(|s| s.0),
                        "min": st.map(|s| s.1),
                        "max": st.map(|s| s.2),
                        "status": if st.is_some() { "ok" } else { "fails" },
                        "runs": runs.iter().map(|s| json!({ "value": s.value, "note": s.note, "detail": s.extra })).collect::<Vec<_>>(),
                    }),
                );
            }
        }
        results.insert(
            m.key.into(),
            json!({
                "label": m.label,
                "unit": m.unit,
                "better": if m.higher_better { "higher" } else { "lower" },
                "kernel_best": best_kernel(&res, m),
                "ours/kernel": best_kernel(&res, m).and_then(|k| ratio(&res, m.key, "ours", k)),
                "ours/kernel_1thread": ratio(&res, m.key, "ours", "kernel"),
                "ours/smoltcp": ratio(&res, m.key, "ours", "smoltcp"),
                "w2/w1": ratio(&res, m.key, "ours-w2", "ours-w1"),
                "by": by,
            }),
        );
    }
    // Which code was measured: the commit, and whether the server's crates
    // had uncommitted changes.
    let repo = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let commit = sh("git", &["-C", repo, "rev-parse", "--short", "HEAD"]);
    let dirty = !sh(
        "git",
        &[
            "-C",
            repo,
            "status",
            "--porcelain",
            "--",
            "tcp-server",
            "tcpcore",
            "rawnet",
        ],
    )
    .is_empty();
    let doc = json!({
        "benchmark": "bench-e2e",
        "date": date,
        "quick": opts.quick,
        "interrupted": interrupted,
        "duration_s": t_start.elapsed().as_secs(),
        "git": { "commit": commit, "server_crates_dirty": dirty },
        "machine": {
            "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "cpu": cpu_model(),
            "kernel": read("/proc/sys/kernel/osrelease").trim(),
            "loadavg_start": load_start,
            "loadavg_end": load_end,
            "uptime_start": uptime_start,
            "uptime_end": uptime_end,
        },
        "config": {
            "rounds": opts.rounds,
            "upload_bytes": opts.upload,
            "connections": opts.conns,
            "echo_round_trips": opts.echo_trips,
            "echo_message_bytes": 64,
            "echo_throughput_bytes": opts.echo_bytes,
            "echo_throughput": "one connection to the echo server; the client writes the bytes (1 MiB writes) on one thread and reads them back on another; the time from connect to the last byte read; a hash of the bytes read compared with one of the bytes written (a mismatch fails the run). Ours: --rx-buf 1M --tx-buf 1M; smoltcp: 1 MiB rx and tx buffers; kernel: autotuned. Offloads off (all three) and on (ours and kernel)",
            "idle_connections": opts.idle_conns,
            "download_bytes": opts.download,
            "download_paths": download::PATHS.iter().map(|p| json!({ "name": p.name, "key": p.measure.key, "label": p.measure.label })).collect::<Vec<_>>(),
            "server": opts.server.display().to_string(),
            "upload_ipv6": "the upload of upload_offloads_off over IPv6 on the same veth pair (ours on 2001:2:0:<subnet>::10 with the bench's IPv6 copy of the ingress rule, the kernel sink on ::1, the client on ::2)",
            "tun": TUN_NOTE,
            "tun_relay_threads": opts.relay_threads,
            "topology": "two network namespaces joined by one veth pair; servers in ns a (ours on an own address with --ip, smoltcp on another own address over phy::RawSocket, the kernel sink on the veth's address), Linux TCP clients on threads in ns b",
            "offloads": "upload and echo throughput: both; everything else: off (ethtool -K tx rx tso gso gro off on both ends)",
            "ingress_rule": "ours: --install-ingress-rule; smoltcp: the same nftables netdev ingress rule for its address and port, installed by the bench; both only when the server has the flag. Their frames are dropped at the ingress after the packet sockets read them, instead of walked through the kernel's IP stack to be dropped there",
            "smoltcp": "0.12, 16 listening sockets, 1 MiB rx / 64 KiB tx buffers each, SO_RCVBUF of its AF_PACKET socket 8 MiB (smoltcp-shipped: the default)",
            "kernel_sink": "kernel: one thread, epoll, non-blocking sockets, 1 MiB reads; kernel-reuseport: one SO_REUSEPORT listener and epoll loop per CPU (--threads nproc); kernel-busypoll (echo RTT rows only): one thread whose epoll_wait never sleeps. Per row, ours/kernel is against the variant with the best median (kernel_best); memory rows: the one-thread sink only",
            "cpu": "rows *_cpu: machine CPU-seconds from /proc/stat (all CPUs; user+nice+system+irq+softirq+steal, i.e. all but idle and iowait) over the measurement window (the client's transfer or its connections), per GiB of payload moved (echo: per GiB echoed) or per 1,000 connections. On a shared machine this includes other tenants' work, so rows *_cpu_own give the same per unit for the CPU of the bench's client process and the server's process (with the TUN relay) plus the machine's irq+softirq time in the window (processes_plus_irq_s in each run's detail): the kernel's TCP work runs in those system calls or in softirq. The kernel column of a CPU row is the variant that won its throughput row",
            "connection": "connect, write 16 bytes, shutdown(WR), read to the server's FIN",
        },
        "results": Value::Object(results),
        "derived": derived,
        "notes": res.notes,
        "table": text,
    });
    if let Err(e) = std::fs::create_dir_all(&opts.out) {
        eprintln!("bench-e2e: cannot create {}: {e}", opts.out.display());
        std::process::exit(1);
    }
    let stamp = date.replace([':', '-'], "");
    let name = if opts.quick {
        format!("e2e-{stamp}-quick.json")
    } else {
        format!("e2e-{stamp}.json")
    };
    let body = serde_json::to_string_pretty(&doc).unwrap() + "\n";
    let mut paths = vec![opts.out.join(name)];
    if !opts.quick && !interrupted && opts.only.is_none() {
        paths.push(opts.out.join("latest.json"));
    }
    for p in &paths {
        match std::fs::write(p, &body) {
            Ok(()) => eprintln!("bench-e2e: wrote {}", p.display()),
            Err(e) => eprintln!("bench-e2e: cannot write {}: {e}", p.display()),
        }
    }
    if interrupted {
        std::process::exit(130);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(v: f64) -> Sample {
        ok(v, Value::Null)
    }

    #[test]
    fn ipv6_addresses_spell_the_subnet_as_the_tests_do() {
        assert_eq!(v6(123, 0x10).to_string(), "2001:2:0:123::10");
        assert_eq!(v6(199, 1).to_string(), "2001:2:0:199::1");
    }

    #[test]
    fn the_kernel_column_is_the_best_variant_and_its_cpu_row_follows_it() {
        let mut res = Results::default();
        // Throughput: higher is better; reuseport wins.
        res.add(M_UP_OFF, "kernel", sample(8.0));
        res.add(M_UP_OFF, "kernel-reuseport", sample(9.0));
        let cpu = cpu_measure(M_UP_OFF.key).unwrap();
        res.add(cpu, "kernel", sample(1.0));
        res.add(cpu, "kernel-reuseport", sample(2.0));
        assert_eq!(best_kernel(&res, &M_UP_OFF), Some("kernel-reuseport"));
        // The CPU row shows the variant that won the throughput, not the
        // one with the least CPU.
        assert_eq!(best_kernel(&res, &cpu), Some("kernel-reuseport"));
        let own = own_cpu_measure(M_UP_OFF.key).unwrap();
        assert_eq!(cpu_parent(own.key), Some(M_UP_OFF.key));
        // RTT: lower is better; busy-polling wins.
        for (who, v) in [
            ("kernel", 5.0),
            ("kernel-reuseport", 4.8),
            ("kernel-busypoll", 4.2),
        ] {
            res.add(M_ECHO50, who, sample(v));
        }
        assert_eq!(best_kernel(&res, &M_ECHO50), Some("kernel-busypoll"));
        let t = table(&res, 1);
        assert!(t.contains("busy-poll, 1 thread"), "{t}");
    }

    #[test]
    fn cpu_seconds_of_a_proc_stat_line() {
        // pid (comm with ) and spaces) state ppid ... utime stime ...
        let hz = clk_tck();
        let line = format!(
            "42 (a) b) R 1 2 3 4 5 6 7 8 9 10 {} {} 0 0",
            3.0 * hz,
            2.0 * hz
        );
        assert!((stat_cpu_secs(&line) - 5.0).abs() < 1e-9);
    }
}
