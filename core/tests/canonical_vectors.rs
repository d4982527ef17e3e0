//! Golden vectors of the canonical encoding (RFC 8785, JCS) that signed submissions use: each
//! input, its exact bytes and their SHA-256, also published in docs/storage.md ("Canonical
//! submission bytes"), which a test compares with the ones here; and a submission finalized by the
//! store is stored and signed exactly as its canonical bytes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ring::digest;
use ring::signature::{ED25519, UnparsedPublicKey};
use rusqlite::{Connection, params};
use safehome_core::canonical::{self, CanonicalError};
use safehome_core::crypto::KeyHierarchy;
use safehome_core::hex;
use safehome_core::location::{Fix, Provider};
use serde_json::Value;

mod common;
use common::*;

struct Vector {
    /// The marker of the vector's blocks in docs/storage.md (`<!-- jcs-NAME-input -->`, ...).
    name: &'static str,
    /// JSON text as a sender might hold it: any member order, any whitespace and number form.
    input: &'static str,
    /// The canonical bytes (always UTF-8 text).
    bytes: &'static str,
    sha256: &'static str,
}

// serde_json's default reader is not correctly rounded for every number; each input number is
// written in a form it reads as the double a correctly rounding reader would
// (1.2345678901234568e20, not 123456789012345680000). The bytes and digests were checked against
// an independent JCS (ECMAScript's JSON.stringify with members sorted) when they were written.
const VECTORS: &[Vector] = &[
    Vector {
        name: "submission",
        input: r#"{
  "schema": "safehome.submission.v1",
  "record_id": "7d0c6a52-3f1e-4b8a-9c2d-5e4f6a7b8c9d",
  "kind": "visit",
  "revision": 1,
  "revision_of": null,
  "form": {"version": "2025.1", "id": "household_screening"},
  "household_code": "05569-001",
  "finalized_at_ms": 1795924800000,
  "data": {
    "head_name": "Ma Văn Hùng",
    "village": "Thôn Khuôn Tát",
    "household_gps": {"lat": 21.905, "lon": 105.648, "alt": 120.0, "accuracy": 6},
    "num_children": 1,
    "children": [
      {"child_name": "Ma Thị Lan", "child_age": 3, "child_sex": "female"}
    ],
    "special_groups": ["none"],
    "notes": "Ao cá sau nhà chưa có rào"
  },
  "attachments": [],
  "assessment": {"level": "high", "score": 0.1, "due_at_ms": 1796529600000}
}"#,
        bytes: r#"{"assessment":{"due_at_ms":1796529600000,"level":"high","score":0.1},"attachments":[],"data":{"children":[{"child_age":3,"child_name":"Ma Thị Lan","child_sex":"female"}],"head_name":"Ma Văn Hùng","household_gps":{"accuracy":6,"alt":120,"lat":21.905,"lon":105.648},"notes":"Ao cá sau nhà chưa có rào","num_children":1,"special_groups":["none"],"village":"Thôn Khuôn Tát"},"finalized_at_ms":1795924800000,"form":{"id":"household_screening","version":"2025.1"},"household_code":"05569-001","kind":"visit","record_id":"7d0c6a52-3f1e-4b8a-9c2d-5e4f6a7b8c9d","revision":1,"revision_of":null,"schema":"safehome.submission.v1"}"#,
        sha256: "e086e6af2dece44c5c4ab71b14e9ce6fa9733d2341db9d1c5fbe25d1cfd25305",
    },
    Vector {
        name: "numbers",
        input: r#"[0, -0.0, 6, 0.1, 21.905, 105.648, 120.0, 4.50, 2e-3, -1.5,
 1e-7, 0.000001, 0.0000012345, 1e20, 1e21, 1E30, 1.2345678901234568e20,
 333333333.3333333, 5e-324, 1.7976931348623157e308]"#,
        bytes: r#"[0,0,6,0.1,21.905,105.648,120,4.5,0.002,-1.5,1e-7,0.000001,0.0000012345,100000000000000000000,1e+21,1e+30,123456789012345680000,333333333.3333333,5e-324,1.7976931348623157e+308]"#,
        sha256: "0c2cbf69c86b7669129e6372aeb6fdb34ac3615e2b2aa3fdbe47f67465a4fabe",
    },
    Vector {
        name: "strings",
        input: r#"{
  "\u20ac": "Euro Sign",
  "\r": "Carriage Return",
  "\ufb33": "Hebrew Letter Dalet With Dagesh",
  "1": "One",
  "\ud83d\ude00": "Emoji: Grinning Face",
  "\u00f6": "Latin Small Letter O With Diaeresis",
  "\uff61": "Halfwidth Ideographic Full Stop",
  "controls": "\u0000\u0001\b\t\n\u000b\f\r\u001f",
  "escapes": "quote \" backslash \\ slash \/ tab\tend",
  "vi": "Ma V\u0103n H\u00f9ng, L\u00f2 V\u0103n P\u00e1o"
}"#,
        bytes: r#"{"\r":"Carriage Return","1":"One","controls":"\u0000\u0001\b\t\n\u000b\f\r\u001f","escapes":"quote \" backslash \\ slash / tab\tend","vi":"Ma Văn Hùng, Lò Văn Páo","ö":"Latin Small Letter O With Diaeresis","€":"Euro Sign","😀":"Emoji: Grinning Face","דּ":"Hebrew Letter Dalet With Dagesh","｡":"Halfwidth Ideographic Full Stop"}"#,
        sha256: "1be7a0420ab90ed7c4ee1273ebad37a1d5e876801d1e5edb879d42d2b722d0f3",
    },
    Vector {
        name: "nested",
        input: r#"{"b": [[], {}, [[1, [2, [3]]]]],
 "a": {"z": {"y": {"x": []}}, "": [{"": null}]},
 "c": [true, false, null, "", 0]}"#,
        bytes: r#"{"a":{"":[{"":null}],"z":{"y":{"x":[]}}},"b":[[],{},[[1,[2,[3]]]]],"c":[true,false,null,"",0]}"#,
        sha256: "3a5a4f95d818276881f5f30a3d99ba02fa1f92a10254edf7c752d8797dd26c0b",
    },
    Vector {
        name: "integers",
        input: r#"{"max_safe": 9007199254740991, "min_safe": -9007199254740991,
 "two_to_the_53": 9007199254740992, "kept_beyond": 9007199254740994,
 "time_ms": 1795924800000, "count": 12, "negative": -7}"#,
        bytes: r#"{"count":12,"kept_beyond":9007199254740994,"max_safe":9007199254740991,"min_safe":-9007199254740991,"negative":-7,"time_ms":1795924800000,"two_to_the_53":9007199254740992}"#,
        sha256: "759d6fae1f229f103d8e44d521bd0ff94144cf60a97632d971a734b3e134e2eb",
    },
];

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(digest::digest(&digest::SHA256, bytes).as_ref())
}

#[test]
fn golden_vectors() {
    for v in VECTORS {
        let input: Value = serde_json::from_str(v.input).unwrap();
        let bytes = canonical::to_vec(&input).unwrap();
        assert_eq!(String::from_utf8(bytes.clone()).unwrap(), v.bytes, "{}: bytes", v.name);
        assert_eq!(sha256_hex(&bytes), v.sha256, "{}: SHA-256", v.name);
        // No check that the bytes re-encode to themselves after serde_json reads them: its
        // default reader takes the canonical text 123456789012345680000 for a neighbouring
        // double (docs/storage.md); the module's property tests cover re-encoding.
    }
}

fn doc() -> String {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/storage.md");
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{p}: {e}"))
}

/// The text of the fenced block after the marker `<!-- name -->`, exactly (spaces inside strings
/// are part of the bytes), without the newline before the closing fence.
fn doc_block<'a>(doc: &'a str, name: &str) -> &'a str {
    let marker = format!("<!-- {name} -->");
    let at = doc.find(&marker).unwrap_or_else(|| panic!("docs/storage.md lacks {marker}"));
    let rest = &doc[at + marker.len()..];
    let rest = &rest[rest.find("```").unwrap()..];
    let rest = &rest[rest.find('\n').unwrap() + 1..];
    &rest[..rest.find("\n```").unwrap()]
}

#[test]
fn published_vectors_match_the_code() {
    let doc = doc();
    for v in VECTORS {
        let block = |part: &str| doc_block(&doc, &format!("jcs-{}-{part}", v.name));
        assert_eq!(block("input"), v.input, "{}: input", v.name);
        assert_eq!(block("bytes"), v.bytes, "{}: bytes", v.name);
        assert_eq!(block("sha256"), v.sha256, "{}: SHA-256", v.name);
    }
}

/// The refusal the docs describe: an integer whose digits a double would change, named by path.
#[test]
fn an_unsafe_integer_is_refused_with_its_path() {
    let v: Value =
        serde_json::from_str(r#"{"data": {"children": [{}, {}, {"age": 9007199254740993}]}}"#)
            .unwrap();
    assert_eq!(
        canonical::to_vec(&v),
        Err(CanonicalError::UnsafeInteger { path: "data.children[2].age".into() })
    );
}

/// The bytes finalize stored (decrypted with the store's column key, as the store itself does).
fn stored_submission(f: &Fixture, record_id: &str) -> Vec<u8> {
    let db = Connection::open(&f.path).unwrap();
    let sealed: Vec<u8> = db
        .query_row("SELECT submission_enc FROM records WHERE id = ?1", params![record_id], |r| {
            r.get(0)
        })
        .unwrap();
    KeyHierarchy::derive(&key(1))
        .column
        .decrypt("records", "submission", record_id, &sealed)
        .unwrap()
}

#[test]
fn a_finalized_submission_is_stored_hashed_and_signed_as_its_canonical_bytes() {
    let f = Fixture::new("jcs-finalize");
    let s = f.open();
    let t = team(&s);
    let h = s.add_household(&t.vol, &new_household("Ma Văn Hùng")).unwrap();
    let mut d = s.start_visit(&t.vol, &h.id, "household_screening").unwrap();
    s.edit(&mut d, |sess| sess.load_answers(&answers()).map_err(|mut e| e.remove(0))).unwrap();
    // A mock fix 6 km from the household, confirmed over the accuracy warning: the submission
    // then also carries the whole fix and quality flags with computed numbers (distances, speed),
    // not only typed ones.
    let mut fix = Fix::new(21.96, 105.648, 70.0, s.now_ms() - 2_000);
    fix.provider = Provider::Gps;
    fix.mock = true;
    s.answer_fix(&t.vol, &mut d, "household_gps", &fix, true).unwrap();
    let fin = s.finalize(&t.vol, &d).unwrap();

    let stored = stored_submission(&f, &fin.record_id);
    assert_eq!(sha256_hex(&stored), fin.submission_sha256, "the hash is over the stored bytes");
    let parsed: Value = serde_json::from_slice(&stored).unwrap();
    assert!(!parsed["location"]["flags"].as_array().unwrap().is_empty());
    // Re-encoding what serde_json read is exact here because every number in this submission
    // has at most 16 significant digits (distance_m is 6090.114986388618), which its default
    // reader gets right; a computed number with 17 could be read one step off.
    assert_eq!(
        canonical::to_vec(&parsed).unwrap(),
        stored,
        "stored bytes are not canonical:\n{}",
        String::from_utf8_lossy(&stored)
    );
    // The device signature is over exactly these bytes, under the key the submission names.
    let signature = s.record(&t.sup, &fin.record_id).unwrap().signature.unwrap();
    let device = hex::decode(parsed["device_public_key"].as_str().unwrap()).unwrap();
    UnparsedPublicKey::new(&ED25519, &device)
        .verify(&stored, &hex::decode(&signature).unwrap())
        .unwrap();
    // Text is signed as typed (NFC Vietnamese, literally), members in JCS order.
    let text = String::from_utf8(stored).unwrap();
    assert!(text.contains("\"head_name\":\"Ma V\u{103}n H\u{f9}ng\""), "{text}");
    assert!(text.starts_with("{\"assessment\":"), "{text}");
    let timings = String::from_utf8(canonical::to_vec(&parsed["timings"]).unwrap()).unwrap();
    assert!(text.ends_with(&format!(",\"timings\":{timings}}}")), "{text}");
}

/// Print the vectors (run with `--ignored --nocapture` after changing an input).
#[test]
#[ignore]
fn print_vectors() {
    for v in VECTORS {
        let input: Value = serde_json::from_str(v.input).unwrap();
        let bytes = canonical::to_vec(&input).unwrap();
        println!("{}\n{}\n{}\n", v.name, String::from_utf8_lossy(&bytes), sha256_hex(&bytes));
    }
}
