//! `safehome expr 'EXPR' [--vars VARS.json]`: evaluate one expression, print its value as JSON.

use std::path::Path;

use safehome_core::form::expr::{self, MapEnv};

use crate::source;
use crate::Outcome;

pub fn run(src: &str, vars: Option<&Path>) -> Outcome {
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
    let env = match MapEnv::from_json(&vars) {
        Ok(env) => env,
        Err(e) => {
            eprintln!("--vars: {e}");
            return Outcome::Unusable;
        }
    };
    match expr::eval(&parsed, &env) {
        Ok(v) => {
            println!("{}", v.to_json());
            Outcome::Ok
        }
        Err(e) => {
            eprintln!("{e}");
            Outcome::Refused
        }
    }
}
