//! Writing to stdout without panicking when the reader goes away (`safehome demo | head`).

use std::io::Write;

/// Write one line to stdout. A closed pipe ends the program quietly, as Unix tools do;
/// other write errors are ignored (there is nowhere left to report them).
pub fn line(args: std::fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    written(out.write_fmt(args).and_then(|()| out.write_all(b"\n")));
}

/// A write to stdout failed: a closed pipe ends the program quietly, as Unix tools do; other
/// errors are ignored (there is nowhere left to report them).
fn written(r: std::io::Result<()>) {
    if let Err(e) = r {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
    }
}

/// `v` as pretty JSON on stdout, serialised straight into the (buffered) output rather than
/// into a string first: a large answer never exists twice in memory.
pub fn json<T: serde::Serialize + ?Sized>(v: &T) {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let r = serde_json::to_writer_pretty(&mut out, v)
        .map_err(std::io::Error::from)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    written(r);
}

/// A JSON array written to stdout one element at a time (`[`, elements, `]`), for outputs
/// with one row per input row: memory stays one row whatever the number of rows.
pub struct JsonArray {
    out: std::io::BufWriter<std::io::StdoutLock<'static>>,
    first: bool,
}

impl JsonArray {
    pub fn begin() -> JsonArray {
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        written(out.write_all(b"["));
        JsonArray { out, first: true }
    }

    pub fn push<T: serde::Serialize + ?Sized>(&mut self, v: &T) {
        let sep: &[u8] = if self.first { b"\n" } else { b",\n" };
        self.first = false;
        let r = self
            .out
            .write_all(sep)
            .and_then(|()| serde_json::to_writer(&mut self.out, v).map_err(Into::into));
        written(r);
    }

    pub fn end(mut self) {
        let r = self.out.write_all(b"\n]\n").and_then(|()| self.out.flush());
        written(r);
    }
}

/// `outln!` that survives a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::out::line(format_args!("")) };
    ($($arg:tt)*) => { $crate::out::line(format_args!($($arg)*)) };
}

/// `text` with control characters (escape sequences, carriage returns, bidi overrides) shown as
/// `\u{..}` escapes: for text from files or envelopes before it reaches a terminal.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || ('\u{202a}'..='\u{202e}').contains(&c)
            || ('\u{2066}'..='\u{2069}').contains(&c)
    };
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| if unsafe_char(c) { c.escape_unicode().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}
