//! Writing to stdout without panicking when the reader goes away (`safehome demo | head`).

use std::io::Write;

/// Write one line to stdout. A closed pipe ends the program quietly, as Unix tools do;
/// other write errors are ignored (there is nowhere left to report them).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `outln!` that survives a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::line(format_args!($($arg)*)) };
}
