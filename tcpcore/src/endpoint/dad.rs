//! Duplicate address detection for our IPv6 address (RFC 4862 §5.4), for
//! an embedder that claims an address of its own on an Ethernet link
//! (own-address mode): [`Endpoint::start_dad`] makes
//! [`EndpointConfig::addr6`](super::EndpointConfig::addr6) *tentative* and
//! sends a neighbor solicitation for it from the unspecified address; if
//! nothing on the link claims it within the retransmission timer, it
//! becomes usable ([`Addr6State::Preferred`]), else it stays unusable
//! ([`Addr6State::Duplicate`]).
//!
//! While tentative (§5.4.2, §5.4.3): nothing is sent from the address and
//! nothing to it is accepted (TCP, echo, neighbor solicitations from
//! others go unanswered); a neighbor advertisement for it, or another
//! node's probe for it (a solicitation from `::`), means another node has
//! it or wants it: a duplicate (§5.4.3, §5.4.4).
//!
//! Without [`Endpoint::start_dad`] the address is usable at once (an
//! embedder that knows it is unique, or a medium without neighbor
//! discovery, [`Medium::Ip`](super::Medium::Ip), where the call does
//! nothing).

use core::net::Ipv6Addr;

use crate::time::{Duration, Instant};
use crate::wire::{EthernetAddress, Icmpv6Repr, NdpNeighborSolicit};

use super::icmp::{multicast_mac, send_icmpv6, solicited_node};
use super::{DropReason, Endpoint, Io, Medium};

/// Solicitations sent before the address is taken as unique: RFC 4862
/// §5.1's `DupAddrDetectTransmits`, 1 by default (Linux: `dad_transmits`,
/// 1).
pub const DAD_TRANSMITS: u8 = 1;

/// The wait after each solicitation: RFC 4861 §10's `RETRANS_TIMER`,
/// 1 second (Linux: `retrans_time_ms`, 1000).
pub const DAD_RETRANS: Duration = Duration::from_millis(1000);

/// Where our IPv6 address stands ([`Endpoint::addr6_state`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addr6State {
    /// Usable: duplicate address detection passed, or was not asked for.
    Preferred,
    /// Duplicate address detection is under way: the address is not used
    /// yet.
    Tentative,
    /// Another node on the link has the address (it advertised it, or
    /// probed for it itself): it is never used. The MAC address is the
    /// other node's, as its frame gave it.
    Duplicate(EthernetAddress),
}

/// The detection's progress: the state, the deadline of the current
/// solicitation's wait, and the solicitations still to send.
#[derive(Clone, Copy, Debug)]
pub(super) struct Dad {
    pub(super) state: Addr6State,
    until: Option<Instant>,
    left: u8,
}

impl Dad {
    pub(super) const fn new() -> Self {
        Dad {
            state: Addr6State::Preferred,
            until: None,
            left: 0,
        }
    }

    /// When the detection next has work to do.
    #[inline]
    pub(super) fn deadline(&self) -> Option<Instant> {
        self.until
    }
}

impl Endpoint<'_> {
    /// Starts duplicate address detection for
    /// [`EndpointConfig::addr6`](super::EndpointConfig::addr6) (RFC 4862
    /// §5.4): the address becomes tentative, and a neighbor solicitation
    /// for it is sent from `::` to its solicited-node group. Call it once,
    /// before serving, when the address is this endpoint's own (not the
    /// operating system's, which detects duplicates itself); then run
    /// [`Endpoint::handle_frame`] and [`Endpoint::handle_timeout`] as
    /// usual, and check [`Endpoint::addr6_state`]: it is
    /// [`Addr6State::Preferred`] after [`DAD_TRANSMITS`] ×
    /// [`DAD_RETRANS`] if nothing claimed the address.
    ///
    /// Returns false, and does nothing, without an IPv6 address or on
    /// [`Medium::Ip`] (no neighbor discovery there).
    ///
    /// Linux sends its first probe after a random delay of up to a second
    /// when an interface comes up (RFC 4862 §5.4.2, to spread the probes of
    /// many hosts booting at once); an endpoint starts when its program
    /// does, so it sends at once.
    pub fn start_dad<I: Io>(&mut self, now: Instant, io: &mut I) -> bool {
        if self.cfg.addr6.is_none() || self.cfg.medium != Medium::Ethernet {
            return false;
        }
        self.dad = Dad {
            state: Addr6State::Tentative,
            until: None,
            left: DAD_TRANSMITS,
        };
        self.dad_probe(now, io);
        true
    }

    /// Where our IPv6 address stands; `None` without one.
    pub fn addr6_state(&self) -> Option<Addr6State> {
        self.cfg.addr6.map(|_| self.dad.state)
    }

    /// Whether our IPv6 address may be used: sent from and accepted for.
    #[inline]
    pub(super) fn addr6_usable(&self) -> bool {
        self.dad.state == Addr6State::Preferred
    }

    /// Sends the next probe and waits for its answer; with none left, the
    /// address is unique.
    fn dad_probe<I: Io>(&mut self, now: Instant, io: &mut I) {
        let Some(target) = self.cfg.addr6 else {
            return;
        };
        if self.dad.left == 0 {
            self.dad.state = Addr6State::Preferred;
            self.dad.until = None;
            return;
        }
        self.dad.left -= 1;
        self.dad.until = Some(now + DAD_RETRANS);
        // §5.4.2: from the unspecified address, to the solicited-node
        // group, without a source link-layer address option.
        let group = solicited_node(target);
        let ns = Icmpv6Repr::NeighborSolicit(NdpNeighborSolicit {
            target_addr: target,
            source_lladdr: None,
        });
        match send_icmpv6(
            &self.cfg,
            Ipv6Addr::UNSPECIFIED,
            multicast_mac(group),
            group,
            255,
            &ns,
            io,
        ) {
            Some(true) => {
                self.stats.tx_frames += 1;
                self.stats.nd_solicits += 1;
            }
            Some(false) => {}
            None => self.drop_frame(DropReason::TxNoRoom),
        }
    }

    /// The detection's timer ([`Endpoint::handle_timeout`]).
    pub(super) fn dad_timeout<I: Io>(&mut self, now: Instant, io: &mut I) {
        if self.dad.until.is_some_and(|t| t <= now) {
            self.dad_probe(now, io);
        }
    }

    /// A neighbor message about our tentative address: `from` (the
    /// frame's source MAC) has it or probes for it. Our own probe, looped
    /// back to us, does not count.
    pub(super) fn dad_conflict(&mut self, from: EthernetAddress) {
        if from == self.cfg.mac {
            return;
        }
        self.dad.state = Addr6State::Duplicate(from);
        self.dad.until = None;
        self.stats.dad_conflicts += 1;
    }
}
