//! Running the real `tcp-server` binary in a private network: two network
//! namespaces joined by a veth pair (`rawnet::netns::TestNet`), the server
//! in namespace a, Linux TCP clients in namespace b. Every wait is bounded;
//! the server is killed by its pid if a test fails; the namespaces are
//! removed on drop, also when a test panics.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rawnet::netns::TestNet;

pub const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");

/// A network, a scratch directory, and the server running in namespace a.
pub struct Harness {
    pub net: TestNet,
    pub dir: PathBuf,
    pub child: Option<Child>,
    pub port: u16,
}

impl Harness {
    /// Makes the network (tag and subnet unique per test) and a scratch dir.
    pub fn new(tag: &str, subnet: u8) -> Harness {
        let net = TestNet::new(tag, subnet).unwrap_or_else(|e| {
            panic!("cannot make the test network (these tests need root): {e}")
        });
        let dir = std::env::temp_dir().join(format!("tcp-server-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Harness {
            net,
            dir,
            child: None,
            port: 3000,
        }
    }

    /// Like [`Harness::new`] on a network the caller made (e.g. one with a
    /// relay between the two ends); `tag` names the scratch dir.
    pub fn with_net(net: TestNet, tag: &str) -> Harness {
        let dir = std::env::temp_dir().join(format!("tcp-server-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("scratch dir");
        Harness {
            net,
            dir,
            child: None,
            port: 3000,
        }
    }

    /// The address the server's own-address mode uses: `198.18.<subnet>.10`.
    pub fn own_addr(&self) -> std::net::Ipv4Addr {
        let o = self.net.addr_a.octets();
        std::net::Ipv4Addr::new(o[0], o[1], o[2], 10)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Starts the server in namespace a on its veth, stdout and stderr to
    /// files, and waits (at most 10 s) for its "listening" line.
    pub fn start(&mut self, args: &[&str]) {
        let out = fs::File::create(self.path("stdout")).expect("stdout file");
        let err = fs::File::create(self.path("stderr")).expect("stderr file");
        let mut cmd = self.net.exec_a([BIN, "-i", &self.net.if_a]);
        cmd.args(args)
            .env("TZ", "UTC")
            .env_remove("NO_COLOR")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err);
        self.child = Some(cmd.spawn().expect("spawn tcp-server"));
        let t0 = Instant::now();
        loop {
            let err = self.stderr();
            if err.contains("listening on") {
                return;
            }
            if let Some(st) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!("tcp-server exited early ({st}):\n{err}");
            }
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "tcp-server did not start in 10 s:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits at most `secs` for the server to exit; kills it and fails if
    /// it does not.
    pub fn wait(&mut self, secs: u64) -> ExitStatus {
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

    /// Sends `sig` to the server (by its pid; `ip netns exec` execs it).
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let pid = self.child.as_ref().expect("server started").id();
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), sig).expect("kill");
    }

    pub fn stdout(&self) -> Vec<u8> {
        fs::read(self.path("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&fs::read(self.path("stderr")).unwrap_or_default()).into_owned()
    }

    /// A Linux TCP client in namespace b: connects to `addr:port`, sends
    /// `data`, shuts down its sending side, and reads until the server's
    /// FIN (at most 5 s). Returns what it read.
    pub fn send(&self, addr: std::net::Ipv4Addr, data: &[u8]) -> std::io::Result<Vec<u8>> {
        let to = SocketAddr::from((addr, self.port));
        let data = data.to_vec();
        self.net
            .run_in_b(move || -> std::io::Result<Vec<u8>> {
                let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
                s.set_read_timeout(Some(Duration::from_secs(5)))?;
                s.set_write_timeout(Some(Duration::from_secs(5)))?;
                s.write_all(&data)?;
                s.shutdown(Shutdown::Write)?;
                let mut back = Vec::new();
                s.read_to_end(&mut back)?;
                Ok(back)
            })
            .expect("run in namespace b")
    }

    /// What tshark reports in `pcap` matching `filter`, checksums checked
    /// (empty when all is well). The payload is test data: it is decoded
    /// as such, so that no heuristic dissector (THRIFT, say) mistakes
    /// random bytes for its protocol and reports its own errors.
    pub fn tshark_problems(filter: &str, pcap: &str) -> String {
        Self::output(Command::new("tshark").args([
            "-r",
            pcap,
            "-o",
            "tcp.check_checksum:TRUE",
            "-o",
            "ip.check_checksum:TRUE",
            "-d",
            "tcp.port==3000,data",
            "-Y",
            filter,
        ]))
    }

    /// Runs a command, returns its stdout; fails on a non-zero status.
    pub fn output(cmd: &mut Command) -> String {
        let out = cmd.stdin(Stdio::null()).output().expect("run command");
        assert!(
            out.status.success(),
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Downloads from `addr` port 3000 with `nc {flags} -d -w {idle}` in
/// namespace `ns` into `out` (at most 3 × `idle` seconds in all); fails the
/// test with nc's stderr if nc does not exit cleanly.
pub fn nc_download(ns: &str, flags: &str, addr: &str, out: &std::path::Path, idle: u64) {
    let nc = rawnet::netns::exec(
        ns,
        [
            "timeout",
            &(3 * idle).to_string(),
            "sh",
            "-c",
            &format!("nc {flags} -d -w {idle} {addr} 3000 > {}", out.display()),
        ],
    )
    .stdin(Stdio::null())
    .output()
    .expect("nc");
    assert!(
        nc.status.success(),
        "nc failed ({}): {}",
        nc.status,
        String::from_utf8_lossy(&nc.stderr)
    );
}

/// Runs `ip ARGS` (iproute2) and fails the test if it fails.
pub fn ip(args: &[&str]) {
    let st = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .status()
        .expect("ip (iproute2)");
    assert!(st.success(), "ip {args:?} failed");
}

/// `sysctl -w KEY` in namespace a (`in_a`) or b; fails the test if it
/// fails.
pub fn sysctl(h: &Harness, in_a: bool, key: &str) {
    let mut cmd = if in_a {
        h.net.exec_a(["sysctl", "-q", "-w", key])
    } else {
        h.net.exec_b(["sysctl", "-q", "-w", key])
    };
    let st = cmd.stdin(Stdio::null()).status().expect("sysctl");
    assert!(st.success(), "sysctl -w {key} failed");
}

/// IPv6 on (no duplicate address detection; `TestNet` makes its
/// namespaces with it off) in namespace b, with `2001:2:0:<subnet>::2/64`
/// on its veth, and, with `in_a`, in namespace a too, with `::1/64`.
pub fn enable_ipv6(h: &Harness, subnet: u8, in_a: bool) {
    let mut ends = vec![(false, &h.net.ns_b, &h.net.if_b, 2)];
    if in_a {
        ends.insert(0, (true, &h.net.ns_a, &h.net.if_a, 1));
    }
    for (a, ns, iface, host) in ends {
        for key in [
            "net.ipv6.conf.all.accept_dad=0".to_string(),
            "net.ipv6.conf.default.accept_dad=0".to_string(),
            format!("net.ipv6.conf.{iface}.accept_dad=0"),
            "net.ipv6.conf.all.disable_ipv6=0".to_string(),
            "net.ipv6.conf.default.disable_ipv6=0".to_string(),
            format!("net.ipv6.conf.{iface}.disable_ipv6=0"),
        ] {
            sysctl(h, a, &key);
        }
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("2001:2:0:{subnet}::{host}/64"),
            "dev",
            iface,
            "nodad",
        ]);
    }
}
