//! `tcp-client`'s command line.

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use clap::Parser;

use crate::cli::ColorWhen;

/// A TCP client that bypasses the kernel's TCP stack: it connects to
/// HOST:PORT from its own address on a raw socket, sends its stdin, writes
/// what it receives to stdout, closes its side (FIN) at the end of stdin,
/// and exits once the peer has closed too and our FIN is acknowledged.
///
/// Needs root (CAP_NET_RAW). It uses ADDR (`--ip`), an address the kernel
/// does not own on this host, and answers ARP for it, so the kernel never
/// resets its connection; it finds the MAC address of HOST (or of the
/// gateway) by ARP itself.
///
/// stdout carries the received payload alone; every log and trace line
/// goes to stderr.
#[derive(Debug, Parser)]
#[command(name = "tcp-client", version, max_term_width = 100)]
#[command(after_help = "Exit status: 0 both sides closed cleanly, 1 error \
(connection refused, reset or timed out: one line on stderr), 2 bad usage.\n\n\
Example (as root, 198.18.0.10 unassigned on eth1):\n  \
echo hello | tcp-client -i eth1 --ip 198.18.0.10 198.18.0.1 3000")]
pub struct ClientCli {
    /// Dump every frame layer by layer (Ethernet, IPv4, TCP with options,
    /// checksums checked), coloured by layer
    #[arg(short, long)]
    pub verbose: bool,

    /// tcpdump-like TX/RX lines (as `tcpdump -n -S` prints them) and a line
    /// for every state transition
    #[arg(short, long)]
    pub debug: bool,

    /// Write every frame received and sent to FILE (pcap, for tcpdump and
    /// tshark)
    #[arg(long, value_name = "FILE")]
    pub pcap: Option<PathBuf>,

    /// Network interface to send and receive on
    #[arg(short, long, value_name = "NAME", required_unless_present = "tun")]
    pub iface: Option<String>,

    /// Use the TUN device NAME (bare IP packets, no Ethernet, no ARP)
    /// instead of an interface: created if missing (and then removed on
    /// exit), brought up, and the kernel is given a route to --ip (`ip
    /// route add ADDR/32 dev NAME`, or ADDR/128 for IPv6, removed on
    /// exit), so that the host's own TCP servers (HOST is then an address
    /// of this host) answer us
    #[arg(long, value_name = "NAME", conflicts_with_all = ["iface", "gateway"])]
    pub tun: Option<String>,

    /// Our own address: one the kernel does not own on this host (we
    /// answer ARP for it, or neighbor solicitations for an IPv6 one); of
    /// HOST's family
    #[arg(long, value_name = "ADDR")]
    pub ip: IpAddr,

    /// Router for a HOST outside the interface's subnet (its MAC address
    /// is the one resolved by ARP); without it HOST must be on the link
    #[arg(long, value_name = "ADDR")]
    pub gateway: Option<Ipv4Addr>,

    /// Our TCP port [default: a random one from 49152 to 65535]
    #[arg(long, value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub local_port: Option<u16>,

    /// Send in bursts as fast as ACKs open the windows, instead of pacing
    /// over the round trip (by default 2x cwnd per RTT in slow start, 1.2x
    /// after, as Linux sends with the fq qdisc)
    #[arg(long)]
    pub no_pacing: bool,

    /// When to colour the trace: auto (stderr is a terminal and NO_COLOR is
    /// unset), always, never
    #[arg(long, value_enum, default_value_t = ColorWhen::Auto, value_name = "WHEN")]
    pub color: ColorWhen,

    /// The server's address, IPv4 or IPv6 (IPv6: on the link or behind
    /// --tun, no --gateway)
    #[arg(value_name = "HOST")]
    pub host: IpAddr,

    /// The server's TCP port
    #[arg(value_name = "PORT", value_parser = clap::value_parser!(u16).range(1..))]
    pub port: u16,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        ClientCli::command().debug_assert();
    }

    /// An interface or a TUN device, one of the two.
    #[test]
    fn iface_or_tun() {
        let parse = |args: &[&str]| {
            ClientCli::try_parse_from(
                ["tcp-client", "--ip", "198.18.0.20"]
                    .iter()
                    .chain(args)
                    .chain(&["198.18.0.10", "3000"]),
            )
        };
        assert!(parse(&["-i", "eth0"]).is_ok());
        let tun = parse(&["--tun", "tcpc0"]).expect("--tun alone");
        assert_eq!(tun.tun.as_deref(), Some("tcpc0"));
        assert_eq!(tun.iface, None);
        assert!(parse(&[]).is_err(), "neither -i nor --tun");
        assert!(parse(&["-i", "eth0", "--tun", "tcpc0"]).is_err());
        assert!(parse(&["--tun", "tcpc0", "--gateway", "198.18.0.1"]).is_err());
    }

    /// Paced unless `--no-pacing`, as the server.
    #[test]
    fn pacing_unless_no_pacing() {
        let parse = |args: &[&str]| {
            ClientCli::try_parse_from(
                ["tcp-client", "--ip", "198.18.0.20", "-i", "eth0"]
                    .iter()
                    .chain(args)
                    .chain(&["198.18.0.10", "3000"]),
            )
            .map(|c| c.no_pacing)
        };
        assert!(!parse(&[]).unwrap());
        assert!(parse(&["--no-pacing"]).unwrap());
        assert!(parse(&["--pacing"]).is_err());
    }
}
