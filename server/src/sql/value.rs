//! The values that cross the portable layer: what a statement is given ([`ToValue`]) and what a
//! row's cell holds ([`Value`], read back with [`FromValue`]). Both engines convert to and from
//! these five cases, so a query written once reads the same Rust types on either.

use super::Error;

/// One cell or parameter, the common ground of SQLite's storage classes and the PostgreSQL
/// types the schema uses (`BIGINT`, `TEXT`, `BYTEA`, `BOOLEAN` as 0/1, `NUMERIC` from `sum`).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Bytes(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Int(_) => "an integer",
            Value::Real(_) => "a real",
            Value::Text(_) => "text",
            Value::Bytes(_) => "bytes",
        }
    }

    pub(crate) fn mismatch(&self, column: usize, wanted: &'static str) -> Error {
        Error::Type { column, wanted, found: self.kind() }
    }
}

/// A Rust value a statement can take as a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

macro_rules! int_to_value {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(i64::from(*self))
            }
        }
    )*};
}
int_to_value!(i64, i32, u32, u16, u8, bool);

impl ToValue for usize {
    fn to_value(&self) -> Value {
        // Counts and limits: far below i64::MAX on any machine this runs on.
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Bytes(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Bytes(self.clone())
    }
}

impl ToValue for std::borrow::Cow<'_, str> {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// A Rust type a cell can be read as. Reading is strict about the kind (text is not read as a
/// number), lenient about width: an integer column reads as any integer type it fits.
pub trait FromValue: Sized {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error>;
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
        match value {
            Value::Null => Ok(None),
            v => T::from_value(v, column).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
        match value {
            Value::Int(i) => Ok(*i),
            v => Err(v.mismatch(column, "an integer")),
        }
    }
}

macro_rules! narrow_from_value {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
                let wide = i64::from_value(value, column)?;
                <$t>::try_from(wide).map_err(|_| Error::OutOfRange { column, value: wide })
            }
        }
    )*};
}
narrow_from_value!(i32, u32, u64, usize, u16, u8);

impl FromValue for bool {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
        Ok(i64::from_value(value, column)? != 0)
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
        match value {
            Value::Real(r) => Ok(*r),
            #[allow(clippy::cast_precision_loss)] // a count read as a ratio's numerator
            Value::Int(i) => Ok(*i as f64),
            v => Err(v.mismatch(column, "a real")),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            v => Err(v.mismatch(column, "text")),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value, column: usize) -> Result<Self, Error> {
        match value {
            Value::Bytes(b) => Ok(b.clone()),
            v => Err(v.mismatch(column, "bytes")),
        }
    }
}

impl FromValue for Value {
    fn from_value(value: &Value, _column: usize) -> Result<Self, Error> {
        Ok(value.clone())
    }
}

/// The parameters of one statement: `[]`, an array of one type, or [`params!`](crate::params)
/// for mixed types.
pub trait Params {
    fn into_values(self) -> Vec<Value>;
}

impl Params for [&dyn ToValue; 0] {
    fn into_values(self) -> Vec<Value> {
        Vec::new()
    }
}

impl Params for &[&dyn ToValue] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(|v| v.to_value()).collect()
    }
}

impl Params for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

macro_rules! array_params {
    ($($n:literal),*) => {$(
        impl<T: ToValue> Params for [T; $n] {
            fn into_values(self) -> Vec<Value> {
                self.iter().map(ToValue::to_value).collect()
            }
        }
        impl<T: ToValue> Params for &[T; $n] {
            fn into_values(self) -> Vec<Value> {
                self.iter().map(ToValue::to_value).collect()
            }
        }
    )*};
}
array_params!(1, 2, 3, 4, 5, 6, 7, 8);

/// Mixed-type parameters: `params![a, b, c]`.
#[macro_export]
macro_rules! params {
    () => { [] as [&dyn $crate::sql::ToValue; 0] };
    ($($p:expr),+ $(,)?) => { &[$(&$p as &dyn $crate::sql::ToValue),+] as &[&dyn $crate::sql::ToValue] };
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn integers_read_as_any_width_they_fit_and_refuse_others() {
        assert_eq!(u8::from_value(&Value::Int(200), 0).unwrap(), 200);
        assert!(matches!(
            u8::from_value(&Value::Int(300), 3),
            Err(Error::OutOfRange { column: 3, value: 300 })
        ));
        assert!(matches!(
            i64::from_value(&Value::Text("1".into()), 1),
            Err(Error::Type { column: 1, .. })
        ));
        assert_eq!(Option::<String>::from_value(&Value::Null, 0).unwrap(), None);
        assert!(bool::from_value(&Value::Int(1), 0).unwrap());
    }

    #[test]
    fn params_keep_their_order_and_kinds() {
        let name = String::from("x");
        let none: Option<i64> = None;
        let values = params![1i64, name, none, b"ab".as_slice(), true].into_values();
        assert_eq!(
            values,
            vec![
                Value::Int(1),
                Value::Text("x".into()),
                Value::Null,
                Value::Bytes(b"ab".to_vec()),
                Value::Int(1)
            ]
        );
        assert!(params![].into_values().is_empty());
    }
}
