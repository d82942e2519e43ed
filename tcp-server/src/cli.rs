//! The command line.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

/// A TCP server that bypasses the kernel's TCP stack: it reads and writes
/// whole Ethernet frames on a raw socket (or bare IP packets on a TUN
/// device, `--tun`) and runs its own TCP.
///
/// Needs root (CAP_NET_RAW). Two ways to keep the kernel from resetting its
/// connections: `--ip ADDR` with an address the kernel does not own (the
/// server answers ARP or neighbor solicitations for it), or the kernel's own
/// addresses (IPv4 and IPv6) with its RSTs dropped (`--install-rst-rule`,
/// or the commands printed at start).
///
/// stdout carries the received payload alone (in print mode); every log,
/// trace line and the exit summary go to stderr.
#[derive(Debug, Parser)]
#[command(name = "tcp-server", version, max_term_width = 100)]
#[command(
    after_help = "Exit status: 0 ok (with -s: the connection closed cleanly), \
1 error, 2 bad usage, 3 (-s) the connection was reset, 4 (-s) it timed out or was aborted."
)]
pub struct Cli {
    /// Dump every frame layer by layer (Ethernet, IPv4, TCP with options,
    /// checksums checked), coloured by layer
    #[arg(short, long)]
    pub verbose: bool,

    /// tcpdump-like TX/RX lines (as `tcpdump -n -S` prints them) and a line
    /// for every state transition
    #[arg(short, long)]
    pub debug: bool,

    /// Exit after the first completed connection (status 0 if it closed
    /// cleanly, 3 if reset, 4 if timed out)
    #[arg(short, long)]
    pub single_session: bool,

    /// TCP port to listen on
    #[arg(short, long, default_value_t = 3000, value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,

    /// Network interface [default: the first one that is up, not loopback,
    /// with an IPv4 address, else with a global IPv6 address]
    #[arg(short, long, value_name = "NAME", conflicts_with = "tun")]
    pub iface: Option<String>,

    /// Serve on the TUN device NAME (bare IP packets, no Ethernet, no ARP)
    /// instead of an interface: it is created if missing (and then removed
    /// on exit), brought up, and the kernel is given a route to each --ip
    /// (`ip route add ADDR/32 dev NAME`, ADDR/128 for IPv6, removed on
    /// exit), so that the host's ordinary clients reach the server. Needs
    /// --ip (IPv4, IPv6, or one of each); one worker, no GSO
    #[arg(long, value_name = "NAME", requires = "ip")]
    pub tun: Option<String>,

    /// Own-address mode: serve on ADDR, an address the kernel does not own
    /// on this host, and answer ARP (IPv4) or neighbor solicitations (IPv6)
    /// for it (no firewall rule needed). Give it twice, one IPv4 and one
    /// IPv6 address, to serve both on one server (dual stack); with an IPv6
    /// address alone no IPv4 is served. Without it the server shares the
    /// interface's addresses with the kernel: its IPv4 address and its first
    /// global IPv6 address, whichever it has (shared-address mode)
    #[arg(long, value_name = "ADDR", action = clap::ArgAction::Append)]
    pub ip: Vec<IpAddr>,

    /// What to do with the received payload: print it to stdout, discard it
    /// (count only), echo it back (RFC 862), or discard it and send every
    /// connection the --file, then close
    #[arg(long, value_enum, default_value_t = Mode::Print)]
    pub mode: Mode,

    /// File mode: the file every connection is sent (read once at start)
    #[arg(long, value_name = "PATH", required_if_eq("mode", "file"))]
    pub file: Option<PathBuf>,

    /// Write every frame received and sent to FILE (pcap, for tcpdump and
    /// tshark)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Most connections at once, up to 65536
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub max_conns: u32,

    /// Receive buffer per connection in bytes (a power of two, 4 KiB to
    /// 64 MiB; K/M suffixes accepted): the largest window advertised
    #[arg(long, value_name = "BYTES", default_value = "256K", value_parser = parse_buf)]
    pub rx_buf: usize,

    /// Send buffer per connection in bytes, used by echo and file modes (a
    /// power of two, 4 KiB to 64 MiB)
    #[arg(long, value_name = "BYTES", default_value = "256K", value_parser = parse_buf)]
    pub tx_buf: usize,

    /// Upper bound on the memory of all connection buffers, in MiB: start-up
    /// is refused when --max-conns × (--rx-buf + --tx-buf in echo or file mode)
    /// exceeds it (buffers are only backed by memory where data lands, so
    /// this bounds the worst case)
    #[arg(long, value_name = "MIB", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_memory: u64,

    /// Most half-open connections (SYN-RECEIVED) per worker; beyond it SYNs
    /// are answered with SYN cookies [default: half of --max-conns]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_half_open: Option<u32>,

    /// Drop SYNs beyond --max-half-open instead of answering with SYN
    /// cookies (RFC 4987)
    #[arg(long)]
    pub no_syn_cookies: bool,

    /// Most connections from one source address at once (0: no limit)
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub max_per_source: u32,

    /// Reset a connection that receives nothing for this many seconds
    /// (0: never)
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub idle_timeout: u64,

    /// Keep-alive (RFC 1122 §4.2.3.6, off by default): probe a connection
    /// idle for this many seconds, every 75 s after, and reset it after 9
    /// unanswered probes (Linux's interval and count)
    #[arg(long, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub keepalive: Option<u64>,

    /// User timeout (RFC 5482, Linux TCP_USER_TIMEOUT; off by default):
    /// reset a connection whose data has gone unacknowledged for this many
    /// milliseconds, at its next retransmission timeout, instead of after
    /// --max-retries; with --keepalive, also end the probing that long
    /// after the last answer
    #[arg(long, value_name = "MS", value_parser = clap::value_parser!(u64).range(1..))]
    pub user_timeout: Option<u64>,

    /// The receive ring: v2 hands each frame over at once (lowest latency,
    /// the default); v3 packs frames into blocks handed over when full or
    /// after 1 ms (fewer wake-ups; adds up to 1 ms of latency at low rates)
    #[arg(long, value_enum, default_value_t = Ring::V2)]
    pub ring: Ring,

    /// Send MSS-sized frames only, instead of large segments that the kernel
    /// cuts (GSO through PACKET_VNET_HDR; echo and file modes)
    #[arg(long)]
    pub no_gso: bool,

    /// Send each connection's data in bursts as fast as ACKs open the
    /// windows, instead of pacing it over the round trip (by default 2x
    /// cwnd per RTT in slow start, 1.2x after, as Linux sends with the fq
    /// qdisc)
    #[arg(long)]
    pub no_pacing: bool,

    /// Retransmissions of data or FIN (timeouts in a row) before a
    /// connection is reset
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u8).range(1..=30))]
    pub max_retries: u8,

    /// Worker threads, 1 to 64: each has its own raw socket (one
    /// PACKET_FANOUT group whose program keeps every connection, and the
    /// ICMP errors about it, on one worker) and its own share of
    /// --max-conns. Each connection's
    /// payload stays in order on stdout; those of different connections
    /// interleave in chunks
    #[arg(long, default_value_t = 1, value_parser = parse_workers)]
    pub workers: u16,

    /// When to colour the trace: auto (stderr is a terminal and NO_COLOR is
    /// unset), always, never
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    /// Shared-address mode: install an nftables rule that drops the kernel's
    /// RSTs from our addresses (IPv4 and IPv6) and port, and remove it on
    /// exit
    #[arg(long, conflicts_with = "ip")]
    pub install_rst_rule: bool,

    /// Install an nftables rule on the interface's ingress that drops the
    /// frames to our addresses (IPv4 and IPv6) and port once this server
    /// has read them, so
    /// the kernel's IP stack spends nothing on them (and, on a shared
    /// address, sends no RSTs); removed on exit
    #[arg(long, conflicts_with = "tun")]
    pub install_ingress_rule: bool,
}

/// What happens to the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Each connection's payload to stdout, in order.
    Print,
    /// Count only.
    Discard,
    /// Send it back (RFC 862).
    Echo,
    /// Discard it; send each connection the --file, then a FIN.
    File,
}

impl Mode {
    /// The server sends data (and so needs send buffers).
    pub fn sends(self) -> bool {
        matches!(self, Mode::Echo | Mode::File)
    }
}

/// The receive ring's kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Ring {
    /// TPACKET_V2: one slot per frame.
    V2,
    /// TPACKET_V3: blocks of frames.
    V3,
}

/// When to colour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    /// When stderr is a terminal and NO_COLOR is not set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Most workers: one raw socket, thread and connection table each.
pub const MAX_WORKERS: u16 = 64;

/// A buffer size: a power of two from 4 KiB to 64 MiB, with an optional
/// K or M suffix.
fn parse_buf(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().last() {
        Some((i, 'K' | 'k')) => (&t[..i], 1024),
        Some((i, 'M' | 'm')) => (&t[..i], 1024 * 1024),
        _ => (t, 1),
    };
    let n: usize = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (e.g. 65536, 64K, 1M)"))?;
    let n = n
        .checked_mul(mult)
        .ok_or_else(|| format!("`{s}` is too large"))?;
    if !n.is_power_of_two() || !(4096..=64 << 20).contains(&n) {
        return Err(format!("`{s}` must be a power of two from 4K to 64M"));
    }
    Ok(n)
}

fn parse_workers(s: &str) -> Result<u16, String> {
    let n: u16 = s
        .parse()
        .map_err(|_| format!("`{s}` is not a number of workers"))?;
    match n {
        0 => Err("at least one worker is needed".into()),
        1..=MAX_WORKERS => Ok(n),
        _ => Err(format!(
            "at most {MAX_WORKERS} workers (each has its own raw socket, ring and connection table)"
        )),
    }
}

impl Cli {
    /// The `--ip` addresses: at most one IPv4 and one IPv6, else the
    /// usage error to print.
    pub fn own_addrs(&self) -> Result<(Option<Ipv4Addr>, Option<Ipv6Addr>), String> {
        let (mut v4, mut v6) = (None, None);
        for ip in &self.ip {
            let dup = match *ip {
                IpAddr::V4(a) => v4.replace(a).is_some(),
                IpAddr::V6(a) => v6.replace(a).is_some(),
            };
            if dup {
                return Err(
                    "--ip may be given twice only for one IPv4 and one IPv6 address".into(),
                );
            }
        }
        if let Some(a) = v6 {
            if a.is_unspecified() || a.is_multicast() || a.is_loopback() {
                return Err(format!("--ip {a}: not a unicast address"));
            }
        }
        Ok((v4, v6))
    }
}

impl ColorWhen {
    /// Whether to colour output going to stderr.
    pub fn enabled(self) -> bool {
        use std::io::IsTerminal;
        match self {
            ColorWhen::Always => true,
            ColorWhen::Never => false,
            ColorWhen::Auto => {
                let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
                let dumb = std::env::var_os("TERM").is_some_and(|t| t == "dumb");
                !no_color && !dumb && std::io::stderr().is_terminal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn buffer_sizes() {
        assert_eq!(parse_buf("256K"), Ok(256 * 1024));
        assert_eq!(parse_buf("1M"), Ok(1 << 20));
        assert_eq!(parse_buf("4096"), Ok(4096));
        assert!(parse_buf("3000").is_err());
        assert!(parse_buf("1K").is_err());
        assert!(parse_buf("128M").is_err());
        assert!(parse_buf("x").is_err());
    }

    #[test]
    fn ip_twice_for_dual_stack() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).unwrap().own_addrs();
        assert_eq!(parse(&["tcp-server"]), Ok((None, None)));
        assert_eq!(
            parse(&["tcp-server", "--ip", "2001:2::10"]),
            Ok((None, Some("2001:2::10".parse().unwrap())))
        );
        assert_eq!(
            parse(&["tcp-server", "--ip", "2001:2::10", "--ip", "198.18.0.10"]),
            Ok((
                Some(Ipv4Addr::new(198, 18, 0, 10)),
                Some("2001:2::10".parse().unwrap())
            ))
        );
        assert!(parse(&["tcp-server", "--ip", "198.18.0.10", "--ip", "198.18.0.11"]).is_err());
        assert!(parse(&["tcp-server", "--ip", "2001:2::10", "--ip", "2001:2::11"]).is_err());
        assert!(parse(&["tcp-server", "--ip", "ff02::1"]).is_err());
    }

    #[test]
    fn pacing_unless_no_pacing() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.no_pacing);
        assert!(!parse(&["tcp-server"]).unwrap(), "paced by default");
        assert!(parse(&["tcp-server", "--no-pacing"]).unwrap());
        assert!(parse(&["tcp-server", "--pacing"]).is_err());
    }

    #[test]
    fn keepalive_flag() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.keepalive);
        assert_eq!(parse(&["tcp-server"]).unwrap(), None, "off by default");
        assert_eq!(
            parse(&["tcp-server", "--keepalive", "30"]).unwrap(),
            Some(30)
        );
        assert!(parse(&["tcp-server", "--keepalive", "0"]).is_err());
    }

    #[test]
    fn user_timeout_flag() {
        let parse = |args: &[&str]| Cli::try_parse_from(args).map(|c| c.user_timeout);
        assert_eq!(parse(&["tcp-server"]).unwrap(), None, "off by default");
        assert_eq!(
            parse(&["tcp-server", "--user-timeout", "30000"]).unwrap(),
            Some(30000)
        );
        assert!(parse(&["tcp-server", "--user-timeout", "0"]).is_err());
        assert!(parse(&["tcp-server", "--user-timeout", "x"]).is_err());
    }
}
