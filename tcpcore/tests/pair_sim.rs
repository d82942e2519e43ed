//! A deterministic pair (issue #15, "Tests"): a tcpcore client endpoint
//! (active open, [`Endpoint::connect`], its next hop resolved by ARP) and a
//! tcpcore server endpoint over the simulated link of `sim`, which loses,
//! reorders and duplicates frames. Data goes both ways and is compared by
//! hash; both sides close (RFC 9293 §3.10.4) and the connections end.
//! Several seeds; each run is reproducible from its seed. The same pair
//! runs over `Medium::Ip` too (bare IPv4 packets, no ARP).

mod sim;

use std::net::{Ipv6Addr, SocketAddr};

use sim::{earliest, Link, LinkParams, Rng, MS, SEC};
use tcpcore::endpoint::OwnedStorage;
use tcpcore::wire::ChecksumPolicy;
use tcpcore::{
    AppEvent, CloseReason, ConnId, Endpoint, EndpointConfig, FourTuple, Instant, Io, Medium,
};

#[derive(Default)]
struct HostIo {
    out: Vec<Vec<u8>>,
    data: Vec<u8>,
    id: Option<ConnId>,
    established: usize,
    peer_closed: bool,
    closed: Option<CloseReason>,
    /// The connection went through TIME-WAIT.
    time_wait: bool,
}

impl Io for HostIo {
    fn tx(&mut self, len: usize) -> Option<&mut [u8]> {
        self.out.push(vec![0; len]);
        self.out.last_mut().map(|v| v.as_mut_slice())
    }

    fn event(&mut self, id: ConnId, _tuple: &FourTuple, event: AppEvent<'_>) {
        match event {
            AppEvent::Established => {
                self.id = Some(id);
                self.established += 1;
            }
            AppEvent::Data(d) => self.data.extend_from_slice(d),
            AppEvent::PeerClosed => self.peer_closed = true,
            AppEvent::Closed(r) => {
                if std::env::var_os("SIM_TRACE").is_some() {
                    eprintln!("closed {r:?} {id:?}");
                }
                self.closed = Some(r)
            }
            AppEvent::StateChange { from, to } => {
                self.time_wait |= to == tcpcore::StateName::TimeWait;
                if std::env::var_os("SIM_TRACE").is_some() {
                    eprintln!("{id:?} {from} -> {to}");
                }
            }
        }
    }
}

/// One host: an endpoint, what it has to send, how much it has sent.
struct Host {
    ep: Endpoint<'static>,
    io: HostIo,
    send: Vec<u8>,
    sent: usize,
    closed_ours: bool,
}

impl Host {
    fn new(cfg: EndpointConfig, key: u8, send: Vec<u8>) -> Host {
        let mem = Box::leak(Box::new(OwnedStorage::new(4, 1 << 16, 1 << 16).unwrap()));
        Host {
            ep: Endpoint::new(cfg, mem.storage(), [key; 16]).unwrap(),
            io: HostIo::default(),
            send,
            sent: 0,
            closed_ours: false,
        }
    }

    /// The application: write what fits, close once all is written.
    fn app(&mut self, now: Instant) {
        let Some(id) = self.io.id else {
            return;
        };
        if self.io.closed.is_some() {
            return;
        }
        if self.sent < self.send.len() {
            let n = self.ep.send(id, &self.send[self.sent..], now, &mut self.io);
            self.sent += n;
        }
        if self.sent == self.send.len() && !self.closed_ours {
            self.closed_ours = true;
            self.ep.close(id, now, &mut self.io);
        }
    }
}

fn run_pair(seed: u64, params: LinkParams, up: usize, down: usize) {
    run_pair_on(Medium::Ethernet, seed, params, up, down);
}

const SERVER_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

/// [`run_pair`] on `medium`: with [`Medium::Ip`] the link carries bare
/// IPv4 packets (a point-to-point link, a TUN device), each checked to be
/// one, and the client sends no ARP.
fn run_pair_on(medium: Medium, seed: u64, params: LinkParams, up: usize, down: usize) {
    run_pair_family(medium, false, seed, params, up, down, false);
}

/// [`run_pair_on`], over IPv6 when `v6`: both hosts have an IPv6 address,
/// the client connects to the server's, every frame on the link is IPv6
/// (or, on Ethernet, neighbor discovery), and no ARP is sent. With
/// `paced`, both ends pace what they send (`Config::pacing`).
fn run_pair_family(
    medium: Medium,
    v6: bool,
    seed: u64,
    params: LinkParams,
    up: usize,
    down: usize,
    paced: bool,
) {
    let mut rng = Rng::new(seed);
    let on = |mut cfg: EndpointConfig| {
        cfg.conn.pacing = paced;
        EndpointConfig {
            medium,
            addr6: v6.then_some(if cfg.addr == sim::SERVER_IP {
                SERVER_IP6
            } else {
                CLIENT_IP6
            }),
            ..cfg
        }
    };
    let mut client = Host::new(
        on(sim::patient(sim::host_config(
            sim::CLIENT_MAC,
            sim::CLIENT_IP,
            9,
        ))),
        1,
        rng.bytes(up),
    );
    let mut server = Host::new(
        on(sim::patient(sim::host_config(
            sim::SERVER_MAC,
            sim::SERVER_IP,
            sim::SERVER_PORT,
        ))),
        2,
        rng.bytes(down),
    );
    let mut c2s = Link::new(params, seed ^ 0xc2);
    let mut s2c = Link::new(params, seed ^ 0x2c);
    let mut now = 0u64;
    let remote = if v6 {
        SocketAddr::new(SERVER_IP6.into(), sim::SERVER_PORT)
    } else {
        SocketAddr::new(sim::SERVER_IP.into(), sim::SERVER_PORT)
    };
    let at = |t: u64| Instant::from_micros(t);
    client.ep.connect(0, remote, at(0), &mut client.io).unwrap();
    let limit = 900 * SEC;
    loop {
        if v6 {
            for f in client.io.out.iter().chain(&server.io.out) {
                let version = match medium {
                    Medium::Ip => f.first().map(|b| b >> 4),
                    Medium::Ethernet => (f.get(12..14) == Some(&[0x86, 0xdd][..])).then_some(6),
                };
                assert_eq!(version, Some(6), "seed {seed}: not IPv6: {f:02x?}");
            }
        } else if medium == Medium::Ip {
            for f in client.io.out.iter().chain(&server.io.out) {
                assert!(
                    tcpcore::wire::parse_ip_packet(f, ChecksumPolicy::Verify).is_ok(),
                    "seed {seed}: not a bare IPv4/TCP packet: {f:02x?}"
                );
            }
        }
        for f in client.io.out.drain(..) {
            sim::trace(now, "c>s", &f);
            c2s.send(now, f);
        }
        for f in server.io.out.drain(..) {
            sim::trace(now, "s>c", &f);
            s2c.send(now, f);
        }
        let done = client.io.closed.is_some() && server.io.closed.is_some();
        if done && client.ep.is_empty() && server.ep.is_empty() {
            break;
        }
        let next = earliest(&[
            c2s.next_delivery(),
            s2c.next_delivery(),
            client.ep.poll_timeout().map(|t| t.as_micros()),
            server.ep.poll_timeout().map(|t| t.as_micros()),
        ]);
        let Some(next) = next else {
            panic!(
                "seed {seed}: stuck at {now} us (client closed {:?}, server closed {:?})",
                client.io.closed, server.io.closed
            );
        };
        now = now.max(next);
        assert!(now < limit, "seed {seed}: not done after {limit} us");
        while let Some(f) = c2s.recv(now) {
            server
                .ep
                .handle_frame(at(now), &f, ChecksumPolicy::Verify, &mut server.io);
        }
        while let Some(f) = s2c.recv(now) {
            client
                .ep
                .handle_frame(at(now), &f, ChecksumPolicy::Verify, &mut client.io);
        }
        if client
            .ep
            .poll_timeout()
            .is_some_and(|t| t.as_micros() <= now)
        {
            client.ep.handle_timeout(at(now), &mut client.io);
        }
        if server
            .ep
            .poll_timeout()
            .is_some_and(|t| t.as_micros() <= now)
        {
            server.ep.handle_timeout(at(now), &mut server.io);
        }
        client.app(at(now));
        server.app(at(now));
    }
    assert_eq!(client.io.established, 1, "seed {seed}");
    assert_eq!(server.io.established, 1, "seed {seed}");
    assert_eq!(server.io.data.len(), up, "seed {seed}: bytes up");
    assert_eq!(
        sim::hash(&server.io.data),
        sim::hash(&client.send),
        "seed {seed}: data up"
    );
    assert_eq!(client.io.data.len(), down, "seed {seed}: bytes down");
    assert_eq!(
        sim::hash(&client.io.data),
        sim::hash(&server.send),
        "seed {seed}: data down"
    );
    assert!(
        client.io.peer_closed && server.io.peer_closed,
        "seed {seed}"
    );
    // Both end normally -- except that a side in TIME-WAIT may be reset:
    // when the link duplicates the ACK of the other side's FIN, the copy
    // reaches that side after it has gone to CLOSED, which answers it with a
    // reset (RFC 9293 §3.10.7.1), and TIME-WAIT takes a reset as the end
    // (§3.10.7.4 second; Linux with tcp_rfc1337 = 0 does the same).
    for (name, io) in [("client", &client.io), ("server", &server.io)] {
        let ok = io.closed == Some(CloseReason::Normal)
            || (io.time_wait && io.closed == Some(CloseReason::Reset));
        assert!(ok, "seed {seed}: {name} closed {:?}", io.closed);
    }
    assert_eq!(client.ep.stats().active_opens, 1);
    match medium {
        _ if v6 => {
            assert_eq!(client.ep.stats().arp_requests, 0, "ARP over IPv6");
            if medium == Medium::Ethernet {
                assert!(
                    client.ep.stats().nd_solicits >= 1,
                    "the client resolved the server with NDP"
                );
            }
        }
        Medium::Ethernet => assert!(
            client.ep.stats().arp_requests >= 1,
            "the client resolved the server"
        ),
        Medium::Ip => assert_eq!(
            client.ep.stats().arp_requests + server.ep.stats().arp_requests,
            0,
            "ARP on Medium::Ip"
        ),
    }
    let _ = MS;
}

#[test]
fn pair_clean_link() {
    run_pair(1, LinkParams::CLEAN, 300_000, 200_000);
}

#[test]
fn pair_lossy_links_several_seeds() {
    let seeds: Vec<u64> = match std::env::var("PAIR_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (0..8).collect(),
    };
    for seed in seeds {
        run_pair(seed, LinkParams::lossy(0.05, 0.03, 0.1), 200_000, 100_000);
    }
}

/// Issue #16: both ends pacing (`Config::pacing`), on a clean link, lossy
/// ones and heavy loss, over IPv4 and IPv6: every byte arrives once, both
/// close.
#[test]
fn pair_paced() {
    for v6 in [false, true] {
        let m = Medium::Ethernet;
        run_pair_family(m, v6, 1, LinkParams::CLEAN, 300_000, 200_000, true);
        for seed in 0..4 {
            let lossy = LinkParams::lossy(0.05, 0.03, 0.1);
            run_pair_family(m, v6, seed, lossy, 200_000, 100_000, true);
        }
        let heavy = LinkParams::lossy(0.2, 0.05, 0.2);
        run_pair_family(m, v6, 100, heavy, 50_000, 50_000, true);
    }
}

#[test]
fn pair_heavy_loss() {
    for seed in 100..103 {
        run_pair(seed, LinkParams::lossy(0.2, 0.05, 0.2), 50_000, 50_000);
    }
}

/// Issue #17: the pair over `Medium::Ip` (bare IPv4 packets, no ARP), on
/// a clean link and on lossy ones.
#[test]
fn pair_over_ip_medium() {
    run_pair_on(Medium::Ip, 1, LinkParams::CLEAN, 300_000, 200_000);
    for seed in 0..4 {
        run_pair_on(
            Medium::Ip,
            seed,
            LinkParams::lossy(0.05, 0.03, 0.1),
            200_000,
            100_000,
        );
    }
}

/// Issue #17: the pair over IPv6, on Ethernet (the client resolving the
/// server with a neighbor solicitation) and on `Medium::Ip`, on a clean
/// link and on lossy ones.
#[test]
fn pair_over_ipv6() {
    for medium in [Medium::Ethernet, Medium::Ip] {
        run_pair_family(medium, true, 1, LinkParams::CLEAN, 300_000, 200_000, false);
        for seed in 0..3 {
            run_pair_family(
                medium,
                true,
                seed,
                LinkParams::lossy(0.05, 0.03, 0.1),
                200_000,
                100_000,
                false,
            );
        }
    }
}
