//! Definition checks: turn a `Form` into a `CheckedForm` whose expressions are parsed, whose
//! references resolve, and whose computations can be ordered. Every problem is reported (not just
//! the first) with the slash-separated path of the field it belongs to.

use std::collections::{BTreeSet, HashMap, HashSet};

use super::expr::{self, Expr, ExprError, ExprKind, Func};
use super::limits::{self, Pieces};
use super::model::{Condition, Field, FieldKind, Form, FormParseError};
use super::risk::{self, CompiledRisk};

/// Index of a field in `CheckedForm::fields` (document pre-order).
pub type FieldId = usize;

/// A constant or expression condition (`required`, `read_only`), parsed.
#[derive(Debug, Clone, PartialEq)]
pub enum Cond {
    Const(bool),
    Expr(Expr),
}

/// One field of a checked form, with its expressions parsed and its place in the tree.
#[derive(Debug, Clone)]
pub struct FieldInfo {
    pub id: FieldId,
    /// The definition, without its children (they are fields of their own).
    pub def: Field,
    /// Slash-separated names from the root, e.g. `household/children/age`.
    pub path: String,
    pub parent: Option<FieldId>,
    pub children: Vec<FieldId>,
    /// Enclosing repeats, outermost first (a repeat is not its own enclosing repeat).
    pub repeats: Vec<FieldId>,
    pub relevant: Option<Expr>,
    pub constraint: Option<Expr>,
    pub default: Option<Expr>,
    pub calculation: Option<Expr>,
    pub choice_filter: Option<Expr>,
    pub repeat_count: Option<Expr>,
    pub required: Cond,
    pub read_only: Cond,
    /// Fields whose values this field's computed state (relevance, requiredness, read-only,
    /// calculation, repeat count, choice filter) reads, plus its parent (relevance inherits).
    pub deps: Vec<FieldId>,
    /// The subset of `deps` read in other repeat instances than the field's own (through
    /// `indexed-repeat`): a change to them anywhere reaches every instance of this field.
    pub wide_deps: Vec<FieldId>,
}

impl FieldInfo {
    pub fn kind(&self) -> FieldKind {
        self.def.kind
    }
    pub fn name(&self) -> &str {
        &self.def.name
    }
    /// The innermost enclosing repeat.
    pub fn scope(&self) -> Option<FieldId> {
        self.repeats.last().copied()
    }
    /// Whether the value comes from an expression rather than from the volunteer.
    pub fn is_computed(&self) -> bool {
        self.calculation.is_some()
    }
}

/// A form that passed every definition check: the only kind a session can run.
#[derive(Debug, Clone)]
pub struct CheckedForm {
    pub form: Form,
    pub fields: Vec<FieldInfo>,
    pub roots: Vec<FieldId>,
    pub by_name: HashMap<String, FieldId>,
    /// Every field in an order where each comes after everything it depends on.
    pub order: Vec<FieldId>,
    /// For each field, the fields that depend on it directly (whose `deps` list it).
    pub users: Vec<Vec<FieldId>>,
    /// Position of each field in `order`.
    pub rank: Vec<usize>,
    pub instance_name: Option<Expr>,
    pub risk: Option<CompiledRisk>,
}

/// A problem with a form definition, at a field path (or `form`, `choices/LIST`, `risk/RULE`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct DefinitionError {
    pub path: String,
    pub kind: DefinitionErrorKind,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DefinitionErrorKind {
    #[error("the form has no fields")]
    NoFields,
    #[error("the form declares no languages")]
    NoLanguages,
    #[error("label language `{0}` is not one of the form's languages")]
    UnknownLanguage(String),
    #[error(
        "`{0}` is not a valid name (letters, digits, `_`, `-`, `.`; not starting with a digit)"
    )]
    InvalidName(String),
    #[error("duplicate name `{name}` (also at {first})")]
    DuplicateName { name: String, first: String },
    #[error("{attribute} column {col}: reference to unknown field ${{{name}}}")]
    UnknownField { attribute: &'static str, name: String, col: usize },
    #[error(
        "{attribute} column {col}: bare name `{name}` (write ${{{name}}} for a field; bare names \
         are choice columns, allowed only in choice_filter)"
    )]
    BareName { attribute: &'static str, name: String, col: usize },
    #[error("{attribute} {error}")]
    Expression { attribute: &'static str, error: ExprError },
    #[error("choice list `{0}` does not exist")]
    MissingChoiceList(String),
    #[error("{0} needs a choice list (`choices`)")]
    NoChoiceList(&'static str),
    #[error("choice list is empty")]
    EmptyChoiceList,
    #[error("duplicate choice `{0}`")]
    DuplicateChoice(String),
    #[error("choice name `{0}` must not be empty or contain spaces")]
    BadChoiceName(String),
    #[error("cycle among computations: {0}")]
    Cycle(String),
    #[error("repeat misuse: {0}")]
    RepeatMisuse(String),
    #[error("`{attribute}` does not apply to a {kind} field")]
    NotApplicable { attribute: &'static str, kind: &'static str },
    #[error("{0}")]
    BadValue(String),
    #[error("risk: {0}")]
    Risk(String),
    /// A resource limit (`form::limits`) that the form would always exceed.
    #[error("{what}: over the limit of {max} ({name})")]
    Limit { name: &'static str, max: u64, what: String },
}

/// A form that could not be loaded: bad JSON, or a definition with problems.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FormError {
    #[error(transparent)]
    Parse(#[from] FormParseError),
    #[error("{} problem(s) in the form definition; first: {}", .0.len(), first(.0))]
    Definition(Vec<DefinitionError>),
}

fn first(errors: &[DefinitionError]) -> String {
    errors.first().map(ToString::to_string).unwrap_or_default()
}

impl CheckedForm {
    /// Parse and check a JSON form.
    pub fn from_json(json: &str) -> Result<CheckedForm, FormError> {
        let form = Form::from_json(json)?;
        check(form).map_err(FormError::Definition)
    }

    pub fn field(&self, id: FieldId) -> &FieldInfo {
        &self.fields[id]
    }

    pub fn id_of(&self, name: &str) -> Option<FieldId> {
        self.by_name.get(name).copied()
    }

    pub fn default_language(&self) -> &str {
        self.form.languages.first().map(String::as_str).unwrap_or("")
    }

    /// Every field that depends on `id` directly or transitively, in `order`. Computed on
    /// demand (in time proportional to the dependents and their edges) rather than stored for
    /// every field, which would take quadratic memory on a long dependency chain.
    pub fn dependents(&self, id: FieldId) -> Vec<FieldId> {
        let mut seen: HashSet<FieldId> = HashSet::new();
        let mut stack = vec![id];
        while let Some(i) = stack.pop() {
            for &u in self.users.get(i).map_or(&[][..], Vec::as_slice) {
                if u != id && seen.insert(u) {
                    stack.push(u);
                }
            }
        }
        let mut v: Vec<FieldId> = seen.into_iter().collect();
        v.sort_unstable_by_key(|&i| self.rank.get(i).copied().unwrap_or(usize::MAX));
        v
    }
}

/// Check a form definition. Returns every problem found.
pub fn check(form: Form) -> Result<CheckedForm, Vec<DefinitionError>> {
    check_counting(form).0
}

/// [`check`], also returning a count of the work done on the dependency graph (edges and
/// fields visited by ordering, cycle detection and the limit checks), which tests bound to show
/// that the check stays linear.
pub(crate) fn check_counting(form: Form) -> (Result<CheckedForm, Vec<DefinitionError>>, u64) {
    let mut cx =
        Checker { errors: Vec::new(), fields: Vec::new(), by_name: HashMap::new(), work: 0 };
    if form.fields.is_empty() {
        cx.err("form", DefinitionErrorKind::NoFields);
    }
    if form.languages.is_empty() {
        cx.err("form", DefinitionErrorKind::NoLanguages);
    }
    cx.check_text("form/title", &form.title, &form.languages);
    cx.check_choices(&form);

    let mut roots = Vec::new();
    for f in &form.fields {
        let id = cx.flatten(f, None, "", &[], 1, &form);
        roots.push(id);
    }
    let instance_name = form
        .instance_name
        .as_deref()
        .and_then(|src| cx.parse_expr("form/instance_name", "instance_name", src));
    if let Some(e) = &instance_name {
        cx.resolve_refs("form/instance_name", "instance_name", e);
    }
    cx.resolve_all();
    let (order, users, rank) = cx.order();
    cx.check_instance_limits();
    cx.check_string_pieces(&order);
    let work = cx.work;

    let mut checked = CheckedForm {
        form,
        fields: cx.fields,
        roots,
        by_name: cx.by_name,
        order,
        users,
        rank,
        instance_name,
        risk: None,
    };
    let mut errors = cx.errors;
    if let Some(spec) = checked.form.risk.clone() {
        match risk::compile(&spec, &checked) {
            Ok(r) => checked.risk = Some(r),
            Err(mut e) => errors.append(&mut e),
        }
    }
    (if errors.is_empty() { Ok(checked) } else { Err(errors) }, work)
}

struct Checker {
    errors: Vec<DefinitionError>,
    fields: Vec<FieldInfo>,
    by_name: HashMap<String, FieldId>,
    /// Graph work done (see [`check_counting`]).
    work: u64,
}

/// Names as XLSForm allows them (XML element names without namespaces).
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        Some(c) if c.is_alphabetic() || c == '_' => {}
        _ => return false,
    }
    chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Checker {
    fn err(&mut self, path: &str, kind: DefinitionErrorKind) {
        self.errors.push(DefinitionError { path: path.to_string(), kind });
    }

    fn check_text(&mut self, path: &str, text: &super::Text, languages: &[String]) {
        for lang in text.keys() {
            if !languages.iter().any(|l| l == lang) {
                self.err(path, DefinitionErrorKind::UnknownLanguage(lang.clone()));
            }
        }
    }

    fn check_choices(&mut self, form: &Form) {
        for (list, choices) in &form.choices {
            let path = format!("choices/{list}");
            if choices.is_empty() {
                self.err(&path, DefinitionErrorKind::EmptyChoiceList);
            }
            let mut seen = BTreeSet::new();
            for c in choices {
                if c.name.is_empty() || c.name.chars().any(char::is_whitespace) {
                    self.err(&path, DefinitionErrorKind::BadChoiceName(c.name.clone()));
                }
                if !seen.insert(c.name.as_str()) {
                    self.err(&path, DefinitionErrorKind::DuplicateChoice(c.name.clone()));
                }
                self.check_text(&format!("{path}/{}", c.name), &c.label, &form.languages);
            }
        }
    }

    fn parse_expr(&mut self, path: &str, attribute: &'static str, src: &str) -> Option<Expr> {
        match expr::parse(src) {
            Ok(e) => Some(e),
            Err(error) => {
                self.err(path, DefinitionErrorKind::Expression { attribute, error });
                None
            }
        }
    }

    fn parse_cond(&mut self, path: &str, attribute: &'static str, c: &Condition) -> Cond {
        match c {
            Condition::Always(b) => Cond::Const(*b),
            Condition::When(src) => match self.parse_expr(path, attribute, src) {
                Some(e) => Cond::Expr(e),
                None => Cond::Const(false),
            },
        }
    }

    /// Add `f` and its descendants in pre-order; returns its id. `depth` is 1 at top level.
    fn flatten(
        &mut self,
        f: &Field,
        parent: Option<FieldId>,
        parent_path: &str,
        repeats: &[FieldId],
        depth: usize,
        form: &Form,
    ) -> FieldId {
        let path = if parent_path.is_empty() {
            f.name.clone()
        } else {
            format!("{parent_path}/{}", f.name)
        };
        let id = self.fields.len();
        if !is_valid_name(&f.name) {
            self.err(&path, DefinitionErrorKind::InvalidName(f.name.clone()));
        }
        if let Some(&other) = self.by_name.get(&f.name) {
            let first = self.fields[other].path.clone();
            self.err(&path, DefinitionErrorKind::DuplicateName { name: f.name.clone(), first });
        } else {
            self.by_name.insert(f.name.clone(), id);
        }
        self.check_text(&path, &f.label, &form.languages);
        self.check_text(&path, &f.hint, &form.languages);
        self.check_text(&path, &f.constraint_message, &form.languages);
        self.check_text(&path, &f.required_message, &form.languages);
        self.check_applicability(&path, f, form);

        let relevant = f.relevant.as_deref().and_then(|s| self.parse_expr(&path, "relevant", s));
        let constraint =
            f.constraint.as_deref().and_then(|s| self.parse_expr(&path, "constraint", s));
        let default = f.default.as_deref().and_then(|s| self.parse_expr(&path, "default", s));
        let calculation =
            f.calculation.as_deref().and_then(|s| self.parse_expr(&path, "calculation", s));
        let choice_filter =
            f.choice_filter.as_deref().and_then(|s| self.parse_expr(&path, "choice_filter", s));
        let repeat_count =
            f.repeat_count.as_deref().and_then(|s| self.parse_expr(&path, "repeat_count", s));
        let required = self.parse_cond(&path, "required", &f.required);
        let read_only = self.parse_cond(&path, "read_only", &f.read_only);

        let mut def = f.clone();
        def.children = Vec::new();
        self.fields.push(FieldInfo {
            id,
            def,
            path: path.clone(),
            parent,
            children: Vec::new(),
            repeats: repeats.to_vec(),
            relevant,
            constraint,
            default,
            calculation,
            choice_filter,
            repeat_count,
            required,
            read_only,
            deps: Vec::new(),
            wide_deps: Vec::new(),
        });
        let mut inner = repeats.to_vec();
        if f.kind == FieldKind::Repeat {
            inner.push(id);
            if inner.len() > limits::MAX_REPEAT_NESTING {
                self.limit(
                    &path,
                    "MAX_REPEAT_NESTING",
                    limits::MAX_REPEAT_NESTING as u64,
                    format!("a repeat nested {} deep in repeats", inner.len()),
                );
            }
        }
        if !f.children.is_empty() && depth >= limits::MAX_FIELD_DEPTH {
            // Its children are not checked (nor recursed into, which bounds the stack for a
            // form built in code rather than read from JSON).
            self.limit(
                &path,
                "MAX_FIELD_DEPTH",
                limits::MAX_FIELD_DEPTH as u64,
                format!("fields nested {} deep in groups and repeats", depth + 1),
            );
            return id;
        }
        for c in &f.children {
            let cid = self.flatten(c, Some(id), &path, &inner, depth + 1, form);
            self.fields[id].children.push(cid);
        }
        id
    }

    fn limit(&mut self, path: &str, name: &'static str, max: u64, what: String) {
        self.err(path, DefinitionErrorKind::Limit { name, max, what });
    }

    /// Repeat counts and bounds within [`limits::MAX_REPEAT_INSTANCES`], and the instances and
    /// values that the fixed counts (constant `repeat_count`s and `min_repeats`) always create
    /// within the session limits. Counts that depend on answers are bounded at fill time.
    fn check_instance_limits(&mut self) {
        let n = self.fields.len();
        let per_repeat = limits::MAX_REPEAT_INSTANCES as u64;
        // Values per instance of each scope: fields whose innermost repeat is the scope.
        let mut scope_values = vec![0u64; n];
        let mut root_values = 0u64;
        for f in &self.fields {
            match f.scope() {
                Some(r) => scope_values[r] += 1,
                None => root_values += 1,
            }
        }
        self.work += n as u64;
        // Fewest instances of each repeat in the whole session.
        let mut least = vec![0u64; n];
        let mut total = 0u64;
        let mut values = root_values;
        let (mut total_reported, mut values_reported) = (false, false);
        for id in 0..n {
            let f = &self.fields[id];
            if f.kind() != FieldKind::Repeat {
                continue;
            }
            let path = f.path.clone();
            let constant = f.repeat_count.as_ref().and_then(limits::constant_count);
            let bounds = [
                ("repeat_count", constant),
                ("max_repeats", f.def.max_repeats.map(u64::from)),
                ("min_repeats", f.def.min_repeats.map(u64::from)),
            ];
            for (attr, v) in bounds {
                if let Some(v) = v.filter(|&v| v > per_repeat) {
                    self.limit(
                        &path,
                        "MAX_REPEAT_INSTANCES",
                        per_repeat,
                        format!("{attr} is {v} instances"),
                    );
                }
            }
            let f = &self.fields[id];
            let own = limits::min_instances(f).min(per_repeat);
            let outer = f.scope().map_or(1, |r| least[r]);
            least[id] = outer.saturating_mul(own);
            total = total.saturating_add(least[id]);
            values = values.saturating_add(least[id].saturating_mul(scope_values[id]));
            if own == 0 {
                continue;
            }
            let mut factors: Vec<String> = f
                .repeats
                .iter()
                .chain([&id])
                .map(|&r| limits::min_instances(&self.fields[r]).min(per_repeat).to_string())
                .collect();
            if factors.len() == 1 {
                factors.clear();
            }
            let product = if factors.is_empty() {
                String::new()
            } else {
                format!(" ({})", factors.join(" × "))
            };
            if total > limits::MAX_TOTAL_INSTANCES as u64 && !total_reported {
                total_reported = true;
                self.limit(
                    &path,
                    "MAX_TOTAL_INSTANCES",
                    limits::MAX_TOTAL_INSTANCES as u64,
                    format!(
                        "the fixed repeat counts create at least {total} repeat instances, {} of \
                         this repeat{product}",
                        least[id]
                    ),
                );
            }
            if values > limits::MAX_SESSION_VALUES as u64 && !values_reported {
                values_reported = true;
                self.limit(
                    &path,
                    "MAX_SESSION_VALUES",
                    limits::MAX_SESSION_VALUES as u64,
                    format!(
                        "the fixed repeat counts create at least {values} field values, {} \
                         instances of this repeat{product} with {} fields each",
                        least[id], scope_values[id]
                    ),
                );
            }
        }
    }

    /// Calculations and defaults whose string would be assembled from more than
    /// [`limits::MAX_STRING_PIECES`] pieces, reported where the bound is first crossed (not again
    /// at every field downstream).
    fn check_string_pieces(&mut self, order: &[FieldId]) {
        let n = self.fields.len();
        let max = limits::MAX_STRING_PIECES;
        let mut fan = vec![1u64; n];
        let mut problems = Vec::new();
        for &id in order {
            let f = &self.fields[id];
            let exprs = [("calculation", f.calculation.as_ref()), ("default", f.default.as_ref())];
            for (attr, e) in exprs {
                let Some(e) = e else { continue };
                let counter =
                    Pieces { fields: &self.fields, by_name: &self.by_name, fan: &fan, context: f };
                let p = counter.of(e, false);
                self.work += 1;
                if p > max {
                    let upstream = e
                        .references()
                        .iter()
                        .any(|(name, _)| self.by_name.get(*name).is_some_and(|&g| fan[g] > max));
                    if !upstream {
                        problems.push((f.path.clone(), format!("{attr} assembles a string from up to {p} pieces (field values and literals)")));
                    }
                }
                fan[id] = fan[id].max(p);
            }
        }
        for (path, what) in problems {
            self.limit(&path, "MAX_STRING_PIECES", max, what);
        }
    }

    /// Attributes that make no sense for the field's type are errors, not silently ignored:
    /// a constraint on a note would never be checked, and the author should know.
    fn check_applicability(&mut self, path: &str, f: &Field, form: &Form) {
        let kind = f.kind.as_str();
        let na = |cx: &mut Checker, attribute: &'static str, present: bool| {
            if present {
                cx.err(path, DefinitionErrorKind::NotApplicable { attribute, kind });
            }
        };
        let k = f.kind;
        na(self, "children", !k.is_container() && !f.children.is_empty());
        na(self, "choices", !k.is_select() && f.choices.is_some());
        na(self, "choice_filter", !k.is_select() && f.choice_filter.is_some());
        na(self, "capture_accuracy", k != FieldKind::Geopoint && f.capture_accuracy.is_some());
        na(self, "warning_accuracy", k != FieldKind::Geopoint && f.warning_accuracy.is_some());
        na(self, "max_pixels", k != FieldKind::Image && f.max_pixels.is_some());
        let not_repeat = k != FieldKind::Repeat;
        na(self, "repeat_count", not_repeat && f.repeat_count.is_some());
        na(self, "min_repeats", not_repeat && f.min_repeats.is_some());
        na(self, "max_repeats", not_repeat && f.max_repeats.is_some());
        let valueless = !k.has_value();
        na(self, "constraint", valueless && f.constraint.is_some());
        na(self, "calculation", (valueless || k == FieldKind::Image) && f.calculation.is_some());
        na(self, "default", valueless && f.default.is_some());
        na(self, "required", valueless && f.required != Condition::Always(false));
        if k == FieldKind::Calculate && f.calculation.is_none() {
            self.err(
                path,
                DefinitionErrorKind::BadValue("a calculate field needs a calculation".into()),
            );
        }
        if k.is_container() && f.children.is_empty() {
            let what = if k == FieldKind::Repeat { "repeat" } else { "group" };
            if k == FieldKind::Repeat {
                self.err(path, DefinitionErrorKind::RepeatMisuse("a repeat with no fields".into()));
            } else {
                self.err(path, DefinitionErrorKind::BadValue(format!("an empty {what}")));
            }
        }
        if k.is_select() {
            match &f.choices {
                None => self.err(path, DefinitionErrorKind::NoChoiceList(kind)),
                Some(list) if !form.choices.contains_key(list) => {
                    self.err(path, DefinitionErrorKind::MissingChoiceList(list.clone()))
                }
                Some(_) => {}
            }
        }
        if k == FieldKind::Repeat {
            if let (Some(min), Some(max)) = (f.min_repeats, f.max_repeats) {
                if min > max {
                    self.err(
                        path,
                        DefinitionErrorKind::RepeatMisuse(format!(
                            "min_repeats {min} is greater than max_repeats {max}"
                        )),
                    );
                }
            }
            if f.repeat_count.is_some() && (f.min_repeats.is_some() || f.max_repeats.is_some()) {
                self.err(
                    path,
                    DefinitionErrorKind::RepeatMisuse(
                        "repeat_count fixes the number of instances; min/max_repeats apply to \
                         open-ended repeats only"
                            .into(),
                    ),
                );
            }
        }
        if let (Some(c), Some(w)) = (f.capture_accuracy, f.warning_accuracy) {
            if !(c > 0.0 && w >= c) {
                self.err(
                    path,
                    DefinitionErrorKind::BadValue(format!(
                        "accuracy thresholds must satisfy 0 < capture_accuracy ({c}) <= warning_accuracy ({w})"
                    )),
                );
            }
        }
        for (attr, v) in
            [("capture_accuracy", f.capture_accuracy), ("warning_accuracy", f.warning_accuracy)]
        {
            if let Some(v) = v {
                if !(v.is_finite() && v > 0.0) {
                    self.err(
                        path,
                        DefinitionErrorKind::BadValue(format!("{attr} must be a positive number")),
                    );
                }
            }
        }
        if f.max_pixels == Some(0) {
            self.err(path, DefinitionErrorKind::BadValue("max_pixels must be positive".into()));
        }
    }

    /// Check that every `${name}` resolves to a field, and return the ids referenced.
    fn resolve_refs(&mut self, path: &str, attribute: &'static str, e: &Expr) -> Vec<FieldId> {
        let mut ids = Vec::new();
        if attribute != "choice_filter" {
            for (name, col) in e.columns() {
                let name = name.to_string();
                self.err(path, DefinitionErrorKind::BareName { attribute, name, col });
            }
        }
        for (name, col) in e.references() {
            match self.by_name.get(name) {
                Some(&id) => ids.push(id),
                None => self.err(
                    path,
                    DefinitionErrorKind::UnknownField { attribute, name: name.to_string(), col },
                ),
            }
        }
        ids
    }

    /// Resolve every field's references and record its dependencies.
    fn resolve_all(&mut self) {
        for id in 0..self.fields.len() {
            let f = self.fields[id].clone();
            let mut deps = BTreeSet::new();
            let computed: [(&'static str, Option<&Expr>); 6] = [
                ("relevant", f.relevant.as_ref()),
                ("calculation", f.calculation.as_ref()),
                ("default", f.default.as_ref()),
                ("repeat_count", f.repeat_count.as_ref()),
                ("choice_filter", f.choice_filter.as_ref()),
                ("required", cond_expr(&f.required)),
            ];
            for (attr, e) in
                computed.iter().copied().chain([("read_only", cond_expr(&f.read_only))])
            {
                if let Some(e) = e {
                    for dep in self.resolve_refs(&f.path, attr, e) {
                        deps.insert(dep);
                    }
                }
            }
            if let Some(e) = &f.constraint {
                self.resolve_refs(&f.path, "constraint", e);
            }
            let all = computed.iter().map(|(a, e)| (*a, *e)).chain([
                ("read_only", cond_expr(&f.read_only)),
                ("constraint", f.constraint.as_ref()),
            ]);
            for (attr, e) in all {
                if let Some(e) = e {
                    self.check_repeat_functions(&f, attr, e);
                }
            }
            if let Some(rc) = &f.repeat_count {
                // A repeat's count cannot depend on what is inside the repeat.
                for (name, _) in rc.references() {
                    if let Some(&d) = self.by_name.get(name) {
                        if self.fields[d].repeats.contains(&id) {
                            self.err(
                                &f.path,
                                DefinitionErrorKind::RepeatMisuse(format!(
                                    "repeat_count refers to ${{{name}}}, which is inside the repeat"
                                )),
                            );
                        }
                    }
                }
            }
            if let Some(p) = f.parent {
                deps.insert(p);
            }
            deps.remove(&id);
            let mut wide = BTreeSet::new();
            for (_, e) in computed.iter().copied().chain([("read_only", cond_expr(&f.read_only))]) {
                e.into_iter().for_each(|e| {
                    e.visit(&mut |node| {
                        if let ExprKind::Call(Func::IndexedRepeat, args) = &node.kind {
                            if let Some(ExprKind::Ref(name)) = args.first().map(|a| &a.kind) {
                                wide.extend(self.by_name.get(name).copied());
                            }
                        }
                    })
                });
            }
            self.fields[id].deps = deps.into_iter().collect();
            self.fields[id].wide_deps = wide.into_iter().collect();
        }
    }

    /// `position(..)` needs an enclosing repeat; `indexed-repeat(${f}, ${r}, i, ...)` needs each
    /// `${r}` to be a repeat that encloses `${f}`.
    fn check_repeat_functions(&mut self, f: &FieldInfo, attribute: &'static str, e: &Expr) {
        let mut problems = Vec::new();
        e.visit(&mut |node| {
            let ExprKind::Call(func, args) = &node.kind else { return };
            match func {
                Func::Position if f.repeats.is_empty() && f.kind() != FieldKind::Repeat => {
                    problems.push(format!(
                        "{attribute} column {}: position(..) outside any repeat",
                        node.col
                    ));
                }
                Func::IndexedRepeat => {
                    let target = match args.first().map(|a| &a.kind) {
                        Some(ExprKind::Ref(name)) => self.by_name.get(name).copied(),
                        _ => {
                            problems.push(format!(
                                "{attribute} column {}: indexed-repeat needs ${{field}} first",
                                node.col
                            ));
                            None
                        }
                    };
                    for pair in args.get(1..).unwrap_or(&[]).chunks(2) {
                        let Some(ExprKind::Ref(rname)) = pair.first().map(|a| &a.kind) else {
                            problems.push(format!(
                                "{attribute} column {}: indexed-repeat takes ${{repeat}}, index pairs",
                                node.col
                            ));
                            continue;
                        };
                        let Some(r) = self.by_name.get(rname).copied() else { continue };
                        let encloses = target.is_some_and(|t| self.fields[t].repeats.contains(&r));
                        if self.fields[r].kind() != FieldKind::Repeat || (target.is_some() && !encloses) {
                            problems.push(format!(
                                "{attribute} column {}: ${{{rname}}} is not a repeat enclosing the field",
                                node.col
                            ));
                        }
                    }
                }
                _ => {}
            }
        });
        for p in problems {
            self.err(&f.path, DefinitionErrorKind::RepeatMisuse(p));
        }
    }

    /// Topological order of the dependency graph (document order among equals), each field's
    /// direct dependents, and each field's position in the order. Cycles are reported with the
    /// fields they run through. O((fields + edges) log fields).
    fn order(&mut self) -> (Vec<FieldId>, Vec<Vec<FieldId>>, Vec<usize>) {
        let n = self.fields.len();
        let mut indegree = vec![0usize; n];
        let mut users: Vec<Vec<FieldId>> = vec![Vec::new(); n];
        for f in &self.fields {
            for &d in &f.deps {
                indegree[f.id] += 1;
                users[d].push(f.id);
                self.work += 1;
            }
        }
        let mut ready: BTreeSet<FieldId> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &u in &users[i] {
                self.work += 1;
                indegree[u] -= 1;
                if indegree[u] == 0 {
                    ready.insert(u);
                }
            }
        }
        if order.len() < n {
            self.report_cycles(&indegree);
            // Keep going with a total order so later checks can still run.
            let mut placed = vec![false; n];
            for &i in &order {
                placed[i] = true;
            }
            order.extend((0..n).filter(|&i| !placed[i]));
        }
        let mut rank = vec![0usize; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        (order, users, rank)
    }

    /// Fields left with a positive in-degree are on or behind a cycle. From each, walk
    /// dependencies among them until the walk meets itself (a cycle, reported) or a field an
    /// earlier walk went through (nothing new). Each field is walked once: linear in the graph.
    fn report_cycles(&mut self, indegree: &[usize]) {
        const UNSEEN: usize = usize::MAX;
        const DONE: usize = usize::MAX - 1;
        let n = indegree.len();
        let stuck = |i: usize| indegree.get(i).is_some_and(|&d| d > 0);
        // For each field: UNSEEN, DONE, or its position on the current walk.
        let mut state = vec![UNSEEN; n];
        for start in 0..n {
            if !stuck(start) || state[start] != UNSEEN {
                continue;
            }
            let mut trail = vec![start];
            state[start] = 0;
            let mut cur = start;
            loop {
                let mut next = None;
                for &d in &self.fields[cur].deps {
                    self.work += 1;
                    if stuck(d) {
                        next = Some(d);
                        break;
                    }
                }
                let Some(next) = next else { break };
                match state[next] {
                    DONE => break,
                    UNSEEN => {
                        state[next] = trail.len();
                        trail.push(next);
                        cur = next;
                    }
                    pos => {
                        let mut names: Vec<_> =
                            trail[pos..].iter().map(|&c| self.fields[c].def.name.clone()).collect();
                        names.push(self.fields[next].def.name.clone());
                        let path = self.fields[next].path.clone();
                        self.err(&path, DefinitionErrorKind::Cycle(names.join(" -> ")));
                        break;
                    }
                }
            }
            for &t in &trail {
                state[t] = DONE;
            }
        }
    }
}

fn cond_expr(c: &Cond) -> Option<&Expr> {
    match c {
        Cond::Expr(e) => Some(e),
        Cond::Const(_) => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    /// `n` fields, field `i` calculated from field `i - 1`; with `cycle_at`, field 0 also reads
    /// field `cycle_at` (a cycle through fields 0..=cycle_at, the rest a tail hanging off it).
    fn chain(n: usize, cycle_at: Option<usize>) -> Form {
        let mut fields = vec![Field {
            name: "f0".into(),
            kind: FieldKind::Integer,
            calculation: cycle_at.map(|k| format!("${{f{k}}} + 1")),
            ..Field::default()
        }];
        for i in 1..n {
            fields.push(Field {
                name: format!("f{i}"),
                kind: FieldKind::Calculate,
                calculation: Some(format!("${{f{}}} + 1", i - 1)),
                ..Field::default()
            });
        }
        Form {
            id: "chain".into(),
            version: "1".into(),
            title: crate::form::Text::new(),
            languages: vec!["en".into()],
            instance_name: None,
            choices: Default::default(),
            fields,
            risk: None,
        }
    }

    /// The probe's 20,000-field chain took 13 s and 1.6 GB to check: every field's transitive
    /// dependents were stored (n²/2 entries). Now the graph work is a small multiple of fields
    /// plus edges, and dependents are found on demand.
    #[test]
    fn a_20000_field_chain_checks_in_linear_work() {
        let n = 20_000;
        let (checked, work) = check_counting(chain(n, None));
        let form = checked.unwrap();
        let edges = (n - 1) as u64;
        assert!(work <= 4 * (n as u64 + edges), "{work} units of graph work for {n} fields");
        assert_eq!(form.users.iter().map(Vec::len).sum::<usize>(), n - 1);
        assert_eq!(form.dependents(0).len(), n - 1);
        assert_eq!(form.dependents(n - 2), vec![n - 1]);
        assert!(form.dependents(n - 1).is_empty());
    }

    /// Cycle reporting walked the cycle again from every field of a tail behind it (quadratic);
    /// each field is now walked once, and the cycle is reported once.
    #[test]
    fn a_cycle_behind_a_long_tail_is_reported_once_in_linear_work() {
        let n = 20_000;
        let (checked, work) = check_counting(chain(n, Some(2)));
        let errors = checked.unwrap_err();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0].path, "f0");
        assert_eq!(errors[0].kind, DefinitionErrorKind::Cycle("f0 -> f2 -> f1 -> f0".into()));
        assert!(work <= 6 * (n as u64 + n as u64), "{work} units of graph work for {n} fields");
    }
}
