//! Network namespaces for test harnesses: a private two-host network made of
//! two namespaces joined by a veth pair, so tests never touch the host's
//! interfaces or any outside address.
//!
//! ```no_run
//! use rawnet::netns::TestNet;
//! use rawnet::{Interface, RawSocket, SocketConfig};
//!
//! # fn main() -> Result<(), rawnet::Error> {
//! let net = TestNet::new("doc", 7)?; // 198.18.7.1 (ns a) <-> 198.18.7.2 (ns b)
//! let sock = net.run_in_a(|| {
//!     let iface = Interface::by_name(&net.if_a)?;
//!     RawSocket::open(&iface, &SocketConfig::default())
//! })??;
//! let out = net.exec_b(["ip", "addr"]).output();
//! # drop((sock, out)); Ok(()) }
//! // `net` is dropped here: both namespaces (and the veth) are removed,
//! // also when the test panics.
//! ```
//!
//! Needs root (or CAP_SYS_ADMIN + CAP_NET_ADMIN) and the `ip` tool;
//! [`TestNet::set_offloads`] needs `ethtool`.

use std::ffi::OsStr;
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;

use nix::sched::{setns, CloneFlags};

use crate::{Error, Interface};

/// Two network namespaces joined by a veth pair, with one /24 of
/// 198.18.0.0/15 between them; removed on drop (also on panic).
#[derive(Debug)]
pub struct TestNet {
    /// Namespace of side a (`rn<pid><tag>a`).
    pub ns_a: String,
    /// Namespace of side b (`rn<pid><tag>b`).
    pub ns_b: String,
    /// The veth end in `ns_a` (same name as the namespace).
    pub if_a: String,
    /// The veth end in `ns_b` (same name as the namespace).
    pub if_b: String,
    /// `198.18.<subnet>.1`, on `if_a`.
    pub addr_a: Ipv4Addr,
    /// `198.18.<subnet>.2`, on `if_b`.
    pub addr_b: Ipv4Addr,
    /// Prefix length of both addresses (24).
    pub prefix: u8,
}

/// The same thing under the name of what it is built from.
pub type VethPair = TestNet;

impl TestNet {
    /// The names and addresses of a test network from `base`: namespaces
    /// and interfaces `{base}a`, `{base}b`, addresses 198.18.`subnet`.1 and
    /// .2 /24. Nothing is made.
    pub(crate) fn named(base: &str, subnet: u8) -> TestNet {
        TestNet {
            ns_a: format!("{base}a"),
            ns_b: format!("{base}b"),
            if_a: format!("{base}a"),
            if_b: format!("{base}b"),
            addr_a: Ipv4Addr::new(198, 18, subnet, 1),
            addr_b: Ipv4Addr::new(198, 18, subnet, 2),
            prefix: 24,
        }
    }

    /// Creates namespaces `rn<pid><tag>a` and `rn<pid><tag>b`, a veth pair
    /// between them (each end named like its namespace), addresses
    /// 198.18.`subnet`.1/24 (a) and .2/24 (b), all links (and `lo`) up, and
    /// IPv6 off (no stray router solicitations on the wire).
    ///
    /// `tag` is lowercase letters and digits, short enough that names stay
    /// within 15 characters (5 always fits). Tests running at the same time
    /// must use different tags (and should use different subnets).
    pub fn new(tag: &str, subnet: u8) -> Result<TestNet, Error> {
        let base = format!("rn{}{tag}", std::process::id());
        if tag.is_empty()
            || !tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            || base.len() + 1 > 15
        {
            return Err(Error::Command(format!(
                "netns tag `{tag}` must be 1.. lowercase letters/digits with `{base}a` at most 15 characters"
            )));
        }
        let net = TestNet::named(&base, subnet);
        // From here on, Drop cleans up whatever part was made.
        run(Command::new("ip").args(["netns", "add", &net.ns_a]))?;
        run(Command::new("ip").args(["netns", "add", &net.ns_b]))?;
        run(Command::new("ip").args([
            "link", "add", &net.if_a, "netns", &net.ns_a, "type", "veth", "peer", "name",
            &net.if_b, "netns", &net.ns_b,
        ]))?;
        for (ns, ifname, addr) in [
            (&net.ns_a, &net.if_a, net.addr_a),
            (&net.ns_b, &net.if_b, net.addr_b),
        ] {
            // Best effort: a kernel without IPv6 has nothing to turn off.
            let _ = run(&mut exec(
                ns,
                [
                    "sysctl",
                    "-qw",
                    "net.ipv6.conf.all.disable_ipv6=1",
                    "net.ipv6.conf.default.disable_ipv6=1",
                ],
            ));
            let cidr = format!("{addr}/{}", net.prefix);
            run(Command::new("ip").args(["-n", ns, "addr", "add", &cidr, "dev", ifname]))?;
            run(Command::new("ip").args(["-n", ns, "link", "set", ifname, "up"]))?;
            run(Command::new("ip").args(["-n", ns, "link", "set", "lo", "up"]))?;
        }
        Ok(net)
    }

    /// Runs `f` on a thread inside namespace a; see [`run_in_ns`].
    pub fn run_in_a<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, Error> {
        run_in_ns(&self.ns_a, f)
    }

    /// Runs `f` on a thread inside namespace b; see [`run_in_ns`].
    pub fn run_in_b<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, Error> {
        run_in_ns(&self.ns_b, f)
    }

    /// A command (program and arguments in `args`) to run inside namespace a.
    pub fn exec_a<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        exec(&self.ns_a, args)
    }

    /// A command (program and arguments in `args`) to run inside namespace b.
    pub fn exec_b<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        exec(&self.ns_b, args)
    }

    /// The veth end of side a, as seen from inside namespace a.
    pub fn iface_a(&self) -> Result<Interface, Error> {
        self.run_in_a(|| Interface::by_name(&self.if_a))?
    }

    /// The veth end of side b, as seen from inside namespace b.
    pub fn iface_b(&self) -> Result<Interface, Error> {
        self.run_in_b(|| Interface::by_name(&self.if_b))?
    }

    /// Turns checksum offload, TSO, GSO and GRO on or off on both veth ends
    /// (`ethtool -K`). With offloads on, frames from one namespace arrive in
    /// the other with their checksum not yet filled in
    /// ([`CsumStatus::NotReady`](crate::CsumStatus::NotReady)) and TCP
    /// segments may be up to 64 KiB.
    pub fn set_offloads(&self, on: bool) -> Result<(), Error> {
        let v = if on { "on" } else { "off" };
        for (ns, ifname) in [(&self.ns_a, &self.if_a), (&self.ns_b, &self.if_b)] {
            run(&mut exec(
                ns,
                [
                    "ethtool", "-K", ifname, "tx", v, "rx", v, "tso", v, "gso", v, "gro", v,
                ],
            ))?;
        }
        Ok(())
    }
}

impl Drop for TestNet {
    fn drop(&mut self) {
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// One network namespace of a test, `rn<pid><tag>`, with `lo` up; removed
/// on drop (also on panic), with every interface in it.
#[derive(Debug)]
pub struct TestNs {
    /// The namespace's name (under /run/netns).
    pub name: String,
}

impl TestNs {
    /// Creates namespace `rn<pid><tag>` and brings its `lo` up. `tag` is as
    /// for [`TestNet::new`]: lowercase letters and digits, different for
    /// tests that run at the same time, `rn<pid><tag>` at most 15
    /// characters.
    pub fn new(tag: &str) -> Result<TestNs, Error> {
        let name = format!("rn{}{tag}", std::process::id());
        if tag.is_empty()
            || !tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            || name.len() > 15
        {
            return Err(Error::Command(format!(
                "netns tag `{tag}` must be 1.. lowercase letters/digits with `{name}` at most 15 characters"
            )));
        }
        run(Command::new("ip").args(["netns", "add", &name]))?;
        // From here on, Drop removes it.
        let ns = TestNs { name };
        run(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]))?;
        Ok(ns)
    }

    /// Runs `f` on a thread inside the namespace; see [`run_in_ns`].
    pub fn run_in<T: Send, F: FnOnce() -> T + Send>(&self, f: F) -> Result<T, Error> {
        run_in_ns(&self.name, f)
    }

    /// A command (program and arguments in `args`) to run inside the namespace.
    pub fn exec<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(&self, args: I) -> Command {
        exec(&self.name, args)
    }
}

impl Drop for TestNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// Runs `f` on a new thread that first entered network namespace `ns` (a
/// name under /run/netns, as `ip netns` makes) and returns its result. A
/// panic in `f` is passed on to the caller.
///
/// Sockets made by `f` stay in that namespace wherever they are used later.
pub fn run_in_ns<T: Send, F: FnOnce() -> T + Send>(ns: &str, f: F) -> Result<T, Error> {
    let file = open_ns(ns)?;
    run_in_ns_file(&file, ns, f)
}

/// [`run_in_ns`] for a namespace given as an open file (`/run/netns/<ns>`,
/// `/proc/<pid>/ns/net`, ...); `ns` names it in errors.
pub(crate) fn run_in_ns_file<T: Send, F: FnOnce() -> T + Send>(
    file: &File,
    ns: &str,
    f: F,
) -> Result<T, Error> {
    std::thread::scope(|s| {
        let h = s.spawn(move || -> Result<T, Error> {
            enter(file, ns)?;
            Ok(f())
        });
        match h.join() {
            Ok(r) => r,
            Err(p) => std::panic::resume_unwind(p),
        }
    })
}

/// Like [`run_in_ns`] but does not wait: returns the thread's handle (e.g.
/// for a server that runs while the test goes on). The thread's result is
/// an error if it could not enter `ns`, else `f`'s value.
pub fn spawn_in_ns<T, F>(ns: &str, f: F) -> Result<JoinHandle<Result<T, Error>>, Error>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let file = open_ns(ns)?;
    let name = ns.to_string();
    Ok(std::thread::spawn(move || {
        enter(&file, &name)?;
        Ok(f())
    }))
}

fn open_ns(ns: &str) -> Result<File, Error> {
    File::open(format!("/run/netns/{ns}")).map_err(|e| {
        Error::Command(format!(
            "cannot open network namespace `{ns}` (/run/netns/{ns}): {e}; see `ip netns list`"
        ))
    })
}

fn enter(file: &File, ns: &str) -> Result<(), Error> {
    setns(file.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|e| {
        Error::Command(format!(
            "setns into network namespace `{ns}`: {} (needs root)",
            e.desc()
        ))
    })
}

/// `ip netns exec <ns> <args...>`: a command builder for a program (the first
/// of `args`) to run inside namespace `ns`.
pub fn exec<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(ns: &str, args: I) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).args(args);
    c
}

/// Runs `cmd` to completion; an error (naming the command and quoting its
/// stderr) unless it exits with status 0. Returns its output.
pub fn run(cmd: &mut Command) -> Result<Output, Error> {
    let shown = format!(
        "{} {}",
        cmd.get_program().to_string_lossy(),
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::Command(format!("cannot run `{shown}`: {e}")))?;
    if out.status.success() {
        return Ok(out);
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(Error::Command(format!(
        "`{shown}` failed ({}): {}",
        out.status,
        err.trim().replace('\n', "; ")
    )))
}

/// The sum of the `packets N` of every counter in nftables table `family
/// table` in namespace `ns` (what the test and bench rules dropped or
/// marked).
pub fn nft_packets(ns: &str, family: &str, table: &str) -> Result<u64, Error> {
    let out = run(&mut exec(ns, ["nft", "list", "table", family, table]))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut words = text.split_whitespace();
    let mut sum = 0;
    while let Some(w) = words.next() {
        if w == "packets" {
            sum += words
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(sum)
}
