//! `tcp-client`: the reference client (its parts are in the crate's
//! library, [`tcp_server::client`]).
#![deny(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

use tcp_server::client::{self, ClientCli};
use tcp_server::{server, sys};

fn main() -> ExitCode {
    sys::one_line_panics("tcp-client");
    let cli = ClientCli::parse();
    server::exit("tcp-client", client::run(&cli))
}
