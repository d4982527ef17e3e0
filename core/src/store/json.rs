//! JSON into and out of the database, with the direction in the error. JSON read back from
//! storage that does not parse as expected is `StoreError::BadData` ("stored data is
//! unreadable"); a value of the core's own that does not serialise for a write is
//! `StoreError::Encode` (a bug in the core: nothing was written, and the stored data is fine).
//! `StoreError` has no `From<serde_json::Error>`, so every call in the store goes through one of
//! these and names what it encodes or reads.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::StoreError;

/// `value` as JSON text, for a write.
pub(crate) fn to_string<T: Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| encode_error(what, &e))
}

/// `value` as a JSON value, for a write or a view built from the core's own data.
pub(crate) fn to_value<T: Serialize + ?Sized>(
    what: &'static str,
    value: &T,
) -> Result<Value, StoreError> {
    serde_json::to_value(value).map_err(|e| encode_error(what, &e))
}

/// `what`, read back from stored JSON text.
pub(crate) fn from_str<T: DeserializeOwned>(
    what: &'static str,
    text: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| read_error(what, &e))
}

/// `what`, read back from stored JSON bytes.
pub(crate) fn from_slice<T: DeserializeOwned>(
    what: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| read_error(what, &e))
}

/// `what`, read back from a stored JSON value.
pub(crate) fn from_value<T: DeserializeOwned>(
    what: &'static str,
    value: Value,
) -> Result<T, StoreError> {
    serde_json::from_value(value).map_err(|e| read_error(what, &e))
}

/// serde_json's own message: it names the problem ("key must be a string"), not the value.
fn encode_error(what: &'static str, e: &serde_json::Error) -> StoreError {
    StoreError::Encode { what, detail: e.to_string() }
}

/// Where the stored JSON broke, never its content: serde's messages quote the values they
/// refuse, and stored values are answers about children.
fn read_error(what: &'static str, e: &serde_json::Error) -> StoreError {
    if e.line() == 0 {
        // From a `Value`: there is no text position.
        StoreError::BadData(format!("{what}: JSON of the wrong shape"))
    } else {
        StoreError::BadData(format!("{what}: JSON at line {}, column {}", e.line(), e.column()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn a_value_that_cannot_be_serialised_is_an_encode_error_not_bad_data() {
        // JSON object keys must be strings: a map keyed by pairs cannot be written.
        let map: BTreeMap<(u8, u8), u8> = BTreeMap::from([((1, 2), 3)]);
        for e in [
            to_string("the test map", &map).unwrap_err(),
            to_value("the test map", &map).unwrap_err(),
        ] {
            assert!(matches!(e, StoreError::Encode { what: "the test map", .. }), "{e:?}");
            let msg = e.to_string();
            assert!(msg.starts_with("could not encode the test map for storage: "), "{msg}");
            assert!(!msg.contains("unreadable"), "{msg}");
        }
    }

    #[test]
    fn stored_json_that_does_not_read_is_bad_data_with_its_place_only() {
        let e = from_str::<Vec<String>>("communes", r#"["05569""#).unwrap_err();
        assert!(matches!(e, StoreError::BadData(_)), "{e:?}");
        assert_eq!(e.to_string(), "stored data is unreadable: communes: JSON at line 1, column 8");
        // A value of the wrong type: serde's message would quote it; ours does not.
        let e = from_slice::<Vec<u32>>("members", r#"["Lò Văn Páo"]"#.as_bytes()).unwrap_err();
        assert!(matches!(e, StoreError::BadData(_)), "{e:?}");
        assert!(!e.to_string().contains("Páo"), "{e}");
        let e = from_value::<u32>("timing kind", Value::String("Páo".into())).unwrap_err();
        assert_eq!(
            e.to_string(),
            "stored data is unreadable: timing kind: JSON of the wrong shape"
        );
    }

    #[test]
    fn good_values_round_trip() {
        let communes = vec!["05569".to_string(), "05662".to_string()];
        let text = to_string("communes", &communes).unwrap();
        assert_eq!(from_str::<Vec<String>>("communes", &text).unwrap(), communes);
        let v = to_value("communes", &communes).unwrap();
        assert_eq!(from_value::<Vec<String>>("communes", v).unwrap(), communes);
        assert_eq!(from_slice::<Vec<String>>("communes", text.as_bytes()).unwrap(), communes);
    }
}
