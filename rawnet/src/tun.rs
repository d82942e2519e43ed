//! [`TunDevice`]: a Linux TUN device, the other transport of a user-space
//! TCP server. The kernel hands it bare IP packets (IPv4 or IPv6, no
//! Ethernet header, no ARP) that it routes to the device, and takes the
//! packets written to it as if they had arrived on an interface.
//!
//! # Reaching a server on a TUN device
//!
//! The kernel is the server's only neighbour: it sends to the device every
//! packet whose route points there. So give the device an address of its
//! own (the kernel's end) and route to it the prefix the server answers
//! for; the server's address is any other address in that prefix, never
//! one the kernel has (the kernel would take those packets itself):
//!
//! ```text
//! # optional: a persistent device that a non-root user may attach to
//! sudo ip tuntap add dev tcps0 mode tun user "$USER"
//! sudo ip link set tcps0 up
//! sudo ip addr add 198.18.99.1/24 dev tcps0    # the kernel's end, and a route to 198.18.99.0/24
//! sudo ip route add 198.18.100.0/24 dev tcps0  # more addresses for the server, if wanted
//! # the server listens on 198.18.99.2 (or any address of 198.18.100.0/24):
//! curl http://198.18.99.2:8080/
//! ```
//!
//! IPv6 works the same way (`sudo ip addr add 2001:db8:99::1/64 dev tcps0
//! nodad`). Other hosts reach the server through this host: route the
//! prefix to it (`ip route add 198.18.99.0/24 via <this host>` on them) and
//! let it forward (`sysctl net.ipv4.ip_forward=1`,
//! `net.ipv6.conf.all.forwarding=1`). Unlike an AF_PACKET server
//! ([`RawSocket`](crate::RawSocket)) sharing an address with the kernel,
//! nothing needs a firewall rule: the kernel owns none of the server's
//! addresses, so it never answers (or resets) the server's connections.
//!
//! [`TunDevice::open`] does the `ip link set up` (and the MTU) itself, and
//! [`TunDevice::add_address`] and [`TunDevice::add_route`] the rest.
//!
//! # Lifetime
//!
//! [`TunDevice::open`] attaches to the device of that name, creating it if
//! there is none ([`TunDevice::created`] says which). A device it created is
//! not persistent, so the kernel removes it when the device is dropped
//! (its file closed); nothing is left behind, also after a crash. (The file
//! is close-on-exec, but a child process that another thread is starting
//! holds a copy until it execs, which may delay the removal by that
//! moment.) A
//! persistent device that existed before (`ip tuntap add`) is kept, with
//! its addresses and routes.
//!
//! ```no_run
//! use rawnet::tun::{TunDevice, TunOptions};
//! use std::time::Duration;
//!
//! # fn main() -> Result<(), rawnet::Error> {
//! let mut tun = TunDevice::open("tcps0", &TunOptions::default())?;
//! tun.add_address("198.18.99.1".parse().unwrap(), 24)?;
//! let mut replies: Vec<Vec<u8>> = Vec::new();
//! tun.recv_batch(Some(Duration::from_millis(100)), |packet, meta| {
//!     let _ = (packet, meta.csum); // parse (packet[0] >> 4 is 4 or 6), and maybe answer
//! })?;
//! let refs: Vec<&[u8]> = replies.iter().map(|r| r.as_slice()).collect();
//! tun.send_batch(&refs)?;
//! # replies.clear(); Ok(()) }
//! ```

use std::fs::{File, OpenOptions};
use std::net::IpAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

use nix::errno::Errno;
use nix::poll::PollFlags;
use nix::sys::socket::{socket, AddressFamily, SockFlag, SockType};

use crate::netns::{run, run_in_ns_file};
use crate::{sys, CsumStatus, Error, RxMeta};

/// Size of `struct virtio_net_hdr`, before every packet with
/// [`TunOptions::vnet_hdr`].
pub const VNET_HDR_LEN: usize = 10;
/// `VIRTIO_NET_HDR_F_NEEDS_CSUM`.
const VNET_NEEDS_CSUM: u8 = 1;
/// `VIRTIO_NET_HDR_F_DATA_VALID`.
const VNET_DATA_VALID: u8 = 2;
/// Largest packet: an IP packet of 64 KiB (IPv4 total length, or an IPv6
/// payload length plus its 40-byte header).
const MAX_PACKET: usize = 65535 + 40;
/// Most packets one [`TunDevice::recv_batch`] hands out (one `read` each),
/// so that a flood does not keep the caller from sending.
pub const RX_BATCH: usize = 256;
/// Longest interface name (`IFNAMSIZ` - 1).
const MAX_NAME: usize = 15;

/// How to open a [`TunDevice`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TunOptions {
    /// Set the device's MTU to this (`None`, the default: leave it; a new
    /// device has 1500).
    pub mtu: Option<u32>,
    /// Bring the device up (default true). Needs `CAP_NET_ADMIN` unless it
    /// is up already.
    pub up: bool,
    /// Every packet read or written starts with a `virtio_net_hdr` of
    /// [`VNET_HDR_LEN`] bytes (`IFF_VNET_HDR`, `TUNSETVNETHDRSZ`). The
    /// device handles it: callers of [`TunDevice`] see bare packets, and the
    /// header's checksum flags in [`RxMeta::csum`]. Default false.
    pub vnet_hdr: bool,
    /// With `vnet_hdr`: tell the kernel we take packets with the transport
    /// checksum not filled in and TCP segments larger than the MTU
    /// (`TUNSETOFFLOAD` with `TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6`), which
    /// saves the sender's stack the checksum and the segmentation. Received
    /// packets may then be up to 64 KiB (one TCP segment with many MSS of
    /// payload) and have [`CsumStatus::NotReady`]. Default false.
    pub offload: bool,
}

impl Default for TunOptions {
    fn default() -> Self {
        TunOptions {
            mtu: None,
            up: true,
            vnet_hdr: false,
            offload: false,
        }
    }
}

/// Counters of a [`TunDevice`], cumulative since it was opened.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TunStats {
    /// Packets read.
    pub rx_packets: u64,
    /// Of those, packets larger than the buffer they were read into (cut to
    /// it).
    pub rx_truncated: u64,
    /// Packets the kernel took.
    pub tx_packets: u64,
    /// Packets the kernel refused (not IPv4 or IPv6, malformed, ...).
    pub tx_refused: u64,
}

/// An open TUN device (`IFF_TUN | IFF_NO_PI`): bare IP packets in and out,
/// non-blocking.
///
/// Receive: [`recv`](Self::recv) one packet into a buffer, or
/// [`recv_batch`](Self::recv_batch) (shaped like
/// [`RawSocket::recv_batch`](crate::RawSocket::recv_batch)). Send:
/// [`send`](Self::send) one packet or [`send_batch`](Self::send_batch)
/// (one `writev` per packet: a TUN device has no `sendmmsg`).
pub struct TunDevice {
    fd: OwnedFd,
    /// A UDP socket made in the device's network namespace, for the
    /// interface ioctls (MTU, flags), which act in the socket's namespace
    /// whatever the calling thread's.
    ctl: OwnedFd,
    /// The device's network namespace (the opening thread's), for the `ip`
    /// commands.
    netns: Option<File>,
    name: String,
    created: bool,
    persistent: bool,
    vnet_hdr: bool,
    buf: Vec<u8>,
    stats: TunStats,
    refused: Option<Error>,
}

impl TunDevice {
    /// Opens `/dev/net/tun` and attaches it to the TUN device `name`
    /// (created, not persistent, if there is none), in the calling thread's
    /// network namespace; then brings it up and sets the MTU as `opts` say.
    ///
    /// `name` is at most 15 bytes; a `%d` in it lets the kernel pick a
    /// number (see [`name`](Self::name)).
    ///
    /// Errors ([`Error::Tun`], one line each): the name is too long or
    /// empty; `/dev/net/tun` is missing; the process lacks `CAP_NET_ADMIN`;
    /// `name` is an interface that is not a TUN device, or a TUN device in
    /// use by another process.
    pub fn open(name: &str, opts: &TunOptions) -> Result<TunDevice, Error> {
        check_name(name)?;
        if opts.offload && !opts.vnet_hdr {
            return Err(Error::Tun(
                "TUN offloads need the virtio-net header: set TunOptions::vnet_hdr too".into(),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|e| match e.raw_os_error() {
                Some(libc::ENOENT | libc::ENXIO | libc::ENODEV) => Error::Tun(
                    "no /dev/net/tun: load the TUN driver (`sudo modprobe tun`)".into(),
                ),
                Some(libc::EACCES | libc::EPERM) => Error::Tun(
                    "cannot open /dev/net/tun (permission denied): run as root, or `sudo setcap cap_net_admin+ep <binary>`".into(),
                ),
                _ => Error::Tun(format!("cannot open /dev/net/tun: {e}")),
            })?;
        let fd = OwnedFd::from(file);
        let existed = nix::net::if_::if_nametoindex(name).is_ok();
        let mut flags = libc::IFF_TUN | libc::IFF_NO_PI;
        if opts.vnet_hdr {
            flags |= libc::IFF_VNET_HDR;
        }
        let name = sys::tun_set_iff(fd.as_fd(), name, flags as libc::c_short)
            .map_err(|e| set_iff_error(name, existed, e))?;
        let tun_flags =
            sys::tun_get_iff(fd.as_fd()).map_err(|e| Error::io("ioctl(TUNGETIFF)", e))?;
        if opts.vnet_hdr {
            sys::tun_set_vnet_hdr_size(fd.as_fd(), VNET_HDR_LEN as libc::c_int)
                .map_err(|e| Error::io("ioctl(TUNSETVNETHDRSZ)", e))?;
            let offload = if opts.offload {
                libc::TUN_F_CSUM | libc::TUN_F_TSO4 | libc::TUN_F_TSO6
            } else {
                0
            };
            sys::tun_set_offload(fd.as_fd(), offload)
                .map_err(|e| Error::io("ioctl(TUNSETOFFLOAD)", e))?;
        }
        let ctl = socket(
            AddressFamily::Inet,
            SockType::Datagram,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(|e| Error::io("socket(AF_INET, SOCK_DGRAM) for interface ioctls", e))?;
        let tun = TunDevice {
            fd,
            ctl,
            netns: File::open("/proc/thread-self/ns/net").ok(),
            name,
            created: !existed,
            persistent: i32::from(tun_flags) & libc::IFF_PERSIST != 0,
            vnet_hdr: opts.vnet_hdr,
            buf: vec![0u8; VNET_HDR_LEN + MAX_PACKET],
            stats: TunStats::default(),
            refused: None,
        };
        if let Some(mtu) = opts.mtu {
            tun.set_mtu(mtu)?;
        }
        if opts.up {
            tun.set_up(true)?;
        }
        Ok(tun)
    }

    /// The device's name (as the kernel has it: a `%d` is filled in).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True if [`open`](Self::open) created the device (it goes away when
    /// this is dropped); false if it existed before.
    pub fn created(&self) -> bool {
        self.created
    }

    /// True if the device is persistent (made with `ip tuntap add`): it
    /// stays when this is dropped.
    pub fn persistent(&self) -> bool {
        self.persistent
    }

    /// Whether packets carry a `virtio_net_hdr` ([`TunOptions::vnet_hdr`]).
    pub fn vnet_hdr(&self) -> bool {
        self.vnet_hdr
    }

    /// The device's MTU (`SIOCGIFMTU`).
    pub fn mtu(&self) -> Result<u32, Error> {
        sys::interface_mtu(self.ctl.as_fd(), &self.name)
            .map_err(|e| self.ioctl_error("SIOCGIFMTU", e))
    }

    /// Sets the device's MTU (`SIOCSIFMTU`; nothing is done if it has it
    /// already). Needs `CAP_NET_ADMIN`.
    pub fn set_mtu(&self, mtu: u32) -> Result<(), Error> {
        if self.mtu().ok() == Some(mtu) {
            return Ok(());
        }
        sys::set_interface_mtu(self.ctl.as_fd(), &self.name, mtu).map_err(|e| match e {
            Errno::EINVAL => Error::Tun(format!(
                "MTU {mtu} refused for TUN device `{}`: use 68..=65535 (1280 or more for IPv6)",
                self.name
            )),
            e => self.ioctl_error("SIOCSIFMTU", e),
        })
    }

    /// Whether the device is up (`IFF_UP`).
    pub fn is_up(&self) -> Result<bool, Error> {
        let flags = sys::interface_flags(self.ctl.as_fd(), &self.name)
            .map_err(|e| self.ioctl_error("SIOCGIFFLAGS", e))?;
        Ok(i32::from(flags) & libc::IFF_UP != 0)
    }

    /// Brings the device up or down (`SIOCSIFFLAGS`; nothing is done if it
    /// is so already). Needs `CAP_NET_ADMIN`.
    pub fn set_up(&self, up: bool) -> Result<(), Error> {
        let flags = sys::interface_flags(self.ctl.as_fd(), &self.name)
            .map_err(|e| self.ioctl_error("SIOCGIFFLAGS", e))?;
        let is_up = i32::from(flags) & libc::IFF_UP != 0;
        if is_up == up {
            return Ok(());
        }
        let new = if up {
            i32::from(flags) | libc::IFF_UP
        } else {
            i32::from(flags) & !libc::IFF_UP
        };
        sys::set_interface_flags(self.ctl.as_fd(), &self.name, new as libc::c_short)
            .map_err(|e| self.ioctl_error("SIOCSIFFLAGS", e))
    }

    /// Gives the device (the kernel's end) address `addr`/`prefix`, which
    /// also routes that prefix to it: `ip addr add` (with `nodad` for IPv6),
    /// run in the device's network namespace. Needs `CAP_NET_ADMIN` (and
    /// `CAP_SYS_ADMIN` when called from a thread in another namespace).
    ///
    /// An IPv6 address becomes usable (its local route in place) a moment
    /// after `ip` returns, in a kernel work queue: this waits up to 1 s for
    /// that, so that packets to it are delivered as soon as this returns.
    pub fn add_address(&self, addr: IpAddr, prefix: u8) -> Result<(), Error> {
        let cidr = format!("{addr}/{prefix}");
        let host = addr.to_string();
        let name = self.name.as_str();
        self.in_netns(|| {
            let mut add = Command::new("ip");
            add.args(["addr", "add", &cidr, "dev", name]);
            if addr.is_ipv6() {
                add.arg("nodad");
            }
            run(&mut add)?;
            if addr.is_ipv4() {
                return Ok(());
            }
            let end = Instant::now() + Duration::from_secs(1);
            // Bounded: ends at `end`.
            loop {
                let out = run(Command::new("ip").args(["-6", "route", "show", "table", "local", &host]))?;
                if !out.stdout.is_empty() {
                    return Ok(());
                }
                if Instant::now() >= end {
                    return Err(Error::Tun(format!(
                        "IPv6 address {host} on TUN device `{name}` is not usable after 1 s (no local route): see `ip -6 addr show dev {name}`"
                    )));
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    }

    /// Routes `dest`/`prefix` to the device: `ip route add` (`ip -6 route
    /// add` for IPv6, after [`enable_ipv6`](Self::enable_ipv6)), run in the
    /// device's network namespace. Needs `CAP_NET_ADMIN` (and
    /// `CAP_SYS_ADMIN` when called from a thread in another namespace).
    ///
    /// No neighbour discovery is needed: a TUN device is `IFF_NOARP`, so
    /// the kernel sends what the route takes there at once, bare.
    pub fn add_route(&self, dest: IpAddr, prefix: u8) -> Result<(), Error> {
        if dest.is_ipv6() {
            self.enable_ipv6()?;
        }
        let cidr = format!("{dest}/{prefix}");
        let family = if dest.is_ipv6() { "-6" } else { "-4" };
        self.in_netns(|| {
            run(Command::new("ip").args([family, "route", "add", &cidr, "dev", &self.name]))
                .map(|_| ())
        })
    }

    /// Turns IPv6 on for the device (`net.ipv6.conf.NAME.disable_ipv6=0`,
    /// in its namespace), if it is off: a device made while
    /// `net.ipv6.conf.default.disable_ipv6` is 1 has it off, and the kernel
    /// then neither routes IPv6 to it nor takes IPv6 packets from it.
    /// Nothing is done where the kernel has no IPv6 (no such file).
    pub fn enable_ipv6(&self) -> Result<(), Error> {
        let name = self.name.as_str();
        self.in_netns(|| {
            let path = format!("/proc/sys/net/ipv6/conf/{name}/disable_ipv6");
            match std::fs::read_to_string(&path) {
                Ok(v) if v.trim() == "0" => Ok(()),
                Ok(_) => std::fs::write(&path, "0").map_err(|e| {
                    Error::Tun(format!(
                        "cannot enable IPv6 on TUN device `{name}` (sysctl net.ipv6.conf.{name}.disable_ipv6=0): {e}"
                    ))
                }),
                Err(_) => Ok(()),
            }
        })
    }

    /// Runs `f` (which runs `ip` commands) in the device's network
    /// namespace: here, or on a thread that entered it.
    fn in_netns<F: FnOnce() -> Result<(), Error> + Send>(&self, f: F) -> Result<(), Error> {
        match &self.netns {
            Some(ns) if !same_netns(ns) => {
                run_in_ns_file(ns, &format!("of TUN device {}", self.name), f)?
            }
            _ => f(),
        }
    }

    /// Waits up to `timeout` (`None`: forever) for a packet to read; true if
    /// there is one. A signal ends the wait early (false).
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        let revents = match sys::wait_readable(self.fd.as_fd(), timeout) {
            Ok(r) => r,
            Err(Errno::EINTR) => return Ok(false),
            Err(e) => return Err(Error::io("poll on the TUN device", e)),
        };
        if revents.intersects(PollFlags::POLLERR | PollFlags::POLLHUP) {
            return Err(Error::NoSuchInterface(self.name.clone()));
        }
        Ok(revents.contains(PollFlags::POLLIN))
    }

    /// Reads one packet into `buf`, without waiting: `Ok(None)` if there is
    /// none now. Returns its metadata, [`RxMeta::len`] being the packet's
    /// length; if that is more than `buf.len()`, the packet was cut to
    /// `buf` and the rest is lost (the kernel cuts silently; the length is
    /// the IP header's). Make `buf` at least the MTU, 64 KiB with
    /// [`TunOptions::offload`].
    pub fn recv(&mut self, buf: &mut [u8]) -> Result<Option<RxMeta>, Error> {
        let mut hdr = [0u8; VNET_HDR_LEN];
        let head: &mut [u8] = if self.vnet_hdr { &mut hdr } else { &mut [] };
        let Some(n) = self.read(head, buf)? else {
            return Ok(None);
        };
        let meta = self.meta(&hdr, buf, n);
        if meta.len > buf.len() {
            self.stats.rx_truncated += 1;
        }
        self.stats.rx_packets += 1;
        Ok(Some(meta))
    }

    /// Waits up to `timeout` (`None`: forever) for packets, then calls `f`
    /// for each packet available (bare IPv4 or IPv6, up to [`RX_BATCH`] of
    /// them, each read with one `read`) and returns how many. Returns
    /// `Ok(0)` on timeout, and also when a signal interrupted the wait;
    /// `Some(Duration::ZERO)` takes what is there and returns at once.
    ///
    /// [`RxMeta::csum`] is [`CsumStatus::Unknown`] without
    /// [`TunOptions::vnet_hdr`] (packets from the local stack carry whole
    /// checksums), else from the header's flags; [`RxMeta::timestamp`] is
    /// the time of the read (a TUN device has no kernel timestamp).
    pub fn recv_batch<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        timeout: Option<Duration>,
        mut f: F,
    ) -> Result<usize, Error> {
        let mut buf = std::mem::take(&mut self.buf);
        let r = self.recv_batch_into(&mut buf, timeout, &mut f);
        self.buf = buf;
        r
    }

    fn recv_batch_into<F: FnMut(&[u8], &RxMeta)>(
        &mut self,
        buf: &mut [u8],
        timeout: Option<Duration>,
        f: &mut F,
    ) -> Result<usize, Error> {
        let skip = if self.vnet_hdr { VNET_HDR_LEN } else { 0 };
        let mut count = 0;
        let mut waited = false;
        while count < RX_BATCH {
            let (head, body) = buf.split_at_mut(skip);
            match self.read(head, body)? {
                Some(n) => {
                    let meta = self.meta(head, body, n);
                    let data = body.get(..meta.len.min(body.len())).unwrap_or(&[]);
                    if data.len() < meta.len {
                        self.stats.rx_truncated += 1;
                    }
                    self.stats.rx_packets += 1;
                    f(data, &meta);
                    count += 1;
                }
                None if count > 0 || waited || timeout.is_some_and(|t| t.is_zero()) => break,
                None => {
                    waited = true;
                    if !self.poll(timeout)? {
                        break;
                    }
                }
            }
        }
        Ok(count)
    }

    /// One `readv`: `Ok(None)` for "nothing now" (`EAGAIN`, `EINTR`), else
    /// the packet's length without the header.
    fn read(&self, head: &mut [u8], body: &mut [u8]) -> Result<Option<usize>, Error> {
        let want = head.len();
        match sys::readv2(self.fd.as_fd(), head, body) {
            Ok(n) => Ok(Some(n.saturating_sub(want))),
            Err(Errno::EAGAIN | Errno::EINTR) => Ok(None),
            Err(Errno::EBADFD | Errno::ENODEV | Errno::ENXIO) => {
                Err(Error::NoSuchInterface(self.name.clone()))
            }
            Err(e) => Err(Error::io("read from the TUN device", e)),
        }
    }

    /// Metadata of a packet read with virtio-net header `hdr`: `got` bytes
    /// of it are in `data` (when `data` is full, the packet may have been
    /// longer: the kernel cuts it without saying so, and its IP header
    /// tells).
    fn meta(&self, hdr: &[u8], data: &[u8], got: usize) -> RxMeta {
        let len = if got >= data.len() {
            got.max(ip_len(data).unwrap_or(0))
        } else {
            got
        };
        let flags = if self.vnet_hdr {
            hdr.first().copied().unwrap_or(0)
        } else {
            0
        };
        RxMeta {
            csum: if flags & VNET_NEEDS_CSUM != 0 {
                CsumStatus::NotReady
            } else if flags & VNET_DATA_VALID != 0 {
                CsumStatus::Valid
            } else {
                CsumStatus::Unknown
            },
            len,
            timestamp: SystemTime::now(),
        }
    }

    /// Sends one bare IPv4 or IPv6 packet (its checksums filled in), as if
    /// it had arrived on the device: `Ok(true)` if the kernel took it,
    /// `Ok(false)` if it had no room now (`EAGAIN`, `ENOBUFS`: try again
    /// later). Errors: not an IP packet, or refused by the kernel
    /// (malformed); the device down or gone.
    pub fn send(&mut self, packet: &[u8]) -> Result<bool, Error> {
        let r = self.write(packet);
        match &r {
            Ok(true) => self.stats.tx_packets += 1,
            Ok(false) => {}
            Err(e) if is_refusal(e) => self.stats.tx_refused += 1,
            Err(_) => {}
        }
        r
    }

    /// Sends `packets` in order, one `writev` each, and returns how many
    /// were dealt with: sent, or refused by the kernel on their own (not IP,
    /// malformed: skipped, counted in [`TunStats::tx_refused`], the last
    /// kept for [`take_refused`](Self::take_refused)). Stops early when the
    /// kernel has no room (the rest were not sent: try them again later).
    /// Errors only for the device down or gone.
    pub fn send_batch(&mut self, packets: &[&[u8]]) -> Result<usize, Error> {
        for (i, p) in packets.iter().enumerate() {
            match self.send(p) {
                Ok(true) => {}
                Ok(false) => return Ok(i),
                Err(e) if is_refusal(&e) => self.refused = Some(e),
                Err(e) => return Err(e),
            }
        }
        Ok(packets.len())
    }

    /// The last packet the kernel refused in [`send_batch`](Self::send_batch)
    /// since this was last called, for a warning; `None` if none was.
    pub fn take_refused(&mut self) -> Option<Error> {
        self.refused.take()
    }

    fn write(&self, packet: &[u8]) -> Result<bool, Error> {
        let version = packet.first().map(|b| b >> 4);
        if !matches!(version, Some(4 | 6)) || packet.len() > MAX_PACKET {
            return Err(Error::Io {
                context: "send on the TUN device: not an IPv4 or IPv6 packet of at most 64 KiB",
                source: Errno::EINVAL,
            });
        }
        // A header saying "nothing to do": the checksums are complete.
        let hdr = [0u8; VNET_HDR_LEN];
        let head: &[u8] = if self.vnet_hdr { &hdr } else { &[] };
        match sys::writev2(self.fd.as_fd(), head, packet) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::ENOBUFS | Errno::EINTR | Errno::ENOMEM) => Ok(false),
            Err(Errno::EIO | Errno::ENETDOWN) => Err(Error::InterfaceDown(self.name.clone())),
            Err(Errno::EBADFD | Errno::ENODEV | Errno::ENXIO) => {
                Err(Error::NoSuchInterface(self.name.clone()))
            }
            Err(e) => Err(Error::io(
                "write to the TUN device: the kernel refused the packet",
                e,
            )),
        }
    }

    /// Counters since the device was opened.
    pub fn stats(&self) -> TunStats {
        self.stats
    }

    /// The device file's descriptor, e.g. for an external poll loop
    /// (readable when a packet is waiting).
    pub fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    fn ioctl_error(&self, what: &str, e: Errno) -> Error {
        match e {
            Errno::EPERM | Errno::EACCES => Error::Tun(format!(
                "{what} on TUN device `{}` needs CAP_NET_ADMIN: run as root, or `sudo setcap cap_net_admin+ep <binary>`",
                self.name
            )),
            Errno::ENODEV | Errno::ENXIO => Error::NoSuchInterface(self.name.clone()),
            e => Error::Tun(format!(
                "{what} on TUN device `{}`: {} ({e:?})",
                self.name,
                e.desc()
            )),
        }
    }
}

impl AsRawFd for TunDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl AsFd for TunDevice {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl std::fmt::Debug for TunDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TunDevice")
            .field("fd", &self.fd.as_raw_fd())
            .field("name", &self.name)
            .field("created", &self.created)
            .field("persistent", &self.persistent)
            .field("vnet_hdr", &self.vnet_hdr)
            .finish()
    }
}

/// The length of the IP packet that `p` starts with, from its header
/// (`None` if too short to tell, or an IPv6 jumbogram).
fn ip_len(p: &[u8]) -> Option<usize> {
    match p.first()? >> 4 {
        4 => Some(usize::from(u16::from_be_bytes([*p.get(2)?, *p.get(3)?]))),
        6 => match u16::from_be_bytes([*p.get(4)?, *p.get(5)?]) {
            0 => None,
            n => Some(40 + usize::from(n)),
        },
        _ => None,
    }
}

/// A refusal of one packet (not the device's state): what `send_batch`
/// skips.
fn is_refusal(e: &Error) -> bool {
    matches!(
        e,
        Error::Io {
            source: Errno::EINVAL | Errno::EMSGSIZE | Errno::EFAULT | Errno::EPROTO,
            ..
        }
    )
}

/// An interface name the kernel takes: 1..=15 bytes, no NUL, `/`, `:` or
/// white space.
fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.len() > MAX_NAME {
        return Err(Error::Tun(format!(
            "TUN device name `{name}` is {} bytes: interface names are 1 to {MAX_NAME} bytes",
            name.len()
        )));
    }
    if name
        .bytes()
        .any(|b| b == 0 || b == b'/' || b == b':' || b.is_ascii_whitespace())
        || name == "."
        || name == ".."
    {
        return Err(Error::Tun(format!(
            "TUN device name `{}` is not a valid interface name (no `/`, `:`, NUL or spaces)",
            name.escape_debug()
        )));
    }
    Ok(())
}

/// The error of a failed `TUNSETIFF` on `name` (which `existed` before).
fn set_iff_error(name: &str, existed: bool, e: Errno) -> Error {
    match e {
        Errno::EPERM | Errno::EACCES => Error::Tun(format!(
            "creating or attaching TUN device `{name}` needs CAP_NET_ADMIN (or a persistent device made for this user with `sudo ip tuntap add dev {name} mode tun user $USER`): run as root, or `sudo setcap cap_net_admin+ep <binary>`"
        )),
        Errno::EBUSY => Error::Tun(format!(
            "TUN device `{name}` is in use by another process: stop it, or choose another name"
        )),
        Errno::EINVAL if existed => Error::Tun(format!(
            "interface `{name}` exists and is not a single-queue TUN device: choose another name, or remove it with `sudo ip link del {name}`"
        )),
        e => Error::Tun(format!(
            "ioctl(TUNSETIFF) for TUN device `{name}`: {} ({e:?})",
            e.desc()
        )),
    }
}

/// True if `ns` (a network namespace file) is the calling thread's
/// network namespace (or that cannot be told).
fn same_netns(ns: &File) -> bool {
    match (ns.metadata(), std::fs::metadata("/proc/thread-self/ns/net")) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("tun0").is_ok());
        assert!(check_name("tcps%d").is_ok());
        assert!(check_name("abcdefghijklmno").is_ok());
        let e = check_name("abcdefghijklmnop").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("16 bytes") && msg.contains("15"), "{msg}");
        for bad in ["", "a/b", "a b", "a:0", "a\0b", ".."] {
            let e = check_name(bad).unwrap_err();
            assert!(!e.to_string().contains('\n'), "{e}");
        }
    }

    #[test]
    fn ip_len_from_the_header() {
        let mut v4 = [0u8; 20];
        v4[0] = 0x45;
        v4[2..4].copy_from_slice(&1028u16.to_be_bytes());
        assert_eq!(ip_len(&v4), Some(1028));
        let mut v6 = [0u8; 40];
        v6[0] = 0x60;
        v6[4..6].copy_from_slice(&8u16.to_be_bytes());
        assert_eq!(ip_len(&v6), Some(48));
        v6[4..6].fill(0);
        assert_eq!(ip_len(&v6), None);
        assert_eq!(ip_len(&[0x45, 0, 4]), None);
        assert_eq!(ip_len(&[0x20; 20]), None);
        assert_eq!(ip_len(&[]), None);
    }

    #[test]
    fn offload_needs_vnet_hdr() {
        let opts = TunOptions {
            offload: true,
            ..TunOptions::default()
        };
        let e = TunDevice::open("tun0", &opts).unwrap_err();
        assert!(e.to_string().contains("vnet_hdr"), "{e}");
    }
}
