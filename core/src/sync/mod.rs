//! Upload to the team's server (docs/protocol.md). `protocol` holds the wire types both sides
//! share; the phone's sync engine builds on them without doing any I/O itself.

pub mod protocol;
