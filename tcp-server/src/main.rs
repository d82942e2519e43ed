//! `tcp-server`: the reference server (its parts are in the crate's
//! library).
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use tcp_server::{cli, server, sys};

fn main() -> ExitCode {
    // The core and this binary are written not to panic; should one anyway,
    // say so in one line instead of a backtrace.
    sys::one_line_panics("tcp-server");
    let cli = cli::Cli::parse();
    server::exit("tcp-server", server::run(&cli))
}
