//! For the shared-address mode, where the server uses an address the kernel
//! also owns: the kernel answers every segment of our connections with a
//! RST (it knows no socket for them), so its outgoing RSTs from our
//! address and port must be dropped. Nothing else is touched: the rule is
//! scoped to one source address and one source port, never host-wide.
//!
//! [`NftTable::install_rst_drop`] installs such a rule with nftables (and
//! removes it again); [`NftTable::install_ingress_drop`] keeps our frames
//! from the kernel's IP stack altogether (no RSTs, and no work spent on
//! them);
//! [`rst_drop_commands`] gives the commands for a user to run by hand;
//! [`RstWatch`] counts the RSTs the kernel still sends, to check the rule.

use std::fs::File;
use std::io::Write;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Command, Stdio};

use nix::errno::Errno;
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{recv, MsgFlags};

use crate::socket::open_socket;
use crate::{bpf, sys, Error, Interface};

/// The commands that drop the kernel's outgoing RSTs from `addr:port`, for
/// the user to run (as root): `(nftables, iptables)`, either one suffices.
pub fn rst_drop_commands(addr: Ipv4Addr, port: u16) -> (String, String) {
    let t = format!("tcpserver_{port}");
    let nft = format!(
        "nft add table ip {t} && nft add chain ip {t} output '{{ type filter hook output priority 0; policy accept; }}' && nft add rule ip {t} output ip saddr {addr} tcp sport {port} 'tcp flags & rst == rst' drop"
    );
    let ipt = format!(
        "iptables -A OUTPUT -s {addr}/32 -p tcp --sport {port} --tcp-flags RST RST -j DROP"
    );
    (nft, ipt)
}

/// An nftables table this process installed, scoped to one address and
/// port, in the network namespace of the thread that installed it; removed
/// by [`remove`](Self::remove) or on drop, in that namespace.
///
/// Two kinds:
/// - [`NftTable::install_rst_drop`] (`ip tcpserver_<port>_<pid>`): drops the
///   kernel's outgoing RSTs from the address and port (shared-address mode);
/// - [`NftTable::install_ingress_drop`] (`netdev tcpserver_in_<port>_<pid>`):
///   drops the frames to the address and port at the interface's ingress,
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
    /// Installs the RST-dropping rule in the calling thread's network
    /// namespace (runs `nft -f -`).
    pub fn install_rst_drop(addr: Ipv4Addr, port: u16) -> Result<NftTable, Error> {
        let table = format!("tcpserver_{port}_{}", std::process::id());
        let script = format!(
            "table ip {table} {{\n  chain output {{\n    type filter hook output priority 0; policy accept;\n    ip saddr {addr} tcp sport {port} tcp flags & rst == rst drop\n  }}\n}}\n"
        );
        NftTable::install("ip", table, &script)
    }

    /// Installs the ingress-dropping rule on interface `ifname` in the
    /// calling thread's network namespace (runs `nft -f -`).
    pub fn install_ingress_drop(
        ifname: &str,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<NftTable, Error> {
        if ifname.is_empty() || ifname.contains(['"', '\\', '\n']) {
            return Err(Error::Firewall(format!(
                "unusable interface name {ifname:?}"
            )));
        }
        let table = format!("tcpserver_in_{port}_{}", std::process::id());
        let script = format!(
            "table netdev {table} {{\n  chain ingress {{\n    type filter hook ingress device \"{ifname}\" priority 0; policy accept;\n    ip daddr {addr} tcp dport {port} drop\n  }}\n}}\n"
        );
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

    /// Family of the nftables table (`ip` or `netdev`).
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

/// Counts the TCP RSTs the kernel sends from one address and port on one
/// interface (a second AF_PACKET socket that sees outgoing frames only).
#[derive(Debug)]
pub struct RstWatch {
    fd: OwnedFd,
}

impl RstWatch {
    /// Starts watching outgoing RSTs from `addr:port` on `iface`.
    pub fn new(iface: &Interface, addr: Ipv4Addr, port: u16) -> Result<RstWatch, Error> {
        let fd = open_socket()?;
        sys::attach_filter(fd.as_fd(), &bpf::outgoing_rst_from(addr, port))
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
