//! `AnswerValue`: an answer as the app gives it, one case per kind of question. It is the
//! core's own type (`safehome_core::form::AnswerValue`, which the session and the store take),
//! declared here with `#[uniffi::remote(Enum)]`: uniffi matches every case and field by name, so
//! a case changed in the core and not here fails to compile. No conversion lives here.

pub use safehome_core::form::AnswerValue;

/// An answer to one question. Use the case that matches the question's `FieldKind`; the core
/// checks the match (`InvalidAnswer` otherwise) and the value (choices, ranges, constraints).
#[uniffi::remote(Enum)]
pub enum AnswerValue {
    /// `text` questions.
    Text { value: String },
    /// `integer` questions.
    Integer { value: i64 },
    /// `decimal` questions (an `Integer` is taken too); must be finite.
    Decimal { value: f64 },
    /// `select_one`: the choice's `name`.
    Choice { value: String },
    /// `select_multiple`: choice names, in any order, without duplicates.
    Choices { values: Vec<String> },
    /// `date`: ISO 8601 `YYYY-MM-DD`.
    Date { value: String },
    /// `datetime`: milliseconds since the epoch (shown in the session's UTC offset).
    DateTime { epoch_ms: i64 },
    /// `time`: `HH:MM` or `HH:MM:SS`; prompts give it back as `HH:MM:SS.sss`.
    Time { value: String },
    /// `geopoint`: WGS84 degrees, altitude and accuracy in metres.
    Geopoint { lat: f64, lon: f64, altitude: f64, accuracy: f64 },
    /// `image`: the attachment's name (a file the app stored), never its bytes.
    Attachment { name: String },
    /// `acknowledge`: the volunteer confirmed.
    Acknowledged,
}
