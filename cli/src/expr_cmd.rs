//! `safehome expr 'EXPR' [--vars VARS.json]`: evaluate one expression, print its value as JSON.

use std::path::Path;

use safehome_core::clock::{Clock, SystemClock};
use safehome_core::form::expr::{self, MapEnv};

use crate::Outcome;
use crate::outln;
use crate::source;
use crate::utc_offset::UtcOffset;

pub fn run(src: &str, vars: Option<&Path>, offset: UtcOffset) -> Outcome {
    let parsed = match expr::parse(src) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Refused;
        }
    };
    let vars = match vars.map(source::json_file).transpose() {
        Ok(v) => v.unwrap_or_else(|| serde_json::json!({})),
        Err(e) => {
            eprintln!("{e}");
            return Outcome::Unusable;
        }
    };
    // today() and now() use this machine's clock in the device's time zone (`--utc-offset`).
    let env = match MapEnv::from_json(&vars) {
        Ok(env) => {
            env.with_now_ms(SystemClock::default().now_ms()).with_offset_minutes(offset.minutes())
        }
        Err(e) => {
            eprintln!("--vars: {e}");
            return Outcome::Unusable;
        }
    };
    match expr::eval(&parsed, &env) {
        Ok(v) => {
            outln!("{}", v.to_json());
            Outcome::Ok
        }
        Err(e) => {
            eprintln!("{e}");
            Outcome::Refused
        }
    }
}
