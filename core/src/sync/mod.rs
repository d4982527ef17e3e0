//! Upload to the team's server (docs/protocol.md). `protocol` holds the wire types both sides
//! share; the phone's sync engine builds on them and does its I/O through [`Transport`].

pub mod protocol;
pub mod transport;

pub use transport::{CHUNK_LEN, HttpRequest, HttpResponse, Transport, TransportError};
