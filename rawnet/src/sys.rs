//! Every `unsafe` block of the crate: raw socket options, `bind`, `ioctl`,
//! `sendmmsg` and the memory-mapped TPACKET_V3 receive ring.
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
/// `PACKET_VERSION`.
pub const PACKET_VERSION: libc::c_int = 10;
/// `PACKET_FANOUT`.
pub const PACKET_FANOUT: libc::c_int = 18;
/// `PACKET_IGNORE_OUTGOING`.
pub const PACKET_IGNORE_OUTGOING: libc::c_int = 23;
/// `TPACKET_V3` (enum tpacket_versions).
pub const TPACKET_V3: libc::c_int = 2;

/// Offset of `block_status` in `struct tpacket_block_desc`.
pub const BLOCK_STATUS_OFF: usize = 8;
/// `TP_STATUS_KERNEL`.
const TP_STATUS_KERNEL: u32 = 0;
/// `TP_STATUS_USER`.
const TP_STATUS_USER: u32 = 1;

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
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
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

/// Reads (and thereby resets) the kernel's `PACKET_STATISTICS` of a TPACKET_V3 socket.
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

/// `SIOCGIFMTU` on any socket: the interface's MTU.
pub fn interface_mtu(fd: BorrowedFd<'_>, name: &str) -> Result<u32, Errno> {
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

/// Sends `frames` (each a whole Ethernet frame) on a bound AF_PACKET socket
/// with one `sendmmsg`, `MSG_DONTWAIT`. Returns how many the kernel took
/// (a prefix of `frames`).
pub fn send_frames(fd: BorrowedFd<'_>, ifindex: u32, frames: &[&[u8]]) -> Result<usize, Errno> {
    if frames.is_empty() {
        return Ok(0);
    }
    let addrs: Vec<libc::sockaddr_ll> = frames
        .iter()
        .map(|f| {
            let proto = match f.get(12..14) {
                Some(b) => u16::from_be_bytes([b[0], b[1]]),
                None => 0,
            };
            sockaddr_ll(ifindex, proto)
        })
        .collect();
    let mut iovs: Vec<libc::iovec> = frames
        .iter()
        .map(|f| libc::iovec {
            iov_base: f.as_ptr().cast_mut().cast::<c_void>(),
            iov_len: f.len(),
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
        hdr.msg_iov = iov;
        hdr.msg_iovlen = 1;
        msgs.push(libc::mmsghdr {
            msg_hdr: hdr,
            msg_len: 0,
        });
    }
    let n = u32::try_from(msgs.len()).unwrap_or(u32::MAX);
    // SAFETY: every mmsghdr points at one iovec and one sockaddr_ll in vectors
    // that outlive the call; each iovec points at a caller's frame, which the
    // kernel only reads. `n` does not exceed msgs.len().
    let rc = unsafe { libc::sendmmsg(fd.as_raw_fd(), msgs.as_mut_ptr(), n, libc::MSG_DONTWAIT) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc as usize)
    }
}

/// A TPACKET_V3 receive ring mapped into our memory.
pub struct Ring {
    base: NonNull<u8>,
    block_size: usize,
    block_nr: usize,
}

// SAFETY: the ring is a private mapping of kernel memory owned by this value;
// nothing in it is tied to the thread that created it, and all access goes
// through &self / &mut self.
unsafe impl Send for Ring {}

impl Ring {
    /// Sets up `PACKET_RX_RING` (TPACKET_V3 must already be selected) with
    /// `block_nr` blocks of `block_size` bytes and maps it.
    pub fn new(
        fd: BorrowedFd<'_>,
        block_size: usize,
        block_nr: usize,
        frame_size: usize,
        retire_ms: u32,
    ) -> Result<Ring, (&'static str, Errno)> {
        let err = |what| move |e| (what, e);
        let total = block_size
            .checked_mul(block_nr)
            .ok_or(("ring size overflows", Errno::EINVAL))?;
        let req = TpacketReq3 {
            tp_block_size: u32::try_from(block_size).map_err(|_| ("block size", Errno::EINVAL))?,
            tp_block_nr: u32::try_from(block_nr).map_err(|_| ("block count", Errno::EINVAL))?,
            tp_frame_size: u32::try_from(frame_size).map_err(|_| ("frame size", Errno::EINVAL))?,
            tp_frame_nr: u32::try_from(total / frame_size)
                .map_err(|_| ("frame count", Errno::EINVAL))?,
            tp_retire_blk_tov: retire_ms,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        // SAFETY: `req` is a fully initialised tpacket_req3 and we pass its size.
        let rc = unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                SOL_PACKET,
                PACKET_RX_RING,
                (&req as *const TpacketReq3).cast::<c_void>(),
                size_of::<TpacketReq3>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(err("setsockopt(PACKET_RX_RING)")(Errno::last()));
        }
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
        let ptr = if ptr == libc::MAP_FAILED {
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
                return Err(err("mmap of the receive ring")(Errno::last()));
            }
            p
        } else {
            ptr
        };
        let base = NonNull::new(ptr.cast::<u8>()).ok_or(("mmap returned null", Errno::EINVAL))?;
        Ok(Ring {
            base,
            block_size,
            block_nr,
        })
    }

    /// Number of blocks.
    pub fn block_nr(&self) -> usize {
        self.block_nr
    }

    fn status(&self, i: usize) -> &AtomicU32 {
        let i = i % self.block_nr;
        // SAFETY: block i starts at i*block_size inside the mapping, and the
        // status word at offset 8 is 4-byte aligned (blocks are page aligned);
        // the kernel and we access it only as a 32-bit word, so treating it as
        // an atomic is sound, and the mapping lives as long as `self`.
        unsafe {
            AtomicU32::from_ptr(
                self.base
                    .as_ptr()
                    .add(i * self.block_size + BLOCK_STATUS_OFF)
                    .cast::<u32>(),
            )
        }
    }

    /// Block `i` as bytes if the kernel has handed it to user space
    /// (`TP_STATUS_USER`), else None.
    pub fn block(&self, i: usize) -> Option<&[u8]> {
        if self.status(i).load(Ordering::Acquire) & TP_STATUS_USER == 0 {
            return None;
        }
        let i = i % self.block_nr;
        // SAFETY: the block lies inside the mapping; the kernel does not write
        // a block while its status is TP_STATUS_USER, and handing it back
        // (`release`) needs &mut self, so no slice outlives our ownership.
        Some(unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().add(i * self.block_size), self.block_size)
        })
    }

    /// Gives block `i` back to the kernel (`TP_STATUS_KERNEL`).
    pub fn release(&mut self, i: usize) {
        self.status(i).store(TP_STATUS_KERNEL, Ordering::Release);
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        // SAFETY: base/len are exactly what mmap returned; no slice into the
        // mapping can outlive `self`.
        unsafe {
            libc::munmap(
                self.base.as_ptr().cast::<c_void>(),
                self.block_size * self.block_nr,
            );
        }
    }
}
