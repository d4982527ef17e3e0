//! The canonical bytes of a JSON value: RFC 8785, the JSON Canonicalization Scheme (JCS).
//!
//! A signed submission is hashed and signed as bytes, and those bytes will be checked on other
//! devices and on the server, so the encoding is a protocol, not an implementation detail.
//! `serde_json::to_vec` is not fit for it: the order of object members follows serde_json's map
//! type, which is a `BTreeMap` (sorted by UTF-8 bytes) unless any crate in the final link enables
//! `serde_json/preserve_order` (insertion order); and its numbers are ryu's (`2.0`, `1e20`), not
//! ECMAScript's. This encoder depends on neither: it collects and sorts members itself, by UTF-16
//! code units as JCS requires, and lays out numbers by ECMAScript's `Number.prototype.toString`.
//!
//! Values JCS cannot carry exactly are refused with the JSON path of the offending value: integers
//! whose digits would change on the way through a double (JCS numbers are doubles, so beyond ±2^53
//! it would print 9007199254740993 as 9007199254740992), non-finite numbers, and nesting deeper
//! than [`MAX_DEPTH`].

use serde_json::{Number, Value};

/// Every integer up to this magnitude is exactly a double and is printed as its own digits.
/// Beyond it an `i64`/`u64` is encoded only if the double nearest to it prints as the same digits
/// (9007199254740994 does; 9007199254740993 and 2^60 = 1152921504606846976 do not), and refused
/// otherwise rather than silently changed.
pub const MAX_EXACT_INTEGER: u64 = 1 << 53;

/// Deepest nesting of arrays and objects. serde_json's reader refuses a document nested 128 levels
/// deep, so canonical bytes beyond this could be signed but not read back by a verifier built on
/// it.
pub const MAX_DEPTH: usize = 127;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    #[error("{}: an integer beyond ±2^53 whose digits a double does not keep", at(.path))]
    UnsafeInteger { path: String },
    #[error("{}: not a finite number", at(.path))]
    NotFinite { path: String },
    #[error("{}: a member name appears twice", at(.path))]
    DuplicateName { path: String },
    #[error("{}: nested deeper than {MAX_DEPTH} levels", at(.path))]
    TooDeep { path: String },
}

fn at(path: &str) -> &str {
    if path.is_empty() { "the top-level value" } else { path }
}

/// The RFC 8785 encoding of `value`: members sorted by UTF-16 code units, strings escaped as
/// ECMAScript's `JSON.stringify` does, numbers as ECMAScript prints them, no whitespace.
pub fn to_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    write_value(value, &Trail::Root, 0, &mut out)?;
    Ok(out)
}

/// Where a value sits, as a chain of borrowed steps up to the root: nothing is allocated while
/// encoding, and the path text is built only for an error.
enum Trail<'a> {
    Root,
    Member(&'a Trail<'a>, &'a str),
    Index(&'a Trail<'a>, usize),
}

impl Trail<'_> {
    /// `data.children[2].age`; a name that is not a plain identifier is quoted (`data["a.b"]`) so
    /// the path stays unambiguous.
    fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    fn render_into(&self, out: &mut String) {
        match self {
            Trail::Root => {}
            Trail::Member(up, name) => {
                up.render_into(out);
                let plain = !name.is_empty()
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                if plain {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(name);
                } else {
                    out.push_str(&format!("[{name:?}]"));
                }
            }
            Trail::Index(up, i) => {
                up.render_into(out);
                out.push_str(&format!("[{i}]"));
            }
        }
    }
}

fn write_value(
    value: &Value,
    trail: &Trail<'_>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, trail, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            let depth = enter(depth, trail)?;
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, &Trail::Index(trail, i), depth, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let depth = enter(depth, trail)?;
            write_members(map.iter().map(|(k, v)| (k.as_str(), v)), trail, depth, out)?;
        }
    }
    Ok(())
}

fn enter(depth: usize, trail: &Trail<'_>) -> Result<usize, CanonicalError> {
    if depth >= MAX_DEPTH {
        return Err(CanonicalError::TooDeep { path: trail.render() });
    }
    Ok(depth + 1)
}

/// An object from its members in whatever order the container yields them: the order written is
/// decided here, never by the map type.
fn write_members<'a>(
    members: impl IntoIterator<Item = (&'a str, &'a Value)>,
    trail: &Trail<'_>,
    depth: usize,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    let mut members: Vec<(&str, &Value)> = members.into_iter().collect();
    members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
    out.push(b'{');
    let mut previous: Option<&str> = None;
    for (name, value) in members {
        let here = Trail::Member(trail, name);
        if let Some(p) = previous {
            // serde_json's map cannot hold a name twice, but a signed document with a repeated
            // name reads differently in different parsers (first or last wins): never emit one.
            if p == name {
                return Err(CanonicalError::DuplicateName { path: here.render() });
            }
            out.push(b',');
        }
        previous = Some(name);
        write_string(name, out);
        out.push(b':');
        write_value(value, &here, depth, out)?;
    }
    out.push(b'}');
    Ok(())
}

/// JSON.stringify's escaping: the two characters that must be escaped, the five controls with a
/// short form, other controls as `\u00xx` (lowercase hex), and everything else — `/`, DEL,
/// U+2028/U+2029, all non-ASCII — as its own UTF-8 bytes.
fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Runs of bytes that need no escape are copied in one go; a multi-byte UTF-8 sequence has
    // only bytes >= 0x80, so it is always part of such a run.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            out.extend_from_slice(b"\\u00");
            out.extend_from_slice(crate::hex::encode(&[b]).as_bytes());
        } else {
            out.extend_from_slice(short);
        }
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_number(n: &Number, trail: &Trail<'_>, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let integer = n.as_i64().map(|i| (i < 0, i.unsigned_abs()));
    if let Some((negative, magnitude)) = integer.or_else(|| n.as_u64().map(|u| (false, u))) {
        if magnitude <= MAX_EXACT_INTEGER {
            // Exactly its double, and ECMAScript prints a double of that size as its plain
            // integer digits: the integer's own digits are the canonical form.
            if negative {
                out.push(b'-');
            }
            out.extend_from_slice(magnitude.to_string().as_bytes());
        } else {
            // A JCS reader holds the nearest double, and JCS prints that double with its shortest
            // digits padded with zeros. The integer is kept only if that gives its own digits
            // back. Such integers are exactly what reading the canonical text of a large double
            // yields (6.0457436119985e17 prints as 604574361199850000, read back as a u64), so
            // accepting them keeps canonical bytes re-encodable; any other is refused.
            let digits = magnitude.to_string();
            let mut printed = Vec::with_capacity(digits.len());
            write_double(magnitude as f64, &mut printed);
            if printed != digits.as_bytes() {
                return Err(CanonicalError::UnsafeInteger { path: trail.render() });
            }
            if negative {
                out.push(b'-');
            }
            out.extend_from_slice(digits.as_bytes());
        }
    } else {
        // serde_json cannot hold NaN or infinity today, but with `arbitrary_precision` a number
        // may not fit a double at all: refuse rather than guess.
        match n.as_f64() {
            Some(x) if x.is_finite() => write_double(x, out),
            _ => return Err(CanonicalError::NotFinite { path: trail.render() }),
        }
    }
    Ok(())
}

/// The digits ECMAScript prints for a positive finite double, as `d.ddde±x` text: the fewest
/// significant digits that read back as the same double, the closest such to its exact value,
/// and of two equally close the even one.
fn shortest_digits(x: f64) -> String {
    // Rust's `{:e}` gives the fewest digits and the closest, but breaks an exact tie upwards
    // (0x43143FF3C1CB0959 is exactly 1424953923781206.25: Rust prints …06.3, ECMAScript …06.2).
    let shortest = format!("{x:e}");
    let k = shortest.bytes().take_while(|&b| b != b'e').filter(u8::is_ascii_digit).count();
    // Rust's fixed-precision formatting rounds the exact value half to even, which settles a tie
    // the ECMAScript way; it is only taken when it still reads back as the same double, since
    // next to a power of two the interval that reads back is narrower below than above.
    let nearest = format!("{x:.prec$e}", prec = k.saturating_sub(1));
    if nearest != shortest && nearest.parse::<f64>() == Ok(x) { nearest } else { shortest }
}

/// ECMAScript's Number::toString for a finite double (ECMA-262, Number::toString, radix 10).
fn write_double(x: f64, out: &mut Vec<u8>) {
    // Both zeros print as "0".
    if x == 0.0 {
        out.push(b'0');
        return;
    }
    if x < 0.0 {
        out.push(b'-');
    }
    let sci = shortest_digits(x.abs());
    let mut digits: Vec<u8> = Vec::with_capacity(17);
    let mut exp: i32 = 0;
    let mut exp_negative = false;
    let mut in_exp = false;
    for b in sci.bytes() {
        match b {
            b'e' => in_exp = true,
            b'-' if in_exp => exp_negative = true,
            b'0'..=b'9' if in_exp => exp = exp * 10 + i32::from(b - b'0'),
            b'0'..=b'9' => digits.push(b),
            _ => {} // the decimal point
        }
    }
    if exp_negative {
        exp = -exp;
    }
    // Shortest digits never end in 0; trimming keeps the layout right even if they did.
    while digits.len() > 1 && digits.last() == Some(&b'0') {
        digits.pop();
    }
    // In ECMAScript's terms the value is 0.d1d2...dk × 10^n.
    let k = digits.len() as i32;
    let n = exp + 1;
    if k <= n && n <= 21 {
        // An integer below 1e21: all digits, then zeros.
        out.extend_from_slice(&digits);
        out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        // A decimal point inside the digits (here n < k).
        let (int, frac) = digits.split_at((n as usize).min(digits.len()));
        out.extend_from_slice(int);
        out.push(b'.');
        out.extend_from_slice(frac);
    } else if -6 < n && n <= 0 {
        // Small but not tiny: at most five zeros after the point (0.000001).
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-n) as usize));
        out.extend_from_slice(&digits);
    } else {
        // Exponential: d[.ddd]e±NN, with the sign always written.
        let (first, rest) = digits.split_at(1.min(digits.len()));
        out.extend_from_slice(first);
        if !rest.is_empty() {
            out.push(b'.');
            out.extend_from_slice(rest);
        }
        out.push(b'e');
        out.push(if n - 1 < 0 { b'-' } else { b'+' });
        out.extend_from_slice((n - 1).unsigned_abs().to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn canon(v: &Value) -> String {
        String::from_utf8(to_vec(v).unwrap()).unwrap()
    }

    fn double(x: f64) -> String {
        let mut out = Vec::new();
        write_double(x, &mut out);
        String::from_utf8(out).unwrap()
    }

    // -----------------------------------------------------------------------------------------
    // RFC 8785

    /// The number samples of RFC 8785 (appendix B), by their IEEE-754 bit patterns.
    #[test]
    fn rfc8785_number_samples() {
        let samples: &[(u64, &str)] = &[
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for &(bits, want) in samples {
            let x = f64::from_bits(bits);
            assert_eq!(double(x), want, "{bits:#018x}");
            // Through a serde_json value too (the path finalize takes).
            assert_eq!(canon(&json!(x)), want, "{bits:#018x} as a Value");
        }
    }

    #[test]
    fn ecmascript_layout_around_the_thresholds() {
        let cases: &[(f64, &str)] = &[
            (1e21, "1e+21"),
            (1e20, "100000000000000000000"),
            (123456789012345680000.0, "123456789012345680000"),
            (1.5e21, "1.5e+21"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (0.000001, "0.000001"),
            (0.0000012345, "0.0000012345"),
            (-0.0, "0"),
            (0.1, "0.1"),
            (6.0, "6"),
            (120.0, "120"),
            (4.5, "4.5"),
            (0.002, "0.002"),
            (1e30, "1e+30"),
            (1e-27, "1e-27"),
            (21.905, "21.905"),
            (105.648, "105.648"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (-1.5, "-1.5"),
            (123.456e5, "12345600"),
        ];
        for &(x, want) in cases {
            assert_eq!(double(x), want, "{x:e}");
        }
    }

    /// Exact ties between two shortest candidates go to the even digit, as ECMAScript (and V8)
    /// print them; Rust's own shortest formatting rounds these up.
    #[test]
    fn ties_go_to_the_even_digit() {
        let ties: &[(u64, &str, &str)] = &[
            (0x43143ff3c1cb0959, "1424953923781206.2", "1424953923781206.3"),
            (0x42e9d2f5feceba84, "227150887548372.12", "227150887548372.13"),
            (0x4303370a06ffb352, "676067595515498.2", "676067595515498.3"),
        ];
        for &(bits, want, rust) in ties {
            let x = f64::from_bits(bits);
            assert_eq!(format!("{x}"), rust, "the case this guards against");
            assert_eq!(double(x), want);
            assert_eq!(want.parse::<f64>().unwrap(), x);
        }
    }

    /// The example of RFC 8785 section 3.2.2, built with Rust literals: the compiler reads
    /// `333333333.33333329` correctly rounded, which serde_json's default reader does not
    /// promise.
    #[test]
    #[allow(clippy::excessive_precision)] // the RFC's input, digit for digit
    fn rfc8785_main_example() {
        let v = json!({
            "numbers": [333333333.33333329_f64, 1e30_f64, 4.50_f64, 2e-3_f64, 1e-27_f64],
            "string": "\u{20ac}$\u{000f}\nA'B\"\\\\\"/",
            "literals": [null, true, false]
        });
        assert_eq!(
            canon(&v),
            "{\"literals\":[null,true,false],\"numbers\":[333333333.3333333,1e+30,4.5,0.002,1e-27],\
             \"string\":\"\u{20ac}$\\u000f\\nA'B\\\"\\\\\\\\\\\"/\"}"
        );
    }

    /// RFC 8785 section 3.2.3: names sort by UTF-16 code units, so the emoji (a surrogate pair
    /// starting 0xD83D) comes before U+FB33, although its UTF-8 bytes sort after.
    #[test]
    fn rfc8785_sort_example() {
        let v = json!({
            "\u{20ac}": "Euro Sign",
            "\r": "Carriage Return",
            "\u{fb33}": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\u{1f600}": "Emoji: Grinning Face",
            "\u{0080}": "Control",
            "\u{00f6}": "Latin Small Letter O With Diaeresis"
        });
        assert_eq!(
            canon(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{0080}\":\"Control\",\
             \"\u{00f6}\":\"Latin Small Letter O With Diaeresis\",\"\u{20ac}\":\"Euro Sign\",\
             \"\u{1f600}\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    /// The case where relying on serde_json's sorted map would be wrong even without
    /// `preserve_order`: its `BTreeMap` orders by UTF-8 bytes.
    #[test]
    fn utf16_order_differs_from_serde_json_order() {
        let v = json!({"\u{ff61}": 1, "\u{10000}": 2});
        assert_eq!(canon(&v), "{\"\u{10000}\":2,\"\u{ff61}\":1}");
        assert_eq!(serde_json::to_string(&v).unwrap(), "{\"\u{ff61}\":1,\"\u{10000}\":2}");
    }

    #[test]
    fn strings_are_escaped_as_json_stringify_does() {
        let all_controls: String = (0u8..0x20).map(char::from).collect();
        assert_eq!(
            canon(&json!(all_controls)),
            "\"\\u0000\\u0001\\u0002\\u0003\\u0004\\u0005\\u0006\\u0007\\b\\t\\n\\u000b\\f\\r\
             \\u000e\\u000f\\u0010\\u0011\\u0012\\u0013\\u0014\\u0015\\u0016\\u0017\\u0018\
             \\u0019\\u001a\\u001b\\u001c\\u001d\\u001e\\u001f\""
        );
        // Written literally: slash, DEL, C1 controls, line/paragraph separators, astral chars.
        let literal = "/\u{7f}\u{80}\u{9f}\u{2028}\u{2029}\u{fffd}\u{1f600} Ma Văn Hùng";
        assert_eq!(canon(&json!(literal)), format!("\"{literal}\""));
        assert_eq!(canon(&json!("\"\\")), "\"\\\"\\\\\"");
        assert_eq!(canon(&json!("")), "\"\"");
    }

    #[test]
    fn no_whitespace_and_literals() {
        let v = json!({"b": [1, 2, {"c": null}], "a": [true, false, [], {}]});
        assert_eq!(canon(&v), "{\"a\":[true,false,[],{}],\"b\":[1,2,{\"c\":null}]}");
    }

    // -----------------------------------------------------------------------------------------
    // refusals

    #[test]
    fn integers_whose_digits_a_double_changes_are_refused_with_their_path() {
        let two53 = 1u64 << 53;
        let ok = json!([two53, -(two53 as i64), two53 - 1, 1_795_924_800_000_i64, 0, -1]);
        assert_eq!(
            canon(&ok),
            "[9007199254740992,-9007199254740992,9007199254740991,1795924800000,0,-1]"
        );
        let bad = json!({"data": {"children": [{}, {}, {"age": two53 + 1}]}});
        assert_eq!(
            to_vec(&bad),
            Err(CanonicalError::UnsafeInteger { path: "data.children[2].age".into() })
        );
        // Beyond 2^53 an integer's digits change through a double, even when the double holds
        // it exactly (2^60 would print as 1152921504606847000).
        let refused = [
            json!(-(two53 as i64) - 1),
            json!(two53 + 3),
            json!(1u64 << 60),
            json!(i64::MIN),
            json!(i64::MAX),
            json!(u64::MAX),
        ];
        for v in refused {
            assert_eq!(to_vec(&v), Err(CanonicalError::UnsafeInteger { path: String::new() }));
        }
        // Unless the nearest double prints as the same digits.
        assert_eq!(canon(&json!(two53 + 2)), "9007199254740994");
        assert_eq!(canon(&json!(-1_000_000_000_000_000_000_i64)), "-1000000000000000000");
        assert_eq!(canon(&json!(604_574_361_199_850_000_u64)), "604574361199850000");
        // A double is what it is, and is encoded; the canonical text of a large one reads back
        // (with serde_json) as an integer, which encodes to the same text.
        assert_eq!(canon(&json!(1e300_f64)), "1e+300");
        for x in [9007199254750000.0_f64, 6.0457436119985e17, 2f64.powi(60), 1.8e19] {
            let text = canon(&json!(x));
            let back: Value = serde_json::from_str(&text).unwrap();
            assert!(back.is_u64(), "{text}");
            assert_eq!(canon(&back), text);
        }
        let e = to_vec(&json!({"a b": [u64::MAX]})).unwrap_err();
        assert_eq!(
            e.to_string(),
            "[\"a b\"][0]: an integer beyond ±2^53 whose digits a double does not keep"
        );
    }

    #[test]
    fn a_repeated_name_is_refused() {
        let one = json!(1);
        let mut out = Vec::new();
        let members = [("x", &one), ("y", &one), ("x", &one)];
        let e = write_members(members, &Trail::Member(&Trail::Root, "data"), 1, &mut out);
        assert_eq!(e, Err(CanonicalError::DuplicateName { path: "data.x".into() }));
    }

    #[test]
    fn nesting_is_limited_to_what_serde_json_reads_back() {
        fn nested(levels: usize) -> Value {
            (0..levels).fold(json!(0), |v, _| json!([v]))
        }
        let deepest = to_vec(&nested(MAX_DEPTH)).unwrap();
        let back: Value = serde_json::from_slice(&deepest).unwrap();
        assert_eq!(back, nested(MAX_DEPTH));
        let too_deep = format!("{}0{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(serde_json::from_str::<Value>(&too_deep).is_err(), "serde_json's own limit");
        let path = "[0]".repeat(MAX_DEPTH);
        assert_eq!(to_vec(&nested(MAX_DEPTH + 1)), Err(CanonicalError::TooDeep { path }));
    }

    #[test]
    fn paths_quote_names_that_are_not_identifiers() {
        let root = Trail::Root;
        let data = Trail::Member(&root, "data");
        let odd = Trail::Member(&data, "a.b");
        let item = Trail::Index(&odd, 3);
        let top = Trail::Index(&root, 0);
        assert_eq!(item.render(), "data[\"a.b\"][3]");
        assert_eq!(Trail::Member(&top, "x").render(), "[0].x");
        assert_eq!(Trail::Member(&root, "").render(), "[\"\"]");
    }

    // -----------------------------------------------------------------------------------------
    // properties

    /// Names and strings that stress escaping and UTF-16 ordering: controls, quote, backslash,
    /// DEL, C1, U+E000..U+FFFF against astral characters.
    fn text() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-c\\x00-\\x1f\"\\\\/\\x7f\\x{80}\\x{e9}\\x{2028}\\x{20ac}\\x{e000}\\x{fb33}\\x{ff61}\\x{ffff}\\x{10000}\\x{1f600}]{0,5}",
        ]
    }

    /// Numbers that serde_json's default reader (not correctly rounded) reads back exactly: safe
    /// integers, and doubles with at most 15 significant digits whose power of ten stays within
    /// 10^±22, which that reader computes with one correctly rounded operation. The layout of
    /// every other double is checked against the standard library's reader below.
    fn number() -> impl Strategy<Value = Value> {
        let limit = MAX_EXACT_INTEGER as i64;
        prop_oneof![
            (-limit..=limit).prop_map(Value::from),
            (0..=MAX_EXACT_INTEGER).prop_map(Value::from),
            (-999_999_999_999_999_i64..=999_999_999_999_999, -22_i32..=4)
                .prop_map(|(m, e)| Value::from(format!("{m}e{e}").parse::<f64>().unwrap())),
            Just(Value::from(-0.0_f64)),
        ]
    }

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number(),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(5, 96, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::vec((text(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    /// Equal as JSON data: numbers by their value (a double `2.0` comes back as the integer `2`).
    fn same(a: &Value, b: &Value) -> bool {
        match (a, b) {
            (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
            (Value::Array(x), Value::Array(y)) => {
                x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
            }
            (Value::Object(x), Value::Object(y)) => {
                x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
            }
            _ => a == b,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn output_reads_back_equal_and_is_a_fixed_point(v in json_value()) {
            let bytes = to_vec(&v).unwrap();
            // Every control character is escaped and there is no whitespace but spaces inside
            // strings.
            prop_assert!(bytes.iter().all(|&b| b >= 0x20));
            let back: Value = serde_json::from_slice(&bytes).unwrap();
            prop_assert!(same(&v, &back), "{}", String::from_utf8_lossy(&bytes));
            prop_assert_eq!(to_vec(&back).unwrap(), bytes);
        }

        #[test]
        fn member_order_is_decided_here_not_by_the_container(
            members in prop::collection::btree_map(text(), number(), 0..12)
                .prop_map(|m| m.into_iter().collect::<Vec<_>>())
                .prop_shuffle(),
        ) {
            let mut sorted = members.clone();
            sorted.sort_by_key(|(name, _)| name.encode_utf16().collect::<Vec<u16>>());
            let mut reversed = sorted.clone();
            reversed.reverse();
            let emit = |list: &[(String, Value)]| {
                let mut out = Vec::new();
                write_members(list.iter().map(|(k, v)| (k.as_str(), v)), &Trail::Root, 0, &mut out)
                    .unwrap();
                out
            };
            let bytes = emit(&members);
            prop_assert_eq!(&bytes, &emit(&sorted));
            prop_assert_eq!(&bytes, &emit(&reversed));
            // And it is the order JCS asks for: built by hand from the sorted list.
            let mut want = String::from("{");
            for (i, (name, value)) in sorted.iter().enumerate() {
                if i > 0 {
                    want.push(',');
                }
                want.push_str(&canon(&json!(name)));
                want.push(':');
                want.push_str(&canon(value));
            }
            want.push('}');
            prop_assert_eq!(String::from_utf8(bytes).unwrap(), want);
            // A serde_json map of the same members, whichever order they were inserted in.
            let map: serde_json::Map<String, Value> = members.iter().cloned().collect();
            let rev: serde_json::Map<String, Value> = reversed.iter().cloned().collect();
            prop_assert_eq!(to_vec(&Value::Object(map)).unwrap(), to_vec(&Value::Object(rev)).unwrap());
        }

        /// Any integer serde_json can hold is either written as its own digits or refused: never
        /// silently changed. Within ±2^53 it is always written.
        #[test]
        fn integers_are_kept_or_refused(
            n in prop_oneof![any::<i64>().prop_map(Value::from), any::<u64>().prop_map(Value::from)],
        ) {
            let digits = n.to_string();
            match to_vec(&n) {
                Ok(bytes) => prop_assert_eq!(String::from_utf8(bytes).unwrap(), digits),
                Err(e) => {
                    prop_assert_eq!(e, CanonicalError::UnsafeInteger { path: String::new() });
                    let magnitude = n.as_i64().map_or(n.as_u64(), |i| Some(i.unsigned_abs()));
                    prop_assert!(magnitude.unwrap() > MAX_EXACT_INTEGER);
                }
            }
        }

        /// Every finite double, by its bits: the text reads back (with the standard library's
        /// correctly rounded reader) as the same double, and in the plain range it is exactly
        /// the standard library's shortest plain form.
        #[test]
        fn every_double_reads_back_exactly(bits in any::<u64>()) {
            let x = f64::from_bits(bits);
            prop_assume!(x.is_finite());
            let text = double(x);
            let back: f64 = text.parse().unwrap();
            prop_assert!(back == x, "{} -> {} -> {}", x, text, back);
            let magnitude = x.abs();
            if (1e-6..1e21).contains(&magnitude) {
                // Rust prints the same shortest digits, except that it breaks an exact tie
                // upwards where ECMAScript takes the even digit.
                let rust = format!("{x}");
                if text != rust {
                    let (mine, theirs) = (text.as_bytes(), rust.as_bytes());
                    let last = mine.len() - 1;
                    prop_assert_eq!(mine.len(), theirs.len(), "{} vs {}", text, rust);
                    prop_assert_eq!(&mine[..last], &theirs[..last], "{} vs {}", text, rust);
                    prop_assert!(mine[last] % 2 == 0 && theirs[last] == mine[last] + 1);
                }
            } else if x != 0.0 {
                let (mantissa, exp) = text.split_once('e').unwrap();
                prop_assert!(exp.starts_with('+') || exp.starts_with('-'));
                prop_assert_eq!(format!("{mantissa}e{}", exp.trim_start_matches('+')), format!("{x:e}"));
            }
        }
    }
}
