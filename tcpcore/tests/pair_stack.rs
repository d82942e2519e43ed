//! The deterministic pair of `pair_sim.rs`, through the pull API: a
//! tcpcore client [`Stack`] (active open, its next hop resolved by ARP) and
//! a tcpcore server [`Stack`] over the simulated link of `sim`, which
//! loses, reorders and duplicates frames. Each side reads with
//! [`Stack::recv`] in small pieces (so the windows close and reopen), data
//! goes both ways and is compared by hash, both sides close, and each
//! side's events come in a connection's order. Several seeds; each run is
//! reproducible from its seed.

mod sim;

use std::net::SocketAddrV4;

use sim::{earliest, Link, LinkParams, Rng, SEC};
use tcpcore::stack::OwnedStackStorage;
use tcpcore::{
    CloseReason, ConnId, EndpointConfig, Instant, RecvError, Stack, StackEvent, StateName,
};

/// One host: a stack, its application's progress, what it saw.
struct Host {
    stack: Stack<'static>,
    id: Option<ConnId>,
    data: Vec<u8>,
    send: Vec<u8>,
    sent: usize,
    closed_ours: bool,
    /// Every event, in the order pulled.
    events: Vec<StackEvent>,
    /// The connection went through TIME-WAIT.
    time_wait: bool,
    /// The size of each `recv`.
    piece: usize,
}

impl Host {
    fn new(cfg: EndpointConfig, key: u8, send: Vec<u8>, piece: usize) -> Host {
        let mem = OwnedStackStorage::new(4, 1 << 16, 1 << 16, 1 << 18).unwrap();
        let mem = Box::leak(Box::new(mem));
        Host {
            stack: Stack::new(cfg, mem.storage(), [key; 16]).unwrap(),
            id: None,
            data: Vec::new(),
            send,
            sent: 0,
            closed_ours: false,
            events: Vec::new(),
            time_wait: false,
            piece,
        }
    }

    fn closed(&self) -> Option<CloseReason> {
        self.events.iter().find_map(|e| match e {
            StackEvent::Closed(_, r) => Some(*r),
            _ => None,
        })
    }

    /// The events, and the application: read everything in pieces, write
    /// what fits, close once all is written.
    fn app(&mut self, now: Instant) {
        while let Some(ev) = self.stack.poll_event() {
            self.events.push(ev);
            match ev {
                StackEvent::Established(id) => self.id = Some(id),
                StackEvent::Readable(id) => self.read(id, now),
                StackEvent::PeerClosed(_) | StackEvent::Closed(..) => {}
            }
        }
        let Some(id) = self.id else { return };
        self.time_wait |= self.stack.state(id) == Some(StateName::TimeWait);
        if self.closed().is_some() {
            return;
        }
        if self.sent < self.send.len() {
            if let Ok(n) = self.stack.send(id, &self.send[self.sent..], now) {
                self.sent += n;
            }
        }
        if self.sent == self.send.len() && !self.closed_ours {
            self.closed_ours = true;
            self.stack.close(id, now);
        }
    }

    fn read(&mut self, id: ConnId, now: Instant) {
        let mut buf = vec![0u8; self.piece];
        loop {
            match self.stack.recv(id, &mut buf, now) {
                Ok(n) => self.data.extend_from_slice(&buf[..n]),
                Err(RecvError::WouldBlock | RecvError::Finished) => return,
                Err(RecvError::NoConnection) => panic!("readable but gone"),
            }
        }
    }

    /// Every staged frame onto `link`.
    fn flush(&mut self, now: u64, link: &mut Link, dir: &str) {
        while let Some(t) = self.stack.poll_transmit() {
            sim::trace(now, dir, t.frame);
            link.send(now, t.frame.to_vec());
        }
    }

    /// The events came in a connection's order: established once, data,
    /// the peer's FIN once, closed once and last.
    fn assert_event_order(&self, seed: u64, name: &str) {
        let id = self.id.expect("established");
        let rank = |e: &StackEvent| match e {
            StackEvent::Established(_) => 0,
            StackEvent::Readable(_) => 1,
            StackEvent::PeerClosed(_) => 2,
            StackEvent::Closed(..) => 3,
        };
        let ranks: Vec<u8> = self.events.iter().map(rank).collect();
        assert!(
            ranks.windows(2).all(|w| w[0] <= w[1]),
            "seed {seed}: {name}'s events out of order: {:?}",
            self.events
        );
        for (r, what) in [(0, "established"), (2, "peer closed"), (3, "closed")] {
            let n = ranks.iter().filter(|&&x| x == r).count();
            assert_eq!(n, 1, "seed {seed}: {name} {what} {n} times");
        }
        assert!(self.events.iter().all(|e| match e {
            StackEvent::Established(i) | StackEvent::Readable(i) | StackEvent::PeerClosed(i) => {
                *i == id
            }
            StackEvent::Closed(i, _) => *i == id,
        }));
    }
}

fn run_pair(seed: u64, params: LinkParams, up: usize, down: usize) {
    let mut rng = Rng::new(seed);
    let client_cfg = sim::patient(sim::host_config(sim::CLIENT_MAC, sim::CLIENT_IP, 9));
    let server_cfg = sim::patient(sim::host_config(
        sim::SERVER_MAC,
        sim::SERVER_IP,
        sim::SERVER_PORT,
    ));
    let mut client = Host::new(client_cfg, 1, rng.bytes(up), 1000);
    let mut server = Host::new(server_cfg, 2, rng.bytes(down), 3000);
    let mut c2s = Link::new(params, seed ^ 0xc2);
    let mut s2c = Link::new(params, seed ^ 0x2c);
    let mut now = 0u64;
    let remote = SocketAddrV4::new(sim::SERVER_IP, sim::SERVER_PORT);
    let at = Instant::from_micros;
    client.stack.connect(0, remote, at(0)).unwrap();
    let limit = 900 * SEC;
    loop {
        client.flush(now, &mut c2s, "c>s");
        server.flush(now, &mut s2c, "s>c");
        let done = client.closed().is_some() && server.closed().is_some();
        if done && client.stack.endpoint().is_empty() && server.stack.endpoint().is_empty() {
            break;
        }
        let next = earliest(&[
            c2s.next_delivery(),
            s2c.next_delivery(),
            client.stack.poll_timeout().map(|t| t.as_micros()),
            server.stack.poll_timeout().map(|t| t.as_micros()),
        ]);
        let Some(next) = next else {
            panic!("seed {seed}: stuck at {now} us");
        };
        now = now.max(next);
        assert!(now < limit, "seed {seed}: not done after {limit} us");
        while let Some(f) = c2s.recv(now) {
            server.stack.handle_frame(at(now), &f);
            server.flush(now, &mut s2c, "s>c");
        }
        while let Some(f) = s2c.recv(now) {
            client.stack.handle_frame(at(now), &f);
            client.flush(now, &mut c2s, "c>s");
        }
        client.stack.handle_timeout(at(now));
        server.stack.handle_timeout(at(now));
        client.flush(now, &mut c2s, "c>s");
        server.flush(now, &mut s2c, "s>c");
        client.app(at(now));
        server.app(at(now));
    }
    check(seed, &client, &server, up, down);
}

fn check(seed: u64, client: &Host, server: &Host, up: usize, down: usize) {
    assert_eq!(server.data.len(), up, "seed {seed}: bytes up");
    assert_eq!(
        sim::hash(&server.data),
        sim::hash(&client.send),
        "seed {seed}: data up"
    );
    assert_eq!(client.data.len(), down, "seed {seed}: bytes down");
    assert_eq!(
        sim::hash(&client.data),
        sim::hash(&server.send),
        "seed {seed}: data down"
    );
    // Both end normally -- or a side in TIME-WAIT is reset by a duplicated
    // ACK answered by the other side's CLOSED (see pair_sim.rs).
    for (name, h) in [("client", client), ("server", server)] {
        h.assert_event_order(seed, name);
        let ok = h.closed() == Some(CloseReason::Normal)
            || (h.time_wait && h.closed() == Some(CloseReason::Reset));
        assert!(ok, "seed {seed}: {name} closed {:?}", h.closed());
        assert_eq!(h.stack.stats().events_overwritten, 0, "seed {seed}");
        assert_eq!(h.stack.stats().staging_full, 0, "seed {seed}");
    }
    assert_eq!(client.stack.endpoint().stats().active_opens, 1);
}

#[test]
fn stack_pair_clean_link() {
    run_pair(1, LinkParams::CLEAN, 300_000, 200_000);
}

#[test]
fn stack_pair_lossy_links_several_seeds() {
    let seeds: Vec<u64> = match std::env::var("PAIR_SEED") {
        Ok(s) => vec![s.parse().unwrap()],
        Err(_) => (0..8).collect(),
    };
    for seed in seeds {
        run_pair(seed, LinkParams::lossy(0.05, 0.03, 0.1), 200_000, 100_000);
    }
}

#[test]
fn stack_pair_heavy_loss() {
    for seed in 100..103 {
        run_pair(seed, LinkParams::lossy(0.2, 0.05, 0.2), 50_000, 50_000);
    }
}
