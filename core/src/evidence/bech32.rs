//! Bech32 (BIP-173) text encoding for keys: a human-readable prefix, the separator `1`, the data
//! in a 32-character alphabet and a 6-character BCH checksum that catches any error of up to four
//! characters and almost all others. Written from the specification; no length limit is applied
//! (keys are a fixed 32 bytes, which the caller checks).

const CHARSET: &[u8; 32] = b"qpzry9x8gf2tvdw0s3jn54khce6mua7l";
const GENERATOR: [u32; 5] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3];
const CHECKSUM_CONSTANT: u32 = 1;

/// Why a string is not valid Bech32.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Bech32Error {
    #[error("no `1` separator between the prefix and the data")]
    NoSeparator,
    #[error("empty prefix")]
    EmptyPrefix,
    #[error("data part is too short for a checksum")]
    TooShort,
    #[error("mixes upper and lower case")]
    MixedCase,
    #[error("character {position} is not allowed")]
    InvalidChar { position: usize },
    #[error("checksum does not match (a mistyped or damaged key)")]
    BadChecksum,
    #[error("data does not convert to whole bytes")]
    BadPadding,
}

fn polymod(values: impl Iterator<Item = u8>) -> u32 {
    let mut chk: u32 = 1;
    for v in values {
        let top = chk >> 25;
        chk = ((chk & 0x01ff_ffff) << 5) ^ u32::from(v);
        for (i, g) in GENERATOR.iter().enumerate() {
            if (top >> i) & 1 == 1 {
                chk ^= g;
            }
        }
    }
    chk
}

fn hrp_expand(hrp: &[u8]) -> impl Iterator<Item = u8> + '_ {
    hrp.iter().map(|c| c >> 5).chain(std::iter::once(0)).chain(hrp.iter().map(|c| c & 31))
}

/// Regroup bits: 8-bit bytes to 5-bit groups (`pad`) or back (no padding allowed).
fn convert_bits(data: &[u8], from: u32, to: u32, pad: bool) -> Result<Vec<u8>, Bech32Error> {
    let mut acc: u32 = 0;
    let mut bits: u32 = 0;
    let max = (1u32 << to) - 1;
    let mut out = Vec::with_capacity(data.len() * from as usize / to as usize + 1);
    for &v in data {
        acc = (acc << from) | u32::from(v);
        bits += from;
        while bits >= to {
            bits -= to;
            out.push(((acc >> bits) & max) as u8);
        }
        acc &= (1 << bits) - 1;
    }
    if pad {
        if bits > 0 {
            out.push(((acc << (to - bits)) & max) as u8);
        }
    } else if bits >= from || ((acc << (to - bits)) & max) != 0 {
        return Err(Bech32Error::BadPadding);
    }
    Ok(out)
}

/// Encode `data` under the prefix `hrp`; `upper` gives the all-capitals form (used for secrets).
pub fn encode(hrp: &str, data: &[u8], upper: bool) -> String {
    let hrp_lower = hrp.to_ascii_lowercase();
    // Converting to 5-bit groups with padding never fails.
    let groups = convert_bits(data, 8, 5, true).unwrap_or_default();
    let checksum = {
        let pm =
            polymod(hrp_expand(hrp_lower.as_bytes()).chain(groups.iter().copied()).chain([0u8; 6]))
                ^ CHECKSUM_CONSTANT;
        (0..6).map(move |i| ((pm >> (5 * (5 - i))) & 31) as u8)
    };
    let mut s = String::with_capacity(hrp.len() + 1 + groups.len() + 6);
    s.push_str(&hrp_lower);
    s.push('1');
    for g in groups.iter().copied().chain(checksum) {
        s.push(char::from(CHARSET[usize::from(g)]));
    }
    if upper { s.to_ascii_uppercase() } else { s }
}

/// Decode a Bech32 string into its lower-case prefix and data bytes.
pub fn decode(s: &str) -> Result<(String, Vec<u8>), Bech32Error> {
    let bytes = s.as_bytes();
    let has_lower = bytes.iter().any(u8::is_ascii_lowercase);
    let has_upper = bytes.iter().any(u8::is_ascii_uppercase);
    if has_lower && has_upper {
        return Err(Bech32Error::MixedCase);
    }
    if let Some(position) = bytes.iter().position(|&c| !(33..=126).contains(&c)) {
        return Err(Bech32Error::InvalidChar { position });
    }
    let sep = bytes.iter().rposition(|&c| c == b'1').ok_or(Bech32Error::NoSeparator)?;
    if sep == 0 {
        return Err(Bech32Error::EmptyPrefix);
    }
    if bytes.len() - sep - 1 < 6 {
        return Err(Bech32Error::TooShort);
    }
    let hrp: Vec<u8> = bytes[..sep].iter().map(u8::to_ascii_lowercase).collect();
    let mut values = Vec::with_capacity(bytes.len() - sep - 1);
    for (i, &c) in bytes[sep + 1..].iter().enumerate() {
        let c = c.to_ascii_lowercase();
        match CHARSET.iter().position(|&x| x == c) {
            Some(v) => values.push(v as u8),
            None => return Err(Bech32Error::InvalidChar { position: sep + 1 + i }),
        }
    }
    if polymod(hrp_expand(&hrp).chain(values.iter().copied())) != CHECKSUM_CONSTANT {
        return Err(Bech32Error::BadChecksum);
    }
    let data = convert_bits(&values[..values.len() - 6], 5, 8, false)?;
    // The prefix is printable ASCII, checked above.
    Ok((String::from_utf8_lossy(&hrp).into_owned(), data))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn bip173_valid_checksums() {
        for s in [
            "A12UEL5L",
            "a12uel5l",
            "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
            "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
            &format!("11{}c8247j", "q".repeat(82)),
            "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
            "?1ezyfcl",
        ] {
            assert!(decode(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn bip173_invalid() {
        assert_eq!(decode("pzry9x0s0muk"), Err(Bech32Error::NoSeparator));
        assert_eq!(decode("1pzry9x0s0muk"), Err(Bech32Error::EmptyPrefix));
        assert!(matches!(decode("x1b4n0q5v"), Err(Bech32Error::InvalidChar { .. })));
        assert_eq!(decode("li1dgmt3"), Err(Bech32Error::TooShort));
        assert_eq!(decode("A1G7SGD8"), Err(Bech32Error::BadChecksum));
        assert_eq!(decode("a12UEL5L"), Err(Bech32Error::MixedCase));
    }

    #[test]
    fn round_trip_and_single_errors() {
        let data: Vec<u8> = (0u8..32).collect();
        let s = encode("shrecip", &data, false);
        assert_eq!(decode(&s).unwrap(), ("shrecip".to_string(), data.clone()));
        let up = encode("SH-IDENTITY-", &data, true);
        assert!(up.starts_with("SH-IDENTITY-1"));
        assert_eq!(decode(&up).unwrap().1, data);
        // Every single-character substitution in the data part is caught.
        let sep = s.rfind('1').unwrap();
        for i in sep + 1..s.len() {
            for &c in CHARSET {
                if s.as_bytes()[i] == c {
                    continue;
                }
                let mut b = s.clone().into_bytes();
                b[i] = c;
                assert!(decode(std::str::from_utf8(&b).unwrap()).is_err());
            }
        }
    }
}
