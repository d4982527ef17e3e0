//! Enums stored as text in one column each: record and outbox states, kinds, roles, risk levels.
//!
//! Each enum is the one place in Rust where its values are written: `stored_enum!` declares the
//! variants with their text, and from that one list come `as_str`, a strict parse (`FromStr`),
//! `Display`, serde (the same text) and rusqlite's `ToSql` / `FromSql`. The schema writes the
//! values a second time, in the column's `CHECK (... IN (...))` list; a test compares the two
//! (`tests::every_check_list_is_a_stored_enum`), so a value added in one place only fails.
//!
//! Text that is not one of the values is an error (`UnknownValue`, naming the table and column),
//! never read as some default: a database edited outside the app, or written by a newer app,
//! must not turn an incident into a visit or an acknowledged item into a pending one.

/// An enum stored as text in one column of the schema.
pub trait StoredEnum: Copy + Sized + 'static {
    /// What a value is, in messages ("record state").
    const WHAT: &'static str;
    /// The table and column that store it.
    const TABLE: &'static str;
    const COLUMN: &'static str;
    /// Every value, in declaration order.
    const ALL: &'static [Self];

    /// The stored text.
    fn text(self) -> &'static str;

    /// The value whose text is exactly `text` (case and spaces count).
    fn from_text(text: &str) -> Result<Self, UnknownValue> {
        Self::ALL.iter().copied().find(|v| v.text() == text).ok_or_else(|| UnknownValue {
            what: Self::WHAT,
            table: Self::TABLE,
            column: Self::COLUMN,
            // The columns hold codes, never personal data; the cut keeps a damaged or hostile
            // value from filling a log line.
            value: text.chars().take(40).collect(),
        })
    }
}

/// Text that is none of a stored enum's values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {value:?} (expected in {table}.{column})")]
pub struct UnknownValue {
    pub what: &'static str,
    pub table: &'static str,
    pub column: &'static str,
    /// The text found (at most 40 characters of it).
    pub value: String,
}

/// `FromStr`, `Display`, `ToSql` and `FromSql` for a `StoredEnum`, from its text. Separate from
/// `stored_enum!` for `risk::Level`, which the form engine declares with its own serde names.
macro_rules! stored_text_impls {
    ($name:ty) => {
        impl ::std::str::FromStr for $name {
            type Err = $crate::store::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$name as $crate::store::StoredEnum>::from_text(s)
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                // `pad`, so that `{:<13}` in a table lines up as it did with strings.
                f.pad($crate::store::StoredEnum::text(*self))
            }
        }

        impl ::rusqlite::types::ToSql for $name {
            fn to_sql(&self) -> ::rusqlite::Result<::rusqlite::types::ToSqlOutput<'_>> {
                Ok($crate::store::StoredEnum::text(*self).into())
            }
        }

        impl ::rusqlite::types::FromSql for $name {
            fn column_result(
                value: ::rusqlite::types::ValueRef<'_>,
            ) -> ::rusqlite::types::FromSqlResult<Self> {
                <$name as $crate::store::StoredEnum>::from_text(value.as_str()?)
                    .map_err(::rusqlite::types::FromSqlError::other)
            }
        }
    };
}
pub(crate) use stored_text_impls;

/// Declare an enum stored as text in `table.column`, each variant with its text:
///
/// ```ignore
/// stored_enum! {
///     /// Where an outbox item is.
///     pub enum OutboxState("outbox state" in "outbox"."state") {
///         Pending = "pending",
///         Uploaded = "uploaded",
///     }
/// }
/// ```
///
/// Serde uses the same text, so JSON output shows what the database holds.
macro_rules! stored_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident($what:literal in $table:literal . $column:literal) {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant, )+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text stored in the database and written in JSON.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl $crate::store::StoredEnum for $name {
            const WHAT: &'static str = $what;
            const TABLE: &'static str = $table;
            const COLUMN: &'static str = $column;
            const ALL: &'static [Self] = $name::ALL;
            fn text(self) -> &'static str {
                self.as_str()
            }
        }

        $crate::store::stored_enum::stored_text_impls!($name);
    };
}
pub(crate) use stored_enum;

/// The risk level is the form engine's (`risk::Level`, in the signed assessment); the store
/// keeps it in `records.risk_level` for the review queue's order.
impl StoredEnum for crate::form::risk::Level {
    const WHAT: &'static str = "risk level";
    const TABLE: &'static str = "records";
    const COLUMN: &'static str = "risk_level";
    const ALL: &'static [Self] = &[Self::Low, Self::Medium, Self::High, Self::Urgent];
    fn text(self) -> &'static str {
        use crate::form::risk::Level;
        // Matched by name on purpose: a new level stops the build here, next to `ALL`.
        match self {
            Level::Low | Level::Medium | Level::High | Level::Urgent => self.as_str(),
        }
    }
}
stored_text_impls!(crate::form::risk::Level);

#[cfg(test)]
mod tests;
