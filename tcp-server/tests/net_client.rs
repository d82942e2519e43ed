//! `tcp-client`, the reference client, end to end (needs root): against a
//! Linux server (std `TcpListener` in the other namespace of a veth pair)
//! and against `tcp-server --mode echo`, data hashed both ways; a refused
//! connection; usage errors and the one-line errors. Subnets 198.18.150
//! to 198.18.152. Every wait is bounded; a client still running at its
//! bound is killed and the test fails; the namespaces go on drop.

mod common;
mod support;

use std::fs::File;
use std::io::{self, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

use common::Harness;
use rawnet::netns::TestNet;
use support::{read_stream, sha256_file, write_stream, Hash};

const CLIENT: &str = env!("CARGO_BIN_EXE_tcp-client");

/// What a client run left: its exit status, the SHA-256 and length of its
/// stdout, and its stderr.
struct Run {
    status: ExitStatus,
    out: (u64, Hash),
    err: String,
}

/// Runs `cmd` (a `tcp-client` command) with stdin from `input` and stdout
/// and stderr to files in `dir`; kills it and fails if it runs longer than
/// `secs`.
fn run_client(mut cmd: Command, input: &Path, dir: &Path, secs: u64) -> Run {
    let (out, err) = (dir.join("client.out"), dir.join("client.err"));
    let mut child = cmd
        .env("TZ", "UTC")
        .stdin(File::open(input).expect("input file"))
        .stdout(File::create(&out).expect("stdout file"))
        .stderr(File::create(&err).expect("stderr file"))
        .spawn()
        .expect("spawn tcp-client");
    let t0 = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if t0.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "tcp-client did not exit within {secs} s; stderr:\n{}",
                std::fs::read_to_string(&err).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        out: sha256_file(&out).expect("client stdout"),
        err: std::fs::read_to_string(&err).unwrap_or_default(),
    }
}

/// `len` bytes of stream `seed` in the file `path`; their SHA-256.
fn input_file(path: &Path, len: u64, seed: u64) -> Hash {
    let mut f = io::BufWriter::new(File::create(path).expect("input file"));
    let h = write_stream(&mut f, len, seed).expect("write input");
    f.flush().expect("flush input");
    h
}

/// A scratch directory for one test, removed on drop.
struct Scratch(std::path::PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let d = std::env::temp_dir().join(format!("tcp-client-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("scratch dir");
        Scratch(d)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Accepts one connection on `l` within `secs`.
fn accept_within(l: &TcpListener, secs: u64) -> io::Result<TcpStream> {
    l.set_nonblocking(true)?;
    let t0 = Instant::now();
    loop {
        match l.accept() {
            Ok((s, _)) => {
                s.set_nonblocking(false)?;
                s.set_read_timeout(Some(Duration::from_secs(30)))?;
                s.set_write_timeout(Some(Duration::from_secs(30)))?;
                return Ok(s);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if t0.elapsed() > Duration::from_secs(secs) {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, "no connection"));
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Issue #15: "`tcp-client` moves 32 MiB to a Linux server intact over
/// veth". The Linux server reads to our FIN, then answers 1 MiB and closes:
/// the client sends all of stdin, closes its side, receives the reply in
/// FIN-WAIT-2 and exits 0 once both sides are closed. Both directions are
/// compared by SHA-256.
#[test]
fn moves_32_mib_to_a_linux_server_and_gets_the_reply() {
    const UP: u64 = 32 << 20;
    const DOWN: u64 = 1 << 20;
    let net = TestNet::new("ctl", 150).expect("test network (needs root)");
    let dir = Scratch::new("ctl");
    let sent = input_file(&dir.0.join("in"), UP, 1);
    let at = SocketAddr::from((net.addr_b, 4000));
    let listener = net
        .run_in_b(move || TcpListener::bind(at))
        .expect("run in namespace b")
        .expect("bind in namespace b");
    let server = std::thread::spawn(move || -> io::Result<((u64, Hash), Hash)> {
        let mut s = accept_within(&listener, 30)?;
        let got = read_stream(&mut s)?;
        let reply = write_stream(&mut s, DOWN, 2)?;
        s.shutdown(Shutdown::Write)?;
        Ok((got, reply))
    });
    let own = Ipv4Addr::new(198, 18, 150, 10);
    let cmd = net.exec_a([
        CLIENT,
        "-i",
        &net.if_a,
        "--ip",
        &own.to_string(),
        &net.addr_b.to_string(),
        "4000",
    ]);
    let run = run_client(cmd, &dir.0.join("in"), &dir.0, 60);
    let ((got_len, got), reply) = server
        .join()
        .expect("server thread")
        .unwrap_or_else(|e| panic!("Linux server: {e}; client stderr:\n{}", run.err));
    assert!(run.status.success(), "exit {}: {}", run.status, run.err);
    assert_eq!(got_len, UP, "bytes the Linux server got; {}", run.err);
    assert!(got == sent, "the upload arrived corrupted");
    assert_eq!(run.out.0, DOWN, "bytes of the reply on stdout");
    assert!(run.out.1 == reply, "the reply arrived corrupted");
    assert!(run.err.is_empty(), "stderr without -d: {}", run.err);
}

/// Issue #15: `tcp-client` "talks to `tcp-server` the same way": 1 MiB
/// echoed intact by `tcp-server --mode echo -s` (both on addresses the
/// kernel does not own), and both exit 0.
#[test]
fn talks_to_tcp_server_in_echo_mode() {
    const LEN: u64 = 1 << 20;
    let mut h = Harness::new("cte", 151);
    let srv = h.own_addr();
    h.start(&["-s", "--mode", "echo", "--ip", &srv.to_string()]);
    let sent = input_file(&h.path("in"), LEN, 3);
    let cmd = h.net.exec_b([
        CLIENT,
        "-d",
        "--color",
        "never",
        "-i",
        &h.net.if_b,
        "--ip",
        "198.18.151.20",
        &srv.to_string(),
        "3000",
    ]);
    let run = run_client(cmd, &h.path("in"), &h.dir, 30);
    let lines: Vec<&str> = run.err.lines().collect();
    let tail = lines[lines.len().saturating_sub(30)..].join("\n");
    assert!(run.status.success(), "exit {}: {tail}", run.status);
    assert_eq!(run.out.0, LEN, "bytes echoed to stdout; {tail}");
    assert!(run.out.1 == sent, "the echo arrived corrupted");
    // -d: the handshake and the closing states in the trace.
    assert!(run.err.contains("SYN-SENT -> ESTABLISHED"), "{tail}");
    let st = h.wait(10);
    assert!(st.success(), "tcp-server exit {st}: {}", h.stderr());
}

/// No listener on the port: the Linux host answers the SYN with a reset,
/// and the client exits 1 with one line saying so, at once.
#[test]
fn refused_connection_is_one_line_and_exit_1() {
    let net = TestNet::new("ctr", 152).expect("test network (needs root)");
    let dir = Scratch::new("ctr");
    std::fs::write(dir.0.join("in"), b"never sent").expect("input");
    let cmd = net.exec_a([
        CLIENT,
        "-i",
        &net.if_a,
        "--ip",
        "198.18.152.10",
        &net.addr_b.to_string(),
        "4001",
    ]);
    let t0 = Instant::now();
    let run = run_client(cmd, &dir.0.join("in"), &dir.0, 20);
    assert_eq!(run.status.code(), Some(1), "{}", run.err);
    assert_eq!(
        run.err, "tcp-client: connection refused by 198.18.152.2:4001\n",
        "stderr"
    );
    assert_eq!(run.out.0, 0);
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

fn client(args: &[&str]) -> Output {
    Command::new(CLIENT)
        .args(args)
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run tcp-client")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn usage_errors_exit_2() {
    for line in [
        "",
        "-i lo --ip 198.18.0.10 198.18.0.1",
        "-i lo 198.18.0.1 3000",
        "-i lo --ip 1.2.3 198.18.0.1 3000",
        "-i lo --ip 198.18.0.10 host.example 3000",
        "-i lo --ip 198.18.0.10 198.18.0.1 0",
        "-i lo --ip 198.18.0.10 198.18.0.1 65536",
        "-i lo --ip 198.18.0.10 --gateway x 198.18.0.1 1",
        "--local-port 0 -i lo --ip 198.18.0.10 198.18.0.1 1",
        "--nonsense -i lo --ip 198.18.0.10 198.18.0.1 1",
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        let args = &args[..];
        let out = client(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // Settings that pass alone but not together: our own address as HOST.
    let out = client(&["-i", "lo", "--ip", "198.18.0.10", "198.18.0.10", "3000"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tcp-client: HOST 198.18.0.10 is our own address"));
    // The help documents every flag.
    let help = text(&client(&["--help"]).stdout);
    for flag in [
        "-d, --debug",
        "-v, --verbose",
        "--pcap <FILE>",
        "-i, --iface <NAME>",
        "--ip <ADDR>",
        "--gateway <ADDR>",
        "--local-port <PORT>",
        "--color <WHEN>",
        "<HOST>",
        "<PORT>",
        "Exit status",
    ] {
        assert!(help.contains(flag), "--help lacks `{flag}`:\n{help}");
    }
}

/// The runtime errors before any frame: one line, exit 1, no backtrace.
#[test]
fn runtime_errors_are_one_line() {
    let check = |out: Output, want: &str| {
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.starts_with("tcp-client: "), "{err}");
        assert!(err.contains(want), "want `{want}`: {err}");
        assert!(!err.contains("panicked") && !err.contains("backtrace"));
    };
    check(
        client(&["-i", "nope0", "--ip", "198.18.0.10", "198.18.0.1", "3000"]),
        "no network interface named `nope0`",
    );
    // The kernel's own address: it would reset our connection.
    check(
        client(&["-i", "lo", "--ip", "127.0.0.1", "198.18.0.1", "3000"]),
        "127.0.0.1 is the kernel's own address",
    );
    // Without CAP_NET_RAW (as nobody, when we are root).
    let args = ["-i", "lo", "--ip", "198.18.0.10", "198.18.0.1", "3000"];
    let out = if nix::unistd::geteuid().is_root() {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups", CLIENT])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run setpriv")
    } else {
        client(&args)
    };
    check(out, "raw sockets need CAP_NET_RAW");
}
