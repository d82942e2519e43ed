//! Transition tables for TIME-WAIT and CLOSED (issue #15, Tests): rows of
//! (state, segment) -> (next state, segments sent, events, drop reason),
//! each citing its RFC rule, calling `State::on_segment` directly. The
//! TIME-WAIT fixture was entered (from FIN-WAIT-2) one second before the
//! row. The fixtures and the runner are in `transitions/mod.rs`.

#[path = "transitions/mod.rs"]
mod table;

use table::*;
use tcpcore::conn::SegmentDrop::*;
use tcpcore::{CloseReason, Duration, Event, StateName::*};

const RST_IN: &str =
    "RFC 9293 §3.10.7.4 second / RFC 5961 §3.2: RST in the window, not at RCV.NXT: challenge ACK";
const RST_OUT: &str =
    "RFC 9293 §3.10.7.4 second / RFC 5961 §3.2: RST outside the window: silently drop";
const PAWS: &str = "RFC 7323 §5.3 R1: TSval < TS.Recent, not a RST: unacceptable, ACK and drop";

fn reset() -> Expect {
    to(Closed).event(Event::Closed(CloseReason::Reset))
}

#[test]
fn time_wait() {
    // Entered one second ago: the 2 MSL timer (60 s here, CONFORMANCE.md
    // MUST-13) has 59 s left unless the row restarts it.
    let kept = After::Deadline(Duration::from_secs(59));
    let restarted = After::Deadline(Duration::from_secs(60));
    let rows = [
        row(
            "retransmitted FIN",
            "RFC 9293 §3.10.7.4 eighth, TIME-WAIT: remain, acknowledge it, restart the 2 MSL timeout",
            fin().seq(P::RcvNxt(-1)),
            to(TimeWait).reply(challenge()).then(restarted),
        ),
        row(
            "retransmitted data and FIN",
            "RFC 9293 §3.10.7.4 eighth, TIME-WAIT: remain, acknowledge it, restart the 2 MSL timeout",
            fin().seq(P::RcvNxt(-101)).len(100),
            to(TimeWait).reply(challenge()).then(restarted),
        ),
        row(
            "bare ACK at RCV.NXT",
            "RFC 9293 §3.10.7.4 first (acceptable) and fifth: nothing to acknowledge, no reply (CONFORMANCE.md D7, fixed)",
            seg(),
            to(TimeWait).then(kept),
        ),
        row(
            "bare ACK ahead of SND.NXT at RCV.NXT",
            "RFC 9293 §3.10.7.4 fifth, TIME-WAIT: only a retransmitted FIN is expected; the ACK field is not checked (as Linux tcp_timewait_state_process)",
            seg().ack(P::SndNxt(1)),
            to(TimeWait).then(kept),
        ),
        row(
            "RST at RCV.NXT",
            "RFC 9293 §3.10.7.4 second, TIME-WAIT: enter CLOSED (RFC 1337 assassination accepted, CONFORMANCE.md)",
            rst(),
            reset(),
        ),
        row(
            "RST in the window",
            RST_IN,
            rst().seq(P::RcvNxt(100)),
            to(TimeWait).reply(challenge()).drop(RstNotExact).then(kept),
        ),
        row(
            "RST at the right edge",
            RST_OUT,
            rst().seq(P::RcvRight(0)),
            to(TimeWait).drop(OutOfWindow).then(kept),
        ),
        row(
            "RST below RCV.NXT",
            RST_OUT,
            rst().seq(P::RcvNxt(-1)),
            to(TimeWait).drop(OutOfWindow).then(kept),
        ),
        row(
            "SYN above RCV.NXT",
            "RFC 9293 §3.10.7.4 MAY-2 / RFC 6191 §2 / RFC 1122 §4.2.2.13: a new SYN above RCV.NXT reopens, ISS = SND.NXT + 65537 (as Linux)",
            syn().seq(P::RcvNxt(100)),
            to(TimeWait).reopen(P::SndNxt(65537)).then(kept),
        ),
    ];
    run_table("TIME-WAIT", &Fx::time_wait(PLAIN), &rows);
}

#[test]
fn time_wait_timestamps() {
    let kept = After::Deadline(Duration::from_secs(59));
    let rows = [
        row(
            "PAWS-old bare ACK",
            PAWS,
            seg().ts(Ts::Old),
            to(TimeWait)
                .reply(challenge())
                .drop(Paws)
                .then(After::TsRecent(Ts::Same))
                .then(kept),
        ),
        row(
            "PAWS-old retransmitted FIN",
            "RFC 7323 §5.3 R1: PAWS-old, ACK and drop; the timer is not restarted (CONFORMANCE.md)",
            fin().seq(P::RcvNxt(-1)).ts(Ts::Old),
            to(TimeWait).reply(challenge()).drop(Paws).then(kept),
        ),
        row(
            "retransmitted FIN, fresh TSval",
            "RFC 7323 §4.3: TS.Recent follows the peer in TIME-WAIT (CONFORMANCE.md D6, fixed)",
            fin().seq(P::RcvNxt(-1)),
            to(TimeWait)
                .reply(challenge())
                .then(After::TsRecent(Ts::Fresh))
                .then(After::Deadline(Duration::from_secs(60))),
        ),
        row(
            "PAWS-old RST at RCV.NXT",
            "RFC 7323 §5.3 R1: PAWS does not apply to a RST",
            rst().ts(Ts::Old),
            reset(),
        ),
        row(
            "SYN below RCV.NXT with a newer TSval",
            "RFC 6191 §2: a SYN whose TSval is newer than TS.Recent reopens, whatever its sequence number",
            syn().seq(P::RcvNxt(-100)),
            to(TimeWait).reopen(P::SndNxt(65537)).then(kept),
        ),
        row(
            "SYN above RCV.NXT, PAWS-old",
            "RFC 6191 §2 / RFC 7323 §5.3 R1: a PAWS-old SYN is refused; ACK (RFC 5961 §4) and drop",
            syn().seq(P::RcvNxt(100)).ts(Ts::Old),
            to(TimeWait).reply(challenge()).drop(Paws).then(kept),
        ),
    ];
    run_table("TIME-WAIT (TS)", &Fx::time_wait(FULL), &rows);
}

// Rows for three defects these tables found (fixed in
// conn/arrive/time_wait.rs; each failed before the fix): a FIN without ACK
// restarted 2 MSL, a FIN at any sequence number restarted it, and
// unacceptable segments were not reported dropped, so the endpoint took
// them as accepted (peer MAC, idle clock, counters).

#[test]
fn time_wait_fin_without_ack_is_dropped() {
    let rows = [row(
        "retransmitted FIN without ACK",
        "RFC 9293 §3.10.7.4 first: below RCV.NXT, unacceptable: ACK; fifth: the ACK bit is off, drop; 2 MSL not restarted (Linux tcp_timewait_state_process)",
        fin().seq(P::RcvNxt(-1)).no_ack(),
        to(TimeWait)
            .reply(challenge())
            .drop(BadAck)
            .then(After::Deadline(Duration::from_secs(59))),
    )];
    run_table("TIME-WAIT", &Fx::time_wait(PLAIN), &rows);
}

#[test]
fn time_wait_out_of_window_fin_does_not_restart_the_timer() {
    let rows = [row(
        "FIN above RCV.NXT",
        "RFC 9293 §3.10.7.4 first: unacceptable, ACK and drop; only a retransmission of the remote FIN restarts 2 MSL",
        fin().seq(P::RcvNxt(100)),
        to(TimeWait)
            .reply(challenge())
            .drop(OutOfWindow)
            .then(After::Deadline(Duration::from_secs(59))),
    )];
    run_table("TIME-WAIT", &Fx::time_wait(PLAIN), &rows);
}

#[test]
fn time_wait_unacceptable_segments_are_reported_dropped() {
    let rows = [
        row(
            "data at RCV.NXT",
            "RFC 9293 §3.10.7.4 first: with nothing more to receive, text is unacceptable: ACK and drop",
            seg().len(100),
            to(TimeWait)
                .reply(challenge())
                .drop(OutOfWindow)
                .then(After::Deadline(Duration::from_secs(59))),
        ),
        row(
            "SYN below RCV.NXT (refused)",
            "RFC 5961 §4.2 / RFC 6191 §2: a SYN that cannot reopen gets a challenge ACK and is dropped",
            syn().seq(P::RcvNxt(-100)),
            to(TimeWait)
                .reply(challenge())
                .drop(UnexpectedSyn)
                .then(After::Deadline(Duration::from_secs(59))),
        ),
        row(
            "SYN-ACK",
            "RFC 5961 §4.2: SYN in a synchronized state, challenge ACK and drop",
            syn().ack(P::SndNxt(0)).seq(P::RcvNxt(100)),
            to(TimeWait)
                .reply(challenge())
                .drop(UnexpectedSyn)
                .then(After::Deadline(Duration::from_secs(59))),
        ),
    ];
    run_table("TIME-WAIT", &Fx::time_wait(PLAIN), &rows);
}

#[test]
fn closed() {
    // A connection that has ended answers as RFC 9293 §3.10.7.1 says.
    let mut fx = Fx::last_ack(PLAIN);
    fx.step(seg().ack(P::SndNxt(0)), Closed);
    let rows = [
        row(
            "ACK",
            "RFC 9293 §3.10.7.1: if the ACK bit is on, <SEQ=SEG.ACK><CTL=RST>",
            seg().seq(P::Irs(300)).ack(P::Iss(400)),
            to(Closed).reply(rst_out(P::SegAck)),
        ),
        row(
            "data without ACK",
            "RFC 9293 §3.10.7.1: if the ACK bit is off, <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>",
            seg().seq(P::Irs(300)).no_ack().len(100),
            to(Closed).reply(rst_ack_out(P::Zero, P::Irs(400))),
        ),
        row(
            "RST",
            "RFC 9293 §3.10.7.1: an incoming segment containing a RST is discarded",
            rst().seq(P::Irs(300)),
            to(Closed),
        ),
    ];
    run_table("CLOSED", &fx, &rows);
}
