//! Sheets to a [`Form`]: the survey rows become fields (groups and repeats nest between their
//! begin and end rows), the choices sheet the choice lists, the settings sheet the form's
//! identity and the risk sheet its risk rules. Every problem is collected with its cell; a row
//! that cannot be read still yields a placeholder field of its name, so that the definition
//! check run afterwards does not report references to it as unknown.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::cells::{a1, did_you_mean};
use super::names::{self, Column, Header, RowType};
use super::workbook::{Row, Sheet, Workbook};
use super::{Problem, XlsformError};
use crate::form::check::{self, CheckedForm, DefinitionError, DefinitionErrorKind};
use crate::form::model::{Choice, Condition, Field, FieldKind, Form, Text};

mod risk;

use risk::RiskHeaders;

/// A problem before it is sorted and rendered: sheet, 1-based row, 0-based column.
#[derive(Debug, Clone)]
struct Spot {
    sheet: String,
    row: u32,
    col: Option<u32>,
    message: String,
}

/// Where each part of the form came from, to put the definition check's problems back on the
/// cells that caused them.
#[derive(Debug, Default)]
pub struct Places {
    survey: String,
    survey_columns: HashMap<Column, u32>,
    name_col: u32,
    /// Field path (as the check writes it) -> survey rows with that path, in order.
    fields: HashMap<String, Vec<u32>>,
    field_names: Vec<String>,
    choices: Option<(String, u32)>,
    lists: HashMap<String, u32>,
    list_names: Vec<String>,
    risk: Option<(String, Option<u32>)>,
    rules: HashMap<String, u32>,
    settings: Option<String>,
    /// Rows that already have a problem: the check's view of them is not repeated.
    troubled: HashSet<(String, u32)>,
    sheet_order: Vec<String>,
}

impl Places {
    fn spot(&self, e: &DefinitionError) -> Spot {
        let mut message = e.kind.to_string();
        if e.path == "form" {
            let sheet = self.settings.clone().unwrap_or_else(|| self.survey.clone());
            return Spot { sheet, row: 0, col: None, message };
        }
        if let Some(list) = e.path.strip_prefix("choices/") {
            if let Some((sheet, col)) = &self.choices {
                let row = self.lists.get(list).copied().unwrap_or(0);
                return Spot { sheet: sheet.clone(), row, col: Some(*col), message };
            }
        }
        if let Some(rule) = e.path.strip_prefix("risk/") {
            if let Some((sheet, col)) = &self.risk {
                let row = self.rules.get(rule).copied().unwrap_or(0);
                return Spot { sheet: sheet.clone(), row, col: *col, message };
            }
        }
        let rows = self.fields.get(&e.path);
        let row = match &e.kind {
            DefinitionErrorKind::DuplicateName { .. } => rows.and_then(|r| r.last()),
            _ => rows.and_then(|r| r.first()),
        }
        .copied()
        .unwrap_or(0);
        let column = match &e.kind {
            DefinitionErrorKind::UnknownField { attribute, name, .. } => {
                message.push_str(&did_you_mean(name, self.field_names.iter().map(String::as_str)));
                Column::of_attribute(attribute)
            }
            DefinitionErrorKind::BareName { attribute, .. }
            | DefinitionErrorKind::Expression { attribute, .. }
            | DefinitionErrorKind::NotApplicable { attribute, .. } => {
                Column::of_attribute(attribute)
            }
            DefinitionErrorKind::MissingChoiceList(list) => {
                message = format!(
                    "unknown choice list '{list}'{}",
                    did_you_mean(list, self.list_names.iter().map(String::as_str))
                );
                Some(Column::Type)
            }
            DefinitionErrorKind::NoChoiceList(_) => Some(Column::Type),
            DefinitionErrorKind::UnknownLanguage(_) => Some(Column::Label),
            DefinitionErrorKind::RepeatMisuse(_) => Some(Column::RepeatCount),
            _ => None,
        };
        let col = column.and_then(|c| self.survey_columns.get(&c).copied()).or(Some(self.name_col));
        Spot { sheet: self.survey.clone(), row, col, message }
    }

    fn sort_render(&self, mut spots: Vec<Spot>) -> Vec<Problem> {
        let order = |s: &str| self.sheet_order.iter().position(|n| n == s).unwrap_or(usize::MAX);
        spots.sort_by_key(|a| (order(&a.sheet), a.row, a.col));
        spots.dedup_by(|a, b| a.sheet == b.sheet && a.row == b.row && a.message == b.message);
        spots
            .into_iter()
            .map(|s| Problem {
                cell: match (s.row, s.col) {
                    (0, _) => String::new(),
                    (r, Some(c)) => a1(c, r),
                    (r, None) => format!("A{r}"),
                },
                sheet: s.sheet,
                message: s.message,
            })
            .collect()
    }
}

/// A sheet's header row: which column holds what.
struct Headers {
    /// The header's row number.
    row: u32,
    known: Vec<(u32, Column, Option<String>)>,
    /// Unsupported columns (refused where a row fills them) and other columns by name.
    unsupported: Vec<(u32, &'static str)>,
    other: Vec<(u32, String)>,
}

impl Headers {
    fn read(sheet: &Sheet, problems: &mut Vec<Spot>, check_spelling: bool) -> Option<Headers> {
        let first = sheet.rows.first()?;
        let split_single = !first.cells.iter().any(|(_, h)| h.contains("::"));
        let mut h =
            Headers { row: first.number, known: vec![], unsupported: vec![], other: vec![] };
        for (col, text) in &first.cells {
            match names::header(text, split_single) {
                Header::Known { column, language } => h.known.push((*col, column, language)),
                Header::Unsupported(f) => h.unsupported.push((*col, f)),
                Header::Other(name) => {
                    let hint = did_you_mean(&name, names::header_spellings());
                    if check_spelling && !hint.is_empty() {
                        problems.push(Spot {
                            sheet: sheet.name.clone(),
                            row: first.number,
                            col: Some(*col),
                            message: format!("unknown column `{text}`{hint}"),
                        });
                    }
                    h.other.push((*col, text.clone()));
                }
            }
        }
        Some(h)
    }

    fn col(&self, column: Column) -> Option<u32> {
        self.known.iter().find(|(_, c, _)| *c == column).map(|(i, _, _)| *i)
    }
}

/// A form read from a workbook, with the problems found in its sheets.
pub struct Built {
    form: Option<Form>,
    places: Places,
    spots: Vec<Spot>,
}

impl Built {
    /// Check the form and report every problem at once: the sheets' own, then the definition
    /// check's put on their cells (except on rows whose earlier problem already explains them).
    pub fn finish(self) -> Result<CheckedForm, XlsformError> {
        let Built { form, places, mut spots } = self;
        if let Some(form) = form {
            match check::check(form) {
                Ok(checked) if spots.is_empty() => return Ok(checked),
                Ok(_) => {}
                Err(errors) => spots.extend(
                    errors
                        .iter()
                        .map(|e| places.spot(e))
                        .filter(|s| !places.troubled.contains(&(s.sheet.clone(), s.row))),
                ),
            }
        }
        Err(XlsformError::Problems(places.sort_render(spots)))
    }
}

/// Read the form from the workbook's sheets, collecting every problem.
pub fn build(book: &Workbook, default_id: &str) -> Built {
    let mut b = Builder { problems: Vec::new(), places: Places::default() };
    let form = b.form(book, default_id);
    Built { form, places: b.places, spots: b.problems }
}

struct Builder {
    problems: Vec<Spot>,
    places: Places,
}

/// Text columns of a row, per language.
type Texts = BTreeMap<Column, Text>;

impl Builder {
    fn problem(&mut self, sheet: &str, row: u32, col: Option<u32>, message: String) {
        self.places.troubled.insert((sheet.to_string(), row));
        self.problems.push(Spot { sheet: sheet.to_string(), row, col, message });
    }

    fn form(&mut self, book: &Workbook, default_id: &str) -> Option<Form> {
        let survey = match book.sheet("survey") {
            Some(s) => s,
            // pyxform reads a workbook of one sheet, whatever its name, as the survey.
            None if book.sheets.len() == 1 => &book.sheets[0],
            None => {
                let names: Vec<&str> = book.sheets.iter().map(|s| s.name.as_str()).collect();
                self.problem(
                    "survey",
                    0,
                    None,
                    format!("the workbook has no `survey` sheet (sheets: {})", names.join(", ")),
                );
                return None;
            }
        };
        let choices = book.sheet("choices");
        let settings = book.sheet("settings");
        let risk = book.sheet("risk");
        for s in [Some(survey), choices, settings, risk].into_iter().flatten() {
            self.places.sheet_order.push(s.name.clone());
        }
        self.places.survey = survey.name.clone();
        self.places.settings = settings.map(|s| s.name.clone());
        for (name, feature) in [
            ("external_choices", "external_choices sheet (choices from an external file)"),
            ("entities", "entities sheet (ODK entities)"),
        ] {
            if let Some(s) = book.sheet(name).filter(|s| s.rows.len() > 1) {
                self.problem(&s.name, 0, None, format!("{feature} is not supported"));
            }
        }
        for s in &book.sheets {
            for (r, c, message) in &s.bad_cells {
                self.problem(&s.name, r + 1, Some(*c), message.clone());
            }
        }

        let setting = settings.map(|s| self.settings(s)).unwrap_or_default();
        let survey_h = Headers::read(survey, &mut self.problems, true);
        let choices_h = choices.and_then(|s| Headers::read(s, &mut Vec::new(), false));
        let risk_h = risk.map(|s| (s, RiskHeaders::read(s)));
        // Every translated header, in order, with whether any row gives it text.
        let mut headers: Vec<(Option<&str>, bool)> = Vec::new();
        for (h, sheet) in [(survey_h.as_ref(), Some(survey)), (choices_h.as_ref(), choices)] {
            let (Some(h), Some(sheet)) = (h, sheet) else { continue };
            for (col, c, lang) in &h.known {
                if c.translated() {
                    let text = sheet.rows.iter().skip(1).any(|r| r.get(*col).is_some());
                    headers.push((lang.as_deref(), text));
                }
            }
        }
        if let Some((sheet, h)) = &risk_h {
            for (col, lang) in &h.reasons {
                let text = sheet.rows.iter().skip(1).any(|r| r.get(*col).is_some());
                headers.push((lang.as_deref(), text));
            }
        }
        headers
            .extend(setting.titles.iter().filter_map(|(l, _)| Some((Some(l.as_deref()?), true))));
        let languages = Languages::new(&setting, &headers);

        let choice_lists = match (choices, &choices_h) {
            (Some(sheet), Some(h)) => self.choices(sheet, h, &languages),
            _ => BTreeMap::new(),
        };
        let Some(survey_h) = survey_h else {
            self.problem(&survey.name, 0, None, "the survey sheet is empty".into());
            return None;
        };
        let fields = self.survey(survey, &survey_h, &languages, &choice_lists);
        let risk = self.risk(risk_h.as_ref(), &setting, &languages);

        let default = languages.default().to_string();
        let mut title = Text::new();
        for (lang, t) in &setting.titles {
            // A title without a language is the default language's.
            let code = lang.as_deref().map(names::language_code);
            title.insert(code.unwrap_or_else(|| default.clone()), t.clone());
        }
        let id = setting.id.clone().unwrap_or_else(|| default_id.to_string());
        if title.is_empty() {
            title.insert(default, id.clone());
        }
        Some(Form {
            id,
            version: setting.version.clone().unwrap_or_else(|| "1".to_string()),
            title,
            languages: languages.codes.clone(),
            instance_name: setting.instance_name.as_deref().map(expression),
            choices: choice_lists,
            fields,
            risk,
        })
    }

    fn settings(&mut self, sheet: &Sheet) -> Settings {
        let mut s = Settings::default();
        let (Some(header), Some(values)) = (sheet.rows.first(), sheet.rows.get(1)) else {
            return s;
        };
        for (col, head) in &header.cells {
            let Some(value) = values.get(*col) else { continue };
            let (key, lang) = match head.split_once("::") {
                Some((k, l)) => (k.trim().to_lowercase(), Some(l.trim().to_string())),
                None => (head.trim().to_lowercase(), None),
            };
            let value = value.to_string();
            let cell = (values.number, *col);
            match key.as_str() {
                "form_id" | "id_string" => s.id = Some(value),
                "form_title" | "title" | "translated_title" => s.titles.push((lang, value)),
                "version" => s.version = Some(value),
                "default_language" => s.default_language = Some(value),
                "instance_name" => s.instance_name = Some(value),
                "allow_choice_duplicates" if names::boolean(&value) == Some(true) => self.problem(
                    &sheet.name,
                    cell.0,
                    Some(cell.1),
                    "allow_choice_duplicates is not supported (choice names must be unique \
                     in their list)"
                        .into(),
                ),
                "risk_medium" | "risk_high" => {
                    match value.parse::<u32>() {
                        Ok(n) if key == "risk_medium" => s.medium = Some((n, cell)),
                        Ok(n) => s.high = Some((n, cell)),
                        Err(_) => self.problem(
                            &sheet.name,
                            cell.0,
                            Some(cell.1),
                            format!("{key} must be a whole number of points, not `{value}`"),
                        ),
                    };
                }
                k if k.starts_with("response_hours_") => {
                    let hours = if value.is_empty() { Ok(None) } else { value.parse().map(Some) };
                    match hours {
                        Ok(h) => s.hours.push((k.trim_start_matches("response_hours_").into(), h)),
                        Err(_) => self.problem(
                            &sheet.name,
                            cell.0,
                            Some(cell.1),
                            format!("{key} must be a whole number of hours, not `{value}`"),
                        ),
                    }
                }
                _ => {}
            }
        }
        // Headers of response hours whose cell is blank: routine follow-up (no deadline).
        for (col, head) in &header.cells {
            let key = head.trim().to_lowercase();
            if let Some(level) = key.strip_prefix("response_hours_") {
                if values.get(*col).is_none() {
                    s.hours.push((level.to_string(), None));
                }
            }
        }
        s.settings_sheet = Some(sheet.name.clone());
        s
    }

    fn choices(
        &mut self,
        sheet: &Sheet,
        h: &Headers,
        languages: &Languages,
    ) -> BTreeMap<String, Vec<Choice>> {
        let mut lists: BTreeMap<String, Vec<Choice>> = BTreeMap::new();
        let list_col = h.other.iter().find(|(_, n)| {
            let n = n.to_lowercase();
            n == "list_name" || n == "list name"
        });
        let Some(&(list_col, _)) = list_col else {
            self.problem(
                &sheet.name,
                h.row,
                None,
                "the choices sheet has no `list_name` column".into(),
            );
            return lists;
        };
        self.places.choices = Some((sheet.name.clone(), list_col));
        let name_col = h.col(Column::Name).or_else(|| {
            h.other.iter().find(|(_, n)| n.eq_ignore_ascii_case("value")).map(|(c, _)| *c)
        });
        let filters: Vec<(u32, &str)> = h
            .other
            .iter()
            // Extra columns are what a choice_filter can test by bare name; a header that
            // cannot be a name (`tutorial notes`) is a note to the author, as in pyxform.
            .filter(|(c, n)| *c != list_col && !n.eq_ignore_ascii_case("value") && is_name(n))
            .map(|(c, n)| (*c, n.as_str()))
            .collect();
        let mut seen: HashMap<(String, String), u32> = HashMap::new();
        for row in sheet.rows.iter().skip(1) {
            for (col, feature) in &h.unsupported {
                if row.get(*col).is_some() {
                    self.problem(&sheet.name, row.number, Some(*col), unsupported(feature));
                }
            }
            let Some(list) = row.get(list_col) else {
                if row.cells.iter().any(|(c, _)| Some(*c) == name_col) {
                    self.problem(
                        &sheet.name,
                        row.number,
                        Some(list_col),
                        "a choice needs its list's name (list_name)".into(),
                    );
                }
                continue;
            };
            let name = name_col.and_then(|c| row.get(c)).unwrap_or("").to_string();
            if name.is_empty() {
                self.problem(
                    &sheet.name,
                    row.number,
                    name_col.or(Some(list_col)),
                    format!("a choice of list '{list}' has no name"),
                );
                continue;
            }
            if let Some(first) = seen.insert((list.to_string(), name.clone()), row.number) {
                self.problem(
                    &sheet.name,
                    row.number,
                    name_col,
                    format!("duplicate choice '{name}' in list '{list}' (also on row {first})"),
                );
                continue;
            }
            self.places.lists.entry(list.to_string()).or_insert(row.number);
            let texts = texts(row, h, languages);
            let filter = filters
                .iter()
                .filter_map(|(c, n)| row.get(*c).map(|v| (n.to_string(), v.to_string())))
                .collect();
            lists.entry(list.to_string()).or_default().push(Choice {
                name,
                label: texts.get(&Column::Label).cloned().unwrap_or_default(),
                filter,
            });
        }
        self.places.list_names = lists.keys().cloned().collect();
        lists
    }

    fn survey(
        &mut self,
        sheet: &Sheet,
        h: &Headers,
        languages: &Languages,
        lists: &BTreeMap<String, Vec<Choice>>,
    ) -> Vec<Field> {
        let sheet_name = sheet.name.as_str();
        for (col, column, _) in &h.known {
            self.places.survey_columns.entry(*column).or_insert(*col);
        }
        let Some(type_col) = h.col(Column::Type) else {
            self.problem(sheet_name, h.row, None, "the survey sheet has no `type` column".into());
            return Vec::new();
        };
        let name_col = h.col(Column::Name);
        self.places.name_col = name_col.unwrap_or(type_col);
        // Open containers: the field, its begin row, and the path of names down to it.
        let mut stack: Vec<(Field, u32)> = Vec::new();
        let mut roots: Vec<Field> = Vec::new();
        let mut path: Vec<String> = Vec::new();
        for row in sheet.rows.iter().skip(1) {
            let ty = row.get(type_col);
            let name = name_col.and_then(|c| row.get(c)).map(str::to_string);
            let Some(ty) = ty else {
                // A row of notes in other columns only is not part of the form (pyxform).
                if name.is_some() || row.cells.iter().any(|(c, _)| h.col_is_known(*c)) {
                    self.problem(
                        sheet_name,
                        row.number,
                        Some(type_col),
                        "a row needs a type".into(),
                    );
                }
                continue;
            };
            for (col, feature) in &h.unsupported {
                if row.get(*col).is_some() {
                    self.problem(sheet_name, row.number, Some(*col), unsupported(feature));
                }
            }
            let row_type = names::row_type(ty);
            if let RowType::End(kind) = row_type {
                match stack.pop() {
                    Some((field, _)) if field.kind == kind => {
                        path.pop();
                        push(&mut stack, &mut roots, field);
                    }
                    Some((field, begun)) => {
                        self.problem(
                            sheet_name,
                            row.number,
                            Some(type_col),
                            format!(
                                "`{ty}` closes the {} '{}' begun on row {begun}",
                                field.kind.as_str(),
                                field.name
                            ),
                        );
                        path.pop();
                        push(&mut stack, &mut roots, field);
                    }
                    None => self.problem(
                        sheet_name,
                        row.number,
                        Some(type_col),
                        format!("`{ty}` with no group or repeat open"),
                    ),
                }
                continue;
            }
            if row_type == RowType::Metadata {
                continue;
            }
            let Some(name) = name else {
                self.problem(
                    sheet_name,
                    row.number,
                    Some(name_col.unwrap_or(type_col)),
                    "a field needs a name".into(),
                );
                continue;
            };
            let mut field = Field { name: name.clone(), ..Field::default() };
            match row_type {
                RowType::Field(kind) | RowType::Begin(kind) => field.kind = kind,
                RowType::Select { kind, list } => {
                    field.kind = kind;
                    if !lists.contains_key(&list) {
                        self.problem(
                            sheet_name,
                            row.number,
                            Some(type_col),
                            format!(
                                "unknown choice list '{list}'{}",
                                did_you_mean(&list, lists.keys().map(String::as_str))
                            ),
                        );
                    }
                    field.choices = Some(list);
                }
                RowType::Unsupported(feature) => {
                    self.problem(sheet_name, row.number, Some(type_col), unsupported(&feature));
                }
                RowType::Unknown => {
                    let hint = did_you_mean(ty, names::type_spellings());
                    self.problem(
                        sheet_name,
                        row.number,
                        Some(type_col),
                        format!("unknown type `{ty}`{hint}"),
                    );
                }
                RowType::End(_) | RowType::Metadata => {}
            }
            if !self.places.troubled.contains(&(sheet_name.to_string(), row.number)) {
                self.attributes(sheet_name, row, h, languages, &mut field);
            } else if field.kind.is_select() {
                // A placeholder: a select whose list is missing must not fail the check again.
                field.kind = FieldKind::Text;
                field.choices = None;
            }
            path.push(name.clone());
            self.places.fields.entry(path.join("/")).or_default().push(row.number);
            self.places.field_names.push(name);
            if field.kind.is_container() {
                stack.push((field, row.number));
            } else {
                path.pop();
                push(&mut stack, &mut roots, field);
            }
        }
        while let Some((field, begun)) = stack.pop() {
            self.problem(
                sheet_name,
                begun,
                Some(type_col),
                format!("{} '{}' has no end {0}", field.kind.as_str(), field.name),
            );
            push(&mut stack, &mut roots, field);
        }
        roots
    }

    /// The columns of one survey row that set the field's attributes.
    fn attributes(
        &mut self,
        sheet: &str,
        row: &Row,
        h: &Headers,
        languages: &Languages,
        field: &mut Field,
    ) {
        let mut texts = texts(row, h, languages);
        field.label = texts.remove(&Column::Label).unwrap_or_default();
        field.hint = texts.remove(&Column::Hint).unwrap_or_default();
        field.required_message = texts.remove(&Column::RequiredMessage).unwrap_or_default();
        field.constraint_message = texts.remove(&Column::ConstraintMessage).unwrap_or_default();
        for (col, column, _) in &h.known {
            if column.translated() || matches!(column, Column::Type | Column::Name) {
                continue;
            }
            let Some(cell) = row.get(*col) else { continue };
            if let Some(feature) = unsupported_in(*column, cell) {
                self.problem(sheet, row.number, Some(*col), unsupported(feature));
                continue;
            }
            let expr = || Some(expression(cell));
            match column {
                Column::Required => field.required = condition(cell),
                Column::ReadOnly => field.read_only = condition(cell),
                Column::Relevant => field.relevant = expr(),
                Column::Constraint => field.constraint = expr(),
                Column::Calculation => field.calculation = expr(),
                Column::ChoiceFilter => field.choice_filter = expr(),
                Column::RepeatCount => field.repeat_count = expr(),
                Column::Default => field.default = Some(default_expression(cell)),
                Column::Appearance => field.appearance = Some(cell.to_string()),
                Column::Parameters => {
                    if let Err(m) = parameters(cell, field) {
                        self.problem(sheet, row.number, Some(*col), m);
                    }
                }
                _ => {}
            }
        }
    }
}

impl Headers {
    fn col_is_known(&self, col: u32) -> bool {
        self.known.iter().any(|(c, _, _)| *c == col)
    }
}

#[derive(Debug, Default)]
struct Settings {
    id: Option<String>,
    titles: Vec<(Option<String>, String)>,
    version: Option<String>,
    default_language: Option<String>,
    instance_name: Option<String>,
    medium: Option<(u32, (u32, u32))>,
    high: Option<(u32, (u32, u32))>,
    hours: Vec<(String, Option<u32>)>,
    settings_sheet: Option<String>,
}

/// The form's languages: from the headers, the default first.
struct Languages {
    codes: Vec<String>,
    /// The code of columns that name no language.
    unnamed: String,
}

impl Languages {
    /// `headers`: each translated column's language (`None` for a column without one) and
    /// whether it holds any text. A language counts when some column of it has text (pyxform's
    /// rule); the order is that of the headers, the default language first.
    fn new(settings: &Settings, headers: &[(Option<&str>, bool)]) -> Languages {
        let unnamed = settings
            .default_language
            .as_deref()
            .map(names::language_code)
            .unwrap_or_else(|| "default".to_string());
        let mut codes: Vec<(String, bool)> = Vec::new();
        for (lang, text) in headers {
            let code = lang.map(names::language_code).unwrap_or_else(|| unnamed.clone());
            match codes.iter_mut().find(|(c, _)| *c == code) {
                Some((_, t)) => *t |= *text,
                None => codes.push((code, *text)),
            }
        }
        let mut codes: Vec<String> =
            codes.into_iter().filter(|(_, text)| *text).map(|(c, _)| c).collect();
        let any_unnamed = headers.iter().any(|(l, text)| l.is_none() && *text);
        // The default language first: the settings' choice, or the unnamed columns' language.
        if settings.default_language.is_some() || any_unnamed || codes.is_empty() {
            codes.retain(|c| *c != unnamed);
            codes.insert(0, unnamed.clone());
        }
        Languages { codes, unnamed }
    }

    fn code(&self, header_language: Option<&str>) -> String {
        header_language.map(names::language_code).unwrap_or_else(|| self.unnamed.clone())
    }

    fn default(&self) -> &str {
        self.codes.first().map(String::as_str).unwrap_or("default")
    }
}

/// The translated columns of a row: label, hint and messages per language.
fn texts(row: &Row, h: &Headers, languages: &Languages) -> Texts {
    let mut out = Texts::new();
    for (col, column, lang) in &h.known {
        if !column.translated() {
            continue;
        }
        if let Some(v) = row.get(*col) {
            out.entry(*column).or_default().insert(languages.code(lang.as_deref()), v.to_string());
        }
    }
    out
}

/// Whether a header can be read as a bare name in an expression.
fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn push(stack: &mut [(Field, u32)], roots: &mut Vec<Field>, field: Field) {
    match stack.last_mut() {
        Some((parent, _)) => parent.children.push(field),
        None => roots.push(field),
    }
}

fn unsupported(feature: &str) -> String {
    format!("{feature} is not supported by SafeHome's form engine")
}

/// Features inside a cell that the engine does not have.
fn unsupported_in(column: Column, cell: &str) -> Option<&'static str> {
    if column == Column::Appearance {
        return cell
            .contains("search(")
            .then_some("search() appearance (choices from an external CSV)");
    }
    if cell.contains("pulldata(") {
        return Some(match column {
            Column::Calculation => "pulldata() in calculation",
            _ => "pulldata()",
        });
    }
    if cell.contains("${last-saved#") {
        return Some("${last-saved#...} reference");
    }
    if cell.contains("instance(") {
        return Some("instance() (secondary instances)");
    }
    None
}

/// An expression cell: typographic quotes (which spreadsheet programs put in for ' and ")
/// read as plain quotes, as pyxform reads them.
pub fn expression(cell: &str) -> String {
    cell.chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            c => c,
        })
        .collect()
}

/// `yes`/`no` spellings are constants; anything else is an expression.
fn condition(cell: &str) -> Condition {
    match names::boolean(cell) {
        Some(b) => Condition::Always(b),
        None => Condition::When(expression(cell)),
    }
}

/// XLSForm's `default` is a literal unless it reads as an expression (a reference, a function
/// call, an operator); the model's default is always an expression, so a literal is quoted.
pub fn default_expression(cell: &str) -> String {
    let cell = expression(cell);
    if is_dynamic(&cell) || cell.parse::<f64>().is_ok_and(f64::is_finite) {
        return cell;
    }
    if cell.contains('\'') { format!("\"{cell}\"") } else { format!("'{cell}'") }
}

fn is_dynamic(cell: &str) -> bool {
    let t = cell.trim();
    if t.starts_with('\'') || t.starts_with('"') || t.contains("${") {
        return true;
    }
    let bytes = t.as_bytes();
    // A function call: a name followed by `(`.
    let call = bytes.iter().enumerate().any(|(i, &b)| {
        b == b'(' && i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-')
    });
    call || [" + ", " - ", "*", " div ", " mod ", "=", "<", ">", " and ", " or ", "(", ")"]
        .iter()
        .any(|op| t.contains(op))
}

/// The `parameters` column: `max-pixels=1024`, `capture-accuracy=5 warning-accuracy=20`, and
/// SafeHome's `min-repeats=1 max-repeats=20` for repeats.
fn parameters(cell: &str, field: &mut Field) -> Result<(), String> {
    for part in cell.split(|c: char| c.is_whitespace() || c == ',' || c == ';') {
        if part.is_empty() {
            continue;
        }
        let Some((key, value)) = part.split_once('=') else {
            return Err(format!("parameter `{part}` is not `key=value`"));
        };
        let key = key.trim().to_lowercase();
        let value = value.trim();
        let num = || {
            value.parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0).ok_or_else(|| {
                format!("parameter {key} must be a non-negative number, not `{value}`")
            })
        };
        let count = || {
            value
                .parse::<u32>()
                .map_err(|_| format!("parameter {key} must be a whole number, not `{value}`"))
        };
        match (key.as_str(), field.kind) {
            ("max-pixels", FieldKind::Image) => field.max_pixels = Some(count()?),
            ("capture-accuracy", FieldKind::Geopoint) => field.capture_accuracy = Some(num()?),
            ("warning-accuracy", FieldKind::Geopoint) => field.warning_accuracy = Some(num()?),
            ("min-repeats", FieldKind::Repeat) => field.min_repeats = Some(count()?),
            ("max-repeats", FieldKind::Repeat) => field.max_repeats = Some(count()?),
            (k, kind) => {
                return Err(format!(
                    "parameter `{k}` is not supported on a {} field (SafeHome reads max-pixels on \
                     image, capture-accuracy and warning-accuracy on geopoint, min-repeats and \
                     max-repeats on repeat)",
                    kind.as_str()
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_literals_unless_expressions() {
        assert_eq!(default_expression("no"), "'no'");
        assert_eq!(default_expression("09:30:00"), "'09:30:00'");
        assert_eq!(default_expression("2024-01-01"), "'2024-01-01'");
        assert_eq!(default_expression("3"), "3");
        assert_eq!(default_expression("today()"), "today()");
        assert_eq!(default_expression("${a} + 1"), "${a} + 1");
        assert_eq!(default_expression("'x'"), "'x'");
        assert_eq!(default_expression("it's"), "\"it's\"");
    }

    #[test]
    fn typographic_quotes_read_plain() {
        assert_eq!(expression("${a} = \u{2018}other\u{2019}"), "${a} = 'other'");
    }
}
