//! The send half's data path: the send buffer, segmentation, the
//! retransmission timer (RFC 6298), congestion control and loss recovery
//! (RFC 5681 slow start, congestion avoidance with RFC 3465 byte counting,
//! the restart window after idle, fast retransmit with RFC 3042 Limited
//! Transmit, NewReno fast recovery of RFC 6582, SACK-based recovery after
//! RFC 6675), tail loss probes (RFC 8985 §7), and the persist timer (RFC
//! 9293 §3.8.6.1).
//!
//! The functions here work on the send half alone and are called by the
//! state machine (`conn::arrive`, `conn::timers`); none of them builds a
//! segment header.
//!
//! | RFC | file | functions |
//! |-----|------|-----------|
//! | RFC 9293 §3.3.1, the send buffer | `ring.rs` | [`ring_write`], [`ring_read`], [`ring_room`] |
//! | RFC 9293 §3.7, §3.8.6.2.1, §3.10.4 segmentation, Nagle, SWS, FIN | `segment.rs` | [`next_segment`] |
//! | RFC 9293 §3.10.7.4 fifth, RFC 5681, 3465, 6582, 6675, 2018 | `ack.rs` | [`on_ack`] |
//! | RFC 5681, 6928 cwnd; RFC 6675 `pipe`; the scoreboard | `cc.rs` | [`Congestion`], [`Scoreboard`], [`smss`] |
//! | RFC 6298 RTO, RFC 7323 §4.1, RFC 9293 §3.8.6.1 persist | `rto.rs` | [`rtt_update`], [`ts_rtt_sample`], [`backed_off`], [`on_rto`] |
//! | RFC 8985 §7 tail loss probes, RFC 2883 DSACK | `tlp.rs` | [`on_pto`] |

mod ack;
mod cc;
mod ring;
mod rto;
mod segment;
mod tlp;

pub use ack::{on_ack, AckEffect};
pub use cc::{smss, smss_for, Congestion, Scoreboard, SCOREBOARD};
pub use ring::{ring_read, ring_room, ring_write};
pub use rto::{backed_off, on_rto, rtt_update, ts_rtt_sample};
pub use segment::next_segment;
pub use tlp::on_pto;
