//! Frames rendered for people: tcpdump's one-line format (`--debug`) and a
//! layer-by-layer dump (`--verbose`).
//!
//! Both work on the raw bytes, not on the core's parsed representation, so
//! that a malformed frame is shown as it is instead of not at all. Nothing
//! here panics on any input: every read goes through `get`.

use std::fmt::Display;
use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use anstyle::{AnsiColor, Style};
use tcpcore::wire::checksum;

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_ARP: u16 = 0x0806;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const PROTO_TCP: u8 = 6;
const PROTO_ICMPV6: u8 = 58;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn ipv6(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let s: [u8; 16] = b.get(at..at.checked_add(16)?)?.try_into().ok()?;
    Some(Ipv6Addr::from(s))
}

fn ipv4(b: &[u8], at: usize) -> Option<Ipv4Addr> {
    let s = b.get(at..at.checked_add(4)?)?;
    Some(Ipv4Addr::new(s[0], s[1], s[2], s[3]))
}

fn mac(b: &[u8], at: usize) -> Option<String> {
    let s = b.get(at..at.checked_add(6)?)?;
    Some(format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        s[0], s[1], s[2], s[3], s[4], s[5]
    ))
}

/// tcpdump's flag letters, in tcpdump's order (`print-tcp.c`,
/// `tcp_flag_values`): F S R P . U E W, `none` when no flag is set.
pub fn tcp_flags(flags: u8) -> String {
    const LETTERS: [(u8, char); 8] = [
        (0x01, 'F'),
        (0x02, 'S'),
        (0x04, 'R'),
        (0x08, 'P'),
        (0x10, '.'),
        (0x20, 'U'),
        (0x40, 'E'),
        (0x80, 'W'),
    ];
    let s: String = LETTERS
        .iter()
        .filter(|(bit, _)| flags & bit != 0)
        .map(|&(_, c)| c)
        .collect();
    if s.is_empty() {
        "none".to_string()
    } else {
        s
    }
}

/// The TCP options area `opts` as tcpdump prints it between `options [`
/// and `]` (its `tcp_print` option loop, with `-S`: SACK edges absolute).
pub fn tcp_options(out: &mut String, opts: &[u8]) {
    let mut i = 0usize;
    let mut first = true;
    while i < opts.len() {
        if !first {
            out.push(',');
        }
        first = false;
        let kind = opts[i];
        i += 1;
        let zero_len = kind == 0 || kind == 1;
        let len = if zero_len {
            1usize
        } else {
            let Some(&l) = opts.get(i) else {
                out.push_str("[bad opt]");
                return;
            };
            i += 1;
            let l = usize::from(l);
            // `len > hlen` in tcpdump: hlen counts what is left including
            // the two bytes just read.
            if l < 2 || l > opts.len() - i + 2 {
                out.push_str("[bad opt]");
                return;
            }
            l
        };
        out.push_str(&option_name(kind));
        let Some(datalen) = option_data(out, kind, len, &opts[i..]) else {
            out.push_str("[bad opt]");
            return;
        };
        i = (i + datalen).min(opts.len());
        let spec = datalen + if zero_len { 1 } else { 2 };
        if spec != len {
            let _ = write!(out, "[len {len}]");
        }
        if kind == 0 {
            break;
        }
    }
}

/// tcpdump's name of TCP option `kind`.
fn option_name(kind: u8) -> String {
    match kind {
        0 => "eol".to_string(),
        1 => "nop".to_string(),
        2 => "mss".to_string(),
        3 => "wscale".to_string(),
        4 => "sackOK".to_string(),
        5 => "sack".to_string(),
        6 => "echo".to_string(),
        7 => "echoreply".to_string(),
        8 => "TS".to_string(),
        11 => "cc".to_string(),
        12 => "ccnew".to_string(),
        13 => "ccecho".to_string(),
        19 => "md5".to_string(),
        20 => "scps".to_string(),
        28 => "uto".to_string(),
        29 => "tcp-ao".to_string(),
        30 => "mptcp".to_string(),
        34 => "tfo".to_string(),
        254 => "exp".to_string(),
        k => format!("unknown-{k}"),
    }
}

/// Prints the data of one option of `kind` and length `len` (as its length
/// byte says), `data` being the rest of the options area after the kind
/// and length bytes; returns how many bytes of data tcpdump takes for it,
/// or `None` where tcpdump prints `[bad opt]` and stops.
fn option_data(out: &mut String, kind: u8, len: usize, data: &[u8]) -> Option<usize> {
    let left = data.len();
    Some(match kind {
        0 | 1 | 4 => 0,
        2 => {
            if left < 2 {
                return None;
            }
            let _ = write!(out, " {}", u16::from_be_bytes([data[0], data[1]]));
            2
        }
        3 => {
            if left < 1 {
                return None;
            }
            let _ = write!(out, " {}", data[0]);
            1
        }
        5 => {
            let dl = len - 2;
            if dl % 8 != 0 {
                out.push_str(" invalid sack");
            } else {
                let _ = write!(out, " {} ", dl / 8);
                for k in (0..dl).step_by(8) {
                    let (s, e) = (be32(data, k)?, be32(data, k + 4)?);
                    let _ = write!(out, "{{{s}:{e}}}");
                }
            }
            dl
        }
        6 | 7 | 11..=13 => {
            let v = be32(data, 0)?;
            let _ = write!(out, " {v}");
            4
        }
        8 => {
            let (val, ecr) = (be32(data, 0)?, be32(data, 4)?);
            let _ = write!(out, " val {val} ecr {ecr}");
            8
        }
        _ => {
            let dl = len - 2;
            if dl > left {
                return None;
            }
            if dl > 0 {
                out.push_str(" 0x");
            }
            for b in &data[..dl] {
                let _ = write!(out, "{b:02x}");
            }
            dl
        }
    })
}

/// The line `tcpdump -n -S` prints for `frame` (an Ethernet frame), without
/// its timestamp. Covers IPv4/TCP, IPv6/TCP, the ICMPv6 messages the
/// server meets (echo, neighbor discovery, packet too big) and
/// Ethernet/IPv4 ARP exactly; other
/// frames get a short description in tcpdump's spirit. tcpdump's payload
/// dissectors for well-known ports (HTTP on 80, ...) are not reproduced.
pub fn tcpdump_line(out: &mut String, frame: &[u8]) {
    let Some(ethertype) = be16(frame, 12) else {
        out.push_str("[|ether]");
        return;
    };
    let payload = &frame[14..];
    match ethertype {
        ETHERTYPE_IPV4 => ipv4_line(out, payload),
        ETHERTYPE_ARP => arp_line(out, payload),
        ETHERTYPE_IPV6 => ipv6_line(out, payload),
        t => {
            let _ = write!(out, "ethertype Unknown (0x{t:04x}), length {}", frame.len());
        }
    }
}

fn arp_line(out: &mut String, p: &[u8]) {
    let len = p.len();
    let (Some(htype), Some(ptype), Some(op)) = (be16(p, 0), be16(p, 2), be16(p, 6)) else {
        let _ = write!(out, "ARP, [|arp], length {len}");
        return;
    };
    if htype != 1 || ptype != ETHERTYPE_IPV4 || p.get(4) != Some(&6) || p.get(5) != Some(&4) {
        let _ = write!(out, "ARP, unsupported hardware/protocol, length {len}");
        return;
    }
    let (Some(sha), Some(spa), Some(tha), Some(tpa)) =
        (mac(p, 8), ipv4(p, 14), p.get(18..24), ipv4(p, 24))
    else {
        let _ = write!(out, "ARP, [|arp], length {len}");
        return;
    };
    out.push_str("ARP, ");
    match op {
        1 => {
            let _ = write!(out, "Request who-has {tpa}");
            if tha.iter().any(|&b| b != 0) {
                let _ = write!(out, " ({})", mac(p, 18).unwrap_or_default());
            }
            let _ = write!(out, " tell {spa}");
        }
        2 => {
            let _ = write!(out, "Reply {spa} is-at {sha}");
        }
        o => {
            let _ = write!(out, "Unknown opcode ({o})");
        }
    }
    let _ = write!(out, ", length {len}");
}

fn ipv4_line(out: &mut String, p: &[u8]) {
    let Some(&vihl) = p.first() else {
        out.push_str("IP [|ip]");
        return;
    };
    let hlen = usize::from(vihl & 0x0f) * 4;
    let (Some(total), Some(frag), Some(&proto), Some(src), Some(dst)) =
        (be16(p, 2), be16(p, 6), p.get(9), ipv4(p, 12), ipv4(p, 16))
    else {
        out.push_str("IP [|ip]");
        return;
    };
    let total = usize::from(total);
    if vihl >> 4 != 4 || hlen < 20 || total < hlen {
        let _ = write!(out, "IP {src} > {dst}: [bad ip header]");
        return;
    }
    let end = total.min(p.len());
    let body = p.get(hlen..end).unwrap_or(&[]);
    let length = total - hlen;
    if frag & 0x1fff != 0 || proto != PROTO_TCP {
        let _ = write!(out, "IP {src} > {dst}: ip-proto-{proto} {length}");
        return;
    }
    out.push_str("IP ");
    tcp_line(out, src, dst, body, length);
}

/// The IPv6 line: `IP6 src > dst: ` then TCP as for IPv4, or ICMPv6
/// (`ICMP6, echo request, id 1, seq 1, length 64`), after a hop-by-hop
/// header (`HBH `) if any, as tcpdump's `ip6_print` does.
fn ipv6_line(out: &mut String, p: &[u8]) {
    let (Some(&v), Some(plen), Some(&nh), Some(src), Some(dst)) =
        (p.first(), be16(p, 4), p.get(6), ipv6(p, 8), ipv6(p, 24))
    else {
        out.push_str("IP6 [|ip6]");
        return;
    };
    if v >> 4 != 6 {
        let _ = write!(out, "IP6 {src} > {dst}: [version {}]", v >> 4);
        return;
    }
    let plen = usize::from(plen);
    let body = p.get(40..(40 + plen).min(p.len())).unwrap_or(&[]);
    let (mut nh, mut at) = (nh, 0usize);
    let mut hbh = false;
    // Hop-by-hop options (MLD reports carry one): tcpdump names it.
    if nh == 0 {
        let (Some(&next), Some(&len)) = (body.first(), body.get(1)) else {
            let _ = write!(out, "IP6 {src} > {dst}: HBH [|hbhopt]");
            return;
        };
        hbh = true;
        nh = next;
        at = (usize::from(len) + 1) * 8;
    }
    let rest = body.get(at..).unwrap_or(&[]);
    let length = plen.saturating_sub(at);
    if nh == PROTO_TCP && !hbh {
        out.push_str("IP6 ");
        tcp_line(out, src, dst, rest, length);
        return;
    }
    let _ = write!(out, "IP6 {src} > {dst}: ");
    if hbh {
        out.push_str("HBH ");
    }
    if nh == PROTO_TCP {
        tcp_line(out, src, dst, rest, length);
    } else if nh == PROTO_ICMPV6 {
        icmp6_line(out, rest, length);
    } else {
        let _ = write!(out, "ip-proto-{nh} {length}");
    }
}

/// ICMPv6 as `tcpdump -n` prints it (`print-icmp6.c`, not verbose).
fn icmp6_line(out: &mut String, m: &[u8], length: usize) {
    let (Some(&ty), Some(&code)) = (m.first(), m.get(1)) else {
        out.push_str("ICMP6, [|icmp6]");
        return;
    };
    out.push_str("ICMP6, ");
    match ty {
        1 => {
            // The quoted packet: its IPv6 header from byte 8.
            let q = m.get(8..).unwrap_or(&[]);
            let qdst = ipv6(q, 24).map(|a| a.to_string()).unwrap_or_default();
            out.push_str("destination unreachable, ");
            match code {
                0 => {
                    let _ = write!(out, "unreachable route {qdst}");
                }
                // tcpdump's own double space.
                1 => {
                    let _ = write!(out, " unreachable prohibited {qdst}");
                }
                2 => {
                    let qsrc = ipv6(q, 8).map(|a| a.to_string()).unwrap_or_default();
                    let _ = write!(out, "beyond scope {qdst}, source address {qsrc}");
                }
                3 => {
                    let _ = write!(out, "unreachable address {qdst}");
                }
                4 => {
                    let port = be16(q, 42).unwrap_or(0);
                    match q.get(6) {
                        Some(6) => {
                            let _ = write!(out, "unreachable port, {qdst} tcp port {port}");
                        }
                        Some(17) => {
                            let _ = write!(out, "unreachable port, {qdst} udp port {port}");
                        }
                        _ => {
                            let _ = write!(out, "unreachable port, {qdst}");
                        }
                    }
                }
                c => {
                    let _ = write!(out, "unknown unreach code ({c})");
                }
            }
        }
        2 => {
            let _ = write!(out, "packet too big, mtu {}", be32(m, 4).unwrap_or(0));
        }
        3 => {
            let qdst = ipv6(m, 8 + 24).map(|a| a.to_string()).unwrap_or_default();
            match code {
                0 => {
                    let _ = write!(out, "time exceeded in-transit for {qdst}");
                }
                _ => out.push_str("time exceeded reassembly"),
            }
        }
        4 => {
            let what = match code {
                0 => "erroneous - octet",
                1 => "next header - octet",
                2 => "option - octet",
                _ => "code",
            };
            let _ = write!(out, "parameter problem, {what} {}", be32(m, 4).unwrap_or(0));
        }
        128 | 129 => {
            let _ = write!(
                out,
                "echo {}, id {}, seq {}",
                if ty == 128 { "request" } else { "reply" },
                be16(m, 4).unwrap_or(0),
                be16(m, 6).unwrap_or(0)
            );
        }
        130 => out.push_str("multicast listener query"),
        131 => out.push_str("multicast listener report"),
        132 => out.push_str("multicast listener done"),
        133 => out.push_str("router solicitation"),
        134 => out.push_str("router advertisement"),
        135 | 136 => {
            let target = ipv6(m, 8).map(|a| a.to_string()).unwrap_or_default();
            if ty == 135 {
                let _ = write!(out, "neighbor solicitation, who has {target}");
            } else {
                let _ = write!(out, "neighbor advertisement, tgt is {target}");
            }
        }
        137 => out.push_str("redirect"),
        143 => {
            let _ = write!(
                out,
                "multicast listener report v2, {} group record(s)",
                be16(m, 6).unwrap_or(0)
            );
        }
        t => {
            let _ = write!(out, "unknown icmp6 type ({t})");
        }
    }
    let _ = write!(out, ", length {length}");
}

fn tcp_line(out: &mut String, src: impl Display, dst: impl Display, seg: &[u8], length: usize) {
    let (Some(sport), Some(dport)) = (be16(seg, 0), be16(seg, 2)) else {
        let _ = write!(out, "{src} > {dst}: [|tcp]");
        return;
    };
    let _ = write!(out, "{src}.{sport} > {dst}.{dport}: ");
    let (Some(seq), Some(ack), Some(&off), Some(&flags), Some(win), Some(urp)) = (
        be32(seg, 4),
        be32(seg, 8),
        seg.get(12),
        seg.get(13),
        be16(seg, 14),
        be16(seg, 18),
    ) else {
        out.push_str("[|tcp]");
        return;
    };
    let hlen = usize::from(off >> 4) * 4;
    if hlen < 20 {
        let _ = write!(
            out,
            " tcp {} [bad hdr length {hlen} - too short, < 20]invalid",
            length.wrapping_sub(hlen)
        );
        return;
    }
    let _ = write!(out, "Flags [{}]", tcp_flags(flags));
    if hlen > length {
        let _ = write!(
            out,
            " [bad hdr length {hlen} - too long, > {length}]invalid"
        );
        return;
    }
    let data = length - hlen;
    if data > 0 || flags & 0x07 != 0 {
        let _ = write!(out, ", seq {seq}");
        if data > 0 {
            let _ = write!(out, ":{}", seq.wrapping_add(data as u32));
        }
    }
    if flags & 0x10 != 0 {
        let _ = write!(out, ", ack {ack}");
    }
    let _ = write!(out, ", win {win}");
    if flags & 0x20 != 0 {
        let _ = write!(out, ", urg {urp}");
    }
    if hlen > 20 {
        out.push_str(", options [");
        tcp_options(out, seg.get(20..hlen).unwrap_or(&[]));
        out.push(']');
    }
    let _ = write!(out, ", length {data}");
}

/// What the kernel said about a received frame's TCP checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CsumNote {
    /// Nothing: the checksum is what it is.
    Plain,
    /// Not filled in yet (checksum offload on veth/loopback).
    NotReady,
}

/// Colours by layer; all empty when colour is off.
#[derive(Clone, Copy, Debug)]
pub struct Palette {
    pub eth: Style,
    pub arp: Style,
    pub ip: Style,
    pub tcp: Style,
    pub data: Style,
    pub good: Style,
    pub bad: Style,
    pub note: Style,
    pub rx: Style,
    pub tx: Style,
    pub state: Style,
}

impl Palette {
    pub fn new(color: bool) -> Palette {
        let c = |s: Style| if color { s } else { Style::new() };
        let fg = |a: AnsiColor| Style::new().fg_color(Some(a.into()));
        Palette {
            eth: c(fg(AnsiColor::Blue)),
            arp: c(fg(AnsiColor::Yellow)),
            ip: c(fg(AnsiColor::Green)),
            tcp: c(fg(AnsiColor::Cyan)),
            data: c(fg(AnsiColor::White).dimmed()),
            good: c(fg(AnsiColor::Green)),
            bad: c(fg(AnsiColor::Red).bold()),
            note: c(fg(AnsiColor::Yellow)),
            rx: c(fg(AnsiColor::Magenta).bold()),
            tx: c(fg(AnsiColor::Blue).bold()),
            state: c(fg(AnsiColor::Yellow).bold()),
        }
    }
}

fn paint(out: &mut String, style: Style, text: &str) {
    let _ = write!(out, "{style}{text}{style:#}");
}

/// Every header field of `frame`, one layer per line, each layer in its
/// colour, checksums checked. `head` starts the first line (e.g. `RX`).
pub fn verbose(out: &mut String, p: &Palette, head: &str, frame: &[u8], csum: CsumNote) {
    let _ = writeln!(out, "{head} frame, {} bytes", frame.len());
    let (Some(dst), Some(src), Some(et)) = (mac(frame, 0), mac(frame, 6), be16(frame, 12)) else {
        paint(out, p.bad, "  Ethernet  truncated header");
        out.push('\n');
        return;
    };
    let et_name = match et {
        ETHERTYPE_IPV4 => "IPv4",
        ETHERTYPE_ARP => "ARP",
        ETHERTYPE_IPV6 => "IPv6",
        _ => "unknown",
    };
    paint(
        out,
        p.eth,
        &format!("  Ethernet  {src} > {dst}, type {et_name} (0x{et:04x})"),
    );
    out.push('\n');
    let payload = &frame[14..];
    match et {
        ETHERTYPE_IPV4 => verbose_ipv4(out, p, payload, csum),
        ETHERTYPE_ARP => verbose_arp(out, p, payload),
        _ => {}
    }
}

fn verbose_arp(out: &mut String, p: &Palette, b: &[u8]) {
    let (Some(htype), Some(ptype), Some(&hlen), Some(&plen), Some(op)) =
        (be16(b, 0), be16(b, 2), b.get(4), b.get(5), be16(b, 6))
    else {
        paint(out, p.bad, "  ARP       truncated");
        out.push('\n');
        return;
    };
    let op_name = match op {
        1 => "request",
        2 => "reply",
        _ => "unknown",
    };
    let mut line = format!(
        "  ARP       {op_name} ({op}), htype {htype}, ptype 0x{ptype:04x}, hlen {hlen}, plen {plen}"
    );
    if let (Some(sha), Some(spa), Some(tha), Some(tpa)) =
        (mac(b, 8), ipv4(b, 14), mac(b, 18), ipv4(b, 24))
    {
        let _ = write!(line, ", sender {sha} {spa}, target {tha} {tpa}");
    }
    paint(out, p.arp, &line);
    out.push('\n');
}

fn checksum_word(out: &mut String, p: &Palette, value: u16, ok: bool, csum: CsumNote) {
    let _ = write!(out, "checksum 0x{value:04x} ");
    if ok {
        paint(out, p.good, "(valid)");
    } else if csum == CsumNote::NotReady {
        paint(out, p.note, "(not filled in: checksum offload)");
    } else {
        paint(out, p.bad, "(INVALID)");
    }
}

/// The ECN field of a TOS byte as `tcpdump -v` names it after the TOS
/// (`print-ip.c`: `tos 0x2,ECT(0)`): nothing for Not-ECT.
fn ecn_name(tos: u8) -> &'static str {
    match tos & 0x03 {
        1 => ",ECT(1)",
        2 => ",ECT(0)",
        3 => ",CE",
        _ => "",
    }
}

fn verbose_ipv4(out: &mut String, p: &Palette, b: &[u8], csum: CsumNote) {
    let (
        Some(&vihl),
        Some(&tos),
        Some(total),
        Some(id),
        Some(frag),
        Some(&ttl),
        Some(&proto),
        Some(sum),
        Some(src),
        Some(dst),
    ) = (
        b.first(),
        b.get(1),
        be16(b, 2),
        be16(b, 4),
        be16(b, 6),
        b.get(8),
        b.get(9),
        be16(b, 10),
        ipv4(b, 12),
        ipv4(b, 16),
    )
    else {
        paint(out, p.bad, "  IPv4      truncated header");
        out.push('\n');
        return;
    };
    let hlen = usize::from(vihl & 0x0f) * 4;
    let mut flags = Vec::new();
    if frag & 0x4000 != 0 {
        flags.push("DF");
    }
    if frag & 0x2000 != 0 {
        flags.push("MF");
    }
    let proto_name = if proto == PROTO_TCP { "TCP" } else { "other" };
    let head = format!(
        "  IPv4      {src} > {dst}, version {}, hlen {hlen}, tos 0x{tos:02x}{}, length {total}, id {id}, flags [{}], offset {}, ttl {ttl}, proto {proto_name} ({proto}), ",
        vihl >> 4,
        ecn_name(tos),
        flags.join(","),
        (frag & 0x1fff) * 8
    );
    let ok = b.get(..hlen).is_some_and(|h| checksum::data(h) == 0xffff);
    let mut line = String::new();
    paint(&mut line, p.ip, &head);
    checksum_word(&mut line, p, sum, ok, CsumNote::Plain);
    out.push_str(&line);
    out.push('\n');
    if hlen < 20 || usize::from(total) < hlen {
        paint(out, p.bad, "  IPv4      bad header or total length");
        out.push('\n');
        return;
    }
    let end = usize::from(total).min(b.len());
    let seg = b.get(hlen..end).unwrap_or(&[]);
    if proto == PROTO_TCP && frag & 0x1fff == 0 {
        verbose_tcp(out, p, src, dst, seg, csum);
    }
}

fn verbose_tcp(
    out: &mut String,
    p: &Palette,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    seg: &[u8],
    csum: CsumNote,
) {
    let (
        Some(sport),
        Some(dport),
        Some(seq),
        Some(ack),
        Some(&off),
        Some(&flags),
        Some(win),
        Some(sum),
        Some(urp),
    ) = (
        be16(seg, 0),
        be16(seg, 2),
        be32(seg, 4),
        be32(seg, 8),
        seg.get(12),
        seg.get(13),
        be16(seg, 14),
        be16(seg, 16),
        be16(seg, 18),
    )
    else {
        paint(out, p.bad, "  TCP       truncated header");
        out.push('\n');
        return;
    };
    let hlen = usize::from(off >> 4) * 4;
    let head = format!(
        "  TCP       {sport} > {dport}, seq {seq}, ack {ack}, hlen {hlen}, flags [{}] (0x{flags:02x}), win {win}, urg {urp}, ",
        tcp_flags(flags)
    );
    let len = u32::try_from(seg.len()).unwrap_or(u32::MAX);
    let ok = checksum::combine(&[
        checksum::pseudo_header(src, dst, PROTO_TCP, len),
        checksum::data(seg),
    ]) == 0xffff;
    let mut line = String::new();
    paint(&mut line, p.tcp, &head);
    checksum_word(&mut line, p, sum, ok, csum);
    out.push_str(&line);
    out.push('\n');
    if hlen < 20 || hlen > seg.len() {
        paint(out, p.bad, "  TCP       bad header length");
        out.push('\n');
        return;
    }
    if hlen > 20 {
        let mut opts = String::from("  options   ");
        tcp_options(&mut opts, &seg[20..hlen]);
        paint(out, p.tcp, &opts);
        out.push('\n');
    }
    let data = &seg[hlen..];
    if !data.is_empty() {
        let mut line = format!("  payload   {} bytes \"", data.len());
        const SHOWN: usize = 64;
        for &b in data.iter().take(SHOWN) {
            let _ = write!(line, "{}", std::ascii::escape_default(b));
        }
        line.push('"');
        if data.len() > SHOWN {
            line.push_str("...");
        }
        paint(out, p.data, &line);
        out.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `IP 198.18.0.2.40000 > 198.18.0.1.3000: Flags [S], seq 123, win 64240,
    /// options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0`
    fn syn_frame() -> Vec<u8> {
        let mut f = vec![
            0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0x02, 0x08, 0x00, // Ethernet
            0x45, 0x00, 0x00, 0x3c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x06, 0x00, 0x00, 198, 18, 0, 2,
            198, 18, 0, 1, // IPv4
            0x9c, 0x40, 0x0b, 0xb8, 0, 0, 0, 123, 0, 0, 0, 0, 0xa0, 0x02, 0xfa, 0xf0, 0, 0, 0,
            0, // TCP
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7, // options
        ];
        let ip_sum = !checksum::data(&f[14..34]);
        f[24..26].copy_from_slice(&ip_sum.to_be_bytes());
        let tcp_sum = !checksum::combine(&[
            checksum::pseudo_header(
                Ipv4Addr::new(198, 18, 0, 2),
                Ipv4Addr::new(198, 18, 0, 1),
                6,
                40,
            ),
            checksum::data(&f[34..]),
        ]);
        f[50..52].copy_from_slice(&tcp_sum.to_be_bytes());
        f
    }

    #[test]
    fn tcpdump_syn() {
        let mut s = String::new();
        tcpdump_line(&mut s, &syn_frame());
        assert_eq!(
            s,
            "IP 198.18.0.2.40000 > 198.18.0.1.3000: Flags [S], seq 123, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0"
        );
    }

    #[test]
    fn tcpdump_arp() {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&[2, 0, 0, 0, 0, 2, 0x08, 0x06]);
        f.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1, 2, 0, 0, 0, 0, 2, 198, 18, 0, 2]);
        f.extend_from_slice(&[0, 0, 0, 0, 0, 0, 198, 18, 0, 10]);
        let mut s = String::new();
        tcpdump_line(&mut s, &f);
        assert_eq!(
            s,
            "ARP, Request who-has 198.18.0.10 tell 198.18.0.2, length 28"
        );
    }

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// IPv6 frames (from their IPv6 header) and the line `tcpdump -n -S`
    /// 4.99 printed for them.
    #[test]
    fn tcpdump_ipv6() {
        const QUOTE: &str = "600000000014064020010002000000000000000000000010200100020000000000000000000000020000000000000000000000000000000000000000";
        const HEAD: &str =
            "6000000000443a402001000200000000000000000000000120010002000000000000000000000010";
        let from = "IP6 2001:2::1 > 2001:2::10: ICMP6, ";
        let cases = [
            (format!("{HEAD}0200000000000500{QUOTE}"), format!("{from}packet too big, mtu 1280, length 68")),
            (format!("{HEAD}0100000000000000{QUOTE}"), format!("{from}destination unreachable, unreachable route 2001:2::2, length 68")),
            (format!("{HEAD}0101000000000000{QUOTE}"), format!("{from}destination unreachable,  unreachable prohibited 2001:2::2, length 68")),
            (format!("{HEAD}0102000000000000{QUOTE}"), format!("{from}destination unreachable, beyond scope 2001:2::2, source address 2001:2::10, length 68")),
            (format!("{HEAD}0103000000000000{QUOTE}"), format!("{from}destination unreachable, unreachable address 2001:2::2, length 68")),
            (format!("{HEAD}0104000000000000{QUOTE}"), format!("{from}destination unreachable, unreachable port, 2001:2::2 tcp port 0, length 68")),
            (format!("{HEAD}0300000000000000{QUOTE}"), format!("{from}time exceeded in-transit for 2001:2::2, length 68")),
            (format!("{HEAD}0400000000000000{QUOTE}"), format!("{from}parameter problem, erroneous - octet 0, length 68")),
            (
                "6000000000083a40fe800000000000000000000000000001ff0200000000000000000000000000028500000000000000".into(),
                "IP6 fe80::1 > ff02::2: ICMP6, router solicitation, length 8".into(),
            ),
            (
                "6000000000103a40fe800000000000000000000000000001ff02000000000000000000000000000186000000400007080000000000000000".into(),
                "IP6 fe80::1 > ff02::1: ICMP6, router advertisement, length 16".into(),
            ),
            (
                "6000000000240001fe800000000000000000000000000001ff0200000000000000000000000000163a000502000001008f0000000000000104000000ff0200000000000000000001ff000010".into(),
                "IP6 fe80::1 > ff02::16: HBH ICMP6, multicast listener report v2, 1 group record(s), length 28".into(),
            ),
        ];
        for (hex, want) in cases {
            let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x86, 0xdd];
            f.extend_from_slice(&unhex(&hex));
            let mut s = String::new();
            tcpdump_line(&mut s, &f);
            assert_eq!(s, want);
            // Cut short anywhere: no panic.
            for n in 0..f.len() {
                tcpdump_line(&mut String::new(), &f[..n]);
            }
        }
    }

    #[test]
    fn flags_in_tcpdump_order() {
        assert_eq!(tcp_flags(0x18), "P.");
        assert_eq!(tcp_flags(0x11), "F.");
        assert_eq!(tcp_flags(0xd2), "S.EW");
        assert_eq!(tcp_flags(0), "none");
    }

    #[test]
    fn options_never_panic() {
        for len in 0..12usize {
            for fill in [0u8, 1, 2, 3, 5, 8, 30, 255] {
                let mut s = String::new();
                tcp_options(&mut s, &vec![fill; len]);
                let mut s = String::new();
                let mut v = vec![5u8, fill];
                v.resize(len + 2, fill);
                tcp_options(&mut s, &v);
            }
        }
        for len in 0..80 {
            let f = syn_frame();
            let mut s = String::new();
            tcpdump_line(&mut s, &f[..len.min(f.len())]);
            verbose(
                &mut s,
                &Palette::new(true),
                "RX",
                &f[..len.min(f.len())],
                CsumNote::Plain,
            );
        }
    }

    #[test]
    fn verbose_snapshot() {
        let mut f = syn_frame();
        f[15] = 0x00;
        let mut s = String::new();
        verbose(&mut s, &Palette::new(false), "RX", &f, CsumNote::Plain);
        let expected = "\
RX frame, 74 bytes
  Ethernet  02:00:00:00:00:02 > 02:00:00:00:00:01, type IPv4 (0x0800)
  IPv4      198.18.0.2 > 198.18.0.1, version 4, hlen 20, tos 0x00, length 60, id 4660, flags [DF], offset 0, ttl 64, proto TCP (6), checksum 0x9c60 (valid)
  TCP       40000 > 3000, seq 123, ack 0, hlen 40, flags [S] (0x02), win 64240, urg 0, checksum 0x1873 (valid)
  options   mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7
";
        assert_eq!(s, expected);
        // A checksum not filled in yet (offload) is said so, not called invalid.
        f[50] ^= 0xff;
        let mut s = String::new();
        verbose(&mut s, &Palette::new(false), "RX", &f, CsumNote::NotReady);
        assert!(s.contains("(not filled in: checksum offload)"), "{s}");
        let mut s = String::new();
        verbose(&mut s, &Palette::new(false), "RX", &f, CsumNote::Plain);
        assert!(s.contains("(INVALID)"), "{s}");
    }

    /// The ECN field after the TOS, as `tcpdump -v` prints it (RFC 3168:
    /// ECT(0) on our data, CE from a congested router); the one-line form
    /// (`tcpdump -n -S`, no `-v`) does not show the TOS at all.
    #[test]
    fn verbose_names_the_ecn_field() {
        for (tos, name) in [
            (0x02, "tos 0x02,ECT(0),"),
            (0x01, "tos 0x01,ECT(1),"),
            (0xbb, "tos 0xbb,CE,"),
        ] {
            let mut f = syn_frame();
            f[15] = tos;
            let mut s = String::new();
            verbose(&mut s, &Palette::new(false), "RX", &f, CsumNote::Plain);
            assert!(s.contains(name), "{s}");
            let mut s = String::new();
            tcpdump_line(&mut s, &f);
            assert!(!s.contains("tos"), "{s}");
        }
    }

    #[test]
    fn verbose_payload_and_colour() {
        let mut f = syn_frame();
        f.extend_from_slice(b"Hello\n");
        f[17] += 6;
        let mut s = String::new();
        verbose(&mut s, &Palette::new(true), "TX", &f, CsumNote::Plain);
        assert!(s.contains("payload   6 bytes \"Hello\\n\""), "{s}");
        assert!(s.contains("\x1b["), "colour codes expected: {s}");
        let mut s = String::new();
        tcpdump_line(&mut s, &f);
        assert!(s.ends_with("seq 123:129, win 64240, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 6"), "{s}");
    }
}
