//! The application's CLOSE (RFC 9293 §3.10.4) and ABORT (§3.10.5), and the
//! reset a connection sends when it gives up (RFC 9293 §3.8.3, R2; RFC 7323
//! §3.2 for the timestamps on a reset).

use crate::conn::state::ts_option;
use crate::conn::{CloseReason, Config, Event, Reply, State, Tcb, Transition, TsState};
use crate::seq::SeqNum;
use crate::time::Instant;

impl State {
    /// The application closes its side (RFC 9293 §3.10.4): our FIN is queued
    /// after any data still to send, and [`State::poll_transmit`] sends it.
    /// ESTABLISHED enters FIN-WAIT-1, CLOSE-WAIT enters LAST-ACK;
    /// SYN-RECEIVED queues the close until the handshake completes;
    /// SYN-SENT ends at once, without a reset ([`CloseReason::Aborted`]);
    /// elsewhere nothing changes.
    pub fn close(self, _now: Instant, _cfg: &Config) -> Transition<'static> {
        match self {
            State::Established(mut s) => {
                s.snd.fin = true;
                Transition::new(State::FinWait1(s))
            }
            State::SynReceived(mut s) => {
                // RFC 9293 §3.10.4, CLOSE in SYN-RECEIVED: "If no SENDs have
                // been issued and there is no pending data to send, then
                // form a FIN segment and send it, and enter FIN-WAIT-1
                // state; otherwise, queue for processing after entering
                // ESTABLISHED state." Entering FIN-WAIT-1 now would leave
                // SND.UNA = ISS, and the retransmission timer would resend
                // from there a byte of the send buffer and the FIN instead
                // of the SYN-ACK. So the close is queued (the RFC's
                // "otherwise" branch): the SYN-ACK keeps being
                // retransmitted, and the handshake ACK enters ESTABLISHED
                // and then FIN-WAIT-1, our FIN going out at ISS + 1.
                s.close_queued = true;
                Transition::new(State::SynReceived(s))
            }
            State::CloseWait(mut s) => {
                s.snd.fin = true;
                Transition::new(State::LastAck(s))
            }
            State::SynSent(_) => {
                // RFC 9293 §3.10.4, CLOSE in SYN-SENT: "Delete the TCB and
                // return "error: closing" responses to any queued SENDs, or
                // RECEIVEs." Nothing is sent (Linux tcp_close: a socket in
                // SYN-SENT is closed without a reset).
                let mut t = Transition::new(State::Closed(CloseReason::Aborted));
                t.event(Event::Closed(CloseReason::Aborted));
                t
            }
            other => Transition::new(other),
        }
    }

    /// The application aborts (RFC 9293 §3.10.5): send a reset (where the
    /// state calls for one) and close.
    pub fn abort(self, now: Instant) -> Transition<'static> {
        self.abort_with(CloseReason::Aborted, now)
    }

    /// As [`State::abort`], reporting `reason` (the endpoint's idle timeout
    /// reports [`CloseReason::TimedOut`]).
    ///
    /// RFC 9293 §3.10.5: SYN-RECEIVED, ESTABLISHED, FIN-WAIT-1, FIN-WAIT-2
    /// and CLOSE-WAIT send `<SEQ=SND.NXT><CTL=RST>`; in "CLOSING STATE,
    /// LAST-ACK STATE, TIME-WAIT STATE: Respond with "ok" and delete the
    /// TCB" without a reset (Linux's tcp_need_reset agrees).
    pub fn abort_with(self, reason: CloseReason, now: Instant) -> Transition<'static> {
        let rst = match &self {
            State::SynReceived(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::Established(s) | State::FinWait1(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::FinWait2(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            State::CloseWait(s) => Some((s.snd.nxt, s.rcv.nxt, s.tcb.ts)),
            // "SYN-SENT STATE: All queued SENDs and RECEIVEs should be given
            // "reset" notification; delete the TCB": no reset is sent.
            State::SynSent(_)
            | State::Closing(_)
            | State::LastAck(_)
            | State::TimeWait(_)
            | State::Closed(_) => None,
        };
        if let State::Closed(r) = self {
            return Transition::new(State::Closed(r));
        }
        let mut t = Transition::new(State::Closed(reason));
        if let Some((seq, ack, ts)) = rst {
            t.reply(rst_ts(seq, Some(ack), ts, now));
        }
        t.event(Event::Closed(reason));
        t
    }
}

/// A reset on a connection: RFC 7323 §3.2, once timestamps are negotiated
/// TSopt "MUST be sent in every non-<RST> segment for the duration of the
/// connection, and SHOULD be sent in an <RST> segment" (TSval our clock,
/// TSecr TS.Recent, as Linux's tcp_send_active_reset does).
pub(crate) fn rst_ts(seq: SeqNum, ack: Option<SeqNum>, ts: Option<TsState>, now: Instant) -> Reply {
    let mut r = Reply::rst(seq, ack);
    r.options.timestamps = ts_option(ts, now);
    r
}

pub(crate) fn give_up(
    tcb: &Tcb,
    snd_nxt: SeqNum,
    rcv_nxt: SeqNum,
    now: Instant,
) -> Transition<'static> {
    // Linux tcp_write_err: the soft error, if an ICMP error left one.
    let reason = crate::conn::icmp_err::give_up_reason(tcb);
    let mut t = Transition::new(State::Closed(reason));
    t.reply(rst_ts(snd_nxt, Some(rcv_nxt), tcb.ts, now));
    t.event(Event::Closed(reason));
    t
}
