//! The download part of bench-e2e (issue #16, "Measure it"): a file served
//! by our server (`tcp-server --mode file`) and by the kernel's TCP
//! (`e2e-kernel-sink --mode file`, sendfile) to a Linux client (a std
//! `TcpStream` in namespace b reading to EOF, hashing what it reads), over
//! a clean veth and impaired paths.
//!
//! Paths:
//! - clean veth, offloads off and on;
//! - random loss of the server's data frames (IPv4 length over 100: not
//!   the SYN-ACK, pure ACKs or FIN) at 0.1 %, 1 %, 5 %: an nftables rule at
//!   the netdev ingress hook of the client's veth, in namespace b, where
//!   neither sender's kernel (nor ours) and not even the client's IP stack
//!   can see the drop: it is wire loss;
//! - through the user-space relay of `rawnet::relay` (this kernel has no
//!   netem): the relay alone (its own limit), reordering (1 % of the
//!   server's frames sent after the next 4 frames: one more than the
//!   3-duplicate-ACK threshold), and 10 ms and 50 ms of fixed delay added
//!   to the server -> client direction (the RTT grows by as much).
//!
//! Per transfer: goodput (file bytes over the time from connect to EOF),
//! the size and hash checked; spurious retransmissions counted the same
//! way for both at the Linux client: every duplicate segment it receives
//! makes it send a D-SACK (RFC 2883), counted in
//! TcpExtTCPDSACKOldSent + TcpExtTCPDSACKOfoSent (`nstat`, namespace b);
//! and the sender's retransmissions (ours: its exit summary; the kernel:
//! TcpRetransSegs in namespace a).

use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, SocketAddrV4, TcpStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rawnet::netns::{self, TestNet};
use rawnet::relay::{Impair, RelayNet, RelayStats};
use serde_json::{json, Value};

use super::{exit_report, fail, ok, rotate, CpuMark, Ctx, Measure, Results, StreamHash, Who};

/// How a path is made.
#[derive(Clone, Copy)]
pub enum Kind {
    /// The bench's veth pair, offloads on or off.
    Veth { offloads: bool },
    /// The veth pair with this many per mille of the server's data frames
    /// dropped at the client's ingress.
    Loss { permille: u32 },
    /// Through the relay.
    Relay {
        displace_permille: u32,
        displace_by: u32,
        delay_ms: u64,
    },
}

/// One path of the download table.
pub struct DlPath {
    /// Name for `--download-paths` (and the JSON key, after `download_`).
    pub name: &'static str,
    pub measure: Measure,
    pub kind: Kind,
}

const fn m(key: &'static str, label: &'static str) -> Measure {
    Measure {
        key,
        label,
        unit: "Mbit/s",
        higher_better: true,
    }
}

pub const PATHS: [DlPath; 9] = [
    DlPath {
        name: "clean",
        measure: m("download_clean", "clean veth"),
        kind: Kind::Veth { offloads: false },
    },
    DlPath {
        name: "clean-offloads",
        measure: m("download_clean_offloads_on", "clean veth, offloads on"),
        kind: Kind::Veth { offloads: true },
    },
    DlPath {
        name: "loss0.1",
        measure: m("download_loss_0_1", "loss 0.1 %"),
        kind: Kind::Loss { permille: 1 },
    },
    DlPath {
        name: "loss1",
        measure: m("download_loss_1", "loss 1 %"),
        kind: Kind::Loss { permille: 10 },
    },
    DlPath {
        name: "loss5",
        measure: m("download_loss_5", "loss 5 %"),
        kind: Kind::Loss { permille: 50 },
    },
    DlPath {
        name: "relay",
        measure: m("download_relay", "relay, no impairment"),
        kind: Kind::Relay {
            displace_permille: 0,
            displace_by: 0,
            delay_ms: 0,
        },
    },
    DlPath {
        name: "reorder",
        measure: m("download_reorder", "relay, reordering"),
        kind: Kind::Relay {
            displace_permille: 10,
            displace_by: 4,
            delay_ms: 0,
        },
    },
    DlPath {
        name: "delay10",
        measure: m("download_delay_10ms", "relay, +10 ms"),
        kind: Kind::Relay {
            displace_permille: 0,
            displace_by: 0,
            delay_ms: 10,
        },
    },
    DlPath {
        name: "delay50",
        measure: m("download_delay_50ms", "relay, +50 ms"),
        kind: Kind::Relay {
            displace_permille: 0,
            displace_by: 0,
            delay_ms: 50,
        },
    },
];

/// The file served: `len` bytes of a fixed xorshift64* stream, made once in
/// a directory of its own under the temporary directory (removed on drop),
/// with its [`StreamHash`].
pub struct DlFile {
    dir: PathBuf,
    pub path: PathBuf,
    pub len: u64,
    pub hash: u64,
}

impl DlFile {
    pub fn make(len: u64) -> std::io::Result<DlFile> {
        let dir = std::env::temp_dir().join(format!("bench-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join("download.bin");
        let mut f = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
        let mut h = StreamHash::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut chunk = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            for w in chunk[..n].chunks_mut(8) {
                x ^= x >> 12;
                x ^= x << 25;
                x ^= x >> 27;
                let v = x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes();
                w.copy_from_slice(&v[..w.len()]);
            }
            f.write_all(&chunk[..n])?;
            h.update(&chunk[..n]);
            left -= n as u64;
        }
        f.flush()?;
        Ok(DlFile {
            dir,
            path,
            len,
            hash: h.finish(),
        })
    }
}

impl Drop for DlFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
        let _ = std::fs::remove_dir(&self.dir);
    }
}

/// `nstat -asz` in `ns`: every counter of the namespace's kernel.
fn nstat(ns: &str) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    if let Ok(out) = netns::run(&mut netns::exec(ns, ["nstat", "-asz"])) {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let mut w = line.split_whitespace();
            if let (Some(k), Some(v)) = (w.next(), w.next()) {
                if let Ok(v) = v.parse() {
                    m.insert(k.to_string(), v);
                }
            }
        }
    }
    m
}

fn delta(a: &BTreeMap<String, u64>, b: &BTreeMap<String, u64>, k: &str) -> u64 {
    b.get(k)
        .copied()
        .unwrap_or(0)
        .saturating_sub(a.get(k).copied().unwrap_or(0))
}

/// The client's counters kept per transfer (namespace b).
const CLIENT_KEYS: [&str; 6] = [
    "TcpExtTCPDSACKOldSent",
    "TcpExtTCPDSACKOfoSent",
    "TcpExtTCPOFOQueue",
    "TcpExtTCPSACKReorder",
    "TcpInSegs",
    "TcpOutSegs",
];

/// The kernel server's counters kept per transfer (namespace a).
const SERVER_KEYS: [&str; 12] = [
    "TcpRetransSegs",
    "TcpOutSegs",
    "TcpExtTCPLostRetransmit",
    "TcpExtTCPFastRetrans",
    "TcpExtTCPSlowStartRetrans",
    "TcpExtTCPTimeouts",
    "TcpExtTCPLossProbes",
    "TcpExtTCPDSACKRecv",
    "TcpExtTCPDSACKUndo",
    "TcpExtTCPSpuriousRTOs",
    "TcpExtTCPSackRecoveryFail",
    "TcpExtTCPSACKReorder",
];

/// What one download measured.
struct Got {
    secs: f64,
    bytes: u64,
    hash: u64,
}

/// One connection to `to` from namespace b, read to EOF (1 MiB reads),
/// hashed. At most `limit`, and 10 s without a byte.
fn fetch(net: &TestNet, to: SocketAddrV4, limit: Duration) -> Result<Got, String> {
    let h = netns::spawn_in_ns(&net.ns_b, move || -> Result<Got, String> {
        let t0 = Instant::now();
        let mut s = TcpStream::connect_timeout(&SocketAddr::V4(to), Duration::from_secs(3))
            .map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(10)))
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0u8; 1 << 20];
        let mut h = StreamHash::new();
        let mut got = 0u64;
        // Bounded: every pass reads at least a byte, or ends.
        loop {
            match s.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    h.update(&buf[..k]);
                    got += k as u64;
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = s.shutdown(Shutdown::Both);
                    return Err(format!("read after {} MiB: {e}", got >> 20));
                }
            }
            if t0.elapsed() > limit {
                let _ = s.shutdown(Shutdown::Both);
                return Err(format!(
                    "over the {} s limit after {} MiB ({:.1} Mbit/s)",
                    limit.as_secs(),
                    got >> 20,
                    got as f64 * 8.0 / t0.elapsed().as_secs_f64() / 1e6
                ));
            }
        }
        Ok(Got {
            secs: t0.elapsed().as_secs_f64(),
            bytes: got,
            hash: h.finish(),
        })
    })
    .map_err(|e| e.to_string())?;
    match h.join() {
        Ok(Ok(r)) => r,
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("client thread panicked".into()),
    }
}

/// One download from `who` over `cx`'s network.
fn run_one(
    cx: &Ctx,
    res: &mut Results,
    p: &DlPath,
    who: Who,
    file: &DlFile,
    limit: Duration,
    kernel_cc: &str,
) {
    let m = p.measure;
    let to = cx.addr(who);
    let path = file.path.display().to_string();
    // Our send buffer as large as the kernel's largest (tcp_wmem[2], 4 MiB
    // by default): a window of 4 MiB keeps 670 Mbit/s at 50 ms.
    let wmem_max = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse::<u64>().ok())
        .unwrap_or(4 << 20);
    let tx_buf = format!("{}", wmem_max.next_power_of_two().clamp(1 << 20, 64 << 20));
    let extra: Vec<&str> = match who {
        Who::Ours { .. } => vec!["--file", &path, "--tx-buf", &tx_buf],
        _ => vec!["--file", &path, "--cc", kernel_cc],
    };
    let mut proc_ = match cx.start_with(who, "file", 16, &extra) {
        Ok(p) => p,
        Err(e) => return res.add(m, &who.name(), fail(e, Value::Null)),
    };
    let c0 = nstat(&cx.net.ns_b);
    let s0 = nstat(&cx.net.ns_a);
    let dropped0 = nft_count(&cx.net.ns_b);
    let m0 = CpuMark::now(Some(&proc_));
    let r = fetch(cx.net, to, limit);
    let (machine_s, cpu_detail) = CpuMark::now(Some(&proc_)).since(&m0);
    let c1 = nstat(&cx.net.ns_b);
    let s1 = nstat(&cx.net.ns_a);
    let dropped1 = nft_count(&cx.net.ns_b);
    let cpu = proc_.cpu_secs();
    let text = proc_.stop();
    let mut extra = json!({ "server": exit_report(who, &text) });
    extra["server_cpu_s"] = json!((cpu * 100.0).round() / 100.0);
    extra["bytes"] = json!(file.len);
    extra["limit_s"] = json!(limit.as_secs());
    extra["dropped_by_nft"] = json!(dropped1.saturating_sub(dropped0));
    // Machine CPU-seconds (all CPUs, /proc/stat) per GiB of the file, over
    // the download's window.
    extra["cpu"] = cpu_detail;
    extra["cpu_s_per_gib"] = json!(machine_s / (file.len as f64 / (1u64 << 30) as f64));
    let client: serde_json::Map<String, Value> = CLIENT_KEYS
        .iter()
        .map(|k| (k.to_string(), json!(delta(&c0, &c1, k))))
        .collect();
    extra["client_nstat"] = Value::Object(client);
    let dupes = delta(&c0, &c1, "TcpExtTCPDSACKOldSent") + delta(&c0, &c1, "TcpExtTCPDSACKOfoSent");
    extra["client_dsack_sent"] = json!(dupes);
    let retrans = match who {
        Who::Kernel | Who::KernelReuseport | Who::KernelBusy => {
            let server: serde_json::Map<String, Value> = SERVER_KEYS
                .iter()
                .map(|k| (k.to_string(), json!(delta(&s0, &s1, k))))
                .collect();
            extra["server_nstat"] = Value::Object(server);
            Some(delta(&s0, &s1, "TcpRetransSegs"))
        }
        _ => extra["server"]
            .get("retransmissions")
            .and_then(Value::as_u64),
    };
    extra["sender_retransmissions"] = json!(retrans);
    match r {
        Ok(g) => {
            extra["secs"] = json!(g.secs);
            extra["received_bytes"] = json!(g.bytes);
            extra["received_hash"] = json!(format!("{:016x}", g.hash));
            if g.bytes != file.len || g.hash != file.hash {
                let e = format!(
                    "got {} bytes of {} (hash {:016x}, want {:016x})",
                    g.bytes, file.len, g.hash, file.hash
                );
                res.add(m, &who.name(), fail(e, extra));
            } else {
                let mbit = file.len as f64 * 8.0 / g.secs / 1e6;
                res.add(m, &who.name(), ok(mbit, extra));
            }
        }
        Err(e) => res.add(m, &who.name(), fail(e, extra)),
    }
}

/// Packets dropped so far by the loss rule in `ns` (0 without one).
fn nft_count(ns: &str) -> u64 {
    netns::nft_packets(ns, "netdev", "bench_loss").unwrap_or(0)
}

fn nft(ns: &str, script: &str) -> Result<(), String> {
    netns::run(&mut netns::exec(ns, ["nft", script]))
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// The server's addresses on `cx`'s network: ours (its own) and the
/// kernel's (the veth's).
fn server_ips(cx: &Ctx) -> [std::net::Ipv4Addr; 2] {
    [
        *cx.addr(Who::Ours { workers: 1 }).ip(),
        *cx.addr(Who::Kernel).ip(),
    ]
}

/// Runs every path of `want` (all when `None`), `rounds` rounds each, the
/// first of each round rotating. `go_on` says whether there is time left.
pub fn run(
    cx_main: &Ctx,
    res: &mut Results,
    file: &DlFile,
    want: Option<&[String]>,
    kernel_cc: &str,
    rounds: usize,
    mut go_on: impl FnMut(&mut Results) -> bool,
) {
    let ours = Who::Ours { workers: 1 };
    let both = [ours, Who::Kernel];
    // 120 s each (18 Mbit/s for 256 MiB), more for a larger file.
    let limit = Duration::from_secs(120.max(file.len / (2 << 20)));
    let mut relay_notes = Vec::new();
    for p in &PATHS {
        if want.is_some_and(|w| !w.iter().any(|x| x == p.name)) {
            continue;
        }
        eprintln!(
            "bench-e2e: download {} MiB, {}",
            file.len >> 20,
            p.measure.label
        );
        match p.kind {
            Kind::Veth { offloads } => {
                if let Err(e) = cx_main.net.set_offloads(offloads) {
                    res.notes.push(format!("download {}: ethtool: {e}", p.name));
                    continue;
                }
                for round in 0..rounds {
                    for who in rotate(&both, round) {
                        if !go_on(res) {
                            return;
                        }
                        run_one(cx_main, res, p, who, file, limit, kernel_cc);
                    }
                }
            }
            Kind::Loss { permille } => {
                if let Err(e) = cx_main.net.set_offloads(false) {
                    res.notes.push(format!("download {}: ethtool: {e}", p.name));
                    continue;
                }
                let [a, b] = server_ips(cx_main);
                let script = format!(
                    "table netdev bench_loss {{ chain ingress {{ type filter hook ingress device \"{}\" priority 0; policy accept; ip saddr {{ {a}, {b} }} ip protocol tcp ip length > 100 numgen random mod 1000 < {permille} counter drop; }}; }}",
                    cx_main.net.if_b
                );
                if let Err(e) = nft(&cx_main.net.ns_b, &script) {
                    res.notes.push(format!("download {}: nft: {e}", p.name));
                    continue;
                }
                for round in 0..rounds {
                    for who in rotate(&both, round) {
                        if !go_on(res) {
                            let _ = nft(&cx_main.net.ns_b, "delete table netdev bench_loss");
                            return;
                        }
                        run_one(cx_main, res, p, who, file, limit, kernel_cc);
                    }
                }
                let _ = nft(&cx_main.net.ns_b, "delete table netdev bench_loss");
            }
            Kind::Relay {
                displace_permille,
                displace_by,
                delay_ms,
            } => {
                let imp = Impair {
                    fixed_delay_a_to_b: Duration::from_millis(delay_ms),
                    displace_permille,
                    displace_by,
                    lifetime: Duration::from_secs(3600),
                    ..Impair::default()
                };
                let subnet = 201;
                let (net, mut relay) = match RelayNet::try_new("dl", subnet, imp) {
                    Ok(v) => v,
                    Err(e) => {
                        res.notes.push(format!("download {}: {e}", p.name));
                        continue;
                    }
                };
                let cx = Ctx {
                    net: &net,
                    tun: None,
                    opts: cx_main.opts,
                    subnet,
                    per_source_flag: cx_main.per_source_flag,
                    ingress_flag: cx_main.ingress_flag,
                    ingress6_flag: cx_main.ingress6_flag,
                };
                let mut stopped = false;
                'rounds: for round in 0..rounds {
                    for who in rotate(&both, round) {
                        if !go_on(res) {
                            stopped = true;
                            break 'rounds;
                        }
                        run_one(&cx, res, p, who, file, limit, kernel_cc);
                    }
                }
                let st = relay.stop();
                drop(net);
                drop(relay);
                relay_notes.push(relay_note(p.name, st));
                if stopped {
                    break;
                }
            }
        }
    }
    let _ = cx_main.net.set_offloads(false);
    res.notes.extend(relay_notes);
}

fn relay_note(name: &str, st: Result<RelayStats, String>) -> String {
    match st {
        Ok(s) => format!(
            "download {name}: relay forwarded {} frames, displaced {}, overtaken {}, fixed-delay queue peak {} KiB, {} queue drops, {} send errors",
            s.forwarded,
            s.displaced,
            s.overtaken,
            s.queue_peak_bytes >> 10,
            s.queue_drops,
            s.send_errors
        ),
        Err(e) => format!("download {name}: relay: {e}"),
    }
}

/// The download table: goodput of both with the ratio, and the
/// retransmissions: the sender's own count and the duplicates the client
/// received (its D-SACKs), medians over the runs.
pub fn table(res: &Results, file_len: u64) -> String {
    let rows: Vec<&DlPath> = PATHS
        .iter()
        .filter(|p| res.data.contains_key(p.measure.key))
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    let med = |key: &str, who: &str, field: &str| -> String {
        let Some(runs) = res.data.get(key).and_then(|d| d.get(who)) else {
            return "—".into();
        };
        let mut v: Vec<u64> = runs
            .iter()
            .filter(|s| s.value.is_some())
            .filter_map(|s| s.extra.get(field)?.as_u64())
            .collect();
        if v.is_empty() {
            return "—".into();
        }
        v.sort_unstable();
        let mid = if v.len() % 2 == 1 {
            v[v.len() / 2] as f64
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) as f64 / 2.0
        };
        format!("{mid:.0}")
    };
    // The median of a float field of the good runs.
    let medf = |key: &str, who: &str, field: &str| -> String {
        let mut v: Vec<f64> = res
            .data
            .get(key)
            .and_then(|d| d.get(who))
            .map(|runs| {
                runs.iter()
                    .filter(|s| s.value.is_some())
                    .filter_map(|s| s.extra.get(field)?.as_f64())
                    .collect()
            })
            .unwrap_or_default();
        if v.is_empty() {
            return "—".into();
        }
        v.sort_by(|a, b| a.total_cmp(b));
        let mid = if v.len() % 2 == 1 {
            v[v.len() / 2]
        } else {
            (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
        };
        format!("{mid:.2}")
    };
    let mut out = format!(
        "\n| download {} MiB, path | ours Mbit/s | kernel Mbit/s | ours/kernel | retransmitted: ours | kernel | duplicates at the client: ours | kernel | machine CPU-s/GiB: ours | kernel |\n|---|---|---|---|---|---|---|---|---|---|\n",
        file_len >> 20
    );
    for p in rows {
        let k = p.measure.key;
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            p.measure.label,
            super::cell(res, k, "ours", 0),
            super::cell(res, k, "kernel", 0),
            super::ratio(res, k, "ours", "kernel")
                .map(|v| format!("{v:.2}"))
                .unwrap_or_else(|| "—".into()),
            med(k, "ours", "sender_retransmissions"),
            med(k, "kernel", "sender_retransmissions"),
            med(k, "ours", "client_dsack_sent"),
            med(k, "kernel", "client_dsack_sent"),
            medf(k, "ours", "cpu_s_per_gib"),
            medf(k, "kernel", "cpu_s_per_gib"),
        );
    }
    out
}
