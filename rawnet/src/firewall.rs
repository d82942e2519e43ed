//! For the shared-address mode, where the server uses an address the kernel
//! also owns: the kernel answers every segment of our connections with a
//! RST (it knows no socket for them), so its outgoing RSTs from our
//! address and port must be dropped. Nothing else is touched: the rule is
//! scoped to one source address (per family) and one source port, never
//! host-wide.
//!
//! Every rule covers the server's [`Addrs`]: an IPv4 address, an IPv6
//! address, or one of each (a dual-stack server).
//!
//! [`NftTable::install_rst_drop`] installs such a rule with nftables (and
//! removes it again); [`NftTable::install_ingress_drop`] keeps our frames
//! from the kernel's IP stack altogether (no RSTs, and no work spent on
//! them);
//! [`rst_drop_commands`] gives the commands for a user to run by hand;
//! [`RstWatch`] counts the RSTs the kernel still sends, to check the rule.

use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{recv, MsgFlags};

use crate::socket::open_socket;
use crate::{bpf, sys, Error, Interface};

/// The addresses a rule covers: the server's IPv4 address, its IPv6
/// address, or both. Made from an [`Ipv4Addr`], an [`Ipv6Addr`] or an
/// [`IpAddr`] with `into()`, or written out for both.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Addrs {
    /// The IPv4 address, if any.
    pub v4: Option<Ipv4Addr>,
    /// The IPv6 address, if any.
    pub v6: Option<Ipv6Addr>,
}

impl From<Ipv4Addr> for Addrs {
    fn from(a: Ipv4Addr) -> Addrs {
        Addrs {
            v4: Some(a),
            v6: None,
        }
    }
}

impl From<Ipv6Addr> for Addrs {
    fn from(a: Ipv6Addr) -> Addrs {
        Addrs {
            v4: None,
            v6: Some(a),
        }
    }
}

impl From<IpAddr> for Addrs {
    fn from(a: IpAddr) -> Addrs {
        match a {
            IpAddr::V4(a) => a.into(),
            IpAddr::V6(a) => a.into(),
        }
    }
}

impl Addrs {
    /// The nftables family of a table that filters by these addresses in
    /// the output hook: `ip` (IPv4 alone), `ip6` (IPv6 alone) or `inet`
    /// (both).
    pub fn nft_family(&self) -> &'static str {
        match (self.v4, self.v6) {
            (Some(_), Some(_)) => "inet",
            (None, Some(_)) => "ip6",
            _ => "ip",
        }
    }

    /// The nftables address matches, one per family: `ip saddr A`, `ip6
    /// saddr B` (with `dir` "saddr" or "daddr").
    fn matches(&self, dir: &str) -> Vec<String> {
        let mut m = Vec::new();
        if let Some(a) = self.v4 {
            m.push(format!("ip {dir} {a}"));
        }
        if let Some(a) = self.v6 {
            m.push(format!("ip6 {dir} {a}"));
        }
        m
    }

    fn require_some(&self) -> Result<(), Error> {
        if self.v4.is_none() && self.v6.is_none() {
            return Err(Error::Firewall("a rule needs an address to cover".into()));
        }
        Ok(())
    }
}

impl std::fmt::Display for Addrs {
    /// `198.18.0.1`, `2001:2::1` or `198.18.0.1 and 2001:2::1`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.v4, self.v6) {
            (Some(a), Some(b)) => write!(f, "{a} and {b}"),
            (Some(a), None) => write!(f, "{a}"),
            (None, Some(b)) => write!(f, "{b}"),
            (None, None) => write!(f, "no address"),
        }
    }
}

/// The commands that drop the kernel's outgoing RSTs from `addrs` and
/// `port`, for the user to run (as root): `(nftables, iptables)`, either one
/// suffices. For IPv6 the nftables command adds an `ip6 saddr` rule (to an
/// `inet` table when there is an IPv4 address too) and the iptables one is
/// `ip6tables`; each string is one shell line.
pub fn rst_drop_commands(addrs: impl Into<Addrs>, port: u16) -> (String, String) {
    let addrs = addrs.into();
    let t = format!("tcpserver_{port}");
    let fam = addrs.nft_family();
    let mut nft = format!(
        "nft add table {fam} {t} && nft add chain {fam} {t} output '{{ type filter hook output priority 0; policy accept; }}'"
    );
    for m in addrs.matches("saddr") {
        nft.push_str(&format!(
            " && nft add rule {fam} {t} output {m} tcp sport {port} 'tcp flags & rst == rst' drop"
        ));
    }
    let mut ipt = Vec::new();
    if let Some(a) = addrs.v4 {
        ipt.push(format!(
            "iptables -A OUTPUT -s {a}/32 -p tcp --sport {port} --tcp-flags RST RST -j DROP"
        ));
    }
    if let Some(a) = addrs.v6 {
        ipt.push(format!(
            "ip6tables -A OUTPUT -s {a}/128 -p tcp --sport {port} --tcp-flags RST RST -j DROP"
        ));
    }
    (nft, ipt.join(" && "))
}

/// The nftables script of [`NftTable::install_rst_drop`]: table `table`
/// of `addrs`' family, one rule per address, each with a counter (`nft
/// list table` shows what it dropped).
fn rst_drop_script(table: &str, addrs: &Addrs, port: u16) -> String {
    let mut s = format!(
        "table {} {table} {{\n  chain output {{\n    type filter hook output priority 0; policy accept;\n",
        addrs.nft_family()
    );
    for m in addrs.matches("saddr") {
        s.push_str(&format!(
            "    {m} tcp sport {port} tcp flags & rst == rst counter drop\n"
        ));
    }
    s.push_str("  }\n}\n");
    s
}

/// The nftables script of [`NftTable::install_ingress_drop`]: a netdev
/// table `table` on `ifname`, one rule per address, each with a counter.
fn ingress_drop_script(table: &str, ifname: &str, addrs: &Addrs, port: u16) -> String {
    let mut s = format!(
        "table netdev {table} {{\n  chain ingress {{\n    type filter hook ingress device \"{ifname}\" priority 0; policy accept;\n"
    );
    for m in addrs.matches("daddr") {
        s.push_str(&format!("    {m} tcp dport {port} counter drop\n"));
    }
    s.push_str("  }\n}\n");
    s
}

/// An nftables table this process installed, scoped to one address and
/// port, in the network namespace of the thread that installed it; removed
/// by [`remove`](Self::remove) or on drop, in that namespace.
///
/// Two kinds:
/// - [`NftTable::install_rst_drop`] (`ip tcpserver_<port>_<pid>`, `ip6` for
///   an IPv6 address alone, `inet` for both families): drops the kernel's
///   outgoing RSTs from the addresses and port (shared-address mode);
/// - [`NftTable::install_ingress_drop`] (`netdev tcpserver_in_<port>_<pid>`):
///   drops the frames to the addresses and port at the interface's ingress,
///   after the packet sockets (ours, tcpdump) have had their copy, so the
///   kernel's IP stack never processes them. It would only drop them (an
///   address it does not own) or answer them with RSTs (its own address);
///   without it, that work is done for every frame, in the softirq of the
///   CPU that received it, often the sender's own on a veth pair.
#[derive(Debug)]
pub struct NftTable {
    family: &'static str,
    table: String,
    netns: Option<File>,
    removed: bool,
}

impl NftTable {
    /// Installs the RST-dropping rule for `addrs` (one rule per family) in
    /// the calling thread's network namespace (runs `nft -f -`).
    pub fn install_rst_drop(addrs: impl Into<Addrs>, port: u16) -> Result<NftTable, Error> {
        let addrs = addrs.into();
        addrs.require_some()?;
        let table = format!("tcpserver_{port}_{}", std::process::id());
        let script = rst_drop_script(&table, &addrs, port);
        NftTable::install(addrs.nft_family(), table, &script)
    }

    /// Installs the ingress-dropping rule for `addrs` (`ip daddr` and/or
    /// `ip6 daddr`) on interface `ifname` in the calling thread's network
    /// namespace (runs `nft -f -`).
    pub fn install_ingress_drop(
        ifname: &str,
        addrs: impl Into<Addrs>,
        port: u16,
    ) -> Result<NftTable, Error> {
        if ifname.is_empty() || ifname.contains(['"', '\\', '\n']) {
            return Err(Error::Firewall(format!(
                "unusable interface name {ifname:?}"
            )));
        }
        let addrs = addrs.into();
        addrs.require_some()?;
        let table = format!("tcpserver_in_{port}_{}", std::process::id());
        let script = ingress_drop_script(&table, ifname, &addrs, port);
        NftTable::install("netdev", table, &script)
    }

    fn install(family: &'static str, table: String, script: &str) -> Result<NftTable, Error> {
        run_nft(&["-f", "-"], Some(script))?;
        Ok(NftTable {
            family,
            table,
            netns: File::open("/proc/thread-self/ns/net").ok(),
            removed: false,
        })
    }

    /// Name of the nftables table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Family of the nftables table (`ip`, `ip6`, `inet` or `netdev`).
    pub fn family(&self) -> &str {
        self.family
    }

    /// Removes the rule (its whole table). Removing a table that is already
    /// gone is not an error.
    pub fn remove(mut self) -> Result<(), Error> {
        self.removed = true;
        self.delete()
    }

    fn delete(&self) -> Result<(), Error> {
        let args = ["delete", "table", self.family, self.table.as_str()];
        let del = || match run_nft(&args, None) {
            Err(Error::Firewall(m)) if m.contains("No such file") => Ok(()),
            r => r,
        };
        match &self.netns {
            // Run where the rule was installed, whatever this thread's namespace.
            Some(ns) => std::thread::scope(|s| {
                s.spawn(|| {
                    setns(ns.as_fd(), CloneFlags::CLONE_NEWNET)
                        .map_err(|e| Error::io("setns into the rule's network namespace", e))?;
                    del()
                })
                .join()
                .unwrap_or_else(|_| Err(Error::Firewall("nft delete panicked".into())))
            }),
            None => del(),
        }
    }
}

impl Drop for NftTable {
    fn drop(&mut self) {
        if !self.removed {
            let _ = self.delete();
        }
    }
}

fn run_nft(args: &[&str], stdin: Option<&str>) -> Result<(), Error> {
    let mut cmd = Command::new("nft");
    cmd.args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(|e| {
        Error::Firewall(match e.kind() {
            std::io::ErrorKind::NotFound => "nft not found: apt-get install nftables".into(),
            _ => format!("cannot run nft: {e}"),
        })
    })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A write error shows up as nft's own failure below.
        let _ = pipe.write_all(text.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::Firewall(format!("waiting for nft: {e}")))?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let first = err
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no message");
    let hint = if first.contains("Operation not permitted") {
        ": run as root (needs CAP_NET_ADMIN)"
    } else {
        ""
    };
    Err(Error::Firewall(format!(
        "nft {} failed: {first}{hint}",
        args.join(" ")
    )))
}

/// Counts the TCP RSTs the kernel sends from one port of our addresses (IPv4,
/// IPv6 or both) on one interface (a second AF_PACKET socket that sees
/// outgoing frames only).
#[derive(Debug)]
pub struct RstWatch {
    fd: OwnedFd,
}

impl RstWatch {
    /// Starts watching outgoing RSTs from `addrs` and `port` on `iface`.
    pub fn new(iface: &Interface, addrs: impl Into<Addrs>, port: u16) -> Result<RstWatch, Error> {
        let addrs = addrs.into();
        addrs.require_some()?;
        let fd = open_socket()?;
        sys::attach_filter(
            fd.as_fd(),
            &bpf::outgoing_rst_from(addrs.v4, addrs.v6, port),
        )
        .map_err(|e| Error::io("setsockopt(SO_ATTACH_FILTER)", e))?;
        sys::bind_packet(fd.as_fd(), iface.index, 0x0003).map_err(|e| match e {
            Errno::ENODEV | Errno::ENXIO => Error::NoSuchInterface(iface.name.clone()),
            _ => Error::io("bind(AF_PACKET) to the interface", e),
        })?;
        Ok(RstWatch { fd })
    }

    /// How many such RSTs were sent since the last call (non-blocking; the
    /// server subtracts the RSTs it sent itself).
    pub fn poll_count(&mut self) -> usize {
        let mut buf = [0u8; 64];
        let mut n = 0;
        for _ in 0..1_000_000 {
            match recv(
                std::os::fd::AsRawFd::as_raw_fd(&self.fd),
                &mut buf,
                MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_TRUNC,
            ) {
                Ok(_) => n += 1,
                Err(Errno::EINTR) => {}
                Err(_) => break,
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both() -> Addrs {
        Addrs {
            v4: Some(Ipv4Addr::new(198, 18, 1, 1)),
            v6: Some("2001:2:0:1::1".parse().unwrap()),
        }
    }

    /// IPv4 alone: an `ip` table, as before IPv6 came.
    #[test]
    fn rst_script_ipv4() {
        assert_eq!(
            rst_drop_script("t", &Ipv4Addr::new(198, 18, 1, 1).into(), 80),
            "table ip t {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    ip saddr 198.18.1.1 tcp sport 80 tcp flags & rst == rst counter drop\n  }\n}\n"
        );
    }

    /// Both families: one `inet` table, one rule for each.
    #[test]
    fn rst_script_both_families() {
        assert_eq!(
            rst_drop_script("t", &both(), 80),
            "table inet t {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    ip saddr 198.18.1.1 tcp sport 80 tcp flags & rst == rst counter drop\n    ip6 saddr 2001:2:0:1::1 tcp sport 80 tcp flags & rst == rst counter drop\n  }\n}\n"
        );
        let v6: Addrs = "2001:2:0:1::1".parse::<Ipv6Addr>().unwrap().into();
        let s = rst_drop_script("t", &v6, 80);
        assert!(s.starts_with("table ip6 t {"), "{s}");
        assert!(!s.contains("ip saddr"), "{s}");
    }

    #[test]
    fn ingress_script_both_families() {
        assert_eq!(
            ingress_drop_script("t", "veth0", &both(), 80),
            "table netdev t {\n  chain ingress {\n    type filter hook ingress device \"veth0\" priority 0; policy accept;\n    ip daddr 198.18.1.1 tcp dport 80 counter drop\n    ip6 daddr 2001:2:0:1::1 tcp dport 80 counter drop\n  }\n}\n"
        );
    }

    #[test]
    fn commands_cover_both_families() {
        let (nft, ipt) = rst_drop_commands(both(), 80);
        assert_eq!(
            nft,
            "nft add table inet tcpserver_80 && nft add chain inet tcpserver_80 output '{ type filter hook output priority 0; policy accept; }' && nft add rule inet tcpserver_80 output ip saddr 198.18.1.1 tcp sport 80 'tcp flags & rst == rst' drop && nft add rule inet tcpserver_80 output ip6 saddr 2001:2:0:1::1 tcp sport 80 'tcp flags & rst == rst' drop"
        );
        assert_eq!(
            ipt,
            "iptables -A OUTPUT -s 198.18.1.1/32 -p tcp --sport 80 --tcp-flags RST RST -j DROP && ip6tables -A OUTPUT -s 2001:2:0:1::1/128 -p tcp --sport 80 --tcp-flags RST RST -j DROP"
        );
        // IPv4 alone: exactly the commands printed before IPv6 came.
        let (nft, ipt) = rst_drop_commands(Ipv4Addr::new(198, 18, 1, 1), 80);
        assert_eq!(
            nft,
            "nft add table ip tcpserver_80 && nft add chain ip tcpserver_80 output '{ type filter hook output priority 0; policy accept; }' && nft add rule ip tcpserver_80 output ip saddr 198.18.1.1 tcp sport 80 'tcp flags & rst == rst' drop"
        );
        assert_eq!(
            ipt,
            "iptables -A OUTPUT -s 198.18.1.1/32 -p tcp --sport 80 --tcp-flags RST RST -j DROP"
        );
    }

    #[test]
    fn a_rule_needs_an_address() {
        assert!(NftTable::install_rst_drop(Addrs::default(), 80).is_err());
        assert!(NftTable::install_ingress_drop("veth0", Addrs::default(), 80).is_err());
        assert_eq!(both().to_string(), "198.18.1.1 and 2001:2:0:1::1");
    }
}
