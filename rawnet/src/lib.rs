//! Linux AF_PACKET transport.
