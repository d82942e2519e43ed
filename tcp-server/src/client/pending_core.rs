//! Until the core's active open is merged: `Endpoint::connect` as it will
//! be, failing. The inherent method shadows this trait's once it exists;
//! this file goes then.

use core::net::SocketAddrV4;

use tcpcore::{ConnId, Endpoint, Instant, Io};

/// Why a connect was refused.
#[derive(Debug)]
pub struct ConnectError;

impl core::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("this build has no active open in tcpcore")
    }
}

pub trait Connect {
    fn connect<I: Io>(
        &mut self,
        local_port: u16,
        remote: SocketAddrV4,
        now: Instant,
        io: &mut I,
    ) -> Result<ConnId, ConnectError>;
}

impl Connect for Endpoint<'_> {
    fn connect<I: Io>(
        &mut self,
        _local_port: u16,
        _remote: SocketAddrV4,
        _now: Instant,
        _io: &mut I,
    ) -> Result<ConnId, ConnectError> {
        Err(ConnectError)
    }
}
