//! End to end on a TUN device (issue #17, needs root): `tcp-server --tun
//! tcps0 --ip 198.18.77.1` in a network namespace of the test's own, the
//! endpoint on `Medium::Ip` (bare IPv4 packets, no ARP), and a Linux TCP
//! client in the same namespace, routed to the device by the route the
//! server installs (`198.18.77.1/32 dev tcps0`). The kernel's own address
//! for the connection is 198.18.77.2 on `lo` (any address it can send
//! from would do). Subnet 198.18.77; everything lives in the namespace and
//! goes with it, also when a test fails; every wait is bounded.

mod support;

use std::fs;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rawnet::netns::TestNs;

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");
const SERVER: Ipv4Addr = Ipv4Addr::new(198, 18, 77, 1);
const KERNEL: &str = "198.18.77.2/32";
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
        let ns = TestNs::new(tag).expect("namespace (these tests need root)");
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
        let mut cmd = s.ns.exec([BIN, "--tun", DEV, "--ip", &SERVER.to_string()]);
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
        let to = SocketAddr::from((SERVER, PORT));
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
/// and the route the server added through it is deleted on exit.
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
    let mut cmd = s.ns.exec([
        BIN,
        "--tun",
        DEV,
        "--ip",
        &SERVER.to_string(),
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
    let route = |s: &TunServer| {
        let out =
            s.ns.exec(["ip", "route", "show", "198.18.77.1/32", "dev", DEV])
                .output()
                .expect("ip route show");
        !out.stdout.is_empty()
    };
    assert!(route(&s), "the server routes its address to {DEV}");
    s.client(b"Hello".to_vec(), 5).expect("the session");
    let st = s.wait(10);
    assert!(st.success(), "exit {st}: {}", s.stderr());
    assert_eq!(s.stdout(), b"Hello");
    assert!(s.device_exists(), "the persistent {DEV} was removed");
    assert!(!route(&s), "the route through {DEV} was left behind");
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
    const CLIENT_BIN: &str = env!("CARGO_BIN_EXE_tcp-client");
    let ns = TestNs::new("tunc").expect("namespace (these tests need root)");
    let st = ns
        .exec(["ip", "addr", "add", "198.18.78.2/32", "dev", "lo"])
        .status()
        .expect("ip addr add");
    assert!(st.success());
    // The Linux server: a listener made in the namespace, served on a
    // thread here (the socket stays in its namespace), bounded in time.
    let listener = ns
        .run_in(|| std::net::TcpListener::bind("198.18.78.2:4000"))
        .expect("run in the namespace")
        .expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let server = std::thread::spawn(move || -> std::io::Result<usize> {
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
    let dir = std::env::temp_dir().join(format!("tcp-client-{}-tunc", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    fs::write(dir.join("stdin"), &data).expect("stdin file");
    let mut child = ns
        .exec([
            CLIENT_BIN,
            "--tun",
            "tcpc0",
            "--ip",
            "198.18.78.1",
            "198.18.78.2",
            "4000",
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
    let served = server.join().expect("server thread");
    assert_eq!(served.expect("the Linux server"), data.len());
    assert_eq!(
        support::hex(&support::sha256(&out)),
        support::hex(&support::sha256(&data)),
        "what came back; stderr:\n{err}"
    );
    let gone = !ns
        .exec(["ip", "link", "show", "tcpc0"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(gone, "tcpc0 left behind");
}
