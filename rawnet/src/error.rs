//! The crate's one error type: every message is one line that names the
//! interface or address involved and says how to fix it.

use std::fmt;
use std::net::Ipv4Addr;

use nix::errno::Errno;

/// What went wrong, with enough context for a one-line, actionable message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// Opening a raw socket was refused: the process lacks `CAP_NET_RAW`.
    PermissionDenied,
    /// No interface of that name exists in this network namespace.
    NoSuchInterface(String),
    /// The interface exists but is administratively down.
    InterfaceDown(String),
    /// The interface has no IPv4 address.
    NoIpv4(String),
    /// No interface is up, non-loopback and has an IPv4 or a global IPv6
    /// address.
    NoDefaultInterface,
    /// The address is assigned to the kernel on this interface, so the kernel
    /// would answer (and reset) our connections.
    AddressInUse {
        /// The address asked for.
        addr: Ipv4Addr,
        /// The interface the kernel has it on.
        iface: String,
    },
    /// Installing or removing the firewall rule failed; the text says why and what to do.
    Firewall(String),
    /// A TUN device could not be opened or set up; the text says why and
    /// what to do.
    Tun(String),
    /// A [`SocketConfig`](crate::SocketConfig) value the kernel would refuse.
    InvalidConfig(&'static str),
    /// A command of the test harness ([`netns`](crate::netns)) failed.
    Command(String),
    /// A system call failed.
    Io {
        /// The call, and a hint where one helps.
        context: &'static str,
        /// The errno.
        source: Errno,
    },
}

impl Error {
    /// Builds an [`Error::Io`], mapping `EPERM`/`EACCES` to [`Error::PermissionDenied`].
    pub(crate) fn io(context: &'static str, source: Errno) -> Error {
        match source {
            Errno::EPERM | Errno::EACCES => Error::PermissionDenied,
            _ => Error::Io { context, source },
        }
    }

    /// True for errors that may go away by themselves (a full transmit queue,
    /// an interrupted wait): the caller may log and carry on.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Io {
                source: Errno::ENOBUFS | Errno::EAGAIN | Errno::EINTR | Errno::ENOMEM,
                ..
            }
        )
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::PermissionDenied => write!(
                f,
                "raw sockets need CAP_NET_RAW: run as root, or `sudo setcap cap_net_raw,cap_net_admin+ep <binary>`"
            ),
            Error::NoSuchInterface(name) => write!(
                f,
                "no network interface named `{name}`: list them with `ip link`"
            ),
            Error::InterfaceDown(name) => write!(
                f,
                "interface `{name}` is down: bring it up with `sudo ip link set {name} up`"
            ),
            Error::NoIpv4(name) => write!(
                f,
                "interface `{name}` has no IPv4 address: add one with `sudo ip addr add <addr>/<len> dev {name}` or give the address to use"
            ),
            Error::NoDefaultInterface => write!(
                f,
                "no interface is up, non-loopback and has an IPv4 or a global IPv6 address: name one explicitly (see `ip addr`)"
            ),
            Error::AddressInUse { addr, iface } => write!(
                f,
                "{addr} is the kernel's own address on `{iface}`, so the kernel would reset our connections: use an unassigned address (we answer ARP for it), or install the RST drop rule (rawnet::firewall)"
            ),
            Error::Firewall(msg) | Error::Tun(msg) => write!(f, "{msg}"),
            Error::InvalidConfig(msg) => write!(f, "invalid socket configuration: {msg}"),
            Error::Command(msg) => write!(f, "{msg}"),
            Error::Io { context, source } => {
                write!(f, "{context}: {} ({source:?})", source.desc())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
