//! Whole frames: no panic on any bytes; what parses re-emits and parses
//! again to the same value (the IPv4 payload length follows the TCP segment
//! as emitted, since options that parse to nothing are not written again).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcpcore::wire::{
    emit_arp_frame, emit_tcp_frame, parse_frame, tcp_frame_len, ChecksumPolicy, Frame, Ipv4Repr,
    ARP_FRAME_LEN,
};

fuzz_target!(|data: &[u8]| {
    let verified = parse_frame(data, ChecksumPolicy::Verify);
    let skipped = parse_frame(data, ChecksumPolicy::Skip);
    if let Ok(v) = verified {
        assert_eq!(skipped, Ok(v));
    }
    match skipped {
        Ok(Frame::Tcp { eth, ip, tcp }) => {
            let len = tcp_frame_len(&tcp);
            let mut buf = vec![0u8; len];
            assert_eq!(emit_tcp_frame(&mut buf, &eth, &ip, &tcp), Ok(len));
            let ip = Ipv4Repr {
                payload_len: tcp.buffer_len(),
                ..ip
            };
            assert_eq!(
                parse_frame(&buf, ChecksumPolicy::Verify),
                Ok(Frame::Tcp { eth, ip, tcp })
            );
        }
        Ok(Frame::Arp { eth, arp }) => {
            let mut buf = [0u8; ARP_FRAME_LEN];
            assert_eq!(emit_arp_frame(&mut buf, &eth, &arp), Ok(ARP_FRAME_LEN));
            assert_eq!(
                parse_frame(&buf, ChecksumPolicy::Verify),
                Ok(Frame::Arp { eth, arp })
            );
        }
        Err(e) => {
            let _ = (e.reason(), e.to_string());
        }
    }
});
