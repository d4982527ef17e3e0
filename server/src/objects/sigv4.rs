//! AWS Signature Version 4 for S3 requests (the `Authorization` header form), with `ring`'s
//! HMAC-SHA256 and SHA-256.
//!
//! The signature covers the method, the path, the query, the headers named in `SignedHeaders`
//! (always `host`, `x-amz-content-sha256` and `x-amz-date`) and the payload's SHA-256, under a
//! key derived from the secret for one day, region and service.

use ring::{digest, hmac};
use safehome_core::hex;

/// The SHA-256 of an empty payload, hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a request is signed for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'a str,
    /// The path as sent, already URI-encoded (`/bucket/key`).
    pub path: &'a str,
    /// Query parameters, not encoded (they are encoded here, as signed and as sent).
    pub query: &'a [(&'a str, &'a str)],
    /// Headers to sign besides `x-amz-date`, with lower-case names: `host` and
    /// `x-amz-content-sha256` at least.
    pub headers: &'a [(&'a str, &'a str)],
    /// The payload's SHA-256, hex.
    pub payload_sha256: &'a str,
}

/// The signer's fixed inputs.
#[derive(Clone)]
pub struct Signer<'a> {
    pub access_key: &'a str,
    pub secret_key: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// Everything the signature was made of (the tests compare each step with AWS's examples).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub canonical_request: String,
    pub string_to_sign: String,
    pub signature: String,
    /// The `Authorization` header's value.
    pub authorization: String,
    /// The encoded query string to send (`a=b&c=d`, sorted).
    pub query: String,
}

/// Percent-encode everything but RFC 3986's unreserved characters (and `/` if `keep_slash`).
pub fn uri_encode(s: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'_' | b'.' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn hmac_sha256(key: &[u8], data: &str) -> hmac::Tag {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
}

/// `yyyymmddThhmmssZ` for a time in seconds since the epoch (UTC).
pub fn amz_date(unix_secs: u64) -> String {
    let days = unix_secs / 86_400;
    let secs = unix_secs % 86_400;
    let (y, m, d) = civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

impl Signer<'_> {
    /// Sign `request` at `amz_date` (`yyyymmddThhmmssZ`).
    pub fn sign(&self, request: &Request<'_>, amz_date: &str) -> Signed {
        let day = amz_date.get(..8).unwrap_or(amz_date);
        let mut query: Vec<(String, String)> = request
            .query
            .iter()
            .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
            .collect();
        query.sort();
        let query = query.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
        let mut headers: Vec<(String, String)> = request
            .headers
            .iter()
            .map(|(k, v)| {
                (k.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" "))
            })
            .chain([("x-amz-date".to_string(), amz_date.to_string())])
            .collect();
        headers.sort();
        let canonical_headers: String = headers.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
        let signed_headers = headers.iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>().join(";");
        let canonical_request = format!(
            "{}\n{}\n{}\n{}\n{}\n{}",
            request.method,
            request.path,
            query,
            canonical_headers,
            signed_headers,
            request.payload_sha256
        );
        let scope = format!("{day}/{}/{}/aws4_request", self.region, self.service);
        let string_to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(digest::digest(&digest::SHA256, canonical_request.as_bytes()).as_ref())
        );
        let secret = zeroize::Zeroizing::new(format!("AWS4{}", self.secret_key));
        let k_date = hmac_sha256(secret.as_bytes(), day);
        let k_region = hmac_sha256(k_date.as_ref(), self.region);
        let k_service = hmac_sha256(k_region.as_ref(), self.service);
        let k_signing = hmac_sha256(k_service.as_ref(), "aws4_request");
        let signature = hex::encode(hmac_sha256(k_signing.as_ref(), &string_to_sign).as_ref());
        let authorization = format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope},SignedHeaders={signed_headers},Signature={signature}",
            self.access_key
        );
        Signed { canonical_request, string_to_sign, signature, authorization, query }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    const SIGNER: Signer<'static> = Signer {
        access_key: "AKIAIOSFODNN7EXAMPLE",
        secret_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        region: "us-east-1",
        service: "s3",
    };

    /// AWS's documented example "GET Object" (S3 API reference, "Signature Calculations for
    /// the Authorization Header: Transferring Payload in a Single Chunk"): the first ten bytes
    /// of `test.txt` from `examplebucket`, on 24 May 2013.
    #[test]
    fn the_get_object_example_signs_as_documented() {
        let signed = SIGNER.sign(
            &Request {
                method: "GET",
                path: "/test.txt",
                query: &[],
                headers: &[
                    ("Host", "examplebucket.s3.amazonaws.com"),
                    ("Range", "bytes=0-9"),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                ],
                payload_sha256: EMPTY_SHA256,
            },
            "20130524T000000Z",
        );
        assert_eq!(
            signed.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n\
             x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n\
             x-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            signed.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n\
             7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972"
        );
        assert_eq!(
            signed.signature,
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
        assert_eq!(
            signed.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,\
             SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,\
             Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    /// The same document's "GET Bucket (List Objects)" example: a query string, sorted and
    /// encoded.
    #[test]
    fn the_list_objects_example_signs_as_documented() {
        let signed = SIGNER.sign(
            &Request {
                method: "GET",
                path: "/",
                query: &[("prefix", "J"), ("max-keys", "2")],
                headers: &[
                    ("host", "examplebucket.s3.amazonaws.com"),
                    ("x-amz-content-sha256", EMPTY_SHA256),
                ],
                payload_sha256: EMPTY_SHA256,
            },
            "20130524T000000Z",
        );
        assert_eq!(signed.query, "max-keys=2&prefix=J");
        assert_eq!(
            signed.signature,
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"
        );
    }

    /// The same document's "PUT Object" example: a payload's digest and a `$` in the key.
    #[test]
    fn the_put_object_example_signs_as_documented() {
        let payload = b"Welcome to Amazon S3.";
        let sha = hex::encode(digest::digest(&digest::SHA256, payload).as_ref());
        assert_eq!(sha, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
        let path = format!("/{}", uri_encode("test$file.text", true));
        let signed = SIGNER.sign(
            &Request {
                method: "PUT",
                path: &path,
                query: &[],
                headers: &[
                    ("host", "examplebucket.s3.amazonaws.com"),
                    ("date", "Fri, 24 May 2013 00:00:00 GMT"),
                    ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
                    ("x-amz-content-sha256", &sha),
                ],
                payload_sha256: &sha,
            },
            "20130524T000000Z",
        );
        assert!(signed.canonical_request.starts_with("PUT\n/test%24file.text\n\n"));
        assert_eq!(
            signed.signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"
        );
    }

    #[test]
    fn dates_are_formatted_in_utc() {
        assert_eq!(amz_date(1_369_353_600), "20130524T000000Z");
        assert_eq!(amz_date(0), "19700101T000000Z");
        assert_eq!(amz_date(951_782_400 + 3661), "20000229T010101Z");
        assert_eq!(amz_date(4_102_444_799), "20991231T235959Z");
    }

    #[test]
    fn only_unreserved_characters_pass_unencoded() {
        assert_eq!(uri_encode("a b/c~d+e=", false), "a%20b%2Fc~d%2Be%3D");
        assert_eq!(uri_encode("blobs/ab/x.y_z-1", true), "blobs/ab/x.y_z-1");
    }
}
