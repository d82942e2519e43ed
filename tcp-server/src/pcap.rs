//! `--pcap FILE`: every frame in and out, in the classic libpcap format
//! (readable by tcpdump, tshark and Wireshark).
//!
//! Written by hand rather than with the `pcap-file` crate: the classic
//! format is a 24-byte file header and a 16-byte header per record, it has
//! not changed since 1998, and the only crate for it is at a 3.0 release
//! candidate; this keeps the server's dependency tree small.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

/// Largest number of bytes kept of one frame (GRO frames reach 64 KiB and more).
const SNAPLEN: u32 = 262_144;
/// `LINKTYPE_ETHERNET`.
const LINKTYPE_ETHERNET: u32 = 1;

/// A pcap file being written.
pub struct PcapWriter {
    out: BufWriter<File>,
}

impl PcapWriter {
    /// Creates (or truncates) `path` and writes the file header.
    pub fn create(path: &Path) -> io::Result<PcapWriter> {
        let mut out = BufWriter::with_capacity(256 * 1024, File::create(path)?);
        // Magic in native byte order, microsecond timestamps, version 2.4,
        // thiszone 0, sigfigs 0.
        out.write_all(&0xa1b2_c3d4u32.to_ne_bytes())?;
        out.write_all(&2u16.to_ne_bytes())?;
        out.write_all(&4u16.to_ne_bytes())?;
        out.write_all(&0i32.to_ne_bytes())?;
        out.write_all(&0u32.to_ne_bytes())?;
        out.write_all(&SNAPLEN.to_ne_bytes())?;
        out.write_all(&LINKTYPE_ETHERNET.to_ne_bytes())?;
        Ok(PcapWriter { out })
    }

    /// Appends one frame seen at `ts`, `orig_len` bytes long on the wire.
    pub fn write(&mut self, ts: SystemTime, frame: &[u8], orig_len: usize) -> io::Result<()> {
        let d = ts.duration_since(UNIX_EPOCH).unwrap_or_default();
        let kept = frame.len().min(SNAPLEN as usize);
        let secs = u32::try_from(d.as_secs()).unwrap_or(u32::MAX);
        self.out.write_all(&secs.to_ne_bytes())?;
        self.out.write_all(&d.subsec_micros().to_ne_bytes())?;
        self.out.write_all(&(kept as u32).to_ne_bytes())?;
        let orig = u32::try_from(orig_len.max(kept)).unwrap_or(u32::MAX);
        self.out.write_all(&orig.to_ne_bytes())?;
        self.out.write_all(&frame[..kept])
    }

    /// Writes out what is buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
