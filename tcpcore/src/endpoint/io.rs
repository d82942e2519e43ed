//! What the endpoint asks of its surroundings and tells them: the [`Io`]
//! trait (transmit buffers, application events, delivery of bytes), the
//! [`AppEvent`]s, and the [`ConnId`] that names a connection in them.

use crate::conn::{CloseReason, StateName};
use crate::isn::FourTuple;
use crate::seq::SeqNum;

/// What the endpoint needs from its surroundings.
pub trait Io {
    /// A buffer of exactly `len` bytes for one outgoing frame (a bare IPv4
    /// packet on [`Medium::Ip`](super::Medium::Ip)); the frame is sent once
    /// the endpoint has written it. `None` when there is no room:
    /// the frame is dropped and counted (TCP recovers by retransmission).
    fn tx(&mut self, len: usize) -> Option<&mut [u8]>;

    /// Something happened on connection `id`.
    fn event(&mut self, id: ConnId, tuple: &FourTuple, event: AppEvent<'_>);

    /// In-order bytes for connection `id`; returns how many the application
    /// took. Bytes not taken stay in the connection's receive buffer, the
    /// receive window shrinks by as much, and they are offered again by
    /// [`Endpoint::resume`](super::Endpoint::resume). The default takes everything, as
    /// [`AppEvent::Data`].
    fn deliver(&mut self, id: ConnId, tuple: &FourTuple, data: &[u8]) -> usize {
        self.event(id, tuple, AppEvent::Data(data));
        data.len()
    }

    /// Whether [`Io::tx_gso`] works: the transport takes one large TCP
    /// segment and cuts it into segments of a given size (GSO/TSO). The
    /// default says no, and segments are then never larger than the MSS.
    fn gso(&self) -> bool {
        false
    }

    /// As [`Io::tx`], for a frame whose TCP payload the transport cuts into
    /// segments of `gso_size` bytes. Its TCP checksum field holds the
    /// pseudo-header sum (folded, not inverted) for the transport or device
    /// to complete, as in Linux's `CHECKSUM_PARTIAL`.
    fn tx_gso(&mut self, len: usize, gso_size: u16) -> Option<&mut [u8]> {
        let _ = (len, gso_size);
        None
    }

    /// A segmentation-offload frame in two parts: its first `head_len`
    /// bytes (the headers), which `write` fills in the buffer it is given
    /// and returns whether it did, then the segment's data, borrowed from
    /// the connection's send buffer ([`TxPayload`]). The transport sends
    /// the data after the headers as it is (a gather write), so the
    /// endpoint neither copies nor reads it; the TCP checksum field is as
    /// for [`Io::tx_gso`]. Returns whether the frame was taken (false: no
    /// room, or `write` failed).
    ///
    /// The data is borrowed only for the call. A transport that sends
    /// later borrows it again then with [`Endpoint::unacked`], which
    /// gives it for as long as none of it is acknowledged (until then the
    /// send buffer keeps it as it was sent), or copies it now. The default
    /// copies it, into one [`Io::tx_gso`] buffer.
    ///
    /// [`Endpoint::unacked`]: super::Endpoint::unacked
    fn tx_gso_gather<F: FnOnce(&mut [u8]) -> bool>(
        &mut self,
        head_len: usize,
        gso_size: u16,
        payload: TxPayload<'_>,
        write: F,
    ) -> bool {
        let buf = self.tx_gso(head_len + payload.bytes.len(), gso_size);
        payload.write_whole(buf, head_len, write)
    }
}

/// The data of a segmentation-offload frame ([`Io::tx_gso_gather`]):
/// borrowed from its connection's send buffer, with where it lies there.
#[derive(Clone, Copy, Debug)]
pub struct TxPayload<'a> {
    /// The segment's data.
    pub bytes: &'a [u8],
    /// The connection that sends it.
    pub conn: ConnId,
    /// The sequence number of its first byte.
    pub seq: SeqNum,
}

impl TxPayload<'_> {
    /// Writes the frame whole into `buf` (its `head_len` bytes of headers
    /// by `write`, then the data copied after them), as an [`Io`] that
    /// sends later and does not borrow the data again does; false when
    /// there is no `buf` (no room), it is too short, or `write` failed.
    pub fn write_whole<F: FnOnce(&mut [u8]) -> bool>(
        &self,
        buf: Option<&mut [u8]>,
        head_len: usize,
        write: F,
    ) -> bool {
        let Some((head, rest)) = buf.and_then(|b| b.split_at_mut_checked(head_len)) else {
            return false;
        };
        let Some(rest) = rest.get_mut(..self.bytes.len()) else {
            return false;
        };
        rest.copy_from_slice(self.bytes);
        write(head)
    }
}

/// An event for the application.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEvent<'a> {
    /// The connection moved from one state to another (for traces).
    StateChange {
        /// The state before.
        from: StateName,
        /// The state after.
        to: StateName,
    },
    /// The three-way handshake completed.
    Established,
    /// In-order bytes from the peer, each delivered exactly once.
    Data(&'a [u8]),
    /// The peer sent its FIN.
    PeerClosed,
    /// The connection is over and its slot free. Sent only for a
    /// connection that was reported [`AppEvent::Established`]; one that
    /// ends during the handshake is counted in
    /// [`Stats::handshakes_failed`](super::Stats::handshakes_failed) instead.
    Closed(CloseReason),
}

/// Identifies a connection slot and its incarnation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnId {
    pub(super) index: u32,
    pub(super) generation: u32,
}

impl ConnId {
    /// The slot index in the table.
    pub fn index(&self) -> usize {
        self.index as usize
    }
}
