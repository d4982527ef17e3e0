//! A [`Form`] as an XLSForm spreadsheet (placeholder until written).
use super::super::model::Form;

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ExportError(String);

pub fn export(_form: &Form) -> Result<Vec<u8>, ExportError> {
    Err(ExportError("todo".into()))
}
