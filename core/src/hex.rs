//! Hex: the one encoder and the one strict decoder of the workspace. Hashes, keys and
//! signatures are shown and exchanged as lower-case hex (the outbox's acknowledgements, the CLI's
//! data key file, sealed metadata).
//!
//! The decoder takes pairs of hex digits (either case) and nothing else: no sign, no white space,
//! no `0x`. `u8::from_str_radix`, which the old decoders used, also takes a leading `+`, so
//! `+f+f` passed for `ff`; a strict decoder gives each value one spelling (per case), and a typo is
//! refused rather than half read. Callers that read text from a file trim it themselves.

/// Why a hex string was refused. Offsets and lengths count bytes of the input; the refused
/// characters are never quoted (the input may be key material).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    #[error("an odd number of hex digits ({len})")]
    OddLength { len: usize },
    #[error("expected {expected} hex digits, found {found}")]
    WrongLength { expected: usize, found: usize },
    #[error("not a hex digit at byte {offset}")]
    InvalidDigit { offset: usize },
}

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The bytes of an even number of hex digits.
pub fn decode(s: &str) -> Result<Vec<u8>, HexError> {
    let digits = s.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return Err(HexError::OddLength { len: digits.len() });
    }
    digits.chunks_exact(2).enumerate().map(|(i, pair)| byte(pair, 2 * i)).collect()
}

/// Exactly `N` bytes from `2 * N` hex digits (a SHA-256 hash or a key: `decode_array::<32>`).
pub fn decode_array<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let digits = s.as_bytes();
    if digits.len() != 2 * N {
        return Err(HexError::WrongLength { expected: 2 * N, found: digits.len() });
    }
    let mut out = [0u8; N];
    for (i, (o, pair)) in out.iter_mut().zip(digits.chunks_exact(2)).enumerate() {
        *o = byte(pair, 2 * i)?;
    }
    Ok(out)
}

/// One byte from two digits at `offset`.
fn byte(pair: &[u8], offset: usize) -> Result<u8, HexError> {
    let &[hi, lo] = pair else {
        return Err(HexError::OddLength { len: offset + pair.len() });
    };
    Ok(digit(hi, offset)? << 4 | digit(lo, offset + 1)?)
}

fn digit(c: u8, offset: usize) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::InvalidDigit { offset }),
    }
}

/// Serde: `[u8; 32]` as 64 hex digits.
pub(crate) mod serde32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::encode(v))
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let s = String::deserialize(d)?;
        super::decode_array(&s).map_err(serde::de::Error::custom)
    }
}

/// Serde: `Option<[u8; 32]>` as 64 hex digits or null.
pub(crate) mod serde_opt32 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_str(&super::encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => super::decode_array(&s).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lower_case_two_digits_per_byte() {
        assert_eq!(encode(&[]), "");
        assert_eq!(encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(decode(&encode(&all)), Ok(all));
    }

    #[test]
    fn decodes_either_case() {
        assert_eq!(decode("00ff7Fa0"), Ok(vec![0x00, 0xff, 0x7f, 0xa0]));
        assert_eq!(decode(""), Ok(vec![]));
        assert_eq!(decode_array::<2>("BEef"), Ok([0xbe, 0xef]));
    }

    #[test]
    fn refuses_signs_that_from_str_radix_accepts() {
        // `u8::from_str_radix("+f", 16)` is Ok(15): the old decoders read "+f+f" as [15, 15].
        assert_eq!(decode("+f+f"), Err(HexError::InvalidDigit { offset: 0 }));
        assert_eq!(decode("0f+f"), Err(HexError::InvalidDigit { offset: 2 }));
        assert_eq!(decode("-1"), Err(HexError::InvalidDigit { offset: 0 }));
        assert_eq!(decode_array::<1>("+f"), Err(HexError::InvalidDigit { offset: 0 }));
    }

    #[test]
    fn refuses_odd_lengths_and_non_hex_characters() {
        assert_eq!(decode("abc"), Err(HexError::OddLength { len: 3 }));
        assert_eq!(decode("0g"), Err(HexError::InvalidDigit { offset: 1 }));
        assert_eq!(decode("0x00"), Err(HexError::InvalidDigit { offset: 1 }));
        assert_eq!(decode(" 0"), Err(HexError::InvalidDigit { offset: 0 }));
        assert_eq!(decode("00\n"), Err(HexError::OddLength { len: 3 }));
        // A multi-byte character: refused at its first byte, never split or panicked on.
        assert_eq!(decode("0é0"), Err(HexError::InvalidDigit { offset: 1 }));
        assert_eq!(decode("éé"), Err(HexError::InvalidDigit { offset: 0 }));
    }

    #[test]
    fn arrays_need_the_exact_length() {
        let hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        let bytes = decode_array::<32>(hash).unwrap();
        assert_eq!(encode(&bytes), hash);
        assert_eq!(
            decode_array::<32>(&hash[..62]),
            Err(HexError::WrongLength { expected: 64, found: 62 })
        );
        assert_eq!(
            decode_array::<32>(&format!("{hash}00")),
            Err(HexError::WrongLength { expected: 64, found: 66 })
        );
        let trailing_space = format!("{} ", &hash[..63]);
        assert_eq!(decode_array::<32>(&trailing_space), Err(HexError::InvalidDigit { offset: 63 }));
    }

    #[test]
    fn errors_name_the_place_not_the_input() {
        let e = decode("12z4").unwrap_err();
        assert_eq!(e.to_string(), "not a hex digit at byte 2");
        assert_eq!(
            HexError::WrongLength { expected: 64, found: 3 }.to_string(),
            "expected 64 hex digits, found 3"
        );
    }

    #[test]
    fn serde_helpers_round_trip_and_refuse_bad_hex() {
        #[derive(Debug, PartialEq, serde::Serialize, serde::Deserialize)]
        struct T {
            #[serde(with = "serde32")]
            a: [u8; 32],
            #[serde(with = "serde_opt32")]
            b: Option<[u8; 32]>,
        }
        let t = T { a: [0xab; 32], b: None };
        let json = serde_json::to_string(&t).unwrap();
        assert_eq!(json, format!(r#"{{"a":"{}","b":null}}"#, "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), t);
        let t = T { a: [0; 32], b: Some([1; 32]) };
        assert_eq!(serde_json::from_str::<T>(&serde_json::to_string(&t).unwrap()).unwrap(), t);
        let plus = format!(r#"{{"a":"+{}","b":null}}"#, "a".repeat(63));
        let e = serde_json::from_str::<T>(&plus).unwrap_err().to_string();
        assert!(e.starts_with("not a hex digit at byte 0"), "{e}");
    }
}
