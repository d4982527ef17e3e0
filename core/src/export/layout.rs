//! The tables of one form version: a main table (one row per record) and one per repeat (one row
//! per repeat instance, nested repeats included), each with its columns, derived from the form
//! definition alone. Deriving them from the form rather than from the data lets every header be
//! written before the first row, so rows stream straight to their file.

use std::sync::Arc;

use super::Language;
use crate::form::check::{CheckedForm, FieldId};
use crate::form::model::FieldKind;

/// One output table of a form version.
#[derive(Debug)]
pub(super) struct Table {
    /// The repeat whose instances are the rows; `None` for the main table.
    pub repeat: Option<FieldId>,
    /// The repeat's path below its parent table's scope (`household/roster/children`), the
    /// step its instances add to the parent's key; empty for the main table.
    pub step: String,
    pub columns: Vec<Column>,
    /// Tables (indices into `FormLayout::tables`) of the repeats directly in this scope.
    pub children: Vec<usize>,
}

#[derive(Debug)]
pub(super) struct Column {
    /// The first header row: the question's path below the table's scope, groups joined with
    /// `-`, as ODK Central names its CSV columns.
    pub header: String,
    /// The second header row (xlsx) and the codebook: the label in the chosen language.
    pub label: String,
    pub kind: ColumnKind,
}

/// What fills a column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ColumnKind {
    /// `KEY`: the record id on the main table, `PARENT_KEY/step[n]` on a repeat table.
    Key,
    ParentKey,
    Meta(Meta),
    /// A question or calculation, one cell (a select_one as its choice label).
    Value(FieldId),
    /// A select_multiple's chosen labels, joined with `; `.
    SelectLabels(FieldId),
    /// 1 when the select_multiple's answer includes choice number `.1`, else 0.
    ChoiceFlag(FieldId, usize),
    Geo(FieldId, GeoPart),
    Trailer(Trailer),
}

/// Record metadata, from the submission and the review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Meta {
    HouseholdCode,
    Revision,
    RevisionOf,
    DeviceId,
    OwnerId,
    CreatedAt,
    FinalizedAt,
    ReviewState,
    InstanceName,
}

/// The parts of a geopoint, one column each (as ODK Central splits them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum GeoPart {
    Latitude,
    Longitude,
    Altitude,
    Accuracy,
}

/// Columns after the questions: the assessment, location quality and decisions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Trailer {
    RiskLevel,
    RiskLevelLabel,
    RiskPoints,
    RiskDueAt,
    RiskRules,
    RiskReasons,
    LocationFlags,
    LocationFlagReasons,
    LocationUnchecked,
    DecisionCount,
    LastDecision,
    LastDecisionAt,
    LastDecisionBy,
    LastDecisionNote,
    DecisionHistory,
}

/// (header, Vietnamese label, English label)
type Named<T> = (T, &'static str, &'static str, &'static str);

const META: &[Named<Meta>] = &[
    (Meta::HouseholdCode, "household_code", "Mã hộ", "Household code"),
    (Meta::Revision, "revision", "Lần sửa", "Revision"),
    (Meta::RevisionOf, "revision_of", "Sửa từ phiếu", "Revision of"),
    (Meta::DeviceId, "device_id", "Thiết bị", "Device"),
    (Meta::OwnerId, "owner_id", "Người nhập", "Entered by"),
    (Meta::CreatedAt, "created_at", "Bắt đầu lúc", "Started at"),
    (Meta::FinalizedAt, "finalized_at", "Hoàn tất lúc", "Finalized at"),
    (Meta::ReviewState, "review_state", "Trạng thái duyệt", "Review state"),
    (Meta::InstanceName, "instance_name", "Tên phiếu", "Instance name"),
];

const TRAILERS: &[Named<Trailer>] = &[
    (Trailer::RiskLevel, "risk_level", "Mức nguy cơ (mã)", "Risk level (code)"),
    (Trailer::RiskLevelLabel, "risk_level_label", "Mức nguy cơ", "Risk level"),
    (Trailer::RiskPoints, "risk_points", "Điểm nguy cơ", "Risk points"),
    (Trailer::RiskDueAt, "risk_due_at", "Hạn xử lý", "Act by"),
    (Trailer::RiskRules, "risk_rules", "Quy tắc nguy cơ", "Risk rules triggered"),
    (Trailer::RiskReasons, "risk_reasons", "Lý do nguy cơ", "Risk reasons"),
    (Trailer::LocationFlags, "location_flags", "Cảnh báo vị trí (mã)", "Location flags (codes)"),
    (Trailer::LocationFlagReasons, "location_flag_reasons", "Cảnh báo vị trí", "Location flags"),
    (
        Trailer::LocationUnchecked,
        "location_unchecked",
        "Kiểm tra vị trí không thực hiện",
        "Location checks not run",
    ),
    (Trailer::DecisionCount, "decision_count", "Số quyết định", "Decisions"),
    (Trailer::LastDecision, "last_decision", "Quyết định gần nhất", "Last decision"),
    (Trailer::LastDecisionAt, "last_decision_at", "Thời điểm quyết định", "Last decision at"),
    (Trailer::LastDecisionBy, "last_decision_by", "Thiết bị quyết định", "Last decision by"),
    (Trailer::LastDecisionNote, "last_decision_note", "Ghi chú quyết định", "Last decision note"),
    (Trailer::DecisionHistory, "decision_history", "Lịch sử quyết định", "Decision history"),
];

fn named<T: Copy>(list: &[Named<T>], lang: Language) -> impl Iterator<Item = (T, &str, &str)> {
    list.iter().map(move |&(t, header, vi, en)| {
        (
            t,
            header,
            match lang {
                Language::Vi => vi,
                Language::En => en,
            },
        )
    })
}

/// The tables of one form version, main table first, then repeats in document order.
#[derive(Debug)]
pub(super) struct FormLayout {
    pub form: Arc<CheckedForm>,
    pub tables: Vec<Table>,
}

impl FormLayout {
    pub(super) fn new(form: Arc<CheckedForm>, lang: Language) -> FormLayout {
        let code = lang.code();
        let mut tables = vec![Table {
            repeat: None,
            step: String::new(),
            columns: Vec::new(),
            children: Vec::new(),
        }];
        // Repeats in document (pre-)order: a parent's table always comes before its children's.
        for info in form.fields.iter().filter(|f| f.kind() == FieldKind::Repeat) {
            let parent = match info.scope() {
                None => 0,
                Some(p) => tables.iter().position(|t| t.repeat == Some(p)).unwrap_or(0),
            };
            let step = relative_path(&form, info.id, info.scope());
            let index = tables.len();
            tables.push(Table {
                repeat: Some(info.id),
                step,
                columns: Vec::new(),
                children: Vec::new(),
            });
            if let Some(t) = tables.get_mut(parent) {
                t.children.push(index);
            }
        }
        for table in &mut tables {
            let col = |header: &str, label: &str, kind| Column {
                header: header.into(),
                label: label.into(),
                kind,
            };
            let (key_label, parent_label) = match lang {
                Language::Vi => ("Khóa", "Khóa dòng cha"),
                Language::En => ("Key", "Parent key"),
            };
            table.columns.push(col("KEY", key_label, ColumnKind::Key));
            if table.repeat.is_some() {
                table.columns.push(col("PARENT_KEY", parent_label, ColumnKind::ParentKey));
            } else {
                for (m, header, label) in named(META, lang) {
                    table.columns.push(col(header, label, ColumnKind::Meta(m)));
                }
            }
            for info in
                form.fields.iter().filter(|f| f.kind().has_value() && f.scope() == table.repeat)
            {
                let header = relative_path(&form, info.id, table.repeat).replace('/', "-");
                let label =
                    form.form.text(&info.def.label, code).unwrap_or(info.name()).to_string();
                let id = info.id;
                match info.kind() {
                    FieldKind::SelectMultiple => {
                        table.columns.push(col(&header, &label, ColumnKind::SelectLabels(id)));
                        let list = info.def.choices.as_ref().and_then(|l| form.form.choices.get(l));
                        for (i, choice) in list.into_iter().flatten().enumerate() {
                            let choice_label =
                                form.form.text(&choice.label, code).unwrap_or(&choice.name);
                            table.columns.push(col(
                                &format!("{header}/{}", choice.name),
                                &format!("{label}: {choice_label}"),
                                ColumnKind::ChoiceFlag(id, i),
                            ));
                        }
                    }
                    FieldKind::Geopoint => {
                        for (part, suffix, vi, en) in [
                            (GeoPart::Latitude, "Latitude", "vĩ độ", "latitude"),
                            (GeoPart::Longitude, "Longitude", "kinh độ", "longitude"),
                            (GeoPart::Altitude, "Altitude", "độ cao", "altitude"),
                            (GeoPart::Accuracy, "Accuracy", "sai số (m)", "accuracy (m)"),
                        ] {
                            let what = if lang == Language::Vi { vi } else { en };
                            table.columns.push(col(
                                &format!("{header}-{suffix}"),
                                &format!("{label} ({what})"),
                                ColumnKind::Geo(id, part),
                            ));
                        }
                    }
                    _ => table.columns.push(col(&header, &label, ColumnKind::Value(id))),
                }
            }
            if table.repeat.is_none() {
                for (t, header, label) in named(TRAILERS, lang) {
                    table.columns.push(col(header, label, ColumnKind::Trailer(t)));
                }
            }
        }
        FormLayout { form, tables }
    }

    /// How the codebook describes a column's content.
    pub(super) fn describe(&self, kind: ColumnKind) -> String {
        let field = |id: FieldId| self.form.field(id);
        match kind {
            ColumnKind::Key | ColumnKind::ParentKey => "key".into(),
            ColumnKind::Meta(_) => "metadata".into(),
            ColumnKind::Value(id) => {
                let f = field(id);
                match (f.kind(), &f.def.choices) {
                    (FieldKind::SelectOne, Some(list)) => format!("select_one {list} (label)"),
                    (kind, _) => kind.as_str().into(),
                }
            }
            ColumnKind::SelectLabels(id) => match &field(id).def.choices {
                Some(list) => format!("select_multiple {list} (labels)"),
                None => "select_multiple (labels)".into(),
            },
            ColumnKind::ChoiceFlag(..) => "select_multiple choice (1 chosen, 0 not)".into(),
            ColumnKind::Geo(..) => "geopoint part (number)".into(),
            ColumnKind::Trailer(t) => match t {
                Trailer::RiskLevel
                | Trailer::RiskLevelLabel
                | Trailer::RiskPoints
                | Trailer::RiskDueAt
                | Trailer::RiskRules
                | Trailer::RiskReasons => "risk assessment".into(),
                Trailer::LocationFlags
                | Trailer::LocationFlagReasons
                | Trailer::LocationUnchecked => "location quality".into(),
                _ => "review decisions".into(),
            },
        }
    }
}

/// `field`'s path below the repeat `scope` (or the root), slash-separated.
fn relative_path(form: &CheckedForm, field: FieldId, scope: Option<FieldId>) -> String {
    let path = &form.field(field).path;
    match scope {
        Some(s) => {
            let prefix = &form.field(s).path;
            path.strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_prefix('/'))
                .unwrap_or(path)
                .to_string()
        }
        None => path.clone(),
    }
}
