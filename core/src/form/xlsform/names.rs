//! The spellings XLSForm accepts (pyxform's aliases), mapped to the form model, and the
//! features the model does not have, named so that a refusal says what was found.

use crate::form::model::FieldKind;

/// What a survey row's `type` cell says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowType {
    Field(FieldKind),
    Select {
        kind: FieldKind,
        list: String,
    },
    Begin(FieldKind),
    End(FieldKind),
    /// A metadata row the client fills (`start`, `deviceid`, ...): no question; SafeHome records
    /// its own times and device, so the row is not imported.
    Metadata,
    /// Something outside the form model, with the feature's name.
    Unsupported(String),
    Unknown,
}

/// Question types by every spelling pyxform accepts (compared after lower-casing and collapsing
/// runs of spaces; `dateTime` is thus `datetime`).
const FIELD_TYPES: &[(&str, FieldKind)] = &[
    ("text", FieldKind::Text),
    ("string", FieldKind::Text),
    ("add text prompt", FieldKind::Text),
    ("integer", FieldKind::Integer),
    ("int", FieldKind::Integer),
    ("add integer prompt", FieldKind::Integer),
    ("decimal", FieldKind::Decimal),
    ("add decimal prompt", FieldKind::Decimal),
    ("date", FieldKind::Date),
    ("add date prompt", FieldKind::Date),
    ("datetime", FieldKind::Datetime),
    ("add datetime prompt", FieldKind::Datetime),
    ("time", FieldKind::Time),
    ("add time prompt", FieldKind::Time),
    ("geopoint", FieldKind::Geopoint),
    ("gps", FieldKind::Geopoint),
    ("location", FieldKind::Geopoint),
    ("add location prompt", FieldKind::Geopoint),
    ("image", FieldKind::Image),
    ("photo", FieldKind::Image),
    ("add image prompt", FieldKind::Image),
    ("note", FieldKind::Note),
    ("add note prompt", FieldKind::Note),
    ("calculate", FieldKind::Calculate),
    ("acknowledge", FieldKind::Acknowledge),
    ("trigger", FieldKind::Acknowledge),
];

/// `select_one LIST` and its aliases.
const SELECT_ONE: &[&str] =
    &["select_one", "select one", "select one from", "select1", "add select one prompt using"];
/// `select_multiple LIST` and its aliases.
const SELECT_MULTIPLE: &[&str] = &[
    "select_multiple",
    "select multiple",
    "select all that apply",
    "select all that apply from",
    "select many",
    "select_many",
    "add select multiple prompt using",
];

/// Metadata types: filled by the client, never shown.
const METADATA: &[&str] = &[
    "start",
    "end",
    "today",
    "deviceid",
    "subscriberid",
    "simserial",
    "phonenumber",
    "username",
    "email",
    "imei",
    "uri:deviceid",
    "uri:subscriberid",
    "uri:simserial",
    "uri:phonenumber",
    "uri:username",
    "uri:email",
];

/// Types the engine does not have, with the name a refusal gives them.
const UNSUPPORTED_TYPES: &[(&str, &str)] = &[
    ("geotrace", "geotrace question"),
    ("geoshape", "geoshape question"),
    ("audio", "audio question"),
    ("video", "video question"),
    ("file", "file question"),
    ("barcode", "barcode question"),
    ("range", "range question"),
    ("hidden", "hidden question"),
    ("background-audio", "background-audio recording"),
    ("background-geopoint", "background-geopoint"),
    ("audit", "audit log"),
    ("start-geopoint", "start-geopoint metadata"),
    ("xml-external", "xml-external instance"),
    ("csv-external", "csv-external instance"),
    ("osm", "OpenStreetMap question"),
    ("signature", "signature question"),
];

/// Every spelling of a supported type, for "did you mean" hints.
pub fn type_spellings() -> impl Iterator<Item = &'static str> {
    FIELD_TYPES
        .iter()
        .map(|(s, _)| *s)
        .chain(["select_one", "select_multiple", "begin group", "end group"])
        .chain(["begin repeat", "end repeat"])
}

/// Read a `type` cell.
pub fn row_type(cell: &str) -> RowType {
    let spaced = cell.split_whitespace().collect::<Vec<_>>().join(" ");
    let lower = spaced.to_lowercase();
    if let Some(kind) = FIELD_TYPES.iter().find(|(s, _)| *s == lower).map(|(_, k)| *k) {
        return RowType::Field(kind);
    }
    if METADATA.contains(&lower.as_str()) {
        return RowType::Metadata;
    }
    if let Some((_, feature)) = UNSUPPORTED_TYPES.iter().find(|(s, _)| *s == lower) {
        return RowType::Unsupported((*feature).to_string());
    }
    if let Some(t) = control(&lower) {
        return t;
    }
    select(&lower, &spaced).unwrap_or(RowType::Unknown)
}

/// `begin group`, `begin_group`, `end repeat`, `begin looped group`, ...
fn control(lower: &str) -> Option<RowType> {
    let (begin, rest) = if let Some(r) = strip_word(lower, "begin") {
        (true, r)
    } else {
        (false, strip_word(lower, "end")?)
    };
    let (kind, extra) = if let Some(r) = strip_word(rest, "group") {
        (FieldKind::Group, r)
    } else if let Some(r) = strip_word(rest, "repeat").or_else(|| strip_word(rest, "looped group"))
    {
        (FieldKind::Repeat, r)
    } else if strip_word(rest, "loop").is_some() {
        return Some(RowType::Unsupported("loop over a choice list (begin loop)".into()));
    } else {
        return None;
    };
    if !extra.is_empty() {
        return Some(RowType::Unsupported(format!("`{lower}` (a list after begin/end)")));
    }
    Some(if begin { RowType::Begin(kind) } else { RowType::End(kind) })
}

/// `word` at the start of `s`, followed by a space, an underscore or the end.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let rest = s.strip_prefix(word)?;
    if rest.is_empty() {
        return Some(rest);
    }
    rest.strip_prefix([' ', '_']).map(str::trim_start)
}

/// A select type: its spelling is matched on `lower`, its list name (whose case matters) is
/// taken from `spaced`, the cell with runs of spaces collapsed.
fn select(lower: &str, spaced: &str) -> Option<RowType> {
    for (prefix, feature) in [
        ("select_one_from_file", "select_one_from_file (choices from an external file)"),
        ("select_multiple_from_file", "select_multiple_from_file (choices from an external file)"),
        ("select_one_external", "select_one_external (external choices)"),
        ("rank", "rank question"),
    ] {
        if strip_word(lower, prefix).is_some() {
            return Some(RowType::Unsupported(feature.into()));
        }
    }
    let candidates = SELECT_ONE
        .iter()
        .map(|s| (*s, FieldKind::SelectOne))
        .chain(SELECT_MULTIPLE.iter().map(|s| (*s, FieldKind::SelectMultiple)));
    // The longest spelling first: `select one from` before `select one`.
    let mut best: Option<(&str, FieldKind, &str)> = None;
    for (spelling, kind) in candidates {
        if let Some(rest) = lower.strip_prefix(spelling).and_then(|r| r.strip_prefix(' ')) {
            if best.is_none_or(|(b, _, _)| spelling.len() > b.len()) {
                best = Some((spelling, kind, rest));
            }
        }
    }
    let (spelling, kind, rest) = best?;
    // The spelling is ASCII, so the original has the list at the same offset (unless lowering
    // changed a character's length before it, when the lower-cased list is the best there is).
    let rest = spaced.get(spelling.len() + 1..).filter(|r| r.len() == rest.len()).unwrap_or(rest);
    let mut words = rest.split(' ');
    let list = words.next().filter(|l| !l.is_empty())?;
    match words.collect::<Vec<_>>().join(" ").to_lowercase().as_str() {
        "" => Some(RowType::Select { kind, list: list.to_string() }),
        "or_other" | "or other" => Some(RowType::Unsupported("or_other select".into())),
        other => Some(RowType::Unsupported(format!("`{other}` after a select's list name"))),
    }
}

/// A survey column, by its canonical name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Column {
    Type,
    Name,
    Label,
    Hint,
    Required,
    RequiredMessage,
    Relevant,
    Constraint,
    ConstraintMessage,
    Calculation,
    Default,
    ReadOnly,
    Appearance,
    ChoiceFilter,
    RepeatCount,
    Parameters,
}

impl Column {
    /// Whether the column carries text per language (`label::English (en)`).
    pub fn translated(self) -> bool {
        matches!(
            self,
            Column::Label | Column::Hint | Column::RequiredMessage | Column::ConstraintMessage
        )
    }
    /// The canonical header, as export writes it.
    pub fn header(self) -> &'static str {
        match self {
            Column::Type => "type",
            Column::Name => "name",
            Column::Label => "label",
            Column::Hint => "hint",
            Column::Required => "required",
            Column::RequiredMessage => "required_message",
            Column::Relevant => "relevant",
            Column::Constraint => "constraint",
            Column::ConstraintMessage => "constraint_message",
            Column::Calculation => "calculation",
            Column::Default => "default",
            Column::ReadOnly => "read_only",
            Column::Appearance => "appearance",
            Column::ChoiceFilter => "choice_filter",
            Column::RepeatCount => "repeat_count",
            Column::Parameters => "parameters",
        }
    }
    /// The model attribute a definition error names, back to its column.
    pub fn of_attribute(attribute: &str) -> Option<Column> {
        Some(match attribute {
            "relevant" => Column::Relevant,
            "constraint" => Column::Constraint,
            "calculation" => Column::Calculation,
            "default" => Column::Default,
            "required" => Column::Required,
            "read_only" => Column::ReadOnly,
            "choice_filter" => Column::ChoiceFilter,
            "repeat_count" => Column::RepeatCount,
            "label" => Column::Label,
            "hint" => Column::Hint,
            "choices" => Column::Type,
            "appearance" => Column::Appearance,
            "required_message" => Column::RequiredMessage,
            "constraint_message" => Column::ConstraintMessage,
            "capture_accuracy" | "warning_accuracy" | "max_pixels" | "min_repeats"
            | "max_repeats" => Column::Parameters,
            _ => return None,
        })
    }
}

/// Survey headers by spelling (lower-cased; `bind::` and `control::` prefixes already joined
/// with a single `:`).
const COLUMNS: &[(&str, Column)] = &[
    ("type", Column::Type),
    ("name", Column::Name),
    ("label", Column::Label),
    ("caption", Column::Label),
    ("hint", Column::Hint),
    ("required", Column::Required),
    ("bind:required", Column::Required),
    ("required_message", Column::RequiredMessage),
    ("required message", Column::RequiredMessage),
    ("bind:jr:requiredmsg", Column::RequiredMessage),
    ("jr:requiredmsg", Column::RequiredMessage),
    ("relevant", Column::Relevant),
    ("relevance", Column::Relevant),
    ("bind:relevant", Column::Relevant),
    ("constraint", Column::Constraint),
    ("bind:constraint", Column::Constraint),
    ("constraint_message", Column::ConstraintMessage),
    ("constraint message", Column::ConstraintMessage),
    ("bind:jr:constraintmsg", Column::ConstraintMessage),
    ("jr:constraintmsg", Column::ConstraintMessage),
    ("calculation", Column::Calculation),
    ("calculate", Column::Calculation),
    ("bind:calculate", Column::Calculation),
    ("default", Column::Default),
    ("read_only", Column::ReadOnly),
    ("readonly", Column::ReadOnly),
    ("read only", Column::ReadOnly),
    ("bind:readonly", Column::ReadOnly),
    ("appearance", Column::Appearance),
    ("control:appearance", Column::Appearance),
    ("choice_filter", Column::ChoiceFilter),
    ("choice filter", Column::ChoiceFilter),
    ("repeat_count", Column::RepeatCount),
    ("repeat count", Column::RepeatCount),
    ("jr:count", Column::RepeatCount),
    ("control:jr:count", Column::RepeatCount),
    ("parameters", Column::Parameters),
];

/// Columns that hold something outside the model; a non-empty cell in one is refused.
const UNSUPPORTED_COLUMNS: &[(&str, &str)] = &[
    ("trigger", "trigger column (setvalue on change)"),
    ("image", "media column (image)"),
    ("media:image", "media column (image)"),
    ("audio", "media column (audio)"),
    ("media:audio", "media column (audio)"),
    ("video", "media column (video)"),
    ("media:video", "media column (video)"),
    ("big-image", "media column (big-image)"),
    ("media:big-image", "media column (big-image)"),
    ("guidance_hint", "guidance_hint column"),
    ("save_to", "save_to column (entities)"),
    ("body:accuracythreshold", "body::accuracyThreshold column"),
];

/// What a survey header is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Header {
    Known {
        column: Column,
        language: Option<String>,
    },
    Unsupported(&'static str),
    /// Not an XLSForm column: ignored, as pyxform ignores it (`notes`, `tutorial notes`).
    Other(String),
}

/// Split a header into its column and language. `split_single` is whether the sheet uses a
/// single `:` as the language delimiter (pyxform's rule: when no header uses `::`).
pub fn header(cell: &str, split_single: bool) -> Header {
    // A header that is a column's spelling as a whole (`jr:count`, `bind:relevant`) is that
    // column, before any splitting.
    let whole = cell.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    if let Some((_, column)) = COLUMNS.iter().find(|(s, _)| *s == whole) {
        return Header::Known { column: *column, language: None };
    }
    let delimiter = if split_single { ":" } else { "::" };
    let parts: Vec<String> =
        cell.split(delimiter).map(|p| p.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    let first = parts.first().map(|p| p.to_lowercase()).unwrap_or_default();
    // `bind::relevant`, `control::jr:count`: the prefix and the column it names are one column.
    let (key, rest) =
        if matches!(first.as_str(), "bind" | "control" | "body" | "media") && parts.len() >= 2 {
            if split_single {
                // `bind:jr:constraintMsg` without `::`: everything after `bind` is the column.
                (format!("{first}:{}", parts[1..].join(":").to_lowercase()), Vec::new())
            } else {
                (format!("{first}:{}", parts[1].to_lowercase()), parts[2..].to_vec())
            }
        } else {
            (first, parts.get(1..).map(<[String]>::to_vec).unwrap_or_default())
        };
    if let Some((_, feature)) = UNSUPPORTED_COLUMNS.iter().find(|(s, _)| *s == key) {
        return Header::Unsupported(feature);
    }
    match COLUMNS.iter().find(|(s, _)| *s == key) {
        Some((_, column)) => {
            let language = rest.join(":");
            let language = if language.is_empty() { None } else { Some(language) };
            Header::Known { column: *column, language }
        }
        None => Header::Other(key),
    }
}

/// Every canonical header spelling (for "did you mean" on a misspelt header).
pub fn header_spellings() -> impl Iterator<Item = &'static str> {
    COLUMNS.iter().map(|(s, _)| *s).filter(|s| !s.contains(':'))
}

/// XLSForm's yes/no spellings (`yes`, `TRUE`, `true()`, ...); `None` when the cell is not one.
pub fn boolean(cell: &str) -> Option<bool> {
    match cell.trim().to_lowercase().as_str() {
        "yes" | "true" | "true()" => Some(true),
        "no" | "false" | "false()" => Some(false),
        _ => None,
    }
}

/// A language header's code: `Vietnamese (vi)` -> `vi`; a name without a code is its own code.
pub fn language_code(name: &str) -> String {
    let name = name.trim();
    if let (Some(open), true) = (name.rfind('('), name.ends_with(')')) {
        let code = name[open + 1..name.len() - 1].trim();
        if !code.is_empty() && !code.contains(' ') {
            return code.to_string();
        }
    }
    name.to_string()
}

/// The name a language is written with in headers on export: `Tiếng Việt (vi)` for the codes
/// the templates use, the code itself otherwise.
pub fn language_header(code: &str) -> String {
    match code {
        "vi" => "Tiếng Việt (vi)".to_string(),
        "en" => "English (en)".to_string(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_spellings_read_as_pyxform_reads_them() {
        assert_eq!(row_type("begin group"), RowType::Begin(FieldKind::Group));
        assert_eq!(row_type("begin_group"), RowType::Begin(FieldKind::Group));
        assert_eq!(row_type("Begin  Repeat"), RowType::Begin(FieldKind::Repeat));
        assert_eq!(row_type("end_repeat"), RowType::End(FieldKind::Repeat));
        assert_eq!(row_type("begin looped group"), RowType::Begin(FieldKind::Repeat));
        assert_eq!(row_type("end group"), RowType::End(FieldKind::Group));
        assert_eq!(row_type("dateTime"), RowType::Field(FieldKind::Datetime));
        assert_eq!(row_type("gps"), RowType::Field(FieldKind::Geopoint));
        assert_eq!(
            row_type("select one from yes_no"),
            RowType::Select { kind: FieldKind::SelectOne, list: "yes_no".into() }
        );
        assert_eq!(
            row_type("select all that apply from  colours"),
            RowType::Select { kind: FieldKind::SelectMultiple, list: "colours".into() }
        );
        assert_eq!(
            row_type("select_one yn or_other"),
            RowType::Unsupported("or_other select".into())
        );
        assert!(matches!(row_type("select_one_from_file x.csv"), RowType::Unsupported(_)));
        assert!(matches!(row_type("begin loop over l"), RowType::Unsupported(_)));
        assert_eq!(row_type("deviceid"), RowType::Metadata);
        assert_eq!(
            row_type("select_one  Yes_No"),
            RowType::Select { kind: FieldKind::SelectOne, list: "Yes_No".into() }
        );
        assert_eq!(row_type("intger"), RowType::Unknown);
        assert_eq!(row_type("select_one"), RowType::Unknown);
    }

    #[test]
    fn headers_split_into_column_and_language() {
        assert_eq!(
            header("label::Tiếng Việt (vi)", false),
            Header::Known { column: Column::Label, language: Some("Tiếng Việt (vi)".into()) }
        );
        assert_eq!(
            header("label :: French (fr)", false),
            Header::Known { column: Column::Label, language: Some("French (fr)".into()) }
        );
        assert_eq!(
            header("label:english", true),
            Header::Known { column: Column::Label, language: Some("english".into()) }
        );
        assert_eq!(
            header("bind:relevant", true),
            Header::Known { column: Column::Relevant, language: None }
        );
        assert_eq!(
            header("bind::jr:constraintMsg", false),
            Header::Known { column: Column::ConstraintMessage, language: None }
        );
        assert_eq!(
            header("bind:jr:constraintMsg", true),
            Header::Known { column: Column::ConstraintMessage, language: None }
        );
        assert_eq!(header("tutorial notes", false), Header::Other("tutorial notes".into()));
        assert!(matches!(header("trigger", false), Header::Unsupported(_)));
        assert_eq!(
            header("jr:count", true),
            Header::Known { column: Column::RepeatCount, language: None }
        );
    }

    #[test]
    fn booleans_and_languages() {
        for t in ["yes", "Yes", "TRUE", "true()", "true"] {
            assert_eq!(boolean(t), Some(true), "{t}");
        }
        for f in ["no", "NO", "FALSE", "false()"] {
            assert_eq!(boolean(f), Some(false), "{f}");
        }
        assert_eq!(boolean("${age} < 6"), None);
        assert_eq!(language_code("Vietnamese (vi)"), "vi");
        assert_eq!(language_code("english"), "english");
    }
}
