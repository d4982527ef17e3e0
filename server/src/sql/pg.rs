//! PostgreSQL under the portable layer: connecting with the server's limits, translating the
//! few things its SQL spells differently, and converting values both ways.

use std::collections::HashMap;
use std::time::Duration;

use bytes::BytesMut;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, NoTls, Statement};

use super::{Error, Result, Row, Value};

/// How many connections a server process opens for reads at most (the writer has its own).
pub const DEFAULT_POOL: usize = 8;

/// The limits every connection of the server sets for itself.
#[derive(Debug, Clone)]
pub struct PgSettings {
    /// A statement running longer is cancelled (`statement_timeout`): a request never hangs on
    /// the database.
    pub statement_timeout: Duration,
    /// Waiting for a lock longer fails (`lock_timeout`), the write lock included.
    pub lock_timeout: Duration,
    /// A transaction left idle longer is ended by PostgreSQL (a request that died mid-way
    /// releases its locks). Zero: no limit.
    pub idle_in_transaction: Duration,
    pub connect_timeout: Duration,
    /// Commit without waiting for the WAL's fsync (`synchronous_commit = off`): for the reader
    /// pool, whose only writes are request nonces, whose loss in a crash costs nothing.
    pub lazy_commits: bool,
}

impl Default for PgSettings {
    fn default() -> PgSettings {
        PgSettings {
            statement_timeout: Duration::from_secs(30),
            lock_timeout: Duration::from_secs(30),
            idle_in_transaction: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(10),
            lazy_commits: false,
        }
    }
}

/// The statements one connection keeps prepared, at most (the server's queries are a fixed set
/// of a few hundred; the cap only guards against a caller building SQL from data).
const STATEMENT_CACHE: usize = 1024;

pub struct PgConn {
    client: Client,
    statements: HashMap<String, Statement>,
}

impl PgConn {
    pub fn connect(url: &str, settings: &PgSettings) -> Result<PgConn> {
        let mut config: postgres::Config = url.parse()?;
        if config.get_application_name().is_none() {
            config.application_name("safehome-server");
        }
        // The server's limits, unless the URL's own `options` set them.
        let given = config.get_options().unwrap_or("").to_string();
        let mut options = given.clone();
        for (name, value) in [
            ("statement_timeout", settings.statement_timeout),
            ("lock_timeout", settings.lock_timeout),
            ("idle_in_transaction_session_timeout", settings.idle_in_transaction),
        ] {
            if !given.contains(name) {
                options.push_str(&format!(" -c {name}={}", value.as_millis()));
            }
        }
        if settings.lazy_commits && !given.contains("synchronous_commit") {
            options.push_str(" -c synchronous_commit=off");
        }
        config.options(options.trim());
        config.connect_timeout(settings.connect_timeout);
        let client = config.connect(NoTls)?;
        Ok(PgConn { client, statements: HashMap::new() })
    }

    fn statement(&mut self, sql: &str, values: &[Value]) -> Result<Statement> {
        let sql = translate(sql, values);
        if let Some(s) = self.statements.get(&sql) {
            return Ok(s.clone());
        }
        let prepared = match self.client.prepare(&sql) {
            Ok(p) => p,
            Err(e) => {
                tracing::debug!(sql = %sql, "PostgreSQL refused to prepare a statement");
                return Err(e.into());
            }
        };
        if self.statements.len() >= STATEMENT_CACHE {
            self.statements.clear();
        }
        self.statements.insert(sql, prepared.clone());
        Ok(prepared)
    }

    pub fn execute(&mut self, sql: &str, values: &[Value]) -> Result<usize> {
        let stmt = self.statement(sql, values)?;
        let params: Vec<PgParam<'_>> = values.iter().map(PgParam).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let n = self.client.execute(&stmt, &refs)?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    pub fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    pub fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }

    /// The first row of `sql`, if any; the rest are not fetched.
    pub fn first(&mut self, sql: &str, values: &[Value]) -> Result<Option<Row>> {
        let stmt = self.statement(sql, values)?;
        let params: Vec<PgParam<'_>> = values.iter().map(PgParam).collect();
        let mut rows = self.client.query_raw(&stmt, params.iter())?;
        match rows.next()? {
            Some(row) => Ok(Some(row_of(&row)?)),
            None => Ok(None),
        }
    }

    pub fn for_each(
        &mut self,
        sql: &str,
        values: &[Value],
        f: &mut dyn FnMut(&Row) -> Result<()>,
    ) -> Result<()> {
        let stmt = self.statement(sql, values)?;
        let params: Vec<PgParam<'_>> = values.iter().map(PgParam).collect();
        let mut rows = self.client.query_raw(&stmt, params.iter())?;
        while let Some(row) = rows.next()? {
            f(&row_of(&row)?)?;
        }
        Ok(())
    }
}

fn row_of(row: &postgres::Row) -> Result<Row> {
    let mut cells = Vec::with_capacity(row.len());
    for i in 0..row.len() {
        cells.push(row.try_get::<_, PgCell>(i)?.0);
    }
    Ok(Row { cells })
}

/// SQLite's spelling to PostgreSQL's: each `?N` (or bare `?`) becomes `$N`, cast to the type
/// of the value given for it (so `?2 / 1000` is 64-bit arithmetic, not PostgreSQL's guess of a
/// 32-bit integer); `json_each(x)` becomes `json_array_elements_text(CAST(x AS json))` (same
/// `value` column). Text in single quotes is left alone.
pub fn translate(sql: &str, values: &[Value]) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.char_indices().peekable();
    let mut quoted = false;
    let mut next_bare = 1usize;
    while let Some((_, c)) = chars.next() {
        if c == '\'' {
            quoted = !quoted;
            out.push(c);
            continue;
        }
        if quoted || c != '?' {
            out.push(c);
            continue;
        }
        let mut digits = String::new();
        while let Some((_, d)) = chars.peek().copied().filter(|(_, d)| d.is_ascii_digit()) {
            digits.push(d);
            chars.next();
        }
        let n = if digits.is_empty() { next_bare } else { digits.parse().unwrap_or(0) };
        next_bare = n + 1;
        out.push('$');
        out.push_str(&n.to_string());
        let cast = match values.get(n.wrapping_sub(1)) {
            Some(Value::Int(_)) => "::int8",
            Some(Value::Real(_)) => "::float8",
            Some(Value::Text(_)) => "::text",
            Some(Value::Bytes(_)) => "::bytea",
            Some(Value::Null) | None => "",
        };
        out.push_str(cast);
    }
    json_each(&out)
}

/// `json_each(arg)` → `json_array_elements_text(CAST(arg AS json))`, parentheses matched.
fn json_each(sql: &str) -> String {
    const FROM: &str = "json_each(";
    let mut out = String::with_capacity(sql.len() + 32);
    let mut rest = sql;
    while let Some(at) = rest.find(FROM) {
        out.push_str(&rest[..at]);
        let arg_start = at + FROM.len();
        let mut depth = 1usize;
        let mut end = None;
        for (i, c) in rest[arg_start..].char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = Some(arg_start + i);
                        break;
                    }
                }
                _ => {}
            }
        }
        let Some(end) = end else {
            out.push_str(&rest[at..]);
            return out;
        };
        out.push_str("json_array_elements_text(CAST(");
        out.push_str(&rest[arg_start..end]);
        out.push_str(" AS json))");
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

/// A parameter, written in the binary form of the type PostgreSQL expects for it.
#[derive(Debug)]
struct PgParam<'a>(&'a Value);

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for PgParam<'_> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> std::result::Result<IsNull, BoxError> {
        let wrong = || -> BoxError { format!("{:?} given for a {ty} parameter", self.0).into() };
        match self.0 {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR => i.to_string().as_str().to_sql(ty, out),
                _ => Err(wrong()),
            },
            Value::Real(r) => match *ty {
                Type::FLOAT8 => r.to_sql(ty, out),
                _ => Err(wrong()),
            },
            Value::Text(t) => match *ty {
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                    t.as_str().to_sql(ty, out)
                }
                Type::JSON => {
                    out.extend_from_slice(t.as_bytes());
                    Ok(IsNull::No)
                }
                _ => Err(wrong()),
            },
            Value::Bytes(b) => match *ty {
                Type::BYTEA => b.as_slice().to_sql(ty, out),
                _ => Err(wrong()),
            },
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

/// A cell read from PostgreSQL.
struct PgCell(Value);

impl<'a> FromSql<'a> for PgCell {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> std::result::Result<PgCell, BoxError> {
        Ok(PgCell(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i64::from(i32::from_sql(ty, raw)?)),
            Type::INT2 => Value::Int(i64::from(i16::from_sql(ty, raw)?)),
            Type::OID => Value::Int(i64::from(u32::from_sql(ty, raw)?)),
            Type::BOOL => Value::Int(i64::from(bool::from_sql(ty, raw)?)),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f64::from(f32::from_sql(ty, raw)?)),
            Type::NUMERIC => numeric(raw)?,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN | Type::JSON => {
                Value::Text(String::from_utf8(raw.to_vec())?)
            }
            Type::JSONB => Value::Text(String::from_utf8(raw.get(1..).unwrap_or(&[]).to_vec())?),
            Type::BYTEA => Value::Bytes(raw.to_vec()),
            Type::VOID => Value::Null,
            _ => return Err(Box::new(Error::PgType(ty.to_string()))),
        }))
    }

    fn from_sql_null(_: &Type) -> std::result::Result<PgCell, BoxError> {
        Ok(PgCell(Value::Null))
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

/// A `NUMERIC` (what PostgreSQL's `sum` and `avg` of integers return): an integer when it is
/// one and fits, else a real. Binary form: digit count, weight, sign, scale, then base-10,000
/// digits, the first worth 10,000^weight.
fn numeric(raw: &[u8]) -> std::result::Result<Value, BoxError> {
    let word = |i: usize| -> std::result::Result<u16, BoxError> {
        let b = raw.get(i * 2..i * 2 + 2).ok_or("a short NUMERIC")?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    };
    let ndigits = usize::from(word(0)?);
    #[allow(clippy::cast_possible_wrap)]
    let weight = i32::from(word(1)? as i16);
    let sign = word(2)?;
    if sign == 0xC000 {
        return Ok(Value::Real(f64::NAN));
    }
    let negative = sign == 0x4000;
    let mut int: Option<i128> = Some(0);
    let mut real = 0f64;
    for i in 0..ndigits {
        let digit = word(4 + i)?;
        let power = weight - i32::try_from(i)?;
        real += f64::from(digit) * 10_000f64.powi(power);
        int = match (int, power) {
            (Some(acc), p) if p >= 0 => u32::try_from(p)
                .ok()
                .and_then(|p| 10_000i128.checked_pow(p))
                .and_then(|m| acc.checked_add(i128::from(digit) * m)),
            (acc, _) if digit == 0 => acc,
            _ => None,
        };
    }
    let int = int.and_then(|v| i64::try_from(if negative { -v } else { v }).ok());
    Ok(match int {
        Some(v) => Value::Int(v),
        None => Value::Real(if negative { -real } else { real }),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn parameters_become_numbered_and_typed_and_quoted_text_is_kept() {
        let values = [Value::Int(1), Value::Text("a".into()), Value::Null, Value::Bytes(vec![1])];
        assert_eq!(
            translate(
                "SELECT '?1', x FROM t WHERE a = ?1 AND b = ?2 AND c IS ?3 AND d = ?4",
                &values
            ),
            "SELECT '?1', x FROM t WHERE a = $1::int8 AND b = $2::text AND c IS $3 AND d = $4::bytea"
        );
        assert_eq!(translate("VALUES (?, ?)", &values[..2]), "VALUES ($1::int8, $2::text)");
        assert_eq!(translate("LIMIT ?12", &[]), "LIMIT $12");
    }

    #[test]
    fn json_each_becomes_the_elements_of_a_json_array() {
        let v = [Value::Text("[]".into())];
        assert_eq!(
            translate(
                "SELECT j.value FROM teams t, json_each(t.communes) j WHERE c IN \
                 (SELECT value FROM json_each(?1))",
                &v
            ),
            "SELECT j.value FROM teams t, json_array_elements_text(CAST(t.communes AS json)) j \
             WHERE c IN (SELECT value FROM json_array_elements_text(CAST($1::text AS json)))"
        );
    }

    fn encode(ndigits: u16, weight: i16, sign: u16, scale: u16, digits: &[u16]) -> Vec<u8> {
        let mut out = Vec::new();
        #[allow(clippy::cast_sign_loss)]
        for w in [ndigits, weight as u16, sign, scale].iter().chain(digits) {
            out.extend_from_slice(&w.to_be_bytes());
        }
        out
    }

    #[test]
    fn numerics_read_as_integers_when_they_are_and_reals_otherwise() {
        // 123456789 = 1·10000² + 2345·10000 + 6789
        assert_eq!(
            numeric(&encode(3, 2, 0, 0, &[1, 2345, 6789])).unwrap(),
            Value::Int(123_456_789)
        );
        // -20000: one digit of weight 1
        assert_eq!(numeric(&encode(1, 1, 0x4000, 0, &[2])).unwrap(), Value::Int(-20_000));
        assert_eq!(numeric(&encode(0, 0, 0, 0, &[])).unwrap(), Value::Int(0));
        // 1.5 = 1 + 5000·10000⁻¹
        assert_eq!(numeric(&encode(2, 0, 0, 1, &[1, 5000])).unwrap(), Value::Real(1.5));
        assert!(numeric(&[0, 1]).is_err());
    }
}
