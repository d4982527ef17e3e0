//! Definition checks: turn a `Form` into a `CheckedForm` whose expressions are parsed, whose
//! references resolve, and whose computations can be ordered. Every problem is reported (not just
//! the first) with the slash-separated path of the field it belongs to.

use std::collections::{BTreeSet, HashMap};

use super::expr::{self, Expr, ExprError, ExprKind, Func};
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
    /// For each field, every field that depends on it directly or transitively, in `order`.
    pub dependents: Vec<Vec<FieldId>>,
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
}

/// Check a form definition. Returns every problem found.
pub fn check(form: Form) -> Result<CheckedForm, Vec<DefinitionError>> {
    let mut cx = Checker { errors: Vec::new(), fields: Vec::new(), by_name: HashMap::new() };
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
        let id = cx.flatten(f, None, "", &[], &form);
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
    let (order, dependents) = cx.order();

    let mut checked = CheckedForm {
        form,
        fields: cx.fields,
        roots,
        by_name: cx.by_name,
        order,
        dependents,
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
    if errors.is_empty() { Ok(checked) } else { Err(errors) }
}

struct Checker {
    errors: Vec<DefinitionError>,
    fields: Vec<FieldInfo>,
    by_name: HashMap<String, FieldId>,
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

    /// Add `f` and its descendants in pre-order; returns its id.
    fn flatten(
        &mut self,
        f: &Field,
        parent: Option<FieldId>,
        parent_path: &str,
        repeats: &[FieldId],
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
        }
        for c in &f.children {
            let cid = self.flatten(c, Some(id), &path, &inner, form);
            self.fields[id].children.push(cid);
        }
        id
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

    /// Topological order of the dependency graph (document order among equals), and each field's
    /// transitive dependents. Cycles are reported with the fields they run through.
    fn order(&mut self) -> (Vec<FieldId>, Vec<Vec<FieldId>>) {
        let n = self.fields.len();
        let mut indegree = vec![0usize; n];
        let mut users: Vec<Vec<FieldId>> = vec![Vec::new(); n];
        for f in &self.fields {
            for &d in &f.deps {
                indegree[f.id] += 1;
                users[d].push(f.id);
            }
        }
        let mut ready: BTreeSet<FieldId> = (0..n).filter(|&i| indegree[i] == 0).collect();
        let mut order = Vec::with_capacity(n);
        while let Some(i) = ready.pop_first() {
            order.push(i);
            for &u in &users[i] {
                indegree[u] -= 1;
                if indegree[u] == 0 {
                    ready.insert(u);
                }
            }
        }
        if order.len() < n {
            self.report_cycles(&indegree);
            // Keep going with a total order so later checks can still run.
            let placed: BTreeSet<_> = order.iter().copied().collect();
            order.extend((0..n).filter(|i| !placed.contains(i)));
        }
        let mut rank = vec![0usize; n];
        for (r, &i) in order.iter().enumerate() {
            rank[i] = r;
        }
        let dependents = (0..n)
            .map(|start| {
                let mut seen = BTreeSet::new();
                let mut stack = vec![start];
                while let Some(i) = stack.pop() {
                    for &u in &users[i] {
                        if seen.insert(u) {
                            stack.push(u);
                        }
                    }
                }
                seen.remove(&start);
                let mut v: Vec<_> = seen.into_iter().collect();
                v.sort_by_key(|&i| rank[i]);
                v
            })
            .collect();
        (order, dependents)
    }

    fn report_cycles(&mut self, indegree: &[usize]) {
        // Fields left with a positive in-degree are on or behind a cycle. Walk dependencies
        // among them until a field repeats: that loop is a cycle.
        let stuck: BTreeSet<FieldId> = (0..indegree.len()).filter(|&i| indegree[i] > 0).collect();
        let mut reported: BTreeSet<FieldId> = BTreeSet::new();
        for &start in &stuck {
            if reported.contains(&start) {
                continue;
            }
            let mut trail = vec![start];
            let mut cur = start;
            loop {
                let next = self.fields[cur].deps.iter().copied().find(|d| stuck.contains(d));
                let Some(next) = next else { break };
                if let Some(pos) = trail.iter().position(|&t| t == next) {
                    let cycle = &trail[pos..];
                    if cycle.iter().all(|c| !reported.contains(c)) {
                        let mut names: Vec<_> =
                            cycle.iter().map(|&c| self.fields[c].def.name.clone()).collect();
                        names.push(self.fields[next].def.name.clone());
                        let path = self.fields[next].path.clone();
                        self.err(&path, DefinitionErrorKind::Cycle(names.join(" -> ")));
                        reported.extend(cycle.iter().copied());
                    }
                    break;
                }
                trail.push(next);
                cur = next;
            }
            reported.extend(trail);
        }
    }
}

fn cond_expr(c: &Cond) -> Option<&Expr> {
    match c {
        Cond::Expr(e) => Some(e),
        Cond::Const(_) => None,
    }
}
