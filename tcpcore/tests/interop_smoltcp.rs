//! In-memory interop: smoltcp 0.12's TCP socket, as the client, sends 1 MiB
//! to our [`Endpoint`] through the simulated link of `sim/mod.rs` (clean, or
//! lossy, reordering and duplicating in both directions), then closes.
//!
//! smoltcp runs over an in-memory Ethernet `phy::Device`; it learns the
//! server's MAC by ARP, which our endpoint answers (`answer_arp`). Both
//! stacks compute and verify every checksum. The server closes right after
//! the client's FIN (`close_on_peer_fin`).
//!
//! Checked: the bytes delivered are exactly those sent; the endpoint's table
//! ends empty with one normal close; smoltcp's socket ends in TIME-WAIT or
//! CLOSED; the receive invariants of `sim::Server` hold throughout.

mod sim;

use std::collections::VecDeque;

use sim::{earliest, Link, LinkParams, Rng, Server, SEC};
use smoltcp::iface::{Config as IfaceConfig, Interface, SocketSet};
use smoltcp::socket::tcp;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

/// Receive buffer per connection: 64 KiB.
const BUF: usize = 1 << 16;
const MIB: usize = 1 << 20;
const MAX_TIME: u64 = 600 * SEC;
const MAX_STEPS: u64 = 1_000_000;

mod smoldev;
use smoldev::{smol, tsval, SimDevice};

fn is_arp(frame: &[u8]) -> bool {
    frame.get(12..14) == Some(&[0x08, 0x06])
}

#[derive(Debug)]
struct Outcome {
    time: u64,
    steps: u64,
    c2s: sim::LinkStats,
    s2c: sim::LinkStats,
    arp_requests: u64,
    final_state: tcp::State,
}

fn run(seed: u64, link: LinkParams, len: usize, timestamps: bool) -> Outcome {
    run_mode(seed, link, len, timestamps, false)
}

/// `echo`: the server echoes (RFC 862) and the client reads everything back.
fn run_mode(seed: u64, link: LinkParams, len: usize, timestamps: bool, echo: bool) -> Outcome {
    let mut rng = Rng::new(seed);
    let data = rng.bytes(len);
    let mut c2s = Link::new(link, rng.next_u64());
    let mut s2c = Link::new(link, rng.next_u64());
    let mut key = [0u8; 16];
    key.copy_from_slice(&rng.bytes(16));
    let mut server = if echo {
        Server::<BUF>::new_echo(sim::server_config(), 4, key)
    } else {
        Server::<BUF>::new(sim::server_config(), 4, key)
    };
    let mut echoed: Vec<u8> = Vec::new();

    // 1500 bytes of IP: smoltcp offers an MSS of 1460, as we do. smoltcp
    // 0.12 does not take the 12 bytes of the timestamp option off its
    // segments (RFC 6691), so a full segment would not fit in 1500 bytes and
    // it drops it silently (it needs `proto-ipv4-fragmentation` to send it);
    // with timestamps the device gets room for the option.
    let mut dev = SimDevice {
        rx: VecDeque::new(),
        tx: Vec::new(),
        mtu: if timestamps { 1514 + 12 } else { 1514 },
    };
    let mut cfg = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(
        sim::CLIENT_MAC.0,
    )));
    cfg.random_seed = rng.next_u64();
    let mut iface = Interface::new(cfg, &mut dev, smol(0));
    let [a, b, c, d] = sim::CLIENT_IP.octets();
    iface.update_ip_addrs(|addrs| {
        addrs
            .push(IpCidr::new(IpAddress::v4(a, b, c, d), 15))
            .expect("address");
    });
    let mut socket = tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 4096]),
        tcp::SocketBuffer::new(vec![0; 64 * 1024]),
    );
    if timestamps {
        socket.set_tsval_generator(Some(tsval));
    }
    let mut sockets = SocketSet::new(vec![]);
    let h = sockets.add(socket);
    let [a, b, c, d] = sim::SERVER_IP.octets();
    sockets
        .get_mut::<tcp::Socket>(h)
        .connect(
            iface.context(),
            (IpAddress::v4(a, b, c, d), sim::SERVER_PORT),
            40000 + (seed % 20000) as u16,
        )
        .expect("connect");

    let mut now = 0u64;
    let mut steps = 0u64;
    let mut sent = 0usize;
    let mut closed = false;
    let mut arp_requests = 0u64;
    loop {
        smoldev::set_clock(now);
        // The client: take in what arrived, queue data, send what it will.
        while let Some(f) = s2c.recv(now) {
            dev.rx.push_back(f);
        }
        for _ in 0..10_000 {
            iface.poll(smol(now), &mut dev, &mut sockets);
            let s = sockets.get_mut::<tcp::Socket>(h);
            while s.can_recv() {
                let mut buf = [0u8; 16384];
                let n = s.recv_slice(&mut buf).expect("recv");
                if n == 0 {
                    break;
                }
                echoed.extend_from_slice(&buf[..n]);
            }
            if sent < len && s.can_send() {
                sent += s.send_slice(&data[sent..]).expect("send");
            }
            if sent == len && !closed && s.may_send() {
                s.close();
                closed = true;
            }
            // smoltcp sends one segment per socket per poll: poll again
            // while it wants to send now.
            match iface.poll_at(smol(now), &sockets) {
                Some(t) if t <= smol(now) => {}
                _ => break,
            }
        }
        for f in dev.tx.drain(..) {
            if is_arp(&f) {
                arp_requests += 1;
            }
            sim::trace(now, "C>", &f);
            c2s.send(now, f);
        }
        // The server.
        while let Some(f) = c2s.recv(now) {
            for out in server.handle_frame(now, &f) {
                sim::trace(now, "S>", &out);
                s2c.send(now, out);
            }
        }
        for out in server.handle_timeout(now) {
            sim::trace(now, "S>", &out);
            s2c.send(now, out);
        }

        let state = sockets.get_mut::<tcp::Socket>(h).state();
        if closed
            && server.ep.is_empty()
            && server.io.established == 1
            && matches!(state, tcp::State::TimeWait | tcp::State::Closed)
            && s2c.is_empty()
        {
            if echo {
                server.assert_echoed(&data, &echoed);
            } else {
                server.assert_done(&data);
            }
            assert_eq!(sent, len);
            assert!(arp_requests > 0, "smoltcp did not ARP for the server");
            return Outcome {
                time: now,
                steps,
                c2s: c2s.stats,
                s2c: s2c.stats,
                arp_requests,
                final_state: state,
            };
        }

        steps += 1;
        let client_at = iface
            .poll_at(smol(now), &sockets)
            .map(|t| (t.total_micros().max(0) as u64).max(now + 1));
        let next = earliest(&[
            c2s.next_delivery(),
            s2c.next_delivery(),
            server.poll_timeout(),
            client_at,
        ]);
        let Some(next) = next else {
            panic!(
                "stuck at {now} us: nothing scheduled; smoltcp {state}, sent {sent}, server {:?}",
                server.ep.connections().collect::<Vec<_>>()
            );
        };
        now = now.max(next);
        assert!(
            now <= MAX_TIME && steps <= MAX_STEPS,
            "not done after {steps} steps, {now} us: smoltcp {state}, sent {sent}/{len}, \
             delivered {}, server {:?}, stats {:?}",
            server.io.data.len(),
            server.ep.connections().collect::<Vec<_>>(),
            server.ep.stats()
        );
    }
}

#[test]
fn smoltcp_clean_link() {
    let o = run(11, LinkParams::CLEAN, MIB, false);
    eprintln!("{o:?}");
    assert_eq!(o.c2s.lost + o.s2c.lost, 0, "{o:?}");
    // 1 MiB with 64 KiB windows over a 2 ms round trip: well under a second.
    assert!(o.time < SEC, "{o:?}");
    assert_eq!(o.arp_requests, 1, "{o:?}");
    // The active closer waits in TIME-WAIT (10 s in smoltcp).
    assert_eq!(o.final_state, tcp::State::TimeWait, "{o:?}");
    assert!(o.steps < 1_000, "{o:?}");
}

#[test]
fn smoltcp_clean_link_timestamps() {
    let o = run(12, LinkParams::CLEAN, MIB, true);
    eprintln!("{o:?}");
    assert!(o.time < SEC, "{o:?}");
}

#[test]
fn smoltcp_lossy_link() {
    let o = run(13, LinkParams::lossy(0.05, 0.03, 0.15), MIB, false);
    eprintln!("{o:?}");
    assert!(o.c2s.lost > 0 && o.s2c.lost > 0, "{o:?}");
    assert!(o.c2s.duplicated > 0 && o.c2s.delayed > 0, "{o:?}");
}

#[test]
fn smoltcp_lossy_link_timestamps() {
    let o = run(14, LinkParams::lossy(0.08, 0.03, 0.2), MIB, true);
    eprintln!("{o:?}");
    assert!(o.c2s.lost > 0 && o.s2c.lost > 0, "{o:?}");
}

/// Echo (RFC 862) against smoltcp on a clean link: the 1 MiB that comes back
/// is the 1 MiB sent, and both ends close.
#[test]
fn smoltcp_echo_clean_link() {
    let o = run_mode(21, LinkParams::CLEAN, MIB, false, true);
    eprintln!("{o:?}");
    assert!(o.time < 2 * SEC, "{o:?}");
}

/// Echo through a link that loses, duplicates and reorders both ways: the
/// send path recovers (retransmission, fast retransmit) and nothing is lost.
#[test]
fn smoltcp_echo_lossy_link() {
    let o = run_mode(22, LinkParams::lossy(0.05, 0.03, 0.15), MIB, true, true);
    eprintln!("{o:?}");
    assert!(o.c2s.lost > 0 && o.s2c.lost > 0, "{o:?}");
}
