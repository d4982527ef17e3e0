//! The risk sheet (one rule per row) and the thresholds on the settings sheet: SafeHome's
//! risk screening in the same spreadsheet as the form.

use super::{Builder, Languages, Settings, expression};
use crate::form::model::Text;
use crate::form::risk::{Category, ResponseHours, RiskRule, RiskSpec, Thresholds};
use crate::form::xlsform::cells::did_you_mean;
use crate::form::xlsform::names;
use crate::form::xlsform::workbook::{Row, Sheet};

impl Builder {
    pub(super) fn risk(
        &mut self,
        risk: Option<&(&Sheet, RiskHeaders)>,
        s: &Settings,
        languages: &Languages,
    ) -> Option<RiskSpec> {
        let settings_sheet = s.settings_sheet.clone().unwrap_or_else(|| "settings".into());
        let thresholds = match (s.medium, s.high) {
            (Some((medium, _)), Some((high, _))) => Some(Thresholds { medium, high }),
            (None, None) => None,
            (Some((_, (r, c))), None) | (None, Some((_, (r, c)))) => {
                self.problem(
                    &settings_sheet,
                    r,
                    Some(c),
                    "risk_medium and risk_high go together".into(),
                );
                None
            }
        };
        let mut response_hours = ResponseHours::default();
        for (level, hours) in &s.hours {
            match level.as_str() {
                "urgent" => response_hours.urgent = *hours,
                "high" => response_hours.high = *hours,
                "medium" => response_hours.medium = *hours,
                "low" => response_hours.low = *hours,
                other => self.problem(
                    &settings_sheet,
                    0,
                    None,
                    format!("response_hours_{other}: no such level (urgent, high, medium, low)"),
                ),
            }
        }
        let Some((sheet, h)) = risk else {
            return thresholds.map(|thresholds| RiskSpec {
                rules: Vec::new(),
                thresholds,
                response_hours,
            });
        };
        self.places.risk = Some((sheet.name.clone(), h.when));
        let mut rules = Vec::new();
        for row in sheet.rows.iter().skip(1) {
            if let Some(rule) = self.rule(sheet, h, row, languages) {
                self.places.rules.insert(rule.id.clone(), row.number);
                rules.push(rule);
            }
        }
        match thresholds {
            Some(thresholds) => Some(RiskSpec { rules, thresholds, response_hours }),
            None => {
                self.problem(
                    &settings_sheet,
                    0,
                    None,
                    "a form with a risk sheet needs risk_medium and risk_high on its settings \
                     sheet"
                        .into(),
                );
                None
            }
        }
    }

    fn rule(
        &mut self,
        sheet: &Sheet,
        h: &RiskHeaders,
        row: &Row,
        languages: &Languages,
    ) -> Option<RiskRule> {
        let get = |c: Option<u32>| c.and_then(|c| row.get(c));
        let bad = |b: &mut Builder, col: Option<u32>, m: String| {
            b.problem(&sheet.name, row.number, col.or(h.rule), m)
        };
        let Some(id) = get(h.rule) else {
            bad(self, h.rule, "a risk rule needs a name (rule column)".into());
            return None;
        };
        let category = match get(h.category) {
            Some(c) => match serde_json::from_value::<Category>(serde_json::json!(c)) {
                Ok(c) => c,
                Err(_) => {
                    let hint = did_you_mean(c, CATEGORIES.iter().copied());
                    bad(self, h.category, format!("unknown risk category `{c}`{hint}"));
                    return None;
                }
            },
            None => {
                bad(self, h.category, "a risk rule needs a category".into());
                return None;
            }
        };
        let Some(when) = get(h.when) else {
            bad(self, h.when, "a risk rule needs a condition (when)".into());
            return None;
        };
        let number = |b: &mut Builder, col: Option<u32>, what: &str| -> Option<Option<u32>> {
            match get(col) {
                None => Some(None),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) => Some(Some(n)),
                    Err(_) => {
                        bad(b, col, format!("{what} must be a whole number, not `{v}`"));
                        None
                    }
                },
            }
        };
        let points = number(self, h.points, "points")?;
        let max_points = number(self, h.max_points, "max_points")?;
        let urgent = match get(h.urgent) {
            None => false,
            Some(v) => match names::boolean(v) {
                Some(b) => b,
                None => {
                    bad(self, h.urgent, format!("urgent must be yes or no, not `{v}`"));
                    return None;
                }
            },
        };
        let mut reason = Text::new();
        for (col, lang) in &h.reasons {
            if let Some(v) = row.get(*col) {
                reason.insert(languages.code(lang.as_deref()), v.to_string());
            }
        }
        Some(RiskRule {
            id: id.to_string(),
            category,
            when: expression(when),
            points: points.unwrap_or(0),
            urgent,
            reason,
            repeat: get(h.repeat).map(str::to_string),
            max_points,
        })
    }
}

const CATEGORIES: &[&str] = &[
    "drowning",
    "burns",
    "poisoning",
    "falls",
    "electrical",
    "road",
    "animal_bites",
    "cuts",
    "suffocation",
    "violence_abuse",
    "neglect",
    "exploitation",
    "special_circumstances",
    "health",
    "other",
];

/// The risk sheet's columns.
pub(super) struct RiskHeaders {
    rule: Option<u32>,
    category: Option<u32>,
    when: Option<u32>,
    points: Option<u32>,
    urgent: Option<u32>,
    repeat: Option<u32>,
    max_points: Option<u32>,
    pub(super) reasons: Vec<(u32, Option<String>)>,
}

impl RiskHeaders {
    pub(super) fn read(sheet: &Sheet) -> RiskHeaders {
        let mut h = RiskHeaders {
            rule: None,
            category: None,
            when: None,
            points: None,
            urgent: None,
            repeat: None,
            max_points: None,
            reasons: Vec::new(),
        };
        let Some(first) = sheet.rows.first() else { return h };
        for (col, text) in &first.cells {
            let (key, lang) = match text.split_once("::") {
                Some((k, l)) => (k.trim().to_lowercase(), Some(l.trim().to_string())),
                None => (text.trim().to_lowercase(), None),
            };
            let slot = match key.as_str() {
                "rule" | "id" | "name" => &mut h.rule,
                "category" => &mut h.category,
                "when" | "condition" => &mut h.when,
                "points" => &mut h.points,
                "urgent" => &mut h.urgent,
                "repeat" => &mut h.repeat,
                "max_points" => &mut h.max_points,
                "reason" => {
                    h.reasons.push((*col, lang));
                    continue;
                }
                _ => continue,
            };
            *slot = Some(*col);
        }
        h
    }
}
