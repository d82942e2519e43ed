//! `tcp-server`: the reference server of the user-space TCP stack. It reads
//! whole Ethernet frames from an AF_PACKET socket ([`rawnet`]), runs the
//! sans-IO core ([`tcpcore`]) on them and writes the answering frames.
//!
//! stdout carries the received payload alone; everything else goes to
//! stderr. Errors are one line, `tcp-server: <error>`, never a backtrace.
#![deny(unsafe_code)]

mod cli;
mod pcap;
mod render;
mod server;
mod sys;
mod worker;

use std::process::ExitCode;

use clap::Parser;

use crate::server::Failure;

fn main() -> ExitCode {
    // The core and this binary are written not to panic; should one anyway,
    // say so in one line instead of a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("tcp-server: internal error: {info}");
    }));
    let cli = cli::Cli::parse();
    match server::run(&cli) {
        Ok(code) => code,
        Err(Failure::Usage(msg)) => {
            eprintln!("tcp-server: {msg}");
            ExitCode::from(2)
        }
        Err(Failure::Runtime(msg)) => {
            eprintln!("tcp-server: {msg}");
            ExitCode::FAILURE
        }
    }
}
