//! A segment arrives (RFC 9293 §3.10.7): [`State::on_segment`] dispatches
//! to the handler of the state, and each handler runs §3.10.7.4's steps in
//! the RFC's order.
//!
//! | RFC 9293 | file | function |
//! |----------|------|----------|
//! | §3.10.7.1 CLOSED | `mod.rs` | [`State::on_segment`] |
//! | §3.10.7.2 LISTEN (a SYN; the endpoint owns LISTEN) | `syn_received.rs` | [`State::accept`] |
//! | §3.10.7.3 SYN-SENT (and the active OPEN, §3.10.1) | `syn_sent.rs` | [`State::connect`], `syn_sent` |
//! | §3.10.7.4 SYN-RECEIVED | `syn_received.rs` | `syn_received` |
//! | §3.10.7.4 first to fourth (PAWS, sequence, RST, SYN; RFC 5961, RFC 7323 §5) | `checks.rs` | `front_checks`, `paws_rejects`, `acceptable` |
//! | §3.10.7.4 fifth, ACK (RFC 5961 §5.2, the window update) | `checks.rs` | `check_ack` |
//! | §3.10.7.4 ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2 | `synchronized.rs` | `open`, `after_ack`, `fin_wait2` |
//! | §3.10.7.4 CLOSE-WAIT, CLOSING, LAST-ACK | `closing.rs` | `half_closed` |
//! | §3.10.7.4 TIME-WAIT (RFC 6191, RFC 7323 §5) | `time_wait.rs` | `time_wait` |

pub(crate) mod checks;
pub(crate) mod closing;
pub(crate) mod syn_received;
pub(crate) mod syn_sent;
pub(crate) mod synchronized;
pub(crate) mod time_wait;

pub use checks::acceptable;

use crate::conn::state::{HalfKind, OpenKind};
use crate::conn::{reset_for, CloseReason, Config, Event, RecvBuffer, State, Transition};
use crate::time::Instant;
use crate::wire::TcpRepr;

impl State {
    /// RFC 9293 §3.10.7.4: one segment arrives for this connection. The steps
    /// run in the RFC's order: sequence number (with PAWS), RST, security,
    /// SYN, ACK, URG, text, FIN.
    ///
    /// `rx` is this connection's receive buffer. In-order payload is returned
    /// in [`Transition::data`] (borrowed from `seg`) and
    /// [`Transition::buffered`]; the caller hands both to the application.
    #[inline]
    pub fn on_segment<'a>(
        self,
        seg: &TcpRepr<'a>,
        now: Instant,
        cfg: &Config,
        rx: &mut RecvBuffer<'_>,
    ) -> Transition<'a> {
        match self {
            State::SynSent(s) => syn_sent::syn_sent(s, seg, now, cfg, rx),
            State::SynReceived(s) => syn_received::syn_received(s, seg, now, cfg, rx),
            State::Established(s) => {
                synchronized::open(OpenKind::Established, s, seg, now, cfg, rx)
            }
            State::FinWait1(s) => synchronized::open(OpenKind::FinWait1, s, seg, now, cfg, rx),
            State::FinWait2(s) => synchronized::fin_wait2(s, seg, now, cfg, rx),
            State::CloseWait(s) => closing::half_closed(HalfKind::CloseWait, s, seg, now, cfg),
            State::Closing(s) => closing::half_closed(HalfKind::Closing, s, seg, now, cfg),
            State::LastAck(s) => closing::half_closed(HalfKind::LastAck, s, seg, now, cfg),
            State::TimeWait(s) => time_wait::time_wait(s, seg, now, cfg),
            State::Closed(r) => {
                // RFC 9293 §3.10.7.1: CLOSED answers with a reset.
                let mut t = Transition::new(State::Closed(r));
                if let Some(rst) = reset_for(seg) {
                    t.reply(rst);
                }
                t
            }
        }
    }
}

pub(crate) fn close_reason_rst(t: &mut Transition<'_>) -> State {
    t.event(Event::Closed(CloseReason::Reset));
    State::Closed(CloseReason::Reset)
}
