//! File mode (`--mode file --file PATH`), end to end on a veth pair between
//! two namespaces (needs root): a Linux client downloads the file, its
//! SHA-256 matches, the connection closes normally; what a client sends
//! is discarded; a file that cannot be read is a usage error. Subnets
//! 198.18.167-168.

mod common;
mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::{Harness, BIN};
use support::{hex, note, sha256, Summary};

/// A 4 MiB random file downloaded with `nc -d ADDR 3000 > out` in namespace
/// b: the same SHA-256, the single session closes normally (exit 0), and
/// nothing reaches the server's stdout.
#[test]
fn net_file_download_4mib_nc() {
    let t0 = Instant::now();
    let mut h = Harness::new("fil", 167);
    let own = h.own_addr().to_string();
    let file = support::data(4 << 20, 16);
    let path = h.path("file.bin");
    fs::write(&path, &file).expect("write file");
    let out = h.path("out.bin");
    h.start(&[
        "-s",
        "--mode",
        "file",
        "--file",
        path.to_str().unwrap(),
        "--ip",
        &own,
    ]);
    common::nc_download(&h.net.ns_b, "", &own, &out, 10);
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(err.contains("mode file"), "{err}");
    let got = fs::read(&out).expect("read download");
    assert_eq!(got.len(), file.len(), "{err}");
    assert_eq!(
        hex(&sha256(&got)),
        hex(&sha256(&file)),
        "download differs\n{err}"
    );
    assert!(h.stdout().is_empty());
    closed_normally(&err);
    note("net_file_download_4mib_nc", "passed", t0);
}

/// An empty file: the client's bytes are discarded (not printed) and it
/// gets just the FIN; the close is normal.
#[test]
fn net_file_empty_sends_only_fin() {
    let t0 = Instant::now();
    let mut h = Harness::new("fie", 168);
    let own = h.own_addr();
    let path = h.path("empty");
    fs::write(&path, b"").expect("write file");
    h.start(&[
        "-s",
        "--mode",
        "file",
        "--file",
        path.to_str().unwrap(),
        "--ip",
        &own.to_string(),
    ]);
    let back = h.send(own, b"Hello, discarded").expect("client");
    assert!(back.is_empty(), "{} bytes back", back.len());
    let st = h.wait(10);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    assert!(h.stdout().is_empty(), "{err}");
    closed_normally(&err);
    note("net_file_empty_sends_only_fin", "passed", t0);
}

/// A --file that cannot be read, or file mode without one: exit status 2
/// with a one-line error, before any network setup.
#[test]
fn file_unreadable_is_usage_error() {
    let dir = std::env::temp_dir().join(format!("tcp-server-{}-fiu", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("scratch dir");
    let missing = dir.join("missing");
    let cases: [&[&str]; 3] = [
        &["--mode", "file", "--file", missing.to_str().unwrap()],
        &["--mode", "file", "--file", dir.to_str().unwrap()],
        &["--file", missing.to_str().unwrap()],
    ];
    for args in cases {
        let out = Command::new(BIN)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run tcp-server");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        assert!(err.contains("--file"), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    let out = Command::new(BIN)
        .args(["--mode", "file"])
        .output()
        .expect("run tcp-server");
    assert_eq!(out.status.code(), Some(2));
    let _ = fs::remove_dir_all(&dir);
}

/// The summary of one session closed normally: established, no reset,
/// timeout or abort; either the server's FIN went first and its side is
/// left in TIME-WAIT (the active closer's), or the client's crossed it
/// (when it closed at once) and the close counts as normal.
fn closed_normally(err: &str) {
    let s = Summary::parse(err).expect("summary");
    assert_eq!(s.established, 1, "{s:?}\n{err}");
    assert_eq!((s.reset, s.timed_out, s.aborted), (0, 0, 0), "{s:?}\n{err}");
    let time_wait = s.normal == 0 && err.contains("(1 in TIME-WAIT)");
    let closed = s.normal == 1 && s.open == Some(0);
    assert!(time_wait || closed, "{s:?}\n{err}");
}
