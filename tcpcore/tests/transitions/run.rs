//! The runners: each row on a copy of its fixture, every difference from
//! the expected outcome reported with the row's name and RFC rule.

use super::*;
use tcpcore::conn::{Reply, State, Timer};
use tcpcore::wire::TcpControl;
use tcpcore::{Duration, Instant, SeqNum};

/// A segment sent, in the RFC's notation.
pub fn show(r: &Reply) -> String {
    let ctl = match r.control {
        TcpControl::None => "",
        TcpControl::Syn => "SYN,",
        TcpControl::Fin => "FIN,",
        TcpControl::Rst => "RST,",
    };
    let ack = r.ack.map(|a| format!("<ACK={a}>")).unwrap_or_default();
    let flag = if r.ack.is_some() { "ACK" } else { "" };
    format!(
        "<SEQ={}>{ack}<CTL={}{flag}> len {} win {} ts {:?} sack {:?}",
        r.seq,
        ctl,
        r.len,
        r.window,
        r.options.timestamps.map(|t| (t.tsval, t.tsecr)),
        r.options.sack_blocks.as_slice()
    )
}

/// Compares a segment sent with the one expected; `Err` says how it differs.
fn check_out(
    fx: &Fx,
    v: &Vars,
    got: &Reply,
    want: &Out,
    seg_ack: Option<SeqNum>,
) -> Result<(), String> {
    let want_seq = resolve(v, want.seq, seg_ack);
    let want_ack = want.ack.map(|p| resolve(v, p, seg_ack));
    let mut errs = Vec::new();
    if got.control != want.ctl {
        errs.push(format!("control {:?}, want {:?}", got.control, want.ctl));
    }
    if got.seq != want_seq {
        errs.push(format!(
            "seq {}, want {} ({:?})",
            got.seq, want_seq, want.seq
        ));
    }
    if got.ack != want_ack {
        errs.push(format!(
            "ack {:?}, want {:?} ({:?})",
            got.ack, want_ack, want.ack
        ));
    }
    if got.len != want.len {
        errs.push(format!("len {}, want {}", got.len, want.len));
    }
    // RFC 7323 §3.2: TSopt "MUST be sent in every non-<RST> segment", and
    // SHOULD be in a RST; this core sends it in both.
    if got.options.timestamps.is_some() != fx.opts.ts {
        errs.push(format!(
            "timestamps {:?} with timestamps negotiated: {}",
            got.options.timestamps, fx.opts.ts
        ));
    }
    let want_sack: Vec<(SeqNum, SeqNum)> = want
        .sack
        .map(|(l, r)| vec![(resolve(v, l, seg_ack), resolve(v, r, seg_ack))])
        .unwrap_or_default();
    if got.options.sack_blocks.as_slice() != want_sack.as_slice() {
        errs.push(format!(
            "SACK blocks {:?}, want {:?}",
            got.options.sack_blocks.as_slice(),
            want_sack
        ));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("; "))
    }
}

pub fn check_replies(
    fx: &Fx,
    v: &Vars,
    got: &[Reply],
    want: &[Out],
    seg_ack: Option<SeqNum>,
    what: &str,
    errs: &mut Vec<String>,
) {
    if got.len() != want.len() {
        let got: Vec<String> = got.iter().map(show).collect();
        errs.push(format!(
            "{what}: {} segments, want {}: {got:?}",
            got.len(),
            want.len()
        ));
        return;
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if let Err(e) = check_out(fx, v, g, w, seg_ack) {
            errs.push(format!("{what} #{i}: {e}"));
        }
    }
}

fn check_after(fx: &Fx, before: &Vars, after: &[After], errs: &mut Vec<String>) {
    let v = fx.vars();
    for a in after {
        match *a {
            After::SndUna(p) => {
                let want = resolve(before, p, None);
                if v.snd_una != want {
                    errs.push(format!("SND.UNA {}, want {} ({p:?})", v.snd_una, want));
                }
            }
            After::RcvNxt(p) => {
                let want = resolve(before, p, None);
                if v.rcv_nxt != want {
                    errs.push(format!("RCV.NXT {}, want {} ({p:?})", v.rcv_nxt, want));
                }
            }
            After::TsRecent(ts) => {
                let want = tsval(before, ts);
                if v.ts_recent != want {
                    errs.push(format!(
                        "TS.Recent {:?}, want {want:?} ({ts:?})",
                        v.ts_recent
                    ));
                }
            }
            After::Deadline(d) => {
                let got = match fx.state {
                    State::FinWait2(_) => fx.state.timer(Timer::FinWait2),
                    State::TimeWait(_) => fx.state.timer(Timer::TimeWait),
                    _ => None,
                };
                if got != Some(fx.now + d) {
                    errs.push(format!("deadline {got:?}, want now + {d:?}"));
                }
            }
            After::Timeout(d) => {
                let got = fx.state.poll_timeout();
                if got != d.map(|d| fx.now + d) {
                    errs.push(format!("poll_timeout {got:?}, want now + {d:?}"));
                }
            }
        }
    }
}

/// Runs every row of a table on a copy of `fx`; panics with every failing
/// row, named with its rule.
pub fn run_table(table: &str, fx: &Fx, rows: &[Row]) {
    let mut failures = Vec::new();
    for r in rows {
        let mut f = fx.clone();
        let before = f.vars();
        let repr = f.repr(&r.seg);
        let o = f.feed(&r.seg);
        let e = &r.expect;
        let mut errs = Vec::new();
        if o.state.name() != e.state {
            errs.push(format!("state {}, want {}", o.state.name(), e.state));
        }
        check_replies(
            &f,
            &before,
            &o.replies,
            &e.replies,
            repr.ack_number,
            "replies",
            &mut errs,
        );
        if o.events != e.events {
            errs.push(format!("events {:?}, want {:?}", o.events, e.events));
        }
        if o.dropped != e.drop {
            errs.push(format!("dropped {:?}, want {:?}", o.dropped, e.drop));
        }
        if o.delivered != e.delivered {
            errs.push(format!("delivered {}, want {}", o.delivered, e.delivered));
        }
        let want_reopen = e.reopen.map(|p| resolve(&before, p, None));
        if o.reopen != want_reopen {
            errs.push(format!("reopen {:?}, want {want_reopen:?}", o.reopen));
        }
        if o.dropped.is_some() && f.vars().rcv_nxt != before.rcv_nxt {
            errs.push("a dropped segment moved RCV.NXT".to_string());
        }
        check_after(&f, &before, &e.after, &mut errs);
        if !errs.is_empty() {
            failures.push(format!(
                "{table} row `{}` [{}]\n    segment: {:?} seq={} ack={:?} len={} ts={:?}\n    {}",
                r.name,
                r.rule,
                r.seg.ctl,
                repr.seq_number,
                repr.ack_number,
                r.seg.len,
                repr.options.timestamps,
                errs.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// One row of a timer table: `on_timeout` at the connection's
/// `poll_timeout`.
pub struct TimerRow {
    /// A short name.
    pub name: &'static str,
    /// The RFC rule, cited.
    pub rule: &'static str,
    /// The connection.
    pub fx: Fx,
    /// `poll_timeout`, from the fixture's now.
    pub due: Duration,
    /// What `on_timeout` returns (its replies are checked as such).
    pub expect: Expect,
    /// What `poll_transmit` then sends.
    pub transmit: Vec<Out>,
}

/// A timer row.
pub fn timer(
    name: &'static str,
    rule: &'static str,
    fx: Fx,
    due: Duration,
    expect: Expect,
    transmit: Vec<Out>,
) -> TimerRow {
    TimerRow {
        name,
        rule,
        fx,
        due,
        expect,
        transmit,
    }
}

/// Runs a timer table: for each row, `poll_timeout` is `due` from now;
/// `on_timeout` a microsecond earlier changes nothing; at `due` it does
/// what the row expects, then `poll_transmit` sends `transmit`.
pub fn run_timers(rows: &[TimerRow]) {
    let mut failures = Vec::new();
    for r in rows {
        let mut f = r.fx.clone();
        let before = f.vars();
        let mut errs = Vec::new();
        let due = f.state.poll_timeout();
        let want_due = f.now + r.due;
        if due != Some(want_due) {
            errs.push(format!("poll_timeout {due:?}, want now + {:?}", r.due));
        }
        if let Some(due) = due {
            let mut early = f.clone();
            let o = early.timeout_at(Instant::from_micros(due.as_micros() - 1));
            if o.state != f.state || !o.replies.is_empty() || !o.events.is_empty() {
                errs.push(format!("on_timeout before the deadline acted: {o:?}"));
            }
            let o = f.timeout_at(due);
            let e = &r.expect;
            if o.state.name() != e.state {
                errs.push(format!("state {}, want {}", o.state.name(), e.state));
            }
            check_replies(
                &f,
                &before,
                &o.replies,
                &e.replies,
                None,
                "on_timeout",
                &mut errs,
            );
            if o.events != e.events {
                errs.push(format!("events {:?}, want {:?}", o.events, e.events));
            }
            let sent = f.transmit();
            check_replies(
                &f,
                &before,
                &sent,
                &r.transmit,
                None,
                "poll_transmit",
                &mut errs,
            );
            check_after(&f, &before, &e.after, &mut errs);
        }
        if !errs.is_empty() {
            failures.push(format!(
                "timer row `{}` [{}]\n    {}",
                r.name,
                r.rule,
                errs.join("\n    ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} timer rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}
