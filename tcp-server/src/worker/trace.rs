//! The `--debug` / `--verbose` / `--pcap` side of a worker: frames, state
//! changes and warnings to stderr (through [`ErrOut`]), frames to the pcap
//! file.

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Mutex;
use std::time::SystemTime;

use tcpcore::wire::{IpPair, Ipv4Packet, TcpPacket};
use tcpcore::{CloseReason, FourTuple, StateName};

use super::shared::{lock, ErrOut, PcapSink};
use super::Settings;
use crate::render::{self, CsumNote, Palette};
use crate::sys;

/// The `--debug` / `--verbose` / `--pcap` side: everything about frames
/// that goes to stderr or the pcap file.
pub(crate) struct Trace<'a> {
    /// The program's name, at the head of warnings.
    pub(crate) prog: &'static str,
    pub(crate) debug: bool,
    pub(crate) verbose: bool,
    pub(crate) palette: Palette,
    pub(crate) err: ErrOut,
    /// The shared pcap file; `None` without `--pcap` and after a write
    /// error.
    pub(crate) pcap: Option<&'a Mutex<PcapSink>>,
    pub(crate) line: String,
    pub(crate) scratch: Vec<u8>,
    /// When what is being handled happened: the received frame's kernel
    /// timestamp, or the time a timer was run. State lines carry it, so the
    /// trace reads in the order things happened.
    pub(crate) event_ts: SystemTime,
    /// When a send-side warning was last printed, and how many were held
    /// back since: at most one a second, so that a peer cannot flood
    /// stderr.
    pub(crate) warned: (Option<std::time::Instant>, u64),
    /// The frames are bare IP packets (`--tun`, `Medium::Ip`): each is
    /// traced (and written to the pcap file) behind a link-layer header of
    /// zeros with the EtherType of its IP version, so that the renderers
    /// and the pcap file (`LINKTYPE_ETHERNET`) take it as they take a frame.
    pub(crate) ip_medium: bool,
    /// The packet with that header, rebuilt for each.
    link_buf: Vec<u8>,
}

/// The zeroed Ethernet header (MACs 00:00:00:00:00:00) put in front of a
/// bare IPv4 packet for the trace; the last two bytes become 0x86dd for
/// an IPv6 one.
const PSEUDO_ETHERNET: [u8; 14] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00];

impl<'a> Trace<'a> {
    /// The trace of one worker as `settings` ask, writing frames to `pcap`
    /// if there is one.
    pub(crate) fn new(settings: &Settings, pcap: Option<&'a Mutex<PcapSink>>) -> Trace<'a> {
        Trace::with(
            "tcp-server",
            (settings.debug, settings.verbose, settings.color),
            pcap,
        )
    }

    /// The trace of program `prog` (the head of its warnings) with
    /// `(debug, verbose, color)`, writing frames to `pcap` if there is one.
    pub(crate) fn with(
        prog: &'static str,
        (debug, verbose, color): (bool, bool, bool),
        pcap: Option<&'a Mutex<PcapSink>>,
    ) -> Trace<'a> {
        Trace {
            prog,
            debug,
            verbose,
            palette: Palette::new(color),
            err: ErrOut::new(),
            pcap,
            line: String::with_capacity(4096),
            scratch: Vec::with_capacity(64 * 1024),
            event_ts: SystemTime::now(),
            warned: (None, 0),
            ip_medium: false,
            link_buf: Vec::new(),
        }
    }

    pub(crate) fn wants_frames(&self) -> bool {
        self.debug || self.verbose || self.pcap.is_some()
    }

    /// A received frame (kernel timestamp `ts`): traced if asked, and the
    /// time of what follows from it.
    pub(crate) fn rx(&mut self, frame: &[u8], ts: SystemTime, note: CsumNote) {
        if self.wants_frames() {
            self.event_ts = ts;
            self.frame("RX", frame, ts, note);
        }
    }

    pub(crate) fn frame(&mut self, dir: &str, frame: &[u8], ts: SystemTime, note: CsumNote) {
        if self.ip_medium {
            let mut buf = std::mem::take(&mut self.link_buf);
            buf.clear();
            buf.extend_from_slice(&PSEUDO_ETHERNET);
            if frame.first().is_some_and(|b| b >> 4 == 6) {
                buf[12..14].copy_from_slice(&[0x86, 0xdd]);
            }
            buf.extend_from_slice(frame);
            self.link_frame(dir, &buf, ts, note);
            self.link_buf = buf;
        } else {
            self.link_frame(dir, frame, ts, note);
        }
    }

    /// [`Trace::frame`] of a whole Ethernet frame.
    fn link_frame(&mut self, dir: &str, frame: &[u8], ts: SystemTime, note: CsumNote) {
        if self.debug || self.verbose {
            let time = sys::tcpdump_time(ts);
            let style = if dir == "RX" {
                self.palette.rx
            } else {
                self.palette.tx
            };
            if self.debug {
                self.line.clear();
                let _ = write!(self.line, "{style}{dir}{style:#} {time} ");
                render::tcpdump_line(&mut self.line, frame);
                self.line.push('\n');
                let _ = self.err.write_all(self.line.as_bytes());
            }
            if self.verbose {
                self.line.clear();
                let head = format!("{style}{dir}{style:#} {time}");
                render::verbose(&mut self.line, &self.palette, &head, frame, note);
                let _ = self.err.write_all(self.line.as_bytes());
            }
            self.err.line_done();
        }
        if let Some(sink) = self.pcap {
            // A frame whose TCP checksum is not filled in yet (offload) is
            // written with the checksum filled in: the pcap shows what the
            // peer meant, and tshark finds no bad checksums in it.
            let data = if note == CsumNote::NotReady {
                fill_tcp_checksum(&mut self.scratch, frame)
            } else {
                frame
            };
            let mut sink = lock(sink);
            let failed = match sink.writer.as_mut().map(|w| w.write(ts, data, frame.len())) {
                Some(Ok(())) => false,
                Some(Err(e)) => {
                    sink.error.get_or_insert(e);
                    sink.writer = None;
                    true
                }
                None => true,
            };
            drop(sink);
            if failed {
                self.pcap = None;
            }
        }
    }

    pub(crate) fn state(&mut self, tuple: &FourTuple, from: StateName, to: StateName) {
        if self.debug {
            let s = self.palette.state;
            let time = sys::tcpdump_time(self.event_ts);
            let _ = writeln!(
                self.err,
                "{s}--{s:#} {time} {}:{} {} -> {}",
                tuple.remote_addr,
                tuple.remote_port,
                from.as_str(),
                to.as_str()
            );
            self.err.line_done();
        }
    }

    pub(crate) fn closed(&mut self, tuple: &FourTuple, reason: CloseReason) {
        if self.debug {
            let s = self.palette.state;
            let time = sys::tcpdump_time(self.event_ts);
            let _ = writeln!(
                self.err,
                "{s}--{s:#} {time} {}:{} closed ({})",
                tuple.remote_addr,
                tuple.remote_port,
                reason_str(reason)
            );
            self.err.line_done();
        }
    }

    /// A line of information: `prog: msg`.
    pub(crate) fn note(&mut self, msg: &str) {
        let _ = writeln!(self.err, "{}: {msg}", self.prog);
        self.err.line_done();
    }

    pub(crate) fn warn(&mut self, msg: &str) {
        let _ = writeln!(self.err, "{}: warning: {msg}", self.prog);
        self.err.line_done();
    }

    /// As `warn`, at most once a second; the count of warnings held back
    /// goes with the next one printed.
    pub(crate) fn warn_limited(&mut self, msg: &str) {
        let now = std::time::Instant::now();
        let (last, held) = self.warned;
        if last.is_some_and(|l| now.duration_since(l) < std::time::Duration::from_secs(1)) {
            self.warned.1 = held + 1;
            return;
        }
        self.warned = (Some(now), 0);
        if held > 0 {
            self.warn(&format!("{msg} (and {held} more like it)"));
        } else {
            self.warn(msg);
        }
    }

    pub(crate) fn flush(&mut self) {
        let _ = self.err.flush();
        if let Some(sink) = self.pcap {
            let mut sink = lock(sink);
            let failed = match sink.writer.as_mut().map(|w| w.flush()) {
                Some(Ok(())) => false,
                Some(Err(e)) => {
                    sink.error.get_or_insert(e);
                    sink.writer = None;
                    true
                }
                None => true,
            };
            drop(sink);
            if failed {
                self.pcap = None;
            }
        }
    }
}

/// Copies `frame` into `scratch` with its TCP checksum computed; `frame`
/// itself if it is not an IPv4/TCP or IPv6/TCP (no extension header) frame
/// that can be fixed.
fn fill_tcp_checksum<'a>(scratch: &'a mut Vec<u8>, frame: &'a [u8]) -> &'a [u8] {
    if frame.get(12..14) == Some(&[0x86, 0xdd][..]) {
        return fill_tcp_checksum_v6(scratch, frame);
    }
    let Some(ip_bytes) = frame.get(14..) else {
        return frame;
    };
    let Ok(ip) = Ipv4Packet::new_checked(ip_bytes) else {
        return frame;
    };
    if u8::from(ip.protocol()) != 6 || ip.frag_offset() != 0 || ip.more_frags() {
        return frame;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let start = 14 + usize::from(ip.header_len());
    let end = 14 + usize::from(ip.total_len());
    if start + 20 > end || end > frame.len() {
        return frame;
    }
    scratch.clear();
    scratch.extend_from_slice(frame);
    TcpPacket::new_unchecked(&mut scratch[start..end]).fill_checksum(src, dst);
    scratch
}

/// [`fill_tcp_checksum`] of an IPv6 frame: TCP right after the fixed
/// header only.
fn fill_tcp_checksum_v6<'a>(scratch: &'a mut Vec<u8>, frame: &'a [u8]) -> &'a [u8] {
    let Some(ip) = frame.get(14..54) else {
        return frame;
    };
    if ip[0] >> 4 != 6 || ip[6] != 6 {
        return frame;
    }
    let addr = |at: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&ip[at..at + 16]);
        std::net::Ipv6Addr::from(a)
    };
    let (src, dst) = (addr(8), addr(24));
    let end = 54 + usize::from(u16::from_be_bytes([ip[4], ip[5]]));
    if 54 + 20 > end || end > frame.len() {
        return frame;
    }
    scratch.clear();
    scratch.extend_from_slice(frame);
    TcpPacket::new_unchecked(&mut scratch[54..end]).fill_checksum_ip(IpPair::V6 { src, dst });
    scratch
}

/// `normal`, `reset`, `timed out`, `aborted`, or the ICMP error, e.g.
/// `host unreachable (ICMP)`.
fn reason_str(r: CloseReason) -> &'static str {
    r.as_str()
}
