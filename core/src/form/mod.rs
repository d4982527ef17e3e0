//! Survey forms: the model (what a form is), its definition checks, the expression language,
//! the session (one filling of a form) and risk screening (a form's `risk` section assessed on a
//! session).

pub mod answer_value;
pub mod answers;
pub mod check;
pub mod expr;
pub mod limits;
// The fuzz targets' bodies are for fuzz/ and the proptests only: not part of an app build.
#[cfg(feature = "test-hooks")]
pub mod fuzzing;
pub mod model;
pub mod risk;
pub mod session;
pub mod xlsform;

pub use check::{CheckedForm, DefinitionError, DefinitionErrorKind};
pub use model::{Choice, Field, FieldKind, Form, Text};
pub use session::{Session, SessionError};

pub use answer_value::AnswerValue;
