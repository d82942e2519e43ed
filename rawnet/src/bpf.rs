//! Classic BPF programs run by the kernel on every frame, before it is copied
//! into our ring: what we do not want never reaches user space.

use std::net::{Ipv4Addr, Ipv6Addr};

/// One classic BPF instruction (`struct sock_filter`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Insn {
    /// Opcode.
    pub code: u16,
    /// Jump offset if true.
    pub jt: u8,
    /// Jump offset if false.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

mod op {
    pub const LD_W_ABS: u16 = 0x20;
    pub const LD_H_ABS: u16 = 0x28;
    pub const LD_B_ABS: u16 = 0x30;
    pub const LD_H_IND: u16 = 0x48;
    pub const LD_B_IND: u16 = 0x50;
    pub const LDX_B_MSH: u16 = 0xb1;
    pub const JEQ_K: u16 = 0x15;
    pub const JSET_K: u16 = 0x45;
    pub const RET_K: u16 = 0x06;
    pub const LD_W_IND: u16 = 0x40;
    pub const LD_MEM: u16 = 0x60;
    pub const LDX_IMM: u16 = 0x01;
    pub const LDX_MEM: u16 = 0x61;
    pub const ST: u16 = 0x02;
    pub const ADD_K: u16 = 0x04;
    pub const ADD_X: u16 = 0x0c;
    pub const MUL_K: u16 = 0x24;
    pub const AND_K: u16 = 0x54;
    pub const LSH_K: u16 = 0x64;
    pub const RSH_K: u16 = 0x74;
    pub const XOR_X: u16 = 0xac;
    pub const TAX: u16 = 0x07;
    pub const JGE_K: u16 = 0x35;
    pub const RET_A: u16 = 0x16;
}

/// `SKF_AD_OFF + SKF_AD_PROTOCOL`: load the packet's EtherType
/// (`skb->protocol`).
const AD_PROTOCOL: u32 = 0xffff_f000;
/// `SKF_AD_OFF + SKF_AD_PKTTYPE`: load the packet's `pkt_type`.
const AD_PKTTYPE: u32 = 0xffff_f000 + 4;
/// `SKF_AD_OFF + SKF_AD_VLAN_TAG_PRESENT`: 1 when the frame carried an
/// 802.1Q tag (the kernel moves the tag out of the frame before filters and
/// the ring see it, so it cannot be checked in the bytes).
const AD_VLAN_TAG_PRESENT: u32 = 0xffff_f000 + 48;
/// `PACKET_OUTGOING`.
const PACKET_OUTGOING: u32 = 4;
/// Snap length returned on accept: the whole frame, however large (GRO).
const ACCEPT_ALL: u32 = u32::MAX;

#[derive(Clone, Copy)]
enum To {
    Next,
    Accept,
    Drop,
    /// Jump over this many instructions after the next.
    Skip(u8),
    /// Jump to the place marked with [`Asm::label`] (always further on:
    /// classic BPF jumps only forward).
    Label(u8),
}

/// A tiny assembler whose jumps go to the next instruction, over a few, to
/// a label further on, or to the shared accept / drop returns at the end.
struct Asm {
    code: Vec<(u16, u32, To, To)>,
    /// Each label and the index of the instruction it marks.
    labels: Vec<(u8, usize)>,
}

impl Asm {
    fn new() -> Self {
        Asm {
            code: Vec::new(),
            labels: Vec::new(),
        }
    }
    fn op(&mut self, code: u16, k: u32) -> &mut Self {
        self.code.push((code, k, To::Next, To::Next));
        self
    }
    fn jump(&mut self, code: u16, k: u32, jt: To, jf: To) -> &mut Self {
        self.code.push((code, k, jt, jf));
        self
    }
    /// An unconditional jump to `to`.
    fn goto(&mut self, to: To) -> &mut Self {
        self.jump(op::JEQ_K, 0, to, to)
    }
    /// Marks the next instruction as `label`.
    fn label(&mut self, label: u8) -> &mut Self {
        self.labels.push((label, self.code.len()));
        self
    }
    fn extend(&mut self, other: &Asm) -> &mut Self {
        let base = self.code.len();
        self.labels
            .extend(other.labels.iter().map(|&(l, at)| (l, base + at)));
        self.code.extend_from_slice(&other.code);
        self
    }
    fn len(&self) -> usize {
        self.code.len()
    }
    fn finish(&self) -> Vec<Insn> {
        let accept = self.code.len();
        let drop = accept + 1;
        let rel = |i: usize, to: To| -> u8 {
            let target = match to {
                To::Next => return 0,
                To::Skip(n) => return n,
                To::Accept => accept,
                To::Drop => drop,
                To::Label(l) => self
                    .labels
                    .iter()
                    .find(|&&(m, _)| m == l)
                    .map_or(drop, |&(_, at)| at),
            };
            // Programs here are at most a few hundred instructions, and
            // their jumps are shorter than 256 (the tests run every path).
            u8::try_from(target.saturating_sub(i + 1)).unwrap_or(u8::MAX)
        };
        let mut out: Vec<Insn> = self
            .code
            .iter()
            .enumerate()
            .map(|(i, &(code, k, jt, jf))| Insn {
                code,
                jt: rel(i, jt),
                jf: rel(i, jf),
                k,
            })
            .collect();
        out.push(Insn {
            code: op::RET_K,
            jt: 0,
            jf: 0,
            k: ACCEPT_ALL,
        });
        out.push(Insn {
            code: op::RET_K,
            jt: 0,
            jf: 0,
            k: 0,
        });
        out
    }
}

/// Accepts IPv4 TCP to `addr:port` (unfragmented, untagged), or to every
/// port of `addr` when `port` is `None`, ICMP to `addr` (echo requests,
/// and the errors that quote our segments: "fragmentation needed" lowers a
/// connection's MSS), and ARP if `arp`. VLAN-tagged frames are dropped:
/// the server does not do VLANs. An unspecified `addr` (0.0.0.0) lets no
/// IPv4 through at all (an IPv6-only server).
///
/// With `addr6`, IPv6 (EtherType 0x86DD) to it passes as well: TCP (next
/// header 6 right after the fixed header) to `addr6:port` or every port,
/// packets to `addr6` whose first header is an extension header (hop-by-hop,
/// routing, destination options: the endpoint walks them and decides), and
/// ICMPv6 to `addr6`, to its solicited-node multicast group
/// `ff02::1:ffXX:XXXX` (neighbor solicitations, RFC 4861) or to all-nodes
/// `ff02::1` (advertisements, which answer duplicate address detection).
///
/// Every port (`port` `None`) is for own-address mode, where the server is
/// the address's only TCP and must answer the other ports with a reset
/// itself (RFC 9293 §3.10.7.1), and its only host: every other protocol to
/// the address passes too (unfragmented, for IPv4), to be answered with
/// an ICMP error (port or protocol unreachable, RFC 1122 §3.2.2.1; RFC
/// 8200 §4). In shared-address mode the kernel answers them.
pub fn tcp_to(addr: Ipv4Addr, addr6: Option<Ipv6Addr>, port: Option<u16>, arp: bool) -> Vec<Insn> {
    let mut a = Asm::new();
    a.op(op::LD_W_ABS, AD_VLAN_TAG_PRESENT)
        .jump(op::JEQ_K, 0, To::Next, To::Drop)
        .op(op::LD_H_ABS, 12)
        .jump(
            op::JEQ_K,
            0x0806,
            if arp { To::Accept } else { To::Drop },
            To::Next,
        );
    if let Some(addr6) = addr6 {
        let v6 = ipv6_part(addr6, port);
        let skip = u8::try_from(v6.len()).unwrap_or(u8::MAX);
        a.jump(op::JEQ_K, 0x86dd, To::Next, To::Skip(skip))
            .extend(&v6);
    }
    if addr.is_unspecified() {
        return a.jump(op::JEQ_K, 0, To::Drop, To::Drop).finish();
    }
    a.jump(op::JEQ_K, 0x0800, To::Next, To::Drop)
        .op(op::LD_W_ABS, 30) // IPv4 destination
        .jump(op::JEQ_K, u32::from(addr), To::Next, To::Drop)
        .op(op::LD_B_ABS, 23) // protocol
        .jump(op::JEQ_K, 1, To::Accept, To::Next); // ICMP
    match port {
        Some(port) => {
            a.jump(op::JEQ_K, 6, To::Next, To::Drop)
                .op(op::LD_H_ABS, 20) // MF flag and fragment offset
                .jump(op::JSET_K, 0x3fff, To::Drop, To::Next)
                .op(op::LDX_B_MSH, 14) // X = IPv4 header length
                .op(op::LD_H_IND, 14 + 2) // TCP destination port
                .jump(op::JEQ_K, u32::from(port), To::Accept, To::Drop);
        }
        None => {
            // Own-address mode: every protocol, unfragmented (UDP and
            // unknown protocols are answered with ICMP errors, RFC 1122
            // §3.2.2.1).
            a.op(op::LD_H_ABS, 20) // MF flag and fragment offset
                .jump(op::JSET_K, 0x3fff, To::Drop, To::Accept);
        }
    }
    a.finish()
}

/// The IPv6 half of [`tcp_to`]: entered with an IPv6 frame, it ends in
/// accept or drop.
fn ipv6_part(addr6: Ipv6Addr, port: Option<u16>) -> Asm {
    // The Ethernet header (14) then the IPv6 header: next header at 6,
    // destination at 24..40.
    const NH: u32 = 14 + 6;
    const DST: u32 = 14 + 24;
    let o = addr6.octets();
    let w = |i: usize| u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
    // ICMPv6: to our address, or to our solicited-node group
    // ff02::1:ffXX:XXXX.
    let mut icmp = Asm::new();
    icmp.op(op::LD_W_ABS, DST)
        .jump(op::JEQ_K, 0xff02_0000, To::Skip(7), To::Next)
        .jump(op::JEQ_K, w(0), To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 4)
        .jump(op::JEQ_K, w(1), To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 8)
        .jump(op::JEQ_K, w(2), To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 12)
        .jump(op::JEQ_K, w(3), To::Accept, To::Drop)
        // The groups: all-nodes ff02::1 (advertisements answering our
        // duplicate address detection), or our solicited-node group
        // ff02:0:0:0:0:1:ffXX:XXXX.
        .op(op::LD_W_ABS, DST + 4)
        .jump(op::JEQ_K, 0, To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 8)
        .jump(op::JEQ_K, 0, To::Next, To::Skip(2))
        .op(op::LD_W_ABS, DST + 12)
        .jump(op::JEQ_K, 1, To::Accept, To::Drop)
        .jump(op::JEQ_K, 1, To::Next, To::Drop)
        .op(op::LD_W_ABS, DST + 12)
        .jump(
            op::JEQ_K,
            0xff00_0000 | (w(3) & 0x00ff_ffff),
            To::Accept,
            To::Drop,
        );
    let mut a = Asm::new();
    let skip = u8::try_from(icmp.len()).unwrap_or(u8::MAX);
    a.op(op::LD_B_ABS, NH)
        .jump(op::JEQ_K, 58, To::Next, To::Skip(skip))
        .extend(&icmp);
    // Anything else: to our address only.
    for i in 0..4u32 {
        a.op(op::LD_W_ABS, DST + 4 * i)
            .jump(op::JEQ_K, w(i as usize), To::Next, To::Drop);
    }
    let Some(port) = port else {
        // Own-address mode: the address is ours alone, so everything to
        // it is ours to answer (UDP and unknown protocols with ICMPv6
        // errors, RFC 8200 §4, RFC 4443 §3.1).
        a.op(op::LD_B_ABS, NH)
            .jump(op::JEQ_K, 0, To::Accept, To::Accept);
        return a;
    };
    a.op(op::LD_B_ABS, NH)
        .jump(op::JEQ_K, 0, To::Accept, To::Next) // hop-by-hop options
        .jump(op::JEQ_K, 43, To::Accept, To::Next) // routing
        .jump(op::JEQ_K, 60, To::Accept, To::Next) // destination options
        .jump(op::JEQ_K, 6, To::Next, To::Drop)
        .op(op::LD_H_ABS, 14 + 40 + 2) // TCP destination port
        .jump(op::JEQ_K, u32::from(port), To::Accept, To::Drop);
    a
}

/// Accepts outgoing (`PACKET_OUTGOING`) TCP frames with the RST flag from
/// port `port` of `addr` (IPv4, unfragmented) or of `addr6` (IPv6, TCP right
/// after the fixed header: the kernel's RSTs carry no extension header).
pub fn outgoing_rst_from(addr: Option<Ipv4Addr>, addr6: Option<Ipv6Addr>, port: u16) -> Vec<Insn> {
    let mut a = Asm::new();
    a.op(op::LD_W_ABS, AD_PKTTYPE)
        .jump(op::JEQ_K, PACKET_OUTGOING, To::Next, To::Drop)
        .op(op::LD_H_ABS, 12);
    if let Some(addr6) = addr6 {
        // The Ethernet header (14), then IPv6: next header at 6, source at
        // 8..24; TCP at 54.
        let o = addr6.octets();
        let w = |i: usize| u32::from_be_bytes([o[4 * i], o[4 * i + 1], o[4 * i + 2], o[4 * i + 3]]);
        let mut v6 = Asm::new();
        for i in 0..4 {
            v6.op(op::LD_W_ABS, 14 + 8 + 4 * i as u32)
                .jump(op::JEQ_K, w(i), To::Next, To::Drop);
        }
        v6.op(op::LD_B_ABS, 14 + 6)
            .jump(op::JEQ_K, 6, To::Next, To::Drop)
            .op(op::LD_H_ABS, 14 + 40) // TCP source port
            .jump(op::JEQ_K, u32::from(port), To::Next, To::Drop)
            .op(op::LD_B_ABS, 14 + 40 + 13) // TCP flags
            .jump(op::JSET_K, 0x04, To::Accept, To::Drop);
        let skip = u8::try_from(v6.len()).unwrap_or(u8::MAX);
        a.jump(op::JEQ_K, 0x86dd, To::Next, To::Skip(skip))
            .extend(&v6);
    }
    let Some(addr) = addr else {
        return a.jump(op::JEQ_K, 0, To::Drop, To::Drop).finish();
    };
    a.jump(op::JEQ_K, 0x0800, To::Next, To::Drop)
        .op(op::LD_W_ABS, 26) // IPv4 source
        .jump(op::JEQ_K, u32::from(addr), To::Next, To::Drop)
        .op(op::LD_B_ABS, 23)
        .jump(op::JEQ_K, 6, To::Next, To::Drop)
        .op(op::LD_H_ABS, 20)
        .jump(op::JSET_K, 0x1fff, To::Drop, To::Next)
        .op(op::LDX_B_MSH, 14)
        .op(op::LD_H_IND, 14) // TCP source port
        .jump(op::JEQ_K, u32::from(port), To::Next, To::Drop)
        .op(op::LD_B_IND, 14 + 13) // TCP flags
        .jump(op::JSET_K, 0x04, To::Accept, To::Drop);
    a.finish()
}

/// Extension headers walked by [`fanout_by_peer`] before it gives up on
/// finding the TCP header: tcpcore's `MAX_EXT_HEADERS`, so that every
/// segment the endpoint would take has its ports found.
const FANOUT_EXT_HEADERS: usize = 8;

/// The `PACKET_FANOUT_CBPF` program (`PACKET_FANOUT_DATA`) that picks the
/// socket of a fanout group for each packet: the kernel takes what it
/// returns modulo the number of sockets (`fanout_demux_bpf` in
/// net/packet/af_packet.c).
///
/// It hashes the *remote* end of a TCP connection, its address and port:
///
/// - a TCP segment from the peer: the source address and port (IPv4
///   options and IPv6 extension headers skipped, up to
///   [`FANOUT_EXT_HEADERS`] of them);
/// - an ICMP error (destination unreachable, time exceeded, parameter
///   problem; "fragmentation needed" is a destination unreachable) or an
///   ICMPv6 error (types below 128: "packet too big" too) quoting a
///   segment that we sent: the quoted destination address and port.
///
/// So the ICMP errors about a connection reach the socket, and so the
/// worker, that has the connection, and their path MTU discovery and soft
/// errors work with any number of workers. The kernel's own
/// `PACKET_FANOUT_HASH` hashes the ICMP packet's addresses (router and us)
/// and sends them to an arbitrary socket instead.
///
/// Our own address and port are left out: the server has one of each per
/// family, so they add nothing to the spread, and a flow hashed on its
/// remote end alone is still always on the same socket. The remote port is
/// in: the connections of one client spread over the sockets. The hash
/// is `(address ^ port) * 0x9e3779b1`, folded (`h ^ h >> 16`) so that the
/// low bits, which the modulo keeps, depend on all of the key (Linux
/// clients pick even ephemeral ports for `connect`: the port's low bit
/// alone would send them all to one of two sockets).
///
/// The IPv6 quote is hashed as if TCP followed the fixed header at once,
/// as it does in every segment we send. Everything else (ARP, NDP, echo
/// requests, other protocols, a packet cut short) goes to socket 0; so does
/// a TCP segment behind more than [`FANOUT_EXT_HEADERS`] extension headers
/// (the endpoint drops it anyway). Limitation: an ICMPv6 message behind an
/// extension header is walked as if TCP could follow, and lands on any
/// socket; an error among them would miss its connection (routers send
/// their errors without extension headers).
///
/// The offsets are from the network header: when the fanout runs on a
/// received frame, `skb->data` is past the link-layer header (the socket
/// filter, run later for the chosen socket, sees the frame from its
/// Ethernet header on). Outgoing frames would start at their Ethernet
/// header, but the group ignores them (`PACKET_FANOUT_FLAG_IGNORE_OUTGOING`)
/// or the sockets' filters drop them.
pub fn fanout_by_peer() -> Vec<Insn> {
    const V6: u8 = 0;
    const ICMP4: u8 = 1;
    const QUOTE4: u8 = 2;
    const ICMP6: u8 = 3;
    const TCP6: u8 = 4;
    const MIX: u8 = 5;
    let mut a = Asm::new();
    a.op(op::LD_W_ABS, AD_PROTOCOL)
        .jump(op::JEQ_K, 0x86dd, To::Label(V6), To::Next)
        .jump(op::JEQ_K, 0x0800, To::Next, To::Drop)
        // IPv4: X = the header length, A = the protocol.
        .op(op::LDX_B_MSH, 0)
        .op(op::LD_B_ABS, 9)
        .jump(op::JEQ_K, 6, To::Next, To::Label(ICMP4))
        .op(op::LD_H_IND, 0) // TCP source port
        .op(op::TAX, 0)
        .op(op::LD_W_ABS, 12) // source address
        .goto(To::Label(MIX))
        .label(ICMP4)
        .jump(op::JEQ_K, 1, To::Next, To::Drop)
        .op(op::LD_B_IND, 0) // ICMP type
        .jump(op::JEQ_K, 3, To::Label(QUOTE4), To::Next) // unreachable
        .jump(op::JEQ_K, 11, To::Label(QUOTE4), To::Next) // time exceeded
        .jump(op::JEQ_K, 12, To::Next, To::Drop) // parameter problem
        .label(QUOTE4)
        // The quoted IPv4 header is 8 bytes into the ICMP message; its
        // destination (the peer) at 16 in it.
        .op(op::LD_W_IND, 8 + 16)
        .op(op::ST, 0)
        .op(op::LD_B_IND, 8)
        .op(op::AND_K, 0xf)
        .op(op::LSH_K, 2)
        .op(op::ADD_X, 0)
        .op(op::TAX, 0) // X = both header lengths
        .op(op::LD_H_IND, 8 + 2) // quoted TCP destination port
        .op(op::TAX, 0)
        .op(op::LD_MEM, 0)
        .goto(To::Label(MIX));
    // IPv6: the next header at 6, the source at 8..24.
    a.label(V6)
        .op(op::LD_B_ABS, 6)
        .jump(op::JEQ_K, 58, To::Label(ICMP6), To::Next)
        .op(op::LDX_IMM, 40);
    // The extension headers, unrolled (classic BPF has no loops): each
    // starts with its next header and its length in 8-byte units after the
    // first 8 (a fragment header has 0 there: 8 bytes, right as well).
    // Another protocol is walked as if it were one; it is dropped by the
    // endpoint wherever it goes.
    for _ in 0..FANOUT_EXT_HEADERS {
        a.jump(op::JEQ_K, 6, To::Label(TCP6), To::Next)
            .op(op::LD_B_IND, 1)
            .op(op::ADD_K, 1)
            .op(op::LSH_K, 3)
            .op(op::ADD_X, 0)
            .op(op::ST, 0)
            .op(op::LD_B_IND, 0)
            .op(op::LDX_MEM, 0);
    }
    a.jump(op::JEQ_K, 6, To::Next, To::Drop)
        .label(TCP6)
        .op(op::LD_H_IND, 0) // TCP source port
        .op(op::ST, 0);
    fold_ipv6_address(&mut a, 8);
    a.op(op::LDX_MEM, 0).goto(To::Label(MIX));
    // ICMPv6 errors (types below 128): the quoted IPv6 header at 48, its
    // destination at 48 + 24, the quoted TCP header at 48 + 40.
    a.label(ICMP6)
        .op(op::LD_B_ABS, 40)
        .jump(op::JGE_K, 128, To::Drop, To::Next)
        .op(op::LD_H_ABS, 48 + 40 + 2) // quoted TCP destination port
        .op(op::ST, 0);
    fold_ipv6_address(&mut a, 48 + 24);
    a.op(op::LDX_MEM, 0)
        // A = address, X = port.
        .label(MIX)
        .op(op::XOR_X, 0)
        .op(op::MUL_K, 0x9e37_79b1)
        .op(op::TAX, 0)
        .op(op::RSH_K, 16)
        .op(op::XOR_X, 0)
        .op(op::RET_A, 0);
    a.finish()
}

/// A = the XOR of the four words of the IPv6 address at `off` (X is
/// overwritten).
fn fold_ipv6_address(a: &mut Asm, off: u32) {
    a.op(op::LD_W_ABS, off)
        .op(op::TAX, 0)
        .op(op::LD_W_ABS, off + 4)
        .op(op::XOR_X, 0)
        .op(op::TAX, 0)
        .op(op::LD_W_ABS, off + 8)
        .op(op::XOR_X, 0)
        .op(op::TAX, 0)
        .op(op::LD_W_ABS, off + 12)
        .op(op::XOR_X, 0);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reference interpreter for the opcodes used above; where the kernel
    /// would abort the program (an out-of-bounds load) it returns 0, as the
    /// kernel does.
    fn run(prog: &[Insn], pkt: &[u8], pkttype: u32) -> u32 {
        exec(prog, pkt, pkttype, 0).0
    }

    /// [`run`] with `skb->protocol` given; also returns how many
    /// instructions ran.
    fn exec(prog: &[Insn], pkt: &[u8], pkttype: u32, protocol: u32) -> (u32, usize) {
        let (mut a, mut x, mut pc) = (0u32, 0u32, 0usize);
        let mut mem = [None::<u32>; 16];
        let ld = |off: usize, n: usize| -> Option<u32> {
            let b = pkt.get(off..off.checked_add(n)?)?;
            Some(b.iter().fold(0u32, |acc, &v| (acc << 8) | u32::from(v)))
        };
        for steps in 1..1000 {
            let Some(i) = prog.get(pc) else {
                return (0, steps);
            };
            pc += 1;
            let k = i.k as usize;
            let r = match i.code {
                op::LD_W_ABS if i.k == AD_PKTTYPE => Some(pkttype),
                op::LD_W_ABS if i.k == AD_PROTOCOL => Some(protocol),
                // The test frames carry no VLAN tag.
                op::LD_W_ABS if i.k == AD_VLAN_TAG_PRESENT => Some(0),
                op::LD_W_ABS => ld(k, 4),
                op::LD_H_ABS => ld(k, 2),
                op::LD_B_ABS => ld(k, 1),
                op::LD_W_IND => ld(x as usize + k, 4),
                op::LD_H_IND => ld(x as usize + k, 2),
                op::LD_B_IND => ld(x as usize + k, 1),
                op::LD_MEM => Some(mem[k].expect("M[] read before written")),
                op::LDX_B_MSH | op::LDX_IMM | op::LDX_MEM | op::TAX | op::ST => {
                    match i.code {
                        op::LDX_B_MSH => match ld(k, 1) {
                            Some(v) => x = 4 * (v & 0xf),
                            None => return (0, steps),
                        },
                        op::LDX_IMM => x = i.k,
                        op::LDX_MEM => x = mem[k].expect("M[] read before written"),
                        op::TAX => x = a,
                        _ => mem[k] = Some(a),
                    }
                    continue;
                }
                op::ADD_K => Some(a.wrapping_add(i.k)),
                op::ADD_X => Some(a.wrapping_add(x)),
                op::MUL_K => Some(a.wrapping_mul(i.k)),
                op::AND_K => Some(a & i.k),
                op::LSH_K => Some(a << i.k),
                op::RSH_K => Some(a >> i.k),
                op::XOR_X => Some(a ^ x),
                op::JEQ_K | op::JSET_K | op::JGE_K => {
                    let t = match i.code {
                        op::JEQ_K => a == i.k,
                        op::JGE_K => a >= i.k,
                        _ => a & i.k != 0,
                    };
                    pc += usize::from(if t { i.jt } else { i.jf });
                    continue;
                }
                op::RET_K => return (i.k, steps),
                op::RET_A => return (a, steps),
                _ => panic!("opcode {:#x} not modelled", i.code),
            };
            match r {
                Some(v) => a = v,
                None => return (0, steps),
            }
        }
        panic!("no return")
    }

    fn tcp_frame(
        dst: [u8; 4],
        src: [u8; 4],
        ihl: u8,
        proto: u8,
        sport: u16,
        dport: u16,
    ) -> Vec<u8> {
        let mut f = vec![0u8; 14 + usize::from(ihl) * 4 + 20];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        f[14] = 0x40 | ihl;
        f[14 + 9] = proto;
        f[14 + 12..14 + 16].copy_from_slice(&src);
        f[14 + 16..14 + 20].copy_from_slice(&dst);
        let t = 14 + usize::from(ihl) * 4;
        f[t..t + 2].copy_from_slice(&sport.to_be_bytes());
        f[t + 2..t + 4].copy_from_slice(&dport.to_be_bytes());
        f
    }

    #[test]
    fn tcp_filter_passes_only_our_port_and_arp() {
        let us = [198, 18, 1, 1];
        let p = tcp_to(Ipv4Addr::from(us), None, Some(8080), true);
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 8080), 0), 0);
        // IPv4 options: the port moves, the filter follows the IHL.
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 7, 6, 1, 8080), 0), 0);
        let mut opt = tcp_frame(us, [1; 4], 7, 6, 8080, 1);
        assert_eq!(run(&p, &opt, 0), 0);
        opt[14 + 20..14 + 22].copy_from_slice(&8080u16.to_be_bytes());
        assert_eq!(
            run(&p, &opt, 0),
            0,
            "port at the IHL=5 place must not count"
        );
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 8081), 0), 0);
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 17, 1, 8080), 0), 0);
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 6, 1, 8080), 0),
            0
        );
        let mut frag = tcp_frame(us, [1; 4], 5, 6, 1, 8080);
        frag[14 + 6] = 0x20; // MF
        assert_eq!(run(&p, &frag, 0), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_ne!(run(&p, &arp, 0), 0);
        assert_eq!(
            run(
                &tcp_to(Ipv4Addr::from(us), None, Some(8080), false),
                &arp,
                0
            ),
            0
        );
        assert_eq!(run(&p, &[0u8; 10], 0), 0, "short frame");
        // ICMP to our address (echo, fragmentation needed), not to others.
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 1, 0, 0), 0), 0);
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 1, 0, 0), 0),
            0
        );
    }

    /// Own-address mode: TCP to every port of our address passes (the
    /// endpoint answers closed ports with RFC 9293 §3.10.7.1's reset), and
    /// other protocols to it (answered with ICMP errors); other addresses
    /// and fragments still do not.
    #[test]
    fn tcp_filter_for_every_port_passes_all_tcp_to_our_address() {
        let us = [198, 18, 1, 1];
        let p = tcp_to(Ipv4Addr::from(us), None, None, true);
        for port in [8080, 8081, 1, 65535] {
            assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, port), 0), 0);
        }
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 7, 6, 1, 22), 0), 0);
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 17, 1, 8080), 0), 0);
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 253, 1, 8080), 0), 0);
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 6, 1, 8080), 0),
            0
        );
        assert_eq!(
            run(&p, &tcp_frame([198, 18, 1, 2], [1; 4], 5, 17, 1, 8080), 0),
            0
        );
        let mut udp_frag = tcp_frame(us, [1; 4], 5, 17, 1, 8081);
        udp_frag[14 + 6] = 0x20; // MF
        assert_eq!(run(&p, &udp_frag, 0), 0);
        // With one port (shared-address mode), UDP does not pass.
        let one = tcp_to(Ipv4Addr::from(us), None, Some(8080), false);
        assert_eq!(run(&one, &tcp_frame(us, [1; 4], 5, 17, 1, 8080), 0), 0);
        let mut frag = tcp_frame(us, [1; 4], 5, 6, 1, 8081);
        frag[14 + 6] = 0x20; // MF
        assert_eq!(run(&p, &frag, 0), 0);
        frag[14 + 6] = 0x00;
        frag[14 + 7] = 0x08; // offset 8
        assert_eq!(run(&p, &frag, 0), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_ne!(run(&p, &arp, 0), 0);
        assert_eq!(run(&p, &[0u8; 10], 0), 0, "short frame");
    }

    fn ipv6_frame(dst: Ipv6Addr, nh: u8, dport: u16) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + 20];
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f[14] = 0x60;
        f[14 + 6] = nh;
        f[14 + 8..14 + 24].copy_from_slice(&"2001:2::99".parse::<Ipv6Addr>().unwrap().octets());
        f[14 + 24..14 + 40].copy_from_slice(&dst.octets());
        f[14 + 40 + 2..14 + 40 + 4].copy_from_slice(&dport.to_be_bytes());
        f
    }

    /// IPv6: TCP to our address and port, packets to it that start with an
    /// extension header, ICMPv6 to it, its solicited-node group or
    /// all-nodes; not
    /// other addresses, ports, protocols, groups; IPv4 as before.
    #[test]
    fn tcp_filter_with_ipv6_passes_tcp_icmpv6_and_ndp() {
        let us6: Ipv6Addr = "2001:2:0:1::10".parse().unwrap();
        let other: Ipv6Addr = "2001:2:0:1::11".parse().unwrap();
        let group: Ipv6Addr = "ff02::1:ff00:10".parse().unwrap();
        let us = [198, 18, 1, 1];
        let p = tcp_to(Ipv4Addr::from(us), Some(us6), Some(3000), true);
        assert_ne!(run(&p, &ipv6_frame(us6, 6, 3000), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(us6, 6, 3001), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(other, 6, 3000), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(us6, 17, 3000), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(us6, 44, 3000), 0), 0, "fragment");
        for nh in [0, 43, 60] {
            assert_ne!(run(&p, &ipv6_frame(us6, nh, 1), 0), 0, "extension {nh}");
            assert_eq!(run(&p, &ipv6_frame(other, nh, 1), 0), 0);
        }
        assert_ne!(run(&p, &ipv6_frame(us6, 58, 0), 0), 0, "ICMPv6 to us");
        assert_ne!(run(&p, &ipv6_frame(group, 58, 0), 0), 0, "NDP to our group");
        assert_eq!(run(&p, &ipv6_frame(other, 58, 0), 0), 0);
        let other_group: Ipv6Addr = "ff02::1:ff00:11".parse().unwrap();
        assert_eq!(run(&p, &ipv6_frame(other_group, 58, 0), 0), 0);
        // Own-address mode (every port): every protocol to our address
        // (answered with ICMPv6 errors), still nothing to others.
        let own = tcp_to(Ipv4Addr::from(us), Some(us6), None, true);
        assert_ne!(run(&own, &ipv6_frame(us6, 17, 3000), 0), 0);
        assert_ne!(run(&own, &ipv6_frame(us6, 253, 1), 0), 0);
        assert_eq!(run(&own, &ipv6_frame(other, 17, 3000), 0), 0);
        // All-nodes: advertisements answering duplicate address detection.
        let all_nodes: Ipv6Addr = "ff02::1".parse().unwrap();
        assert_ne!(run(&p, &ipv6_frame(all_nodes, 58, 0), 0), 0);
        assert_eq!(run(&p, &ipv6_frame(all_nodes, 6, 3000), 0), 0);
        let all_routers: Ipv6Addr = "ff02::2".parse().unwrap();
        assert_eq!(run(&p, &ipv6_frame(all_routers, 58, 0), 0), 0);
        let odd: Ipv6Addr = "ff02::1:1".parse().unwrap();
        assert_eq!(run(&p, &ipv6_frame(odd, 58, 0), 0), 0);
        assert_eq!(
            run(&p, &ipv6_frame(group, 6, 3000), 0),
            0,
            "TCP to the group"
        );
        assert_eq!(run(&p, &ipv6_frame(us6, 6, 3000)[..40], 0), 0, "short");
        // IPv4 still passes as before.
        assert_ne!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 3000), 0), 0);
        assert_eq!(run(&p, &tcp_frame(us, [1; 4], 5, 6, 1, 3001), 0), 0);
        // Every port.
        let all = tcp_to(Ipv4Addr::from(us), Some(us6), None, true);
        for port in [1, 3000, 65535] {
            assert_ne!(run(&all, &ipv6_frame(us6, 6, port), 0), 0);
        }
        assert_eq!(run(&all, &ipv6_frame(other, 6, 3000), 0), 0);
        // Without addr6, no IPv6 at all.
        let v4 = tcp_to(Ipv4Addr::from(us), None, None, true);
        assert_eq!(run(&v4, &ipv6_frame(us6, 6, 3000), 0), 0);
        assert_eq!(run(&v4, &ipv6_frame(group, 58, 0), 0), 0);
    }

    /// IPv6 only (IPv4 address 0.0.0.0): no IPv4 and no ARP pass.
    #[test]
    fn tcp_filter_ipv6_only_drops_all_ipv4() {
        let us6: Ipv6Addr = "2001:2:0:1::10".parse().unwrap();
        let p = tcp_to(Ipv4Addr::UNSPECIFIED, Some(us6), None, false);
        assert_ne!(run(&p, &ipv6_frame(us6, 6, 3000), 0), 0);
        assert_eq!(run(&p, &tcp_frame([0; 4], [1; 4], 5, 6, 1, 3000), 0), 0);
        assert_eq!(run(&p, &tcp_frame([0; 4], [1; 4], 5, 1, 0, 0), 0), 0);
        let mut arp = vec![0u8; 42];
        arp[12..14].copy_from_slice(&[0x08, 0x06]);
        assert_eq!(run(&p, &arp, 0), 0);
    }

    #[test]
    fn rst_filter_needs_outgoing_rst_from_us() {
        let us = [198, 18, 1, 1];
        let p = outgoing_rst_from(Some(Ipv4Addr::from(us)), None, 80);
        let mut rst = tcp_frame([9; 4], us, 5, 6, 80, 4000);
        rst[14 + 20 + 13] = 0x14; // RST|ACK
        assert_ne!(run(&p, &rst, PACKET_OUTGOING), 0);
        assert_eq!(run(&p, &rst, 0), 0, "incoming");
        let mut syn = rst.clone();
        syn[14 + 20 + 13] = 0x02;
        assert_eq!(run(&p, &syn, PACKET_OUTGOING), 0);
        let mut other = tcp_frame([9; 4], us, 5, 6, 81, 4000);
        other[14 + 20 + 13] = 0x04;
        assert_eq!(run(&p, &other, PACKET_OUTGOING), 0);
    }

    /// An IPv6 TCP frame from `src:sport` with `flags`.
    fn ipv6_tcp_from(src: Ipv6Addr, sport: u16, flags: u8) -> Vec<u8> {
        let mut f = ipv6_frame("2001:2::99".parse().unwrap(), 6, 4000);
        f[14 + 8..14 + 24].copy_from_slice(&src.octets());
        f[14 + 40..14 + 42].copy_from_slice(&sport.to_be_bytes());
        f[14 + 40 + 13] = flags;
        f
    }

    /// Both families: outgoing RSTs from our IPv4 or IPv6 address and port
    /// count; SYNs, other ports, other addresses, incoming frames do not.
    #[test]
    fn rst_filter_both_families() {
        let us = [198, 18, 1, 1];
        let us6: Ipv6Addr = "2001:2:0:1::1".parse().unwrap();
        let other6: Ipv6Addr = "2001:2:0:1::2".parse().unwrap();
        let p = outgoing_rst_from(Some(Ipv4Addr::from(us)), Some(us6), 80);
        assert_ne!(run(&p, &ipv6_tcp_from(us6, 80, 0x14), PACKET_OUTGOING), 0);
        assert_ne!(run(&p, &ipv6_tcp_from(us6, 80, 0x04), PACKET_OUTGOING), 0);
        assert_eq!(run(&p, &ipv6_tcp_from(us6, 80, 0x14), 0), 0, "incoming");
        assert_eq!(run(&p, &ipv6_tcp_from(us6, 80, 0x12), PACKET_OUTGOING), 0);
        assert_eq!(run(&p, &ipv6_tcp_from(us6, 81, 0x04), PACKET_OUTGOING), 0);
        assert_eq!(
            run(&p, &ipv6_tcp_from(other6, 80, 0x04), PACKET_OUTGOING),
            0
        );
        let mut udp = ipv6_tcp_from(us6, 80, 0x04);
        udp[14 + 6] = 17;
        assert_eq!(run(&p, &udp, PACKET_OUTGOING), 0);
        // IPv4 as before.
        let mut rst = tcp_frame([9; 4], us, 5, 6, 80, 4000);
        rst[14 + 20 + 13] = 0x04;
        assert_ne!(run(&p, &rst, PACKET_OUTGOING), 0);
        // IPv6 alone: no IPv4 counts; without IPv6, no IPv6 counts.
        let only6 = outgoing_rst_from(None, Some(us6), 80);
        assert_ne!(
            run(&only6, &ipv6_tcp_from(us6, 80, 0x04), PACKET_OUTGOING),
            0
        );
        assert_eq!(run(&only6, &rst, PACKET_OUTGOING), 0);
        let only4 = outgoing_rst_from(Some(Ipv4Addr::from(us)), None, 80);
        assert_eq!(
            run(&only4, &ipv6_tcp_from(us6, 80, 0x04), PACKET_OUTGOING),
            0
        );
    }

    // ---- the fanout program: packets from the network header on ----

    const V4: u32 = 0x0800;
    const V6: u32 = 0x86dd;
    const US4: [u8; 4] = [198, 18, 1, 1];
    const ROUTER4: [u8; 4] = [198, 18, 2, 1];

    /// An IPv4 TCP segment (no link-layer header) with `ihl` words of header.
    fn ip4_tcp(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, ihl: u8) -> Vec<u8> {
        let mut p = tcp_frame(dst, src, ihl, 6, sport, dport);
        p.drain(..14);
        p[10] = 0xaa; // a checksum, anything
        p
    }

    /// An ICMP error of `typ` from the router to us (outer header of `ihl`
    /// words) quoting the IP header and the first 8 bytes of `ours`, as
    /// RFC 792 asks at least.
    fn icmp4_error(typ: u8, ihl: u8, ours: &[u8]) -> Vec<u8> {
        let quote_len = usize::from(ours[0] & 0xf) * 4 + 8;
        let mut p = vec![0u8; usize::from(ihl) * 4 + 8];
        p[0] = 0x40 | ihl;
        p[9] = 1;
        p[12..16].copy_from_slice(&ROUTER4);
        p[16..20].copy_from_slice(&US4);
        let icmp = usize::from(ihl) * 4;
        p[icmp] = typ;
        p[icmp + 1] = 4; // fragmentation needed, for type 3
        p[icmp + 6..icmp + 8].copy_from_slice(&1280u16.to_be_bytes());
        p.extend_from_slice(&ours[..quote_len]);
        p
    }

    fn us6() -> Ipv6Addr {
        "2001:2:0:1::10".parse().unwrap()
    }

    /// An IPv6 TCP segment behind extension headers `ext` (next header
    /// values, each header 16 bytes long).
    fn ip6_tcp(src: Ipv6Addr, dst: Ipv6Addr, sport: u16, dport: u16, ext: &[u8]) -> Vec<u8> {
        let mut p = vec![0u8; 40];
        p[0] = 0x60;
        p[6] = ext.first().copied().unwrap_or(6);
        p[7] = 64;
        p[8..24].copy_from_slice(&src.octets());
        p[24..40].copy_from_slice(&dst.octets());
        for (i, _) in ext.iter().enumerate() {
            let mut h = [0u8; 16];
            h[0] = ext.get(i + 1).copied().unwrap_or(6);
            h[1] = 1; // 16 bytes
            h[2] = 0x01; // PadN over the rest
            h[3] = 12;
            p.extend_from_slice(&h);
        }
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&sport.to_be_bytes());
        tcp[2..4].copy_from_slice(&dport.to_be_bytes());
        tcp[12] = 0x50;
        p.extend_from_slice(&tcp);
        let plen = u16::try_from(p.len() - 40).unwrap();
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    }

    /// An ICMPv6 message of `typ` from a router to us quoting `ours` whole.
    fn icmp6(typ: u8, ours: &[u8]) -> Vec<u8> {
        let router: Ipv6Addr = "2001:2:0:2::1".parse().unwrap();
        let mut p = vec![0u8; 48];
        p[0] = 0x60;
        p[6] = 58;
        p[8..24].copy_from_slice(&router.octets());
        p[24..40].copy_from_slice(&us6().octets());
        p[40] = typ;
        p[44..48].copy_from_slice(&1280u32.to_be_bytes());
        p.extend_from_slice(ours);
        p
    }

    fn hash(prog: &[Insn], pkt: &[u8], protocol: u32) -> u32 {
        exec(prog, pkt, 0, protocol).0
    }

    /// IPv4: a segment from the peer and an ICMP error (fragmentation
    /// needed, time exceeded, parameter problem) quoting our segment of
    /// the same connection get the same value, so the same socket for any
    /// number of them; IPv4 options on either header do not matter.
    #[test]
    fn fanout_sends_an_icmp_error_where_its_connection_is() {
        let p = fanout_by_peer();
        let mut seen = std::collections::HashSet::new();
        for (peer, port) in [
            ([198, 18, 0, 2], 40000),
            ([198, 18, 0, 2], 40002),
            ([198, 18, 0, 3], 40000),
            ([203, 0, 113, 9], 1),
            ([198, 18, 0, 2], 65535),
        ] {
            let theirs = hash(&p, &ip4_tcp(peer, US4, port, 3000, 5), V4);
            seen.insert(theirs);
            assert_eq!(hash(&p, &ip4_tcp(peer, US4, port, 3000, 7), V4), theirs);
            for typ in [3, 11, 12] {
                for (ihl_out, ihl_ours) in [(5, 5), (6, 5), (5, 8), (15, 15)] {
                    let ours = ip4_tcp(US4, peer, 3000, port, ihl_ours);
                    assert_eq!(
                        hash(&p, &icmp4_error(typ, ihl_out, &ours), V4),
                        theirs,
                        "type {typ}, {ihl_out}/{ihl_ours} header words, {peer:?}:{port}"
                    );
                }
            }
        }
        assert_eq!(seen.len(), 5, "different connections, different values");
    }

    /// IPv6: the same for ICMPv6 errors (packet too big, unreachable, time
    /// exceeded, parameter problem) quoting our segment, and for the
    /// peer's segments with or without extension headers (as many as the
    /// endpoint walks).
    #[test]
    fn fanout_sends_an_icmpv6_error_where_its_connection_is() {
        let p = fanout_by_peer();
        let mut seen = std::collections::HashSet::new();
        for (peer, port) in [
            ("2001:2:0:3::2", 40000),
            ("2001:2:0:3::2", 40002),
            ("2001:2:0:3::3", 40000),
            ("fe80::1", 1),
            ("2001:db8:ffff:1:2:3:4:5", 65535),
        ] {
            let peer: Ipv6Addr = peer.parse().unwrap();
            let theirs = hash(&p, &ip6_tcp(peer, us6(), port, 3000, &[]), V6);
            seen.insert(theirs);
            for ext in [
                &[0u8][..],
                &[60],
                &[0, 60, 43, 60],
                &[60; FANOUT_EXT_HEADERS],
            ] {
                assert_eq!(
                    hash(&p, &ip6_tcp(peer, us6(), port, 3000, ext), V6),
                    theirs,
                    "extension headers {ext:?}"
                );
            }
            let ours = ip6_tcp(us6(), peer, 3000, port, &[]);
            for typ in [1, 2, 3, 4] {
                assert_eq!(hash(&p, &icmp6(typ, &ours), V6), theirs, "type {typ}");
                // Cut right after the ports: still found.
                assert_eq!(hash(&p, &icmp6(typ, &ours[..44]), V6), theirs);
            }
        }
        assert_eq!(seen.len(), 5, "different connections, different values");
        // Beyond what the endpoint walks: socket 0 (the endpoint drops it).
        let far = ip6_tcp(us6(), us6(), 1, 3000, &[60; FANOUT_EXT_HEADERS + 1]);
        assert_eq!(hash(&p, &far, V6), 0);
    }

    /// Frames that are no connection's go to socket 0: ARP, ICMP echo
    /// requests, NDP and ICMPv6 echo, UDP, and packets cut before the
    /// ports.
    #[test]
    fn fanout_sends_the_rest_to_socket_0() {
        let p = fanout_by_peer();
        assert_eq!(hash(&p, &[0u8; 28], 0x0806), 0, "ARP");
        let tcp = ip4_tcp([198, 18, 0, 2], US4, 40000, 3000, 5);
        let mut echo = icmp4_error(8, 5, &tcp);
        assert_eq!(hash(&p, &echo, V4), 0, "echo request");
        echo[20] = 5; // redirect: not acted on
        assert_eq!(hash(&p, &echo, V4), 0);
        let mut udp = tcp.clone();
        udp[9] = 17;
        assert_eq!(hash(&p, &udp, V4), 0, "UDP");
        assert_eq!(hash(&p, &tcp[..21], V4), 0, "cut before the ports");
        let err = icmp4_error(3, 5, &tcp);
        assert_eq!(hash(&p, &err[..err.len() - 8], V4), 0, "quote cut");
        let tcp6 = ip6_tcp("2001:2::2".parse().unwrap(), us6(), 40000, 3000, &[]);
        for typ in [128, 129, 133, 134, 135, 136] {
            assert_eq!(hash(&p, &icmp6(typ, &tcp6), V6), 0, "ICMPv6 type {typ}");
        }
        assert_ne!(hash(&p, &tcp6, V6), 0);
        assert_eq!(hash(&p, &tcp6[..41], V6), 0, "cut before the ports");
        assert_eq!(hash(&p, &[0x45; 10], 0x88cc), 0, "LLDP");
    }

    /// The `i`th packet of a case, and its EtherType.
    type Packet = dyn Fn(u32) -> (Vec<u8>, u32);

    /// The connections of one client spread evenly over 2 to 8 sockets:
    /// Linux's even ephemeral ports, consecutive ports, and many clients
    /// on one port; IPv4 and IPv6. Within 15 % of the mean each.
    #[test]
    fn fanout_spreads_one_clients_connections() {
        let p = fanout_by_peer();
        const CONNS: u32 = 2000;
        let peer6: Ipv6Addr = "2001:2:0:3::2".parse().unwrap();
        let cases: [(&str, Box<Packet>); 5] = [
            (
                "IPv4, even ports",
                Box::new(|i| {
                    (
                        ip4_tcp([198, 18, 0, 2], US4, 32768 + 2 * i as u16, 80, 5),
                        V4,
                    )
                }),
            ),
            (
                "IPv4, consecutive ports",
                Box::new(|i| (ip4_tcp([198, 18, 0, 2], US4, 50000 + i as u16, 80, 5), V4)),
            ),
            (
                "IPv4, clients on one port",
                Box::new(|i| {
                    let a = (0xc612_0000 + i).to_be_bytes();
                    (ip4_tcp(a, US4, 40000, 80, 5), V4)
                }),
            ),
            (
                "IPv6, even ports",
                Box::new(move |i| (ip6_tcp(peer6, us6(), 32768 + 2 * i as u16, 80, &[]), V6)),
            ),
            (
                "IPv6, clients on one port",
                Box::new(|i| {
                    let a =
                        Ipv6Addr::from(0x2001_0002_0000_0003_0000_0000_0000_0000 + u128::from(i));
                    (ip6_tcp(a, us6(), 40000, 80, &[]), V6)
                }),
            ),
        ];
        for (what, make) in &cases {
            let hashes: Vec<u32> = (0..CONNS)
                .map(|i| {
                    let (pkt, proto) = make(i);
                    hash(&p, &pkt, proto)
                })
                .collect();
            for n in 2..=8u32 {
                let mut count = vec![0u32; n as usize];
                for h in &hashes {
                    count[(h % n) as usize] += 1;
                }
                let mean = CONNS / n;
                assert!(
                    count.iter().all(|&c| c.abs_diff(mean) * 100 <= mean * 15),
                    "{what}, {n} sockets: {count:?}"
                );
            }
        }
    }

    /// The program stays short on the common paths (the kernel runs it on
    /// every received frame), is within classic BPF's limits, and every
    /// jump lands inside it.
    #[test]
    fn fanout_program_is_short_and_well_formed() {
        let p = fanout_by_peer();
        assert!(p.len() < 256, "{} instructions", p.len());
        for (i, insn) in p.iter().enumerate() {
            if insn.code & 0x07 == 0x05 {
                assert!(i + 1 + usize::from(insn.jt.max(insn.jf)) < p.len(), "{i}");
            }
        }
        let steps = |pkt: &[u8], proto| exec(&p, pkt, 0, proto).1;
        let v4 = steps(&ip4_tcp([198, 18, 0, 2], US4, 40000, 80, 5), V4);
        let peer6: Ipv6Addr = "2001:2::2".parse().unwrap();
        let v6 = steps(&ip6_tcp(peer6, us6(), 40000, 80, &[]), V6);
        assert!(v4 <= 16, "IPv4 TCP: {v4} instructions");
        assert!(v6 <= 30, "IPv6 TCP: {v6} instructions");
        eprintln!(
            "fanout program: {} instructions; IPv4 TCP runs {v4}, IPv6 TCP {v6}",
            p.len()
        );
    }
}
