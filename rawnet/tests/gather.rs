//! `RawSocket::send_frames`: frames sent from the caller's buffers in two
//! parts (a gather write), plain and GSO, in order after what was queued,
//! and a malformed one refused on its own.
mod common;

use std::time::Duration;

use common::*;
use rawnet::netns::TestNet;
use rawnet::{RawSocket, TxFrame};

const PORT: u16 = 9100;

/// An IPv4/TCP frame of `payload` whose checksum field holds the
/// pseudo-header sum only (CHECKSUM_PARTIAL), as a GSO frame needs.
fn partial_frame(e: &Ends, sport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = tcp_frame(e, sport, PORT, 0x18, payload, true);
    let tcp_len = f.len() - 34;
    let ph = fold(pseudo(e.src_ip.octets(), e.dst_ip.octets(), 6, tcp_len));
    f[34 + 16..34 + 18].copy_from_slice(&ph.to_be_bytes());
    f
}

#[test]
fn send_frames_gathers_head_and_body() {
    let net = TestNet::new("gath", 31).unwrap();
    // Offloads off: the kernel cuts the GSO frame and checksums each piece
    // itself, so what arrives shows what the segmentation made of it.
    net.set_offloads(false).unwrap();
    let a = net.iface_a().unwrap();
    let mut rx = net
        .run_in_a(|| RawSocket::open(&a, &filtered(net.addr_a, PORT, false)))
        .unwrap()
        .unwrap();
    let (mut tx, ends) = sender_in_b(&net, true);
    let queued = tcp_frame(&ends, 41000, PORT, 0x18, b"queued first", true);
    let plain = tcp_frame(
        &ends,
        41001,
        PORT,
        0x18,
        b"a plain frame in two parts",
        true,
    );
    let data: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let gso = partial_frame(&ends, 41002, &data);
    let after = tcp_frame(&ends, 41003, PORT, 0x18, b"after the bad one", true);
    tx.queue(&queued).unwrap();
    let frames = [
        TxFrame {
            head: &plain[..30],
            body: &plain[30..],
            gso_size: 0,
        },
        TxFrame {
            head: &gso[..54],
            body: &gso[54..],
            gso_size: 1000,
        },
        // Its TCP header is not all in `head`: refused, on its own.
        TxFrame {
            head: &gso[..40],
            body: &gso[40..],
            gso_size: 1000,
        },
        TxFrame {
            head: &after,
            body: &[],
            gso_size: 0,
        },
    ];
    assert_eq!(tx.send_frames(&frames).unwrap(), 3);
    assert!(tx.take_refused().is_some(), "the bad frame was not refused");
    let st = tx.stats().unwrap();
    assert_eq!(st.tx_refused, 1);
    assert_eq!(st.tx_frames, 4, "the queued frame and three of send_frames");

    let got = collect(&mut rx, Duration::from_millis(500));
    let sports: Vec<u16> = got
        .iter()
        .filter_map(|(f, _)| ports(f).map(|p| p.0))
        .collect();
    assert_eq!(
        sports,
        [41000, 41001, 41002, 41002, 41002, 41003],
        "frames out of order or missing"
    );
    assert_eq!(got[0].0, queued);
    assert_eq!(got[1].0, plain, "the two parts did not make the frame");
    assert_eq!(got[5].0, after);
    // The GSO frame: three segments of 1000 bytes, each with its checksum
    // completed, together the data.
    let mut joined = Vec::new();
    for (f, _) in &got[2..5] {
        assert_eq!(f.len(), 54 + 1000);
        assert!(l4_checksum_ok(f), "a segment's checksum is wrong");
        joined.extend_from_slice(&f[54..]);
    }
    assert_eq!(joined, data);
}
