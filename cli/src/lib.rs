//! The part of the command line that other programs of the workspace reuse: the blocking HTTP
//! transport of `safehome enroll` and `safehome sync` (the end-to-end fault tests drive a
//! device process with it). Everything else is the `safehome` binary's (src/main.rs).

pub mod transport;
