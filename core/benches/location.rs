//! Location benchmarks (being written).
fn main() {}
