//! Human-readable reports shared by `form fill` and `demo`, in the session language
//! (Vietnamese or English).

use safehome_core::form::risk::Assessment;
use safehome_core::form::session::{Session, ValidationReport};

use crate::outln;

pub fn print_validation(session: &Session, v: &ValidationReport) {
    let vi = session.language() == "vi";
    let p = session.progress();
    let name = session.instance_name();
    let name = if name.is_empty() { String::new() } else { format!(" — {name}") };
    if v.is_valid() {
        if vi {
            outln!("Đầy đủ, hợp lệ{name}: đã trả lời {}/{} câu", p.answered, p.total);
        } else {
            outln!("Complete and valid{name}: {}/{} questions answered", p.answered, p.total);
        }
    } else {
        let n = v.violations.len();
        if vi {
            outln!("{n} lỗi cần sửa{name}:");
        } else {
            outln!("{n} problem(s){name}:");
        }
        for x in &v.violations {
            outln!("  {}: {}", x.path, x.message);
        }
    }
}

pub fn print_assessment(a: &Assessment, lang: &str) {
    let vi = lang == "vi";
    let t = a.thresholds;
    if vi {
        let deadline =
            a.response_hours.map(|h| format!("; xử lý trong {h} giờ")).unwrap_or_default();
        outln!(
            "Mức nguy cơ: {} ({} điểm; trung bình từ {}, cao từ {} điểm){deadline}",
            a.level.label_vi(),
            a.total_points,
            t.medium,
            t.high
        );
    } else {
        let deadline =
            a.response_hours.map(|h| format!("; act within {h} hours")).unwrap_or_default();
        outln!(
            "Risk level: {} ({} points; medium from {}, high from {}){deadline}",
            a.level.as_str(),
            a.total_points,
            t.medium,
            t.high
        );
    }
    for c in &a.categories {
        if vi {
            outln!("  {:<20} {:>3} điểm, {} quy tắc", c.category.label_vi(), c.points, c.rules);
        } else {
            outln!("  {:<20} {:>3} points, {} rule(s)", c.category.as_str(), c.points, c.rules);
        }
    }
    for tr in &a.triggered {
        let mark = if tr.urgent {
            (if vi { "KHẨN" } else { "URGENT" }).to_string()
        } else {
            format!("+{}", tr.points)
        };
        let at = tr.instance.as_deref().map(|i| format!(" [{i}]")).unwrap_or_default();
        outln!("  {mark:>6} {}{at}: {}", tr.rule_id, tr.reason);
    }
    for e in &a.errors {
        outln!("  rule error: {e}");
    }
}
