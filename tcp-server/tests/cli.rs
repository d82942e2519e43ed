//! The command line: help, version, usage errors, one-line runtime errors.

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_tcp-server");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run tcp-server")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_lists_the_seed_flags_and_ours() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for flag in [
        "-h, --help",
        "-v, --verbose",
        "-d, --debug",
        "-s, --single-session",
        "-V, --version",
        "-p, --port",
        "-i, --iface",
        "--ip <ADDR>",
        "--mode <MODE>",
        "--pcap <FILE>",
        "--max-conns",
        "--workers",
        "--color <WHEN>",
        "--install-rst-rule",
        "--tun <NAME>",
    ] {
        assert!(help.contains(flag), "--help lacks `{flag}`:\n{help}");
    }
    // -h is the short form of the same help.
    let short = run(&["-h"]);
    assert!(short.status.success());
    assert!(text(&short.stdout).contains("--single-session"));
}

#[test]
fn version() {
    let out = run(&["-V"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).starts_with("tcp-server "));
}

#[test]
fn bad_values_exit_2_with_clap_message() {
    for args in [
        &["--port", "99999"][..],
        &["--port", "0"],
        &["--mode", "bogus"],
        &["--color", "sometimes"],
        &["--ip", "not-an-address"],
        &["--max-conns", "0"],
        &["--workers", "0"],
        &["--nonsense"],
        &["--ip", "198.18.0.10", "--install-rst-rule"],
        // --tun needs --ip, and is no interface, so no ingress rule.
        &["--tun", "tcps0"],
        &["--tun", "tcps0", "--ip", "198.18.0.10", "-i", "eth0"],
        &[
            "--tun",
            "tcps0",
            "--ip",
            "198.18.0.10",
            "--install-ingress-rule",
        ],
    ] {
        let out = run(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn resource_flags_are_checked() {
    for bad in [
        &["--rx-buf", "3000"][..],
        &["--tx-buf", "128M"],
        &["--max-retries", "0"],
        &["--max-half-open", "0"],
        &["--max-memory", "0"],
        &["--idle-timeout", "-1"],
    ] {
        let out = run(bad);
        assert_eq!(out.status.code(), Some(2), "{bad:?}: {}", text(&out.stderr));
    }
    // Settings that pass alone but not together: the memory bound.
    let out = run(&["--max-conns", "65536", "--rx-buf", "1M"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("over --max-memory 4096"), "{err}");
    assert_eq!(err.lines().filter(|l| l.contains("max-memory")).count(), 1);
}

/// `--tun` serves with one worker: refused before any device is made.
#[test]
fn tun_with_workers_is_refused() {
    let out = run(&["--tun", "tcps0", "--ip", "198.18.0.10", "--workers", "2"]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("one worker"), "{err}");
}

/// `--ip` twice is for one IPv4 and one IPv6 address; `--tun` (IPv6 too)
/// serves with one worker. Refused before any device or socket is made.
#[test]
fn ip_twice_and_tun_with_ipv6_are_refused() {
    for (args, why) in [
        (
            &["--ip", "198.18.0.10", "--ip", "198.18.0.11"][..],
            "one IPv4 and one IPv6",
        ),
        (
            &["--ip", "2001:2::10", "--ip", "2001:2::11"],
            "one IPv4 and one IPv6",
        ),
        (
            &["--tun", "tcps0", "--ip", "2001:2::10", "--workers", "2"],
            "one worker",
        ),
    ] {
        let out = run(args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(why), "{args:?}: {err}");
    }
}

/// `tcp-client`: HOST and --ip of one family.
#[test]
fn client_families_must_match() {
    let out = Command::new(env!("CARGO_BIN_EXE_tcp-client"))
        .args(["-i", "nope0", "--ip", "2001:2::20", "198.18.0.1", "3000"])
        .stdin(Stdio::null())
        .output()
        .expect("run tcp-client");
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not of one family"), "{err}");
}

#[test]
fn too_many_workers_are_refused_with_a_reason() {
    let out = run(&["--workers", "65"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("at most 64 workers"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["--workers", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn missing_interface_is_one_line_without_backtrace() {
    let out = Command::new(BIN)
        .args(["-i", "nope0"])
        .env("RUST_BACKTRACE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let err = text(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("tcp-server: "), "{err}");
    assert!(err.contains("nope0"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}
