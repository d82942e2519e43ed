//! The simulated link shared by the trace harness (`common`) and the
//! simulator (`sim`): the two hosts' addresses and a builder for frames
//! from the client.

use std::net::{Ipv4Addr, Ipv6Addr};

use tcpcore::wire::{
    self, EtherType, EthernetAddress, EthernetRepr, IpProtocol, Ipv4Repr, TcpRepr,
};

pub const SERVER_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 1]);
pub const CLIENT_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 2]);
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
pub const SERVER_PORT: u16 = 3000;
/// The hosts' IPv6 addresses (2001:2::/48, RFC 5180 benchmarking).
pub const SERVER_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 1);
pub const CLIENT_IP6: Ipv6Addr = Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 2);

/// A TCP frame from `CLIENT_IP` to `SERVER_IP`.
pub fn client_frame(tcp: &TcpRepr<'_>) -> Vec<u8> {
    client_frame_ecn(tcp, 0)
}

/// [`client_frame`] with `ecn` in the IP header's ECN field.
pub fn client_frame_ecn(tcp: &TcpRepr<'_>, ecn: u8) -> Vec<u8> {
    let eth = EthernetRepr {
        src_addr: CLIENT_MAC,
        dst_addr: SERVER_MAC,
        ethertype: EtherType::Ipv4,
    };
    let ip = Ipv4Repr {
        src_addr: CLIENT_IP,
        dst_addr: SERVER_IP,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp: 0,
        ecn,
        ident: 1,
        dont_frag: true,
        more_frags: false,
        frag_offset: 0,
    };
    let mut buf = vec![0u8; wire::tcp_frame_len(tcp)];
    let n = wire::emit_tcp_frame(&mut buf, &eth, &ip, tcp).expect("emit");
    buf.truncate(n);
    buf
}
