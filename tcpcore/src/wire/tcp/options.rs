//! TCP options (RFC 9293 §3.1 MSS, RFC 7323 window scale and timestamps,
//! RFC 2018 SACK): parsing, Linux's emission order and layout, and
//! tcpdump's rendering.

use core::fmt;

use super::TcpError;
use crate::seq::SeqNum;

/// The TCP timestamps option (RFC 7323 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Timestamps {
    /// TSval: the sender's timestamp clock.
    pub tsval: u32,
    /// TSecr: the TSval echoed back.
    pub tsecr: u32,
}

/// Up to four SACK blocks (RFC 2018), each `(left edge, right edge)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SackBlocks {
    blocks: [(SeqNum, SeqNum); 4],
    len: u8,
}

impl SackBlocks {
    /// The most blocks a SACK option carries.
    pub const CAPACITY: usize = 4;

    /// No blocks.
    pub const fn new() -> SackBlocks {
        SackBlocks {
            blocks: [(SeqNum::new(0), SeqNum::new(0)); 4],
            len: 0,
        }
    }

    /// Appends a block; `false` (and nothing changes) if there are four.
    pub fn push(&mut self, left: SeqNum, right: SeqNum) -> bool {
        match self.blocks.get_mut(usize::from(self.len)) {
            Some(slot) => {
                *slot = (left, right);
                self.len += 1;
                true
            }
            None => false,
        }
    }

    /// The blocks, in order.
    pub fn as_slice(&self) -> &[(SeqNum, SeqNum)] {
        self.blocks.get(..usize::from(self.len)).unwrap_or(&[])
    }

    /// How many blocks there are.
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether there is no block.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every block.
    pub fn clear(&mut self) {
        *self = SackBlocks::new();
    }

    /// Keeps only the first `n` blocks.
    pub fn truncate(&mut self, n: usize) {
        if n < self.len() {
            // n < len <= 4, so it fits in a u8.
            self.len = n as u8;
            for b in self.blocks.iter_mut().skip(n) {
                *b = (SeqNum::new(0), SeqNum::new(0));
            }
        }
    }
}

/// Option kinds.
mod kind {
    pub const EOL: u8 = 0;
    pub const NOP: u8 = 1;
    pub const MSS: u8 = 2;
    pub const WINDOW_SCALE: u8 = 3;
    pub const SACK_PERMITTED: u8 = 4;
    pub const SACK: u8 = 5;
    pub const TIMESTAMPS: u8 = 8;
}

/// The TCP options this stack understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2).
    pub mss: Option<u16>,
    /// Window scale shift count (kind 3), as received: values above 14 are
    /// kept and left for the connection to clamp (RFC 7323 §2.3).
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4).
    pub sack_permitted: bool,
    /// SACK blocks (kind 5).
    pub sack_blocks: SackBlocks,
    /// Timestamps (kind 8).
    pub timestamps: Option<Timestamps>,
}

/// Most bytes of options a TCP header holds.
const MAX_OPTIONS_LEN: usize = 40;

/// How [`TcpOptions::emit_into`] lays the options out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// As Linux: every option on a 4-byte boundary, padded with NOPs.
    Aligned,
    /// No NOP padding, for combinations that do not fit in 40 bytes
    /// aligned (only reachable from parsed segments).
    Packed,
}

impl TcpOptions {
    /// Parses the options area of a TCP header (the bytes between the fixed
    /// header and the data).
    ///
    /// EOL ends the list; NOP is skipped; MSS, window scale, SACK-permitted,
    /// SACK (1 to 4 blocks) and timestamps are read; unknown kinds are
    /// skipped by their length. When an option appears twice the last one
    /// wins. Fails with [`TcpError::BadOption`] on a length of 0 or 1, an
    /// option running past the end, or a known option with the wrong length.
    #[inline]
    pub fn parse(bytes: &[u8]) -> Result<TcpOptions, TcpError> {
        // Fast paths for what Linux sends on almost every segment: no
        // options, or `nop, nop, TS val ecr`.
        match *bytes {
            [] => return Ok(TcpOptions::default()),
            [kind::NOP, kind::NOP, kind::TIMESTAMPS, 10, a, b, c, d, e, f, g, h] => {
                return Ok(TcpOptions {
                    timestamps: Some(Timestamps {
                        tsval: u32::from_be_bytes([a, b, c, d]),
                        tsecr: u32::from_be_bytes([e, f, g, h]),
                    }),
                    ..TcpOptions::default()
                });
            }
            _ => {}
        }
        Self::parse_list(bytes)
    }

    /// The general option parser behind [`parse`](Self::parse).
    fn parse_list(bytes: &[u8]) -> Result<TcpOptions, TcpError> {
        let mut opts = TcpOptions::default();
        let mut rest = bytes;
        loop {
            match rest {
                [] | [kind::EOL, ..] => break,
                [kind::NOP, tail @ ..] => rest = tail,
                [_] => return Err(TcpError::BadOption),
                [k, len, ..] => {
                    let len = usize::from(*len);
                    if len < 2 {
                        return Err(TcpError::BadOption);
                    }
                    let (opt, tail) = match (rest.get(..len), rest.get(len..)) {
                        (Some(opt), Some(tail)) => (opt, tail),
                        _ => return Err(TcpError::BadOption),
                    };
                    match (*k, opt) {
                        (kind::MSS, &[_, _, a, b]) => opts.mss = Some(u16::from_be_bytes([a, b])),
                        (kind::WINDOW_SCALE, &[_, _, s]) => opts.window_scale = Some(s),
                        (kind::SACK_PERMITTED, &[_, _]) => opts.sack_permitted = true,
                        (kind::TIMESTAMPS, &[_, _, a, b, c, d, e, f, g, h]) => {
                            opts.timestamps = Some(Timestamps {
                                tsval: u32::from_be_bytes([a, b, c, d]),
                                tsecr: u32::from_be_bytes([e, f, g, h]),
                            })
                        }
                        (kind::SACK, [_, _, blocks @ ..]) => {
                            if blocks.is_empty() || blocks.len() % 8 != 0 || blocks.len() > 32 {
                                return Err(TcpError::BadOption);
                            }
                            opts.sack_blocks.clear();
                            for b in blocks.chunks_exact(8) {
                                if let &[a0, a1, a2, a3, b0, b1, b2, b3] = b {
                                    opts.sack_blocks.push(
                                        SeqNum::new(u32::from_be_bytes([a0, a1, a2, a3])),
                                        SeqNum::new(u32::from_be_bytes([b0, b1, b2, b3])),
                                    );
                                }
                            }
                        }
                        (
                            kind::MSS
                            | kind::WINDOW_SCALE
                            | kind::SACK_PERMITTED
                            | kind::TIMESTAMPS,
                            _,
                        ) => return Err(TcpError::BadOption),
                        _ => {} // unknown: skipped by its length
                    }
                    rest = tail;
                }
            }
        }
        Ok(opts)
    }

    /// Length of the options laid out one way, unpadded, with `sack` blocks.
    const fn raw_len(&self, layout: Layout, sack: usize) -> usize {
        let aligned = matches!(layout, Layout::Aligned);
        let mut n = 0;
        if self.mss.is_some() {
            n += 4;
        }
        match (self.sack_permitted, self.timestamps.is_some()) {
            (true, true) => n += 12,
            (false, true) => n += if aligned { 12 } else { 10 },
            (true, false) => n += if aligned { 4 } else { 2 },
            (false, false) => {}
        }
        if self.window_scale.is_some() {
            n += if aligned { 4 } else { 3 };
        }
        if sack > 0 {
            n += if aligned { 4 } else { 2 } + 8 * sack;
        }
        n
    }

    /// The layout and number of SACK blocks `emit_into` uses, so that the
    /// options fit in 40 bytes: Linux's aligned layout if it fits, else the
    /// packed one, else dropping the last SACK blocks.
    #[inline]
    fn plan(&self) -> (Layout, usize) {
        let mut sack = self.sack_blocks.len();
        if sack == 0 {
            // Without SACK blocks everything fits aligned (at most 20 bytes).
            return (Layout::Aligned, 0);
        }
        loop {
            if self.raw_len(Layout::Aligned, sack) <= MAX_OPTIONS_LEN {
                return (Layout::Aligned, sack);
            }
            if self.raw_len(Layout::Packed, sack) <= MAX_OPTIONS_LEN || sack == 0 {
                return (Layout::Packed, sack);
            }
            sack -= 1;
        }
    }

    /// Length in bytes of the options as [`emit_into`](Self::emit_into)
    /// writes them, padded to a multiple of 4 (at most 40).
    #[inline]
    pub fn buffer_len(&self) -> usize {
        let (layout, sack) = self.plan();
        (self.raw_len(layout, sack) + 3) & !3
    }

    /// Writes the options in Linux's order and returns the bytes written
    /// (a multiple of 4, at most 40), or `None` if `buf` is shorter than
    /// [`buffer_len`](Self::buffer_len).
    ///
    /// On a SYN Linux sends `mss, sackOK, TS val ecr, nop, wscale` (or
    /// without timestamps `mss, nop, nop, sackOK, nop, wscale`); on other
    /// segments `nop, nop, TS val ecr`, then `nop, nop, sack` blocks. The
    /// same order is used for whatever is set, whatever the segment; SACK
    /// blocks that do not fit in 40 bytes are left out (with timestamps at
    /// most three fit). If a combination does not fit aligned (only
    /// possible for options parsed from a peer), the NOPs are left out.
    #[inline]
    pub fn emit_into(&self, buf: &mut [u8]) -> Option<usize> {
        self.emit_summed(buf).map(|(n, _)| n)
    }

    /// [`emit_into`](Self::emit_into), also returning the one's complement
    /// sum of the bytes written (unfolded), computed from the values rather
    /// than read back from the buffer.
    #[inline]
    pub(super) fn emit_summed(&self, buf: &mut [u8]) -> Option<(usize, u64)> {
        let (layout, sack) = self.plan();
        let padded = (self.raw_len(layout, sack) + 3) & !3;
        let out = buf.get_mut(..padded)?;
        let aligned = layout == Layout::Aligned;
        let mut w = Writer {
            buf: out,
            at: 0,
            sum: 0,
        };
        if let Some(mss) = self.mss {
            w.put(&[kind::MSS, 4]);
            w.put(&mss.to_be_bytes());
        }
        match (self.sack_permitted, self.timestamps) {
            (true, Some(ts)) => {
                w.put(&[kind::SACK_PERMITTED, 2]);
                w.timestamps(ts);
            }
            (false, Some(ts)) => {
                if aligned {
                    w.put(&[kind::NOP, kind::NOP]);
                }
                w.timestamps(ts);
            }
            (true, None) => {
                if aligned {
                    w.put(&[kind::NOP, kind::NOP]);
                }
                w.put(&[kind::SACK_PERMITTED, 2]);
            }
            (false, None) => {}
        }
        if let Some(ws) = self.window_scale {
            if aligned {
                w.put(&[kind::NOP]);
            }
            w.put(&[kind::WINDOW_SCALE, 3, ws]);
        }
        if sack > 0 {
            if aligned {
                w.put(&[kind::NOP, kind::NOP]);
            }
            // 2 + 8 * sack <= 34.
            w.put(&[kind::SACK, (2 + 8 * sack) as u8]);
            for (l, r) in self.sack_blocks.as_slice().iter().take(sack) {
                w.put(&l.get().to_be_bytes());
                w.put(&r.get().to_be_bytes());
            }
        }
        // Pad with EOL (zero) to the 4-byte boundary.
        let (end, sum) = (w.at, w.sum);
        for b in out.iter_mut().skip(end) {
            *b = kind::EOL;
        }
        Some((padded, sum))
    }
}

/// Appends bytes to a buffer sized beforehand; never panics (excess is
/// dropped, which `plan` makes impossible).
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
    /// One's complement sum (unfolded) of the bytes written, as big-endian
    /// words from the start of `buf`.
    sum: u64,
}

impl Writer<'_> {
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        if let Some(dst) = self.buf.get_mut(self.at..self.at + bytes.len()) {
            dst.copy_from_slice(bytes);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let shift = if (self.at + i) % 2 == 0 { 8 } else { 0 };
            self.sum += u64::from(b) << shift;
        }
        self.at += bytes.len();
    }

    fn timestamps(&mut self, ts: Timestamps) {
        self.put(&[kind::TIMESTAMPS, 10]);
        self.put(&ts.tsval.to_be_bytes());
        self.put(&ts.tsecr.to_be_bytes());
    }
}

/// `, options [...]` as tcpdump prints it, in emission order; nothing when
/// there is no option.
impl fmt::Display for TcpOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = ", options [";
        let mut item = |f: &mut fmt::Formatter<'_>, args: fmt::Arguments<'_>| {
            let r = f.write_str(sep).and_then(|()| f.write_fmt(args));
            sep = ",";
            r
        };
        if let Some(mss) = self.mss {
            item(f, format_args!("mss {mss}"))?;
        }
        if self.sack_permitted {
            item(f, format_args!("sackOK"))?;
        }
        if let Some(ts) = self.timestamps {
            item(f, format_args!("TS val {} ecr {}", ts.tsval, ts.tsecr))?;
        }
        if let Some(ws) = self.window_scale {
            item(f, format_args!("wscale {ws}"))?;
        }
        if !self.sack_blocks.is_empty() {
            item(f, format_args!("sack {}", self.sack_blocks.len()))?;
            for (l, r) in self.sack_blocks.as_slice() {
                write!(f, " {{{l}:{r}}}")?;
            }
        }
        if sep == "," {
            f.write_str("]")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sack_blocks_are_capped() {
        let mut opts = TcpOptions {
            timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
            ..TcpOptions::default()
        };
        for i in 0..4 {
            assert!(opts
                .sack_blocks
                .push(SeqNum::new(i * 10), SeqNum::new(i * 10 + 5)));
        }
        assert!(!opts.sack_blocks.push(SeqNum::new(0), SeqNum::new(1)));
        assert_eq!(opts.buffer_len(), 40);
        let mut buf = [0u8; 40];
        assert_eq!(opts.emit_into(&mut buf), Some(40));
        assert_eq!(buf[..4], [1, 1, 8, 10]);
        assert_eq!(buf[12..16], [1, 1, 5, 26]);
        let back = TcpOptions::parse(&buf).unwrap();
        assert_eq!(
            back.sack_blocks.as_slice(),
            &opts.sack_blocks.as_slice()[..3]
        );
        // Without timestamps all four fit.
        opts.timestamps = None;
        assert_eq!(opts.buffer_len(), 36);
        assert_eq!(opts.emit_into(&mut buf), Some(36));
        assert_eq!(TcpOptions::parse(&buf[..36]).unwrap(), opts);
        assert_eq!(opts.emit_into(&mut buf[..35]), None);
    }

    #[test]
    fn packed_layout_round_trips() {
        // WS + TS + 3 SACK blocks fit in 40 bytes only without NOPs.
        let mut opts = TcpOptions {
            window_scale: Some(7),
            timestamps: Some(Timestamps { tsval: 1, tsecr: 2 }),
            ..TcpOptions::default()
        };
        for i in 0..3 {
            opts.sack_blocks.push(SeqNum::new(i), SeqNum::new(i + 1));
        }
        assert_eq!(opts.buffer_len(), 40);
        let mut buf = [0u8; 40];
        opts.emit_into(&mut buf).unwrap();
        assert_eq!(TcpOptions::parse(&buf).unwrap(), opts);
    }

    #[test]
    fn option_errors() {
        let bad: [&[u8]; 9] = [
            &[2],                      // kind without length
            &[2, 0],                   // length 0
            &[30, 1],                  // length 1, unknown kind
            &[2, 4, 5],                // runs past the end
            &[2, 3, 5],                // MSS of length 3
            &[3, 4, 1, 1],             // WS of length 4
            &[8, 8, 0, 0, 0, 0, 0, 0], // TS of length 8
            &[5, 2],                   // SACK without blocks
            &[5, 6, 0, 0, 0, 0],       // SACK of a partial block
        ];
        for b in bad {
            assert_eq!(TcpOptions::parse(b), Err(TcpError::BadOption), "{b:?}");
        }
        // Unknown kinds are skipped; EOL stops (garbage after it ignored).
        let ok = TcpOptions::parse(&[30, 4, 9, 9, 1, 3, 3, 2, 0, 2]).unwrap();
        assert_eq!(ok.window_scale, Some(2));
        assert_eq!(ok.mss, None);
        assert_eq!(TcpOptions::parse(&[]), Ok(TcpOptions::default()));
    }
}
