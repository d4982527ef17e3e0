//! Survey forms: the model (what a form is), its definition checks, the expression language,
//! and the session (one filling of a form).

pub mod answers;
pub mod check;
pub mod expr;
pub mod model;
pub mod session;

pub use check::{CheckedForm, DefinitionError, DefinitionErrorKind};
pub use model::{Choice, Field, FieldKind, Form, Text};
pub use session::{Session, SessionError};
