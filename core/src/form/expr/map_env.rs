//! An [`Env`] over a plain map of field values, for the CLI, tests and benchmarks.

use std::collections::BTreeMap;

use super::eval::{Env, EvalError};
use super::value::Value;
use crate::clock::{Entropy, SeededEntropy};

/// Why JSON variables were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MapEnvError {
    #[error("variables must be a JSON object of field names to values")]
    NotAnObject,
}

/// Field values by name, with a fixed clock and seeded randomness.
///
/// Defaults: time 0 (1970-01-01T00:00Z), offset 0, blank current value, no repeat position,
/// no choice labels, seed 0.
#[derive(Debug)]
pub struct MapEnv {
    vars: BTreeMap<String, Value>,
    now_ms: i64,
    offset_min: i32,
    current: Value,
    position: Option<usize>,
    labels: BTreeMap<String, BTreeMap<String, String>>,
    columns: BTreeMap<String, Value>,
    entropy: SeededEntropy,
}

impl Default for MapEnv {
    fn default() -> Self {
        MapEnv::new(BTreeMap::new())
    }
}

impl MapEnv {
    pub fn new(vars: BTreeMap<String, Value>) -> MapEnv {
        MapEnv {
            vars,
            now_ms: 0,
            offset_min: 0,
            current: Value::empty(),
            position: None,
            labels: BTreeMap::new(),
            columns: BTreeMap::new(),
            entropy: SeededEntropy::new(0),
        }
    }

    /// Variables from a JSON object (`{"age": 4, "pets": "cat dog", "kids": [3, 5]}`), each
    /// converted with [`Value::from_json`] (an array is a node-set, as a field in a repeat).
    pub fn from_json(json: &serde_json::Value) -> Result<MapEnv, MapEnvError> {
        match json {
            serde_json::Value::Object(map) => {
                Ok(MapEnv::new(map.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()))
            }
            _ => Err(MapEnvError::NotAnObject),
        }
    }

    /// Set (or replace) a variable.
    pub fn set(&mut self, name: impl Into<String>, value: Value) {
        self.vars.insert(name.into(), value);
    }

    pub fn with_var(mut self, name: impl Into<String>, value: Value) -> MapEnv {
        self.set(name, value);
        self
    }

    pub fn with_now_ms(mut self, now_ms: i64) -> MapEnv {
        self.now_ms = now_ms;
        self
    }

    pub fn with_offset_minutes(mut self, offset_min: i32) -> MapEnv {
        self.offset_min = offset_min;
        self
    }

    /// The value of `.`.
    pub fn with_current(mut self, current: Value) -> MapEnv {
        self.current = current;
        self
    }

    /// The 1-based repeat position for `position(..)`.
    pub fn with_position(mut self, position: usize) -> MapEnv {
        self.position = Some(position);
        self
    }

    /// Label of choice `value` of select field `field`, for `jr:choice-name`.
    pub fn with_choice_label(
        mut self,
        field: impl Into<String>,
        value: impl Into<String>,
        label: impl Into<String>,
    ) -> MapEnv {
        self.labels.entry(field.into()).or_default().insert(value.into(), label.into());
        self
    }

    /// A column of the candidate choice, for bare names as in a `choice_filter`.
    pub fn with_column(mut self, name: impl Into<String>, value: Value) -> MapEnv {
        self.columns.insert(name.into(), value);
        self
    }

    /// Seed the deterministic random source used by `uuid()` and `random()`.
    pub fn with_seed(mut self, seed: u64) -> MapEnv {
        self.entropy = SeededEntropy::new(seed);
        self
    }

    pub fn vars(&self) -> &BTreeMap<String, Value> {
        &self.vars
    }
}

impl Env for MapEnv {
    fn lookup(&self, name: &str) -> Result<Value, EvalError> {
        self.vars
            .get(name)
            .cloned()
            .ok_or_else(|| EvalError::UnknownField { name: name.to_owned() })
    }

    fn current(&self) -> Value {
        self.current.clone()
    }

    fn position(&self) -> Option<usize> {
        self.position
    }

    /// Single level only: the innermost index picks a node of the field's node-set (a plain
    /// value is instance 1); out of range reads as blank.
    fn indexed_repeat(&self, field: &str, repeats: &[(&str, usize)]) -> Result<Value, EvalError> {
        let value = self.lookup(field)?;
        let Some(&(_, index)) = repeats.last() else {
            return Ok(value);
        };
        Ok(match value {
            Value::Nodes(nodes) => {
                index.checked_sub(1).and_then(|i| nodes.into_iter().nth(i)).unwrap_or_default()
            }
            other if index == 1 => other,
            _ => Value::empty(),
        })
    }

    fn choice_label(&self, field: &str, value: &str) -> Option<String> {
        self.labels.get(field)?.get(value).cloned()
    }

    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn utc_offset_minutes(&self) -> i32 {
        self.offset_min
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        self.entropy.fill(buf);
    }

    /// A column set with [`MapEnv::with_column`]; any other name selects nothing.
    fn column(&self, name: &str) -> Value {
        self.columns.get(name).cloned().unwrap_or_else(|| Value::Nodes(Vec::new()))
    }
}
