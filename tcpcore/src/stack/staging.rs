//! The staging area: outgoing frames stored back to back in memory the
//! caller lends, each behind a small header, until
//! [`Stack::poll_transmit`](super::Stack::poll_transmit) hands them out in
//! order.
//!
//! Layout of one entry: the frame's length (4 bytes, little-endian), its
//! GSO segment size (2 bytes, 0 for none), then the frame. `start..end` is
//! what waits; when a frame does not fit after `end`, what waits moves to
//! the front first. When it still does not fit, the frame is refused: the
//! endpoint counts it ([`DropReason::TxNoRoom`](crate::DropReason::TxNoRoom))
//! and the connection retransmits it, as after a full NIC queue.

/// The header in front of each staged frame.
pub(super) const HDR: usize = 6;

/// Outgoing frames, back to back.
pub(super) struct Staging<'s> {
    mem: &'s mut [u8],
    start: usize,
    end: usize,
    /// Frames waiting.
    frames: usize,
    /// Frames refused for want of room.
    pub(super) refused: u64,
}

impl<'s> Staging<'s> {
    pub(super) fn new(mem: &'s mut [u8]) -> Self {
        Staging {
            mem,
            start: 0,
            end: 0,
            frames: 0,
            refused: 0,
        }
    }

    /// Frames waiting to be sent.
    pub(super) fn len(&self) -> usize {
        self.frames
    }

    /// Room for one frame of `len` bytes (GSO segment size `gso`, 0 for
    /// none), or `None` (counted) when it does not fit.
    pub(super) fn reserve(&mut self, len: usize, gso: u16) -> Option<&mut [u8]> {
        let need = HDR + len;
        if self.mem.len() - self.end < need && self.start > 0 {
            self.mem.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.mem.len() - self.end < need || u32::try_from(len).is_err() {
            self.refused += 1;
            return None;
        }
        let at = self.end;
        self.mem[at..at + 4].copy_from_slice(&(len as u32).to_le_bytes());
        self.mem[at + 4..at + HDR].copy_from_slice(&gso.to_le_bytes());
        self.end += need;
        self.frames += 1;
        Some(&mut self.mem[at + HDR..at + need])
    }

    /// The oldest frame and its GSO segment size (0: none), taken out.
    /// Its bytes stay valid until the next [`Staging::reserve`].
    pub(super) fn pop(&mut self) -> Option<(&[u8], u16)> {
        if self.frames == 0 {
            self.start = 0;
            self.end = 0;
            return None;
        }
        let at = self.start;
        let mut len = [0u8; 4];
        len.copy_from_slice(&self.mem[at..at + 4]);
        let len = u32::from_le_bytes(len) as usize;
        let gso = u16::from_le_bytes([self.mem[at + 4], self.mem[at + 5]]);
        self.start = at + HDR + len;
        self.frames -= 1;
        if self.frames == 0 {
            // Empty: the next frame starts at the front again (the bytes
            // handed out now stay in place until then).
            self.start = 0;
            self.end = 0;
        }
        Some((&self.mem[at + HDR..at + HDR + len], gso))
    }
}
