//! Duplicate address detection before serving an IPv6 address of our own
//! (RFC 4862 §5.4; `tcpcore::Endpoint::start_dad`): the kernel does it for
//! the addresses it assigns, and an address this server (or tcp-client)
//! claims on a link deserves the same check. One probe, one second's wait (Linux's
//! defaults, `dad_transmits` 1 and `retrans_time_ms` 1000), on every
//! worker's socket at once: the kernel spreads frames over the fanout
//! group by flow, so the answer may come to any of them.

use std::time::{Duration, Instant as StdInstant};

use tcpcore::endpoint::Addr6State;
use tcpcore::{AppEvent, ConnId, Endpoint, EndpointConfig, FourTuple, Instant, Io, OwnedStorage};

use super::{random_key, Failure};
use crate::link::Link;

/// The frames the probe's endpoint writes, sent after each call.
struct Frames(Vec<Vec<u8>>);

impl Io for Frames {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.0.push(vec![0; len]);
        self.0.last_mut().map(|f| &mut f[..])
    }

    fn event(&mut self, _: ConnId, _: &FourTuple, _: AppEvent<'_>) {}
}

/// Probes for `cfg.addr6` on `links` and waits for the answer: `Ok` when
/// nothing on the link claimed it, else a one-line error naming the MAC
/// address that did.
pub(crate) fn detect(links: &mut [Link], cfg: EndpointConfig, iface: &str) -> Result<(), Failure> {
    let Some(addr6) = cfg.addr6 else {
        return Ok(());
    };
    // One slot: the endpoint only speaks neighbor discovery here.
    let mut owned =
        OwnedStorage::new(1, 4096, 4096).map_err(|e| Failure::Runtime(e.to_string()))?;
    let cfg = EndpointConfig { port: 0, ..cfg };
    let mut ep = Endpoint::new(cfg, owned.storage(), random_key()?)
        .map_err(|e| Failure::Runtime(e.to_string()))?;
    let start = StdInstant::now();
    let clock = || Instant::from_micros(start.elapsed().as_micros() as u64);
    let mut out = Frames(Vec::new());
    if !ep.start_dad(clock(), &mut out) {
        return Ok(());
    }
    // Bounded: the detection ends after one second; two are allowed.
    while start.elapsed() < Duration::from_secs(2) {
        for f in out.0.drain(..) {
            if let Some(link) = links.first_mut() {
                link.queue(&f)?;
                link.flush()?;
            }
        }
        match ep.addr6_state() {
            Some(Addr6State::Tentative) => {}
            Some(Addr6State::Duplicate(mac)) => {
                return Err(Failure::Runtime(format!(
                    "{addr6} is in use on {iface}: {mac} claimed it when we probed for it (duplicate address detection, RFC 4862): choose another address"
                )))
            }
            _ => return Ok(()),
        }
        // 10 ms of waiting per pass in all, however many workers' sockets.
        let wait =
            Duration::from_millis(10) / u32::try_from(links.len().max(1)).unwrap_or(u32::MAX);
        for link in links.iter_mut() {
            link.recv_batch(Some(wait), |frame, _| {
                ep.handle_frame(
                    clock(),
                    frame,
                    tcpcore::wire::ChecksumPolicy::Verify,
                    &mut out,
                )
            })?;
        }
        ep.handle_timeout(clock(), &mut out);
    }
    Err(Failure::Runtime(format!(
        "duplicate address detection for {addr6} did not end"
    )))
}
