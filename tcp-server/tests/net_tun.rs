//! End to end on a TUN device (issue #17, needs root): `tcp-server --tun
//! tcps0 --ip 198.18.77.1` (and `--ip 2001:2:0:77::1`, or both) in a
//! network namespace of the test's own, the endpoint on `Medium::Ip` (bare
//! IPv4 and IPv6 packets, no ARP, no NDP), and Linux TCP clients in the
//! same namespace, routed to the device by the routes the server installs
//! (`198.18.77.1/32 dev tcps0`, `2001:2:0:77::1/128 dev tcps0`). The
//! kernel's own addresses for the connections are 198.18.77.2 and
//! 2001:2:0:77::2 on `lo` (any address it can send from would do).
//! Subnets 198.18.77-78 and 2001:2:0:77-78::/64; everything lives in the
//! namespace and goes with it, also when a test fails; every wait is
//! bounded.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rawnet::netns::TestNs;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 1);
const KERNEL: &str = "198.18.77.2/32";
const SERVER6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0x77, 0, 0, 0, 1);
const KERNEL6: &str = "2001:2:0:77::2/128";
const DEV: &str = "tcps0";
const PORT: u16 = 3000;

/// The server in a namespace of its own. Field order is drop order: the
/// server is killed (if still running) before the namespace goes.
struct TunServer {
    child: Option<Child>,
    dir: PathBuf,
    ns: TestNs,
}

impl TunServer {
    /// A namespace with the kernel's address on `lo`, and the server started
    /// in it with `args` after `--tun tcps0 --ip 198.18.77.1`, once it says
    /// it listens (at most 10 s).
    fn start(tag: &str, args: &[&str]) -> TunServer {
        TunServer::start_at(tag, &[IpAddr::V4(SERVER)], args)
    }

    /// As [`start`](Self::start), with `--ip` each of `ips` (198.18.77.1,
    /// 2001:2:0:77::1, or both); the kernel's addresses of both families
    /// are on `lo` (IPv6 on in the namespace, no DAD).
    fn start_at(tag: &str, ips: &[IpAddr], args: &[&str]) -> TunServer {
        let ns = TestNs::new(tag).expect("namespace (these tests need root)");
        ipv6_on(&ns);
        let dir = std::env::temp_dir().join(format!("tcp-server-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        let mut s = TunServer {
            child: None,
            dir,
            ns,
        };
        let st =
            s.ns.exec(["ip", "addr", "add", KERNEL, "dev", "lo"])
                .status()
                .expect("ip addr add");
        assert!(st.success(), "ip addr add {KERNEL} dev lo: {st}");
        let out = fs::File::create(s.dir.join("stdout")).expect("stdout file");
        let err = fs::File::create(s.dir.join("stderr")).expect("stderr file");
        let mut cmd = s.ns.exec([BIN, "--tun", DEV]);
        for ip in ips {
            cmd.args(["--ip", &ip.to_string()]);
        }
        cmd.args(args)
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        s.child = Some(cmd.spawn().expect("spawn tcp-server"));
        let t0 = Instant::now();
        loop {
            let err = s.stderr();
            if err.contains("listening on") {
                return s;
            }
            if let Some(st) = s.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!("tcp-server exited early ({st}):\n{err}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "tcp-server did not start in 10 s:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stdout(&self) -> Vec<u8> {
        fs::read(self.dir.join("stdout")).unwrap_or_default()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.dir.join("stderr")).unwrap_or_default()).into_owned()
    }

    /// Waits at most `secs` for the server to exit; kills it and fails if
    /// it does not.
    fn wait(&mut self, secs: u64) -> ExitStatus {
        let t0 = Instant::now();
        let child = self.child.as_mut().expect("server started");
        loop {
            if let Some(st) = child.try_wait().expect("try_wait") {
                self.child = None;
                return st;
            }
            if t0.elapsed() > Duration::from_secs(secs) {
                let _ = child.kill();
                let _ = child.wait();
                self.child = None;
                panic!(
                    "tcp-server did not exit within {secs} s; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// A Linux TCP client in the namespace: connects, sends `data`, shuts
    /// down its side, reads to the server's FIN (each step at most
    /// `secs`); returns what it read.
    fn client(&self, data: Vec<u8>, secs: u64) -> std::io::Result<Vec<u8>> {
        self.client_to(IpAddr::V4(SERVER), data, secs)
    }

    /// [`client`](Self::client) to the server's address `ip`.
    fn client_to(&self, ip: IpAddr, data: Vec<u8>, secs: u64) -> std::io::Result<Vec<u8>> {
        let to = SocketAddr::new(ip, PORT);
        self.ns
            .run_in(move || -> std::io::Result<Vec<u8>> {
                let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
                s.set_read_timeout(Some(Duration::from_secs(secs)))?;
                s.set_write_timeout(Some(Duration::from_secs(secs)))?;
                s.write_all(&data)?;
                s.shutdown(Shutdown::Write)?;
                let mut back = Vec::new();
                s.read_to_end(&mut back)?;
                Ok(back)
            })
            .expect("run in the namespace")
    }

    /// Whether the TUN device still exists in the namespace.
    fn device_exists(&self) -> bool {
        self.ns
            .exec(["ip", "link", "show", DEV])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// IPv6 on in namespace `ns` for `lo`, and the kernel's IPv6 address
/// on it, 2001:2:0:77::2 (`nodad`: usable at once); but off for devices
/// made later (`default.disable_ipv6=1`, as on hosts that turn IPv6 off):
/// the TUN device comes up without IPv6, and the server or client must
/// turn it on for its IPv6 address (`TunDevice::enable_ipv6`).
fn ipv6_on(ns: &TestNs) {
    for key in [
        "net.ipv6.conf.all.disable_ipv6=0",
        "net.ipv6.conf.lo.disable_ipv6=0",
        "net.ipv6.conf.default.disable_ipv6=1",
    ] {
        let st = ns
            .exec(["sysctl", "-q", "-w", key])
            .stdin(Stdio::null())
            .status()
            .expect("sysctl");
        assert!(st.success(), "sysctl -w {key}: {st}");
    }
    let st = ns
        .exec(["ip", "addr", "add", KERNEL6, "dev", "lo", "nodad"])
        .status()
        .expect("ip addr add");
    assert!(st.success(), "ip addr add {KERNEL6} dev lo: {st}");
}

impl Drop for TunServer {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// "Hello" from a Linux client through the kernel's route to the TUN
/// device: the server (print mode, `-s`) prints it and exits 0 after the
/// clean close; the device it made and the route through it are gone
/// after it.
#[test]
fn tun_hello_from_linux_client() {
    let mut s = TunServer::start("tunh", &["--mode", "print", "-s", "-d"]);
    assert!(s.device_exists(), "the server made {DEV}");
    let back = s.client(b"Hello".to_vec(), 5).expect("the session");
    assert!(back.is_empty());
    let st = s.wait(10);
    let err = s.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(s.stdout(), b"Hello", "stderr:\n{err}");
    assert!(err.contains("TUN device"), "stderr:\n{err}");
    // The trace shows bare IP packets as tcpdump does, and no ARP.
    assert!(
        err.contains("IP 198.18.77.2.") && err.contains("Flags [S.]"),
        "stderr:\n{err}"
    );
    assert!(!err.contains(" ARP, "), "ARP on a TUN device:\n{err}");
    assert!(
        !s.device_exists(),
        "{DEV} left behind after the server exited"
    );
}

/// A persistent device made before (`ip tuntap add`) is used and kept,
/// and the routes the server added through it (`--ip` of both families,
/// `/32` and `/128`) are deleted on exit.
#[test]
fn tun_persistent_device_kept_route_removed() {
    let ns = TestNs::new("tunp").expect("namespace (these tests need root)");
    let st = ns
        .exec(["ip", "tuntap", "add", "dev", DEV, "mode", "tun"])
        .status()
        .expect("ip tuntap add");
    assert!(st.success(), "ip tuntap add: {st}");
    // The namespace (and the device with it) goes when `ns` drops, after
    // the server: `TunServer::start` makes its own namespace, so start
    // this one by hand in `ns`.
    let mut s = TunServer {
        child: None,
        dir: std::env::temp_dir().join(format!("tcp-server-{}-tunp", std::process::id())),
        ns,
    };
    let _ = fs::remove_dir_all(&s.dir);
    fs::create_dir_all(&s.dir).expect("scratch dir");
    let st =
        s.ns.exec(["ip", "addr", "add", KERNEL, "dev", "lo"])
            .status()
            .expect("ip addr add");
    assert!(st.success());
    ipv6_on(&s.ns);
    let mut cmd = s.ns.exec([
        BIN,
        "--tun",
        DEV,
        "--ip",
        &SERVER.to_string(),
        "--ip",
        &SERVER6.to_string(),
        "--mode",
        "print",
        "-s",
    ]);
    cmd.stdin(Stdio::null())
        .stdout(fs::File::create(s.dir.join("stdout")).expect("stdout"))
        .stderr(fs::File::create(s.dir.join("stderr")).expect("stderr"));
    s.child = Some(cmd.spawn().expect("spawn tcp-server"));
    let t0 = Instant::now();
    while !s.stderr().contains("listening on") {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "not listening in 10 s:\n{}",
            s.stderr()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let route = |s: &TunServer| s.route("198.18.77.1/32") && s.route("2001:2:0:77::1/128");
    let any_route = |s: &TunServer| s.route("198.18.77.1/32") || s.route("2001:2:0:77::1/128");
    assert!(route(&s), "the server routes its address to {DEV}");
    s.client_to(V6, b"Hello".to_vec(), 5).expect("the session");
    let st = s.wait(10);
    assert!(st.success(), "exit {st}: {}", s.stderr());
    assert_eq!(s.stdout(), b"Hello");
    assert!(s.device_exists(), "the persistent {DEV} was removed");
    assert!(!any_route(&s), "a route through {DEV} was left behind");
}

/// An upload of 4 MiB, printed by the server, hashed on both sides; then
/// the echo mode sends 1 MiB back unchanged.
#[test]
fn tun_upload_and_echo_hashed() {
    let len = 4 << 20;
    let data = support::data(len, 77);
    let mut s = TunServer::start("tunu", &["--mode", "print", "-s"]);
    let back = s.client(data.clone(), 20).expect("the upload");
    assert!(back.is_empty());
    let st = s.wait(20);
    let err = s.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let out = s.stdout();
    assert_eq!(out.len(), len, "stderr:\n{err}");
    assert_eq!(
        support::hex(&support::sha256(&out)),
        support::hex(&support::sha256(&data)),
        "the upload's bytes"
    );
    drop(s);

    let data = support::data(1 << 20, 78);
    let mut s = TunServer::start("tune", &["--mode", "echo", "-s"]);
    let back = s.client(data.clone(), 20).expect("the echo session");
    let st = s.wait(20);
    let err = s.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert_eq!(back.len(), data.len(), "stderr:\n{err}");
    assert_eq!(
        support::hex(&support::sha256(&back)),
        support::hex(&support::sha256(&data)),
        "the echoed bytes"
    );
}

/// `tcp-client --tun`: the client on a TUN device (`Medium::Ip`: its SYN
/// goes at once, no ARP) against a Linux TCP echo server of the same
/// namespace, which the kernel reaches through the route the client
/// installs to its own address; 256 KiB go there and back, hashed.
#[test]
fn tun_client_against_linux_server() {
    tun_client_against("tunc", "198.18.78.1", "198.18.78.2", 32);
}

/// `tcp-client --tun tcpc0 --ip 2001:2:0:78::1 2001:2:0:78::2 4000`: the
/// same over IPv6 (the client routes `2001:2:0:78::1/128` to its device;
/// no neighbor discovery on a TUN device).
#[test]
fn tun6_client_against_linux_server() {
    tun_client_against("t6c", "2001:2:0:78::1", "2001:2:0:78::2", 128);
}

/// `tcp-client --tun tcpc0 --ip OWN SERVER 4000` in namespace `tag`, with
/// SERVER (`/len`) on `lo` and a Linux echo server bound to it.
fn tun_client_against(tag: &str, own: &str, server: &str, len: u8) {
    const CLIENT_BIN: &str = env!("CARGO_BIN_EXE_tcp-client");
    let ns = TestNs::new(tag).expect("namespace (these tests need root)");
    if len == 128 {
        ipv6_on(&ns);
    }
    let cidr = format!("{server}/{len}");
    let mut add = ns.exec(["ip", "addr", "add", &cidr, "dev", "lo"]);
    if len == 128 {
        add.arg("nodad");
    }
    assert!(add.status().expect("ip addr add").success(), "{cidr}");
    let at = SocketAddr::new(server.parse().expect("address"), 4000);
    // The Linux server: a listener made in the namespace, served on a
    // thread here (the socket stays in its namespace), bounded in time.
    let listener = ns
        .run_in(move || std::net::TcpListener::bind(at))
        .expect("run in the namespace")
        .expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let linux = std::thread::spawn(move || -> std::io::Result<usize> {
        let t0 = Instant::now();
        let mut s = loop {
            match listener.accept() {
                Ok((s, _)) => break s,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    if t0.elapsed() > Duration::from_secs(10) {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        s.set_nonblocking(false)?;
        s.set_read_timeout(Some(Duration::from_secs(10)))?;
        s.set_write_timeout(Some(Duration::from_secs(10)))?;
        let mut got = Vec::new();
        s.read_to_end(&mut got)?;
        s.write_all(&got)?;
        s.shutdown(Shutdown::Write)?;
        Ok(got.len())
    });
    let data = support::data(256 << 10, 79);
    let dir = std::env::temp_dir().join(format!("tcp-client-{}-{tag}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    fs::write(dir.join("stdin"), &data).expect("stdin file");
    let mut child = ns
        .exec([
            CLIENT_BIN, "--tun", "tcpc0", "--ip", own, server, "4000", "-d", "--color", "never",
        ])
        .stdin(fs::File::open(dir.join("stdin")).expect("stdin"))
        .stdout(fs::File::create(dir.join("stdout")).expect("stdout"))
        .stderr(fs::File::create(dir.join("stderr")).expect("stderr"))
        .spawn()
        .expect("spawn tcp-client");
    let t0 = Instant::now();
    let st = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break Some(st);
        }
        if t0.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = fs::read(dir.join("stdout")).unwrap_or_default();
    let err =
        String::from_utf8_lossy(&fs::read(dir.join("stderr")).unwrap_or_default()).into_owned();
    let _ = fs::remove_dir_all(&dir);
    let st = st.unwrap_or_else(|| panic!("tcp-client did not exit in 20 s:\n{err}"));
    assert!(st.success(), "exit {st}: {err}");
    let served = linux.join().expect("server thread");
    assert_eq!(served.expect("the Linux server"), data.len());
    assert_eq!(
        support::hex(&support::sha256(&out)),
        support::hex(&support::sha256(&data)),
        "what came back; stderr:\n{err}"
    );
    // The trace: bare packets of the family, as tcpdump prints them.
    let ip = if len == 128 { "IP6" } else { "IP" };
    assert!(
        err.contains("Flags [S.]") && err.contains(&format!(" {ip} {own}.")),
        "no `{ip} {own}.` line:\n{err}"
    );
    let gone = !ns
        .exec(["ip", "link", "show", "tcpc0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(gone, "tcpc0 left behind");
}

const V4: IpAddr = IpAddr::V4(SERVER);
const V6: IpAddr = IpAddr::V6(SERVER6);

impl TunServer {
    /// SIGTERM to the server (it closes its connections and exits).
    fn term(&self) {
        if let Some(c) = &self.child {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
    }

    /// The exit status (at most `secs`), asserted 0, and the summary.
    fn finish(&mut self, test: &str, secs: u64) -> support::Summary {
        let st = self.wait(secs);
        let err = self.stderr();
        assert!(st.success(), "{test}: exit {st}: {err}");
        support::Summary::parse(&err).unwrap_or_else(|| panic!("{test}: no summary:\n{err}"))
    }

    /// Whether the kernel has the route `cidr dev tcps0`.
    fn route(&self, cidr: &str) -> bool {
        let out = self
            .ns
            .exec(["ip", family(cidr), "route", "show", cidr, "dev", DEV])
            .output()
            .expect("ip route show");
        !out.stdout.is_empty()
    }
}

/// `-6` for an IPv6 address or prefix, else `-4` (`ip` takes IPv4 unless
/// told).
fn family(addr: &str) -> &'static str {
    if addr.contains(':') {
        "-6"
    } else {
        "-4"
    }
}

/// `nc -6` says "Hello" to `tcp-server --tun tcps0 --ip 2001:2:0:77::1`
/// (print mode, `-s`) through the kernel's route `2001:2:0:77::1/128 dev
/// tcps0`: printed, exit 0; the announced MSS is the MTU less 60, the SYN
/// ACK carries it, the trace shows bare IPv6 packets and no neighbor
/// discovery; device and route are gone after.
#[test]
fn tun6_hello_with_nc() {
    let t0 = Instant::now();
    let mut s = TunServer::start_at("t6h", &[V6], &["--mode", "print", "-s", "-d"]);
    let err = s.stderr();
    assert!(
        err.contains("listening on [2001:2:0:77::1]:3000 on tcps0") && err.contains("MSS 1440"),
        "{err}"
    );
    assert!(s.route("2001:2:0:77::1/128"), "no IPv6 route to the server");
    let mut nc =
        s.ns.exec(["nc", "-6", "-N", "-w", "5", "2001:2:0:77::1", "3000"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("nc (netcat-openbsd)");
    nc.stdin
        .take()
        .expect("stdin")
        .write_all(b"Hello")
        .expect("write to nc");
    let st = s.wait(15);
    let _ = nc.kill();
    let out = nc.wait_with_output().expect("nc");
    let err = s.stderr();
    assert!(
        st.success(),
        "exit {st}: {err}\nnc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(s.stdout(), b"Hello", "stderr:\n{err}");
    assert!(
        err.contains("IP6 2001:2:0:77::2.") && err.contains("Flags [S.]"),
        "stderr:\n{err}"
    );
    let synack = err
        .lines()
        .find(|l| l.starts_with("TX ") && l.contains("Flags [S.]"))
        .expect("SYN-ACK line");
    assert!(synack.contains("mss 1440"), "{synack}");
    assert!(
        !err.contains("neighbor solicitation, who has 2001:2:0:77::"),
        "NDP on TUN:\n{err}"
    );
    assert!(!s.device_exists(), "{DEV} left behind");
    support::note("tun6_hello_with_nc", "Hello printed", t0);
}

/// Uploads 64 MiB to `--ip ip` in print mode (`-s`): stdout's SHA-256 is
/// the client's, one normal close.
fn upload_64_mib(tag: &str, ip: IpAddr, test: &str) {
    const LEN: u64 = 64 << 20;
    let t0 = Instant::now();
    let mut s = TunServer::start_at(tag, &[ip], &["--mode", "print", "-s"]);
    let to = SocketAddr::new(ip, PORT);
    let up =
        s.ns.run_in(move || support::upload(to, LEN, 64, 30))
            .expect("run in the namespace")
            .unwrap_or_else(|e| panic!("{test}: client: {e}\n{}", s.stderr()));
    let sum = s.finish(test, 30);
    let (n, got) = support::sha256_file(&s.dir.join("stdout")).expect("hash stdout");
    assert_eq!(n, LEN, "{test}: {}", s.stderr());
    assert_eq!(
        support::hex(&got),
        support::hex(&up.sent),
        "{test}: payload differs"
    );
    assert!(sum.all_normal(1), "{test}: {sum:?}");
    eprintln!(
        "[{test}] 64 MiB in {:.2} s, {:.0} MB/s: {sum:?}",
        up.elapsed.as_secs_f64(),
        LEN as f64 / up.elapsed.as_secs_f64() / 1e6
    );
    support::note(test, "64 MiB intact", t0);
}

/// 64 MiB uploaded over TUN, IPv4, hashed.
#[test]
fn tun_upload_64_mib_hashed() {
    upload_64_mib("t4u", V4, "tun_upload_64_mib_hashed");
}

/// 64 MiB uploaded over TUN, IPv6, hashed.
#[test]
fn tun6_upload_64_mib_hashed() {
    upload_64_mib("t6u", V6, "tun6_upload_64_mib_hashed");
}

/// Echo mode (`-s`) on `--ip ip`: `len` bytes come back intact.
fn echo_hashed(s: &mut TunServer, ip: IpAddr, len: u64, seed: u64, test: &str) {
    let to = SocketAddr::new(ip, PORT);
    let e =
        s.ns.run_in(move || support::echo(to, len, seed, 30))
            .expect("run in the namespace")
            .unwrap_or_else(|e| panic!("{test}: client: {e}\n{}", s.stderr()));
    let sum = s.finish(test, 30);
    assert_eq!(e.got_len, len, "{test}: {}", s.stderr());
    assert_eq!(
        support::hex(&e.got),
        support::hex(&e.sent),
        "{test}: echo differs"
    );
    assert!(sum.all_normal(1), "{test}: {sum:?}");
    eprintln!(
        "[{test}] echo of {} MiB in {:.2} s: {sum:?}",
        len >> 20,
        e.elapsed.as_secs_f64()
    );
}

/// 16 MiB echoed over TUN, IPv6 (sent and received at once, both hashed).
#[test]
fn tun6_echo_16_mib_hashed() {
    let t0 = Instant::now();
    let mut s = TunServer::start_at("t6e", &[V6], &["--mode", "echo", "-s"]);
    echo_hashed(&mut s, V6, 16 << 20, 66, "tun6_echo_16_mib_hashed");
    support::note("tun6_echo_16_mib_hashed", "16 MiB echoed", t0);
}

/// Connections at once in [`many_connections`].
const CONNS: usize = 100;
/// Bytes each of them sends and gets back.
const EACH: u64 = 64 << 10;

/// Echo mode on `--ip ip`: [`CONNS`] clients, each on its own thread,
/// all connect first (a bounded rendezvous: the server holds them all at
/// once), then each sends [`EACH`] bytes, half-closes and reads to the
/// server's FIN; every client gets back exactly what it sent (SHA-256
/// each), and the summary counts [`CONNS`] normal closes.
fn many_connections(tag: &str, ip: IpAddr, test: &str) {
    let t0 = Instant::now();
    let mut s = TunServer::start_at(tag, &[ip], &["--mode", "echo"]);
    let to = SocketAddr::new(ip, PORT);
    let arrived = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..CONNS)
        .map(|i| {
            let arrived = arrived.clone();
            rawnet::netns::spawn_in_ns(&s.ns.name, move || -> std::io::Result<_> {
                let c = support::connect(to, 20);
                arrived.fetch_add(1, Ordering::SeqCst);
                let mut c = c?;
                let t0 = Instant::now();
                while arrived.load(Ordering::SeqCst) < CONNS
                    && t0.elapsed() < Duration::from_secs(20)
                {
                    std::thread::sleep(Duration::from_millis(5));
                }
                let sent = support::write_stream(&mut c, EACH, 1000 + i as u64)?;
                c.shutdown(Shutdown::Write)?;
                let (n, got) = support::read_stream(&mut c)?;
                Ok((sent, got, n))
            })
            .expect("client thread")
        })
        .collect();
    for (i, t) in threads.into_iter().enumerate() {
        let (sent, got, n) = t
            .join()
            .expect("client thread panicked")
            .expect("enter the namespace")
            .unwrap_or_else(|e| panic!("{test}: client {i}: {e}\n{}", s.stderr()));
        assert_eq!(n, EACH, "{test}: client {i} got {n} bytes back");
        assert_eq!(
            support::hex(&got),
            support::hex(&sent),
            "{test}: client {i}"
        );
    }
    // The clients saw the server's FIN; let their last ACKs land.
    std::thread::sleep(Duration::from_millis(300));
    s.term();
    let sum = s.finish(test, 15);
    assert!(
        sum.all_normal(CONNS as u64),
        "{test}: {sum:?}\n{}",
        s.stderr()
    );
    assert_eq!(sum.bytes, CONNS as u64 * EACH, "{test}: {sum:?}");
    support::note(test, &format!("{CONNS} connections echoed"), t0);
}

/// 100 concurrent echo connections over TUN, IPv4.
#[test]
fn tun_100_connections() {
    many_connections("t4m", V4, "tun_100_connections");
}

/// 100 concurrent echo connections over TUN, IPv6.
#[test]
fn tun6_100_connections() {
    many_connections("t6m", V6, "tun6_100_connections");
}

/// 1 % of the TCP packets through the TUN device dropped at random both
/// ways (nftables in the namespace: `output` on their way to the device,
/// `prerouting` on their way from it; `gso_max_segs 1` on the device, so
/// that a packet is one segment): 8 MiB echoed intact (8 MiB up and 8 MiB
/// down at once, each hashed), and packets were in fact dropped both ways.
fn loss_echo(tag: &str, ip: IpAddr, test: &str) {
    let t0 = Instant::now();
    let mut s = TunServer::start_at(tag, &[ip], &["--mode", "echo", "-s"]);
    let st =
        s.ns.exec(["ip", "link", "set", "dev", DEV, "gso_max_segs", "1"])
            .status()
            .expect("ip link set");
    assert!(st.success(), "ip link set {DEV} gso_max_segs 1: {st}");
    support::impair::nft(
        &s.ns.name,
        &format!(
            "table inet tun_loss {{
  chain out {{ type filter hook output priority 0; policy accept;
    oifname \"{DEV}\" meta l4proto tcp numgen random mod 100 < 1 counter drop
  }}
  chain pre {{ type filter hook prerouting priority 0; policy accept;
    iifname \"{DEV}\" meta l4proto tcp numgen random mod 100 < 1 counter drop
  }}
}}
"
        ),
    );
    echo_hashed(&mut s, ip, 8 << 20, 88, test);
    let out =
        s.ns.exec(["nft", "list", "table", "inet", "tun_loss"])
            .output()
            .expect("nft list");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let counts: Vec<u64> = text
        .split("packets ")
        .skip(1)
        .filter_map(|t| t.split_whitespace().next()?.parse().ok())
        .collect();
    assert_eq!(counts.len(), 2, "{text}");
    assert!(
        counts.iter().all(|&n| n >= 5),
        "{test}: too few drops each way: {counts:?}"
    );
    eprintln!(
        "[{test}] dropped to the server {}, from it {}",
        counts[0], counts[1]
    );
    support::note(test, "8 MiB echoed through 1 % loss", t0);
}

/// 1 % loss both ways over TUN, IPv4: 8 MiB echoed intact.
#[test]
fn tun_loss_1pct_echo() {
    loss_echo("t4l", V4, "tun_loss_1pct_echo");
}

/// 1 % loss both ways over TUN, IPv6: 8 MiB echoed intact.
#[test]
fn tun6_loss_1pct_echo() {
    loss_echo("t6l", V6, "tun6_loss_1pct_echo");
}

/// Dual stack on one TUN server (`--ip 198.18.77.1 --ip 2001:2:0:77::1`,
/// echo mode): a 4 MiB echo over each family at the same time, both
/// intact; both routes in place while it runs; `ping` of each address
/// answered (ICMP and ICMPv6 echo, bare).
#[test]
fn tun_dual_stack() {
    let t0 = Instant::now();
    let mut s = TunServer::start_at("t46", &[V4, V6], &["--mode", "echo"]);
    let err = s.stderr();
    assert!(
        err.contains("listening on 198.18.77.1:3000 and [2001:2:0:77::1]:3000 on tcps0")
            && err.contains("MSS 1460 (IPv6 1440)"),
        "{err}"
    );
    assert!(s.route("198.18.77.1/32") && s.route("2001:2:0:77::1/128"));
    const LEN: u64 = 4 << 20;
    let runs: Vec<_> = [V4, V6]
        .into_iter()
        .enumerate()
        .map(|(i, ip)| {
            let to = SocketAddr::new(ip, PORT);
            rawnet::netns::spawn_in_ns(&s.ns.name, move || {
                support::echo(to, LEN, 46 + i as u64, 20)
            })
            .expect("client thread")
        })
        .collect();
    for (ip, r) in [V4, V6].into_iter().zip(runs) {
        let e = r
            .join()
            .expect("client panicked")
            .expect("enter the namespace")
            .unwrap_or_else(|e| panic!("echo to {ip}: {e}\n{}", s.stderr()));
        assert_eq!(e.got_len, LEN, "{ip}");
        assert_eq!(
            support::hex(&e.got),
            support::hex(&e.sent),
            "echo to {ip} differs"
        );
    }
    for addr in ["198.18.77.1", "2001:2:0:77::1"] {
        let out =
            s.ns.exec(["ping", "-n", "-c", "1", "-W", "2", addr])
                .stdin(Stdio::null())
                .output()
                .expect("ping (iputils-ping)");
        assert!(out.status.success(), "ping {addr}: {out:?}\n{}", s.stderr());
    }
    std::thread::sleep(Duration::from_millis(200));
    s.term();
    let sum = s.finish("tun_dual_stack", 15);
    assert!(sum.all_normal(2), "{sum:?}\n{}", s.stderr());
    let err = s.stderr();
    assert!(err.contains("2 echo replies sent"), "{err}");
    support::note("tun_dual_stack", "both families echoed", t0);
}
