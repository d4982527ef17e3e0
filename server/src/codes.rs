//! Enrollment codes: 12 Crockford base32 characters (60 random bits) in three groups of four,
//! `7KQ4-M9TX-2HPA`. Read in any case, with or without dashes and spaces, `O` as `0` and `I`/`L`
//! as `1`. The server stores only the SHA-256 of the normalized form.

use safehome_core::clock::Entropy;
use safehome_core::sync::protocol::sha256_hex;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters in a code (without dashes).
pub const CODE_LEN: usize = 12;

/// A new random code, formatted for people (`XXXX-XXXX-XXXX`).
pub fn generate(entropy: &dyn Entropy) -> String {
    let mut bytes = [0u8; 8];
    entropy.fill(&mut bytes);
    let bits = u64::from_be_bytes(bytes) >> 4; // 60 bits
    let mut out = String::with_capacity(CODE_LEN + 2);
    for i in 0..CODE_LEN {
        if i > 0 && i % 4 == 0 {
            out.push('-');
        }
        let index = ((bits >> (5 * (CODE_LEN - 1 - i))) & 31) as usize;
        out.push(char::from(ALPHABET[index]));
    }
    out
}

/// The normalized form (12 characters of the alphabet, upper case), or `None` if `input` is not
/// a code.
pub fn normalize(input: &str) -> Option<String> {
    let mut out = String::with_capacity(CODE_LEN);
    for c in input.chars() {
        let c = match c.to_ascii_uppercase() {
            '-' | ' ' => continue,
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        };
        if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == CODE_LEN).then_some(out)
}

/// What the database stores for a code: the hex SHA-256 of its normalized form.
pub fn digest(normalized: &str) -> String {
    sha256_hex(normalized.as_bytes())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use safehome_core::clock::SeededEntropy;

    #[test]
    fn a_code_is_three_groups_of_four_and_normalizes_to_itself() {
        let e = SeededEntropy::new(9);
        let code = generate(&e);
        assert_eq!(code.len(), 14);
        assert_eq!(code.split('-').map(str::len).collect::<Vec<_>>(), [4, 4, 4]);
        assert_eq!(normalize(&code).unwrap(), code.replace('-', ""));
        assert_ne!(generate(&e), code);
    }

    #[test]
    fn people_may_type_it_loosely() {
        assert_eq!(normalize("7kq4 m9tx 2hpa").unwrap(), "7KQ4M9TX2HPA");
        assert_eq!(normalize("oil0-0000-0000").unwrap(), "011000000000");
        assert_eq!(normalize("7KQ4-M9TX-2HP"), None);
        assert_eq!(normalize("7KQ4-M9TX-2HPU"), None, "U is not Crockford base32");
        assert_eq!(normalize("7KQ4-M9TX-2HPAA"), None);
    }

    #[test]
    fn the_digest_is_of_the_normalized_form() {
        assert_eq!(
            digest(&normalize("7kq4-m9tx-2hpa").unwrap()),
            digest(&normalize("7KQ4M9TX2HPA").unwrap())
        );
    }
}
