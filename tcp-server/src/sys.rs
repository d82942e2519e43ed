//! The two places the server talks to libc directly: the SIGINT/SIGTERM
//! handler and local time for trace timestamps. Every `unsafe` block of the
//! binary is here.
#![allow(unsafe_code)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

static SIGNALS: AtomicU32 = AtomicU32::new(0);

extern "C" fn on_signal(_: libc::c_int) {
    // Only an atomic increment: async-signal-safe.
    SIGNALS.fetch_add(1, Ordering::SeqCst);
}

/// Counts SIGINT and SIGTERM from now on instead of dying of them. Without
/// `SA_RESTART`, so a `poll` that is waiting returns at once.
pub fn install_signal_handlers() -> nix::Result<()> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::empty(),
        SigSet::empty(),
    );
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only increments an atomic, which is
        // async-signal-safe, and touches no other state.
        unsafe { sigaction(sig, &action) }?;
    }
    Ok(())
}

/// Makes a panic print one line, `prog: internal error: ...`, instead of
/// a backtrace (the binaries are written not to panic; should one anyway).
pub fn one_line_panics(prog: &'static str) {
    std::panic::set_hook(Box::new(move |info| {
        eprintln!("{prog}: internal error: {info}");
    }));
}

/// How many SIGINT/SIGTERM arrived so far.
pub fn signals() -> u32 {
    SIGNALS.load(Ordering::SeqCst)
}

/// `HH:MM:SS.uuuuuu` of `t` in local time, as tcpdump prints it.
pub fn tcpdump_time(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = libc::time_t::try_from(d.as_secs()).unwrap_or(0);
    // SAFETY: `tm` is plain old data for which all-zero is a valid value.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the duration of the call;
    // localtime_r is the reentrant variant and writes only into `tm`.
    let ok = !unsafe { libc::localtime_r(&secs, &mut tm) }.is_null();
    let (h, m, s) = if ok {
        (tm.tm_hour, tm.tm_min, tm.tm_sec)
    } else {
        let day = d.as_secs() % 86_400;
        (
            (day / 3600) as i32,
            (day / 60 % 60) as i32,
            (day % 60) as i32,
        )
    };
    format!("{h:02}:{m:02}:{s:02}.{:06}", d.subsec_micros())
}

/// Sets the process-wide time zone from `TZ` once, before any thread reads
/// local time (localtime_r alone need not do it).
pub fn init_time_zone() {
    extern "C" {
        fn tzset();
    }
    // SAFETY: called once at start-up on the main thread before other
    // threads exist; tzset only reads the environment.
    unsafe { tzset() };
}
