//! Every `unsafe` block of the crate: raw socket options, `bind`, `ioctl`
//! (interface MTU and flags, the TUN device), `sendmmsg`, `recvmsg`,
//! `readv`/`writev` and the memory-mapped TPACKET_V2 / TPACKET_V3 receive
//! rings.
//!
//! The functions here are thin and safe to call; all parsing of what the
//! kernel wrote happens in safe code elsewhere, on byte slices.

use std::ffi::c_void;
use std::mem::size_of;
use std::os::fd::{AsRawFd, BorrowedFd};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU32, Ordering};

use nix::errno::Errno;

use crate::bpf::Insn;

/// `SOL_PACKET` socket option level.
pub const SOL_PACKET: libc::c_int = 263;
/// `PACKET_RX_RING`.
pub const PACKET_RX_RING: libc::c_int = 5;
/// `PACKET_STATISTICS`.
pub const PACKET_STATISTICS: libc::c_int = 6;
/// `PACKET_COPY_THRESH`: a non-zero value makes the kernel queue frames too
/// large for a TPACKET_V2 slot on the socket, to be read with `recv`.
pub const PACKET_COPY_THRESH: libc::c_int = 7;
/// `PACKET_AUXDATA`: `recvmsg` returns a `tpacket_auxdata` control message.
pub const PACKET_AUXDATA: libc::c_int = 8;
/// `PACKET_VERSION`.
pub const PACKET_VERSION: libc::c_int = 10;
/// `PACKET_FANOUT`.
pub const PACKET_FANOUT: libc::c_int = 18;
/// `PACKET_FANOUT_DATA`: the program of a `PACKET_FANOUT_CBPF` group.
pub const PACKET_FANOUT_DATA: libc::c_int = 22;
/// `PACKET_IGNORE_OUTGOING`.
pub const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// `TPACKET_V2` (enum tpacket_versions).
pub const TPACKET_V2: libc::c_int = 1;
/// `TPACKET_V3` (enum tpacket_versions).
pub const TPACKET_V3: libc::c_int = 2;

/// Offset of `block_status` in `struct tpacket_block_desc`.
pub const BLOCK_STATUS_OFF: usize = 8;
/// `TP_STATUS_KERNEL`.
const TP_STATUS_KERNEL: u32 = 0;
/// `TP_STATUS_USER`.
const TP_STATUS_USER: u32 = 1;

/// `struct tpacket_req` (TPACKET_V1 / V2).
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketReq {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
}

/// `struct tpacket_auxdata`, the `PACKET_AUXDATA` control message.
#[repr(C)]
#[allow(dead_code)] // the whole layout is spelled out; only tp_status is used
#[derive(Clone, Copy, Default)]
struct TpacketAuxdata {
    tp_status: u32,
    tp_len: u32,
    tp_snaplen: u32,
    tp_mac: u16,
    tp_net: u16,
    tp_vlan_tci: u16,
    tp_vlan_tpid: u16,
}

/// `struct tpacket_req3`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct TpacketReq3 {
    tp_block_size: u32,
    tp_block_nr: u32,
    tp_frame_size: u32,
    tp_frame_nr: u32,
    tp_retire_blk_tov: u32,
    tp_sizeof_priv: u32,
    tp_feature_req_word: u32,
}

/// `struct tpacket_stats_v3`.
#[repr(C)]
#[derive(Clone, Copy, Default, Debug)]
pub struct TpacketStatsV3 {
    /// Packets seen by the socket (the kernel adds the drops in).
    pub tp_packets: u32,
    /// Packets dropped because the ring was full.
    pub tp_drops: u32,
    /// Times the ring was frozen (full).
    pub tp_freeze_q_cnt: u32,
}

/// `setsockopt(fd, level, name, &value, sizeof value)` for a plain integer option.
pub fn setsockopt_int(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> Result<(), Errno> {
    // SAFETY: `value` is a live c_int on our stack and we pass its exact size;
    // the kernel only reads from the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&value as *const libc::c_int).cast::<c_void>(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Attaches a classic BPF program with `SO_ATTACH_FILTER`.
pub fn attach_filter(fd: BorrowedFd<'_>, prog: &[Insn]) -> Result<(), Errno> {
    set_program(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, prog)
}

/// Gives the `PACKET_FANOUT_CBPF` group of the socket its classic BPF
/// program (`PACKET_FANOUT_DATA`), replacing any it had.
pub fn set_fanout_program(fd: BorrowedFd<'_>, prog: &[Insn]) -> Result<(), Errno> {
    set_program(fd, SOL_PACKET, PACKET_FANOUT_DATA, prog)
}

/// A `struct sock_fprog` socket option.
fn set_program(
    fd: BorrowedFd<'_>,
    level: libc::c_int,
    name: libc::c_int,
    prog: &[Insn],
) -> Result<(), Errno> {
    let insns: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len = u16::try_from(insns.len()).map_err(|_| Errno::EINVAL)?;
    let fprog = libc::sock_fprog {
        len,
        filter: insns.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `insns`, which lives until after the call; the
    // kernel copies the program and never writes through the pointer.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (&fprog as *const libc::sock_fprog).cast::<c_void>(),
            size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

/// Binds an AF_PACKET socket to interface `ifindex` for ethertype `protocol`
/// (host byte order, e.g. `ETH_P_ALL`).
pub fn bind_packet(fd: BorrowedFd<'_>, ifindex: u32, protocol: u16) -> Result<(), Errno> {
    let addr = sockaddr_ll(ifindex, protocol);
    // SAFETY: `addr` is a fully initialised sockaddr_ll and we pass its size.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            (&addr as *const libc::sockaddr_ll).cast::<libc::sockaddr>(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(Errno::last())
    }
}

fn sockaddr_ll(ifindex: u32, protocol: u16) -> libc::sockaddr_ll {
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: protocol.to_be(),
        sll_ifindex: ifindex as libc::c_int,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 0,
        sll_addr: [0; 8],
    }
}

/// `SIOCGSKNS`: a descriptor of the network namespace a socket lives in
/// (Linux 4.9; needs `CAP_NET_ADMIN`).
pub fn socket_netns(fd: BorrowedFd<'_>) -> Result<std::os::fd::OwnedFd, Errno> {
    const SIOCGSKNS: libc::c_ulong = 0x894C;
    // SAFETY: SIOCGSKNS takes no argument and returns a new descriptor (or
    // -1), which we then own alone.
    let rc = unsafe { libc::ioctl(fd.as_raw_fd(), SIOCGSKNS as _) };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: `rc` is a descriptor the kernel just opened for us.
    Ok(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(rc) })
}

/// Reads (and thereby resets) the kernel's `PACKET_STATISTICS`. A TPACKET_V2
/// socket writes only the first two fields (`struct tpacket_stats`); the
/// third stays 0.
pub fn packet_stats(fd: BorrowedFd<'_>) -> Result<TpacketStatsV3, Errno> {
    let mut st = TpacketStatsV3::default();
    let mut len = size_of::<TpacketStatsV3>() as libc::socklen_t;
    // SAFETY: `st` is a plain-old-data struct of three u32 (any bit pattern is
    // valid) and `len` tells the kernel how much it may write.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_raw_fd(),
            SOL_PACKET,
            PACKET_STATISTICS,
            (&mut st as *mut TpacketStatsV3).cast::<c_void>(),
            &mut len,
        )
    };
    if rc == 0 {
        Ok(st)
    } else {
        Err(Errno::last())
    }
}

/// An `ifreq` naming interface `name`, everything else zero. `ENODEV` for a
/// name the kernel could not hold (empty, `IFNAMSIZ` bytes or more, a NUL).
fn ifreq(name: &str) -> Result<libc::ifreq, Errno> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return Err(Errno::ENODEV);
    }
    // SAFETY: ifreq is plain old data (integers, arrays and a union of them);
    // all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (dst, src) in req.ifr_name.iter_mut().zip(bytes) {
        *dst = *src as libc::c_char;
    }
    Ok(req)
}

/// The interface name in `req.ifr_name`, up to its NUL.
fn ifreq_name(req: &libc::ifreq) -> String {
    let bytes: Vec<u8> = req
        .ifr_name
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `SIOCGIFMTU` on any socket: the interface's MTU.
pub fn interface_mtu(fd: BorrowedFd<'_>, name: &str) -> Result<u32, Errno> {
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFMTU reads ifr_name (NUL-terminated: the array was zeroed
    // and the name is shorter than IFNAMSIZ) and writes ifr_mtu inside `req`.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SIOCGIFMTU as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel filled the ifr_mtu member of the union on success.
    let mtu = unsafe { req.ifr_ifru.ifru_mtu };
    u32::try_from(mtu).map_err(|_| Errno::EINVAL)
}

/// `SIOCSIFMTU` on any socket (of the interface's network namespace).
pub fn set_interface_mtu(fd: BorrowedFd<'_>, name: &str, mtu: u32) -> Result<(), Errno> {
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_mtu = libc::c_int::try_from(mtu).map_err(|_| Errno::EINVAL)?;
    // SAFETY: SIOCSIFMTU reads ifr_name (NUL-terminated, see `ifreq`) and
    // ifr_mtu from `req`, which lives across the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SIOCSIFMTU as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `SIOCGIFFLAGS` on any socket: the interface's `IFF_*` flags.
pub fn interface_flags(fd: BorrowedFd<'_>, name: &str) -> Result<libc::c_short, Errno> {
    let mut req = ifreq(name)?;
    // SAFETY: SIOCGIFFLAGS reads ifr_name (NUL-terminated, see `ifreq`) and
    // writes ifr_flags inside `req`.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SIOCGIFFLAGS as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel filled the ifr_flags member of the union on success.
    Ok(unsafe { req.ifr_ifru.ifru_flags })
}

/// `SIOCSIFFLAGS` on any socket (of the interface's network namespace).
pub fn set_interface_flags(
    fd: BorrowedFd<'_>,
    name: &str,
    flags: libc::c_short,
) -> Result<(), Errno> {
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_flags = flags;
    // SAFETY: SIOCSIFFLAGS reads ifr_name (NUL-terminated, see `ifreq`) and
    // ifr_flags from `req`, which lives across the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::SIOCSIFFLAGS as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `TUNSETIFF` on an open `/dev/net/tun`: attaches it to TUN/TAP device
/// `name` with `flags` (`IFF_TUN`, `IFF_NO_PI`, ...), creating the device
/// if there is none. Returns the device's name as the kernel has it.
pub fn tun_set_iff(fd: BorrowedFd<'_>, name: &str, flags: libc::c_short) -> Result<String, Errno> {
    let mut req = ifreq(name)?;
    req.ifr_ifru.ifru_flags = flags;
    // SAFETY: TUNSETIFF reads ifr_name (NUL-terminated, see `ifreq`) and
    // ifr_flags, and writes the name back, all inside `req`, which lives
    // across the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETIFF as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    Ok(ifreq_name(&req))
}

/// `TUNGETIFF` on an attached `/dev/net/tun` file: the device's TUN flags
/// (`IFF_TUN`, `IFF_NO_PI`, `IFF_VNET_HDR`, `IFF_PERSIST`, ...).
pub fn tun_get_iff(fd: BorrowedFd<'_>) -> Result<libc::c_short, Errno> {
    // SAFETY: ifreq is plain old data; all-zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    // SAFETY: TUNGETIFF writes ifr_name and ifr_flags inside `req`, which
    // lives across the call.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNGETIFF as _,
            &mut req as *mut libc::ifreq,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel filled the ifr_flags member of the union on success.
    Ok(unsafe { req.ifr_ifru.ifru_flags })
}

/// `TUNSETVNETHDRSZ`: the size of the `virtio_net_hdr` before every packet.
pub fn tun_set_vnet_hdr_size(fd: BorrowedFd<'_>, size: libc::c_int) -> Result<(), Errno> {
    // SAFETY: TUNSETVNETHDRSZ reads one int through the pointer, which points
    // at `size` on our stack.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETVNETHDRSZ as _,
            &size as *const libc::c_int,
        )
    };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `TUNSETOFFLOAD`: which offloads (`TUN_F_*`) the reader handles.
pub fn tun_set_offload(fd: BorrowedFd<'_>, flags: libc::c_uint) -> Result<(), Errno> {
    // SAFETY: TUNSETOFFLOAD takes its argument by value (an unsigned long),
    // not through a pointer; nothing in our memory is touched.
    let rc = unsafe {
        libc::ioctl(
            fd.as_raw_fd(),
            libc::TUNSETOFFLOAD as _,
            libc::c_ulong::from(flags),
        )
    };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// `readv` into `head` then `body` (one packet from a TUN file). Returns the
/// bytes read, both parts together.
pub fn readv2(fd: BorrowedFd<'_>, head: &mut [u8], body: &mut [u8]) -> Result<usize, Errno> {
    let iov = [
        libc::iovec {
            iov_base: head.as_mut_ptr().cast::<c_void>(),
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: body.as_mut_ptr().cast::<c_void>(),
            iov_len: body.len(),
        },
    ];
    // SAFETY: the two iovecs cover exactly `head` and `body`, which are
    // borrowed mutably (so writable and unaliased) for the whole call.
    let rc = unsafe { libc::readv(fd.as_raw_fd(), iov.as_ptr(), 2) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc as usize)
    }
}

/// `writev` of `head` then `body` (one packet to a TUN file). Returns the
/// bytes written.
pub fn writev2(fd: BorrowedFd<'_>, head: &[u8], body: &[u8]) -> Result<usize, Errno> {
    let iov = [
        libc::iovec {
            iov_base: head.as_ptr().cast_mut().cast::<c_void>(),
            iov_len: head.len(),
        },
        libc::iovec {
            iov_base: body.as_ptr().cast_mut().cast::<c_void>(),
            iov_len: body.len(),
        },
    ];
    // SAFETY: the two iovecs cover exactly `head` and `body`, which live
    // across the call; writev only reads through them.
    let rc = unsafe { libc::writev(fd.as_raw_fd(), iov.as_ptr(), 2) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc as usize)
    }
}

/// Sends `frames` on an AF_PACKET socket with one `sendmmsg`,
/// `MSG_DONTWAIT`: each frame is its three parts one after the other (a
/// gather write; any part may be empty): a virtio_net_hdr on a
/// PACKET_VNET_HDR socket (else empty), then the Ethernet frame's first
/// bytes, at least its 14-byte header, then the rest. Returns how many the
/// kernel took (a prefix of `frames`).
pub fn send_frames(
    fd: BorrowedFd<'_>,
    ifindex: u32,
    frames: &[[&[u8]; 3]],
) -> Result<usize, Errno> {
    if frames.is_empty() {
        return Ok(0);
    }
    let addrs: Vec<libc::sockaddr_ll> = frames
        .iter()
        .map(|f| {
            let proto = match f[1].get(12..14) {
                Some(b) => u16::from_be_bytes([b[0], b[1]]),
                None => 0,
            };
            sockaddr_ll(ifindex, proto)
        })
        .collect();
    let mut iovs: Vec<[libc::iovec; 3]> = frames
        .iter()
        .map(|f| {
            f.map(|part| libc::iovec {
                iov_base: part.as_ptr().cast_mut().cast::<c_void>(),
                iov_len: part.len(),
            })
        })
        .collect();
    let mut msgs: Vec<libc::mmsghdr> = Vec::with_capacity(frames.len());
    for (iov, addr) in iovs.iter_mut().zip(&addrs) {
        // SAFETY: msghdr is plain old data (integers and nullable pointers);
        // all-zero is a valid, empty header.
        let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
        hdr.msg_name = (addr as *const libc::sockaddr_ll)
            .cast_mut()
            .cast::<c_void>();
        hdr.msg_namelen = size_of::<libc::sockaddr_ll>() as libc::socklen_t;
        hdr.msg_iov = iov.as_mut_ptr();
        hdr.msg_iovlen = 3;
        msgs.push(libc::mmsghdr {
            msg_hdr: hdr,
            msg_len: 0,
        });
    }
    let n = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
    // SAFETY: every mmsghdr points at three iovecs and one sockaddr_ll in
    // vectors that outlive the call; each iovec points at a part of a
    // caller's frame, which the kernel only reads. `n` does not exceed
    // msgs.len().
    let rc = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n, libc::MSG_DONTWAIT) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc as usize)
    }
}

/// The system's page size (ring blocks must be a multiple of it).
pub fn page_size() -> usize {
    // SAFETY: sysconf only reads a system constant; no pointers are involved.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).ok().filter(|&n| n > 0).unwrap_or(4096)
}

/// Receives the next frame queued on the socket itself (not through the
/// ring) into `buf`, without waiting: `recvmsg(MSG_DONTWAIT | MSG_TRUNC)`.
///
/// Returns the frame's whole length (larger than `buf` if it did not fit;
/// then only `buf.len()` bytes were written) and, if `PACKET_AUXDATA` is on,
/// the `tp_status` of its `tpacket_auxdata` control message.
pub fn recv_frame(fd: BorrowedFd<'_>, buf: &mut [u8]) -> Result<(usize, Option<u32>), Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast::<c_void>(),
        iov_len: buf.len(),
    };
    // 8-byte aligned room for one cmsghdr plus a tpacket_auxdata (40 bytes),
    // with margin.
    let mut ctrl = [0u64; 16];
    // SAFETY: msghdr is plain old data (integers and nullable pointers);
    // all-zero is a valid, empty header.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    hdr.msg_control = ctrl.as_mut_ptr().cast::<c_void>();
    hdr.msg_controllen = size_of::<[u64; 16]>() as _;
    // SAFETY: `hdr` points at one iovec covering exactly `buf` (writable, and
    // borrowed mutably for the whole call) and at `ctrl` with its true size;
    // both outlive the call. No name buffer is given (msg_name is null).
    let rc = unsafe {
        libc::recvmsg(
            fd.as_raw_fd(),
            &mut hdr,
            libc::MSG_DONTWAIT | libc::MSG_TRUNC,
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    let mut status = None;
    // SAFETY: `hdr` is the header recvmsg just filled in: msg_control points
    // at `ctrl` and msg_controllen is what the kernel wrote there, so the
    // CMSG_* walk stays inside `ctrl`. The payload is read unaligned and only
    // when the message is long enough to hold a whole tpacket_auxdata.
    unsafe {
        let mut c = libc::CMSG_FIRSTHDR(&hdr);
        while !c.is_null() {
            let need = libc::CMSG_LEN(size_of::<TpacketAuxdata>() as u32) as usize;
            if (*c).cmsg_level == SOL_PACKET
                && (*c).cmsg_type == PACKET_AUXDATA
                && (*c).cmsg_len as usize >= need
            {
                let aux = std::ptr::read_unaligned(
                    libc::CMSG_DATA(c).cast::<TpacketAuxdata>().cast_const(),
                );
                status = Some(aux.tp_status);
            }
            c = libc::CMSG_NXTHDR(&hdr, c);
        }
    }
    Ok((rc as usize, status))
}

/// Shape of a receive ring: which TPACKET version and its geometry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RingLayout {
    /// TPACKET_V2: `block_nr` blocks of `block_size` bytes, each cut into
    /// fixed `frame_size` slots, one frame per slot, each with its own status.
    V2 {
        /// Bytes per block (a multiple of the page size, at least `frame_size`).
        block_size: usize,
        /// Number of blocks.
        block_nr: usize,
        /// Bytes per slot (a multiple of 16).
        frame_size: usize,
    },
    /// TPACKET_V3: `block_nr` blocks of `block_size` bytes, each packed with
    /// frames of any size and handed over whole.
    V3 {
        /// Bytes per block (a multiple of the page size).
        block_size: usize,
        /// Number of blocks.
        block_nr: usize,
        /// Only has to divide `block_size`.
        frame_size: usize,
        /// Block retire timeout (`tp_retire_blk_tov`), ms.
        retire_ms: u32,
    },
}

/// A receive ring mapped into our memory, seen as a sequence of units, each
/// with a 32-bit status word: the blocks of a TPACKET_V3 ring (status at
/// offset 8 of the block descriptor), or the frame slots of a TPACKET_V2
/// ring (status at offset 0 of the `tpacket2_hdr`).
pub struct Ring {
    base: NonNull<u8>,
    len: usize,
    block_size: usize,
    unit_size: usize,
    units_per_block: usize,
    unit_nr: usize,
    status_off: usize,
}

// SAFETY: the ring is a private mapping of kernel memory owned by this value;
// nothing in it is tied to the thread that created it, and all access goes
// through &self / &mut self.
unsafe impl Send for Ring {}

fn u32_of(v: usize, what: &'static str) -> Result<u32, (&'static str, Errno)> {
    u32::try_from(v).map_err(|_| (what, Errno::EINVAL))
}

/// `PACKET_RX_RING` for `layout`, given its (block size, block count,
/// frame size), its TPACKET_V2 frame count and its size in bytes.
fn set_rx_ring(
    fd: BorrowedFd<'_>,
    layout: RingLayout,
    (block_size, block_nr, frame_size): (usize, usize, usize),
    frame_nr: u32,
    total: usize,
) -> Result<(), (&'static str, Errno)> {
    let rc = match layout {
        RingLayout::V2 { .. } => {
            let req = TpacketReq {
                tp_block_size: u32_of(block_size, "block size")?,
                tp_block_nr: u32_of(block_nr, "block count")?,
                tp_frame_size: u32_of(frame_size, "frame size")?,
                tp_frame_nr: frame_nr,
            };
            // SAFETY: `req` is a fully initialised tpacket_req and we pass its size.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_PACKET,
                    PACKET_RX_RING,
                    (&req as *const TpacketReq).cast::<c_void>(),
                    size_of::<TpacketReq>() as libc::socklen_t,
                )
            }
        }
        RingLayout::V3 { retire_ms, .. } => {
            let req = TpacketReq3 {
                tp_block_size: u32_of(block_size, "block size")?,
                tp_block_nr: u32_of(block_nr, "block count")?,
                tp_frame_size: u32_of(frame_size, "frame size")?,
                tp_frame_nr: u32_of(total / frame_size, "frame count")?,
                tp_retire_blk_tov: retire_ms,
                tp_sizeof_priv: 0,
                tp_feature_req_word: 0,
            };
            // SAFETY: `req` is a fully initialised tpacket_req3 and we pass its size.
            unsafe {
                libc::setsockopt(
                    fd.as_raw_fd(),
                    SOL_PACKET,
                    PACKET_RX_RING,
                    (&req as *const TpacketReq3).cast::<c_void>(),
                    size_of::<TpacketReq3>() as libc::socklen_t,
                )
            }
        }
    };
    if rc != 0 {
        return Err(("setsockopt(PACKET_RX_RING)", Errno::last()));
    }
    Ok(())
}

/// Maps the socket's ring of `total` bytes, locked in memory if the
/// `RLIMIT_MEMLOCK` allows.
fn map_ring(fd: BorrowedFd<'_>, total: usize) -> Result<*mut c_void, (&'static str, Errno)> {
    // SAFETY: we ask for a fresh shared mapping of the socket's ring, of
    // exactly the size we configured; no existing memory is affected.
    let ptr = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_LOCKED,
            fd.as_raw_fd(),
            0,
        )
    };
    Ok(if ptr == libc::MAP_FAILED {
        // MAP_LOCKED fails under a low RLIMIT_MEMLOCK; retry without it.
        // SAFETY: as above.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(("mmap of the receive ring", Errno::last()));
        }
        p
    } else {
        ptr
    })
}

impl Ring {
    /// Sets up `PACKET_RX_RING` as `layout` says (the matching
    /// `PACKET_VERSION` must already be selected) and maps it.
    pub fn new(fd: BorrowedFd<'_>, layout: RingLayout) -> Result<Ring, (&'static str, Errno)> {
        let (block_size, block_nr, frame_size) = match layout {
            RingLayout::V2 {
                block_size,
                block_nr,
                frame_size,
            }
            | RingLayout::V3 {
                block_size,
                block_nr,
                frame_size,
                ..
            } => (block_size, block_nr, frame_size),
        };
        if frame_size == 0 || block_size < frame_size || block_nr == 0 {
            return Err(("ring geometry", Errno::EINVAL));
        }
        let total = block_size
            .checked_mul(block_nr)
            .ok_or(("ring size overflows", Errno::EINVAL))?;
        let per_block = block_size / frame_size;
        let frame_nr = u32_of(per_block * block_nr, "frame count")?;
        set_rx_ring(
            fd,
            layout,
            (block_size, block_nr, frame_size),
            frame_nr,
            total,
        )?;
        let ptr = map_ring(fd, total)?;
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(("mmap returned null", Errno::EINVAL))?;
        Ok(match layout {
            RingLayout::V2 { .. } => Ring {
                base,
                len: total,
                block_size,
                unit_size: frame_size,
                units_per_block: per_block,
                unit_nr: per_block * block_nr,
                status_off: 0,
            },
            RingLayout::V3 { .. } => Ring {
                base,
                len: total,
                block_size,
                unit_size: block_size,
                units_per_block: 1,
                unit_nr: block_nr,
                status_off: BLOCK_STATUS_OFF,
            },
        })
    }

    /// Size of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Number of units (V3: blocks, V2: frame slots).
    pub fn unit_nr(&self) -> usize {
        self.unit_nr
    }

    /// Byte offset of unit `i` in the mapping. Units never straddle a block
    /// (the kernel's own layout: whole slots per block, the rest unused).
    fn offset(&self, i: usize) -> usize {
        let i = i % self.unit_nr;
        (i / self.units_per_block) * self.block_size + (i % self.units_per_block) * self.unit_size
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: unit i lies inside the mapping (offset + unit_size <= len,
        // by construction of the geometry), and its status word (offset 0 of
        // a V2 slot, 8 of a V3 block) is 4-byte aligned: blocks are page
        // aligned and slots a multiple of 16 bytes. The kernel and we access
        // it only as a 32-bit word, so treating it as an atomic is sound, and
        // the mapping lives as long as `self`.
        unsafe {
            AtomicU32::from_ptr(
                self.base
                    .as_ptr()
                    .add(self.offset(i) + self.status_off)
                    .cast::<u32>(),
            )
        }
    }

    /// Unit `i` as bytes if the kernel has handed it to user space
    /// (`TP_STATUS_USER`), else None.
    pub fn unit(&self, i: usize) -> Option<&[u8]> {
        if self.status(i).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
            return None;
        }
        // SAFETY: the unit lies inside the mapping; the kernel does not write
        // a unit while its status is TP_STATUS_USER (the acquire load above
        // orders our reads after its writes), and handing it back
        // (`release`) needs &mut self, so no slice outlives our ownership.
        Some(unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().add(self.offset(i)), self.unit_size)
        })
    }

    /// Gives unit `i` back to the kernel (`TP_STATUS_KERNEL`), after all our
    /// reads of it (release store).
    pub fn release(&mut self, i: usize) {
        self.status(i).store(TP_STATUS_KERNEL, Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; no slice into the
        // mapping can outlive `self`.
        unsafe {
            libc::munmap(self.base.as_ptr().cast::<c_void>(), self.len);
        }
    }
}

/// Waits until `fd` is readable (or has an error) or `timeout` passes
/// (`None`: no limit), to the microsecond (`ppoll`; `poll`'s milliseconds
/// would turn a paced sender's 300 µs wait into one), and returns the
/// events seen (empty on a timeout). A signal ends the wait: `EINTR`.
pub fn wait_readable(
    fd: BorrowedFd<'_>,
    timeout: Option<std::time::Duration>,
) -> Result<nix::poll::PollFlags, Errno> {
    use nix::poll::{ppoll, PollFd, PollFlags};
    let t = timeout.map(|d| {
        nix::sys::time::TimeSpec::from_duration(d.max(std::time::Duration::from_micros(1)))
    });
    let mut fds = [PollFd::new(fd, PollFlags::POLLIN)];
    ppoll(&mut fds, t, None)?;
    Ok(fds[0].revents().unwrap_or(PollFlags::empty()))
}
