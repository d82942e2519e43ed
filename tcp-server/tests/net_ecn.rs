//! ECN (RFC 3168) end to end on a veth pair between two namespaces (needs
//! root): a Linux client that asks for ECN (`net.ipv4.tcp_ecn = 1` in its
//! namespace) downloads a file from the server in file mode; the transfer
//! is whole, and the server's own pcap, read back by `tcpdump -v`, shows
//! the client's ECN-setup SYN (`[SEW]`), our SYN-ACK accepting it
//! (`[S.E]`), and our data marked ECT(0). Through a bottleneck whose
//! queue marks CE (`tbf` with `fq_codel ecn` under it), the client echoes
//! ECE and the server answers with CWR. Subnets 198.18.169-170.

mod common;
mod support;

use std::fs;
use std::process::{Command, Stdio};
use std::time::Instant;

use common::Harness;
use support::{hex, note, sha256};

/// The frames of a `tcpdump -n -v` listing, one string per frame (the IP
/// line and the TCP line that follows it joined).
fn frames(dump: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in dump.lines() {
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.push(' ');
                last.push_str(line.trim());
            }
        } else {
            out.push(line.to_string());
        }
    }
    out
}

/// Downloads a 1 MiB file from the server with `nc`, in namespace b after
/// `sysctl net.ipv4.tcp_ecn=1`; returns the download, the server's stderr,
/// and `tcpdump -n -v -r` of the server's pcap.
fn download(h: &mut Harness, file: &[u8]) -> (Vec<u8>, String, String) {
    let own = h.own_addr().to_string();
    let path = h.path("file.bin");
    fs::write(&path, file).expect("write file");
    let out = h.path("out.bin");
    let pcap = h.path("s.pcap");
    h.start(&[
        "-s",
        "--mode",
        "file",
        "--file",
        path.to_str().unwrap(),
        "--ip",
        &own,
        "--pcap",
        pcap.to_str().unwrap(),
    ]);
    let nc = h
        .net
        .exec_b([
            "timeout",
            "30",
            "sh",
            "-c",
            &format!(
                "sysctl -qw net.ipv4.tcp_ecn=1 && nc -d -w 10 {own} 3000 > {}",
                out.display()
            ),
        ])
        .stdin(Stdio::null())
        .output()
        .expect("nc");
    assert!(
        nc.status.success(),
        "nc failed ({}): {}",
        nc.status,
        String::from_utf8_lossy(&nc.stderr)
    );
    let st = h.wait(15);
    let err = h.stderr();
    assert!(st.success(), "exit {st}: {err}");
    let got = fs::read(&out).expect("read download");
    let dump =
        Harness::output(Command::new("tcpdump").args(["-n", "-v", "-r", pcap.to_str().unwrap()]));
    (got, err, dump)
}

/// RFC 3168 §6.1.1 and §6.1.2 with a real Linux client asking for ECN:
/// accepted (Linux's default `tcp_ecn = 2` policy), every data segment
/// the server sends is ECT(0) (none is retransmitted on a clean veth), and
/// the file arrives whole.
#[test]
fn net_ecn_linux_client_negotiates_and_data_is_ect0() {
    let t0 = Instant::now();
    let mut h = Harness::new("ecn", 169);
    let own = h.own_addr().to_string();
    let file = support::data(1 << 20, 23);
    let (got, err, dump) = download(&mut h, &file);
    assert_eq!(got.len(), file.len(), "{err}");
    assert_eq!(hex(&sha256(&got)), hex(&sha256(&file)), "download differs");
    let frames = frames(&dump);
    let ours = format!("{own}.3000 >");
    let syn = frames
        .iter()
        .find(|f| f.contains("Flags [SEW]") && !f.contains(&ours));
    assert!(syn.is_some(), "no ECN-setup SYN from the client:\n{dump}");
    let syn_ack = frames
        .iter()
        .find(|f| f.contains(&ours) && f.contains("Flags [S.E]"));
    let syn_ack = syn_ack.unwrap_or_else(|| panic!("no ECN-setup SYN-ACK:\n{dump}"));
    assert!(!syn_ack.contains("ECT"), "SYN-ACK is ECT: {syn_ack}");
    let data: Vec<&String> = frames
        .iter()
        .filter(|f| f.contains(&ours) && !f.ends_with("length 0"))
        .collect();
    assert!(!data.is_empty(), "no data frames:\n{dump}");
    let ect = data.iter().filter(|f| f.contains("tos 0x2,ECT(0)")).count();
    assert_eq!(ect, data.len(), "data not ECT(0):\n{dump}");
    let pure_acks_ect = frames
        .iter()
        .filter(|f| f.contains(&ours) && f.ends_with("length 0") && f.contains("ECT"))
        .count();
    assert_eq!(pure_acks_ect, 0, "an empty segment went ECT:\n{dump}");
    note(
        "net_ecn_linux_client_negotiates_and_data_is_ect0",
        "passed",
        t0,
    );
}

/// RFC 3168 §6.1.2-6.1.3 end to end: in the client's namespace, an
/// nftables rule marks 2 % of the server's ECT(0) segments CE as a
/// congested router would (`ip ecn set ce` at prerouting; this kernel has
/// no marking qdisc); the Linux client echoes ECE, and the server reduces
/// its window and says so with CWR on new data. The file arrives whole.
#[test]
fn net_ecn_ce_marks_are_echoed_and_answered_with_cwr() {
    let t0 = Instant::now();
    let mut h = Harness::new("ecm", 170);
    // Offloads off: the rule marks packets, and with GSO through the veth
    // a 4 MiB download is a few dozen 64 KiB packets, so 2 % of them could
    // be none (it was, once, in CI); MSS-sized frames are about 2,900.
    h.net.set_offloads(false).expect("offloads off");
    let own = h.own_addr().to_string();
    support::impair::nft(
        &h.net.ns_b,
        &format!(
            "table ip e2e_ce {{
  chain pre {{ type filter hook prerouting priority 0; policy accept;
    ip saddr {own} tcp sport 3000 ip ecn ect0 numgen random mod 100 < 2 counter ip ecn set ce
  }}
}}
"
        ),
    );
    let file = support::data(4 << 20, 29);
    let (got, err, dump) = download(&mut h, &file);
    assert_eq!(got.len(), file.len(), "{err}");
    assert_eq!(hex(&sha256(&got)), hex(&sha256(&file)), "download differs");
    let marked = support::impair::counted(&h.net.ns_b, "ip", "e2e_ce");
    let frames = frames(&dump);
    let ours = format!("{own}.3000 >");
    let ece = frames
        .iter()
        .filter(|f| !f.contains(&ours) && f.contains("E]") && !f.contains("[SEW]"))
        .count();
    let cwr = frames
        .iter()
        .filter(|f| f.contains(&ours) && f.contains("W]"))
        .count();
    assert!(marked > 0, "nothing marked CE");
    assert!(ece > 0, "no ECE from the client ({marked} marked CE)");
    assert!(cwr > 0, "no CWR from the server ({marked} CE, {ece} ECE)");
    note(
        "net_ecn_ce_marks_are_echoed_and_answered_with_cwr",
        &format!("passed: {marked} marked CE, {ece} ACKs with ECE, {cwr} segments with CWR"),
        t0,
    );
}
